#include "tt/kernels/avgpool.h"

#include "tt_grad.h"

/* In-bounds extent of window @p o along one axis. */
static int32_t window_extent(int32_t o, int32_t stride, int32_t pad, int32_t k, int32_t n)
{
    const int32_t lo = o * stride - pad;
    const int32_t hi = lo + k > n ? n : lo + k;
    return hi - (lo < 0 ? 0 : lo);
}

static int32_t reciprocal_q30(int32_t count)
{
    return (int32_t)((((int64_t)1 << 30) + count / 2) / count);
}

void tt_avgpool_bwd_input_s16(const tt_conv_geom_t *geom, const int16_t *grad_output, int32_t grad_output_exp,
                              int16_t *grad_input, int32_t *grad_input_exp)
{
    const int32_t in_w = geom->in_w, c = geom->in_c;

    /* Counts are separable (rows x columns), so the smallest window is the product of the
     * smallest extents; its reciprocal is the largest share. */
    int32_t min_rows = geom->kernel_h, min_cols = geom->kernel_w;
    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const int32_t e = window_extent(oy, geom->stride_h, geom->pad_top, geom->kernel_h, geom->in_h);
        min_rows = e < min_rows ? e : min_rows;
    }
    for (int32_t ox = 0; ox < geom->out_w; ox++) {
        const int32_t e = window_extent(ox, geom->stride_w, geom->pad_left, geom->kernel_w, in_w);
        min_cols = e < min_cols ? e : min_cols;
    }
    /* Windows covering one element: at most ceil(k / stride) per axis, and no more than exist. */
    int32_t win_h = (geom->kernel_h + geom->stride_h - 1) / geom->stride_h;
    int32_t win_w = (geom->kernel_w + geom->stride_w - 1) / geom->stride_w;
    win_h = win_h < geom->out_h ? win_h : geom->out_h;
    win_w = win_w < geom->out_w ? win_w : geom->out_w;
    const int64_t windows = (int64_t)win_h * win_w;
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, geom->out_h * geom->out_w * c) * windows *
                          reciprocal_q30(min_rows * min_cols);
    const int32_t bits = tt_bitlen_u64((uint64_t)bound);
    const int32_t r = bits > TT_GRAD_BITS ? bits - TT_GRAD_BITS : 0;
    *grad_input_exp = grad_output_exp - 30 + r;

    for (int32_t iy = 0; iy < geom->in_h; iy++) {
        for (int32_t ix = 0; ix < in_w; ix++) {
            int16_t *dx = grad_input + (iy * in_w + ix) * c;
            for (int32_t ch = 0; ch < c; ch++) {
                int64_t acc = 0;
                for (int32_t ky = 0; ky < geom->kernel_h; ky++) {
                    const int32_t oy = tt_tap_source(iy, geom->pad_top, ky, geom->stride_h, geom->out_h);
                    if (oy < 0) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < geom->kernel_w; kx++) {
                        const int32_t ox = tt_tap_source(ix, geom->pad_left, kx, geom->stride_w, geom->out_w);
                        if (ox < 0) {
                            continue;
                        }
                        const int32_t count =
                            window_extent(oy, geom->stride_h, geom->pad_top, geom->kernel_h, geom->in_h) *
                            window_extent(ox, geom->stride_w, geom->pad_left, geom->kernel_w, in_w);
                        acc += (int64_t)grad_output[(oy * geom->out_w + ox) * c + ch] * reciprocal_q30(count);
                    }
                }
                dx[ch] = tt_sat_s16(tt_rdbp64(acc, r));
            }
        }
    }
}
