#include "tt/kernels/dw_conv2d.h"

#include "tt_grad.h"

uint32_t tt_dw_conv2d_bwd_input_s16_scratch_size(const tt_conv_geom_t *geom)
{
    (void)geom;
    return 0;
}

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

    for (int32_t iy = 0; iy < in_h; iy++) {
        for (int32_t ix = 0; ix < in_w; ix++) {
            int16_t *dx = grad_input + (iy * in_w + ix) * c;
            for (int32_t ch = 0; ch < c; ch++) {
                int32_t acc = 0;
                for (int32_t ky = 0; ky < kh; ky++) {
                    const int32_t ty = iy + geom->pad_top - ky;
                    if (ty < 0 || ty % geom->stride_h != 0 || ty / geom->stride_h >= geom->out_h) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < kw; kx++) {
                        const int32_t tx = ix + geom->pad_left - kx;
                        if (tx < 0 || tx % geom->stride_w != 0 || tx / geom->stride_w >= geom->out_w) {
                            continue;
                        }
                        const int32_t o = ((ty / geom->stride_h) * geom->out_w + tx / geom->stride_w) * c + ch;
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
