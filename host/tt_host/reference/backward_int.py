"""Integer backward kernels, bit-exact with the C kernels ``tt_<op>_bwd_*_s16``.

Gradient representation
-----------------------
A gradient tensor is **int16 values with one power-of-two exponent per tensor**
(``real = value * 2**exp``; block floating point), the type ``Grad``. int16 because the
Cortex-M7 multiplies 16x16 pairs with ``SMLAD`` at the same rate as widened int8, so 16-bit
gradients cost no MAC throughput over int8 while keeping ~15 significant bits instead of ~7,
at half the arena bytes of TTE's float32. A power-of-two exponent makes rescaling a shift and
lets every per-layer constant (the weight scales) be fixed at compile time.

Exponent policy: exact, per step, from a bound (no state, no saturation)
-----------------------------------------------------------------------
Each kernel picks its output exponent *before* accumulating, from a bound on the accumulator
that it computes in the same call: ``max|dY|`` (one pass over its gradient input) times the
largest absolute weight sum that can reach one output element (one pass over the weights;
the weights change every step, so this is not a compile-time constant). The exponent is the
smallest that keeps the bound below 2**15; the accumulator bound also guarantees int32
accumulation never overflows (if it could, dY is pre-shifted right by ``p`` bits first).
Alternatives considered:

* *previous step's maximum* (delayed/dynamic scaling): cheapest, but it makes every step
  depend on the training history (a host replay or a device reset must restore that state to
  stay bit-exact) and it saturates when a sample's loss gradient jumps (softmax gradients swing
  by ~100x between a confident and a wrong sample, more than the 3 bits of headroom);
* *exact maximum of the result*: needs either the whole int32 result before narrowing
  (2x the gradient buffer, as much as TTE's float32) or a second MAC pass (2x the time).

The bound costs one pass over dY and one over the weights (<= 1/(H*W) of the MACs), is
stateless and deterministic, and cannot overflow; its price is headroom: the largest element
typically lands at 2**10..2**13 instead of 2**15 (tests and ``bench/accuracy_grad_repr.py``
report it), still 3-6 more significant bits than an int8 gradient. Elementwise kernels
(``add_bwd_input_s16``, the loss) do use the exact maximum, which costs nothing there.

Arithmetic
----------
* Per-output-channel weight scales ``s_W[o] = S * ratio[o]`` (``GradQuant``) are folded into dY
  before the transposed op (conv, pointwise, FC): ``dY'[o] = round(dY[o] * ratio[o] / 2**p)``
  (Q31 multiply of ``dY * 2**16`` then one rounding shift). Depthwise applies the ratio to the
  accumulator instead (one output channel per weight channel). The int32 accumulator
  ``sum W_int8 * dY'`` is requantized to int16 with ``S`` and the chosen shift (TFLite's
  ``MultiplyByQuantizedMultiplier``).
* Average pooling multiplies by a Q30 reciprocal of each window's count (int64) and rounds once.
* Weight gradients ``sum dY * (x - zp)`` and bias gradients ``sum dY`` accumulate exactly in
  int64 and are stored as int32 with their own exponent (``real = v * s_x * 2**exp`` for
  weights, ``v * 2**exp`` for biases); the exponent equals dY's unless the bound exceeds int32,
  which needs outputs larger than 16x16.
* The clamp/ReLU backward multiplies by the saved 1-bit mask; the ADD backward passes dY to
  both addends and ``add_bwd_input_s16`` sums the two gradients that meet at the skip input.
* Depthwise backward supports depth multiplier 1 (all the shared models use it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tt_host.reference import backward as F
from tt_host.reference.forward import broadcast_operand, logistic_fwd_s8
from tt_host.reference.fixedpoint import (
    multiply_by_quantized_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)
from tt_host.reference.params import ConvGeom, GradQuant, HardSwishGrad, LogisticQuant, MulGrad, MulQuant

INT16_MIN, INT16_MAX = -32768, 32767
INT32_MAX = 2**31 - 1
GRAD_BITS = 15  #: bound target: |value| < 2**GRAD_BITS


@dataclass(frozen=True)
class Grad:
    """A gradient tensor: int16 (or int32 for weight/bias gradients) values and an exponent."""

    values: np.ndarray
    exp: int

    def to_float(self) -> np.ndarray:
        return self.values.astype(np.float64) * 2.0**self.exp

    def flat(self) -> Grad:
        return Grad(np.asarray(self.values).reshape(-1), self.exp)

    @classmethod
    def from_float(cls, x: np.ndarray, bits: int = 12) -> Grad:
        """Quantize real values with round-to-nearest so the maximum is below ``2**bits`` (tests)."""
        x = np.asarray(x, np.float64)
        m = float(np.abs(x).max()) if x.size else 0.0
        e = math.ceil(math.log2(m / 2.0**bits)) if m > 0 else -30
        v = np.clip(np.round(x / 2.0**e), INT16_MIN, INT16_MAX)
        return cls(v.astype(np.int16), e)


def _bitlen(v: int) -> int:
    return int(v).bit_length()


def _sat16(v: np.ndarray) -> np.ndarray:
    return np.clip(v, INT16_MIN, INT16_MAX).astype(np.int16)


def _max_abs(v: np.ndarray) -> int:
    return int(np.abs(v.astype(np.int64)).max()) if v.size else 0


def _rdbp(x: np.ndarray, e) -> np.ndarray:
    """Round half away from zero of ``x / 2**e`` on int64 (``0 <= e <= 62``)."""
    return rounding_divide_by_pot(np.asarray(x, np.int64), e)


def choose_shift(bound: int, scale_multiplier: int, scale_shift: int, exp_base: int) -> tuple[int, int]:
    """``(q, exp_out)`` for an accumulator whose real value is ``acc * S * 2**exp_base`` and
    ``|acc| <= bound < 2**31``: requantizing with ``(S's multiplier, q)`` gives values below
    ``2**15`` whose real value is ``v * 2**exp_out`` (``tt_grad_choose_shift``)."""
    if bound == 0:
        return 0, exp_base + scale_shift
    q = 46 - _bitlen(bound * scale_multiplier)
    return q, exp_base + scale_shift - q


def prescale_shift(max_dy: int, weight_bound: int) -> tuple[int, int]:
    """``(p, bound)``: the smallest pre-shift ``p`` with ``ceil(max_dy / 2**p) * weight_bound < 2**31``."""
    p = 0
    while True:
        m = (max_dy + (1 << p) - 1) >> p
        if m * weight_bound <= INT32_MAX:
            return p, m * weight_bound
        p += 1


def prescale(dy: np.ndarray, gq: GradQuant, p: int) -> np.ndarray:
    """``dY'[.., o] = round(dY * ratio[o] / 2**p)`` (channels last), as int64."""
    right = 16 - gq.shift.astype(np.int64) + p
    hi = saturating_rounding_doubling_high_mul(dy.astype(np.int64) * 65536, gq.multiplier.astype(np.int64))
    return np.where(right > 31, 0, _rdbp(hi, np.minimum(right, 31)))


def _finish(acc: np.ndarray, gq: GradQuant, bound: int, exp_base: int) -> Grad:
    q, e = choose_shift(bound, gq.scale_multiplier, gq.scale_shift, exp_base)
    if bound == 0:
        return Grad(np.zeros(acc.shape, np.int16), e)
    return Grad(_sat16(multiply_by_quantized_multiplier(acc, gq.scale_multiplier, q)), e)


def _conv_like_bwd_input(geom: ConvGeom, gq: GradQuant, dy: Grad, w: np.ndarray) -> Grad:
    w64 = w.astype(np.int64)
    wbound = int(np.abs(w64).sum(axis=(0, 1, 2)).max())  # max over input channels
    p, bound = prescale_shift(_max_abs(dy.values), wbound)
    dyp = prescale(dy.values, gq, p)
    acc = F.conv2d_bwd_input_f32(geom, w64.astype(np.float64), dyp.astype(np.float64)).astype(np.int64)
    return _finish(acc, gq, bound, dy.exp + p)


def conv2d_bwd_input_s16(geom: ConvGeom, gq: GradQuant, dy: Grad, weights: np.ndarray) -> Grad:
    """``tt_conv2d_bwd_input_s16``: dX of a general convolution (transposed convolution)."""
    w = np.asarray(weights).reshape(geom.out_c, geom.kernel_h, geom.kernel_w, geom.in_c)
    return _conv_like_bwd_input(geom, gq, Grad(np.asarray(dy.values).reshape(geom.out_shape), dy.exp), w)


def pw_conv2d_bwd_input_s16(geom: ConvGeom, gq: GradQuant, dy: Grad, weights: np.ndarray) -> Grad:
    """``tt_pw_conv2d_bwd_input_s16``: dX of a 1x1 convolution (any stride, no padding)."""
    return conv2d_bwd_input_s16(geom, gq, dy, weights)


def fc_bwd_input_s16(gq: GradQuant, dy: Grad, weights: np.ndarray) -> Grad:
    """``tt_fc_bwd_input_s16``: dX of a fully connected layer, ``weights`` ``(out, in)``."""
    w = np.asarray(weights)
    g = ConvGeom(1, 1, w.shape[1], 1, 1, w.shape[0], 1, 1)
    return conv2d_bwd_input_s16(g, gq, Grad(np.asarray(dy.values).reshape(1, 1, -1), dy.exp), w).flat()


def dw_conv2d_bwd_input_s16(geom: ConvGeom, gq: GradQuant, dy: Grad, weights: np.ndarray) -> Grad:
    """``tt_dw_conv2d_bwd_input_s16``: dX of a depthwise convolution (multiplier 1)."""
    if geom.out_c != geom.in_c:
        raise ValueError("depthwise backward supports depth multiplier 1")
    w = np.asarray(weights).reshape(1, geom.kernel_h, geom.kernel_w, geom.out_c).astype(np.int64)
    dyv = np.asarray(dy.values).reshape(geom.out_shape)
    bound = _max_abs(dyv) * int(np.abs(w).sum(axis=(0, 1, 2)).max())
    acc = F.dw_conv2d_bwd_input_f32(geom, w, dyv.astype(np.int64))
    acc = multiply_by_quantized_multiplier(acc, gq.multiplier, gq.shift)  # per-channel ratio, shift <= 0
    return _finish(acc, gq, bound, dy.exp)


def avgpool_counts(geom: ConvGeom) -> np.ndarray:
    """In-bounds element count of every window, ``(out_h, out_w)``."""
    rows = [min(oy * geom.stride_h - geom.pad_top + geom.kernel_h, geom.in_h) - max(oy * geom.stride_h - geom.pad_top, 0)
            for oy in range(geom.out_h)]
    cols = [min(ox * geom.stride_w - geom.pad_left + geom.kernel_w, geom.in_w) - max(ox * geom.stride_w - geom.pad_left, 0)
            for ox in range(geom.out_w)]
    return np.outer(rows, cols).astype(np.int64)


def avgpool_bwd_input_s16(geom: ConvGeom, dy: Grad) -> Grad:
    """``tt_avgpool_bwd_input_s16``: each window's dY spread over its in-bounds elements.

    ``acc = sum dY * round(2**30 / count)`` in int64, then one rounding shift chosen from the
    bound ``max|dY| * windows-per-element * max reciprocal`` (a global pool keeps 15 bits)."""
    cnt = avgpool_counts(geom)
    recip = ((1 << 30) + cnt // 2) // cnt
    dyv = np.asarray(dy.values).reshape(geom.out_shape).astype(np.int64)
    bound = _max_abs(dyv) * windows_per_element(geom) * int(recip.max())
    r = max(0, _bitlen(bound) - GRAD_BITS)
    share = dyv * recip[:, :, None]
    dxp = np.zeros((geom.in_h + geom.pad_top + geom.pad_bottom, geom.in_w + geom.pad_left + geom.pad_right, geom.in_c),
                   np.int64)
    for _, _, (sy, sx) in F._tap_slices(geom):
        dxp[sy, sx] += share
    acc = F._crop(geom, dxp)
    return Grad(_sat16(_rdbp(acc, r)), dy.exp - 30 + r)


def windows_per_element(geom: ConvGeom) -> int:
    """The most windows of a pooling geometry one input element lies in."""
    return (min(-(-geom.kernel_h // geom.stride_h), geom.out_h) *
            min(-(-geom.kernel_w // geom.stride_w), geom.out_w))


def maxpool_bwd_input_s16(geom: ConvGeom, x: np.ndarray, dy: Grad) -> Grad:
    """``tt_maxpool_bwd_input_s16``: each window's dY goes to its first maximum in the forward
    input ``x`` (row-major window order; padding never wins). The sums of overlapping windows
    are rounded once, by the shift that keeps ``max|dY| * windows-per-element`` in 15 bits (0
    for non-overlapping pools: dX is dY moved)."""
    winner = F.maxpool_winners(geom, x)
    dyv = np.asarray(dy.values).reshape(geom.out_shape).astype(np.int64)
    r = max(0, _bitlen(_max_abs(dyv) * windows_per_element(geom)) - GRAD_BITS)
    dxp = np.zeros((geom.in_h + geom.pad_top + geom.pad_bottom, geom.in_w + geom.pad_left + geom.pad_right, geom.in_c),
                   np.int64)
    for ky, kx, (sy, sx) in F._tap_slices(geom):
        dxp[sy, sx] += np.where(winner == ky * geom.kernel_w + kx, dyv, 0)
    return Grad(_sat16(_rdbp(F._crop(geom, dxp), r)), dy.exp + r)


#: Bound of hard swish's derivative in Q14 (1.5 at real +3, plus the multiplier's rounding).
HARD_SWISH_SLOPE_BOUND = 3 * (1 << 13) + 1


def hard_swish_derivative_q14(g: HardSwishGrad, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.int64)
    linear = (1 << 13) + multiply_by_quantized_multiplier(x - g.input_zp, g.multiplier, g.shift)
    return np.where(x < g.lo, 0, np.where(x > g.hi, 1 << 14, linear))


def hard_swish_bwd_input_s16(g: HardSwishGrad, x: np.ndarray, dy: Grad) -> Grad:
    """``tt_hard_swish_bwd_input_s16``: dX = dY * h'(x) with h' in Q14 from the forward input,
    rounded once by the shift that keeps max|dY| * 1.5 within 15 bits."""
    dyv = np.asarray(dy.values).astype(np.int64)
    r = max(0, _bitlen(_max_abs(dyv) * HARD_SWISH_SLOPE_BOUND) - GRAD_BITS)
    acc = dyv * hard_swish_derivative_q14(g, np.asarray(x).reshape(dyv.shape))
    return Grad(_sat16(_rdbp(acc, r)), dy.exp - 14 + r)


#: Bound of the logistic's derivative in Q16: s(1 - s) <= 1/4.
LOGISTIC_SLOPE_BOUND = 1 << 14


def logistic_derivative_q16(q: LogisticQuant, x: np.ndarray) -> np.ndarray:
    """s(1 - s) in Q16 at the int8 forward output s = (y + 128) / 256 of input ``x``: exactly
    (y + 128)(128 - y), an integer."""
    y = logistic_fwd_s8(q, x).astype(np.int64)
    return (y + 128) * (128 - y)


def logistic_bwd_input_s16(q: LogisticQuant, x: np.ndarray, dy: Grad) -> Grad:
    """``tt_logistic_bwd_input_s16``: dX = dY * s(1 - s) with s the forward's int8 output of
    ``x``, rounded once by the shift that keeps max|dY| / 4 within 15 bits."""
    dyv = np.asarray(dy.values).astype(np.int64)
    r = max(0, _bitlen(_max_abs(dyv) * LOGISTIC_SLOPE_BOUND) - GRAD_BITS)
    acc = dyv * logistic_derivative_q16(q, np.asarray(x).reshape(dyv.shape))
    return Grad(_sat16(_rdbp(acc, r)), dy.exp - 16 + r)


def _scaled(acc: np.ndarray, bound: int, multiplier: int, shift: int, exp_base: int) -> Grad:
    """int16 values of ``acc * s * 2**exp_base`` (``|acc| <= bound < 2**31``, ``s`` the scale
    ``multiplier``/``shift`` stand for), by :func:`choose_shift`."""
    q, e = choose_shift(bound, multiplier, shift, exp_base)
    if bound == 0:
        return Grad(np.zeros(acc.shape, np.int16), e)
    return Grad(_sat16(multiply_by_quantized_multiplier(acc, multiplier, q)), e)


def mul_bwd_a_s16(quant: MulQuant, g: MulGrad, b, dy: Grad) -> Grad:
    """``tt_mul_bwd_a_s16``: dA = dY * s_b (b - zp_b), ``b`` broadcast to dY's shape (the same
    shape, one value per channel, or a scalar)."""
    dyv = np.asarray(dy.values).astype(np.int64)
    bc = broadcast_operand(b, dyv.shape) - quant.input2_zp
    return _scaled(dyv * bc, _max_abs(dyv) * _max_abs(bc), g.b_multiplier, g.b_shift, dy.exp)


def mul_bwd_b_s16(quant: MulQuant, g: MulGrad, a, dy: Grad, b_numel: int) -> Grad:
    """``tt_mul_bwd_b_s16``: dB = dY * s_a (a - zp_a) summed over the positions ``b`` was
    broadcast to (``b_numel`` = a's size: none; = channels: a squeeze-excite gate). The sums are
    exact in int64, brought under 2**31 by one rounding shift, then scaled once."""
    dyv = np.asarray(dy.values).astype(np.int64).reshape(-1, b_numel)
    ac = np.asarray(a, np.int64).reshape(dyv.shape) - quant.input1_zp
    acc = (dyv * ac).sum(axis=0)
    bound = _max_abs(dyv) * _max_abs(ac) * dyv.shape[0]
    r = max(0, _bitlen(bound) - 31)
    return _scaled(_rdbp(acc, r), (bound + (1 << r) - 1) >> r, g.a_multiplier, g.a_shift, dy.exp + r)


def leaky_relu_bwd_input_s16(input_zp: int, alpha_multiplier: int, alpha_shift: int, x, dy: Grad) -> Grad:
    """``tt_leaky_relu_bwd_input_s16``: dX = dY where the forward input x is at or above its zero
    point, alpha * dY (alpha <= 1 as a Q31 multiplier and shift, rounded) below it; dY's exponent."""
    dyv = np.asarray(dy.values).astype(np.int64)
    below = np.asarray(x, np.int64).reshape(dyv.shape) < input_zp
    scaled = multiply_by_quantized_multiplier(dyv, alpha_multiplier, alpha_shift)
    return Grad(np.where(below, scaled, dyv).astype(np.int16), dy.exp)


def crop_s16(in_shape: tuple[int, int, int], pads: tuple[int, int, int, int], dy: Grad) -> Grad:
    """``tt_crop_s16``: a PAD's input gradient, dY without the padded rows and columns (dY's
    exponent); ``in_shape`` is the PAD's input (H, W, C)."""
    h, w, c = in_shape
    t, l, b, r = pads
    grid = np.asarray(dy.values).reshape(h + t + b, w + l + r, c)
    return Grad(np.ascontiguousarray(grid[t:t + h, l:l + w]).ravel(), dy.exp)


def slice_s16(outer: int, total: int, offset: int, inner: int, dy: Grad) -> Grad:
    """``tt_slice_s16``: columns [offset, offset + inner) of dY seen as ``outer`` rows of
    ``total``: a concatenation's input gradient (its exponent is dY's)."""
    rows = np.asarray(dy.values).reshape(outer, total)
    return Grad(np.ascontiguousarray(rows[:, offset:offset + inner]).ravel(), dy.exp)


def mask_bwd_s16(packed_mask: np.ndarray, dy: Grad) -> Grad:
    """``tt_mask_bwd_s16``: clamp/ReLU backward through the packed 1-bit mask (exponent kept)."""
    v = np.asarray(dy.values)
    m = F.unpack_mask(packed_mask, v.shape).astype(np.int16)
    return Grad((v * m).astype(np.int16), dy.exp)


def mask_pack_s8(y: np.ndarray, act_min: int, act_max: int) -> np.ndarray:
    """``tt_mask_pack_s8``: bit ``i`` = ``act_min < y[i] < act_max``, LSB first, padding bits 0."""
    return F.pack_mask(F.clamp_mask(y, act_min, act_max))


def add_bwd_input_s16(dy: Grad, dother: Grad) -> Grad:
    """``tt_add_bwd_input_s16``: the gradient of a residual ADD's skip input, ``dY + dOther``.

    ADD passes dY to both addends unchanged (real scale 1: no kernel needed for the fan-out);
    where the skip tensor also fed the block, its gradient is the sum of dY and the gradient
    that came back through the block. Both are aligned to the larger exponent (rounding the
    other), summed exactly, and halved only if the exact maximum exceeds int16."""
    a = np.asarray(dy.values).astype(np.int64)
    b = np.asarray(dother.values).astype(np.int64).reshape(a.shape)
    emax = max(dy.exp, dother.exp)
    s = _rdbp(a, min(emax - dy.exp, 31)) + _rdbp(b, min(emax - dother.exp, 31))
    r = 1 if _max_abs(s) > INT16_MAX else 0
    return Grad(_sat16(_rdbp(s, r)), emax + r)


def _wgrad_shift(max_dy: int, input_zp: int, positions: int) -> int:
    bound = max_dy * (128 + abs(int(input_zp))) * positions
    return max(0, _bitlen(bound) - 31)


def conv2d_bwd_weight_s16(geom: ConvGeom, input_zp: int, channels, x: np.ndarray, dy: Grad) -> Grad:
    """``tt_conv2d_bwd_weight_s16``: int32 dW ``(out_c, kh, kw, len(channels))``, ``real = v * s_x * 2**exp``."""
    xv = np.asarray(x).reshape(geom.in_shape).astype(np.int64) - input_zp
    dyv = np.asarray(dy.values).reshape(geom.out_shape)
    acc = F.conv2d_bwd_weight_f32(geom, xv.astype(np.float64), dyv.astype(np.float64), list(channels)).astype(np.int64)
    r = _wgrad_shift(_max_abs(dyv), input_zp, geom.out_h * geom.out_w)
    return Grad(_rdbp(acc, r).astype(np.int32), dy.exp + r)


def pw_conv2d_bwd_weight_s16(geom: ConvGeom, input_zp: int, channels, x: np.ndarray, dy: Grad) -> Grad:
    """``tt_pw_conv2d_bwd_weight_s16``: as ``conv2d_bwd_weight_s16`` for a 1x1 kernel."""
    return conv2d_bwd_weight_s16(geom, input_zp, channels, x, dy)


def dw_conv2d_bwd_weight_s16(geom: ConvGeom, input_zp: int, channels, x: np.ndarray, dy: Grad) -> Grad:
    """``tt_dw_conv2d_bwd_weight_s16``: int32 dW ``(1, kh, kw, len(channels))`` of a depthwise conv."""
    xv = np.asarray(x).reshape(geom.in_shape).astype(np.int64) - input_zp
    dyv = np.asarray(dy.values).reshape(geom.out_shape)
    acc = F.dw_conv2d_bwd_weight_f32(geom, xv, dyv.astype(np.int64), list(channels))
    r = _wgrad_shift(_max_abs(dyv), input_zp, geom.out_h * geom.out_w)
    return Grad(_rdbp(acc, r).astype(np.int32), dy.exp + r)


def fc_bwd_weight_s16(input_zp: int, channels, x: np.ndarray, dy: Grad) -> Grad:
    """``tt_fc_bwd_weight_s16``: int32 dW ``(out, len(channels))`` (exact: no shift is ever needed)."""
    xv = np.asarray(x).ravel().astype(np.int64) - input_zp
    acc = F.fc_bwd_weight_f32(xv, np.asarray(dy.values).ravel().astype(np.int64), list(channels))
    return Grad(acc.astype(np.int32), dy.exp)


def bias_bwd_s16(dy: Grad, out_c: int | None = None) -> Grad:
    """``tt_bias_bwd_s16``: int32 db, the sum of dY over positions (``real = v * 2**exp``)."""
    v = np.asarray(dy.values)
    out_c = v.shape[-1] if out_c is None else out_c
    flat = v.reshape(-1, out_c).astype(np.int64)
    bound = _max_abs(flat) * flat.shape[0]
    r = max(0, _bitlen(bound) - 31)
    return Grad(_rdbp(flat.sum(axis=0), r).astype(np.int32), dy.exp + r)
