#include "tt/kernels/dw_conv2d.h"

#include <string.h>

#include "tt_dsp.h"
#include "tt_dw_fwd.h"
#include "tt_fixedpoint.h"

/* Any depth multiplier, one output channel at a time. */
static void dw_portable(const tt_conv_geom_t *geom, const tt_conv_quant_t *quant, const int8_t *input,
                        const int8_t *weights, const int32_t *bias, int8_t *output)
{
    const int32_t in_w = geom->in_w, in_c = geom->in_c, out_c = geom->out_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    const int32_t mult = out_c / in_c;
    const int32_t input_offset = -quant->input_zp;

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const int32_t y0 = oy * geom->stride_h - geom->pad_top;
        const int32_t ky_lo = y0 < 0 ? -y0 : 0;
        const int32_t ky_hi = y0 + kh > geom->in_h ? geom->in_h - y0 : kh;
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const int32_t x0 = ox * geom->stride_w - geom->pad_left;
            const int32_t kx_lo = x0 < 0 ? -x0 : 0;
            const int32_t kx_hi = x0 + kw > in_w ? in_w - x0 : kw;
            int8_t *out = output + (oy * geom->out_w + ox) * out_c;
            for (int32_t oc = 0; oc < out_c; oc++) {
                const int32_t ic = oc / mult;
                int32_t acc = bias != 0 ? bias[oc] : 0;
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                        const int32_t x = input[((y0 + ky) * in_w + (x0 + kx)) * in_c + ic];
                        acc += (x + input_offset) * (int32_t)weights[(ky * kw + kx) * out_c + oc];
                    }
                }
                acc = tt_requantize(acc, quant->multiplier[oc], quant->shift[oc]) + quant->output_zp;
                out[oc] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
            }
        }
    }
}

#if TT_DSP
/*
 * NHWC path (other kernels and strides, and the last in_c % 4 channels), depth multiplier 1:
 * four channels at a time. A depthwise product never sums across channels, so SMLAD (which
 * adds two lanes into one accumulator) does not apply without first transposing taps into
 * lanes; instead each tap's four input bytes and four weights are widened once (SXTAB16 adds
 * the input offset on the way) and the four channels accumulate with the single 16x16 MACs
 * SMLABB / SMLATT. The window is clipped to the input, so padding costs nothing.
 */
static void dw_nhwc(const tt_conv_geom_t *geom, const tt_conv_quant_t *quant, const int8_t *input,
                    const int8_t *weights, const int32_t *bias, int8_t *output, int32_t ch_begin)
{
    const int32_t in_w = geom->in_w, c = geom->in_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    const int32_t input_offset = -quant->input_zp;
    const int32_t offset2 = tt_dsp_pack_offset(input_offset);
    const tt_dsp_requant_t rq = tt_dsp_requant_params(quant, geom->out_c);

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const int32_t y0 = oy * geom->stride_h - geom->pad_top;
        const int32_t ky_lo = y0 < 0 ? -y0 : 0;
        const int32_t ky_hi = y0 + kh > geom->in_h ? geom->in_h - y0 : kh;
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const int32_t x0 = ox * geom->stride_w - geom->pad_left;
            const int32_t kx_lo = x0 < 0 ? -x0 : 0;
            const int32_t kx_hi = x0 + kw > in_w ? in_w - x0 : kw;
            const int32_t taps_w = kx_hi - kx_lo;
            int8_t *out = output + (oy * geom->out_w + ox) * c;
            int32_t ch = ch_begin;
            for (; ch + 4 <= c; ch += 4) {
                int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                if (bias != 0) {
                    a0 = bias[ch];
                    a1 = bias[ch + 1];
                    a2 = bias[ch + 2];
                    a3 = bias[ch + 3];
                }
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    const int8_t *in = input + ((y0 + ky) * in_w + x0 + kx_lo) * c + ch;
                    const int8_t *w = weights + (ky * kw + kx_lo) * c + ch;
                    for (int32_t t = 0; t < taps_w; t++) {
                        const int32_t x = tt_dsp_read_s8x4(in), v = tt_dsp_read_s8x4(w);
                        const int32_t xe = tt_dsp_even_add(offset2, x), xo = tt_dsp_odd_add(offset2, x);
                        const int32_t we = tt_dsp_even(v), wo = tt_dsp_odd(v);
                        a0 = (int32_t)__smlabb(xe, we, a0);
                        a2 = (int32_t)__smlatt(xe, we, a2);
                        a1 = (int32_t)__smlabb(xo, wo, a1);
                        a3 = (int32_t)__smlatt(xo, wo, a3);
                        in += c;
                        w += c;
                    }
                }
                tt_dsp_requant_pair(&rq, ch, a0, a0, out + ch, out + ch);
                tt_dsp_requant_pair(&rq, ch + 1, a1, a1, out + ch + 1, out + ch + 1);
                tt_dsp_requant_pair(&rq, ch + 2, a2, a2, out + ch + 2, out + ch + 2);
                tt_dsp_requant_pair(&rq, ch + 3, a3, a3, out + ch + 3, out + ch + 3);
            }
            for (; ch < c; ch++) {
                int32_t acc = bias != 0 ? bias[ch] : 0;
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                        const int32_t x = input[((y0 + ky) * in_w + (x0 + kx)) * c + ch];
                        acc += (x + input_offset) * (int32_t)weights[(ky * kw + kx) * c + ch];
                    }
                }
                tt_dsp_requant_pair(&rq, ch, acc, acc, out + ch, out + ch);
            }
        }
    }
}
#endif

void tt_dw_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                         const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
#if TT_DSP
    if (geom->out_c == geom->in_c) {
        const int32_t done = tt_dw_conv2d_fwd_planar_s8(ctx, geom, quant, input, weights, bias, output);
        if (done < geom->in_c) {
            dw_nhwc(geom, quant, input, weights, bias, output, done);
        }
        return;
    }
#else
    (void)ctx;
#endif
    dw_portable(geom, quant, input, weights, bias, output);
}
