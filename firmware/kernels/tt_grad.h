/*
 * Helpers shared by the int16 backward kernels, private to the kernels. Every function here
 * has a twin in host/tt_host/reference/backward_int.py; the two must stay bit-identical.
 */
#ifndef TT_KERNELS_GRAD_H
#define TT_KERNELS_GRAD_H

#include <stdint.h>

#include "tt/kernels/types.h"
#include "tt_dsp.h"
#include "tt_fixedpoint.h"

#define TT_GRAD_BITS 15

/* Largest |v| of an int16 tensor (32768 for -32768). */
#if TT_DSP
/* Every backward kernel scans its whole dY with this first, so on the Cortex-M7 it runs on two
 * values per word: SSUB16 sets each halfword's GE flags from the exact 17-bit difference and
 * SEL keeps the larger (smaller) halfword, so a running maximum and minimum cost four
 * instructions per two values instead of about ten per value. max|v| = max(max v, -min v),
 * exact (the minimum may be -32768; the halves are widened before negating). */
static inline int32_t tt_max_abs_s16(const int16_t *v, int32_t n)
{
    int32_t mx = 0, mn = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        const int32_t x = tt_dsp_read_word(v + i), y = tt_dsp_read_word(v + i + 2);
        int32_t t;
        __asm__("ssub16 %[t], %[x], %[mx]\n\t"
                "sel    %[mx], %[x], %[mx]\n\t"
                "ssub16 %[t], %[mn], %[x]\n\t"
                "sel    %[mn], %[x], %[mn]\n\t"
                "ssub16 %[t], %[y], %[mx]\n\t"
                "sel    %[mx], %[y], %[mx]\n\t"
                "ssub16 %[t], %[mn], %[y]\n\t"
                "sel    %[mn], %[y], %[mn]"
                : [mx] "+r"(mx), [mn] "+r"(mn), [t] "=&r"(t)
                : [x] "r"(x), [y] "r"(y)
                : "cc");
    }
    const int32_t hi = (int16_t)(mx >> 16) > (int16_t)mx ? (int16_t)(mx >> 16) : (int16_t)mx;
    const int32_t lo = (int16_t)(mn >> 16) < (int16_t)mn ? (int16_t)(mn >> 16) : (int16_t)mn;
    int32_t m = hi > -lo ? hi : -lo;
    for (; i < n; i++) {
        const int32_t a = v[i] < 0 ? -(int32_t)v[i] : v[i];
        m = a > m ? a : m;
    }
    return m;
}
#else
static inline int32_t tt_max_abs_s16(const int16_t *v, int32_t n)
{
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++) {
        const int32_t a = v[i] < 0 ? -(int32_t)v[i] : v[i];
        m = a > m ? a : m;
    }
    return m;
}
#endif

static inline int32_t tt_bitlen_u64(uint64_t v)
{
    int32_t n = 0;
    while (v != 0) {
        v >>= 1;
        n++;
    }
    return n;
}

/* The right shift that keeps max|dY| * slope_bound within TT_GRAD_BITS: the one rounding of a
 * pointwise derivative's input gradient dX = dY * slope (hard swish, logistic). */
static inline int32_t tt_grad_slope_shift(const int16_t *grad_output, int32_t n, uint32_t slope_bound)
{
    const int32_t bits = tt_bitlen_u64((uint64_t)tt_max_abs_s16(grad_output, n) * slope_bound);
    return bits > TT_GRAD_BITS ? bits - TT_GRAD_BITS : 0;
}

/* x / 2^e rounded half away from zero, 0 <= e <= 62 (RoundingDivideByPOT on int64). */
static inline int64_t tt_rdbp64(int64_t x, int32_t e)
{
    if (e == 0) {
        return x;
    }
    const int64_t mask = ((int64_t)1 << e) - 1;
    const int64_t remainder = x & mask;
    const int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (remainder > threshold ? 1 : 0);
}

static inline int16_t tt_sat_s16(int64_t v)
{
    return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

static inline int32_t tt_sat_s32(int64_t v)
{
    return (int32_t)(v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v);
}

/*
 * Output shift for an accumulator whose real value is acc * S * 2^exp_base with
 * |acc| <= bound < 2^31: tt_requantize(acc, scale_multiplier, q) is then below 2^15 in
 * magnitude (up to one rounding step) and its real value is v * 2^(*exp_out).
 */
static inline int32_t tt_grad_choose_shift(int64_t bound, int32_t scale_multiplier, int32_t scale_shift,
                                           int32_t exp_base, int32_t *exp_out)
{
    if (bound == 0) {
        *exp_out = exp_base + scale_shift;
        return 0;
    }
    const int32_t q = 46 - tt_bitlen_u64((uint64_t)(bound * (int64_t)scale_multiplier));
    *exp_out = exp_base + scale_shift - q;
    return q;
}

/* Smallest p with ceil(max_dy / 2^p) * weight_bound < 2^31; stores that bound. */
static inline int32_t tt_grad_prescale_shift(int32_t max_dy, int64_t weight_bound, int64_t *bound)
{
    int32_t p = 0;
    for (;;) {
        const int64_t m = ((int64_t)max_dy + ((int64_t)1 << p) - 1) >> p;
        if (m * weight_bound <= INT32_MAX) {
            *bound = m * weight_bound;
            return p;
        }
        p++;
    }
}

/* The shifts of a dense input-gradient kernel (conv2d, pointwise, fully connected), from the
 * n values of dY and the weight bound (largest |W| mass one dX element receives): stores the
 * pre-shift of dY in *p and dX's exponent in *grad_input_exp, returns the output shift. The
 * int32 accumulators cannot overflow and no dX value saturates (up to one rounding step). */
static inline int32_t tt_grad_input_shifts(const int16_t *grad_output, int32_t n, int64_t weight_bound,
                                           const tt_grad_quant_t *quant, int32_t grad_output_exp, int32_t *p,
                                           int32_t *grad_input_exp)
{
    int64_t bound = 0;
    *p = tt_grad_prescale_shift(tt_max_abs_s16(grad_output, n), weight_bound, &bound);
    return tt_grad_choose_shift(bound, quant->scale_multiplier, quant->scale_shift, grad_output_exp + *p,
                                grad_input_exp);
}

/* round(dy * ratio / 2^p) with ratio = multiplier * 2^(shift - 31) <= 1: one Q31 multiply of
 * dy * 2^16 (so 16 fraction bits survive), then the only significant rounding. */
static inline int32_t tt_grad_prescale(int32_t dy, int32_t multiplier, int32_t shift, int32_t p)
{
    const int32_t right = 16 - shift + p;
    if (right > 31) {
        return 0; /* |value| < 1/2: rounds to zero */
    }
    return tt_rounding_divide_by_pot(tt_srdhm(dy * 65536, multiplier), right);
}

/* The gather form of a transposed convolution: the output index whose window puts kernel tap
 * @p k on input index @p i (o * stride + k - pad == i, 0 <= o < out), or -1 when none does. */
static inline int32_t tt_tap_source(int32_t i, int32_t pad, int32_t k, int32_t stride, int32_t out)
{
    const int32_t t = i + pad - k;
    return t < 0 || t % stride != 0 || t / stride >= out ? -1 : t / stride;
}

#endif /* TT_KERNELS_GRAD_H */
