
#include "tt/kernels/dw_conv2d.h"
#include "tt_dw_fwd.h"
#include "tt_fixedpoint.h"

int tt_dw_conv2d_fwd_inplace_s8_supported(const tt_conv_geom_t *geom)
{
    return tt_conv_geom_check(geom) && geom->out_c == geom->in_c && geom->out_h <= geom->in_h &&
           geom->out_w <= geom->in_w;
}

/* The larger of the two paths' scratch, on every build (the planner reads the host build's):
 * tt_dw_conv2d_fwd_s8()'s planar ring and tables, and the one-channel window of the rest. */
uint32_t tt_dw_conv2d_fwd_inplace_s8_scratch_size(const tt_conv_geom_t *geom)
{
    const uint32_t window = ((uint32_t)(geom->kernel_h * geom->in_w) + 3u) & ~3u;
    const uint32_t planar = tt_dw_conv2d_fwd_s8_scratch_size(geom);
    return planar > window ? planar : window;
}

/*
 * Channels [0, in_c & ~3) go through tt_dw_conv2d_fwd_s8()'s planar path where it applies
 * (tt_dw_fwd.h says why it may write over its input: the same argument as below, four
 * channels at a time); the others, or all channels where it does not apply, one at a time here.
 *
 * Why the row window is enough: input row r of channel c is first needed by the first output
 * row whose window reaches it, oy_first(r) <= r (padding < kernel), and is first overwritten by
 * output row floor(r * in_w / out_w) >= r (out_w <= in_w). Copying the rows as the window
 * advances, before computing the row, therefore always copies intact data; a row leaves the
 * window only when no later output row needs it, so kernel_h slots (row r in slot r % kh) do.
 */
void tt_dw_conv2d_fwd_inplace_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *weights, const int32_t *bias, int8_t *data)
{
    const int32_t in_w = geom->in_w, c = geom->in_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    const int32_t input_offset = -quant->input_zp;
    int8_t *ring = (int8_t *)ctx->buf;

    for (int32_t ch = tt_dw_conv2d_fwd_planar_s8(ctx, geom, quant, data, weights, bias, data); ch < c; ch++) {
        const int32_t b = bias != 0 ? bias[ch] : 0;
        const int32_t mult = quant->multiplier[ch], shift = quant->shift[ch];
        int32_t copied = 0; /* input rows [0, copied) of this channel are (or were) in the ring */
        for (int32_t oy = 0; oy < geom->out_h; oy++) {
            const int32_t y0 = oy * geom->stride_h - geom->pad_top;
            const int32_t ky_lo = y0 < 0 ? -y0 : 0;
            const int32_t ky_hi = y0 + kh > geom->in_h ? geom->in_h - y0 : kh;
            for (; copied < y0 + ky_hi; copied++) {
                int8_t *dst = ring + (copied % kh) * in_w;
                const int8_t *src = data + copied * in_w * c + ch;
                for (int32_t x = 0; x < in_w; x++) {
                    dst[x] = src[x * c];
                }
            }
            for (int32_t ox = 0; ox < geom->out_w; ox++) {
                const int32_t x0 = ox * geom->stride_w - geom->pad_left;
                const int32_t kx_lo = x0 < 0 ? -x0 : 0;
                const int32_t kx_hi = x0 + kw > in_w ? in_w - x0 : kw;
                int32_t acc = b;
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    const int8_t *in = ring + ((y0 + ky) % kh) * in_w + x0;
                    for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                        acc += ((int32_t)in[kx] + input_offset) * (int32_t)weights[(ky * kw + kx) * c + ch];
                    }
                }
                acc = tt_requantize(acc, mult, shift) + quant->output_zp;
                data[(oy * geom->out_w + ox) * c + ch] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
            }
        }
    }
}
