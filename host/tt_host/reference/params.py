"""Geometry and quantization parameters, mirroring the C structs of ``tt/kernels/types.h``.

The constructors here derive the integer parameters from TFLite's real-valued scales with
exactly TFLM's arithmetic (double precision, ``QuantizeMultiplier``), so a graph run through
the reference is bit-identical to TFLite Micro.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tt_host.reference.fixedpoint import quantize_multiplier, tflite_round
from tt_host.reference.gemmlowp import INPUT_INTEGER_BITS

INT8_MIN = -128
INT8_MAX = 127


@dataclass(frozen=True)
class ConvGeom:
    """``tt_conv_geom_t``: NHWC batch 1, explicit (possibly asymmetric) padding, dilation 1.

    Also used for average pooling (``out_c == in_c``) and by the pointwise and depthwise
    kernels (``out_c == in_c * depth_multiplier``).
    """

    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    kernel_h: int
    kernel_w: int
    stride_h: int = 1
    stride_w: int = 1
    pad_top: int = 0
    pad_left: int = 0
    pad_bottom: int = 0
    pad_right: int = 0

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise ValueError(f"inconsistent geometry {self}: {problem}")

    def problem(self) -> str | None:
        """Why the geometry is not a valid convolution, or ``None`` (same rule as the C)."""
        if min(self.in_h, self.in_w, self.in_c, self.out_h, self.out_w, self.out_c) < 1:
            return "dimensions must be >= 1"
        if min(self.kernel_h, self.kernel_w, self.stride_h, self.stride_w) < 1:
            return "kernel and stride must be >= 1"
        if min(self.pad_top, self.pad_left, self.pad_bottom, self.pad_right) < 0:
            return "padding must be >= 0"
        if max(self.pad_top, self.pad_bottom) >= self.kernel_h or max(self.pad_left, self.pad_right) >= self.kernel_w:
            return "padding must be smaller than the kernel"
        for n_in, n_out, k, s, p0, p1 in (
            (self.in_h, self.out_h, self.kernel_h, self.stride_h, self.pad_top, self.pad_bottom),
            (self.in_w, self.out_w, self.kernel_w, self.stride_w, self.pad_left, self.pad_right),
        ):
            if n_in + p0 + p1 < k or (n_in + p0 + p1 - k) // s + 1 != n_out:
                return "output size does not match input, kernel, stride and padding"
        return None

    @classmethod
    def same(cls, in_h, in_w, in_c, out_c, kernel_h, kernel_w, stride_h=1, stride_w=1) -> ConvGeom:
        """TFLite ``SAME`` padding (extra row/column at the bottom/right)."""
        out_h = -(-in_h // stride_h)
        out_w = -(-in_w // stride_w)
        ph = max((out_h - 1) * stride_h + kernel_h - in_h, 0)
        pw = max((out_w - 1) * stride_w + kernel_w - in_w, 0)
        return cls(in_h, in_w, in_c, out_h, out_w, out_c, kernel_h, kernel_w, stride_h, stride_w,
                   ph // 2, pw // 2, ph - ph // 2, pw - pw // 2)

    @classmethod
    def explicit(cls, in_h, in_w, in_c, out_c, kernel_h, kernel_w, stride_h=1, stride_w=1,
                 pad_top=0, pad_left=0, pad_bottom=0, pad_right=0) -> ConvGeom:
        """Output size derived from the given padding (``VALID`` is all zeros)."""
        out_h = (in_h + pad_top + pad_bottom - kernel_h) // stride_h + 1
        out_w = (in_w + pad_left + pad_right - kernel_w) // stride_w + 1
        return cls(in_h, in_w, in_c, out_h, out_w, out_c, kernel_h, kernel_w, stride_h, stride_w,
                   pad_top, pad_left, pad_bottom, pad_right)

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return (self.in_h, self.in_w, self.in_c)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.out_h, self.out_w, self.out_c)


@dataclass(frozen=True)
class ConvQuant:
    """``tt_conv_quant_t``: per-output-channel requantization (conv, depthwise, pointwise, FC)."""

    input_zp: int
    output_zp: int
    multiplier: np.ndarray  #: int32 Q31 significands, one per output channel
    shift: np.ndarray  #: int32 exponents (TFLite convention: > 0 left, < 0 right)
    act_min: int = INT8_MIN
    act_max: int = INT8_MAX

    @classmethod
    def from_scales(cls, input_scale, input_zp, weight_scales, output_scale, output_zp,
                    act_min=INT8_MIN, act_max=INT8_MAX) -> ConvQuant:
        """TFLM ``PopulateConvolutionQuantizationParams``: ``double(s_x) * double(s_w[c]) / double(s_y)``."""
        s_x = float(np.float32(input_scale))
        s_y = float(np.float32(output_scale))
        pairs = [quantize_multiplier(s_x * float(np.float32(s_w)) / s_y) for s_w in np.atleast_1d(weight_scales)]
        return cls(int(input_zp), int(output_zp),
                   np.array([m for m, _ in pairs], dtype=np.int32),
                   np.array([s for _, s in pairs], dtype=np.int32), int(act_min), int(act_max))


@dataclass(frozen=True)
class AddQuant:
    """``tt_add_quant_t``: TFLite's int8 ADD (both inputs rescaled to ``2*max(s1, s2)``, ``left_shift`` 20)."""

    input1_zp: int
    input2_zp: int
    output_zp: int
    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    act_min: int = INT8_MIN
    act_max: int = INT8_MAX

    @classmethod
    def from_scales(cls, s1, zp1, s2, zp2, s_out, zp_out, act_min=INT8_MIN, act_max=INT8_MAX) -> AddQuant:
        """TFLM ``CalculateOpData`` of ADD, in double precision."""
        left_shift = 20
        s1, s2, s_out = (float(np.float32(v)) for v in (s1, s2, s_out))
        twice_max = 2.0 * max(s1, s2)
        m1, sh1 = quantize_multiplier(s1 / twice_max)
        m2, sh2 = quantize_multiplier(s2 / twice_max)
        mo, sho = quantize_multiplier(twice_max / ((1 << left_shift) * s_out))
        if max(sh1, sh2, sho) > 0:
            raise ValueError("ADD multipliers must be smaller than one")
        return cls(int(zp1), int(zp2), int(zp_out), left_shift, m1, sh1, m2, sh2, mo, sho,
                   int(act_min), int(act_max))


@dataclass(frozen=True)
class PoolQuant:
    """``tt_pool_quant_t``: average pooling keeps the input quantization; only a clamp."""

    act_min: int = INT8_MIN
    act_max: int = INT8_MAX


@dataclass(frozen=True)
class MeanQuant:
    """``tt_mean_quant_t``: TFLite's int8 MEAN over a window of ``count`` elements
    (``QuantizedMeanOrSum``): ``(sum - count * input_zp)`` requantized by ``multiplier`` and
    ``shift``, which fold ``s_in / s_out`` and ``1 / count`` into one fixed-point factor as TFLM
    folds them, plus ``output_zp``, clamped. The same arithmetic runs whether or not the scales
    differ (TFLM has no separate path for an unchanged quantization)."""

    input_zp: int
    output_zp: int
    multiplier: int
    shift: int
    act_min: int = INT8_MIN
    act_max: int = INT8_MAX

    @classmethod
    def from_scales(cls, in_scale: float, in_zp: int, out_scale: float, out_zp: int, count: int) -> MeanQuant:
        multiplier, shift = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
        # TFLM: fold 1/count as a left shift by floor(log2(count)) (at most 32, and never past a
        # right shift of 31 in the result) followed by an integer division.
        fold = min(count.bit_length() - 1, 32, 31 + shift)
        return cls(int(in_zp), int(out_zp), (multiplier << fold) // count, shift - fold)


@dataclass(frozen=True)
class RequantizeQuant:
    """``tt_requantize_quant_t``: y = clamp(MultiplyByQuantizedMultiplier(x - input_zp) + output_zp)
    elementwise, by ``negative_multiplier``/``negative_shift`` where x is below ``input_zp``:
    TFLite's standalone RELU (a requantization to the output's scale, clamped at its 0), RELU6 (a
    clamp in the input's quantization: identity multiplier), LEAKY_RELU (alpha times the scale
    ratio on the negative side) and an int8 -> int8 QUANTIZE (a requantization)."""

    input_zp: int
    output_zp: int
    multiplier: int
    shift: int
    negative_multiplier: int
    negative_shift: int
    act_min: int = INT8_MIN
    act_max: int = INT8_MAX

    #: ``MultiplyByQuantizedMultiplier(x, IDENTITY)`` is x exactly.
    IDENTITY: ClassVar[tuple[int, int]] = (1 << 30, 1)

    @classmethod
    def relu(cls, op: str, s_in: float, zp_in: int, s_out: float, zp_out: int) -> RequantizeQuant:
        """TFLM's ``CalculateReluOpData`` (RELU) and ``Relu6Prepare`` (RELU6)."""
        s_in, s_out = np.float32(s_in), np.float32(s_out)
        if op == "RELU6":  # a clamp of the input at its own 0 and 6: the output shares its quantization
            six = int(np.clip(np.round(np.float32(6.0) / s_in) + zp_in, INT8_MIN, INT8_MAX))
            return cls(int(zp_in), int(zp_in), *cls.IDENTITY, *cls.IDENTITY, int(zp_in), six)
        if op != "RELU":
            raise ValueError(f"{op} has no kernel")
        ratio = quantize_multiplier(float(s_in / s_out))  # the quotient in float, as TFLM
        return cls(int(zp_in), int(zp_out), *ratio, *ratio, max(INT8_MIN, int(zp_out)), INT8_MAX)

    @classmethod
    def leaky_relu(cls, alpha: float, s_in: float, zp_in: int, s_out: float, zp_out: int) -> RequantizeQuant:
        """TFLM's ``CalculateOpDataLeakyRelu`` (the products and quotients in float)."""
        s_in, s_out, alpha = np.float32(s_in), np.float32(s_out), np.float32(alpha)
        identity = quantize_multiplier(float(s_in / s_out))
        negative = quantize_multiplier(float(s_in * alpha / s_out))
        return cls(int(zp_in), int(zp_out), *identity, *negative)

    @classmethod
    def requantize(cls, s_in: float, zp_in: int, s_out: float, zp_out: int) -> RequantizeQuant:
        """TFLM's int8 -> int8 QUANTIZE (``Requantize``)."""
        ratio = quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
        return cls(int(zp_in), int(zp_out), *ratio, *ratio)


@dataclass(frozen=True)
class MulQuant:
    """``tt_mul_quant_t``: TFLite's int8 MUL, ``(a - zp_a)(b - zp_b)`` requantized by
    s_a s_b / s_out (computed in double, as TFLM's ``CalculateOpDataMul``) plus ``output_zp``."""

    input1_zp: int
    input2_zp: int
    output_zp: int
    multiplier: int
    shift: int
    act_min: int = INT8_MIN
    act_max: int = INT8_MAX

    @classmethod
    def from_scales(cls, s1: float, zp1: int, s2: float, zp2: int, s_out: float, zp_out: int,
                    act_min: int = INT8_MIN, act_max: int = INT8_MAX) -> MulQuant:
        m, shift = quantize_multiplier(float(np.float32(s1)) * float(np.float32(s2)) / float(np.float32(s_out)))
        return cls(int(zp1), int(zp2), int(zp_out), m, shift, int(act_min), int(act_max))


@dataclass(frozen=True)
class ConcatGeom:
    """``CONCATENATION`` along one axis of tensors that share a quantization: each input is
    ``outer`` rows of ``inners[k]`` elements (the elements from the axis on), the output
    ``outer`` rows of their sum, input k's row at column ``sum(inners[:k])``."""

    outer: int
    inners: tuple[int, ...]
    out_shape: tuple[int, ...]  #: the output's shape, batch dropped

    @property
    def total(self) -> int:
        return sum(self.inners)

    def offset(self, k: int) -> int:
        return sum(self.inners[:k])


@dataclass(frozen=True)
class MulGrad:
    """``tt_mul_grad_t``: the scales a MUL's input gradients multiply by (dA = dY * s_b (b - zp_b),
    dB = dY * s_a (a - zp_a)), as Q31 multipliers and shifts."""

    a_multiplier: int
    a_shift: int
    b_multiplier: int
    b_shift: int

    @classmethod
    def from_scales(cls, s_a: float, s_b: float) -> MulGrad:
        return cls(*quantize_multiplier(float(np.float32(s_a))), *quantize_multiplier(float(np.float32(s_b))))


@dataclass(frozen=True)
class HardSwishGrad:
    """``tt_hard_swish_grad_t``: hard swish's derivative at an int8 input in Q14: 0 below
    real -3, 1 above +3, x / 3 + 1/2 from -3 to +3 (PyTorch's choice at the kinks);
    ``multiplier``/``shift`` take ``x - input_zp`` to Q14 of x_real / 3, and [lo, hi] are the
    int8 inputs whose real value lies in [-3, 3]."""

    input_zp: int
    multiplier: int
    shift: int
    lo: int
    hi: int

    @classmethod
    def from_scale(cls, scale: float, zero_point: int) -> HardSwishGrad:
        s = float(np.float32(scale))
        multiplier, shift = quantize_multiplier(s / 3.0 * (1 << 14))
        real = s * (np.arange(INT8_MIN, INT8_MAX + 1) - zero_point)
        lo = INT8_MIN + int(np.count_nonzero(real < -3.0))
        hi = INT8_MAX - int(np.count_nonzero(real > 3.0))
        return cls(int(zero_point), multiplier, shift, lo, hi)


def _int16_multiplier(multiplier_q31: int) -> int:
    """TFLite ``DownScaleInt32ToInt16Multiplier``: a Q31 significand rounded to Q15."""
    if multiplier_q31 >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (multiplier_q31 + (1 << 15)) >> 16


@dataclass(frozen=True)
class HardSwishQuant:
    """``tt_hard_swish_quant_t``: TFLite's int8 HARD_SWISH (``HardSwishParams``), derived in
    float32 as TFLM derives it: the input on a "high resolution" scale s_in / 128, a Q15
    multiplier to the output scale and one to the scale where 3.0 is 32768 (the "relu-ish"
    factor in [0, 1])."""

    input_zp: int
    output_zp: int
    output_multiplier: int  #: Q15
    output_exponent: int  #: <= 0
    reluish_multiplier: int  #: Q15
    reluish_exponent: int

    @classmethod
    def from_scales(cls, in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> HardSwishQuant:
        hires = np.float32(1.0 / 128.0) * np.float32(in_scale)
        out_m, out_e = quantize_multiplier(float(hires / np.float32(out_scale)))
        relu_m, relu_e = quantize_multiplier(float(hires / (np.float32(3.0) / np.float32(32768.0))))
        if out_e > 0:
            raise ValueError("HARD_SWISH: the output scale must be at least the input scale / 128")
        return cls(int(in_zp), int(out_zp), _int16_multiplier(out_m), out_e, _int16_multiplier(relu_m), relu_e)


@dataclass(frozen=True)
class LogisticQuant:
    """``tt_logistic_quant_t``: TFLite's int8 LOGISTIC, derived as TFLM derives it: the input
    less its zero point times ``multiplier * 2^(left_shift - 31)`` is Q4.27 (real s_in * 2^27,
    split by frexp in double), and inputs at least ``range_radius`` steps from the zero point
    saturate to 0 or 1. The output is always quantized at 1/256 with zero point -128."""

    input_zp: int
    range_radius: int
    multiplier: int  #: Q31
    left_shift: int

    #: The output quantization TFLite gives every int8 LOGISTIC (its kernel assumes it).
    OUTPUT_SCALE = 1.0 / 256.0
    OUTPUT_ZP = INT8_MIN

    @classmethod
    def from_scale(cls, in_scale: float, in_zp: int) -> LogisticQuant:
        integer_bits = INPUT_INTEGER_BITS  # the Q4.27 of gemmlowp's logistic
        q, left_shift = math.frexp(float(np.float32(in_scale)) * float(1 << (31 - integer_bits)))
        multiplier = tflite_round(q * (1 << 31))
        if not 0 <= left_shift <= 31 or multiplier >= 1 << 31:
            raise ValueError(f"LOGISTIC: an input scale of {in_scale} is outside what TFLite's int8 kernel handles")
        # CalculateInputRadius: the largest |input| that stays inside Q4.27 once rescaled.
        radius = math.floor(((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left_shift))
        return cls(int(in_zp), int(radius), int(multiplier), int(left_shift))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """TFLite ``CalculateActivationRangeQuantized`` for int8 outputs."""
    lo, hi = INT8_MIN, INT8_MAX
    scale = float(np.float32(scale))
    if activation == "NONE":
        return lo, hi
    if activation == "RELU":
        return max(lo, zero_point + tflite_round(0.0 / scale)), hi
    if activation == "RELU6":
        return max(lo, zero_point), min(hi, zero_point + tflite_round(6.0 / scale))
    if activation == "RELU_N1_TO_1":
        return max(lo, zero_point + tflite_round(-1.0 / scale)), min(hi, zero_point + tflite_round(1.0 / scale))
    raise ValueError(f"unsupported fused activation {activation}")


def _ratio_pair(real: float) -> tuple[int, int]:
    """Q31 pair of a ratio in (0, 1] with shift <= 0 (1.0 becomes ``INT32_MAX * 2**-31``), so
    the backward kernels never shift a gradient left."""
    m, s = quantize_multiplier(real)
    if s > 0:
        return 2**31 - 1, 0
    return m, s


@dataclass(frozen=True)
class GradQuant:
    """``tt_grad_quant_t``: the weight scales a backward-input kernel folds into the gradient.

    ``s_W[o] = S * ratio[o]`` with ``S = max_o s_W[o]`` given as the Q31 pair
    (``scale_multiplier``, ``scale_shift``) and ``ratio[o]`` in (0, 1] as the per-output-channel
    pairs (``multiplier``, ``shift``), ``shift <= 0``.
    """

    multiplier: np.ndarray  #: int32, out_c
    shift: np.ndarray  #: int32, out_c, <= 0
    scale_multiplier: int
    scale_shift: int

    @classmethod
    def from_weight_scales(cls, weight_scales) -> GradQuant:
        s = [float(np.float32(v)) for v in np.atleast_1d(weight_scales)]
        if min(s) <= 0:
            raise ValueError("weight scales must be positive")
        big = max(s)
        pairs = [_ratio_pair(v / big) for v in s]
        m, sh = quantize_multiplier(big)
        return cls(np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32), m, sh)

    @property
    def scales(self) -> np.ndarray:
        """The real per-channel weight scales these integers represent (float64)."""
        S = self.scale_multiplier * 2.0 ** (self.scale_shift - 31)
        return S * self.multiplier.astype(np.float64) * 2.0 ** (self.shift.astype(np.float64) - 31)
