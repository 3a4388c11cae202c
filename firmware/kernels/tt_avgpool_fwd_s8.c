#include "tt/kernels/avgpool.h"

#include "tt_fixedpoint.h"
#include "tt_window.h"

void tt_avgpool_fwd_s8(const tt_conv_geom_t *geom, const tt_pool_quant_t *quant, const int8_t *input,
                       int8_t *output)
{
    const int32_t in_w = geom->in_w, c = geom->in_c;

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const tt_window_t wy = tt_window(oy, geom->stride_h, geom->pad_top, geom->kernel_h, geom->in_h);
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const tt_window_t wx = tt_window(ox, geom->stride_w, geom->pad_left, geom->kernel_w, in_w);
            /* Padding is excluded from the mean (TFLite), and the geometry check keeps every
             * window at least partly inside the input, so count >= 1. */
            const int32_t count = (wy.hi - wy.lo) * (wx.hi - wx.lo);
            int8_t *out = output + (oy * geom->out_w + ox) * c;
            for (int32_t ch = 0; ch < c; ch++) {
                int32_t acc = 0;
                for (int32_t ky = wy.lo; ky < wy.hi; ky++) {
                    for (int32_t kx = wx.lo; kx < wx.hi; kx++) {
                        acc += input[((wy.start + ky) * in_w + (wx.start + kx)) * c + ch];
                    }
                }
                /* Round half away from zero; C division truncates toward zero. */
                acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                out[ch] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
            }
        }
    }
}
