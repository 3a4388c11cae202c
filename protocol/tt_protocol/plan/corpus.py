"""The corruption corpus: broken variants of any valid plan, each with the check that must
reject it (the Python and the C loader's tests both run it)."""

from __future__ import annotations

from dataclasses import dataclass

from construct import (
    Struct,
)

from .format import (
    BlockHeader,
    BufferRecord,
    Check,
    FORMAT_VERSION,
    FusedBlock,
    Geometry,
    LabelRecord,
    LayerBlock,
    LayerKind,
    MAX_BUFFERS,
    MAX_LABEL_BYTES,
    NONE16,
    NONE32,
    OpFlag,
    OpKind,
    OpRecord,
    PLAN_HEADER_BYTES,
    Phase,
    PlanHeader,
    seal,
)
from .blocks import _u32
from .validate import validate


# -- corruption corpus --------------------------------------------------------------------------


@dataclass(frozen=True)
class Corruption:
    """A broken plan (with its weight blob) and the check that must reject it."""

    name: str
    plan: bytes
    weights: bytes
    expected: Check
    arena_limit: int | None = None


def _field_offset(struct: Struct, name: str) -> int:
    off = 0
    for sub in struct.subcons:
        if sub.name == name:
            return off
        off += sub.sizeof()
    raise KeyError(name)


def patch(plan: bytes, offset: int, value: int, size: int = 4, signed: bool = False, reseal: bool = True) -> bytes:
    b = bytearray(plan)
    b[offset:offset + size] = int(value).to_bytes(size, "little", signed=signed)
    return bytes(seal(b) if reseal else b)


def corruptions(plan: bytes, weights: bytes) -> list[Corruption]:
    """Broken variants of a valid plan, each with the :class:`Check` that must catch it.

    Every variant past the CRC check is re-sealed (correct length and CRC), so it exercises
    the deeper check it is named after.
    """
    v = validate(plan, weights)
    h = v.header
    H = lambda name: _field_offset(PlanHeader, name)
    out: list[Corruption] = []

    def add(name: str, blob: bytes, check: Check, w: bytes = weights, limit: int | None = None) -> None:
        out.append(Corruption(name, bytes(blob), bytes(w), check, limit))

    add("truncated_header", plan[:PLAN_HEADER_BYTES - 1], Check.TRUNCATED)
    add("bad_magic", b"XXPL" + plan[4:], Check.BAD_MAGIC)
    add("bad_version", patch(plan, 4, FORMAT_VERSION + 1, 2, reseal=False), Check.BAD_VERSION)
    add("truncated_body", plan[:-4], Check.BAD_LENGTH)
    add("bad_total_length", patch(plan, 8, len(plan) + 4, reseal=False), Check.BAD_LENGTH)
    flipped = bytearray(plan)
    flipped[len(plan) // 2] ^= 0x40
    add("flipped_bit", bytes(flipped), Check.BAD_CRC)
    add("too_many_buffers", patch(plan, H("n_buffers"), MAX_BUFFERS + 1, 2), Check.BAD_COUNT)
    add("labels_not_classes", patch(plan, H("n_labels"), h.n_classes + 1, 2), Check.BAD_COUNT)
    add("op_table_outside_blob", patch(plan, H("op_table_offset"), len(plan) - 8), Check.BAD_TABLE)
    add("pool_misaligned", patch(plan, H("param_pool_offset"), h.param_pool_offset + 2), Check.BAD_TABLE)
    add("arena_too_small", plan, Check.ARENA_TOO_SMALL, limit=h.arena_bytes - 4)
    add("exp_table_outside_arena", patch(plan, H("exp_table_offset"), h.arena_bytes), Check.BAD_BUFFER)
    add("momentum", patch(plan, H("momentum_q15"), 1000, signed=True), Check.BAD_OPTIMIZER)
    add("head_rate_not_normal", patch(plan, H("head_lr_multiplier"), 1 << 29, signed=True), Check.BAD_OPTIMIZER)
    wrong_w = bytearray(weights)
    wrong_w[16] ^= 1  # model hash of the weight blob
    add("weights_of_other_model", plan, Check.BAD_WEIGHTS, bytes(seal(wrong_w)))

    brec = BufferRecord.sizeof()
    b0 = h.buffer_table_offset + brec * (h.n_buffers - 1)
    add("buffer_outside_arena", patch(plan, b0, h.exp_table_offset), Check.BAD_BUFFER)
    add("buffer_misaligned", patch(plan, b0, v.buffers[-1].offset + 2), Check.BAD_BUFFER)
    add("buffer_unknown_dtype", patch(plan, b0 + 8, 9, 1), Check.BAD_BUFFER)

    orec = OpRecord.sizeof()
    ops = v.ops
    idx = {OpKind(o.kind): k for k, o in reversed(list(enumerate(ops)))}
    op_at = lambda k: h.op_table_offset + orec * k
    first_fwd = next(k for k, o in enumerate(ops) if o.kind in (OpKind.CONV2D, OpKind.PW_CONV2D, OpKind.DW_CONV2D))
    add("unknown_op_kind", patch(plan, op_at(first_fwd), 0x7E, 1), Check.BAD_OP_KIND)
    add("op_in_wrong_phase", patch(plan, op_at(idx[OpKind.LOSS]) + 1, Phase.FORWARD, 1), Check.BAD_OP_ORDER)
    # A recomputed op belongs to the backward; only forward layer and ADD ops may be one.
    add("recompute_in_forward", patch(plan, op_at(first_fwd) + 2, OpFlag.RECOMPUTE, 1), Check.BAD_OP_ORDER)
    add("recompute_of_loss", patch(plan, op_at(idx[OpKind.LOSS]) + 2, OpFlag.RECOMPUTE, 1), Check.BAD_OP_KIND)
    add("buffer_id_out_of_range", patch(plan, op_at(first_fwd) + 8, h.n_buffers, 2), Check.BAD_BUFFER_ID)
    add("required_slot_missing", patch(plan, op_at(first_fwd) + 8, NONE16, 2), Check.BAD_BUFFER_ID)
    add("params_outside_pool", patch(plan, op_at(first_fwd) + 24, h.param_pool_bytes), Check.BAD_PARAMS)
    loss_params = ops[idx[OpKind.LOSS]].params
    add("params_of_wrong_type", patch(plan, op_at(first_fwd) + 24, loss_params), Check.BAD_PARAMS)
    # Shape: make the first forward op write the logits buffer (wrong size).
    add("output_wrong_size", patch(plan, op_at(first_fwd) + 16, h.logits_buffer, 2), Check.BAD_SHAPE)
    # Geometry: the first forward layer's out_h off by one.
    p = ops[first_fwd].params
    geom_at = h.param_pool_offset + p + BlockHeader.sizeof() + _field_offset(Geometry, "out_h")
    out_h = int.from_bytes(plan[geom_at:geom_at + 4], "little", signed=True)
    add("geometry_inconsistent", patch(plan, geom_at, out_h + 1, signed=True), Check.BAD_PARAMS)
    w_at = h.param_pool_offset + p + _field_offset(LayerBlock, "weights_offset")
    add("weights_ref_outside_blob", patch(plan, w_at, h.weights_bytes - 4), Check.BAD_WEIGHTS)
    # A weight step bound must be set exactly when the weights train: toggle the first layer's.
    bound_at = h.param_pool_offset + p + _field_offset(LayerBlock, "weight_step_max")
    bound = 0 if _u32(plan, bound_at) else 1 << 16
    add("weight_step_bound_mismatch", patch(plan, bound_at, bound, signed=True), Check.BAD_PARAMS)
    # A fused block's expansion must be a pointwise or general convolution: point it at the
    # block's own depthwise (whose shapes chain when its stride is 1, so only the kind refuses
    # it). A block whose expansion is a CONV2D (the stem) is preferred.
    pw1_of = lambda f: _u32(plan, h.param_pool_offset + f + _field_offset(FusedBlock, "pw1"))
    expanded = [o.params for o in ops if o.kind == OpKind.FUSED_BLOCK and pw1_of(o.params) != NONE32]
    is_conv = lambda f: int.from_bytes(plan[h.param_pool_offset + pw1_of(f) + 2:][:2], "little") == LayerKind.CONV2D
    expanded.sort(key=lambda f: not is_conv(f))
    if expanded:
        f_at = h.param_pool_offset + expanded[0]
        dw_at = _u32(plan, f_at + _field_offset(FusedBlock, "dw"))
        add("fused_expansion_not_a_conv", patch(plan, f_at + _field_offset(FusedBlock, "pw1"), dw_at), Check.BAD_PARAMS)
    # Streaming: the flag only on INPUT; a streamed INPUT feeds the FUSED_BLOCK after it, in whole rows.
    flags_at = lambda k: op_at(k) + _field_offset(OpRecord, "flags")
    add("streamed_flag_not_on_input", patch(plan, flags_at(idx[OpKind.LOSS]), OpFlag.STREAMED, 1), Check.BAD_OP_KIND)
    at = idx[OpKind.INPUT]
    if ops[at].flags & OpFlag.STREAMED:
        size_at = h.buffer_table_offset + brec * h.input_buffer + _field_offset(BufferRecord, "size")
        add("streamed_input_partial_row", patch(plan, size_at, v.buffers[h.input_buffer].size - 1), Check.BAD_SHAPE)
    elif ops[at + 1].kind != OpKind.FUSED_BLOCK:
        add("streamed_input_into_a_layer", patch(plan, flags_at(at), OpFlag.STREAMED, 1), Check.BAD_OP_ORDER)
    if h.n_labels:
        rec_at = h.label_table_offset + _field_offset(LabelRecord, "length")
        add("label_too_long", patch(plan, rec_at, MAX_LABEL_BYTES + 1, 2), Check.BAD_LABELS)
    return out
