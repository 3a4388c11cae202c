"""TFLite's fixed-point requantization, vectorised and bit-exact.

These mirror gemmlowp / TFLite's ``SaturatingRoundingDoublingHighMul``,
``RoundingDivideByPOT`` and ``MultiplyByQuantizedMultiplier`` (double rounding, the TFLM
default), and ``QuantizeMultiplier``, which turns a real multiplier into a Q31 significand
and a power-of-two exponent. All arithmetic is done in int64 and the results are int32
values held in int64 arrays, so callers can keep accumulating without casts.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of an int64 array into the int32 range (what the C does)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + 2**31) & 0xFFFFFFFF) - 2**31


def _trunc_div_pow2(x: np.ndarray, bits: int) -> np.ndarray:
    # C integer division by 2**bits rounds toward zero.
    return np.where(x >= 0, x >> bits, -((-x) >> bits))


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """High 32 bits of ``2*a*b`` rounded to nearest (ties away from zero), saturated."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = _trunc_div_pow2(ab + nudge, 31)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """``x / 2**exponent`` rounded to nearest, ties away from zero (``0 <= exponent <= 31``)."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """TFLite ``MultiplyByQuantizedMultiplier`` (double rounding).

    ``shift`` > 0 shifts left before the multiply (in int32, wrapping like the C),
    ``shift`` < 0 is a rounding right shift after it. Broadcasts over the last axis when
    ``multiplier``/``shift`` are per-channel vectors.
    """
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: ``real ~= m * 2**(shift-31)`` with ``m`` in [2**30, 2**31).

    Returns ``(0, 0)`` for 0. Exponents below -31 flush to ``(0, 0)`` and above 30 saturate,
    as in TFLite.
    """
    real = float(real)
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = math.floor(abs(q) * (1 << 31) + 0.5)  # std::round on a non-negative value
    q_fixed = q_fixed if q >= 0 else -q_fixed
    if abs(q_fixed) == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return INT32_MAX, 30
    return int(q_fixed), int(shift)


def tflite_round(x: float) -> int:
    """``std::round``: half away from zero."""
    return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)
