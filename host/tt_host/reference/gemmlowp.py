"""gemmlowp's fixed-point logistic, vectorised: what TFLite Micro's int8 LOGISTIC computes.

TFLM rescales the int8 input (less its zero point) to a Q4.27 fixed-point number and evaluates
``gemmlowp::logistic`` on it: exp of a negative argument by a Taylor polynomial on [-1/4, 0)
and a barrel shifter of exp(-2^k) constants for the rest, then 1 / (1 + x) by three
Newton-Raphson steps. Every operation here is the same int32 operation on the same raw values
(numpy int64 arrays holding int32 values), so the result is bit-exact; ``tt_logistic_fwd_s8``
in C does the same per element.
"""

from __future__ import annotations

import numpy as np

from tt_host.reference.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)

#: Integer bits of the logistic's input (Q4.27) and fractional bits that leaves.
INPUT_INTEGER_BITS = 4
_FRACTIONAL_BITS = 31 - INPUT_INTEGER_BITS
#: FixedPoint<int32, 0>::One(): the largest raw value, as 1.0 is not representable.
ONE_Q0 = INT32_MAX

#: exp(-2^k) in Q0.31 for the barrel shifter, k = -2 .. 3 (k = 4 is past a Q4.27 input's range).
_EXP_OF_MINUS_POT = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401))


def _mul(a, b) -> np.ndarray:
    """FixedPoint multiplication: the integer bits add, the raw value is the doubling high product."""
    return saturating_rounding_doubling_high_mul(a, b)


def _mul_by_pot(x, exponent: int) -> np.ndarray:
    """``SaturatingRoundingMultiplyByPOT``: rounding right shift, or saturating left shift."""
    x = np.asarray(x, np.int64)
    if exponent <= 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def _rounding_half_sum(a, b) -> np.ndarray:
    total = np.asarray(a, np.int64) + np.asarray(b, np.int64)
    return np.trunc((total + np.where(total >= 0, 1, -1)) / 2).astype(np.int64)


def _exp_on_quarter_interval(a) -> np.ndarray:
    """exp(a) for a Q0.31 ``a`` in [-1/4, 0): Taylor expansion around -1/8."""
    constant_term, one_third = 1895147668, 715827883  # exp(-1/8), 1/3
    x = wrap_int32(a + (1 << 28))
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = _mul_by_pot(x4, -2)
    poly = _mul_by_pot(wrap_int32(_mul(wrap_int32(x4_over_4 + x3), one_third) + x2), -1)
    return wrap_int32(constant_term + _mul(constant_term, wrap_int32(x + poly)))


def exp_on_negative_values(a) -> np.ndarray:
    """exp(a) in Q0.31 for a Q4.27 ``a`` <= 0."""
    a = np.asarray(a, np.int64)
    quarter = 1 << (_FRACTIONAL_BITS - 2)
    a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter
    result = _exp_on_quarter_interval(_mul_by_pot(a_mod_quarter_minus_quarter, INPUT_INTEGER_BITS))
    remainder = wrap_int32(a_mod_quarter_minus_quarter - a)
    for exponent, multiplier in _EXP_OF_MINUS_POT:
        bit = (remainder & (1 << (_FRACTIONAL_BITS + exponent))) != 0
        result = np.where(bit, _mul(result, multiplier), result)
    return np.where(a == 0, ONE_Q0, result)


def _one_over_one_plus(a) -> np.ndarray:
    """1 / (1 + a) in Q0.31 for a Q0.31 ``a`` in [0, 1]: Newton-Raphson in Q2.29."""
    half_denominator = _rounding_half_sum(a, ONE_Q0)
    x = wrap_int32(1515870810 + _mul(half_denominator, -1010580540))  # 48/17 - 32/17 * d
    for _ in range(3):
        one_minus = wrap_int32((1 << 29) - _mul(half_denominator, x))
        x = wrap_int32(x + _mul_by_pot(_mul(x, one_minus), 2))
    return _mul_by_pot(x, 1)


def logistic_q4(a) -> np.ndarray:
    """``gemmlowp::logistic`` of a Q4.27 input: 1 / (1 + exp(-a)) in Q0.31."""
    a = np.asarray(a, np.int64)
    positive = a > 0
    of_abs = _one_over_one_plus(exp_on_negative_values(np.where(positive, -a, a)))
    return np.where(a == 0, 1 << 30, np.where(positive, of_abs, ONE_Q0 - of_abs))
