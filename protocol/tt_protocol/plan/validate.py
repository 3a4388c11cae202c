"""The loader's checks of a plan and its weight blob, exactly as the firmware performs them and in
the same order (``firmware/src/plan_check.c``; the parameter blocks in :mod:`.blocks`): :func:`validate` raises :class:`PlanInvalid`
with the :class:`Check` the device would report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


from ..frame import crc32
from .blocks import (
    _Pool,
    _in_numel,
    _out_numel,
    _region,
    _u32,
    slice_count,
)
from .format import (
    BWD_INPUT_OF,
    BufferKind,
    BufferRecord,
    CRC_START,
    Check,
    DType,
    FORMAT_VERSION,
    FORWARD_OF,
    LayerFlag,
    LayerKind,
    PoolKind,
    MAX_BUFFERS,
    MAX_CLASSES,
    MAX_OPS,
    MAX_TENSORS,
    NONE16,
    NONE32,
    OpFlag,
    OpKind,
    OpRecord,
    PLAN_HEADER_BYTES,
    PLAN_MAGIC,
    Phase,
    PlanHeader,
    PlanInvalid,
    RECOMPUTABLE,
    SIGNATURES,
    Signature,
    TensorRecord,
    WEIGHTS_HEADER_BYTES,
    WEIGHTS_MAGIC,
    WeightsHeader,
    parse_labels,
)


# -- validation -------------------------------------------------------------------------------


def _check_header(blob: bytes, magic: bytes, header_bytes: int, what: str) -> None:
    if len(blob) < header_bytes:
        raise PlanInvalid(Check.TRUNCATED, f"{what} of {len(blob)} bytes is shorter than its {header_bytes}-byte header")
    if blob[:4] != magic:
        raise PlanInvalid(Check.BAD_MAGIC, f"{what} does not start with {magic!r}")
    version = int.from_bytes(blob[4:6], "little")
    if version != FORMAT_VERSION:
        raise PlanInvalid(Check.BAD_VERSION, f"{what} has format version {version}, this loader reads {FORMAT_VERSION}")
    if int.from_bytes(blob[6:8], "little") != header_bytes or _u32(blob, 8) != len(blob):
        raise PlanInvalid(Check.BAD_LENGTH, f"{what}: header says {_u32(blob, 8)} bytes in all, received {len(blob)}")
    if crc32(bytes(blob[CRC_START:])) != _u32(blob, 12):
        raise PlanInvalid(Check.BAD_CRC, f"{what}: CRC-32 mismatch")


def validate_weights(weights: bytes) -> Any:
    """The weight blob's own checks (also run by :func:`validate` when it is given)."""
    _check_header(weights, WEIGHTS_MAGIC, WEIGHTS_HEADER_BYTES, "weight blob")
    h = WeightsHeader.parse(weights)
    if h.n_tensors > MAX_TENSORS:
        raise PlanInvalid(Check.BAD_COUNT, f"{h.n_tensors} tensors, at most {MAX_TENSORS}")
    _region(Check.BAD_TABLE, "tensor table", h.table_offset, h.n_tensors * TensorRecord.sizeof(), len(weights),
            WEIGHTS_HEADER_BYTES)
    for i in range(h.n_tensors):
        r = TensorRecord.parse(weights[h.table_offset + i * TensorRecord.sizeof():])
        _region(Check.BAD_TABLE, f"tensor {i}", r.offset, r.bytes, len(weights), h.data_offset)
    return h


@dataclass(frozen=True)
class Validated:
    """What :func:`validate` parsed, for callers that go on to use the blob."""

    header: Any
    buffers: list
    ops: list
    labels: list[str]


#: The pool block kinds each pooling op runs on.
POOL_KIND_OF = {
    OpKind.AVGPOOL: (PoolKind.AVERAGE,), OpKind.MEAN: (PoolKind.MEAN,), OpKind.MAXPOOL: (PoolKind.MAX,),
    OpKind.AVGPOOL_BWD_INPUT: (PoolKind.AVERAGE, PoolKind.MEAN), OpKind.MAXPOOL_BWD_INPUT: (PoolKind.MAX,),
}


def _sizes(kind: OpKind, p, flags: int) -> dict[str, int]:
    """Expected byte size of each slot of an op, from its parameter block."""
    if kind in (OpKind.CONV2D, OpKind.PW_CONV2D, OpKind.DW_CONV2D, OpKind.FC, OpKind.LOAD_WEIGHTS, OpKind.LOAD_BIAS,
                OpKind.SAVE, OpKind.BIAS_GRAD, OpKind.BIAS_UPDATE, OpKind.WEIGHT_GRAD, OpKind.WEIGHT_UPDATE,
                OpKind.BIAS_GRAD_UPDATE, OpKind.WEIGHT_GRAD_UPDATE) or kind in BWD_INPUT_OF.values():
        g, n, lk = p.geom, p.n_channels, p.header.kind
        want_kind = {v: k for k, v in FORWARD_OF.items()}.get(kind) or {v: k for k, v in BWD_INPUT_OF.items()}.get(kind)
        if want_kind is not None and lk != want_kind:
            raise PlanInvalid(Check.BAD_PARAMS, f"{kind.name} with a {LayerKind(lk).name} block")
        if kind in BWD_INPUT_OF.values() and not p.flags & LayerFlag.GRAD_QUANT:
            raise PlanInvalid(Check.BAD_PARAMS, f"{kind.name} on a layer without gradient quantization")
        if kind in (OpKind.LOAD_BIAS, OpKind.BIAS_GRAD, OpKind.BIAS_UPDATE, OpKind.BIAS_GRAD_UPDATE) and not (
                p.flags & LayerFlag.BIAS_TRAINED):
            raise PlanInvalid(Check.BAD_PARAMS, f"{kind.name} on a layer whose bias does not train")
        if kind in (OpKind.LOAD_WEIGHTS, OpKind.SAVE, OpKind.WEIGHT_GRAD, OpKind.WEIGHT_UPDATE,
                    OpKind.WEIGHT_GRAD_UPDATE) and n == 0:
            raise PlanInvalid(Check.BAD_PARAMS, f"{kind.name} on a layer whose weights do not train")
        if kind == OpKind.SAVE and n >= g.in_c:
            raise PlanInvalid(Check.BAD_PARAMS, "SAVE of every channel (the activation itself is kept)")
        x = g.in_h * g.in_w * (n if flags & OpFlag.COMPACT_INPUT else g.in_c)
        return dict(x=x, saved=g.in_h * g.in_w * n, w=slice_count(lk, g, n), b=4 * g.out_c, y=_out_numel(g),
                    mask=-(-_out_numel(g) // 8), dy=2 * _out_numel(g), dx=2 * _in_numel(g), db=4 * g.out_c,
                    dw=4 * slice_count(lk, g, n))
    if kind in POOL_KIND_OF:
        if p.header.kind not in POOL_KIND_OF[kind]:
            raise PlanInvalid(Check.BAD_PARAMS, f"{kind.name} with a {PoolKind(p.header.kind).name} pool block")
        g = p.geom
        return dict(x=_in_numel(g), y=_out_numel(g), mask=-(-_out_numel(g) // 8), dy=2 * _out_numel(g), dx=2 * _in_numel(g))
    if kind == OpKind.ADD:
        return dict(a=p.numel, b=p.numel, y=p.numel, mask=-(-p.numel // 8))
    if kind in (OpKind.MUL, OpKind.MUL_BWD_A, OpKind.MUL_BWD_B):
        return dict(a=p.numel, b=p.b_numel, y=p.numel, mask=-(-p.numel // 8), dy=2 * p.numel, da=2 * p.numel,
                    db=2 * p.b_numel)
    if kind == OpKind.CONCAT:
        return dict(zip("abcd", (p.outer * v for v in p.inners)), y=p.outer * sum(p.inners))
    if kind in (OpKind.PAD, OpKind.GRAD_CROP):
        x = p.in_h * p.in_w * p.c
        y = (p.in_h + p.top + p.bottom) * (p.in_w + p.left + p.right) * p.c
        return dict(x=x, y=y, dy=2 * y, dx=2 * x)
    if kind == OpKind.GRAD_SLICE:
        return dict(dy=2 * p.outer * p.total, dx=2 * p.outer * p.inner)
    if kind in (OpKind.HARD_SWISH, OpKind.HARD_SWISH_BWD_INPUT, OpKind.REQUANTIZE, OpKind.LEAKY_RELU_BWD_INPUT,
                OpKind.LOGISTIC, OpKind.LOGISTIC_BWD_INPUT):
        return dict(x=p.numel, y=p.numel, mask=-(-p.numel // 8), dy=2 * p.numel, dx=2 * p.numel)
    if kind == OpKind.LOSS:
        return dict(logits=p.n_classes, grad=2 * p.n_classes)
    if kind == OpKind.FUSED_BLOCK:
        first = p["pw1"] or p["dw"]
        return dict(x=_in_numel(first.geom), y=_out_numel(p["pw2"].geom))
    return {}


def validate(plan: bytes, weights: bytes | None = None, arena_limit: int | None = None) -> Validated:
    """Run the firmware loader's checks on a plan blob (and its weight blob, when given).

    ``arena_limit`` is the device's arena size. Raises :class:`PlanInvalid`; returns the
    parsed header, tables and labels. Scratch sizes are the one check left to the C loader,
    which asks each kernel's ``..._scratch_size()``.
    """
    plan = bytes(plan)
    _check_header(plan, PLAN_MAGIC, PLAN_HEADER_BYTES, "plan")
    h = PlanHeader.parse(plan)
    if (h.n_buffers > MAX_BUFFERS or h.n_ops > MAX_OPS or not 1 <= h.n_classes <= MAX_CLASSES
            or h.n_labels not in (0, h.n_classes) or h.n_exp_slots > h.n_buffers):
        raise PlanInvalid(Check.BAD_COUNT, f"{h.n_buffers} buffers, {h.n_ops} ops, {h.n_classes} classes, "
                          f"{h.n_labels} labels, {h.n_exp_slots} exponent slots")
    total = len(plan)
    _region(Check.BAD_TABLE, "buffer table", h.buffer_table_offset, h.n_buffers * BufferRecord.sizeof(), total, PLAN_HEADER_BYTES)
    _region(Check.BAD_TABLE, "op table", h.op_table_offset, h.n_ops * OpRecord.sizeof(), total, PLAN_HEADER_BYTES)
    _region(Check.BAD_TABLE, "parameter pool", h.param_pool_offset, h.param_pool_bytes, total, PLAN_HEADER_BYTES)
    _region(Check.BAD_TABLE, "label area", h.label_table_offset, h.label_bytes, total, PLAN_HEADER_BYTES)
    if arena_limit is not None and h.arena_bytes > arena_limit:
        raise PlanInvalid(Check.ARENA_TOO_SMALL, f"the plan needs {h.arena_bytes} arena bytes, the device has {arena_limit}")
    _region(Check.BAD_BUFFER, "exponent table", h.exp_table_offset, 4 * h.n_exp_slots, h.arena_bytes)

    if weights is not None:
        wh = validate_weights(weights)
        if len(weights) != h.weights_bytes or wh.crc32 != h.weights_crc32 or wh.model_hash != h.model_hash:
            raise PlanInvalid(Check.BAD_WEIGHTS, "the weight blob is not the one this plan was compiled with")
    if (h.momentum_q15 != 0 or not 2**30 <= h.lr_multiplier < 2**31 or not -31 <= h.lr_shift <= 0
            or not 2**30 <= h.head_lr_multiplier < 2**31 or not -31 <= h.head_lr_shift <= 0):
        raise PlanInvalid(Check.BAD_OPTIMIZER, f"learning rate ({h.lr_multiplier}, {h.lr_shift}), head rate "
                          f"({h.head_lr_multiplier}, {h.head_lr_shift}) or momentum "
                          f"{h.momentum_q15} unsupported")

    buffers = []
    rec = BufferRecord.sizeof()
    for i in range(h.n_buffers):
        b = BufferRecord.parse(plan[h.buffer_table_offset + i * rec:])
        if b.dtype not in set(DType) or b.kind not in set(BufferKind) or b.size == 0 or b.size % DType(b.dtype).size:
            raise PlanInvalid(Check.BAD_BUFFER, f"buffer {i}: type {b.dtype}/{b.kind}, {b.size} bytes")
        _region(Check.BAD_BUFFER, f"buffer {i}", b.offset, b.size, h.exp_table_offset)
        if (i < h.n_exp_slots) != (b.dtype in (DType.INT16, DType.INT32) and b.kind in (BufferKind.GRAD, BufferKind.PARAM_GRAD)):
            raise PlanInvalid(Check.BAD_BUFFER, f"buffer {i}: gradient buffers (and only they) come first")
        buffers.append(b)

    pool = _Pool(plan, h.param_pool_offset, h.param_pool_bytes, h.weights_bytes)
    ops = []
    rec = OpRecord.sizeof()
    phase = Phase.LOAD
    n_input = n_loss = 0
    for i in range(h.n_ops):
        op = OpRecord.parse(plan[h.op_table_offset + i * rec:])
        if op.kind not in set(OpKind):
            raise PlanInvalid(Check.BAD_OP_KIND, f"op {i}: unknown kind 0x{op.kind:02X}")
        kind = OpKind(op.kind)
        sig = SIGNATURES[kind]
        allowed_flags = (OpFlag.COMPACT_INPUT if kind in (OpKind.WEIGHT_GRAD, OpKind.WEIGHT_GRAD_UPDATE)
                         else OpFlag.STREAMED if kind == OpKind.INPUT
                         else OpFlag.RECOMPUTE if kind in RECOMPUTABLE else 0)
        if op.flags & ~allowed_flags:
            raise PlanInvalid(Check.BAD_OP_KIND, f"op {i} ({kind.name}): flags 0x{op.flags:02X}")
        want = Phase.BACKWARD if op.flags & OpFlag.RECOMPUTE else sig.phase
        if op.phase != want or op.phase < phase:
            raise PlanInvalid(Check.BAD_OP_ORDER, f"op {i} ({kind.name}) in phase {op.phase} after phase {int(phase)}")
        phase = Phase(op.phase)
        n_input += kind == OpKind.INPUT
        n_loss += kind == OpKind.LOSS
        slots = [(r, op.ins[k]) for k, r in enumerate(sig.ins)] + [(r, op.outs[k]) for k, r in enumerate(sig.outs)]
        unused = list(op.ins[len(sig.ins):]) + list(op.outs[len(sig.outs):])
        if any(u != NONE16 for u in unused):
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): a slot it does not have is set")
        for role, bid in slots:
            if bid == NONE16 and not role.optional:
                raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): {role.name} missing")
            if bid != NONE16 and bid >= h.n_buffers:
                raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): {role.name} = buffer {bid} of {h.n_buffers}")
        if op.scratch != NONE16 and (op.scratch >= h.n_buffers or buffers[op.scratch].dtype != DType.BYTES):
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): scratch buffer {op.scratch}")
        params = None
        if sig.params is None:
            if op.params != NONE32:
                raise PlanInvalid(Check.BAD_PARAMS, f"op {i} ({kind.name}) takes no parameter block")
        else:
            params = pool.block(op.params, sig.params)
        reads_stream = bool(ops) and ops[-1].kind == OpKind.INPUT and ops[-1].flags & OpFlag.STREAMED
        _check_shapes(i, kind, op, sig, params, buffers, h,
                      streamed_reader=reads_stream and kind == OpKind.FUSED_BLOCK and op.ins[0] == h.input_buffer)
        ops.append(op)
    if n_input != 1 or n_loss != 1:
        raise PlanInvalid(Check.BAD_OP_ORDER, f"{n_input} INPUT and {n_loss} LOSS ops, need exactly one of each")
    _check_streamed(ops, h)
    labels = parse_labels(plan[h.label_table_offset:h.label_table_offset + h.label_bytes], h.n_labels)
    return Validated(h, buffers, ops, labels)


def _check_streamed(ops: list, h) -> None:
    """A STREAMED INPUT is followed by the FUSED_BLOCK that reads it; no other op reads it."""
    at = next(i for i, op in enumerate(ops) if op.kind == OpKind.INPUT)
    if not ops[at].flags & OpFlag.STREAMED:
        return
    if at + 1 == len(ops) or ops[at + 1].kind != OpKind.FUSED_BLOCK or ops[at + 1].ins[0] != h.input_buffer:
        raise PlanInvalid(Check.BAD_OP_ORDER, f"op {at}: a streamed INPUT must be followed by the FUSED_BLOCK reading it")
    for i, op in enumerate(ops):
        if i != at + 1 and h.input_buffer in list(op.ins):
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i}: reads the streamed input buffer")


def _check_shapes(i: int, kind: OpKind, op, sig: Signature, params, buffers: list, h, streamed_reader: bool = False) -> None:
    """``streamed_reader``: the FUSED_BLOCK right after a STREAMED INPUT, whose input slot holds
    rows of the sample (checked at the INPUT op) while the block reads the whole sample."""
    sizes = _sizes(kind, params, op.flags)
    if streamed_reader:
        if sizes.pop("x") != h.input_h * h.input_w * h.input_c:
            raise PlanInvalid(Check.BAD_SHAPE, f"op {i}: the streamed block does not read the sample")
    if kind == OpKind.INPUT:
        sizes = dict(x=h.input_h * h.input_w * h.input_c)
        row, have = h.input_w * h.input_c, buffers[op.outs[0]].size if op.outs[0] < len(buffers) else 0
        if op.flags & OpFlag.STREAMED:  # whole rows, at least one, at most the sample
            if have % row or not row <= have <= sizes["x"]:
                raise PlanInvalid(Check.BAD_SHAPE, f"op {i}: a streamed input buffer of {have} bytes is not "
                                  f"1..{h.input_h} rows of {row} bytes")
            sizes = dict(x=have)
        if op.outs[0] != h.input_buffer:
            raise PlanInvalid(Check.BAD_SHAPE, f"op {i}: INPUT writes buffer {op.outs[0]}, the header says {h.input_buffer}")
    if kind == OpKind.LOSS and (op.ins[0] != h.logits_buffer or params.n_classes != h.n_classes):
        raise PlanInvalid(Check.BAD_SHAPE, f"op {i}: LOSS reads buffer {op.ins[0]} of {params.n_classes} classes")
    if kind in (OpKind.MASK_BWD, OpKind.GRAD_ADD, OpKind.GRAD_COPY):
        g = buffers[op.ins[1 if kind != OpKind.GRAD_COPY else 0]].size
        sizes = dict(grad=g, other=g, src=g, dst=g, mask=-(-(g // 2) // 8))
    if kind in (OpKind.CONV2D, OpKind.PW_CONV2D, OpKind.DW_CONV2D, OpKind.FC) or kind in BWD_INPUT_OF.values():
        # The arena slice must be given exactly when the layer's weights train (and likewise the bias).
        w_slot = 1
        if (op.ins[w_slot] != NONE16) != (params.n_channels > 0):
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): weight slice given iff weights train")
        if kind in FORWARD_OF.values() and (op.ins[2] != NONE16) != bool(params.flags & LayerFlag.BIAS_TRAINED):
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): arena bias given iff the bias trains")
    if kind == OpKind.CONCAT and any((op.ins[k] != NONE16) != (k < params.n_inputs) for k in range(4)):
        raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} (CONCAT): inputs given iff below n_inputs")
    # b is either a buffer (the block's constant then 0) or the block's scalar constant.
    if kind in (OpKind.MUL, OpKind.MUL_BWD_A) and (
            params.b_numel != 1 if op.ins[1] == NONE16 else params.constant != 0):
        raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}): b is a buffer, or a scalar constant in the block")
    in_place = {OpKind.MASK_BWD: (1, 0), OpKind.GRAD_ADD: (1, 0), OpKind.BIAS_UPDATE: (1, 0),
                OpKind.WEIGHT_UPDATE: (1, 0), OpKind.BIAS_GRAD_UPDATE: (1, 0), OpKind.WEIGHT_GRAD_UPDATE: (2, 0)}
    if kind in in_place:
        a, b = in_place[kind]
        if op.ins[a] != op.outs[b]:
            raise PlanInvalid(Check.BAD_BUFFER_ID, f"op {i} ({kind.name}) must update its buffer in place")
    for role, bid in [*zip(sig.ins, op.ins), *zip(sig.outs, op.outs)]:
        if bid == NONE16:
            continue
        buf = buffers[bid]
        want = sizes.get(role.name)
        if buf.dtype != role.dtype or (want is not None and buf.size != want):
            raise PlanInvalid(Check.BAD_SHAPE, f"op {i} ({kind.name}): {role.name} is buffer {bid} of {buf.size} bytes "
                              f"{DType(buf.dtype).name}, needs {want} bytes {role.dtype.name}")
        if role.dtype in (DType.INT16, DType.INT32) and buf.kind in (BufferKind.GRAD, BufferKind.PARAM_GRAD) and bid >= h.n_exp_slots:
            raise PlanInvalid(Check.BAD_SHAPE, f"op {i}: gradient buffer {bid} without an exponent slot")
    if kind in (OpKind.DW_CONV2D_BWD_INPUT,) and params.geom.out_c != params.geom.in_c:
        raise PlanInvalid(Check.BAD_PARAMS, f"op {i}: depthwise backward needs multiplier 1")
