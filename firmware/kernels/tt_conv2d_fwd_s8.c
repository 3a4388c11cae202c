#include "tt/kernels/conv2d.h"

#include "tt_dsp.h"
#include "tt_fixedpoint.h"

uint32_t tt_conv2d_fwd_s8_scratch_size(const tt_conv_geom_t *geom)
{
    return 2u * (uint32_t)geom->kernel_h * (uint32_t)geom->kernel_w * (uint32_t)geom->in_c * (uint32_t)sizeof(int16_t);
}

#if TT_DSP
/* Column p of the scratch pair: output pixel (oy, ox)'s window, flattened in the weights'
 * (ky, kx, ic) order with the input offset added; padded taps are 0, which is what a zero
 * point contributes. */
static void im2col_window(const tt_conv_geom_t *g, const int8_t *input, int32_t offset, int32_t pixel, int32_t p,
                          int16_t *cols)
{
    const int32_t in_c = g->in_c, n = g->kernel_h * g->kernel_w * in_c;
    const int32_t y0 = (pixel / g->out_w) * g->stride_h - g->pad_top;
    const int32_t x0 = (pixel % g->out_w) * g->stride_w - g->pad_left;
    int32_t j = 0;
    for (int32_t ky = 0; ky < g->kernel_h; ky++) {
        for (int32_t kx = 0; kx < g->kernel_w; kx++) {
            const int32_t y = y0 + ky, x = x0 + kx;
            if (y < 0 || y >= g->in_h || x < 0 || x >= g->in_w) {
                for (int32_t ic = 0; ic < in_c; ic++) {
                    cols[tt_dsp_im2col_slot(n, p, j++)] = 0;
                }
            } else {
                const int8_t *src = input + (y * g->in_w + x) * in_c;
                for (int32_t ic = 0; ic < in_c; ic++) {
                    cols[tt_dsp_im2col_slot(n, p, j++)] = (int16_t)(src[ic] + offset);
                }
            }
        }
    }
}

/*
 * Cortex-M7: im2col, two output pixels at a time, into the scratch (the kernel's
 * kernel_h * kernel_w * in_c values per pixel as int16), then the same 2 pixels x 2 output
 * channels SMLAD core as the pointwise convolution (tt_dsp_dot_2x2()), each OHWI weight
 * row being one column's dot product. An odd last pixel or channel is computed as a pair
 * with itself and stored twice, identically.
 */
void tt_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                      const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    const int32_t out_c = geom->out_c, n = geom->kernel_h * geom->kernel_w * geom->in_c;
    const int32_t pixels = geom->out_h * geom->out_w;
    const int32_t input_offset = -quant->input_zp;
    const tt_dsp_requant_t rq = tt_dsp_requant_params(quant, geom->out_c);
    int16_t *cols = (int16_t *)ctx->buf;

    for (int32_t p0 = 0; p0 < pixels; p0 += 2) {
        const int32_t p1 = p0 + 1 < pixels ? p0 + 1 : p0;
        int8_t *out0 = output + p0 * out_c;
        int8_t *out1 = output + p1 * out_c;
        im2col_window(geom, input, input_offset, p0, 0, cols);
        im2col_window(geom, input, input_offset, p1, 1, cols);
        for (int32_t oc0 = 0; oc0 < out_c; oc0 += 2) {
            const int32_t oc1 = oc0 + 1 < out_c ? oc0 + 1 : oc0;
            int32_t acc[4];
            acc[0] = acc[2] = bias != 0 ? bias[oc0] : 0;
            acc[1] = acc[3] = bias != 0 ? bias[oc1] : 0;
            tt_dsp_dot_2x2(cols, weights + oc0 * n, weights + oc1 * n, n, acc);
            tt_dsp_requant_pair(&rq, oc0, acc[0], acc[2], out0 + oc0, out1 + oc0);
            tt_dsp_requant_pair(&rq, oc1, acc[1], acc[3], out0 + oc1, out1 + oc1);
        }
    }
}
#else
void tt_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                      const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    (void)ctx; /* The portable loop needs no scratch; the Cortex-M7 path's im2col does. */
    const int32_t in_w = geom->in_w, in_c = geom->in_c, out_c = geom->out_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    const int32_t input_offset = -quant->input_zp;

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const int32_t y0 = oy * geom->stride_h - geom->pad_top;
        /* Clip the window to the input: padded taps hold the zero point and add nothing. */
        const int32_t ky_lo = y0 < 0 ? -y0 : 0;
        const int32_t ky_hi = y0 + kh > geom->in_h ? geom->in_h - y0 : kh;
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const int32_t x0 = ox * geom->stride_w - geom->pad_left;
            const int32_t kx_lo = x0 < 0 ? -x0 : 0;
            const int32_t kx_hi = x0 + kw > in_w ? in_w - x0 : kw;
            int8_t *out = output + ((int32_t)oy * geom->out_w + ox) * out_c;
            for (int32_t oc = 0; oc < out_c; oc++) {
                int32_t acc = bias != 0 ? bias[oc] : 0;
                const int8_t *w_oc = weights + (int32_t)oc * kh * kw * in_c;
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                        const int8_t *in = input + ((y0 + ky) * in_w + (x0 + kx)) * in_c;
                        const int8_t *w = w_oc + (ky * kw + kx) * in_c;
                        for (int32_t ic = 0; ic < in_c; ic++) {
                            acc += ((int32_t)in[ic] + input_offset) * (int32_t)w[ic];
                        }
                    }
                }
                acc = tt_requantize(acc, quant->multiplier[oc], quant->shift[oc]) + quant->output_zp;
                out[oc] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
            }
        }
    }
}
#endif
