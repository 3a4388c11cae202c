"""Int8 forward kernels, bit-exact with the C kernels and TFLite Micro's reference kernels.

Layouts are TFLite's: activations NHWC with batch 1, given as ``(H, W, C)`` int8 arrays; conv
weights OHWI; depthwise weights 1HWC (``(1, KH, KW, C * multiplier)``); fully-connected
weights ``(out, in)``; biases int32. Weights have zero point 0. The input zero point is
subtracted before the multiply, so a padded position (which holds the zero point) contributes
nothing: explicit padding needs no padded copy.

Accumulation is exact (int64, or float64 matmuls whose partial sums stay far below 2**53)
and is then wrapped to int32, which is what the C computes.
"""

from __future__ import annotations

import numpy as np

from tt_host.reference import gemmlowp
from tt_host.reference.fixedpoint import multiply_by_quantized_multiplier, rounding_divide_by_pot, wrap_int32
from tt_host.reference.params import (
    INT8_MIN,
    AddQuant,
    ConcatGeom,
    ConvGeom,
    ConvQuant,
    HardSwishQuant,
    LogisticQuant,
    MeanQuant,
    MulQuant,
    PoolQuant,
    RequantizeQuant,
)


def _check(arr: np.ndarray, shape: tuple, dtype, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.shape != tuple(shape) or arr.dtype != np.dtype(dtype):
        raise ValueError(f"{what}: expected {np.dtype(dtype)}{tuple(shape)}, got {arr.dtype}{arr.shape}")
    return arr


def pad_centered(geom: ConvGeom, x: np.ndarray, zero_point: int) -> np.ndarray:
    """``x - zero_point`` as int64, with ``geom``'s padding filled with 0."""
    xc = np.asarray(x, dtype=np.int64) - zero_point
    return np.pad(xc, ((geom.pad_top, geom.pad_bottom), (geom.pad_left, geom.pad_right), (0, 0)))


def taps(geom: ConvGeom, xp: np.ndarray):
    """Yield ``(ky, kx, view)`` where ``view[oy, ox, :]`` is the padded input under tap (ky, kx)."""
    for ky in range(geom.kernel_h):
        for kx in range(geom.kernel_w):
            yield ky, kx, xp[ky : ky + geom.stride_h * (geom.out_h - 1) + 1 : geom.stride_h,
                             kx : kx + geom.stride_w * (geom.out_w - 1) + 1 : geom.stride_w, :]


def requantize(acc: np.ndarray, quant: ConvQuant) -> np.ndarray:
    """int32 accumulator (channels last) -> int8 output, per-channel, then clamp."""
    y = multiply_by_quantized_multiplier(wrap_int32(acc), quant.multiplier, quant.shift) + quant.output_zp
    return np.clip(y, quant.act_min, quant.act_max).astype(np.int8)


def conv2d_acc(geom: ConvGeom, quant: ConvQuant, x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """The int32 accumulator (before requantization) of a general convolution, ``(OH, OW, OC)``."""
    x = _check(x, geom.in_shape, np.int8, "input")
    w = _check(weights, (geom.out_c, geom.kernel_h, geom.kernel_w, geom.in_c), np.int8, "weights")
    xp = pad_centered(geom, x, quant.input_zp)
    cols = np.stack([v for _, _, v in taps(geom, xp)], axis=2)  # (OH, OW, KH*KW, IC), OHWI order
    cols = cols.reshape(geom.out_h * geom.out_w, -1).astype(np.float64)
    acc = (cols @ w.reshape(geom.out_c, -1).T.astype(np.float64)).astype(np.int64)
    acc = acc.reshape(geom.out_shape)
    if bias is not None:
        acc = acc + _check(bias, (geom.out_c,), np.int32, "bias").astype(np.int64)
    return wrap_int32(acc)


def conv2d_fwd_s8(geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    """``tt_conv2d_fwd_s8``: general convolution (any kernel, stride, asymmetric padding)."""
    return requantize(conv2d_acc(geom, quant, x, weights, bias), quant)


def pw_conv2d_fwd_s8(geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    """``tt_pw_conv2d_fwd_s8``: 1x1 convolution without padding (any stride)."""
    if (geom.kernel_h, geom.kernel_w) != (1, 1) or (geom.pad_top, geom.pad_left, geom.pad_bottom, geom.pad_right) != (0, 0, 0, 0):
        raise ValueError("pointwise convolution needs a 1x1 kernel and no padding")
    return conv2d_fwd_s8(geom, quant, x, weights, bias)


def dw_conv2d_acc(geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    """The int32 accumulator of a depthwise convolution, ``(OH, OW, OC)``, ``OC = IC * multiplier``."""
    if geom.out_c % geom.in_c:
        raise ValueError("depthwise: out_c must be a multiple of in_c")
    mult = geom.out_c // geom.in_c
    x = _check(x, geom.in_shape, np.int8, "input")
    w = _check(weights, (1, geom.kernel_h, geom.kernel_w, geom.out_c), np.int8, "weights").astype(np.int64)
    xp = pad_centered(geom, x, quant.input_zp)
    if mult > 1:  # output channel ic*mult + m reads input channel ic
        xp = np.repeat(xp, mult, axis=2)
    acc = np.zeros(geom.out_shape, dtype=np.int64)
    for ky, kx, view in taps(geom, xp):
        acc += view * w[0, ky, kx]
    if bias is not None:
        acc += _check(bias, (geom.out_c,), np.int32, "bias").astype(np.int64)
    return wrap_int32(acc)


def dw_conv2d_fwd_s8(geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    """``tt_dw_conv2d_fwd_s8``: depthwise convolution (any kernel, stride, padding, multiplier)."""
    return requantize(dw_conv2d_acc(geom, quant, x, weights, bias), quant)


def fc_acc(quant: ConvQuant, x, weights, bias) -> np.ndarray:
    """The int32 accumulator of a fully connected layer: ``x`` is ``(in,)`` or ``(batches, in)``."""
    x = np.asarray(x)
    w = np.asarray(weights)
    if x.dtype != np.int8 or w.dtype != np.int8 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"fully connected: bad shapes/dtypes input {x.dtype}{x.shape}, weights {w.dtype}{w.shape}")
    xc = (x.astype(np.int64) - quant.input_zp).astype(np.float64)
    acc = (xc @ w.T.astype(np.float64)).astype(np.int64)
    if bias is not None:
        acc += _check(bias, (w.shape[0],), np.int32, "bias").astype(np.int64)
    return wrap_int32(acc)


def fc_fwd_s8(quant: ConvQuant, x, weights, bias) -> np.ndarray:
    """``tt_fc_fwd_s8``: fully connected with per-output-channel requantization (TFLM per-channel FC)."""
    return requantize(fc_acc(quant, x, weights, bias), quant)


def add_fwd_s8(quant: AddQuant, a, b) -> np.ndarray:
    """``tt_add_fwd_s8``: elementwise int8 add, same shapes, TFLite's ``left_shift`` scheme."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.dtype != np.int8 or b.dtype != np.int8:
        raise ValueError("add: inputs must be int8 arrays of the same shape")
    a1 = (a.astype(np.int64) - quant.input1_zp) << quant.left_shift
    b1 = (b.astype(np.int64) - quant.input2_zp) << quant.left_shift
    sa = multiply_by_quantized_multiplier(a1, quant.input1_multiplier, quant.input1_shift)
    sb = multiply_by_quantized_multiplier(b1, quant.input2_multiplier, quant.input2_shift)
    y = multiply_by_quantized_multiplier(sa + sb, quant.output_multiplier, quant.output_shift) + quant.output_zp
    return np.clip(y, quant.act_min, quant.act_max).astype(np.int8)


def avgpool_fwd_s8(geom: ConvGeom, quant: PoolQuant, x) -> np.ndarray:
    """``tt_avgpool_fwd_s8``: average of the window's in-bounds elements, rounded half away from zero.

    Padding only shrinks the window (padded positions are not counted), as in TFLite.
    """
    if geom.out_c != geom.in_c:
        raise ValueError("average pooling keeps the channel count")
    x = _check(x, geom.in_shape, np.int8, "input").astype(np.int64)
    valid = np.pad(np.ones(geom.in_shape[:2] + (1,), dtype=np.int64),
                   ((geom.pad_top, geom.pad_bottom), (geom.pad_left, geom.pad_right), (0, 0)))
    xp = np.pad(x, ((geom.pad_top, geom.pad_bottom), (geom.pad_left, geom.pad_right), (0, 0)))
    acc = np.zeros(geom.out_shape, dtype=np.int64)
    count = np.zeros(geom.out_shape[:2] + (1,), dtype=np.int64)
    for (_, _, v), (_, _, c) in zip(taps(geom, xp), taps(geom, valid)):
        acc += v
        count += c
    half = count // 2
    avg = np.where(acc > 0, acc + half, acc - half)
    avg = np.where(avg >= 0, avg // count, -((-avg) // count))  # C division truncates
    return np.clip(avg, quant.act_min, quant.act_max).astype(np.int8)


def mean_fwd_s8(geom: ConvGeom, quant: MeanQuant, x) -> np.ndarray:
    """``tt_mean_fwd_s8``: TFLite's MEAN over H and W (one output per channel, ``geom`` is the
    global window), requantized as :class:`MeanQuant` describes."""
    if geom.out_c != geom.in_c or geom.out_shape[:2] != (1, 1) or geom.kernel_h != geom.in_h or geom.kernel_w != geom.in_w:
        raise ValueError("a mean covers the whole input, per channel")
    x = _check(x, geom.in_shape, np.int8, "input").astype(np.int64)
    count = geom.in_h * geom.in_w
    acc = wrap_int32(x.sum(axis=(0, 1)) - count * quant.input_zp)
    y = multiply_by_quantized_multiplier(acc, quant.multiplier, quant.shift) + quant.output_zp
    return np.clip(y, quant.act_min, quant.act_max).astype(np.int8).reshape(geom.out_shape)


def _padded_below_int8(geom: ConvGeom, x: np.ndarray) -> np.ndarray:
    """``x`` as int16 with ``geom``'s padding filled with -129: a padded position never wins a max."""
    return np.pad(x.astype(np.int16), ((geom.pad_top, geom.pad_bottom), (geom.pad_left, geom.pad_right), (0, 0)),
                  constant_values=INT8_MIN - 1)


def maxpool_winners(geom: ConvGeom, x) -> np.ndarray:
    """For every output element, the tap ``ky * kernel_w + kx`` of the window's first maximum in
    row-major window order: the element a max pool's gradient goes to (ties: the first)."""
    xp = _padded_below_int8(geom, _check(x, geom.in_shape, np.int8, "input"))
    best = np.full(geom.out_shape, INT8_MIN - 1, np.int16)
    winner = np.zeros(geom.out_shape, np.int64)
    for ky, kx, view in taps(geom, xp):
        better = view > best
        best = np.where(better, view, best)
        winner = np.where(better, ky * geom.kernel_w + kx, winner)
    return winner


def maxpool_fwd_s8(geom: ConvGeom, quant: PoolQuant, x) -> np.ndarray:
    """``tt_maxpool_fwd_s8``: the largest in-bounds element of each window (padding never
    counts, as in TFLite), clamped; input and output share one quantization."""
    if geom.out_c != geom.in_c:
        raise ValueError("max pooling keeps the channel count")
    xp = _padded_below_int8(geom, _check(x, geom.in_shape, np.int8, "input"))
    y = np.full(geom.out_shape, INT8_MIN - 1, np.int16)
    for _, _, view in taps(geom, xp):
        y = np.maximum(y, view)
    return np.clip(y, quant.act_min, quant.act_max).astype(np.int8)


def _srdhm16(a: np.ndarray, b) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int16: high half of 2ab, rounded."""
    a, b = np.asarray(a, np.int32), np.asarray(b, np.int32)
    ab = a * b
    high = np.where(ab >= 0, ab + (1 << 14), ab + 1 - (1 << 14))
    high = np.where(high >= 0, high >> 15, -((-high) >> 15))  # C division truncates
    return np.where((a == b) & (a == -32768), 32767, high)


def _sat_left_shift16(a: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(np.asarray(a, np.int64) << amount, -32768, 32767)


def hard_swish_fwd_s8(quant: HardSwishQuant, x) -> np.ndarray:
    """``tt_hard_swish_fwd_s8``: TFLite's int8 HARD_SWISH, x * relu6(x + 3) / 6, in its 16-bit
    fixed point step by step (the "relu-ish" factor rounded down by a truncating doubling
    high multiply, as TFLM does to cancel the rounding bias)."""
    q = quant
    x = np.asarray(x)
    hires = (x.astype(np.int32) - q.input_zp) * 128
    preshift = _srdhm16(hires, q.output_multiplier)
    reluish = hires
    if q.reluish_exponent > 0:
        reluish = _sat_left_shift16(reluish, q.reluish_exponent - 1)
    reluish = _srdhm16(reluish, q.reluish_multiplier)
    if q.reluish_exponent > 0:
        reluish = _sat_left_shift16(reluish, 1)
    if q.reluish_exponent < 0:
        reluish = rounding_divide_by_pot(reluish, -q.reluish_exponent)
    reluish = (np.asarray(reluish, np.int32) + (1 << 15)) >> 1
    product = reluish.astype(np.int32) * np.asarray(preshift, np.int32)
    out = np.where(product >= 0, product >> 15, -((-product) >> 15))  # truncating doubling high multiply
    out = np.where((reluish == -32768) & (preshift == -32768), 32767, out)
    y = rounding_divide_by_pot(out, -q.output_exponent) + q.output_zp
    return np.clip(y, -128, 127).astype(np.int8)


def logistic_fwd_s8(quant: LogisticQuant, x) -> np.ndarray:
    """``tt_logistic_fwd_s8``: TFLite's int8 LOGISTIC (output scale 1/256, zero point -128):
    the input rescaled to Q4.27 and gemmlowp's fixed-point logistic, rounded to 8 bits."""
    q = quant
    centred = np.asarray(x, np.int64) - q.input_zp
    q4 = multiply_by_quantized_multiplier(np.clip(centred, -q.range_radius, q.range_radius), q.multiplier,
                                          q.left_shift)
    y = rounding_divide_by_pot(gemmlowp.logistic_q4(q4), 31 - 8) + LogisticQuant.OUTPUT_ZP
    y = np.where(centred <= -q.range_radius, INT8_MIN, np.where(centred >= q.range_radius, 127, y))
    return np.clip(y, INT8_MIN, 127).astype(np.int8)


def broadcast_operand(b, shape: tuple) -> np.ndarray:
    """A MUL's second operand as the kernels see it: element i of the first meets
    ``b[i % b.size]`` in memory order (the same shape, one value per channel of an HWC tensor,
    or a scalar), whatever shapes the arrays carry."""
    flat = np.asarray(b, np.int64).ravel()
    return np.tile(flat, int(np.prod(shape)) // flat.size).reshape(shape)


def mul_fwd_s8(quant: MulQuant, a, b) -> np.ndarray:
    """``tt_mul_fwd_s8``: TFLite's int8 MUL; ``b`` broadcasts against ``a`` (same shape, one value
    per channel as a squeeze-excite gate, or a scalar)."""
    a = np.asarray(a, np.int64)
    b = broadcast_operand(b, a.shape)
    prod = wrap_int32((a - quant.input1_zp) * (b - quant.input2_zp))
    y = multiply_by_quantized_multiplier(prod, quant.multiplier, quant.shift) + quant.output_zp
    return np.clip(y, quant.act_min, quant.act_max).astype(np.int8)


def requantize_s8(quant: RequantizeQuant, x) -> np.ndarray:
    """``tt_requantize_s8``: x to the output's quantization, clamped (:class:`RequantizeQuant`)."""
    v = np.asarray(x, np.int64) - quant.input_zp
    y = np.where(v >= 0, multiply_by_quantized_multiplier(v, quant.multiplier, quant.shift),
                 multiply_by_quantized_multiplier(v, quant.negative_multiplier, quant.negative_shift))
    return np.clip(y + quant.output_zp, quant.act_min, quant.act_max).astype(np.int8)


def concat_s8(geom: ConcatGeom, inputs) -> np.ndarray:
    """``tt_concat_s8``: the inputs' rows side by side (a copy: they share the quantization)."""
    rows = [np.asarray(x, np.int8).reshape(geom.outer, inner) for x, inner in zip(inputs, geom.inners, strict=True)]
    return np.concatenate(rows, axis=1).reshape(geom.out_shape)


def pad_s8(pads: tuple[int, int, int, int], fill: int, x) -> np.ndarray:
    """``tt_pad_s8``: an ``(H, W, C)`` tensor with ``pads`` (top, left, bottom, right) rows and
    columns of ``fill`` around it (a PAD that no convolution absorbs)."""
    t, l, b, r = pads
    return np.pad(np.asarray(x, np.int8), ((t, b), (l, r), (0, 0)), constant_values=fill)
