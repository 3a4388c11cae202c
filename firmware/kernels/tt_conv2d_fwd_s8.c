#include "tt/kernels/conv2d.h"

#include "tt_fixedpoint.h"

uint32_t tt_conv2d_fwd_s8_scratch_size(const tt_conv_geom_t *geom)
{
    return 2u * (uint32_t)geom->kernel_h * (uint32_t)geom->kernel_w * (uint32_t)geom->in_c * (uint32_t)sizeof(int16_t);
}

void tt_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                      const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    (void)ctx; /* Reserved for the DSP im2col path; the portable loop needs none. */
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
