#include "tt/kernels/maxpool.h"

#include "tt_fixedpoint.h"

void tt_maxpool_fwd_s8(const tt_conv_geom_t *geom, const tt_pool_quant_t *quant, const int8_t *input,
                       int8_t *output)
{
    const int32_t in_w = geom->in_w, c = geom->in_c;

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const int32_t y0 = oy * geom->stride_h - geom->pad_top;
        const int32_t ky_lo = y0 < 0 ? -y0 : 0;
        const int32_t ky_hi = y0 + geom->kernel_h > geom->in_h ? geom->in_h - y0 : geom->kernel_h;
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const int32_t x0 = ox * geom->stride_w - geom->pad_left;
            const int32_t kx_lo = x0 < 0 ? -x0 : 0;
            const int32_t kx_hi = x0 + geom->kernel_w > in_w ? in_w - x0 : geom->kernel_w;
            int8_t *out = output + (oy * geom->out_w + ox) * c;
            /* The geometry check keeps every window at least partly inside the input. */
            for (int32_t ch = 0; ch < c; ch++) {
                int32_t best = INT8_MIN;
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    const int8_t *row = input + ((y0 + ky) * in_w + x0) * c + ch;
                    for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                        best = row[kx * c] > best ? row[kx * c] : best;
                    }
                }
                out[ch] = tt_clamp_s8(best, quant->act_min, quant->act_max);
            }
        }
    }
}
