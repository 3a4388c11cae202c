"""Numpy executor of training plans: the reference the firmware's executor must match.

Two ways to run the same ops (:class:`~tt_host.compiler.lowering.LoweredOp`) with the
bit-exact reference kernels of :mod:`tt_host.reference`:

* :func:`planned` decodes a plan blob and its weight blob (and nothing else: no graph, no
  schedule) and runs every op on one ``bytearray`` arena at the buffers' planned offsets,
  gradient exponents in the arena's exponent table, scratch regions scribbled over before
  and after each op (a kernel may use its scratch any way it likes);
* :func:`unplanned` runs the ops of a compiled schedule on separate numpy arrays, one per
  buffer name, with parameters taken from the graph.

Training with both must give bit-identical parameters: the plan changes where tensors live,
never what is computed. Where a kernel does not exist in C yet (fused inverted bottleneck,
split-weight forward, compact saved input, fused gradient+update), the executor runs the
composition of existing reference kernels that the C kernel must equal; those are the
definitions the kernels are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from tt_protocol import plan as P
from tt_protocol.plan import OpFlag, OpKind, Phase
from tt_protocol.status import Status

from tt_host.compiler.lowering import (
    AddParams,
    ConcatParams,
    FusedParams,
    HardSwishParams,
    LogisticParams,
    LayerParams,
    LossParams,
    Lowered,
    LoweredOp,
    MulParams,
    PadParams,
    PoolParams,
    RequantizeParams,
    SliceParams,
    TrainParams,
)
from tt_host.reference import backward_int as B
from tt_host.reference import forward as F
from tt_host.reference import loss as LOSS
from tt_host.reference import update as U
from tt_host.reference.backward_int import Grad
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

#: The forward kernel of each pooling op.
POOL_FORWARD = {OpKind.AVGPOOL: F.avgpool_fwd_s8, OpKind.MEAN: F.mean_fwd_s8, OpKind.MAXPOOL: F.maxpool_fwd_s8}
_NP = {P.DType.INT8: np.int8, P.DType.INT16: np.int16, P.DType.INT32: np.int32, P.DType.MASK: np.uint8,
       P.DType.BYTES: np.uint8}


# -- storage ----------------------------------------------------------------------------------


class ArenaStore:
    """Buffers at their planned offsets in one arena; exponents in the exponent table."""

    def __init__(self, arena_bytes: int, buffers: list, exp_table_offset: int, n_exp: int) -> None:
        self.arena = bytearray(arena_bytes)
        self.buffers = buffers
        self.exp_table_offset = exp_table_offset
        self.n_exp = n_exp

    def get(self, key: int) -> np.ndarray:
        b = self.buffers[key]
        dt = np.dtype(_NP[P.DType(b.dtype)])
        return np.frombuffer(self.arena, dt, b.size // dt.itemsize, b.offset).copy()

    def put(self, key: int, values: np.ndarray) -> None:
        b = self.buffers[key]
        dt = np.dtype(_NP[P.DType(b.dtype)])
        raw = np.ascontiguousarray(values, dt).ravel().tobytes()
        if len(raw) != b.size:
            raise ValueError(f"buffer {key}: writing {len(raw)} bytes into {b.size}")
        self.arena[b.offset:b.offset + b.size] = raw

    def exp(self, key: int) -> int:
        off = self.exp_table_offset + 4 * key
        return int.from_bytes(self.arena[off:off + 4], "little", signed=True)

    def set_exp(self, key: int, value: int) -> None:
        if key >= self.n_exp:
            raise ValueError(f"buffer {key} has no exponent slot")
        off = self.exp_table_offset + 4 * key
        self.arena[off:off + 4] = int(value).to_bytes(4, "little", signed=True)

    def scribble(self, key: int, salt: int) -> None:
        b = self.buffers[key]
        self.arena[b.offset:b.offset + b.size] = np.random.default_rng(salt).integers(0, 256, b.size, np.uint8).tobytes()


class DictStore:
    """One numpy array per buffer name: nothing shares memory."""

    def __init__(self, dtypes: dict[str, np.dtype]) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.exps: dict[str, int] = {}
        self.dtypes = dtypes

    def get(self, key: str) -> np.ndarray:
        return self.arrays[key].copy()

    def put(self, key: str, values: np.ndarray) -> None:
        self.arrays[key] = np.ascontiguousarray(values, self.dtypes[key]).ravel().copy()

    def exp(self, key: str) -> int:
        return self.exps[key]

    def set_exp(self, key: str, value: int) -> None:
        self.exps[key] = int(value)

    def scribble(self, key: str, salt: int) -> None:
        pass


# -- op semantics ----------------------------------------------------------------------------


def _weights_shape(p: LayerParams) -> tuple[int, ...]:
    g = p.geom
    if p.kind == P.LayerKind.DW_CONV2D:
        return (1, g.kernel_h, g.kernel_w, g.out_c)
    if p.kind == P.LayerKind.FC:
        return (g.out_c, g.in_c)
    return (g.out_c, g.kernel_h, g.kernel_w, g.in_c)


def _slice_shape(p: LayerParams) -> tuple[int, ...]:
    full = _weights_shape(p)
    return (*full[:-1], len(p.channels))


def gather_slice(p: LayerParams, full: np.ndarray) -> np.ndarray:
    """The trained input channels of a weight tensor (last axis), compact."""
    return np.ascontiguousarray(np.asarray(full).reshape(_weights_shape(p))[..., list(p.channels)])


def current_weights(p: LayerParams, slice_: np.ndarray | None) -> np.ndarray:
    """Factory weights with the trained channels replaced by the arena slice (split-weight forward)."""
    w = np.asarray(p.weights).reshape(_weights_shape(p)).copy()
    if slice_ is not None:
        w[..., list(p.channels)] = np.asarray(slice_, np.int8).reshape(_slice_shape(p))
    return w


def _conv_forward(p: LayerParams, x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    g = p.geom
    if p.kind == P.LayerKind.FC:
        return F.fc_fwd_s8(p.quant, x.reshape(-1), w, bias)
    fn = {P.LayerKind.CONV2D: F.conv2d_fwd_s8, P.LayerKind.PW_CONV2D: F.pw_conv2d_fwd_s8,
          P.LayerKind.DW_CONV2D: F.dw_conv2d_fwd_s8}[p.kind]
    return fn(g, p.quant, x.reshape(g.in_shape), w, bias)


def _bwd_input(p: LayerParams, dy: Grad, w: np.ndarray) -> Grad:
    g = p.geom
    if p.kind == P.LayerKind.FC:
        return B.fc_bwd_input_s16(p.grad_quant, dy, w)
    fn = {P.LayerKind.CONV2D: B.conv2d_bwd_input_s16, P.LayerKind.PW_CONV2D: B.pw_conv2d_bwd_input_s16,
          P.LayerKind.DW_CONV2D: B.dw_conv2d_bwd_input_s16}[p.kind]
    return fn(g, p.grad_quant, Grad(dy.values.reshape(g.out_shape), dy.exp), w)


def _weight_grad(p: LayerParams, x: np.ndarray, compact: bool, dy: Grad) -> Grad:
    g = p.geom
    ch = list(p.channels)
    if compact:  # expand the SAVE'd copy: the kernel only reads the listed channels
        full = np.full((g.in_h * g.in_w, g.in_c), p.quant.input_zp, np.int8)
        full[:, ch] = x.reshape(g.in_h * g.in_w, len(ch))
        x = full
    if p.kind == P.LayerKind.FC:
        return B.fc_bwd_weight_s16(p.quant.input_zp, ch, x.reshape(-1), dy)
    fn = {P.LayerKind.CONV2D: B.conv2d_bwd_weight_s16, P.LayerKind.PW_CONV2D: B.pw_conv2d_bwd_weight_s16,
          P.LayerKind.DW_CONV2D: B.dw_conv2d_bwd_weight_s16}[p.kind]
    return fn(g, p.quant.input_zp, ch, x.reshape(g.in_shape), Grad(dy.values.reshape(g.out_shape), dy.exp))


def _weight_update(p: LayerParams, sgd: U.Sgd, rng: U.Rng, dw: Grad, w: np.ndarray) -> np.ndarray:
    n = len(p.channels)
    depthwise = p.kind == P.LayerKind.DW_CONV2D
    ws = U.WeightSlice(p.geom.out_c, p.taps, n, tuple(range(n)), depthwise)
    qas = p.qas_w
    if depthwise:  # compact slice: element j belongs to channel channels[j]
        ch = list(p.channels)
        qas = U.Qas(np.asarray(qas.multiplier)[ch], np.asarray(qas.shift)[ch])
    return U.sgd_update_s8(ws, sgd, qas, dw.values, dw.exp, rng, w)


def _mask(y: np.ndarray, act_min: int, act_max: int) -> np.ndarray:
    return B.mask_pack_s8(np.asarray(y).ravel(), act_min, act_max)


@dataclass
class StepResult:
    predicted: int
    loss: float
    correct: bool
    skipped: bool = False  #: a training step whose logits were all saturated: nothing applied
    status: int = 0  #: ``Status.DIVERGED`` for a training step refused by the divergence guard


def saturated(logits: np.ndarray) -> bool:
    """Every logit at an int8 bound: the logits' clamp passes no gradient to any of them, so the
    whole backward would compute zeros (``tt_executor_step`` skips it)."""
    q = np.asarray(logits, np.int8).ravel()
    return bool(np.all((q == -128) | (q == 127)))


def logits_hash(logits: np.ndarray) -> int:
    """FNV-1a of the int8 logits, as the divergence guard computes it."""
    h = 2166136261
    for b in np.asarray(logits, np.int8).ravel().view(np.uint8):
        h = ((h ^ int(b)) * 16777619) & 0xFFFFFFFF
    return h


@dataclass
class Machine:
    """Runs lowered ops on a store; keeps the PRNG and the last sample's outcome."""

    ops: list[LoweredOp]
    params: dict
    store: object
    sgd: U.Sgd  #: the plan's rate
    seed: int
    head_sgd: U.Sgd | None = None  #: the classifier's rate (None: ``sgd``)
    diverge_after: int = 0  #: the divergence guard (0: off)
    rng: U.Rng = field(init=False)
    label: int = 0
    lr_scale: int = U.SCALE_ONE  #: this step's learning-rate scale (Q16)
    same_run: int = 0  #: consecutive training steps with identical logits (the divergence guard)...
    run_hash: int = 0  #: ...their hash, the first one's label, and whether the labels differed
    run_label: int = 0
    run_mixed: bool = False
    logits_varied: bool = False  #: two training steps' logits have differed once
    diverged: bool = False  #: the guard stopped training
    result: StepResult | None = None
    trace: list | None = None  #: when a list, receives (op index, outputs) of every op
    streamed: tuple | None = None  #: (input buffer, sample) of a STREAMED INPUT this step

    def __post_init__(self) -> None:
        self.rng = U.Rng(self.seed)

    def sgd_of(self, p: LayerParams, bias: bool) -> U.Sgd:
        """The step of one parameter tensor: its layer's rate at this step's scale, its bound."""
        base = self.head_sgd if p.head and self.head_sgd is not None else self.sgd
        bound = p.bias_step_max << U.FRAC_BITS if bias else p.weight_step_max_q16
        return replace(base.scaled(self.lr_scale), step_max_q16=bound)

    def load(self) -> None:
        for i, op in enumerate(self.ops):
            if op.phase == Phase.LOAD:
                self.run(i, op, None)

    def step(self, image: np.ndarray, label: int, train: bool = True, lr_scale: int = U.SCALE_ONE) -> StepResult:
        """One sample, as ``tt_executor_step``: forward and loss; when training also the
        backward at ``lr_scale`` (Q16) of the plan's rates, unless the logits are saturated
        (skipped) or the divergence guard has stopped training (refused)."""
        if train and self.diverged:
            return StepResult(0, 0.0, False, status=int(Status.DIVERGED))
        self.label, self.lr_scale = int(label), int(lr_scale)
        for i, op in enumerate(self.ops):
            if op.phase == Phase.LOAD or (op.phase == Phase.BACKWARD and op.kind != OpKind.LOSS and not train):
                continue
            self.run(i, op, image)
            if op.kind == OpKind.LOSS and train:
                logits = self.store.get(op.ins[0])
                self.watch(logits)
                if saturated(logits):
                    self.result.skipped = True
                    break
        return self.result

    def watch(self, logits: np.ndarray) -> None:
        """The divergence guard (``tt_executor_step``): once the logits have varied, a run of
        ``diverge_after`` training steps with identical logits over samples of more than one
        label stops training."""
        h = logits_hash(logits)
        if self.same_run and h == self.run_hash:
            self.same_run = min(self.same_run + 1, 0xFFFF)
            self.run_mixed = self.run_mixed or self.label != self.run_label
        else:
            self.logits_varied = self.logits_varied or self.same_run > 0
            self.run_hash, self.run_label, self.same_run, self.run_mixed = h, self.label, 1, False
        self.diverged = 0 < self.diverge_after <= self.same_run and self.run_mixed and self.logits_varied

    def parameters(self) -> dict[tuple[int, str], np.ndarray]:
        """``(layer, "WEIGHTS"|"BIAS") -> values``: the trained slices and biases now."""
        out = {}
        for op in self.ops:
            if op.phase == Phase.LOAD:
                kind = "WEIGHTS" if op.kind == OpKind.LOAD_WEIGHTS else "BIAS"
                out[(op.layer, kind)] = self.store.get(op.outs[0])
        return out

    def run(self, index: int, op: LoweredOp, image) -> None:
        s = self.store
        if op.scratch is not None:
            s.scribble(op.scratch, index)
        p = self.params[op.params] if op.params is not None else None
        ins = op.ins
        k = op.kind
        writes: list[tuple] = []  # (key, values, exponent or None): applied after every read

        def grad(key) -> Grad:
            return Grad(s.get(key), s.exp(key))

        def opt(key):
            return None if key is None else s.get(key)

        if k == OpKind.LOAD_WEIGHTS:
            writes.append((op.outs[0], gather_slice(p, p.weights), None))
        elif k == OpKind.LOAD_BIAS:
            writes.append((op.outs[0], p.bias, None))
        elif k == OpKind.INPUT and op.flags & OpFlag.STREAMED:
            # The sample's rows pass through the buffer while the next op (the fused block)
            # runs on them: that op reads the sample, the buffer ends up holding garbage.
            self.streamed = (op.outs[0], np.asarray(image, np.int8))
            s.scribble(op.outs[0], index)
        elif k == OpKind.INPUT:
            writes.append((op.outs[0], np.asarray(image, np.int8), None))
        elif k in (OpKind.CONV2D, OpKind.PW_CONV2D, OpKind.DW_CONV2D, OpKind.FC):
            w = current_weights(p, opt(ins[1]))
            bias = opt(ins[2]) if ins[2] is not None else p.bias
            y = _conv_forward(p, s.get(ins[0]), w, bias)
            writes.append((op.outs[0], y, None))
            if op.outs[1] is not None:
                writes.append((op.outs[1], _mask(y, p.quant.act_min, p.quant.act_max), None))
        elif k == OpKind.ADD:
            y = F.add_fwd_s8(p.quant, s.get(ins[0]), s.get(ins[1]))
            writes.append((op.outs[0], y, None))
            if op.outs[1] is not None:
                writes.append((op.outs[1], _mask(y, p.quant.act_min, p.quant.act_max), None))
        elif k in POOL_FORWARD:
            pool = POOL_FORWARD[k]
            y = pool(p.geom, p.quant, s.get(ins[0]).reshape(p.geom.in_shape))
            writes.append((op.outs[0], y, None))
            if op.outs[1] is not None:
                writes.append((op.outs[1], _mask(y, p.quant.act_min, p.quant.act_max), None))
        elif k == OpKind.MUL:
            b = s.get(ins[1]) if opt(ins[1]) is not None else np.int8(p.constant)
            y = F.mul_fwd_s8(p.quant, s.get(ins[0]), b)
            writes.append((op.outs[0], y, None))
            if op.outs[1] is not None:
                writes.append((op.outs[1], _mask(y, p.quant.act_min, p.quant.act_max), None))
        elif k == OpKind.PAD:
            writes.append((op.outs[0], F.pad_s8(p.pads, p.fill, s.get(ins[0]).reshape(p.in_shape)), None))
        elif k == OpKind.CONCAT:
            writes.append((op.outs[0], F.concat_s8(p.geom, [s.get(t) for t in ins if t is not None]), None))
        elif k == OpKind.REQUANTIZE:
            y = F.requantize_s8(p.quant, s.get(ins[0]))
            writes.append((op.outs[0], y, None))
            if op.outs[1] is not None:
                writes.append((op.outs[1], _mask(y, p.quant.act_min, p.quant.act_max), None))
        elif k == OpKind.HARD_SWISH:
            y = F.hard_swish_fwd_s8(p.quant, s.get(ins[0]))
            writes.append((op.outs[0], y, None))
            if op.outs[1] is not None:
                writes.append((op.outs[1], _mask(y, -128, 127), None))
        elif k == OpKind.LOGISTIC:
            y = F.logistic_fwd_s8(p.quant, s.get(ins[0]))
            writes.append((op.outs[0], y, None))
            if op.outs[1] is not None:
                writes.append((op.outs[1], _mask(y, -128, 127), None))
        elif k == OpKind.SAVE:
            g = p.geom
            x = s.get(ins[0]).reshape(g.in_h * g.in_w, g.in_c)
            writes.append((op.outs[0], x[:, list(p.channels)], None))
        elif k == OpKind.FUSED_BLOCK:
            x = self.streamed[1].ravel() if self.streamed and ins[0] == self.streamed[0] else s.get(ins[0])
            e = x
            if p.pw1 is not None:
                e = _conv_forward(p.pw1, x, current_weights(p.pw1, None), p.pw1.bias)
            e = _conv_forward(p.dw, e, current_weights(p.dw, None), p.dw.bias)
            y = _conv_forward(p.pw2, e, current_weights(p.pw2, None), p.pw2.bias)
            if p.add is not None:
                a, b = (x, y.ravel()) if p.residual_input == 1 else (y.ravel(), x)
                y = F.add_fwd_s8(p.add.quant, a, b)
            writes.append((op.outs[0], y, None))
        elif k == OpKind.LOSS:
            pred, loss, g, e = LOSS.softmax_xent_s8(s.get(ins[0]), p.scale, p.zero_point, self.label)
            self.result = StepResult(pred, loss, pred == self.label)
            writes.append((op.outs[0], g, e))
        elif k == OpKind.MASK_BWD:
            r = B.mask_bwd_s16(s.get(ins[0]), grad(ins[1]))
            writes.append((op.outs[0], r.values, r.exp))
        elif k in (OpKind.CONV2D_BWD_INPUT, OpKind.PW_CONV2D_BWD_INPUT, OpKind.DW_CONV2D_BWD_INPUT, OpKind.FC_BWD_INPUT):
            r = _bwd_input(p, grad(ins[0]), current_weights(p, opt(ins[1])))
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.AVGPOOL_BWD_INPUT:
            dy = grad(ins[0])
            r = B.avgpool_bwd_input_s16(p.geom, Grad(dy.values.reshape(p.geom.out_shape), dy.exp))
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.MUL_BWD_A:
            b = s.get(ins[1]) if opt(ins[1]) is not None else np.int8(p.constant)
            r = B.mul_bwd_a_s16(p.quant, p.grad, b, grad(ins[0]).flat())
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.MUL_BWD_B:
            r = B.mul_bwd_b_s16(p.quant, p.grad, s.get(ins[1]), grad(ins[0]).flat(), p.b_numel)
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.LEAKY_RELU_BWD_INPUT:
            r = B.leaky_relu_bwd_input_s16(p.quant.input_zp, *p.alpha, s.get(ins[1]), grad(ins[0]).flat())
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.GRAD_CROP:
            r = B.crop_s16(p.in_shape, p.pads, grad(ins[0]))
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.GRAD_SLICE:
            r = B.slice_s16(p.outer, p.total, p.offset, p.inner, grad(ins[0]))
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.HARD_SWISH_BWD_INPUT:
            r = B.hard_swish_bwd_input_s16(p.grad, s.get(ins[1]), grad(ins[0]).flat())
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.LOGISTIC_BWD_INPUT:
            r = B.logistic_bwd_input_s16(p.quant, s.get(ins[1]), grad(ins[0]).flat())
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.MAXPOOL_BWD_INPUT:
            dy = grad(ins[0])
            x = s.get(ins[1]).reshape(p.geom.in_shape)
            r = B.maxpool_bwd_input_s16(p.geom, x, Grad(dy.values.reshape(p.geom.out_shape), dy.exp))
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.GRAD_ADD:
            r = B.add_bwd_input_s16(grad(ins[1]), grad(ins[0]))
            writes.append((op.outs[0], r.values, r.exp))
        elif k == OpKind.GRAD_COPY:
            r = grad(ins[0])
            writes.append((op.outs[0], r.values, r.exp))
        elif k in (OpKind.BIAS_GRAD, OpKind.BIAS_GRAD_UPDATE):
            db = B.bias_bwd_s16(grad(ins[0]), p.geom.out_c)
            if k == OpKind.BIAS_GRAD:
                writes.append((op.outs[0], db.values, db.exp))
            else:
                writes.append((op.outs[0], U.sgd_update_s32(self.sgd_of(p, True), p.qas_b, db.values, db.exp, self.rng,
                                                            s.get(ins[1])), None))
        elif k == OpKind.BIAS_UPDATE:
            writes.append((op.outs[0], U.sgd_update_s32(self.sgd_of(p, True), p.qas_b, s.get(ins[0]), s.exp(ins[0]),
                                                        self.rng, s.get(ins[1])), None))
        elif k in (OpKind.WEIGHT_GRAD, OpKind.WEIGHT_GRAD_UPDATE):
            dw = _weight_grad(p, s.get(ins[1]), bool(op.flags & OpFlag.COMPACT_INPUT), grad(ins[0]))
            if k == OpKind.WEIGHT_GRAD:
                writes.append((op.outs[0], dw.values, dw.exp))
            else:
                writes.append((op.outs[0], _weight_update(p, self.sgd_of(p, False), self.rng, dw, s.get(ins[2])), None))
        elif k == OpKind.WEIGHT_UPDATE:
            writes.append((op.outs[0], _weight_update(p, self.sgd_of(p, False), self.rng, grad(ins[0]), s.get(ins[1])),
                           None))
        else:  # pragma: no cover - every kind is listed
            raise ValueError(f"no semantics for {k!r}")
        for key, values, e in writes:
            s.put(key, values)
            if e is not None:
                s.set_exp(key, e)
        if op.scratch is not None:
            s.scribble(op.scratch, index + 1_000_003)
        if self.trace is not None:
            self.trace.append((index, [(key, np.asarray(v).copy(), e) for key, v, e in writes]))


# -- decoding a plan blob ----------------------------------------------------------------------


def _arrays_from(blob: bytes, pos: int, counts) -> dict[str, np.ndarray]:
    out = {}
    for name, n, size in counts:
        dt = "<i2" if size == 2 else "<i4"
        out[name] = np.frombuffer(blob, dt, n, pos).astype(np.int16 if size == 2 else np.int32)
        pos += P.align(n * size)
    return out


def _geom(g) -> ConvGeom:
    return ConvGeom(*(int(g[sub.name]) for sub in P.Geometry.subcons))


@dataclass
class Decoded:
    """A plan blob decoded into executable ops (buffer ids as keys) and parameters."""

    header: object
    buffers: list
    lowered: Lowered
    labels: list[str]

    @property
    def sgd(self) -> U.Sgd:
        h = self.header
        return U.Sgd(h.lr_multiplier, h.lr_shift, h.momentum_q15)

    @property
    def head_sgd(self) -> U.Sgd:
        h = self.header
        return U.Sgd(h.head_lr_multiplier, h.head_lr_shift, h.momentum_q15)


def decode(plan: bytes, weights: bytes) -> Decoded:
    """Validate both blobs (as the device does) and decode them for :class:`Machine`."""
    v = P.validate(plan, weights)
    h = v.header
    pool_at = h.param_pool_offset
    params: dict = {}

    def layer(off: int) -> LayerParams:
        base = pool_at + off
        b = P.LayerBlock.parse(plan[base:])
        kind = P.LayerKind(b.header.kind)
        geom = _geom(b.geom)
        counts = P.layer_array_counts(kind, geom.out_c, b.n_channels, b.flags)
        a = _arrays_from(plan, base + P.LAYER_FIXED_BYTES, counts)
        quant = ConvQuant(b.input_zp, b.output_zp, a["multiplier"], a["shift"], b.act_min, b.act_max)
        gq = None
        if b.flags & P.LayerFlag.GRAD_QUANT:
            gq = GradQuant(a["grad_multiplier"], a["grad_shift"], b.grad_scale_multiplier, b.grad_scale_shift)
        qas_w = U.Qas(a["qas_w_multiplier"], a["qas_w_shift"]) if b.n_channels else None
        qas_b = U.Qas(a["qas_b_multiplier"], a["qas_b_shift"]) if b.flags & P.LayerFlag.BIAS_TRAINED else None
        w = np.frombuffer(weights, np.int8, b.weights_bytes, b.weights_offset).copy()
        bias = np.frombuffer(weights, "<i4", geom.out_c, b.bias_offset).astype(np.int32)
        lp = LayerParams(kind, geom, quant, w, bias, b.input_scale, b.output_scale,
                         tuple(int(c) for c in a["channels"]), bool(b.flags & P.LayerFlag.BIAS_TRAINED), gq, qas_w, qas_b,
                         bool(b.flags & P.LayerFlag.HEAD), b.weight_step_max, b.bias_step_max)
        return LayerParams(**{**lp.__dict__, "weights": w.reshape(_weights_shape(lp))})

    def add(off: int) -> AddParams:
        b = P.AddBlock.parse(plan[pool_at + off:])
        names = [sub.name for sub in P.AddBlock.subcons if sub.name not in ("header", "numel")]
        return AddParams(AddQuant(*(int(b[n]) for n in names)), b.numel)

    def block(kind: P.ParamType, off: int):
        key = (int(kind), off)
        if key in params:
            return key
        if kind == P.ParamType.LAYER:
            params[key] = layer(off)
        elif kind == P.ParamType.ADD:
            params[key] = add(off)
        elif kind == P.ParamType.MUL:
            b = P.MulBlock.parse(plan[pool_at + off:])
            quant = MulQuant(b.input1_zp, b.input2_zp, b.output_zp, b.multiplier, b.shift, b.act_min, b.act_max)
            grad = MulGrad(b.a_multiplier, b.a_shift, b.b_multiplier, b.b_shift)
            params[key] = MulParams(quant, grad, b.numel, b.b_numel, b.constant)
        elif kind == P.ParamType.CONCAT:
            b = P.ConcatBlock.parse(plan[pool_at + off:])
            inners = tuple(b.inners[:b.n_inputs])
            params[key] = ConcatParams(ConcatGeom(b.outer, inners, (b.outer * sum(inners),)))
        elif kind == P.ParamType.PAD:
            b = P.PadBlock.parse(plan[pool_at + off:])
            params[key] = PadParams((b.in_h, b.in_w, b.c), (b.top, b.left, b.bottom, b.right), b.fill)
        elif kind == P.ParamType.SLICE:
            b = P.SliceBlock.parse(plan[pool_at + off:])
            params[key] = SliceParams(b.outer, b.total, b.offset, b.inner)
        elif kind == P.ParamType.REQUANTIZE:
            b = P.RequantizeBlock.parse(plan[pool_at + off:])
            quant = RequantizeQuant(b.input_zp, b.output_zp, b.multiplier, b.shift, b.negative_multiplier,
                                    b.negative_shift, b.act_min, b.act_max)
            params[key] = RequantizeParams(quant, b.numel, (b.alpha_multiplier, b.alpha_shift))
        elif kind == P.ParamType.HARD_SWISH:
            b = P.HardSwishBlock.parse(plan[pool_at + off:])
            quant = HardSwishQuant(b.input_zp, b.output_zp, b.output_multiplier, b.output_exponent,
                                   b.reluish_multiplier, b.reluish_exponent)
            params[key] = HardSwishParams(quant, HardSwishGrad(b.input_zp, b.grad_multiplier, b.grad_shift, b.grad_lo,
                                                               b.grad_hi), b.numel)
        elif kind == P.ParamType.LOGISTIC:
            b = P.LogisticBlock.parse(plan[pool_at + off:])
            params[key] = LogisticParams(LogisticQuant(b.input_zp, b.range_radius, b.multiplier, b.left_shift), b.numel)
        elif kind == P.ParamType.POOL:
            b = P.PoolBlock.parse(plan[pool_at + off:])
            quant = (MeanQuant(b.input_zp, b.output_zp, b.multiplier, b.shift, b.act_min, b.act_max)
                     if b.header.kind == P.PoolKind.MEAN else PoolQuant(b.act_min, b.act_max))
            params[key] = PoolParams(_geom(b.geom), quant, P.PoolKind(b.header.kind))
        elif kind == P.ParamType.LOSS:
            b = P.LossBlock.parse(plan[pool_at + off:])
            params[key] = LossParams(b.n_classes, b.scale, b.zero_point)
        else:
            b = P.FusedBlock.parse(plan[pool_at + off:])
            ref = lambda t, o: None if o == P.NONE32 else params[block(t, o)]
            params[key] = FusedParams(ref(P.ParamType.LAYER, b.pw1), ref(P.ParamType.LAYER, b.dw),
                                      ref(P.ParamType.LAYER, b.pw2), ref(P.ParamType.ADD, b.add), b.residual_input)
        return key

    ops = []
    for op in v.ops:
        kind = OpKind(op.kind)
        sig = P.SIGNATURES[kind]
        ins = tuple(None if x == P.NONE16 else int(x) for x in op.ins[:len(sig.ins)])
        outs = tuple(None if x == P.NONE16 else int(x) for x in op.outs[:len(sig.outs)])
        key = None if sig.params is None else block(sig.params, op.params)
        ops.append(LoweredOp(kind, Phase(op.phase), None if op.layer == P.NONE16 else op.layer, ins, outs, key,
                             None if op.scratch == P.NONE16 else op.scratch, op.flags))
    return Decoded(h, v.buffers, Lowered(ops, params), v.labels)


def planned(plan: bytes, weights: bytes, trace: list | None = None) -> Machine:
    """A loaded executor of the blobs, on one arena (call ``step`` per sample)."""
    d = decode(plan, weights)
    h = d.header
    store = ArenaStore(h.arena_bytes, d.buffers, h.exp_table_offset, h.n_exp_slots)
    m = Machine(d.lowered.ops, d.lowered.params, store, d.sgd, h.seed, d.head_sgd, h.diverge_after, trace=trace)
    m.load()
    return m


def unplanned(compiled, train: TrainParams | None = None, trace: list | None = None) -> Machine:
    """A loaded executor of a compiled plan's ops on separate arrays (no arena, no blob)."""
    from tt_host.compiler.lowering import lower

    train = train or TrainParams()
    lowered = lower(compiled.schedule, train)
    dtypes: dict[str, np.dtype] = {}
    from tt_host.compiler.blob import _dtype

    for p in compiled.plan.placed:
        dtypes[p.interval.name] = np.dtype(_NP[_dtype(p.interval.name, p.interval.kind)])
    m = Machine(lowered.ops, lowered.params, DictStore(dtypes), train.sgd, train.seed, train.head_sgd, train.diverge_after,
                trace=trace)
    m.load()
    return m
