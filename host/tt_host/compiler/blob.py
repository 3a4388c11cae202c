"""Write a compiled plan as the plan blob and the weight blob of ``tt_protocol.plan``.

Buffer ids: gradient buffers first (they own the exponent slots), then every other buffer,
each group in the order the schedule created them, scratch buffers last; the arena offsets
are the memory plan's. The exponent table sits right above the planned buffers. Parameter
blocks are written in op order, one per layer (every op of a layer shares its block).
Nothing depends on dict order of unsorted sources, time or floating-point formatting, so the
same model, scheme and options always give the same bytes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from tt_protocol import plan as P

from tt_host.compiler.errors import CompileError
from tt_host.compiler.lowering import (
    AddParams,
    ConcatParams,
    FusedParams,
    HardSwishParams,
    LogisticParams,
    LayerParams,
    LossParams,
    Lowered,
    MulParams,
    PadParams,
    PoolParams,
    RequantizeParams,
    SliceParams,
    TrainParams,
    lower,
)
from tt_host.compiler.memory import ALIGN as PLAN_ALIGN
from tt_host.compiler.memory import Plan, arena_layout
from tt_host.compiler.schedule import Schedule
from tt_host.reference.params import MeanQuant

_DTYPE = {"input": P.DType.INT8, "activation": P.DType.INT8, "accumulator": P.DType.INT32, "saved": P.DType.INT8,
          "mask": P.DType.MASK, "grad": P.DType.INT16, "param_grad": P.DType.INT32, "scratch": P.DType.BYTES}
_KIND = {"input": P.BufferKind.INPUT, "activation": P.BufferKind.ACTIVATION, "accumulator": P.BufferKind.ACCUMULATOR,
         "saved": P.BufferKind.SAVED, "mask": P.BufferKind.MASK, "grad": P.BufferKind.GRAD,
         "param_grad": P.BufferKind.PARAM_GRAD, "param": P.BufferKind.PARAM, "scratch": P.BufferKind.SCRATCH}


@dataclass(frozen=True)
class Blobs:
    """The two blobs and the ids they gave to the schedule's buffers."""

    plan: bytes
    weights: bytes
    buffer_ids: dict[str, int]
    plan_hash: bytes


def _dtype(name: str, kind: str) -> P.DType:
    if kind == "param":
        return P.DType.INT8 if name.startswith("w:") else P.DType.INT32
    return _DTYPE[kind]


def _ordered_buffers(plan: Plan) -> list:
    placed = list(plan.placed)
    order = {p.interval.name: i for i, p in enumerate(sorted(placed, key=lambda p: (p.interval.first, p.interval.name)))}
    grads = [p for p in placed if p.interval.kind in ("grad", "param_grad")]
    others = [p for p in placed if p.interval.kind not in ("grad", "param_grad")]
    key = lambda p: (p.interval.kind == "scratch", order[p.interval.name])
    return sorted(grads, key=key) + sorted(others, key=key)


def _i32(values) -> bytes:
    a = np.asarray(values, "<i4").ravel()
    return a.tobytes()


def _i16(values) -> bytes:
    raw = np.asarray(values, "<i2").ravel().tobytes()
    return raw + bytes(P.align(len(raw)) - len(raw))


def _geom(g) -> dict:
    return {sub.name: int(getattr(g, sub.name)) for sub in P.Geometry.subcons}


class _WeightBlob:
    """Tensors appended in layer order; records where each one went."""

    def __init__(self, model_hash: bytes) -> None:
        self.model_hash = model_hash
        self.records: list[dict] = []
        self.data = bytearray()
        self.where: dict[tuple[int, str], tuple[int, int]] = {}

    def add(self, layer: int, kind: P.TensorKind, tensor: int, array: np.ndarray, replaced: bool) -> None:
        raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        shape = list(array.shape) + [0] * (4 - array.ndim)
        self.records.append(dict(tflite_tensor=tensor if tensor >= 0 else P.NONE32, layer=layer, kind=kind,
                                 replaced=int(replaced), offset=len(self.data), bytes=len(raw), shape=shape))
        self.where[(layer, kind.name)] = (len(self.data), len(raw))
        self.data += raw + bytes(P.align(len(raw)) - len(raw))

    def build(self) -> bytes:
        n = len(self.records)
        table = P.WEIGHTS_HEADER_BYTES
        data = table + n * P.TensorRecord.sizeof()
        self.where = {k: (data + off, size) for k, (off, size) in self.where.items()}
        out = bytearray(P.WeightsHeader.build(dict(version=P.FORMAT_VERSION, header_bytes=P.WEIGHTS_HEADER_BYTES,
                                                   total_bytes=0, crc32=0, model_hash=self.model_hash, n_tensors=n,
                                                   table_offset=table, data_offset=data)))
        for r in self.records:
            out += P.TensorRecord.build({**r, "offset": r["offset"] + data})
        out += self.data
        return bytes(P.seal(out))


def weight_blob(schedule: Schedule) -> tuple[bytes, dict[tuple[int, str], tuple[int, int]]]:
    """Every layer's factory int8 weights and int32 biases; returns the blob and, per
    ``(layer, "WEIGHTS"|"BIAS")``, the ``(offset, bytes)`` of its data in the blob."""
    g = schedule.graph
    wb = _WeightBlob(g.model_hash)
    for layer in g.layers:
        if not layer.has_params:
            continue
        replaced = layer.is_classifier and g.head_replaced
        bias = layer.step.bias if layer.step.bias is not None else np.zeros(layer.out_channels, np.int32)
        wb.add(layer.index, P.TensorKind.WEIGHTS, layer.weight_tensor, np.asarray(layer.step.weights, np.int8), replaced)
        wb.add(layer.index, P.TensorKind.BIAS, layer.bias_tensor, np.asarray(bias, np.int32), replaced)
        if replaced:
            wb.add(layer.index, P.TensorKind.WEIGHT_SCALES, layer.weight_tensor,
                   np.asarray(layer.weight_scales, np.float32), replaced)
    blob = wb.build()
    return blob, wb.where


def _layer_block(layer: int, p: LayerParams, where) -> bytes:
    flags = ((P.LayerFlag.BIAS_TRAINED if p.bias_trained else 0) | (P.LayerFlag.GRAD_QUANT if p.grad_quant else 0)
             | (P.LayerFlag.HEAD if p.head else 0))
    n = len(p.channels)
    size = P.layer_block_bytes(p.kind, p.geom.out_c, n, flags)
    w_off, w_bytes = where[(layer, "WEIGHTS")]
    b_off, b_bytes = where[(layer, "BIAS")]
    gq = p.grad_quant
    head = P.LayerBlock.build(dict(
        header=dict(type=P.ParamType.LAYER, kind=p.kind, bytes=size), geom=_geom(p.geom),
        input_zp=p.quant.input_zp, output_zp=p.quant.output_zp, act_min=p.quant.act_min, act_max=p.quant.act_max,
        input_scale=p.input_scale, output_scale=p.output_scale, weights_offset=w_off, weights_bytes=w_bytes,
        bias_offset=b_off, bias_bytes=b_bytes, grad_scale_multiplier=gq.scale_multiplier if gq else 0,
        grad_scale_shift=gq.scale_shift if gq else 0, n_channels=n, flags=int(flags),
        weight_step_max=p.weight_step_max_q16, bias_step_max=p.bias_step_max))
    arrays = [_i32(p.quant.multiplier), _i32(p.quant.shift)]
    if gq:
        arrays += [_i32(gq.multiplier), _i32(gq.shift)]
    if n:
        arrays += [_i32(p.qas_w.multiplier), _i32(p.qas_w.shift)]
    if p.bias_trained:
        arrays += [_i32(p.qas_b.multiplier), _i32(p.qas_b.shift)]
    arrays.append(_i16(p.channels))
    out = head + b"".join(arrays)
    assert len(out) == size, (len(out), size)
    return out


def _add_block(p: AddParams) -> bytes:
    q = p.quant
    fields = {sub.name: int(getattr(q, sub.name)) for sub in P.AddBlock.subcons if sub.name not in ("header", "numel")}
    return P.AddBlock.build(dict(header=dict(type=P.ParamType.ADD, kind=0, bytes=P.AddBlock.sizeof()), numel=p.numel,
                                 **fields))


def _pool_block(p: PoolParams) -> bytes:
    q = p.quant
    requant = dict(input_zp=0, output_zp=0, multiplier=0, shift=0)
    if isinstance(q, MeanQuant):
        requant = dict(input_zp=q.input_zp, output_zp=q.output_zp, multiplier=q.multiplier, shift=q.shift)
    return P.PoolBlock.build(dict(header=dict(type=P.ParamType.POOL, kind=p.kind, bytes=P.PoolBlock.sizeof()),
                                  geom=_geom(p.geom), act_min=q.act_min, act_max=q.act_max, **requant))


def _mul_block(p: MulParams) -> bytes:
    fields = {**asdict(p.quant), **asdict(p.grad)}
    return P.MulBlock.build(dict(header=dict(type=P.ParamType.MUL, kind=0, bytes=P.MulBlock.sizeof()), numel=p.numel,
                                 b_numel=p.b_numel, constant=p.constant or 0, **fields))


def _logistic_block(p: LogisticParams) -> bytes:
    return P.LogisticBlock.build(dict(header=dict(type=P.ParamType.LOGISTIC, kind=0, bytes=P.LogisticBlock.sizeof()),
                                      numel=p.numel, **asdict(p.quant)))


def _hard_swish_block(p: HardSwishParams) -> bytes:
    q, g = p.quant, p.grad
    return P.HardSwishBlock.build(dict(
        header=dict(type=P.ParamType.HARD_SWISH, kind=0, bytes=P.HardSwishBlock.sizeof()), numel=p.numel,
        input_zp=q.input_zp, output_zp=q.output_zp, output_multiplier=q.output_multiplier,
        output_exponent=q.output_exponent, reluish_multiplier=q.reluish_multiplier,
        reluish_exponent=q.reluish_exponent, grad_multiplier=g.multiplier, grad_shift=g.shift, grad_lo=g.lo,
        grad_hi=g.hi))


def _loss_block(p: LossParams) -> bytes:
    return P.LossBlock.build(dict(header=dict(type=P.ParamType.LOSS, kind=0, bytes=P.LossBlock.sizeof()),
                                  n_classes=p.n_classes, scale=p.scale, zero_point=p.zero_point))


def serialize(schedule: Schedule, plan: Plan, train: TrainParams | None = None, scheme_name: str | None = None,
              trainable_params: int = 0, lowered: Lowered | None = None) -> Blobs:
    """The plan blob and the weight blob of a scheduled, planned training step."""
    train = train or TrainParams()
    g = schedule.graph
    lowered = lowered or lower(schedule, train)
    weights, where = weight_blob(schedule)
    layout = arena_layout(plan)
    if PLAN_ALIGN % P.ALIGN:
        raise CompileError("the planner's alignment must be a multiple of the blob's")

    # Buffers.
    placed = _ordered_buffers(plan)
    ids = {p.interval.name: i for i, p in enumerate(placed)}
    if len(placed) > P.MAX_BUFFERS:
        raise CompileError(f"{len(placed)} buffers, the plan format allows {P.MAX_BUFFERS}")
    buffers = b""
    for p in placed:
        iv = p.interval
        buf = schedule.buffers.get(iv.name)
        layer = buf.layer if buf is not None and buf.layer is not None else P.NONE16
        dtype = _dtype(iv.name, iv.kind)
        size = iv.size
        buffers += P.BufferRecord.build(dict(offset=p.offset, size=size, dtype=dtype, kind=_KIND[iv.kind], layer=layer))

    # Parameter pool, in op order.
    pool = bytearray()
    offsets: dict[tuple, int] = {}

    def block(key: tuple) -> int:
        if key in offsets:
            return offsets[key]
        obj = lowered.params[key]
        if isinstance(obj, FusedParams):
            refs = [block(("layer", _layer_of(lowered, obj.pw1))) if obj.pw1 else P.NONE32,
                    block(("layer", _layer_of(lowered, obj.dw))), block(("layer", _layer_of(lowered, obj.pw2))),
                    block(("add", _add_of(lowered, obj.add))) if obj.add else P.NONE32]
            raw = P.FusedBlock.build(dict(header=dict(type=P.ParamType.FUSED, kind=0, bytes=P.FusedBlock.sizeof()),
                                          pw1=refs[0], dw=refs[1], pw2=refs[2], add=refs[3],
                                          residual_input=obj.residual_input))
        elif isinstance(obj, LayerParams):
            raw = _layer_block(key[1], obj, where)
        elif isinstance(obj, AddParams):
            raw = _add_block(obj)
        elif isinstance(obj, PoolParams):
            raw = _pool_block(obj)
        elif isinstance(obj, MulParams):
            raw = _mul_block(obj)
        elif isinstance(obj, HardSwishParams):
            raw = _hard_swish_block(obj)
        elif isinstance(obj, LogisticParams):
            raw = _logistic_block(obj)
        elif isinstance(obj, ConcatParams):
            g = obj.geom
            raw = P.ConcatBlock.build(dict(header=dict(type=P.ParamType.CONCAT, kind=0, bytes=P.ConcatBlock.sizeof()),
                                           outer=g.outer, n_inputs=len(g.inners),
                                           inners=[*g.inners, *[0] * (4 - len(g.inners))]))
        elif isinstance(obj, PadParams):
            (h, w, c), (t, l, b, r) = obj.in_shape, obj.pads
            raw = P.PadBlock.build(dict(header=dict(type=P.ParamType.PAD, kind=0, bytes=P.PadBlock.sizeof()),
                                        in_h=h, in_w=w, c=c, top=t, left=l, bottom=b, right=r, fill=obj.fill))
        elif isinstance(obj, SliceParams):
            raw = P.SliceBlock.build(dict(header=dict(type=P.ParamType.SLICE, kind=0, bytes=P.SliceBlock.sizeof()),
                                          **asdict(obj)))
        elif isinstance(obj, RequantizeParams):
            raw = P.RequantizeBlock.build(dict(header=dict(type=P.ParamType.REQUANTIZE, kind=0,
                                                           bytes=P.RequantizeBlock.sizeof()),
                                               numel=obj.numel, **asdict(obj.quant), alpha_multiplier=obj.alpha[0],
                                               alpha_shift=obj.alpha[1]))
        else:
            raw = _loss_block(obj)
        offsets[key] = len(pool)
        pool.extend(raw)
        return offsets[key]

    n = lambda name: P.NONE16 if name is None else ids[name]
    ops = b""
    for op in lowered.ops:
        sig = P.SIGNATURES[op.kind]
        ins = [n(x) for x in op.ins] + [P.NONE16] * (4 - len(op.ins))
        outs = [n(x) for x in op.outs] + [P.NONE16] * (3 - len(op.outs))
        assert len(op.ins) == len(sig.ins) and len(op.outs) == len(sig.outs), op
        ops += P.OpRecord.build(dict(kind=op.kind, phase=op.phase, flags=int(op.flags),
                                     layer=P.NONE16 if op.layer is None else op.layer,
                                     scratch=n(op.scratch), ins=ins, outs=outs,
                                     params=P.NONE32 if op.params is None else block(op.params)))
    if len(lowered.ops) > P.MAX_OPS:
        raise CompileError(f"{len(lowered.ops)} ops, the plan format allows {P.MAX_OPS}")

    labels = P.build_labels(list(g.labels)) if g.labels else b""
    image = g.tensors[g.input]
    h, w, c = image.shape if len(image.shape) == 3 else (1, 1, image.numel)
    logits = g.tensors[g.logits]
    sgd, head_sgd = train.sgd, train.head_sgd
    header_fields = dict(
        version=P.FORMAT_VERSION, header_bytes=P.PLAN_HEADER_BYTES, total_bytes=0, crc32=0, model_hash=g.model_hash,
        plan_hash=bytes(32), weights_bytes=len(weights), weights_crc32=int.from_bytes(weights[12:16], "little"),
        arena_bytes=layout.arena_bytes, exp_table_offset=layout.exp_table_offset, n_exp_slots=layout.n_exp_slots,
        n_buffers=len(placed), n_ops=len(lowered.ops), n_classes=logits.numel, n_labels=len(g.labels),
        input_buffer=ids[f"act:{g.input}"], input_h=h, input_w=w, input_c=c, logits_buffer=_logits_id(lowered, ids),
        input_scale=image.scale, input_zp=image.zero_point, seed=train.seed, lr_multiplier=sgd.lr_multiplier,
        lr_shift=sgd.lr_shift, momentum_q15=sgd.momentum_q15, lr=train.lr, trainable_params=trainable_params,
        scheme_name=P.name_bytes(scheme_name or schedule.scheme.name), head_lr_multiplier=head_sgd.lr_multiplier,
        head_lr_shift=head_sgd.lr_shift, head_lr=train.head_rate, diverge_after=train.diverge_after)
    sections = [buffers, ops, bytes(pool), labels]
    offs = []
    pos = P.PLAN_HEADER_BYTES
    for s in sections:
        offs.append(pos)
        pos += P.align(len(s))
    header_fields.update(buffer_table_offset=offs[0], op_table_offset=offs[1], param_pool_offset=offs[2],
                         param_pool_bytes=len(pool), label_table_offset=offs[3], label_bytes=len(labels))
    blob = bytearray(P.PlanHeader.build(header_fields))
    for s in sections:
        blob += s + bytes(P.align(len(s)) - len(s))
    P.seal(blob)
    digest = P.plan_hash(bytes(blob), weights)
    blob[16 + 32:16 + 64] = digest
    P.seal(blob)
    return Blobs(bytes(blob), weights, ids, digest)


def _logits_id(lowered: Lowered, ids: dict[str, int]) -> int:
    loss = next(op for op in lowered.ops if op.kind == P.OpKind.LOSS)
    return ids[loss.ins[0]]


def _layer_of(lowered: Lowered, obj) -> int:
    return next(k[1] for k, v in lowered.params.items() if k[0] == "layer" and v is obj)


def _add_of(lowered: Lowered, obj) -> int:
    return next(k[1] for k, v in lowered.params.items() if k[0] == "add" and v is obj)


def package(plan: bytes, weights: bytes) -> bytes:
    """The bytes the device loads (``tt_executor_load``): the plan blob immediately followed by
    its weight blob. The plan's ``total_bytes`` (a multiple of 4) says where the weight blob
    starts, so the weight blob stays 4-byte aligned in flash."""
    if len(plan) % P.ALIGN or int.from_bytes(plan[8:12], "little") != len(plan):
        raise CompileError("a package needs a sealed plan blob whose length is a multiple of 4")
    return bytes(plan) + bytes(weights)
