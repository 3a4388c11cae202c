"""The loader's checks of the parameter pool (LAYER, POOL, ADD, FUSED and LOSS blocks) and the
geometry rules they enforce, as the firmware performs them (``firmware/src/plan_check_blocks.c``,
same checks in the same order); :func:`.validate.validate` reads every op's block through
:class:`_Pool`."""

from __future__ import annotations

import struct
from typing import Any


from .format import (
    ALIGN,
    BLOCKS,
    BlockHeader,
    Check,
    LAYER_FIXED_BYTES,
    LayerFlag,
    LayerKind,
    PoolKind,
    MAX_CHANNELS,
    MAX_CLASSES,
    NONE32,
    ParamType,
    PlanInvalid,
    WEIGHTS_HEADER_BYTES,
    align,
    layer_array_counts,
    layer_block_bytes,
)


def _u32(blob: bytes, off: int) -> int:
    return int.from_bytes(blob[off:off + 4], "little")


def _region(check: Check, what: str, offset: int, size: int, limit: int, lower: int = 0) -> None:
    if offset % ALIGN or size < 0 or offset < lower or offset + size > limit:
        raise PlanInvalid(check, f"{what} [{offset}, {offset + size}) is misaligned or outside [{lower}, {limit})")


class _Pool:
    """Parameter-pool access with the loader's checks."""

    def __init__(self, blob: bytes, start: int, size: int, weights_bytes: int) -> None:
        self.blob, self.start, self.size, self.weights_bytes = blob, start, size, weights_bytes
        self.cache: dict[int, Any] = {}

    def block(self, offset: int, want: ParamType) -> Any:
        if offset == NONE32 or offset % ALIGN or offset + BlockHeader.sizeof() > self.size:
            raise PlanInvalid(Check.BAD_PARAMS, f"parameter block offset {offset} outside the pool ({self.size} bytes)")
        base = self.start + offset
        head = BlockHeader.parse(self.blob[base:])
        if head.type != want:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset} has type {head.type}, the op needs {want.name}")
        if head.bytes % ALIGN or offset + head.bytes > self.size:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset} of {head.bytes} bytes overruns the pool")
        if offset in self.cache:
            return self.cache[offset]
        st = BLOCKS[want]
        if head.bytes < st.sizeof():
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: {head.bytes} bytes, a {want.name} block has {st.sizeof()}")
        b = st.parse(self.blob[base:base + head.bytes])
        if want == ParamType.LAYER:
            b = self._layer(b, offset, base)
        elif want == ParamType.POOL:
            self._geom(b.geom, offset)
            self._clamp(b, offset)
            if b.geom.out_c != b.geom.in_c or head.bytes != st.sizeof():
                raise PlanInvalid(Check.BAD_PARAMS, f"pool block at {offset}: channels or size")
            self._pool_kind(b, offset)
        elif want == ParamType.ADD:
            self._clamp(b, offset)
            if not 1 <= b.numel <= MAX_CHANNELS ** 2 or head.bytes != st.sizeof():
                raise PlanInvalid(Check.BAD_PARAMS, f"add block at {offset}: numel or size")
        elif want == ParamType.MUL:
            self._clamp(b, offset)
            ok = (head.bytes == st.sizeof() and 1 <= b.numel <= MAX_CHANNELS ** 2 and 1 <= b.b_numel <= b.numel
                  and b.numel % b.b_numel == 0 and -128 <= b.constant <= 127
                  and all(-128 <= z <= 127 for z in (b.input1_zp, b.input2_zp, b.output_zp))
                  and all(m >= 0 for m in (b.multiplier, b.a_multiplier, b.b_multiplier))
                  and all(-31 <= e <= 30 for e in (b.shift, b.a_shift, b.b_shift)))
            if not ok:
                raise PlanInvalid(Check.BAD_PARAMS, f"mul block at {offset}: sizes or requantization")
        elif want == ParamType.HARD_SWISH:
            ok = (head.bytes == st.sizeof() and 1 <= b.numel <= MAX_CHANNELS ** 2
                  and -128 <= b.input_zp <= 127 and -128 <= b.output_zp <= 127
                  and 0 <= b.output_multiplier <= 32767 and -31 <= b.output_exponent <= 0
                  and 0 <= b.reluish_multiplier <= 32767 and -31 <= b.reluish_exponent <= 30
                  and b.grad_multiplier >= 0 and -31 <= b.grad_shift <= 30
                  and -128 <= b.grad_lo <= b.grad_hi + 1 <= 128)
            if not ok:
                raise PlanInvalid(Check.BAD_PARAMS, f"hard swish block at {offset}: size or parameters")
        elif want == ParamType.LOGISTIC:
            if not (head.bytes == st.sizeof() and 1 <= b.numel <= MAX_CHANNELS ** 2 and -128 <= b.input_zp <= 127
                    and 0 <= b.range_radius and b.multiplier >= 0 and 0 <= b.left_shift <= 31):
                raise PlanInvalid(Check.BAD_PARAMS, f"logistic block at {offset}: size or parameters")
        elif want == ParamType.REQUANTIZE:
            self._clamp(b, offset)
            if not (head.bytes == st.sizeof() and 1 <= b.numel <= MAX_CHANNELS ** 2 and -128 <= b.input_zp <= 127
                    and -128 <= b.output_zp <= 127
                    and all(m >= 0 for m in (b.multiplier, b.negative_multiplier, b.alpha_multiplier))
                    and all(-31 <= e <= 30 for e in (b.shift, b.negative_shift, b.alpha_shift))):
                raise PlanInvalid(Check.BAD_PARAMS, f"requantize block at {offset}: size or parameters")
        elif want == ParamType.CONCAT:
            n, inners = b.n_inputs, list(b.inners)
            if not (head.bytes == st.sizeof() and 1 <= n <= 4 and all(v >= 1 for v in inners[:n])
                    and not any(inners[n:]) and 1 <= b.outer and b.outer * sum(inners) <= MAX_CHANNELS ** 2):
                raise PlanInvalid(Check.BAD_PARAMS, f"concat block at {offset}: inputs or sizes")
        elif want == ParamType.SLICE:
            if not (head.bytes == st.sizeof() and 1 <= b.outer and 1 <= b.inner and b.offset + b.inner <= b.total
                    and b.outer * b.total <= MAX_CHANNELS ** 2):
                raise PlanInvalid(Check.BAD_PARAMS, f"slice block at {offset}: sizes")
        elif want == ParamType.PAD:
            ok = (head.bytes == st.sizeof() and all(1 <= v <= MAX_CHANNELS for v in (b.in_h, b.in_w, b.c))
                  and all(0 <= v <= MAX_CHANNELS for v in (b.top, b.left, b.bottom, b.right))
                  and -128 <= b.fill <= 127)
            if not ok:
                raise PlanInvalid(Check.BAD_PARAMS, f"pad block at {offset}: sizes or fill")
        elif want == ParamType.LOSS:
            if head.bytes != st.sizeof() or not 1 <= b.n_classes <= MAX_CLASSES or not b.scale > 0:
                raise PlanInvalid(Check.BAD_PARAMS, f"loss block at {offset}")
        elif want == ParamType.FUSED:
            if head.bytes != st.sizeof():
                raise PlanInvalid(Check.BAD_PARAMS, f"fused block at {offset}: size")
            dw = self.block(b.dw, ParamType.LAYER)
            pw2 = self.block(b.pw2, ParamType.LAYER)
            pw1 = None if b.pw1 == NONE32 else self.block(b.pw1, ParamType.LAYER)
            add = None if b.add == NONE32 else self.block(b.add, ParamType.ADD)
            ok = (dw.header.kind == LayerKind.DW_CONV2D and pw2.header.kind == LayerKind.PW_CONV2D
                  and _out_numel(dw.geom) == _in_numel(pw2.geom) and dw.geom.out_c == dw.geom.in_c
                  and pw2.n_channels == 0 and dw.n_channels == 0 and not dw.flags & LayerFlag.BIAS_TRAINED
                  and not pw2.flags & LayerFlag.BIAS_TRAINED)
            if pw1 is not None:
                ok = ok and (pw1.header.kind in (LayerKind.PW_CONV2D, LayerKind.CONV2D)
                             and _out_numel(pw1.geom) == _in_numel(dw.geom)
                             and pw1.n_channels == 0 and not pw1.flags & LayerFlag.BIAS_TRAINED)
            first = pw1 if pw1 is not None else dw
            if add is not None:
                ok = ok and add.numel == _out_numel(pw2.geom) == _in_numel(first.geom) and b.residual_input in (1, 2)
            else:
                ok = ok and b.residual_input == 0
            if not ok:
                raise PlanInvalid(Check.BAD_PARAMS, f"fused block at {offset}: layers do not chain")
            b = dict(block=b, pw1=pw1, dw=dw, pw2=pw2, add=add)
        self.cache[offset] = b
        return b

    @staticmethod
    def _geom(g, offset: int) -> None:
        vals = [g[k] for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c")]
        if max(vals) > MAX_CHANNELS or geometry_problem(g):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: inconsistent geometry ({geometry_problem(g) or 'too large'})")

    @staticmethod
    def _pool_kind(b, offset: int) -> None:
        g, requant = b.geom, (b.input_zp, b.output_zp, b.multiplier, b.shift)
        if b.header.kind in (PoolKind.AVERAGE, PoolKind.MAX):
            ok = requant == (0, 0, 0, 0)
        elif b.header.kind == PoolKind.MEAN:
            ok = ((g.kernel_h, g.kernel_w, g.out_h, g.out_w) == (g.in_h, g.in_w, 1, 1)
                  and (g.stride_h, g.stride_w, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right) == (1, 1, 0, 0, 0, 0)
                  and -128 <= b.input_zp <= 127 and -128 <= b.output_zp <= 127 and b.multiplier >= 0
                  and -31 <= b.shift <= 30)
        else:
            ok = False
        if not ok:
            raise PlanInvalid(Check.BAD_PARAMS, f"pool block at {offset}: kind {b.header.kind} with its geometry "
                                                "or requantization")

    @staticmethod
    def _clamp(b, offset: int) -> None:
        if not -128 <= b.act_min <= b.act_max <= 127:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: output clamp [{b.act_min}, {b.act_max}]")

    def _layer(self, b, offset: int, base: int) -> Any:
        g = b.geom
        self._geom(g, offset)
        self._clamp(b, offset)
        kind = b.header.kind
        if kind not in set(LayerKind):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: unknown layer kind {kind}")
        one = (g.kernel_h, g.kernel_w, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right) == (1, 1, 0, 0, 0, 0)
        if kind == LayerKind.PW_CONV2D and not one:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: pointwise with a kernel or padding")
        if kind == LayerKind.FC and not (one and g.in_h == g.in_w == g.out_h == g.out_w == 1):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: fully connected with a spatial geometry")
        if kind == LayerKind.DW_CONV2D and g.out_c != g.in_c:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: depthwise with multiplier != 1")
        if not (-128 <= b.input_zp <= 127 and -128 <= b.output_zp <= 127) or b.flags & ~0x7:
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: zero points or flags")
        if ((b.weight_step_max <= 0) if b.n_channels else (b.weight_step_max != 0)) or (
                (b.bias_step_max <= 0) if b.flags & LayerFlag.BIAS_TRAINED else (b.bias_step_max != 0)):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: step bounds must be positive for what trains and 0 "
                              f"otherwise (weights {b.weight_step_max}, biases {b.bias_step_max})")
        if b.n_channels > weight_in_channels(kind, g):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: {b.n_channels} trained channels of {weight_in_channels(kind, g)}")
        if b.header.bytes != layer_block_bytes(kind, g.out_c, b.n_channels, b.flags):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: {b.header.bytes} bytes, its counts give "
                              f"{layer_block_bytes(kind, g.out_c, b.n_channels, b.flags)}")
        wbytes = weight_count(kind, g)
        if b.weights_bytes != wbytes or b.bias_bytes != 4 * g.out_c:
            raise PlanInvalid(Check.BAD_WEIGHTS, f"block at {offset}: weight/bias references of the wrong size")
        _region(Check.BAD_WEIGHTS, f"weights of block {offset}", b.weights_offset, wbytes, self.weights_bytes,
                WEIGHTS_HEADER_BYTES)
        _region(Check.BAD_WEIGHTS, f"biases of block {offset}", b.bias_offset, 4 * g.out_c, self.weights_bytes,
                WEIGHTS_HEADER_BYTES)
        arrays: dict[str, list[int]] = {}
        pos = base + LAYER_FIXED_BYTES
        for name, n, size in layer_array_counts(kind, g.out_c, b.n_channels, b.flags):
            arrays[name] = list(struct.unpack_from("<" + ("h" if size == 2 else "i") * n, self.blob, pos))
            pos += align(n * size)
        if any(not -31 <= s <= 30 for s in arrays["shift"]):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: requantization shift out of range")
        ch = arrays["channels"]
        n_in = weight_in_channels(kind, g)
        if any(not 0 <= c < n_in for c in ch) or len(set(ch)) != len(ch):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: channel list out of range or repeated")
        if b.flags & LayerFlag.GRAD_QUANT and (any(not -31 <= s <= 0 for s in arrays["grad_shift"])
                                               or not -31 <= b.grad_scale_shift <= 30):
            raise PlanInvalid(Check.BAD_PARAMS, f"block at {offset}: gradient quantization shift out of range")
        return _LayerView(b, arrays)


class _LayerView:
    """A parsed LAYER block: fixed fields as attributes plus the arrays."""

    def __init__(self, b, arrays: dict[str, list[int]]) -> None:
        self.__dict__.update({k: v for k, v in b.items() if not k.startswith("_")})
        self.arrays = arrays


def geometry_problem(g) -> str | None:
    """Same rule as ``tt_conv_geom_check`` (and :meth:`ConvGeom.problem`)."""
    get = (lambda k: g[k]) if isinstance(g, dict) else (lambda k: getattr(g, k))
    if min(get(k) for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c")) < 1:
        return "dimensions must be >= 1"
    if min(get(k) for k in ("kernel_h", "kernel_w", "stride_h", "stride_w")) < 1:
        return "kernel and stride must be >= 1"
    if min(get(k) for k in ("pad_top", "pad_left", "pad_bottom", "pad_right")) < 0:
        return "padding must be >= 0"
    if max(get("pad_top"), get("pad_bottom")) >= get("kernel_h") or max(get("pad_left"), get("pad_right")) >= get("kernel_w"):
        return "padding must be smaller than the kernel"
    for n_in, n_out, k, s, p0, p1 in (("in_h", "out_h", "kernel_h", "stride_h", "pad_top", "pad_bottom"),
                                      ("in_w", "out_w", "kernel_w", "stride_w", "pad_left", "pad_right")):
        span = get(n_in) + get(p0) + get(p1)
        if span < get(k) or (span - get(k)) // get(s) + 1 != get(n_out):
            return "output size does not match input, kernel, stride and padding"
    return None


def _in_numel(g) -> int:
    return g.in_h * g.in_w * g.in_c


def _out_numel(g) -> int:
    return g.out_h * g.out_w * g.out_c


def weight_in_channels(kind: int, g) -> int:
    return g.in_c


def weight_count(kind: int, g) -> int:
    """int8 weights of a layer: OHWI, 1HWC for depthwise, [out][in] for FC."""
    if kind == LayerKind.DW_CONV2D:
        return g.kernel_h * g.kernel_w * g.out_c
    return g.out_c * g.kernel_h * g.kernel_w * g.in_c


def slice_count(kind: int, g, n_channels: int) -> int:
    """Elements of a trained weight slice (compact, ``[out_c][taps][n]`` or ``[taps][n]``)."""
    taps = g.kernel_h * g.kernel_w
    return taps * n_channels if kind == LayerKind.DW_CONV2D else g.out_c * taps * n_channels
