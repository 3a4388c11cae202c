"""From a schedule to plan ops: kernel kinds, buffer slots and per-layer integer parameters.

The schedule (:mod:`.schedule`) names ops loosely (``fwd``, ``bwd_input``, ...) over named
buffers; the plan blob (``tt_protocol.plan``) has one :class:`~tt_protocol.plan.OpKind` per
kernel and fixed buffer slots per kind (``SIGNATURES``). :func:`lower` does that mapping
once; the blob writer (:mod:`.blob`) encodes its result and the unplanned reference run
(:mod:`.simulate`) executes it directly on named numpy arrays, so both see the same ops.

:func:`layer_params` derives what a LAYER block carries from the graph: the forward
quantization, the gradient quantization of the weight scales (``GradQuant``) for layers the
gradient flows back through, and the QAS factors of trained weights and biases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tt_protocol.plan import LayerKind as LK
from tt_protocol.plan import OpFlag, OpKind, Phase, PoolKind

from tt_host import recipe
from tt_host.compiler.errors import CompileError
from tt_host.compiler.ir import Graph, Layer
from tt_host.compiler.blocks import Block
from tt_host.compiler.schedule import Schedule
from tt_host.reference.fixedpoint import quantize_multiplier
from tt_host.reference.params import (
    AddQuant,
    ConcatGeom,
    ConvGeom,
    ConvQuant,
    GradQuant,
    HardSwishGrad,
    HardSwishQuant,
    LogisticQuant,
    MeanQuant,
    MulGrad,
    MulQuant,
    PoolQuant,
    RequantizeQuant,
)
from tt_host.reference.update import Qas, Sgd

LAYER_KINDS = {"conv2d": LK.CONV2D, "pw_conv2d": LK.PW_CONV2D, "dw_conv2d": LK.DW_CONV2D, "fc": LK.FC}
FORWARD = {"conv2d": OpKind.CONV2D, "pw_conv2d": OpKind.PW_CONV2D, "dw_conv2d": OpKind.DW_CONV2D, "fc": OpKind.FC}
BWD_INPUT = {"conv2d": OpKind.CONV2D_BWD_INPUT, "pw_conv2d": OpKind.PW_CONV2D_BWD_INPUT,
             "dw_conv2d": OpKind.DW_CONV2D_BWD_INPUT, "fc": OpKind.FC_BWD_INPUT}
#: Pooling layers: forward op, input-gradient op (the max pool's also reads the forward input)
#: and the POOL block's kind.
POOL_OPS = {"avgpool": (OpKind.AVGPOOL, OpKind.AVGPOOL_BWD_INPUT, PoolKind.AVERAGE),
            "mean": (OpKind.MEAN, OpKind.AVGPOOL_BWD_INPUT, PoolKind.MEAN),
            "maxpool": (OpKind.MAXPOOL, OpKind.MAXPOOL_BWD_INPUT, PoolKind.MAX)}


@dataclass(frozen=True)
class TrainParams:
    """The optimizer settings a plan carries (header and LAYER blocks). The defaults are the
    project's one training recipe (:mod:`tt_host.recipe`); every entry point (``tt-host
    compile``, ``stream``, provisioning, benchmarks) starts from them."""

    lr: float = recipe.LR  #: SGD learning rate (QAS-scaled gradients, so in units of the float model)
    #: learning rate of the classifier (weights and biases); None: ``recipe.HEAD_LR_RATIO * lr``
    head_lr: float | None = None
    #: one sample moves a trained int8 weight by at most this many quantization steps
    weight_step_max: float = recipe.WEIGHT_STEP_MAX
    #: ... and a trained bias by at most this many steps of the layer's *output* quantization
    bias_step_max: float = recipe.BIAS_STEP_MAX
    #: the device stops training after this many consecutive samples of more than one label
    #: with identical logits (0: never)
    diverge_after: int = recipe.DIVERGE_AFTER
    seed: int = 0  #: PRNG seed of the stochastic rounding
    momentum: float = 0.0  #: must be 0 in plan format 2

    def __post_init__(self) -> None:
        for name in ("lr", "head_lr"):
            value = getattr(self, name)
            if value is not None and not 2.0**-40 < value < 1:
                raise CompileError(f"the {name.replace('_', ' ')} must be in (0, 1), not {value}")
        if self.momentum != 0:
            raise CompileError("momentum is not supported by plan format 2 (no velocity buffers are planned)")
        if not 0 <= self.seed < 2**32:
            raise CompileError(f"the seed must fit 32 bits, not {self.seed}")
        if not (2.0**-16 <= self.weight_step_max <= 127 and 2.0**-16 <= self.bias_step_max <= 2**15):
            raise CompileError(f"step bounds out of range: weights {self.weight_step_max} (at most 127 steps), "
                               f"biases {self.bias_step_max} output steps")
        if not 0 <= self.diverge_after <= 0xFFFF:
            raise CompileError(f"diverge_after must fit 16 bits, not {self.diverge_after}")

    @property
    def head_rate(self) -> float:
        return self.head_lr if self.head_lr is not None else min(recipe.HEAD_LR_RATIO * self.lr, 0.5)

    @property
    def sgd(self) -> Sgd:
        return Sgd.of(self.lr, self.momentum)

    @property
    def head_sgd(self) -> Sgd:
        return Sgd.of(self.head_rate, self.momentum)

    def weight_bound_q16(self) -> int:
        """``weight_step_max`` of a LAYER block: Q16 int8 steps."""
        return max(1, round(self.weight_step_max * 65536))

    def bias_bound(self, output_scale: float, input_scale: float, weight_scales) -> int:
        """``bias_step_max`` of a LAYER block: ``bias_step_max`` output steps in whole bias steps
        (``s_W[o] * s_x``), of the channel where that is fewest, at least 1."""
        s_w = np.asarray(weight_scales, np.float64)
        steps = self.bias_step_max * float(output_scale) / (float(np.max(s_w)) * float(input_scale))
        return int(min(max(1, round(steps)), 2**31 - 1))


@dataclass(frozen=True)
class LayerParams:
    """Everything a LAYER block says about one parameterised layer."""

    kind: LK
    geom: ConvGeom  #: a fully connected layer is 1x1 with in_c/out_c
    quant: ConvQuant
    weights: np.ndarray = field(repr=False)  #: factory int8 weights, TFLite layout
    bias: np.ndarray = field(repr=False)  #: factory int32 biases (zeros when the model has none)
    input_scale: float = 0.0
    output_scale: float = 0.0
    channels: tuple[int, ...] = ()  #: trained input channels (empty: weights frozen)
    bias_trained: bool = False
    grad_quant: GradQuant | None = None  #: present when the gradient flows back through the layer
    qas_w: Qas | None = None  #: per output channel (per listed channel for depthwise)
    qas_b: Qas | None = None
    head: bool = False  #: the classifier: trains at the head rate
    weight_step_max_q16: int = 0  #: bound on one sample's weight step (0 iff the weights are frozen)
    bias_step_max: int = 0  #: bound on one sample's bias step in bias steps (0 iff the biases are frozen)

    @property
    def taps(self) -> int:
        return self.geom.kernel_h * self.geom.kernel_w


@dataclass(frozen=True)
class PoolParams:
    geom: ConvGeom
    quant: PoolQuant | MeanQuant  #: a pool's clamp, or a mean's requantization
    kind: PoolKind


@dataclass(frozen=True)
class AddParams:
    quant: AddQuant
    numel: int


@dataclass(frozen=True)
class MulParams:
    quant: MulQuant
    grad: MulGrad
    numel: int
    b_numel: int
    constant: int | None  #: b when it is a constant scalar


@dataclass(frozen=True)
class ConcatParams:
    geom: ConcatGeom


@dataclass(frozen=True)
class PadParams:
    in_shape: tuple[int, int, int]  #: the PAD's input (H, W, C)
    pads: tuple[int, int, int, int]  #: top, left, bottom, right
    fill: int


@dataclass(frozen=True)
class SliceParams:
    """Columns [offset, offset + inner) of ``outer`` rows of ``total``: a concatenation's input gradient."""

    outer: int
    total: int
    offset: int
    inner: int


@dataclass(frozen=True)
class RequantizeParams:
    quant: RequantizeQuant
    numel: int
    alpha: tuple[int, int] = (0, 0)  #: a leaky ReLU's slope (multiplier, shift) for its input gradient


@dataclass(frozen=True)
class LogisticParams:
    quant: LogisticQuant
    numel: int


@dataclass(frozen=True)
class HardSwishParams:
    quant: HardSwishQuant
    grad: HardSwishGrad
    numel: int


@dataclass(frozen=True)
class FusedParams:
    pw1: LayerParams | None
    dw: LayerParams
    pw2: LayerParams
    add: AddParams | None
    residual_input: int = 0  #: 1 or 2: which ADD input is the block's input (0 without ADD)


@dataclass(frozen=True)
class LossParams:
    n_classes: int
    scale: float
    zero_point: int


@dataclass(frozen=True)
class LoweredOp:
    """One plan op over buffer keys (names here, ids once encoded)."""

    kind: OpKind
    phase: Phase
    layer: int | None
    ins: tuple  #: by slot (SIGNATURES), None for an absent optional slot
    outs: tuple
    params: tuple | None  #: key of the parameter block: ("layer", i), ("add", i), ("pool", i), ("fused", i), ("loss",)
    scratch: str | None = None
    flags: int = 0


def _fc_geom(layer: Layer) -> ConvGeom:
    return ConvGeom(1, 1, layer.weight_in_channels, 1, 1, layer.out_channels, 1, 1)


def layer_params(graph: Graph, schedule: Schedule, layer: Layer, grad_layers: set[int],
                 train: TrainParams | None = None) -> LayerParams:
    step = layer.step
    kind = LAYER_KINDS[layer.kind]
    geom = _fc_geom(layer) if layer.kind == "fc" else step.geom
    t = schedule.training.get(layer.index)
    channels = tuple(t.channels) if t is not None else ()
    bias_trained = bool(t is not None and t.bias)
    s_x = graph.tensors[layer.inputs[0]].scale
    s_w = np.asarray(layer.weight_scales, np.float32)
    bias = step.bias if step.bias is not None else np.zeros(layer.out_channels, np.int32)
    qas_w = None
    if channels:
        qas_w = Qas.weights(s_x, s_w)
    train = train or TrainParams()
    s_y = graph.tensors[layer.output].scale if layer.output in graph.tensors else 0.0
    return LayerParams(
        kind, geom, step.quant, np.asarray(step.weights, np.int8), np.asarray(bias, np.int32), s_x, s_y, channels,
        bias_trained, GradQuant.from_weight_scales(s_w) if layer.index in grad_layers else None,
        qas_w, Qas.biases(s_x, s_w) if bias_trained else None, head=layer.is_classifier,
        weight_step_max_q16=train.weight_bound_q16() if channels else 0,
        bias_step_max=train.bias_bound(s_y, s_x, s_w) if bias_trained else 0)


def pool_params(layer: Layer) -> PoolParams:
    if layer.kind in POOL_OPS:
        return PoolParams(layer.step.geom, layer.step.quant, POOL_OPS[layer.kind][2])
    raise CompileError(f"{layer.name}: a {layer.kind} layer has no pooling kernel")


@dataclass
class Lowered:
    """The plan's ops and the parameter objects they reference."""

    ops: list[LoweredOp]
    params: dict[tuple, object]


def load_order(schedule: Schedule) -> list:
    """The trained tensors in the order the plan's LOAD ops (its first ops) load them: by layer,
    weights before biases. Every other op of the plan is one op of the schedule, in order."""
    return sorted((b for b in schedule.buffers.values() if b.persistent), key=lambda b: (b.layer, b.name[0] != "w"))


def lower(schedule: Schedule, train: TrainParams | None = None) -> Lowered:
    """Map every schedule op to its plan op; prepend the load ops of the trainable buffers.
    ``train`` gives the trained layers' step bounds (the recipe's defaults when None)."""
    g = schedule.graph
    L = g.layers
    grad_layers = {op.layer for op in schedule.ops if op.kind == "bwd_input" and L[op.layer].has_params}
    params: dict[tuple, object] = {}

    def lp(i: int) -> tuple:
        key = ("layer", i)
        if key not in params:
            params[key] = layer_params(g, schedule, L[i], grad_layers, train)
        return key

    def pp(i: int) -> tuple:
        key = ("pool", i)
        if key not in params:
            params[key] = pool_params(L[i])
        return key

    def ap(i: int) -> tuple:
        key = ("add", i)
        if key not in params:
            params[key] = AddParams(L[i].step.quant, g.tensors[L[i].output].numel)
        return key

    def ep(i: int) -> tuple:
        """The parameter block of a MUL / HARD_SWISH / LOGISTIC / REQUANTIZE / LEAKY_RELU / CONCATENATION / PAD
        layer."""
        key = (L[i].kind, i)
        if key not in params:
            step, src = L[i].step, g.tensors[L[i].inputs[0]]
            if L[i].kind == "concat":
                params[key] = ConcatParams(step.quant)
            elif L[i].kind == "pad":
                params[key] = PadParams(tuple(src.shape), step.pad, step.pad_value)
            elif L[i].kind == "requantize":
                params[key] = RequantizeParams(step.quant, src.numel)
            elif L[i].kind == "leaky_relu":
                params[key] = RequantizeParams(step.quant, src.numel, quantize_multiplier(step.alpha))
            elif L[i].kind == "mul":
                b_numel = g.tensors[L[i].inputs[1]].numel if len(L[i].inputs) > 1 else 1
                s_b = g.tensors[L[i].inputs[1]].scale if len(L[i].inputs) > 1 else step.constant_scale
                params[key] = MulParams(step.quant, MulGrad.from_scales(src.scale, s_b), src.numel, b_numel,
                                        step.constant)
            elif L[i].kind == "hard_swish":
                params[key] = HardSwishParams(step.quant, HardSwishGrad.from_scale(src.scale, src.zero_point),
                                              src.numel)
            elif L[i].kind == "logistic":
                params[key] = LogisticParams(step.quant, src.numel)
            else:
                raise CompileError(f"{L[i].name}: a {L[i].kind} layer has no elementwise kernel")
        return key

    blocks: dict[int, Block] = {b.layers[0]: b for b in schedule.blocks}

    def fp(block: Block) -> tuple:
        key = ("fused", block.layers[0])
        if key not in params:
            params[key] = FusedParams(
                params[lp(block.pw1)] if block.pw1 is not None else None, params[lp(block.dw)], params[lp(block.pw2)],
                params[ap(block.add)] if block.add is not None else None,
                0 if block.add is None else 1 + L[block.add].inputs.index(L[block.layers[0]].inputs[0]))
        return key

    ops: list[LoweredOp] = []
    for b in load_order(schedule):
        kind = OpKind.LOAD_WEIGHTS if b.name.startswith("w:") else OpKind.LOAD_BIAS
        ops.append(LoweredOp(kind, Phase.LOAD, b.layer, (), (b.name,), lp(b.layer)))

    def find(names, prefix: str) -> str | None:
        return next((n for n in names if n.startswith(prefix)), None)

    for op in schedule.ops:
        layer = L[op.layer] if op.layer is not None else None
        scratch = f"scratch:{op.index}" if op.scratch.nbytes else None
        phase = Phase.FORWARD if op.phase == "forward" else Phase.BACKWARD
        r, w = op.reads, op.writes

        def emit(kind, ins, outs, key=None, flags=0, phase=phase, layer=op.layer, scratch=scratch):
            ops.append(LoweredOp(kind, phase, layer, tuple(ins), tuple(outs), key, scratch, flags))

        k = op.kind
        if k == "load_input":
            emit(OpKind.INPUT, (), w, flags=OpFlag.STREAMED if schedule.streamed_input else 0)
        elif k in ("fwd", "recompute"):
            mask = find(w, "mask:")
            flags = OpFlag.RECOMPUTE if k == "recompute" else 0
            if layer.kind in FORWARD:
                emit(FORWARD[layer.kind], (r[0], find(r[1:], "w:"), find(r[1:], "b:")), (w[0], mask), lp(layer.index),
                     flags)
            elif layer.kind == "add":
                emit(OpKind.ADD, r[:2], (w[0], mask), ap(layer.index), flags)
            elif layer.kind == "mul":
                emit(OpKind.MUL, (r[0], r[1] if len(r) > 1 else None), (w[0], mask), ep(layer.index), flags)
            elif layer.kind == "hard_swish":
                emit(OpKind.HARD_SWISH, r[:1], (w[0], mask), ep(layer.index), flags)
            elif layer.kind == "logistic":
                emit(OpKind.LOGISTIC, r[:1], (w[0], mask), ep(layer.index), flags)
            elif layer.kind in ("requantize", "leaky_relu"):
                emit(OpKind.REQUANTIZE, r[:1], (w[0], mask), ep(layer.index), flags)
            elif layer.kind == "concat":
                emit(OpKind.CONCAT, (*r, *(None,) * (4 - len(r))), w[:1], ep(layer.index), flags)
            elif layer.kind == "pad":
                emit(OpKind.PAD, r[:1], w[:1], ep(layer.index), flags)
            else:
                key = pp(layer.index)
                emit(POOL_OPS[layer.kind][0], r[:1], (w[0], mask), key)
        elif k == "save":
            emit(OpKind.SAVE, r, w, lp(op.layer))
        elif k == "fused_block":
            emit(OpKind.FUSED_BLOCK, r, w, fp(blocks[op.layer]))
        elif k == "loss":
            key = ("loss",)
            logits = g.tensors[g.logits]
            params[key] = LossParams(logits.numel, logits.scale, logits.zero_point)
            emit(OpKind.LOSS, r, w, key)
        elif k == "mask_bwd":
            emit(OpKind.MASK_BWD, r, w)
        elif k == "bwd_input_b":  # a MUL's second operand
            emit(OpKind.MUL_BWD_B, r, w, ep(layer.index))
        elif k == "bwd_input":
            if layer.kind == "pad":
                emit(OpKind.GRAD_CROP, r, w, ep(layer.index))
            elif layer.kind == "concat":
                geom = layer.step.quant
                key = ("slice", op.layer, op.part)
                params[key] = SliceParams(geom.outer, geom.total, geom.offset(op.part), geom.inners[op.part])
                emit(OpKind.GRAD_SLICE, r, w, key)
            elif layer.kind == "mul":
                emit(OpKind.MUL_BWD_A, (r[0], r[1] if len(r) > 1 else None), w, ep(layer.index))
            elif layer.kind == "hard_swish":
                emit(OpKind.HARD_SWISH_BWD_INPUT, r, w, ep(layer.index))
            elif layer.kind == "logistic":
                emit(OpKind.LOGISTIC_BWD_INPUT, r, w, ep(layer.index))
            elif layer.kind == "leaky_relu":
                emit(OpKind.LEAKY_RELU_BWD_INPUT, r, w, ep(layer.index))
            elif layer.kind in BWD_INPUT:
                emit(BWD_INPUT[layer.kind], (r[0], find(r[1:], "w:")), w, lp(layer.index))
            else:
                key = pp(layer.index)
                emit(POOL_OPS[layer.kind][1], r, w, key)
        elif k == "grad_add":
            emit(OpKind.GRAD_ADD, r, w)
        elif k == "grad_copy":
            emit(OpKind.GRAD_COPY, r, w)
        elif k == "bias_grad":
            emit(OpKind.BIAS_GRAD, r, w, lp(op.layer))
        elif k == "bias_update":
            emit(OpKind.BIAS_UPDATE, r, w, lp(op.layer))
        elif k == "weight_grad":
            emit(OpKind.WEIGHT_GRAD, r, w, lp(op.layer), OpFlag.COMPACT_INPUT if r[1].startswith("saved:") else 0)
        elif k == "weight_update":
            emit(OpKind.WEIGHT_UPDATE, r, w, lp(op.layer))
        elif k == "bias_grad_update":
            emit(OpKind.BIAS_GRAD_UPDATE, r, w, lp(op.layer))
        elif k == "weight_grad_update":
            emit(OpKind.WEIGHT_GRAD_UPDATE, r, w, lp(op.layer), OpFlag.COMPACT_INPUT if r[1].startswith("saved:") else 0)
        else:  # pragma: no cover - the schedule's kinds are all listed above
            raise CompileError(f"schedule op kind {k!r} has no plan op")
    return Lowered(ops, params)
