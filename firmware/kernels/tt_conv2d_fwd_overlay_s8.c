#include <string.h>

#include "tt/kernels/conv2d.h"

#include "tt_dsp.h"
#include "tt_fixedpoint.h"

uint32_t tt_conv2d_fwd_overlay_s8_scratch_size(const tt_conv_geom_t *geom)
{
    return ((uint32_t)(geom->kernel_h * geom->kernel_w * geom->in_c) + 3u) & ~3u;
}

#if TT_DSP
/*
 * Cortex-M7, pointwise layers (what the sparse-update schemes train): four output pixels of a
 * row against the merged row at a time. The row word is widened once (2 SXTB16) for the four
 * pixels, each pixel's word is widened (2 SXTB16) and added by 2 SMLAD: 25 instructions for
 * 16 MACs with the loop, against about 5 per MAC in the portable loop. The input offset is
 * not added per term: sum (x - zp) w = sum x w - zp sum w, with sum w once per row (exact in
 * int32, so the accumulators are the portable loop's). The loop is assembly: four
 * accumulators, the row, pixel and end pointers, the three pixel offsets and four halves are
 * the core's 14 registers. The pixels are at x, x + s1, x + s2, x + s3; n is a multiple of 4.
 */
static inline void dot_1x4(const int8_t *w, const int8_t *x, int32_t n, int32_t s1, int32_t s2, int32_t s3,
                           int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], t, we, wo, xe;
    const int8_t *const end = w + n;
    __asm__ volatile("1:\n\t"
                     "ldr    %[t], [%[w]], #4\n\t"
                     "sxtb16 %[we], %[t]\n\t"
                     "sxtb16 %[wo], %[t], ror #8\n\t"
                     "ldr    %[t], [%[x], %[s1]]\n\t"
                     "sxtb16 %[xe], %[t]\n\t"
                     "sxtb16 %[t], %[t], ror #8\n\t"
                     "smlad  %[a1], %[xe], %[we], %[a1]\n\t"
                     "smlad  %[a1], %[t], %[wo], %[a1]\n\t"
                     "ldr    %[t], [%[x], %[s2]]\n\t"
                     "sxtb16 %[xe], %[t]\n\t"
                     "sxtb16 %[t], %[t], ror #8\n\t"
                     "smlad  %[a2], %[xe], %[we], %[a2]\n\t"
                     "smlad  %[a2], %[t], %[wo], %[a2]\n\t"
                     "ldr    %[t], [%[x], %[s3]]\n\t"
                     "sxtb16 %[xe], %[t]\n\t"
                     "sxtb16 %[t], %[t], ror #8\n\t"
                     "smlad  %[a3], %[xe], %[we], %[a3]\n\t"
                     "smlad  %[a3], %[t], %[wo], %[a3]\n\t"
                     "ldr    %[t], [%[x]], #4\n\t"
                     "sxtb16 %[xe], %[t]\n\t"
                     "sxtb16 %[t], %[t], ror #8\n\t"
                     "smlad  %[a0], %[xe], %[we], %[a0]\n\t"
                     "smlad  %[a0], %[t], %[wo], %[a0]\n\t"
                     "cmp    %[w], %[end]\n\t"
                     "bne    1b"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x),
                       [t] "=&r"(t), [we] "=&r"(we), [wo] "=&r"(wo), [xe] "=&r"(xe)
                     : [end] "r"(end), [s1] "r"(s1), [s2] "r"(s2), [s3] "r"(s3)
                     : "cc", "memory");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Output channel oc of a pointwise layer from its merged row: init = bias - zp sum w. */
static void pointwise_channel(const tt_conv_geom_t *geom, const tt_conv_quant_t *quant, const int8_t *input,
                              const int8_t *row, int32_t init, int32_t oc, int8_t *output)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c, out_w = geom->out_w;
    const int32_t n4 = in_c & ~3, step = geom->stride_w * in_c;
    const int32_t mult = quant->multiplier[oc], shift = quant->shift[oc];
    const int32_t zp = quant->output_zp, lo = quant->act_min, hi = quant->act_max;
    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const int8_t *x = input + oy * geom->stride_h * geom->in_w * in_c;
        int8_t *out = output + oy * out_w * out_c + oc;
        for (int32_t ox = 0; ox < out_w; ox += 4) {
            const int32_t n_px = out_w - ox < 4 ? out_w - ox : 4;
            int32_t acc[4] = {init, init, init, init};
            if (n_px == 4 && n4 > 0) {
                dot_1x4(row, x, n4, step, 2 * step, 3 * step, acc);
            }
            for (int32_t k = 0; k < n_px; k++) {
                const int8_t *px = x + k * step;
                for (int32_t ic = n_px == 4 ? n4 : 0; ic < in_c; ic++) {
                    acc[k] += (int32_t)px[ic] * row[ic];
                }
                out[k * out_c] = tt_clamp_s8(tt_requantize_fast(acc[k], mult, shift) + zp, lo, hi);
            }
            x += 4 * step;
            out += 4 * out_c;
        }
    }
}
#endif

/*
 * Output-channel-major: one merged weight row at a time, so the scratch is one row whatever
 * out_c is. The window is clipped to the input, so padding costs nothing and padded taps
 * contribute 0 exactly as in tt_conv2d_fwd_s8().
 */
void tt_conv2d_fwd_overlay_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                              const int8_t *input, const int8_t *weights, const int16_t *channels, int32_t n_channels,
                              const int8_t *trained, const int32_t *bias, int8_t *output)
{
    const int32_t in_w = geom->in_w, in_c = geom->in_c, out_c = geom->out_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w, taps = kh * kw;
    const int32_t row_len = taps * in_c;
    const int32_t input_offset = -quant->input_zp;
    int8_t *row = (int8_t *)ctx->buf;

    for (int32_t oc = 0; oc < out_c; oc++) {
        memcpy(row, weights + oc * row_len, (size_t)row_len);
        const int8_t *slice = trained + oc * taps * n_channels;
        for (int32_t t = 0; t < taps; t++) {
            for (int32_t j = 0; j < n_channels; j++) {
                row[t * in_c + channels[j]] = slice[t * n_channels + j];
            }
        }
        const int32_t b = bias != 0 ? bias[oc] : 0;
#if TT_DSP
        if (taps == 1 && geom->pad_top == 0 && geom->pad_left == 0 && geom->pad_bottom == 0 && geom->pad_right == 0) {
            /* sum w four bytes at a time: USADA8 adds the bytes of w ^ 0x80 = w + 128 as unsigned. */
            uint32_t biased = 0;
            int32_t ic = 0;
            for (; ic + 4 <= in_c; ic += 4) {
                biased = __usada8((uint32_t)tt_dsp_read_s8x4(row + ic) ^ 0x80808080u, 0u, biased);
            }
            int32_t sum = (int32_t)biased - 128 * ic;
            for (; ic < in_c; ic++) {
                sum += row[ic];
            }
            /* Wraps like the portable accumulator would, so the int32 sums agree bit for bit. */
            const int32_t init = (int32_t)((uint32_t)b + (uint32_t)input_offset * (uint32_t)sum);
            pointwise_channel(geom, quant, input, row, init, oc, output);
            continue;
        }
#endif
        const int32_t mult = quant->multiplier[oc], shift = quant->shift[oc];
        for (int32_t oy = 0; oy < geom->out_h; oy++) {
            const int32_t y0 = oy * geom->stride_h - geom->pad_top;
            const int32_t ky_lo = y0 < 0 ? -y0 : 0;
            const int32_t ky_hi = y0 + kh > geom->in_h ? geom->in_h - y0 : kh;
            for (int32_t ox = 0; ox < geom->out_w; ox++) {
                const int32_t x0 = ox * geom->stride_w - geom->pad_left;
                const int32_t kx_lo = x0 < 0 ? -x0 : 0;
                const int32_t kx_hi = x0 + kw > in_w ? in_w - x0 : kw;
                int32_t acc = b;
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                        const int8_t *in = input + ((y0 + ky) * in_w + (x0 + kx)) * in_c;
                        const int8_t *w = row + (ky * kw + kx) * in_c;
                        for (int32_t ic = 0; ic < in_c; ic++) {
                            acc += ((int32_t)in[ic] + input_offset) * (int32_t)w[ic];
                        }
                    }
                }
                acc = tt_requantize(acc, mult, shift) + quant->output_zp;
                output[(oy * geom->out_w + ox) * out_c + oc] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
            }
        }
    }
}
