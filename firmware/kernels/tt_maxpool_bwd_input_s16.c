#include "tt/kernels/maxpool.h"

#include "tt_grad.h"
#include "tt_window.h"

/* Window (oy, ox)'s first maximum of channel ch in row-major window order, as its tap
 * ky * kernel_w + kx; only in-bounds positions compete. */
static int32_t winner_tap(const tt_conv_geom_t *geom, const int8_t *input, int32_t oy, int32_t ox, int32_t ch)
{
    const tt_window_t wy = tt_window(oy, geom->stride_h, geom->pad_top, geom->kernel_h, geom->in_h);
    const tt_window_t wx = tt_window(ox, geom->stride_w, geom->pad_left, geom->kernel_w, geom->in_w);
    int32_t best = INT8_MIN - 1, tap = 0;
    for (int32_t ky = wy.lo; ky < wy.hi; ky++) {
        for (int32_t kx = wx.lo; kx < wx.hi; kx++) {
            const int32_t v = input[((wy.start + ky) * geom->in_w + wx.start + kx) * geom->in_c + ch];
            if (v > best) {
                best = v;
                tap = ky * geom->kernel_w + kx;
            }
        }
    }
    return tap;
}

void tt_maxpool_bwd_input_s16(const tt_conv_geom_t *geom, const int8_t *input, const int16_t *grad_output,
                              int32_t grad_output_exp, int16_t *grad_input, int32_t *grad_input_exp)
{
    const int32_t in_w = geom->in_w, c = geom->in_c;

    /* Windows covering one element: at most ceil(k / stride) per axis, and no more than exist. */
    int32_t win_h = (geom->kernel_h + geom->stride_h - 1) / geom->stride_h;
    int32_t win_w = (geom->kernel_w + geom->stride_w - 1) / geom->stride_w;
    win_h = win_h < geom->out_h ? win_h : geom->out_h;
    win_w = win_w < geom->out_w ? win_w : geom->out_w;
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, geom->out_h * geom->out_w * c) * win_h * win_w;
    const int32_t bits = tt_bitlen_u64((uint64_t)bound);
    const int32_t r = bits > TT_GRAD_BITS ? bits - TT_GRAD_BITS : 0;
    *grad_input_exp = grad_output_exp + r;

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
                        if (ox >= 0 && winner_tap(geom, input, oy, ox, ch) == ky * geom->kernel_w + kx) {
                            acc += grad_output[(oy * geom->out_w + ox) * c + ch];
                        }
                    }
                }
                dx[ch] = tt_sat_s16(tt_rdbp64(acc, r));
            }
        }
    }
}
