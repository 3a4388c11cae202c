#include "tt/kernels/avgpool.h"

#include "tt_dsp.h"
#include "tt_fixedpoint.h"
#include "tt_window.h"

/* Round half away from zero; C division truncates toward zero. The window sum of one channel,
 * divided by its count (>= 1: padding is excluded from the mean, as in TFLite, and the geometry
 * check keeps every window at least partly inside the input). */
static inline int8_t mean_s8(int32_t acc, int32_t count, const tt_pool_quant_t *quant)
{
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return tt_clamp_s8(acc, quant->act_min, quant->act_max);
}

#if TT_DSP
/*
 * Cortex-M7: four channels at a time, one word per window tap widened by SXTB16 into two
 * int16-lane sums (channels 0 and 2, 1 and 3): three instructions per four values against
 * about sixteen with the per-value index arithmetic. A lane holds at most 255 * 128 < 2^15, so
 * the lanes move to int32 every 255 taps (a global pool over 16 x 16 has 256).
 */
static void avgpool_dsp(const tt_conv_geom_t *geom, const tt_pool_quant_t *quant, const int8_t *input, int8_t *output)
{
    const int32_t in_w = geom->in_w, c = geom->in_c;
    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const tt_window_t wy = tt_window(oy, geom->stride_h, geom->pad_top, geom->kernel_h, geom->in_h);
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const tt_window_t wx = tt_window(ox, geom->stride_w, geom->pad_left, geom->kernel_w, in_w);
            const int32_t count = (wy.hi - wy.lo) * (wx.hi - wx.lo);
            int8_t *out = output + (oy * geom->out_w + ox) * c;
            int32_t ch = 0;
            for (; ch + 4 <= c; ch += 4) {
                int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, taps = 0;
                uint32_t even = 0, odd = 0;
                for (int32_t ky = wy.lo; ky < wy.hi; ky++) {
                    const int8_t *p = input + ((wy.start + ky) * in_w + wx.start + wx.lo) * c + ch;
                    for (int32_t kx = wx.lo; kx < wx.hi; kx++, p += c) {
                        if (taps == 255) {
                            s0 += (int16_t)even;
                            s2 += (int32_t)even >> 16;
                            s1 += (int16_t)odd;
                            s3 += (int32_t)odd >> 16;
                            even = odd = 0;
                            taps = 0;
                        }
                        const int32_t x = tt_dsp_read_s8x4(p);
                        even = (uint32_t)__sadd16((int16x2_t)even, (int16x2_t)tt_dsp_even(x));
                        odd = (uint32_t)__sadd16((int16x2_t)odd, (int16x2_t)tt_dsp_odd(x));
                        taps++;
                    }
                }
                out[ch] = mean_s8(s0 + (int16_t)even, count, quant);
                out[ch + 1] = mean_s8(s1 + (int16_t)odd, count, quant);
                out[ch + 2] = mean_s8(s2 + ((int32_t)even >> 16), count, quant);
                out[ch + 3] = mean_s8(s3 + ((int32_t)odd >> 16), count, quant);
            }
            for (; ch < c; ch++) {
                int32_t acc = 0;
                for (int32_t ky = wy.lo; ky < wy.hi; ky++) {
                    for (int32_t kx = wx.lo; kx < wx.hi; kx++) {
                        acc += input[((wy.start + ky) * in_w + (wx.start + kx)) * c + ch];
                    }
                }
                out[ch] = mean_s8(acc, count, quant);
            }
        }
    }
}
#endif

void tt_avgpool_fwd_s8(const tt_conv_geom_t *geom, const tt_pool_quant_t *quant, const int8_t *input,
                       int8_t *output)
{
#if TT_DSP
    avgpool_dsp(geom, quant, input, output);
#else
    const int32_t in_w = geom->in_w, c = geom->in_c;

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const tt_window_t wy = tt_window(oy, geom->stride_h, geom->pad_top, geom->kernel_h, geom->in_h);
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const tt_window_t wx = tt_window(ox, geom->stride_w, geom->pad_left, geom->kernel_w, in_w);
            const int32_t count = (wy.hi - wy.lo) * (wx.hi - wx.lo);
            int8_t *out = output + (oy * geom->out_w + ox) * c;
            for (int32_t ch = 0; ch < c; ch++) {
                int32_t acc = 0;
                for (int32_t ky = wy.lo; ky < wy.hi; ky++) {
                    for (int32_t kx = wx.lo; kx < wx.hi; kx++) {
                        acc += input[((wy.start + ky) * in_w + (wx.start + kx)) * c + ch];
                    }
                }
                out[ch] = mean_s8(acc, count, quant);
            }
        }
    }
#endif
}
