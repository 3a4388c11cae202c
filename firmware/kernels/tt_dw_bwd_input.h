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
    int64_t wbound = 0;
    for (int32_t ch = 0; ch < c; ch++) {
        int64_t s = 0;
        for (int32_t k = 0; k < taps; k++) {
            const int32_t w = weights[k * c + ch];
            s += w < 0 ? -w : w;
        }
        wbound = s > wbound ? s : wbound;
    }
    /* |acc| <= 32768 * 128 * 49 < 2^28 for kernels up to 7x7: no pre-shift is needed. */
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, geom->out_h * geom->out_w * c) * wbound;
    return tt_grad_choose_shift(bound, quant->scale_multiplier, quant->scale_shift, grad_output_exp, grad_input_exp);
}

#if TT_DSP
/*
 * tt_requantize_fast(x, m, -r) for |x| < 2^30, r in [1, 31] and zero point 0, in four
 * instructions (LSL, ADD, SMMLAR, ASR): tt_dsp_requant2()'s form
 * (tt_dsp.h) with zp = 0, k = 2^(r-1) = 2^30 >> (31 - r). Its single floor division holds for
 * every r; with zp = 0 the bound becomes |d| <= 2^30 + |x| < 2^31 for every r <= 31, so the
 * r <= 23 of tt_dsp_requant2_ok() (which leaves room for a zero point) does not apply. With
 * m = 0 the result is (k - [x < 0]) >> r = 0, as tt_requantize() gives.
 */
__attribute__((always_inline)) static inline int32_t tt_dw_bwd_rq(int32_t x, int32_t m, int32_t k, int32_t r)
{
    const int32_t x2 = (int32_t)((uint32_t)x << 1);
    int32_t d;
    __asm__("add    %0, %1, %2, asr #31\n\t"
            "smmlar %0, %2, %3, %0"
            : "=&r"(d)
            : "r"(k), "r"(x2), "r"(m));
    return d >> r;
}

/* The same with shift 0 (r = 0): floor((x m + 2^30) / 2^31), SMMULR's rounding alone. */
__attribute__((always_inline)) static inline int32_t tt_dw_bwd_rq0(int32_t x, int32_t m)
{
    const int32_t x2 = (int32_t)((uint32_t)x << 1);
    int32_t d;
    __asm__("smmulr %0, %1, %2" : "=r"(d) : "r"(x2), "r"(m));
    return d;
}
#endif

/*
 * dx = sat16(requantize(requantize(acc, multiplier, shift), S, q)) for one channel, with
 * |acc| < 2^28 (tt_dw_bwd_input_shift()). kq = 2^30 >> (31 + q) when q is in [-31, -1]
 * (tt_dw_bwd_input_pixel() checks it once per pixel), else 0. On the Cortex-M7 the channel's
 * shift in [-31, 0] (what scale ratios <= 1 give) takes tt_dw_bwd_rq() / tt_dw_bwd_rq0(), whose
 * result is again below 2^28 in magnitude, so the second requantization may take
 * tt_dw_bwd_rq() (tt_dw_bwd_rq0() for q = 0) too; every other case keeps tt_requantize_fast(). Same bits either way.
 */
__attribute__((always_inline)) static inline int16_t tt_dw_bwd_requant(int32_t acc, int32_t multiplier, int32_t shift,
                                                                       int32_t scale_multiplier, int32_t q, int32_t kq)
{
#if TT_DSP
    if (shift <= 0 && shift >= -31) {
        const int32_t r = shift < 0 ? tt_dw_bwd_rq(acc, multiplier, (int32_t)(0x40000000u >> (31 + shift)), -shift)
                                    : tt_dw_bwd_rq0(acc, multiplier);
        if (kq != 0) {
            return (int16_t)__ssat(tt_dw_bwd_rq(r, scale_multiplier, kq, -q), 16);
        }
        if (q == 0) {
            return (int16_t)__ssat(tt_dw_bwd_rq0(r, scale_multiplier), 16);
        }
        return (int16_t)__ssat(tt_requantize_fast(r, scale_multiplier, q), 16);
    }
#else
    (void)kq;
#endif
    const int32_t r = tt_requantize_fast(acc, multiplier, shift);
    return tt_sat_s16(tt_requantize_fast(r, scale_multiplier, q));
}

/*
 * One dX pixel, channels 0 .. n-1 of the pointers given: tap t contributes dy[t][ch] * w[t][ch]
 * (dY and the weights of that tap, both with channel stride 1), then the accumulator is
 * requantized by the channel's scale ratio (multiplier, shift) and by S with shift q:
 *     dx[ch] = sat16(requantize(requantize(acc, multiplier[ch], shift[ch]), S, q)).
 * dx may be where a tap's dY was (the in-place kernel's pixel): a channel's result is stored
 * after its taps are read, and no tap pointer addresses dx itself.
 *
 * On the Cortex-M7, four channels at a time accumulate dY * W with the single 16x16 MACs
 * SMLABB/SMLATB/SMLABT/SMLATT (dY's int16 pairs against the four weights widened by SXTB16);
 * tt_requantize_fast() (one SMLAL instead of a 64-bit division) gives tt_requantize()'s bits.
 * Same int32 accumulators as a scalar loop, same bits.
 */
static inline void tt_dw_bwd_input_pixel(const int16_t *const *dy, const int8_t *const *w, int32_t n_taps,
                                         const int32_t *multiplier, const int32_t *shift, int32_t scale_multiplier,
                                         int32_t q, int32_t n, int16_t *dx)
{
    const int32_t kq = q <= -1 && q >= -31 ? (int32_t)(0x40000000u >> (31 + q)) : 0;
    int32_t ch = 0;
#if TT_DSP
    for (; ch + 4 <= n; ch += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int32_t t = 0; t < n_taps; t++) {
            const int32_t d01 = tt_dsp_read_word(dy[t] + ch);
            const int32_t d23 = tt_dsp_read_word(dy[t] + ch + 2);
            const int32_t wv = tt_dsp_read_s8x4(w[t] + ch);
            const int32_t we = tt_dsp_even(wv), wo = tt_dsp_odd(wv);
            a0 = (int32_t)__smlabb(d01, we, a0);
            a1 = (int32_t)__smlatb(d01, wo, a1);
            a2 = (int32_t)__smlabt(d23, we, a2);
            a3 = (int32_t)__smlatt(d23, wo, a3);
        }
        const int32_t acc[4] = {a0, a1, a2, a3};
        for (int32_t j = 0; j < 4; j++) {
            dx[ch + j] = tt_dw_bwd_requant(acc[j], multiplier[ch + j], shift[ch + j], scale_multiplier, q, kq);
        }
    }
#endif
    for (; ch < n; ch++) {
        int32_t acc = 0;
        for (int32_t t = 0; t < n_taps; t++) {
            acc += (int32_t)w[t][ch] * dy[t][ch];
        }
        dx[ch] = tt_dw_bwd_requant(acc, multiplier[ch], shift[ch], scale_multiplier, q, kq);
    }
}

#endif /* TT_KERNELS_DW_BWD_INPUT_H */
