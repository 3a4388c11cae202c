"""The training step as one ordered list of ops: forward, loss, pruned and reordered backward.

From a graph and a scheme this derives (Lin et al. 2022, sections 3.3-3.4):

* **what must be kept for the backward**: for every weight-trained layer its int8 input
  restricted to the trained input channels (the whole activation, kept alive, when every
  channel trains; a gathered copy otherwise); the 1-bit clamp mask of every layer the
  gradient flows back through; nothing at all for the frozen region before the earliest
  layer that trains;
* **which backward ops run**: the loss gradient, then per layer in reverse order the mask
  multiply, the input gradient only while some earlier layer still needs one, and the
  bias/weight gradient of trained layers (int32, the trained slice only), each followed at
  once by its SGD+QAS update so the gradient buffer dies right there;
* **residuals**: an ADD hands its output gradient to both branches: the skip branch takes
  the buffer over (no copy), the other gets a copy when both need it; a tensor read by two
  layers sums the two contributions (``grad_add``);
* **frozen-block fusion** (optional): a frozen inverted bottleneck (expansion -> depthwise ->
  pw2 [-> ADD]) runs as one kernel (``tt_irb_fwd_s8``) that streams rows of the expanded
  tensor, so the expanded tensor never exists: input, output (over the input where
  ``tt_irb_fwd_s8_can_alias`` says so) and a few expanded rows of scratch. The expansion is
  the block's pw1, or (``fuse_stem``) the general convolution in front of a block without
  one: the stem of the shared models, whose 64 KB output then never exists either;
* **recomputed masks** (optional): a block whose expansion trains weights on every input
  channel keeps its input for the backward anyway; its expansion and depthwise run forward
  again from it at the start of the block's backward (``recompute`` ops), so their masks
  (the block's large ones) do not live through the whole step;
* **in-place kernels** (optional): a frozen depthwise (multiplier 1) or a pointwise
  projection (``out_c <= in_c``, any stride) whose input dies there writes over it, and a
  depthwise input gradient (multiplier 1, stride 1) writes dX over a dY that dies there, where
  the layer wrapper (``tt/kernels/layer.h``) has an in-place variant for that geometry and
  slice, with that variant's exact scratch.

Buffers are named (``act:<tensor>``, ``re:<tensor>`` (recomputed), ``g:<tensor>``, ``mask:<layer>``,
``saved:<layer>``, ``w:<layer>``, ``b:<layer>``, ``dw:<layer>``, ``db:<layer>``); ops list the buffers
they read and write, and the in-place pairs the memory planner may (and, once checked here, will)
overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tt_protocol.plan import LayerKind, OpFlag, OpKind

from tt_host.compiler.blocks import (
    Block,
    find_blocks,
    fusion_pays,
    irb_args,
    irb_can_alias,
    irb_scratch,
)
from tt_host.compiler.scratch import cached as S
from tt_host.compiler.errors import CompileError
from tt_host.compiler.ir import PARAM_KINDS, Graph, Layer
from tt_host.compiler.scheme import Scheme, frozen_weights
from tt_host.reference.params import ConvGeom


#: Buffer kinds, in the order the report breaks memory down.
BUFFER_KINDS = ("input", "activation", "accumulator", "saved", "mask", "grad", "param_grad", "param", "scratch")


@dataclass(frozen=True)
class Buffer:
    """A region of the arena with a fixed size; its lifetime follows from the ops."""

    name: str
    nbytes: int
    kind: str  #: one of :data:`BUFFER_KINDS`
    layer: int | None = None  #: IR layer it belongs to, if any
    persistent: bool = False  #: lives across steps (trainable weights and biases)


@dataclass(frozen=True)
class Op:
    """One kernel invocation of the training step."""

    index: int
    kind: str  #: load_input, fwd, fused_block, save, recompute (a fwd in the backward), loss, mask_bwd, bwd_input,
    #: grad_add, grad_copy, bias_grad, bias_update, weight_grad, weight_update,
    #: bias_grad_update, weight_grad_update (streamed)
    phase: str  #: "forward" or "backward"
    layer: int | None
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    #: (written, read) pairs allowed to share memory: the read buffer dies at this op and
    #: the kernel tolerates the overlap
    inplace: tuple[tuple[str, str], ...] = ()
    scratch: S.Scratch = field(default_factory=S.Scratch.none)
    macs: int = 0
    #: an op planned in place: its scratch should it run out of place after all (the wrapper's
    #: out-of-place variant, see ``_finalize_inplace``)
    scratch_apart: S.Scratch | None = None
    part: int = 0  #: the input of a multi-input layer the op is for (a concatenation's slice)


@dataclass(frozen=True)
class PlanOptions:
    """Choices that change the schedule (and so the memory), never the arithmetic. The
    defaults are what ``tt-host compile`` and provisioning use; :meth:`layer_by_layer` turns
    every memory-saving choice off (the plain schedule, for comparisons)."""

    #: run frozen inverted bottlenecks fused when that lowers their memory ("auto"), always
    #: when legal ("all"), or never ("off")
    fuse_blocks: str = "auto"
    #: kernels overwrite their input when it dies there: depthwise with depth multiplier 1
    #: (``tt_dw_conv2d_fwd_inplace_s8``) and pointwise projections with ``out_c <= in_c``
    #: (``tt_pw_conv2d_fwd_inplace_s8``), any stride, and the depthwise input gradient at
    #: stride 1 (``tt_dw_conv2d_bwd_input_inplace_s16``), where their ``_supported()`` says so
    inplace_kernels: bool = True
    #: with ``inplace_kernels``, run an op in place only where the step's peak needs it: the
    #: in-place kernels take more instructions than their out-of-place twins (see
    #: :mod:`.inplace`); False keeps every legal site in place
    inplace_where_needed: bool = True
    #: a fused block's expansion may be a general convolution (the stem before a block
    #: without pw1: ``tt_irb_fwd_s8`` takes any convolution there, and the plan's FUSED
    #: block accepts a CONV2D expansion); only matters with ``fuse_blocks``
    fuse_stem: bool = True
    #: which clamps are back-propagated through masks: "all" (every requantized output, the
    #: exact int8 semantics) or "relu" (only ReLU-style clamps, TTE's practice)
    mask_policy: str = "all"
    #: compute a layer's input gradient before its update (exact backprop); False updates
    #: first, which frees the saved activation earlier at the price of a stale-weight dX
    exact_gradients: bool = True
    #: stream the sample into the first op: when the model's first layers run as a fused
    #: block that nothing trains, the input buffer holds only the few rows that block reads at
    #: once (``tt_irb_fwd_s8_rows_span``) and the block runs as they arrive (48 KB -> 1.5 KB at
    #: 128x128x3)
    stream_input: bool = True
    #: compute each output channel's weight gradient and apply its update at once
    #: (``tt_<op>_bwd_weight_update_s8``) instead of the whole int32 dW tensor followed by
    #: the SGD kernel
    streamed_updates: bool = True
    #: recompute clamp masks in the backward instead of keeping them from the forward, for
    #: inverted bottlenecks whose input the backward keeps anyway (the expansion's weights
    #: train on every input channel): at the start of the block's backward its expansion and
    #: depthwise run forward again from that input, writing their masks (the activations are
    #: thrown away), so those masks live for one block's backward instead of the whole step;
    #: only for the blocks where the peak needs it (see :mod:`.recompute`)
    recompute_masks: bool = True
    #: with a budget, undo the memory-saving variants (in-place kernels, recomputed masks)
    #: that the budget has room for: the fastest plan within it, not the smallest (see
    #: :mod:`.speed`); False keeps the smallest plan the scheme allows
    speed_within_budget: bool = True

    def __post_init__(self) -> None:
        if self.fuse_blocks not in ("off", "auto", "all"):
            raise CompileError(f"fuse_blocks must be off, auto or all, not {self.fuse_blocks!r}")
        if self.mask_policy not in ("all", "relu"):
            raise CompileError(f"mask_policy must be all or relu, not {self.mask_policy!r}")

    @classmethod
    def layer_by_layer(cls, **changes) -> PlanOptions:
        """Every op on whole tensors: no fusion, nothing in place, nothing streamed (``changes`` on
        top; ``inplace_kernels=True`` then means every legal site)."""
        return cls(**{"fuse_blocks": "off", "inplace_kernels": False, "inplace_where_needed": False, "stream_input": False,
                      "streamed_updates": False, "recompute_masks": False, **changes})


@dataclass(frozen=True)
class Training:
    """What one layer trains."""

    bias: bool
    channels: tuple[int, ...]  #: trained input channels of the weights (empty: frozen)


@dataclass
class Schedule:
    """The ordered ops of one training step and every buffer they touch."""

    graph: Graph
    scheme: Scheme
    options: PlanOptions
    ops: list[Op]
    buffers: dict[str, Buffer]
    training: dict[int, Training]  #: layer index -> what it trains
    needs_grad: frozenset[int]  #: tensors whose gradient is computed
    blocks: list[Block]  #: fused blocks
    #: the sample streams into the first op (a fused block) through an input buffer of a few rows
    streamed_input: bool = False
    #: blocks whose masks the backward recomputes (``PlanOptions.recompute_masks``)
    recomputed: tuple[Block, ...] = ()
    #: the ``build_schedule`` choices this schedule was built with
    out_of_place: frozenset[tuple[str, int]] = frozenset()
    kept_masks: frozenset[Block] = frozenset()
    unfused: frozenset[Block] = frozenset()

    @property
    def earliest_trained(self) -> int:
        return min(self.training)

    def rebuilt(self, out_of_place: frozenset[tuple[str, int]] | None = None,
                kept_masks: frozenset[Block] | None = None, unfused: frozenset[Block] | None = None) -> Schedule:
        """The same step built again with other in-place, recompute or fusion choices."""
        return build_schedule(self.graph, self.scheme, self.options,
                              self.out_of_place if out_of_place is None else out_of_place,
                              self.kept_masks if kept_masks is None else kept_masks,
                              self.unfused if unfused is None else unfused)

    def macs(self, phase: str) -> int:
        return sum(op.macs for op in self.ops if op.phase == phase)


def training_of(graph: Graph, scheme: Scheme) -> dict[int, Training]:
    """Layer index -> what it trains (the classifier always trains everything)."""
    out: dict[int, Training] = {}
    for i in scheme.trained_convs:
        layer = graph.conv(i)
        out[layer.index] = Training(scheme.trains_bias(i), scheme.weight_channels(i))
    head = graph.classifier
    out[head.index] = Training(True, tuple(range(head.weight_in_channels)))
    return out


def _needs_grad(graph: Graph, training: dict[int, Training]) -> frozenset[int]:
    """Tensors downstream of a trained layer: their gradient carries a parameter's signal."""
    need: set[int] = set()
    for layer in graph.layers:
        if layer.index in training or any(t in need for t in layer.inputs):
            need.add(layer.output)
    return frozenset(need)


class _Builder:
    """Accumulates ops and buffers; one method per kind of op."""

    def __init__(self, graph: Graph, scheme: Scheme, options: PlanOptions,
                 out_of_place: frozenset[tuple[str, int]] = frozenset()) -> None:
        self.g = graph
        self.options = options
        self.out_of_place = out_of_place  # (op kind, layer) sites that must not run in place
        self.training = training_of(graph, scheme)
        self.need = _needs_grad(graph, self.training)
        self.ops: list[Op] = []
        self.buffers: dict[str, Buffer] = {}
        self.act: dict[int, str] = {}  # tensor -> buffer holding its int8 value
        self.grad: dict[int, str] = {}  # tensor -> buffer holding its int16 gradient
        self.tmp = 0
        self.streamed = False  # the sample streams into the first (fused) op
        self.recomputed: dict[int, Block] = {}  # layer -> its block, whose masks the backward rebuilds
        self.rebuilt: set[Block] = set()

    # -- helpers ---------------------------------------------------------------------------

    def buffer(self, name: str, nbytes: int, kind: str, layer: int | None = None, persistent: bool = False) -> str:
        if name not in self.buffers:
            self.buffers[name] = Buffer(name, int(nbytes), kind, layer, persistent)
        return name

    def emit(self, kind: str, phase: str, layer: int | None, reads, writes, **kw) -> None:
        self.ops.append(Op(len(self.ops), kind, phase, layer, tuple(reads), tuple(writes), **kw))

    def numel(self, tensor: int) -> int:
        return self.g.tensors[tensor].numel

    def act_buffer(self, tensor: int, kind: str = "activation") -> str:
        name = self.buffer(f"act:{tensor}", self.numel(tensor), kind, None)
        self.act[tensor] = name
        return name

    def needs_mask(self, layer: Layer) -> bool:
        if not layer.clamps or layer.output not in self.need:
            return False
        if self.options.mask_policy == "relu" and not layer.relu:
            return False
        # The pre-clamp gradient is only used to train this layer or to go further back.
        return layer.index in self.training or any(t in self.need for t in layer.inputs)

    def params(self, layer: Layer) -> tuple[list[str], list[str]]:
        """(weight buffers, bias buffers) of a layer's trainable parameters in SRAM."""
        t = self.training.get(layer.index)
        if t is None:
            return [], []
        w = [self.buffer(f"w:{layer.index}", layer.weight_count(len(t.channels)), "param", layer.index, True)] if t.channels else []
        b = [self.buffer(f"b:{layer.index}", 4 * layer.out_channels, "param", layer.index, True)] if t.bias else []
        return w, b

    @staticmethod
    def layer_geom(layer: Layer) -> ConvGeom:
        """The geometry of the layer's LAYER block (FC as 1x1: ``in_c`` -> ``out_c``)."""
        if layer.kind == "fc":
            return ConvGeom(1, 1, layer.weight_in_channels, 1, 1, layer.out_channels, 1, 1)
        return layer.step.geom

    def trained_slice(self, layer: Layer) -> tuple[int, bool]:
        """(trained input channels of the layer's weights, whether they are all of them in order)."""
        t = self.training.get(layer.index)
        channels = tuple(t.channels) if t is not None else ()
        return len(channels), bool(channels) and channels == tuple(range(layer.weight_in_channels))

    def temp(self, layer: Layer, op_kind: OpKind, scratch: S.Scratch, compact: bool = False) -> S.Scratch:
        """``scratch`` with the executor's temporaries of this op in front (``tt_executor_temp_size``:
        an identity channel list, the int32 bias gradient, ...): planned like any scratch."""
        n, whole = self.trained_slice(layer)
        temp = S.executor_temp(int(op_kind), int(OpFlag.COMPACT_INPUT) if compact else 0, int(_LAYER_KINDS[layer.kind]),
                               self.layer_geom(layer), n, whole)
        return S.with_temp(temp, scratch)

    def layer_variant(self, layer: Layer, pass_: str, try_in_place: bool) -> tuple[S.Scratch, S.Scratch | None]:
        """The scratch of the layer wrapper's variant for ``pass_`` (executor temporaries
        included), in place when ``try_in_place`` and the wrapper has a variant for it: returns
        (scratch, the out-of-place scratch if the op runs in place else None)."""
        n, whole = self.trained_slice(layer)
        geom = self.layer_geom(layer)
        op_kind = (_FORWARD if pass_ == "fwd" else _BWD_INPUT)[layer.kind]
        apart = self.temp(layer, op_kind, S.layer(layer.kind, pass_, geom, n, whole, in_place=False))
        aliased = S.layer(layer.kind, pass_, geom, n, whole, in_place=True) if try_in_place else None
        if aliased is None:
            return apart, None
        return self.temp(layer, op_kind, aliased), apart

    def saved_input(self, layer: Layer) -> str:
        """The buffer the weight gradient reads: the input itself when every channel trains."""
        t = self.training[layer.index]
        x = layer.inputs[0]
        if len(t.channels) == layer.weight_in_channels:
            return self.act[x]
        return f"saved:{layer.index}"

    # -- forward ---------------------------------------------------------------------------

    def forward(self, blocks: dict[int, Block]) -> None:
        x = self.g.input
        # The sample can stream when the first op is a fused block (nothing inside it trains or
        # is saved) and nothing else reads the sample: its rows pass through and are gone.
        first = blocks.get(self.g.layers[0].index)
        self.streamed = (self.options.stream_input and first is not None and first.layers[0] == self.g.layers[0].index
                         and x not in self.need and len(self.g.consumers(x)) == 1)
        if self.streamed:
            rows = S.fused_block_rows_span(*irb_args(self.g, first))
            height = self.g.tensors[x].shape[1]  # [1][H][W][C]
            self.act[x] = self.buffer(f"act:{x}", rows * self.numel(x) // height, "input")
        else:
            self.act_buffer(x, "input")
        self.emit("load_input", "forward", None, (), (self.act[x],))
        for layer in self.g.layers:
            block = blocks.get(layer.index)
            if block is not None:
                if layer.index == block.layers[0]:
                    self.fused(block)
                continue
            if layer.kind == "reshape":
                self.act[layer.output] = self.act[layer.inputs[0]]  # a view: same bytes
                continue
            self.layer_forward(layer)

    def layer_forward(self, layer: Layer) -> None:
        t = self.training.get(layer.index)
        if t is not None and t.channels and len(t.channels) < layer.weight_in_channels:
            x = layer.inputs[0]
            kept = self.g.tensors[x].spatial * len(t.channels)
            self.emit("save", "forward", layer.index, (self.act[x],),
                      (self.buffer(f"saved:{layer.index}", kept, "saved", layer.index),))
        ins = [self.act[i] for i in layer.inputs]
        out = self.act_buffer(layer.output)
        mask = self.needs_mask(layer) and not self.rebuilds_mask(layer)
        self.run_forward("fwd", "forward", layer, ins, out, mask)

    def run_forward(self, kind: str, phase: str, layer: Layer, ins: list[str], out: str, mask: bool) -> None:
        """The forward op of ``layer`` (``kind`` "fwd", or "recompute" in the backward)."""
        w, b = self.params(layer)
        writes = [out]
        if mask:
            writes.append(self.buffer(f"mask:{layer.index}", -(-self.numel(layer.output) // 8), "mask", layer.index))
        inplace: tuple[tuple[str, str], ...] = ()
        scratch, apart = S.Scratch.none(), None
        if layer.kind == "add":
            inplace = tuple((out, i) for i in ins)
        elif layer.kind in ("mul", "hard_swish", "logistic", "requantize", "leaky_relu"):  # elementwise, first input
            inplace = ((out, ins[0]),)
        elif layer.kind in _LAYER_KINDS:
            # Only frozen layers are tried in place: the pointwise overlay has no in-place form,
            # and a merged depthwise in place (legal) has not been measured against out of place.
            try_in_place = self.options.inplace_kernels and (kind, layer.index) not in self.out_of_place and not w
            scratch, apart = self.layer_variant(layer, "fwd", try_in_place)
            if apart is not None:
                inplace = ((out, ins[0]),)
        self.emit(kind, phase, layer.index, ins + w + b, writes, inplace=inplace, scratch=scratch, macs=layer.macs,
                  scratch_apart=apart)

    def fused(self, block: Block) -> None:
        """The fused kernel (``tt_irb_fwd_s8``, row-streamed): block input to block output in
        one op, the expanded tensors never exist; its output overwrites its input where
        ``tt_irb_fwd_s8_can_alias`` allows it."""
        L = self.g.layers
        first = L[block.layers[0]]
        last = L[block.add] if block.add is not None else L[block.pw2]
        x = first.inputs[0]
        macs = sum(L[i].macs for i in block.layers)
        out = self.act_buffer(last.output)
        # A streamed sample's rows pass through a small buffer the output cannot share.
        streamed = x == self.g.input and self.streamed
        inplace = ((out, self.act[x]),) if irb_can_alias(self.g, block) and not streamed else ()
        self.emit("fused_block", "forward", first.index, (self.act[x],), (out,), inplace=inplace,
                  scratch=irb_scratch(self.g, block), macs=macs)

    # -- backward --------------------------------------------------------------------------

    def contribute(self, tensor: int, make) -> None:
        """Add a gradient contribution to ``tensor``: ``make(dest)`` emits the op writing
        ``dest``; the first contribution writes the gradient buffer itself."""
        if tensor not in self.grad:
            self.grad[tensor] = self.buffer(f"g:{tensor}", 2 * self.numel(tensor), "grad")
            make(self.grad[tensor])
            return
        self.tmp += 1
        tmp = self.buffer(f"g:{tensor}:{self.tmp}", 2 * self.numel(tensor), "grad")
        make(tmp)
        g = self.grad[tensor]
        self.emit("grad_add", "backward", None, (tmp, g), (g,))

    def alias(self, tensor: int, src: str) -> None:
        """Hand ``src`` (a gradient buffer whose owner is done with it) to ``tensor``."""
        if tensor not in self.grad:
            self.grad[tensor] = src
        else:
            g = self.grad[tensor]
            self.emit("grad_add", "backward", None, (src, g), (g,))

    def backward(self) -> None:
        head = self.g.logits
        self.grad[head] = self.buffer(f"g:{head}", 2 * self.numel(head), "grad")
        self.emit("loss", "backward", None, (self.act[head],), (self.grad[head],))  # tt_softmax_xent_s8: no scratch
        for layer in reversed(self.g.layers):
            if layer.output not in self.need or layer.output not in self.grad:
                continue
            g = self.grad[layer.output]
            ins_need = [t for t in layer.inputs if t in self.need]
            if layer.kind == "reshape":
                for t in ins_need:
                    self.alias(t, g)
                continue
            block = self.recomputed.get(layer.index)
            if block is not None and block not in self.rebuilt:
                self.recompute(block)
            if self.needs_mask(layer):
                self.emit("mask_bwd", "backward", layer.index, (f"mask:{layer.index}", g), (g,))
            if layer.kind == "add":
                for k, t in enumerate(ins_need):
                    if k == 0:
                        self.alias(t, g)
                    else:  # the first branch owns g now and will modify it
                        self.contribute(t, lambda dest, i=layer.index, g=g: self.emit("grad_copy", "backward", i, (g,), (dest,)))
                continue
            if layer.kind in PARAM_KINDS:
                self.param_backward(layer, g, ins_need)
            elif layer.kind == "mul":
                self.mul_backward(layer, g, ins_need)
            elif layer.kind == "concat":  # each input's gradient is its slice of dY
                for k, t in enumerate(layer.inputs):
                    if t in ins_need:
                        self.contribute(t, lambda dest, k=k, i=layer.index: self.emit("bwd_input", "backward", i, (g,),
                                                                                      (dest,), part=k))
            elif layer.kind == "requantize":  # real units: past its clamp's mask, dX is dY
                for t in ins_need:
                    self.alias(t, g)
            elif ins_need:  # pooling, pad: route the gradient back to the window
                x = ins_need[0]
                # A max pool's gradient goes to each window's maximum, hard swish's, a logistic's
                # and a leaky ReLU's derivative depends on the point: they read the forward input.
                reads = (g, self.act[x]) if layer.kind in ("maxpool", "hard_swish", "logistic", "leaky_relu") else (g,)
                self.contribute(x, lambda dest, i=layer.index, reads=reads: self.emit("bwd_input", "backward", i, reads,
                                                                                      (dest,)))

    def mul_backward(self, layer: Layer, g: str, ins_need: list[int]) -> None:
        """y = a * b: dA = dY * b reads b (nothing for a constant b), dB = dY * a summed over
        where b was broadcast reads a."""
        a, b = layer.inputs[0], layer.inputs[1] if len(layer.inputs) > 1 else None
        if a in ins_need:
            reads = (g, self.act[b]) if b is not None else (g,)
            self.contribute(a, lambda dest: self.emit("bwd_input", "backward", layer.index, reads, (dest,)))
        if b is not None and b in ins_need:
            self.contribute(b, lambda dest: self.emit("bwd_input_b", "backward", layer.index, (g, self.act[a]), (dest,)))

    def rebuilds_mask(self, layer: Layer) -> bool:
        """The backward recomputes this layer's mask: the expansion's or the depthwise's of a
        recomputed block (the projection's and the residual's are small, and the forward of the
        projection costs as much as the expansion's)."""
        block = self.recomputed.get(layer.index)
        return block is not None and layer.index in (block.pw1, block.dw)

    def recompute(self, block: Block) -> None:
        """Run the expansion and depthwise of ``block`` forward again from the block input (kept
        for the expansion's weight gradient), writing their masks; the activations die at once.
        It runs before the block's backward begins, when only its output gradient is live, and
        nothing in the block has been updated yet, so the masks are the forward's bit for bit."""
        self.rebuilt.add(block)
        x = self.act[self.g.layers[block.pw1].inputs[0]]
        for layer in (self.g.layers[block.pw1], self.g.layers[block.dw]):
            out = self.buffer(f"re:{layer.output}", self.numel(layer.output), "activation")
            self.run_forward("recompute", "backward", layer, [x], out, self.needs_mask(layer))
            x = out

    def param_backward(self, layer: Layer, g: str, ins_need: list[int]) -> None:
        w, b = self.params(layer)
        t = self.training.get(layer.index)

        def input_grad(dy_dies: bool) -> None:
            if not ins_need:
                return
            # dY is read by nothing after this op: where the wrapper has a variant for it, dX is
            # written over dY (the destination is always born here, see contribute()).
            try_in_place = (dy_dies and self.options.inplace_kernels
                            and ("bwd_input", layer.index) not in self.out_of_place)
            sc, apart = self.layer_variant(layer, "bwd_input", try_in_place)
            self.contribute(ins_need[0], lambda dest: self.emit(
                "bwd_input", "backward", layer.index, (g, *w), (dest,), inplace=((dest, g),) if apart else (),
                scratch=sc, macs=layer.macs, scratch_apart=apart))

        def updates() -> None:
            # The gradient kernels write int32 dW/db (tensor exponent) for exactly the trained
            # slice; the SGD+QAS kernel applies it at once and the buffer dies there.
            if t is None:
                return
            macs = layer.macs * len(t.channels) // max(layer.weight_in_channels, 1)
            compact = bool(t.channels) and self.saved_input(layer).startswith("saved:")
            if self.options.streamed_updates:
                if t.bias:
                    self.emit("bias_grad_update", "backward", layer.index, (g, *b), tuple(b),
                              scratch=self.temp(layer, OpKind.BIAS_GRAD_UPDATE, S.Scratch.none()))
                if t.channels:
                    # The fused weight gradient + update kernels take no scratch of their own.
                    sc = self.temp(layer, OpKind.WEIGHT_GRAD_UPDATE, S.Scratch.none(), compact)
                    self.emit("weight_grad_update", "backward", layer.index, (g, self.saved_input(layer), *w), tuple(w),
                              scratch=sc, macs=macs)
                return
            if t.bias:
                db = self.buffer(f"db:{layer.index}", 4 * layer.out_channels, "param_grad", layer.index)
                self.emit("bias_grad", "backward", layer.index, (g,), (db,))
                self.emit("bias_update", "backward", layer.index, (db, *b), tuple(b))
            if t.channels:
                n = layer.weight_count(len(t.channels))
                dw = self.buffer(f"dw:{layer.index}", 4 * n, "param_grad", layer.index)
                self.emit("weight_grad", "backward", layer.index, (g, self.saved_input(layer)), (dw,), macs=macs,
                          scratch=self.temp(layer, OpKind.WEIGHT_GRAD, S.Scratch.none(), compact))
                self.emit("weight_update", "backward", layer.index, (dw, *w), tuple(w),
                          scratch=self.temp(layer, OpKind.WEIGHT_UPDATE, S.Scratch.none()))

        # A bias update does not change the input gradient (it reads only the weights): with
        # frozen weights the update runs first, so dY can die at the input-gradient op.
        weights_train = t is not None and bool(t.channels)
        if self.options.exact_gradients and weights_train:
            input_grad(dy_dies=False)  # the weight gradient still reads dY
            updates()
        else:
            updates()
            input_grad(dy_dies=True)


#: Plan kinds of a parameterised layer and of its forward and input-gradient ops.
_LAYER_KINDS = {"conv2d": LayerKind.CONV2D, "pw_conv2d": LayerKind.PW_CONV2D, "dw_conv2d": LayerKind.DW_CONV2D,
                "fc": LayerKind.FC}
_FORWARD = {"conv2d": OpKind.CONV2D, "pw_conv2d": OpKind.PW_CONV2D, "dw_conv2d": OpKind.DW_CONV2D, "fc": OpKind.FC}
_BWD_INPUT = {"conv2d": OpKind.CONV2D_BWD_INPUT, "pw_conv2d": OpKind.PW_CONV2D_BWD_INPUT,
              "dw_conv2d": OpKind.DW_CONV2D_BWD_INPUT, "fc": OpKind.FC_BWD_INPUT}


def _fusable(graph: Graph, block: Block, b: _Builder) -> bool:
    """Nothing inside the block trains, is saved for the backward or needs a gradient."""
    if graph.layers[block.layers[0]].inputs[0] in b.need:
        return False
    return not any(i in b.training for i in block.layers)


def _recomputable(block: Block, b: _Builder) -> bool:
    """The backward keeps the block's input anyway (its expansion trains weights on every
    input channel, so the weight gradient reads the activation itself), the depthwise and the
    projection train no weights (their inputs would be kept whole, masks or not), and the
    expansion or the depthwise needs a mask."""
    if block.pw1 is None:
        return False
    L = b.g.layers
    t = b.training.get(block.pw1)
    if t is None or len(t.channels) != L[block.pw1].weight_in_channels:
        return False
    if any(b.training.get(i) is not None and b.training[i].channels for i in (block.dw, block.pw2)):
        return False
    return b.needs_mask(L[block.pw1]) or b.needs_mask(L[block.dw])


def _finalize_inplace(ops: list[Op], buffers: dict[str, Buffer]) -> list[Op]:
    """Keep an in-place pair only where its read buffer dies at that op and the written
    buffer is born there; a written buffer overlaps at most one input (an ADD picks the first
    input that dies)."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for op in ops:
        for name in (*op.reads, *op.writes):
            first.setdefault(name, op.index)
            last[name] = op.index
    out = []
    for op in ops:
        keep: list[tuple[str, str]] = []
        for w, r in op.inplace:
            if (w != r and last[r] == op.index and first[w] == op.index and w not in dict(keep)
                    and not buffers[r].persistent and not buffers[w].persistent):
                keep.append((w, r))
        if tuple(keep) != op.inplace:
            # An op that cannot overwrite its input after all runs the wrapper's out-of-place variant.
            sc = op.scratch_apart if not keep and op.scratch_apart is not None else op.scratch
            op = replace(op, inplace=tuple(keep), scratch=sc, scratch_apart=None if not keep else op.scratch_apart)
        out.append(op)
    return out


def build_schedule(graph: Graph, scheme: Scheme, options: PlanOptions | None = None,
                   out_of_place: frozenset[tuple[str, int]] = frozenset(),
                   kept_masks: frozenset[Block] = frozenset(), unfused: frozenset[Block] = frozenset()) -> Schedule:
    """Forward, loss and pruned backward of one training step, in execution order;
    ``out_of_place`` lists ``(op kind, layer)`` sites that run out of place even where an
    in-place kernel could (see :mod:`.inplace`), ``kept_masks`` blocks whose masks the forward
    keeps even where the backward could recompute them (see :mod:`.recompute`), ``unfused``
    blocks that run layer by layer even where fusing them would lower their memory (see
    :mod:`.speed`)."""
    options = options or PlanOptions()
    frozen = [graph.conv(i) for i in sorted(scheme.weights) if graph.conv(i).expanded]
    if frozen:
        raise frozen_weights(frozen[0])
    b = _Builder(graph, scheme, options, out_of_place)
    chosen: dict[int, Block] = {}
    fused: list[Block] = []
    if options.fuse_blocks != "off":
        for block in find_blocks(graph, options.fuse_stem):
            if (block not in unfused and _fusable(graph, block, b)
                    and (options.fuse_blocks == "all" or fusion_pays(graph, block))):
                fused.append(block)
                chosen.update({i: block for i in block.layers})
    recomputed: tuple[Block, ...] = ()
    if options.recompute_masks:
        recomputed = tuple(block for block in find_blocks(graph)
                           if block not in kept_masks and _recomputable(block, b))
        b.recomputed = {i: block for block in recomputed for i in block.layers}
    b.forward(chosen)
    b.backward()
    ops = _finalize_inplace(b.ops, b.buffers)
    return Schedule(graph, scheme, options, ops, b.buffers, b.training, b.need, fused, b.streamed, recomputed,
                    out_of_place, kept_masks, unfused)
