#include "tt/kernels/maxpool.h"

#include "tt_fixedpoint.h"
#include "tt_window.h"

void tt_maxpool_fwd_s8(const tt_conv_geom_t *geom, const tt_pool_quant_t *quant, const int8_t *input,
                       int8_t *output)
{
    const int32_t in_w = geom->in_w, c = geom->in_c;

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const tt_window_t wy = tt_window(oy, geom->stride_h, geom->pad_top, geom->kernel_h, geom->in_h);
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const tt_window_t wx = tt_window(ox, geom->stride_w, geom->pad_left, geom->kernel_w, in_w);
            int8_t *out = output + (oy * geom->out_w + ox) * c;
            /* The geometry check keeps every window at least partly inside the input. */
            for (int32_t ch = 0; ch < c; ch++) {
                int32_t best = INT8_MIN;
                for (int32_t ky = wy.lo; ky < wy.hi; ky++) {
                    const int8_t *row = input + ((wy.start + ky) * in_w + wx.start) * c + ch;
                    for (int32_t kx = wx.lo; kx < wx.hi; kx++) {
                        best = row[kx * c] > best ? row[kx * c] : best;
                    }
                }
                out[ch] = tt_clamp_s8(best, quant->act_min, quant->act_max);
            }
        }
    }
}
