#include "tt/kernels/dw_conv2d.h"

#include "tt_dsp.h"
#include "tt_grad.h"

uint32_t tt_dw_conv2d_bwd_input_s16_scratch_size(const tt_conv_geom_t *geom)
{
    (void)geom;
    return 0;
}

#if TT_DSP
/*
 * Cortex-M7: per input pixel, the taps that reach it (output pixel, kernel position) are found
 * once, not once per channel as in the portable loop (whose divisibility tests per tap and
 * channel cost more than the multiplies); then four channels at a time accumulate
 * dY * W with the single 16x16 MACs SMLABB/SMLATB/SMLABT/SMLATT (dY's int16 pairs against the
 * four weights widened by SXTB16), and the two requantizations use tt_requantize_fast()
 * (one SMLAL instead of a 64-bit division). Same int32 accumulators, same bits.
 */
static void dw_bwd_input_dsp(const tt_conv_geom_t *geom, const tt_grad_quant_t *quant, const int16_t *grad_output,
                             const int8_t *weights, int16_t *grad_input, int32_t q)
{
    const int32_t in_w = geom->in_w, c = geom->in_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    int32_t tap_w[49], tap_o[49];

    for (int32_t iy = 0; iy < geom->in_h; iy++) {
        for (int32_t ix = 0; ix < in_w; ix++) {
            int32_t n = 0;
            for (int32_t ky = 0; ky < kh; ky++) {
                const int32_t oy = tt_tap_source(iy, geom->pad_top, ky, geom->stride_h, geom->out_h);
                if (oy < 0) {
                    continue;
                }
                for (int32_t kx = 0; kx < kw; kx++) {
                    const int32_t ox = tt_tap_source(ix, geom->pad_left, kx, geom->stride_w, geom->out_w);
                    if (ox < 0) {
                        continue;
                    }
                    tap_w[n] = (ky * kw + kx) * c;
                    tap_o[n] = (oy * geom->out_w + ox) * c;
                    n++;
                }
            }
            int16_t *dx = grad_input + (iy * in_w + ix) * c;
            int32_t ch = 0;
            for (; ch + 4 <= c; ch += 4) {
                int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                for (int32_t t = 0; t < n; t++) {
                    const int32_t d01 = tt_dsp_read_word(grad_output + tap_o[t] + ch);
                    const int32_t d23 = tt_dsp_read_word(grad_output + tap_o[t] + ch + 2);
                    const int32_t w = tt_dsp_read_s8x4(weights + tap_w[t] + ch);
                    const int32_t we = tt_dsp_even(w), wo = tt_dsp_odd(w);
                    a0 = (int32_t)__smlabb(d01, we, a0);
                    a1 = (int32_t)__smlatb(d01, wo, a1);
                    a2 = (int32_t)__smlabt(d23, we, a2);
                    a3 = (int32_t)__smlatt(d23, wo, a3);
                }
                const int32_t acc[4] = {a0, a1, a2, a3};
                for (int32_t j = 0; j < 4; j++) {
                    const int32_t r = tt_requantize_fast(acc[j], quant->multiplier[ch + j], quant->shift[ch + j]);
                    dx[ch + j] = tt_sat_s16(tt_requantize_fast(r, quant->scale_multiplier, q));
                }
            }
            for (; ch < c; ch++) {
                int32_t acc = 0;
                for (int32_t t = 0; t < n; t++) {
                    acc += (int32_t)weights[tap_w[t] + ch] * grad_output[tap_o[t] + ch];
                }
                const int32_t r = tt_requantize_fast(acc, quant->multiplier[ch], quant->shift[ch]);
                dx[ch] = tt_sat_s16(tt_requantize_fast(r, quant->scale_multiplier, q));
            }
        }
    }
}
#endif

void tt_dw_conv2d_bwd_input_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_grad_quant_t *quant,
                                const int16_t *grad_output, int32_t grad_output_exp, const int8_t *weights,
                                int16_t *grad_input, int32_t *grad_input_exp)
{
    (void)ctx;
    const int32_t in_h = geom->in_h, in_w = geom->in_w, c = geom->in_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;

    int64_t wbound = 0;
    for (int32_t ch = 0; ch < c; ch++) {
        int64_t s = 0;
        for (int32_t k = 0; k < kh * kw; k++) {
            const int32_t w = weights[k * c + ch];
            s += w < 0 ? -w : w;
        }
        wbound = s > wbound ? s : wbound;
    }
    /* |acc| <= 32768 * 127 * 49 < 2^28 for kernels up to 7x7: no pre-shift is needed. */
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, geom->out_h * geom->out_w * c) * wbound;
    const int32_t q = tt_grad_choose_shift(bound, quant->scale_multiplier, quant->scale_shift, grad_output_exp,
                                           grad_input_exp);

#if TT_DSP
    if (kh * kw <= 49) {
        dw_bwd_input_dsp(geom, quant, grad_output, weights, grad_input, q);
        return;
    }
#endif
    for (int32_t iy = 0; iy < in_h; iy++) {
        for (int32_t ix = 0; ix < in_w; ix++) {
            int16_t *dx = grad_input + (iy * in_w + ix) * c;
            for (int32_t ch = 0; ch < c; ch++) {
                int32_t acc = 0;
                for (int32_t ky = 0; ky < kh; ky++) {
                    const int32_t oy = tt_tap_source(iy, geom->pad_top, ky, geom->stride_h, geom->out_h);
                    if (oy < 0) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < kw; kx++) {
                        const int32_t ox = tt_tap_source(ix, geom->pad_left, kx, geom->stride_w, geom->out_w);
                        if (ox < 0) {
                            continue;
                        }
                        const int32_t o = (oy * geom->out_w + ox) * c + ch;
                        acc += (int32_t)weights[(ky * kw + kx) * c + ch] * grad_output[o];
                    }
                }
                /* One output channel per weight channel: its scale ratio applies to the
                 * accumulator (|ratio| <= 1, so |acc| stays within the bound). */
                acc = tt_requantize(acc, quant->multiplier[ch], quant->shift[ch]);
                dx[ch] = tt_sat_s16(tt_requantize(acc, quant->scale_multiplier, q));
            }
        }
    }
}
