"""Inverted bottlenecks the fused kernel (``tt_irb_fwd_s8``) can run: finding them in a graph,
the kernel's geometry, aliasing and scratch for one, and whether fusing it lowers the local
peak. The scheduler (:mod:`.schedule`) decides which of them it fuses or recomputes."""

from __future__ import annotations

from dataclasses import dataclass

from tt_host.compiler.ir import Graph
from tt_host.compiler.scratch import cached as S


@dataclass(frozen=True)
class Block:
    """An inverted bottleneck run fused: ``pw1`` (the expansion layer: a pointwise
    convolution, or a general one such as the stem) may be absent, ``add`` too."""

    pw1: int | None
    dw: int
    pw2: int
    add: int | None

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(i for i in (self.pw1, self.dw, self.pw2, self.add) if i is not None)


def find_blocks(graph: Graph, expand_conv: bool = False) -> list[Block]:
    """Every ``[pw1] -> depthwise -> pw2 [-> ADD(block input)]`` chain the fused kernel covers;
    with ``expand_conv`` the expansion may also be a general convolution (``conv2d``). Blocks
    never share a layer: in a depthwise-separable stack (DS-CNN, MobileNetV1: dw -> pw -> dw ->
    pw ...) a block's projection is not also the next block's expansion, which then has none."""
    expand_kinds = ("pw_conv2d", "conv2d") if expand_conv else ("pw_conv2d",)
    by_out = {layer.output: layer for layer in graph.layers}
    blocks = []
    taken: set[int] = set()
    for dw in graph.layers:
        if dw.kind != "dw_conv2d" or dw.step.geom.out_c != dw.step.geom.in_c:
            continue
        users = graph.consumers(dw.output)
        if len(users) != 1 or users[0].kind != "pw_conv2d" or users[0].is_classifier:
            continue
        pw2 = users[0]
        pw1 = by_out.get(dw.inputs[0])
        if pw1 is not None and (pw1.kind not in expand_kinds or pw1.is_classifier
                                or len(graph.consumers(pw1.output)) != 1 or pw1.index in taken):
            pw1 = None
        block_in = pw1.inputs[0] if pw1 is not None else dw.inputs[0]
        add = None
        after = graph.consumers(pw2.output)
        if len(after) == 1 and after[0].kind == "add" and set(after[0].inputs) == {block_in, pw2.output}:
            add = after[0]
        block = Block(pw1.index if pw1 else None, dw.index, pw2.index, add.index if add else None)
        if taken.isdisjoint(block.layers):
            blocks.append(block)
            taken.update(block.layers)
    return blocks


def irb_args(graph: Graph, block: Block) -> tuple:
    """``(expand geometry or None, depthwise geometry, out_c, residual)`` of ``tt_irb_geom_t``."""
    L = graph.layers
    expand = L[block.pw1].step.geom if block.pw1 is not None else None
    return expand, L[block.dw].step.geom, L[block.pw2].out_channels, block.add is not None


def irb_can_alias(graph: Graph, block: Block) -> bool:
    """``tt_irb_fwd_s8_can_alias``: may the block's output be written over its input?"""
    return S.fused_block_can_alias(*irb_args(graph, block))


def irb_scratch(graph: Graph, block: Block) -> S.Scratch:
    """Scratch of ``tt_irb_fwd_s8`` (``tt_irb_fwd_s8_scratch_size`` through :mod:`.scratch`)."""
    return S.fused_block(*irb_args(graph, block))


def fusion_pays(graph: Graph, block: Block) -> bool:
    """Fused local peak (input + output + the kernel's rows) below the unfused one."""
    L = graph.layers
    numel = lambda t: graph.tensors[t].numel
    x = L[block.layers[0]].inputs[0]
    res = numel(x) if block.add is not None else 0
    dw = L[block.dw]
    e1 = numel(dw.inputs[0]) if block.pw1 is not None else 0
    e2, y = numel(dw.output), numel(L[block.pw2].output)
    unfused = max(numel(x) + e1, res + e1 + e2 if block.pw1 is not None else numel(x) + e2, res + e2 + y)
    io = max(numel(x), y) if irb_can_alias(graph, block) else numel(x) + y
    return io + irb_scratch(graph, block).nbytes < unfused
