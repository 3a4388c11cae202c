#include <string.h>

#include "tt/kernels/conv2d.h"

#include "tt_fixedpoint.h"

uint32_t tt_conv2d_fwd_overlay_s8_scratch_size(const tt_conv_geom_t *geom)
{
    return ((uint32_t)(geom->kernel_h * geom->kernel_w * geom->in_c) + 3u) & ~3u;
}

/*
 * Output-channel-major: one merged weight row at a time, so the scratch is one row whatever
 * out_c is. The window is clipped to the input, so padding costs nothing and padded taps
 * contribute 0 exactly as in tt_conv2d_fwd_s8().
 */
void tt_conv2d_fwd_overlay_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                              const int8_t *input, const int8_t *weights, const int16_t *channels, int32_t n_channels,
                              const int8_t *trained, const int32_t *bias, int8_t *output)
{
    const int32_t in_w = geom->in_w, in_c = geom->in_c, out_c = geom->out_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w, taps = kh * kw;
    const int32_t row_len = taps * in_c;
    const int32_t input_offset = -quant->input_zp;
    int8_t *row = (int8_t *)ctx->buf;

    for (int32_t oc = 0; oc < out_c; oc++) {
        memcpy(row, weights + oc * row_len, (size_t)row_len);
        const int8_t *slice = trained + oc * taps * n_channels;
        for (int32_t t = 0; t < taps; t++) {
            for (int32_t j = 0; j < n_channels; j++) {
                row[t * in_c + channels[j]] = slice[t * n_channels + j];
            }
        }
        const int32_t b = bias != 0 ? bias[oc] : 0;
        const int32_t mult = quant->multiplier[oc], shift = quant->shift[oc];
        for (int32_t oy = 0; oy < geom->out_h; oy++) {
            const int32_t y0 = oy * geom->stride_h - geom->pad_top;
            const int32_t ky_lo = y0 < 0 ? -y0 : 0;
            const int32_t ky_hi = y0 + kh > geom->in_h ? geom->in_h - y0 : kh;
            for (int32_t ox = 0; ox < geom->out_w; ox++) {
                const int32_t x0 = ox * geom->stride_w - geom->pad_left;
                const int32_t kx_lo = x0 < 0 ? -x0 : 0;
                const int32_t kx_hi = x0 + kw > in_w ? in_w - x0 : kw;
                int32_t acc = b;
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                        const int8_t *in = input + ((y0 + ky) * in_w + (x0 + kx)) * in_c;
                        const int8_t *w = row + (ky * kw + kx) * in_c;
                        for (int32_t ic = 0; ic < in_c; ic++) {
                            acc += ((int32_t)in[ic] + input_offset) * (int32_t)w[ic];
                        }
                    }
                }
                acc = tt_requantize(acc, mult, shift) + quant->output_zp;
                output[(oy * geom->out_w + ox) * out_c + oc] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
            }
        }
    }
}
