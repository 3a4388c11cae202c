#include "tt/kernels/dw_conv2d.h"

#include <string.h>

#include "tt_dw_bwd_input.h"

/*
 * Channels per pass over the image. A dX pixel's tap list (a dY and a weight pointer per tap,
 * from the pixel's border position and the ring's rotation) is built once per pass, and
 * tt_dw_bwd_input_pixel() then runs the group's channels four at a time over it. The list and
 * the pixel's bookkeeping cost about as much as computing four of its channels, so they want
 * amortizing over many: with 4 channels per pass the kernel ran 1.56x the out-of-place kernel's
 * instructions, with 16 1.17x, with 32 1.08x (bench/kernels.py, 8x8x192 3x3). The ring grows
 * with the group: 32 channels keep it at 640 B for an 8x8 3x3 layer and about 1.2 KB for the
 * shared models' largest (8x8x160 5x5).
 */
#define GROUP 32

/* The largest kernel side (7x7: TT_DW_BWD_MAX_TAPS taps). */
#define MAX_KERNEL 7

/* The ring's channels per pixel: a whole group, or every channel when there are fewer. */
static int32_t group_channels(const tt_conv_geom_t *geom)
{
    return geom->in_c < GROUP ? geom->in_c : GROUP;
}

/* A pixel's channels into the ring two at a time (dY words may sit at any 2-byte boundary). */
static void copy_s16(int16_t *dst, const int16_t *src, int32_t n)
{
    int32_t j = 0;
    for (; j + 2 <= n; j += 2) {
        int32_t v;
        memcpy(&v, src + j, sizeof v);
        memcpy(dst + j, &v, sizeof v);
    }
    if (j < n) {
        dst[j] = src[j];
    }
}

int tt_dw_conv2d_bwd_input_inplace_s16_supported(const tt_conv_geom_t *geom)
{
    return tt_conv_geom_check(geom) && geom->out_c == geom->in_c && geom->stride_h == 1 && geom->stride_w == 1 &&
           geom->out_h == geom->in_h && geom->out_w == geom->in_w && geom->kernel_h <= MAX_KERNEL && geom->kernel_w <= MAX_KERNEL;
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
 * Why max_lag() + 1 pixels of one group's channels suffice: within a pass over one channel
 * group, dX pixel p overwrites dY pixel p and nothing else (pixels are visited in increasing
 * order), and the dY pixels that later dX pixels still read are p - max_lag() .. p. Those are
 * exactly the max_lag() + 1 most recent pixels, the ring's contents. For a 3x3 SAME kernel that
 * is one row and two pixels of 32 channels. Visiting every channel of a pixel at once instead
 * (one tap list per pixel) would need those pixels' every channel: 3.8 KB for 8x8x192 3x3,
 * 12 KB for 4x4x384 7x7, against the ~24 KB the kernel exists to save.
 */
uint32_t tt_dw_conv2d_bwd_input_inplace_s16_scratch_size(const tt_conv_geom_t *geom)
{
    if (!tt_dw_conv2d_bwd_input_inplace_s16_supported(geom)) {
        return 0;
    }
    return (uint32_t)(max_lag(geom) + 1) * (uint32_t)group_channels(geom) * (uint32_t)sizeof(int16_t);
}

/*
 * One pass per group of GROUP channels, pixels in increasing order. Before dX pixel p is
 * written over dY pixel p, that pixel's dY values are copied into ring slot p % slots. A tap
 * with lag >= 0 reads a pixel at or before p, already overwritten (or about to be): from the
 * ring, where it stays until pixel p - lag + slots is copied, after the last reader. A tap with
 * lag < 0 reads a later pixel, still intact in place. Along a kernel row the lag rises by one
 * per kx, so a row's taps are a run still in place (lag < 0) followed by a run in the ring, one
 * slot further back per kx: the list is built by stepping pointers, not per tap from its lag. The exponent comes from the whole of dY
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
    const int32_t g = group_channels(geom), slots = max_lag(geom) + 1;
    int16_t *ring = (int16_t *)ctx->buf;
    const int32_t q = tt_dw_bwd_input_shift(geom, quant, grad, grad_output_exp, weights, grad_input_exp);
    const tt_dw_bwd_rq_t rq = tt_dw_bwd_rq_params(quant, c, q);

    int32_t row_lag[MAX_KERNEL]; /* lag of tap (ky, 0) */
    for (int32_t ky = 0; ky < kh; ky++) {
        row_lag[ky] = (ky - pad_top) * w - pad_left;
    }
    const int32_t ring_len = slots * g;
    tt_dw_bwd_tap_t tap[TT_DW_BWD_MAX_TAPS];

    for (int32_t ch0 = 0; ch0 < c; ch0 += g) {
        const int32_t n = c - ch0 < g ? c - ch0 : g;
        tt_dw_bwd_rq_t rq_group = rq; /* the group's channels at [0 .. n-1] */
        rq_group.multiplier += ch0;
        rq_group.shift += ch0;
        int32_t at = 0; /* (p % slots) * g: where pixel p's dY goes in the ring */
        for (int32_t y = 0; y < h; y++) {
            /* Taps whose dY row y + pad_top - ky lies inside the image. */
            const int32_t ky_lo = y + pad_top - (h - 1) > 0 ? y + pad_top - (h - 1) : 0;
            const int32_t ky_hi = y + pad_top + 1 < kh ? y + pad_top + 1 : kh;
            for (int32_t x = 0; x < w; x++) {
                int16_t *px = grad + (y * w + x) * c + ch0;
                copy_s16(ring + at, px, n);
                const int32_t kx_lo = x + pad_left - (w - 1) > 0 ? x + pad_left - (w - 1) : 0;
                const int32_t kx_hi = x + pad_left + 1 < kw ? x + pad_left + 1 : kw;
                tt_dw_bwd_tap_t *tp = tap;
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    const int32_t lag = row_lag[ky];
                    const int8_t *wt = weights + (ky * kw + kx_lo) * c + ch0;
                    int32_t kx = kx_lo;
                    /* lag < 0 (kx < -lag): dY pixel p - lag, ahead of p and still in place. */
                    const int32_t kx_ring = -lag < kx_lo ? kx_lo : -lag > kx_hi ? kx_hi : -lag;
                    if (kx < kx_ring) {
                        const int16_t *d = px - (lag + kx) * c;
                        for (; kx < kx_ring; kx++, wt += c, d -= c, tp++) {
                            tp->dy = d;
                            tp->w = wt;
                        }
                    }
                    /* lag >= 0: in the ring, lag pixels back, one further back per kx. */
                    int32_t r = at - (lag + kx) * g;
                    for (; kx < kx_hi; kx++, wt += c, r -= g, tp++) {
                        r = r < 0 ? r + ring_len : r;
                        tp->dy = ring + r;
                        tp->w = wt;
                    }
                }
                const int32_t taps = (int32_t)(tp - tap);
                tt_dw_bwd_input_pixel(tap, taps, &rq_group, n, px);
                at = at + g == ring_len ? 0 : at + g;
            }
        }
    }
}
