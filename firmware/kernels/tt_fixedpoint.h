/*
 * TFLite's fixed-point requantization (gemmlowp SaturatingRoundingDoublingHighMul and
 * RoundingDivideByPOT, double rounding), private to the kernels. Kept bit-identical to
 * host/tt_host/reference/fixedpoint.py; TFLite Micro's reference kernels are the oracle.
 */
#ifndef TT_KERNELS_FIXEDPOINT_H
#define TT_KERNELS_FIXEDPOINT_H

#include <stdint.h>

static inline int32_t tt_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    /* C division truncates toward zero, as gemmlowp relies on. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static inline int32_t tt_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    /* Arithmetic right shift of negative values: guaranteed by GCC and Clang on every target. */
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier. The left shift wraps like TFLite's int32 multiply
 * would, but through unsigned arithmetic so it is defined behaviour. */
static inline int32_t tt_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    int32_t shifted = (int32_t)((uint32_t)x << left);
    return tt_rounding_divide_by_pot(tt_srdhm(shifted, multiplier), right);
}

static inline int8_t tt_clamp_s8(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}

#endif /* TT_KERNELS_FIXEDPOINT_H */
