"""The training schedule: pruning, what is saved, update order, residual fan-out, fusion."""

from __future__ import annotations

import pytest
from tt_host.compiler import PlanOptions, load_scheme
from tt_host.compiler.blocks import find_blocks
from tt_host.compiler.schedule import build_schedule

from .conftest import MODEL_NAMES, SCHEME_100KB


def _sched(graph, scheme, **opts):
    return build_schedule(graph, load_scheme(scheme, graph), PlanOptions.layer_by_layer(**opts))


def _well_formed(s) -> None:
    """Every buffer is written before it is read (persistent parameters excepted), and
    every update runs after the gradient it consumes was produced."""
    written = {n for n, b in s.buffers.items() if b.persistent}
    for op in s.ops:
        for name in op.reads:
            assert name in written, f"op {op.index} ({op.kind}) reads {name} before anything writes it"
        written.update(op.writes)


def test_last_layer_prunes_everything_but_the_head(tiny_graph):
    s = _sched(tiny_graph, "last-layer")
    _well_formed(s)
    bwd = [op.kind for op in s.ops if op.phase == "backward"]
    assert bwd == ["loss", "mask_bwd", "bias_grad", "bias_update", "weight_grad", "weight_update"]
    kinds = {b.kind for b in s.buffers.values()}
    assert "saved" not in kinds  # the FC trains every input channel: its input is kept whole
    assert [n for n, b in s.buffers.items() if b.kind == "mask"] == [f"mask:{tiny_graph.classifier.index}"]
    assert s.needs_grad == {tiny_graph.logits}


def test_frozen_prefix_keeps_nothing(tiny_graph):
    """Training only pw2 (conv 3): no mask or saved tensor before it, no input gradient of pw2."""
    s = _sched(tiny_graph, {"n_bias_update": 1, "manual_weight_idx": [3], "weight_update_ratio": [0.5]})
    _well_formed(s)
    pw2 = tiny_graph.conv(3).index
    for name, buf in s.buffers.items():
        if buf.kind in ("mask", "saved"):
            assert buf.layer >= pw2, name
    assert not any(op.kind == "bwd_input" and op.layer <= pw2 for op in s.ops)
    saved = s.buffers[f"saved:{pw2}"]
    assert saved.nbytes == tiny_graph.tensors[tiny_graph.conv(3).inputs[0]].spatial * 12  # 12 of 24 channels
    # The update of pw2 runs right after its gradient exists: its mask_bwd, then updates.
    kinds = [(op.kind, op.layer) for op in s.ops if op.layer == pw2 and op.phase == "backward"]
    assert kinds == [("mask_bwd", pw2), ("bias_grad", pw2), ("bias_update", pw2), ("weight_grad", pw2), ("weight_update", pw2)]


def test_residual_gradient_fans_out(tiny_graph):
    """Training the first conv: the ADD's gradient goes to the skip branch (taken over) and
    to the block branch (a copy); the first conv's output sums both."""
    s = _sched(tiny_graph, {"n_bias_update": 4})
    _well_formed(s)
    add = next(layer for layer in tiny_graph.layers if layer.kind == "add")
    ops = [op.kind for op in s.ops if op.phase == "backward"]
    assert "grad_copy" in ops and "grad_add" in ops
    assert ops.index("grad_copy") < ops.index("grad_add")
    c0 = tiny_graph.conv(0)
    assert not any(op.kind == "bwd_input" and op.layer == c0.index for op in s.ops), "nothing before conv 0 trains"
    copy = next(op for op in s.ops if op.kind == "grad_copy")
    assert copy.layer == add.index


@pytest.mark.parametrize("exact", [True, False])
def test_update_order_option(tiny_graph, exact):
    s = _sched(tiny_graph, "full", exact_gradients=exact)
    _well_formed(s)
    pw1 = tiny_graph.conv(1).index
    kinds = [op.kind for op in s.ops if op.layer == pw1 and op.phase == "backward"]
    updates = ["bias_grad", "bias_update", "weight_grad", "weight_update"]
    if exact:
        assert kinds == ["mask_bwd", "bwd_input", *updates]
    else:
        assert kinds == ["mask_bwd", *updates, "bwd_input"]


def test_mask_policy_relu_skips_linear_layers(tiny_graph):
    s = _sched(tiny_graph, "bias-only", mask_policy="relu")
    masked = {b.layer for b in s.buffers.values() if b.kind == "mask"}
    assert masked == {layer.index for layer in tiny_graph.layers if layer.relu}


def test_fusion_only_for_frozen_blocks(tiny_graph):
    blocks = find_blocks(tiny_graph)
    assert len(blocks) == 1 and blocks[0].add is not None and blocks[0].pw1 is not None
    fused = _sched(tiny_graph, "last-layer", fuse_blocks="all")
    _well_formed(fused)
    assert fused.blocks == blocks
    assert [op.kind for op in fused.ops if op.phase == "forward"][:4] == ["load_input", "fwd", "fused_block", "fwd"]
    assert _sched(tiny_graph, "bias-only", fuse_blocks="all").blocks == []
    # tt_irb_fwd_s8 produces no masks and keeps nothing: any training inside the block (here
    # pw2's bias, or its weights) runs it layer by layer.
    assert _sched(tiny_graph, {"n_bias_update": 1}, fuse_blocks="all").blocks == []
    assert _sched(tiny_graph, {"manual_weight_idx": [3], "weight_update_ratio": [1]}, fuse_blocks="all").blocks == []


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shared_model_schedules(shared_dir, shared_graphs, name):
    g = shared_graphs[name]
    path = shared_dir / "schemes" / f"{SCHEME_100KB[name]}.json"
    for opts in ({}, {"fuse_blocks": "auto", "inplace_kernels": True}):
        s = _sched(g, path, **opts)
        _well_formed(s)
        earliest = s.earliest_trained
        assert all(op.layer is None or op.layer >= earliest for op in s.ops if op.phase == "backward")
        assert s.macs("forward") == g.macs
        # Every trained layer updates exactly what the scheme says.
        updates = {(op.kind, op.layer) for op in s.ops if op.kind.endswith("_update")}
        for op in s.ops:  # each update comes right after its gradient
            if op.kind.endswith("_update"):
                assert s.ops[op.index - 1].kind == op.kind.replace("_update", "_grad")
        expected = {("bias_update", i) for i, t in s.training.items() if t.bias}
        expected |= {("weight_update", i) for i, t in s.training.items() if t.channels}
        assert updates == expected


def test_streamed_updates_need_no_gradient_tensor(tiny_graph):
    s = _sched(tiny_graph, "full", streamed_updates=True)
    _well_formed(s)
    assert not any(b.kind == "param_grad" for b in s.buffers.values())
    pw1 = tiny_graph.conv(1)
    op = next(op for op in s.ops if op.kind == "weight_grad_update" and op.layer == pw1.index)
    assert op.scratch.nbytes == 0  # tt_<op>_bwd_weight_update_s8 applies each element as it is computed
    assert s.macs("backward") == _sched(tiny_graph, "full").macs("backward")


def test_bias_only_layers_update_before_their_input_gradient(tiny_graph):
    """A bias update leaves the input gradient unchanged, so with frozen weights it runs
    first and dY can die at the input-gradient op; trained weights keep the exact order."""
    s = _sched(tiny_graph, "bias-only")
    pw1 = tiny_graph.conv(1).index
    kinds = [op.kind for op in s.ops if op.layer == pw1 and op.phase == "backward"]
    assert kinds == ["mask_bwd", "bias_grad", "bias_update", "bwd_input"]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_stem_fuses_with_the_first_block(shared_dir, shared_graphs, name):
    """With ``fuse_stem`` the stem convolution is block 0's expansion: its 64 KB output never
    exists, and the block writes over the image where tt_irb_fwd_s8_can_alias allows."""
    g = shared_graphs[name]
    opts = {"fuse_blocks": "auto", "inplace_kernels": True, "streamed_updates": True}
    plain = _sched(g, "last-layer", fuse_stem=False, **opts)
    stem = _sched(g, "last-layer", **opts)  # the default
    _well_formed(stem)
    assert stem.blocks[0].pw1 == g.conv(0).index and not any(b.pw1 == g.conv(0).index for b in plain.blocks)
    first = stem.ops[1]
    assert first.kind == "fused_block" and first.inplace and first.scratch.nbytes > 0
    from tt_host.compiler.memory import plan_schedule

    assert plan_schedule(stem).peak < plan_schedule(plain).peak - 32 * 1024


def _dw_input_grads(s):
    return [op for op in s.ops if op.kind == "bwd_input" and s.graph.layers[op.layer].kind == "dw_conv2d"]


def test_depthwise_input_gradient_in_place_only_where_dy_dies(tiny_graph):
    """dX overwrites dY only when nothing reads dY afterwards: frozen weights (the bias update
    runs first), or trained weights updated first (exact_gradients off); with exact gradients
    the weight gradient still reads dY after the input gradient."""
    partial = {"n_bias_update": 2, "manual_weight_idx": [1, 2], "weight_update_ratio": [0.5, 0.5]}
    for scheme, opts, want in [("bias-only", {"inplace_kernels": True}, True),
                               ("bias-only", {}, False),
                               (partial, {"inplace_kernels": True}, False),
                               (partial, {"inplace_kernels": True, "exact_gradients": False}, True)]:
        s = _sched(tiny_graph, scheme, **opts)
        _well_formed(s)
        (op,) = _dw_input_grads(s)
        assert bool(op.inplace) == want, (scheme, opts)
        if want:
            assert op.inplace == ((op.writes[0], op.reads[0]),)
            # the in-place variant's scratch, and the out-of-place one should the planner drop the pair
            assert "in_place=1" in op.scratch.source and op.scratch_apart is not None


def test_depthwise_input_gradient_overwrites_dy_in_mbv2(shared_dir, shared_graphs):
    """MobileNetV2 with its 99 KB scheme: every stride-1 depthwise input gradient (frozen
    weights) writes dX over dY with tt_dw_conv2d_bwd_input_inplace_s16's exact scratch, the
    stride-2 one cannot; the planner puts each pair at one offset (its check passes), and the
    step's peak drops by the 24 KB dY of b12.dw, where it was."""
    from dataclasses import replace

    from tt_host.compiler.memory import plan_schedule

    g = shared_graphs["mbv2-w0.35"]
    s = _sched(g, shared_dir / "schemes" / "mbv2-w0.35-99kb.json", fuse_blocks="auto", inplace_kernels=True,
               streamed_updates=True)
    _well_formed(s)
    ops = _dw_input_grads(s)
    for op in ops:
        assert bool(op.inplace) == (g.layers[op.layer].step.geom.stride_h == 1), g.layers[op.layer].name
    pairs = [op for op in ops if op.inplace]
    assert len(pairs) == 7 and all("in_place=1" in op.scratch.source for op in pairs)
    plan = plan_schedule(s)
    placed = plan.by_name()
    for op in pairs:
        (dx, dy), = op.inplace
        assert placed[dx].offset == placed[dy].offset
    b12 = next(op for op in pairs if g.layers[op.layer].name == "b12.dw")
    assert s.buffers[b12.reads[0]].nbytes == 24576
    out_of_place = replace(s, ops=[replace(op, inplace=()) if op in pairs else op for op in s.ops])
    before = plan_schedule(out_of_place)
    assert plan.timeline()[b12.index]["live_bytes"] == before.timeline()[b12.index]["live_bytes"] - 24576
    assert plan.peak < before.peak - 12 * 1024
