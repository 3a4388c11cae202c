#include "tt/kernels/dw_conv2d.h"

#include "tt_dw_bwd_input.h"

uint32_t tt_dw_conv2d_bwd_input_s16_scratch_size(const tt_conv_geom_t *geom)
{
    (void)geom;
    return 0;
}

#if TT_DSP
/*
 * Cortex-M7: per input pixel, the taps that reach it (output pixel, kernel position) are found
 * once, not once per channel as in the portable loop (whose divisibility tests per tap and
 * channel cost more than the multiplies); tt_dw_bwd_input_pixel() then runs the channels four
 * at a time with single 16x16 MACs. Same int32 accumulators, same bits.
 */
static void dw_bwd_input_dsp(const tt_conv_geom_t *geom, const tt_grad_quant_t *quant, const int16_t *grad_output,
                             const int8_t *weights, int16_t *grad_input, int32_t q)
{
    const tt_dw_bwd_rq_t rq = tt_dw_bwd_rq_params(quant, geom->in_c, q);
    const int32_t in_w = geom->in_w, c = geom->in_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    tt_dw_bwd_tap_t tap[TT_DW_BWD_MAX_TAPS];

    /* The rows (ky, oy) that reach dX row iy, once per row; the columns (kx, ox) that reach
     * pixel ix, once per pixel; the pixel's taps are their product, ky outer as before. */
    const int16_t *row_dy[TT_DW_BWD_MAX_TAPS];
    const int8_t *row_w[TT_DW_BWD_MAX_TAPS];
    int32_t col_dy[TT_DW_BWD_MAX_TAPS], col_w[TT_DW_BWD_MAX_TAPS];
    for (int32_t iy = 0; iy < geom->in_h; iy++) {
        int32_t rows = 0;
        for (int32_t ky = 0; ky < kh; ky++) {
            const int32_t oy = tt_tap_source(iy, geom->pad_top, ky, geom->stride_h, geom->out_h);
            if (oy >= 0) {
                row_dy[rows] = grad_output + oy * geom->out_w * c;
                row_w[rows] = weights + ky * kw * c;
                rows++;
            }
        }
        for (int32_t ix = 0; ix < in_w; ix++) {
            int32_t cols = 0;
            for (int32_t kx = 0; kx < kw; kx++) {
                const int32_t ox = tt_tap_source(ix, geom->pad_left, kx, geom->stride_w, geom->out_w);
                if (ox >= 0) {
                    col_dy[cols] = ox * c;
                    col_w[cols] = kx * c;
                    cols++;
                }
            }
            int32_t n = 0;
            for (int32_t r = 0; r < rows; r++) {
                for (int32_t k = 0; k < cols; k++, n++) {
                    tap[n].dy = row_dy[r] + col_dy[k];
                    tap[n].w = row_w[r] + col_w[k];
                }
            }
            tt_dw_bwd_input_pixel(tap, n, &rq, c, grad_input + (iy * in_w + ix) * c);
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
    const int32_t q = tt_dw_bwd_input_shift(geom, quant, grad_output, grad_output_exp, weights, grad_input_exp);

#if TT_DSP
    if (kh * kw <= TT_DW_BWD_MAX_TAPS) {
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
