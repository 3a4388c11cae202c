/*
 * What the depthwise input-gradient kernels share, private to them: the out-of-place
 * tt_dw_conv2d_bwd_input_s16() and tt_dw_conv2d_bwd_input_inplace_s16(), which writes dX over
 * dY. Both choose the output shift with tt_dw_bwd_input_shift() and compute every dX pixel
 * with tt_dw_bwd_input_pixel(), so they produce the same bits by construction; they differ only
 * in where a tap's dY values are read from.
 */
#ifndef TT_KERNELS_DW_BWD_INPUT_H
#define TT_KERNELS_DW_BWD_INPUT_H

#include <stdint.h>

#include "tt/kernels/types.h"
#include "tt_dsp.h"
#include "tt_grad.h"

/* Taps of the largest kernel the tap-list paths take (7x7): the length of their tap lists. */
#define TT_DW_BWD_MAX_TAPS 49

/* One tap of a dX pixel: where its dY values and its weights are (channel stride 1 for both).
 * The two pointers sit side by side so the tap loop fetches them with one LDRD. */
typedef struct {
    const int16_t *dy;
    const int8_t *w;
} tt_dw_bwd_tap_t;

/*
 * The shift of the second requantization, and dX's exponent in *grad_input_exp, from the bound
 * max|dY| * (largest sum of |W| over one channel's kernel): every dX value fits int16 (up to one
 * rounding step). Reads the whole of dY, so an in-place kernel calls it before writing.
 */
static inline int32_t tt_dw_bwd_input_shift(const tt_conv_geom_t *geom, const tt_grad_quant_t *quant,
                                            const int16_t *grad_output, int32_t grad_output_exp,
                                            const int8_t *weights, int32_t *grad_input_exp)
{
    const int32_t c = geom->in_c, taps = geom->kernel_h * geom->kernel_w;
#if TT_DSP
    /* The kernel is [taps][c]: one column per channel, four channels per word. */
    const int64_t wbound = tt_dsp_max_column_abs_sum(weights, taps, c, c);
#else
    int64_t wbound = 0;
    for (int32_t ch = 0; ch < c; ch++) {
        int64_t s = 0;
        for (int32_t k = 0; k < taps; k++) {
            const int32_t w = weights[k * c + ch];
            s += w < 0 ? -w : w;
        }
        wbound = s > wbound ? s : wbound;
    }
#endif
    /* |acc| <= 32768 * 128 * 49 < 2^28 for kernels up to 7x7: no pre-shift is needed. */
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, geom->out_h * geom->out_w * c) * wbound;
    return tt_grad_choose_shift(bound, quant->scale_multiplier, quant->scale_shift, grad_output_exp, grad_input_exp);
}

/* A call's requantization parameters: the per-channel scale ratios, S and q. */
typedef struct {
    const int32_t *multiplier, *shift; /* channel ch's at [ch] */
    int32_t scale_multiplier, q;
    int32_t fast; /* Cortex-M7: every channel's shift lies in [-31, 0] (tt_dw_bwd_rq()), q in [-31, -1] */
} tt_dw_bwd_rq_t;

/* The parameters for channels 0 .. c-1, checked once per call. */
static inline tt_dw_bwd_rq_t tt_dw_bwd_rq_params(const tt_grad_quant_t *quant, int32_t c, int32_t q)
{
    int32_t fast = q <= -1 && q >= -31;
    for (int32_t ch = 0; ch < c; ch++) {
        fast &= quant->shift[ch] <= 0 && quant->shift[ch] >= -31;
    }
    const tt_dw_bwd_rq_t r = {quant->multiplier, quant->shift, quant->scale_multiplier, q, fast};
    return r;
}

#if TT_DSP
/*
 * tt_requantize_fast(x, m, shift) for |x| < 2^30, shift = -r in [-31, 0] and zero point 0, in
 * seven instructions without a branch: tt_dsp_requant2()'s form (tt_dsp.h) with zp = 0. SMMLAR
 * of x2 = 2x and m with accumulator a = k - [x < 0], k = 2^(r-1), is
 * d = floor((x2 m + 2^31 - [x < 0] 2^32 + 2^(31+r)) / 2^32) and the result is d >> r. That one
 * floor division holds for every r >= 1; with zp = 0 the bound is |d| <= 2^30 + |x| < 2^31 for
 * every r <= 31, so tt_dsp_requant2_ok()'s r <= 23 (room for a zero point) does not apply. For
 * r = 0 the result is SMMLAR's rounding alone, floor((x m + 2^30) / 2^31): k = 2^30 >> (31 - r)
 * is then 0, and the sign term [x < 0] is taken as the sign bit of x2 & shift (shift < 0 exactly
 * when r >= 1), one AND. With m = 0 the result is (k - [x < 0]) >> r = 0, as tt_requantize()
 * gives. test_dsp_diff.c compares it with the portable kernel over shifts 0 .. -31, m = 0 included.
 */
__attribute__((always_inline)) static inline int32_t tt_dw_bwd_rq(int32_t x, int32_t m, int32_t shift)
{
    const int32_t x2 = (int32_t)((uint32_t)x << 1);
    const int32_t k = (int32_t)(0x40000000u >> (31 + shift));
    int32_t d;
    __asm__("and    %0, %2, %4\n\t"
            "add    %0, %1, %0, asr #31\n\t"
            "smmlar %0, %2, %3, %0"
            : "=&r"(d)
            : "r"(k), "r"(x2), "r"(m), "r"(shift));
    return d >> -shift;
}

/* tt_dw_bwd_rq() for a shift known to be negative (r >= 1), q: the sign term is x's sign
 * alone, without the AND. */
__attribute__((always_inline)) static inline int32_t tt_dw_bwd_rq_neg(int32_t x, int32_t m, int32_t shift)
{
    const int32_t x2 = (int32_t)((uint32_t)x << 1);
    const int32_t k = (int32_t)(0x40000000u >> (31 + shift));
    int32_t d;
    __asm__("add    %0, %1, %2, asr #31\n\t"
            "smmlar %0, %2, %3, %0"
            : "=&r"(d)
            : "r"(k), "r"(x2), "r"(m));
    return d >> -shift;
}
#endif

/*
 * dx = sat16(requantize(requantize(acc, multiplier, shift), S, q)) for one channel, with
 * |acc| < 2^28 (tt_dw_bwd_input_shift()). With rq->fast on the Cortex-M7 they take
 * tt_dw_bwd_rq() and then tt_dw_bwd_rq_neg() (the first result is again below 2^28 in
 * magnitude, as the ratio is at most 1), else tt_requantize_fast(). Same bits either way.
 */
__attribute__((always_inline)) static inline int32_t tt_dw_bwd_requant(const tt_dw_bwd_rq_t *rq, int32_t ch,
                                                                       int32_t acc)
{
#if TT_DSP
    if (rq->fast) {
        const int32_t r = tt_dw_bwd_rq(acc, rq->multiplier[ch], rq->shift[ch]);
        return __ssat(tt_dw_bwd_rq_neg(r, rq->scale_multiplier, rq->q), 16);
    }
#endif
    const int32_t r = tt_requantize_fast(acc, rq->multiplier[ch], rq->shift[ch]);
    return tt_sat_s16(tt_requantize_fast(r, rq->scale_multiplier, rq->q));
}

#if TT_DSP
/* lo's low half and hi's low half, as the int16 pair (lo, hi) in memory order: one PKHBT. */
static inline int32_t tt_dw_bwd_pack(int32_t lo, int32_t hi)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}
#endif

/*
 * One dX pixel, channels 0 .. n-1 of the taps given: tap t contributes tap[t].dy[ch] * tap[t].w[ch],
 * then the accumulator is requantized by the channel's scale ratio (multiplier, shift) and by S
 * with shift q (rq, tt_dw_bwd_requant()):
 *     dx[ch] = sat16(requantize(requantize(acc, multiplier[ch], shift[ch]), S, q)).
 * dx may be where a tap's dY was (the in-place kernel's pixel): a channel's result is stored
 * after its taps are read, and no tap pointer addresses dx itself.
 *
 * On the Cortex-M7, four channels at a time accumulate dY * W with the single 16x16 MACs
 * SMLABB/SMLATB/SMLABT/SMLATT (dY's int16 pairs against the four weights widened by SXTB16), and
 * their four results are stored as two words. Same int32 accumulators as a scalar loop, same bits.
 */
static inline void tt_dw_bwd_input_pixel(const tt_dw_bwd_tap_t *tap, int32_t n_taps, const tt_dw_bwd_rq_t *rq,
                                         int32_t n, int16_t *dx)
{
    int32_t ch = 0;
#if TT_DSP
    for (; ch + 4 <= n; ch += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        {
            /* Per tap: one LDRD for the pair of pointers, dY's two words and the weights' word by
             * register offset (unaligned allowed), the weights widened by SXTB16, four MACs; two
             * taps per loop pass, an odd first tap on its own: eleven instructions per tap. */
            const tt_dw_bwd_tap_t *t = tap;
            const int32_t ch2 = ch + 2;
            int32_t p, w, x, we;
#define TT_DW_BWD_TAP_STEP                                 \
    "ldrd   %[p], %[w], [%[t]], #8\n\t"                    \
    "ldr    %[w], [%[w], %[ch]]\n\t"                       \
    "ldr    %[x], [%[p], %[ch], lsl #1]\n\t"               \
    "ldr    %[p], [%[p], %[ch2], lsl #1]\n\t"              \
    "sxtb16 %[we], %[w]\n\t"                               \
    "sxtb16 %[w], %[w], ror #8\n\t"                        \
    "smlabb %[a0], %[x], %[we], %[a0]\n\t"                 \
    "smlatb %[a1], %[x], %[w], %[a1]\n\t"                  \
    "smlabt %[a2], %[p], %[we], %[a2]\n\t"                 \
    "smlatt %[a3], %[p], %[w], %[a3]\n\t"
#define TT_DW_BWD_TAP_OPERANDS                                                                                 \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [t] "+r"(t), [p] "=&r"(p), [w] "=&r"(w), \
      [x] "=&r"(x), [we] "=&r"(we)                                                                            \
    : [end] "r"(tap + n_taps), [ch] "r"(ch), [ch2] "r"(ch2)                                                   \
    : "cc", "memory"
            if (n_taps & 1) {
                __asm__(TT_DW_BWD_TAP_STEP TT_DW_BWD_TAP_OPERANDS);
            }
            if (n_taps > 1) {
                __asm__("1:\n\t" TT_DW_BWD_TAP_STEP TT_DW_BWD_TAP_STEP "cmp    %[t], %[end]\n\t"
                        "bne    1b" TT_DW_BWD_TAP_OPERANDS);
            }
#undef TT_DW_BWD_TAP_OPERANDS
#undef TT_DW_BWD_TAP_STEP
        }
        /* Two int16 results per (unaligned) word store, packed with PKHBT. */
        tt_dsp_write_word(dx + ch, tt_dw_bwd_pack(tt_dw_bwd_requant(rq, ch, a0), tt_dw_bwd_requant(rq, ch + 1, a1)));
        tt_dsp_write_word(dx + ch + 2,
                          tt_dw_bwd_pack(tt_dw_bwd_requant(rq, ch + 2, a2), tt_dw_bwd_requant(rq, ch + 3, a3)));
    }
#endif
    for (; ch < n; ch++) {
        int32_t acc = 0;
        for (int32_t t = 0; t < n_taps; t++) {
            acc += (int32_t)tap[t].w[ch] * tap[t].dy[ch];
        }
        dx[ch] = (int16_t)tt_dw_bwd_requant(rq, ch, acc);
    }
}

#endif /* TT_KERNELS_DW_BWD_INPUT_H */
