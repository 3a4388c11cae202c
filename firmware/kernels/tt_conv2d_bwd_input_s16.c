#include "tt/kernels/conv2d.h"

#include "tt_grad.h"

uint32_t tt_conv2d_bwd_input_s16_scratch_size(const tt_conv_geom_t *geom)
{
    /* One int32 accumulator row (in_c) and one prescaled dY row (out_c int16, padded to 4). */
    return (uint32_t)geom->in_c * 4u + (((uint32_t)geom->out_c * 2u + 3u) & ~3u);
}

void tt_conv2d_bwd_input_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_grad_quant_t *quant,
                             const int16_t *grad_output, int32_t grad_output_exp, const int8_t *weights,
                             int16_t *grad_input, int32_t *grad_input_exp)
{
    const int32_t in_h = geom->in_h, in_w = geom->in_w, in_c = geom->in_c, out_c = geom->out_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    int32_t *acc = (int32_t *)ctx->buf;
    int16_t *dyp = (int16_t *)(acc + in_c);

    /* The exponent comes from a bound, not from the result, so it is known before any MAC:
     * max|dY| times the largest weight mass one input element can receive. */
    int64_t wbound = 0;
    for (int32_t ic = 0; ic < in_c; ic++) {
        int64_t s = 0;
        for (int32_t i = ic; i < out_c * kh * kw * in_c; i += in_c) {
            s += weights[i] < 0 ? -weights[i] : weights[i];
        }
        wbound = s > wbound ? s : wbound;
    }
    int32_t p;
    const int32_t q = tt_grad_input_shifts(grad_output, geom->out_h * geom->out_w * out_c, wbound, quant,
                                           grad_output_exp, &p, grad_input_exp);

    /* Gather form: each input element sums the output positions whose window covers it, so
     * no int32 copy of the whole dX is needed; |acc| <= bound < 2^31 by construction. */
    for (int32_t iy = 0; iy < in_h; iy++) {
        for (int32_t ix = 0; ix < in_w; ix++) {
            for (int32_t ic = 0; ic < in_c; ic++) {
                acc[ic] = 0;
            }
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
                    const int32_t opos = oy * geom->out_w + ox;
                    const int16_t *dy = grad_output + opos * out_c;
                    for (int32_t oc = 0; oc < out_c; oc++) {
                        dyp[oc] = (int16_t)tt_grad_prescale(dy[oc], quant->multiplier[oc], quant->shift[oc], p);
                    }
                    for (int32_t oc = 0; oc < out_c; oc++) {
                        const int32_t d = dyp[oc];
                        if (d == 0) {
                            continue; /* masked (ReLU) gradients are mostly zero */
                        }
                        const int8_t *w = weights + ((oc * kh + ky) * kw + kx) * in_c;
                        for (int32_t ic = 0; ic < in_c; ic++) {
                            acc[ic] += (int32_t)w[ic] * d;
                        }
                    }
                }
            }
            int16_t *dx = grad_input + (iy * in_w + ix) * in_c;
            for (int32_t ic = 0; ic < in_c; ic++) {
                dx[ic] = tt_sat_s16(tt_requantize(acc[ic], quant->scale_multiplier, q));
            }
        }
    }
}
