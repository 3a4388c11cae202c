#include "tt/kernels/inplace.h"

#include "tt_dw_bwd_input.h"

/* Channels per pass over the image: the four the Cortex-M7 path of tt_dw_bwd_input_pixel()
 * accumulates at once, so its dY words come from the ring as they would from dY. */
#define GROUP 4

int tt_dw_conv2d_bwd_input_inplace_s16_supported(const tt_conv_geom_t *geom)
{
    return tt_conv_geom_check(geom) && geom->out_c == geom->in_c && geom->stride_h == 1 && geom->stride_w == 1 &&
           geom->out_h == geom->in_h && geom->out_w == geom->in_w && geom->kernel_h <= 7 && geom->kernel_w <= 7;
}

/*
 * Pixels are numbered p = y * W + x (W = in_w = out_w). Stride 1 and equal shapes make the dY
 * pixel under tap (ky, kx) of dX pixel p the pixel p - lag, with a lag that depends on the tap
 * only: lag = (ky - pad_top) * W + (kx - pad_left). A dY pixel is therefore read by dX pixels
 * up to max_lag() after its own, and never later.
 */
static int32_t max_lag(const tt_conv_geom_t *geom)
{
    return (geom->kernel_h - 1 - geom->pad_top) * geom->in_w + geom->kernel_w - 1 - geom->pad_left;
}

/*
 * Why max_lag() + 1 pixels of GROUP channels suffice: within a pass over one channel group, dX
 * pixel p overwrites dY pixel p and nothing else (pixels are visited in increasing order), and
 * the dY pixels that later dX pixels still read are p - max_lag() .. p. Those are exactly the
 * max_lag() + 1 most recent pixels, the ring's contents. For a 3x3 SAME kernel that is one row
 * and two pixels of four channels (a whole-tensor copy of (kernel_h - 1) rows would hold every
 * channel at once).
 */
uint32_t tt_dw_conv2d_bwd_input_inplace_s16_scratch_size(const tt_conv_geom_t *geom)
{
    if (!tt_dw_conv2d_bwd_input_inplace_s16_supported(geom)) {
        return 0;
    }
    return (uint32_t)(max_lag(geom) + 1) * GROUP * (uint32_t)sizeof(int16_t);
}

/*
 * One pass per group of GROUP channels, pixels in increasing order. Before dX pixel p is
 * written over dY pixel p, that pixel's dY values are copied into ring slot p % slots. A tap
 * with lag >= 0 reads a pixel at or before p, already overwritten (or about to be): from the
 * ring, where it stays until pixel p - lag + slots is copied, after the last reader. A tap with
 * lag < 0 reads a later pixel, still intact in place. The exponent comes from the whole of dY
 * first, and every dX value is computed like tt_dw_conv2d_bwd_input_s16()'s (same taps in the
 * same order, same tt_dw_bwd_input_pixel()), so the two kernels agree bit for bit.
 */
void tt_dw_conv2d_bwd_input_inplace_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, int32_t grad_output_exp, const int8_t *weights,
                                        int16_t *grad, int32_t *grad_input_exp)
{
    const int32_t h = geom->in_h, w = geom->in_w, c = geom->in_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    const int32_t pad_top = geom->pad_top, pad_left = geom->pad_left;
    const int32_t slots = max_lag(geom) + 1;
    int16_t *ring = (int16_t *)ctx->buf;
    const int32_t q = tt_dw_bwd_input_shift(geom, quant, grad, grad_output_exp, weights, grad_input_exp);

    int32_t lag[TT_DW_BWD_MAX_TAPS];
    for (int32_t ky = 0; ky < kh; ky++) {
        for (int32_t kx = 0; kx < kw; kx++) {
            lag[ky * kw + kx] = (ky - pad_top) * w + (kx - pad_left);
        }
    }
    const int16_t *tap_dy[TT_DW_BWD_MAX_TAPS];
    const int8_t *tap_w[TT_DW_BWD_MAX_TAPS];

    for (int32_t ch0 = 0; ch0 < c; ch0 += GROUP) {
        const int32_t n = c - ch0 < GROUP ? c - ch0 : GROUP;
        int32_t slot = 0; /* p % slots */
        for (int32_t y = 0; y < h; y++) {
            /* Taps whose dY row y + pad_top - ky lies inside the image. */
            const int32_t ky_lo = y + pad_top - (h - 1) > 0 ? y + pad_top - (h - 1) : 0;
            const int32_t ky_hi = y + pad_top + 1 < kh ? y + pad_top + 1 : kh;
            for (int32_t x = 0; x < w; x++) {
                int16_t *px = grad + (y * w + x) * c + ch0;
                int16_t *saved = ring + slot * GROUP;
                for (int32_t j = 0; j < n; j++) {
                    saved[j] = px[j];
                }
                const int32_t kx_lo = x + pad_left - (w - 1) > 0 ? x + pad_left - (w - 1) : 0;
                const int32_t kx_hi = x + pad_left + 1 < kw ? x + pad_left + 1 : kw;
                int32_t taps = 0;
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                        const int32_t k = ky * kw + kx, l = lag[k];
                        if (l >= 0) {
                            const int32_t s = slot - l;
                            tap_dy[taps] = ring + (s < 0 ? s + slots : s) * GROUP;
                        } else {
                            tap_dy[taps] = px - l * c;
                        }
                        tap_w[taps] = weights + k * c + ch0;
                        taps++;
                    }
                }
                tt_dw_bwd_input_pixel(tap_dy, tap_w, taps, quant->multiplier + ch0, quant->shift + ch0,
                                      quant->scale_multiplier, q, n, px);
                slot = slot + 1 == slots ? 0 : slot + 1;
            }
        }
    }
}
