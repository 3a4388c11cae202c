#include "tt/kernels/pw_conv2d.h"

#include "tt_grad.h"

uint32_t tt_pw_conv2d_bwd_input_s16_scratch_size(const tt_conv_geom_t *geom)
{
    return (uint32_t)geom->in_c * 4u + (((uint32_t)geom->out_c * 2u + 3u) & ~3u);
}

void tt_pw_conv2d_bwd_input_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_grad_quant_t *quant,
                                const int16_t *grad_output, int32_t grad_output_exp, const int8_t *weights,
                                int16_t *grad_input, int32_t *grad_input_exp)
{
    const int32_t in_w = geom->in_w, in_c = geom->in_c, out_c = geom->out_c;
    int32_t *acc = (int32_t *)ctx->buf;
    int16_t *dyp = (int16_t *)(acc + in_c);

    int64_t wbound = 0;
    for (int32_t ic = 0; ic < in_c; ic++) {
        int64_t s = 0;
        for (int32_t oc = 0; oc < out_c; oc++) {
            const int32_t w = weights[oc * in_c + ic];
            s += w < 0 ? -w : w;
        }
        wbound = s > wbound ? s : wbound;
    }
    int64_t bound = 0;
    const int32_t max_dy = tt_max_abs_s16(grad_output, geom->out_h * geom->out_w * out_c);
    const int32_t p = tt_grad_prescale_shift(max_dy, wbound, &bound);
    const int32_t q = tt_grad_choose_shift(bound, quant->scale_multiplier, quant->scale_shift, grad_output_exp + p,
                                           grad_input_exp);

    for (int32_t iy = 0; iy < geom->in_h; iy++) {
        for (int32_t ix = 0; ix < in_w; ix++) {
            int16_t *dx = grad_input + (iy * in_w + ix) * in_c;
            /* With stride > 1 only the sampled positions receive a gradient. */
            if (iy % geom->stride_h != 0 || ix % geom->stride_w != 0 || iy / geom->stride_h >= geom->out_h ||
                ix / geom->stride_w >= geom->out_w) {
                for (int32_t ic = 0; ic < in_c; ic++) {
                    dx[ic] = 0;
                }
                continue;
            }
            const int16_t *dy = grad_output + ((iy / geom->stride_h) * geom->out_w + ix / geom->stride_w) * out_c;
            for (int32_t oc = 0; oc < out_c; oc++) {
                dyp[oc] = (int16_t)tt_grad_prescale(dy[oc], quant->multiplier[oc], quant->shift[oc], p);
            }
            for (int32_t ic = 0; ic < in_c; ic++) {
                acc[ic] = 0;
            }
            for (int32_t oc = 0; oc < out_c; oc++) {
                const int32_t d = dyp[oc];
                if (d == 0) {
                    continue;
                }
                const int8_t *w = weights + oc * in_c;
                for (int32_t ic = 0; ic < in_c; ic++) {
                    acc[ic] += (int32_t)w[ic] * d;
                }
            }
            for (int32_t ic = 0; ic < in_c; ic++) {
                dx[ic] = tt_sat_s16(tt_requantize(acc[ic], quant->scale_multiplier, q));
            }
        }
    }
}
