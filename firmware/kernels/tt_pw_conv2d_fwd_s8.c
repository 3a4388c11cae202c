#include "tt/kernels/pw_conv2d.h"

#include "tt_fixedpoint.h"

uint32_t tt_pw_conv2d_fwd_s8_scratch_size(const tt_conv_geom_t *geom)
{
    (void)geom;
    return 0;
}

void tt_pw_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                         const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    (void)ctx;
    const int32_t in_c = geom->in_c, out_c = geom->out_c;
    const int32_t input_offset = -quant->input_zp;

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const int8_t *in = input + (oy * geom->stride_h * geom->in_w + ox * geom->stride_w) * in_c;
            int8_t *out = output + (oy * geom->out_w + ox) * out_c;
            for (int32_t oc = 0; oc < out_c; oc++) {
                const int8_t *w = weights + oc * in_c;
                int32_t acc = bias != 0 ? bias[oc] : 0;
                for (int32_t ic = 0; ic < in_c; ic++) {
                    acc += ((int32_t)in[ic] + input_offset) * (int32_t)w[ic];
                }
                acc = tt_requantize(acc, quant->multiplier[oc], quant->shift[oc]) + quant->output_zp;
                out[oc] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
            }
        }
    }
}
