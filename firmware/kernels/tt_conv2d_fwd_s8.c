#include "tt/kernels/conv2d.h"

#include <string.h>

#include "tt_dsp.h"
#include "tt_fixedpoint.h"

/* Bytes of the Cortex-M7 path's widened weights (both rows of every output-channel pair as
 * int16, tt_dsp_dot_2x2()'s word order, four words per four terms): kept when they fit 1 KB
 * (the stems: 8 pairs x 28 terms = 896 B), so that scratch stays small for any layer. */
static uint32_t wide_weight_bytes(const tt_conv_geom_t *geom)
{
    const uint32_t n = (uint32_t)geom->kernel_h * (uint32_t)geom->kernel_w * (uint32_t)geom->in_c;
    const uint32_t pairs = ((uint32_t)geom->out_c + 1u) / 2u;
    if (n < 4u || n > 256u || pairs > 256u) {
        return 0u;
    }
    const uint32_t bytes = pairs * 4u * ((n + 3u) & ~3u);
    return bytes <= 1024u ? bytes : 0u;
}

uint32_t tt_conv2d_fwd_s8_scratch_size(const tt_conv_geom_t *geom)
{
    /* The Cortex-M7 path's int16 column pair, its two int8 windows (word-rounded), then the
     * widened weights when small. */
    const uint32_t n4 = ((uint32_t)geom->kernel_h * (uint32_t)geom->kernel_w * (uint32_t)geom->in_c + 3u) & ~3u;
    return 2u * n4 * (uint32_t)sizeof(int16_t) + 2u * n4 + wide_weight_bytes(geom);
}

#if TT_DSP
/* A window row is kernel_w * in_c contiguous input bytes (9 for the 3-channel stems), too
 * short for a memcpy call to pay off: copied a word at a time (unaligned LDR / STR). */
static inline void copy_s8(int8_t *dst, const int8_t *src, int32_t len)
{
    int32_t i = 0;
    for (; i + 4 <= len; i += 4) {
        const int32_t v = tt_dsp_read_s8x4(src + i);
        memcpy(dst + i, &v, sizeof v);
    }
    for (; i < len; i++) {
        dst[i] = src[i];
    }
}

/*
 * Output pixel (oy, ox)'s window as int8, flattened in the weights' (ky, kx, ic) order, so
 * that tt_dsp_im2col_pair() widens two of them a word at a time (SXTAB16 adds the input
 * offset in the same instruction). Padded taps hold the input zero point, which the offset
 * turns into 0, what a padded tap contributes. The border pixels' path (window() copies
 * the others): a window row inside the input horizontally is still one contiguous copy, the
 * rest is tested tap by tap.
 */
__attribute__((noinline)) static void window_s8(const tt_conv_geom_t *g, const int8_t *input, int8_t zp, int32_t oy, int32_t ox, int8_t *win)
{
    const int32_t in_w = g->in_w, in_c = g->in_c, kw = g->kernel_w, row = kw * in_c;
    const int32_t y0 = oy * g->stride_h - g->pad_top, x0 = ox * g->stride_w - g->pad_left;
    const int inside = x0 >= 0 && x0 + kw <= in_w;
    for (int32_t ky = 0; ky < g->kernel_h; ky++, win += row) {
        const int32_t y = y0 + ky;
        if (y < 0 || y >= g->in_h) {
            memset(win, zp, (size_t)row);
        } else if (inside) {
            copy_s8(win, input + (y * in_w + x0) * in_c, row);
        } else {
            for (int32_t kx = 0; kx < kw; kx++) {
                const int32_t x = x0 + kx;
                if (x < 0 || x >= in_w) {
                    memset(win + kx * in_c, zp, (size_t)in_c);
                } else {
                    copy_s8(win + kx * in_c, input + (y * in_w + x) * in_c, in_c);
                }
            }
        }
    }
}

/* window_s8() for a window inside the input (every pixel but those of the border rows and
 * columns): kernel_h contiguous copies, inlined in the pixel loop, with no call and no bounds
 * test per row. */
__attribute__((always_inline)) static inline void window(const tt_conv_geom_t *g, const int8_t *input, int8_t zp,
                                                         int32_t oy, int32_t ox, int8_t *win)
{
    const int32_t y0 = oy * g->stride_h - g->pad_top, x0 = ox * g->stride_w - g->pad_left;
    if (y0 < 0 || y0 + g->kernel_h > g->in_h || x0 < 0 || x0 + g->kernel_w > g->in_w) {
        window_s8(g, input, zp, oy, ox, win);
        return;
    }
    const int32_t row = g->kernel_w * g->in_c, step = g->in_w * g->in_c;
    const int8_t *src = input + (y0 * g->in_w + x0) * g->in_c;
    for (int32_t ky = 0; ky < g->kernel_h; ky++, win += row, src += step) {
        copy_s8(win, src, row);
    }
}

/*
 * The 2x2 block of tt_dsp_dot_2x2() against pre-widened weights (@p groups groups of four
 * terms; per group the column pair's four words and the weight pair's four words): the weights
 * are read as int16 pairs with LDRD instead of LDR + 2 SXTB16 per row, 2 LDRD + 2 LDRD + 8 SMLAD
 * per 16 MACs, and the overlapped last group is one more iteration.
 */
static inline void dot_wide(const int16_t *cols, const int32_t *w, int32_t groups, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const int16_t *const end = cols + 8 * groups;
    int32_t x0e, x0o, x1e, x1o, we, wo;
    __asm__ volatile("1:\n\t"
                     "ldrd   %[x0e], %[x0o], [%[c]], #8\n\t"
                     "ldrd   %[x1e], %[x1o], [%[c]], #8\n\t"
                     "ldrd   %[we], %[wo], [%[w]], #8\n\t"
                     "smlad  %[a00], %[x0e], %[we], %[a00]\n\t"
                     "smlad  %[a00], %[x0o], %[wo], %[a00]\n\t"
                     "smlad  %[a10], %[x1e], %[we], %[a10]\n\t"
                     "smlad  %[a10], %[x1o], %[wo], %[a10]\n\t"
                     "ldrd   %[we], %[wo], [%[w]], #8\n\t"
                     "smlad  %[a01], %[x0e], %[we], %[a01]\n\t"
                     "smlad  %[a01], %[x0o], %[wo], %[a01]\n\t"
                     "smlad  %[a11], %[x1e], %[we], %[a11]\n\t"
                     "smlad  %[a11], %[x1o], %[wo], %[a11]\n\t"
                     "cmp    %[c], %[end]\n\t"
                     "bne    1b\n\t"
                     : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [c] "+r"(cols),
                       [w] "+r"(w), [x0e] "=&r"(x0e), [x0o] "=&r"(x0o), [x1e] "=&r"(x1e), [x1o] "=&r"(x1o),
                       [we] "=&r"(we), [wo] "=&r"(wo)
                     : [end] "r"(end)
                     : "cc", "memory");
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/*
 * Cortex-M7: two output pixels at a time, each window gathered as int8 (window()) and
 * the pair widened into the int16 column pair of the scratch (tt_dsp_im2col_pair()), then
 * the same 2 pixels x 2 output channels SMLAD core as the pointwise convolution
 * (tt_dsp_dot_2x2()), each OHWI weight row being one column's dot product. An odd last
 * pixel or channel is computed as a pair with itself and stored twice, identically.
 *
 * When n = kernel_h * kernel_w * in_c is not a multiple of 4 (27 for the 3-channel stems),
 * the last n % 4 terms are one more SMLAD group instead of a scalar tail: the group reads
 * terms n - 4 .. n - 1 (the weight word stays inside the row) and its column holds 0 for the
 * 4 - n % 4 terms the previous group already counted (their window bytes are set to the zero
 * point, which the offset turns into 0), so the sums are unchanged.
 *
 * When both rows of every output-channel pair fit 1 KB widened to int16 (wide_weight_bytes();
 * the stems' 16 x 27 weights), they are widened once per call, the overlapped group's word
 * included, and dot_wide() takes the place of tt_dsp_dot_2x2() and the extra group.
 */
__attribute__((always_inline)) static inline void conv_dsp(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                                           const tt_conv_quant_t *quant, const int8_t *input,
                                                           const int8_t *weights, const int32_t *bias,
                                                           int8_t *output, const int32_t n)
{
    const int32_t out_c = geom->out_c, out_w = geom->out_w;
    const int32_t n4 = (n + 3) & ~3, pixels = geom->out_h * out_w;
    const int overlap = n > 4 && (n & 3) != 0;
    const int32_t body = overlap ? n & ~3 : n; /* the terms tt_dsp_dot_2x2() takes */
    const int8_t zp = (int8_t)quant->input_zp;
    const int32_t offset2 = tt_dsp_pack_offset(-quant->input_zp);
    /* The bytes of the last window word that the overlapped group must not count again. */
    const uint32_t seen = overlap ? 0xFFFFFFFFu >> (8 * (n & 3)) : 0u;
    const uint32_t zp4 = ((uint32_t)(uint8_t)zp * 0x01010101u) & seen;
    const tt_dsp_requant_t rq = tt_dsp_requant_params(quant, geom->out_c);
    int16_t *cols = (int16_t *)ctx->buf;
    int16_t *last = cols + 2 * body;
    int8_t *win0 = (int8_t *)(cols + 2 * n4);
    int8_t *win1 = win0 + n4;
    /* Widened weights: per output-channel pair n4 words, group by group (the last one read at
     * n - 4 when it overlaps), rows 0 and 1 even/odd. */
    int32_t *wide = wide_weight_bytes(geom) != 0 ? (int32_t *)(win1 + n4) : 0;
    if (wide != 0) {
        int32_t *ww = wide;
        for (int32_t oc0 = 0; oc0 < out_c; oc0 += 2) {
            const int32_t oc1 = oc0 + 1 < out_c ? oc0 + 1 : oc0;
            for (int32_t j = 0; j < n4; j += 4) {
                const int32_t at = j < body ? j : n - 4;
                const int32_t a = tt_dsp_read_s8x4(weights + oc0 * n + at);
                const int32_t b = tt_dsp_read_s8x4(weights + oc1 * n + at);
                ww[0] = tt_dsp_even(a);
                ww[1] = tt_dsp_odd(a);
                ww[2] = tt_dsp_even(b);
                ww[3] = tt_dsp_odd(b);
                ww += 4;
            }
        }
    }

    int32_t oy = 0, ox = 0; /* the next window's output pixel */
    for (int32_t p0 = 0; p0 < pixels; p0 += 2) {
        const int32_t p1 = p0 + 1 < pixels ? p0 + 1 : p0;
        int8_t *out0 = output + p0 * out_c;
        int8_t *out1 = output + p1 * out_c;
        window(geom, input, zp, oy, ox, win0);
        if (++ox == out_w) {
            ox = 0;
            oy++;
        }
        if (p1 != p0) {
            window(geom, input, zp, oy, ox, win1);
            if (++ox == out_w) {
                ox = 0;
                oy++;
            }
        }
        const int8_t *x1 = p1 != p0 ? win1 : win0;
        tt_dsp_im2col_pair(win0, x1, body, -quant->input_zp, cols);
        if (overlap) {
            const int32_t a = (int32_t)(((uint32_t)tt_dsp_read_s8x4(win0 + n - 4) & ~seen) | zp4);
            const int32_t b = (int32_t)(((uint32_t)tt_dsp_read_s8x4(x1 + n - 4) & ~seen) | zp4);
            tt_dsp_write_word(last, tt_dsp_even_add(offset2, a));
            tt_dsp_write_word(last + 2, tt_dsp_odd_add(offset2, a));
            tt_dsp_write_word(last + 4, tt_dsp_even_add(offset2, b));
            tt_dsp_write_word(last + 6, tt_dsp_odd_add(offset2, b));
        }
        for (int32_t oc0 = 0; oc0 < out_c; oc0 += 2) {
            const int32_t oc1 = oc0 + 1 < out_c ? oc0 + 1 : oc0;
            const int8_t *w0 = weights + oc0 * n, *w1 = weights + oc1 * n;
            int32_t acc[4];
            acc[0] = acc[2] = bias != 0 ? bias[oc0] : 0;
            acc[1] = acc[3] = bias != 0 ? bias[oc1] : 0;
            if (wide != 0) {
                dot_wide(cols, wide + (oc0 / 2) * n4, n4 / 4, acc);
            } else {
                tt_dsp_dot_2x2(cols, w0, w1, body, acc);
            }
            if (overlap && wide == 0) {
                const int32_t x0e = tt_dsp_read_word(last), x0o = tt_dsp_read_word(last + 2);
                const int32_t x1e = tt_dsp_read_word(last + 4), x1o = tt_dsp_read_word(last + 6);
                const int32_t r0 = tt_dsp_read_s8x4(w0 + n - 4), r1 = tt_dsp_read_s8x4(w1 + n - 4);
                acc[0] = tt_dsp_smlad(x0o, tt_dsp_odd(r0), tt_dsp_smlad(x0e, tt_dsp_even(r0), acc[0]));
                acc[2] = tt_dsp_smlad(x1o, tt_dsp_odd(r0), tt_dsp_smlad(x1e, tt_dsp_even(r0), acc[2]));
                acc[1] = tt_dsp_smlad(x0o, tt_dsp_odd(r1), tt_dsp_smlad(x0e, tt_dsp_even(r1), acc[1]));
                acc[3] = tt_dsp_smlad(x1o, tt_dsp_odd(r1), tt_dsp_smlad(x1e, tt_dsp_even(r1), acc[3]));
            }
            tt_dsp_requant_pair(&rq, oc0, acc[0], acc[2], out0 + oc0, out1 + oc0);
            tt_dsp_requant_pair(&rq, oc1, acc[1], acc[3], out0 + oc1, out1 + oc1);
        }
    }
}

void tt_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                      const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    const int32_t n = geom->kernel_h * geom->kernel_w * geom->in_c;
    /* The 3-channel 3x3 stems: a constant n folds tt_dsp_dot_2x2()'s loop bounds and tails. */
    if (n == 27) {
        conv_dsp(ctx, geom, quant, input, weights, bias, output, 27);
    } else {
        conv_dsp(ctx, geom, quant, input, weights, bias, output, n);
    }
}
#else
void tt_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                      const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    (void)ctx; /* The portable loop needs no scratch; the Cortex-M7 path's im2col does. */
    const int32_t in_w = geom->in_w, in_c = geom->in_c, out_c = geom->out_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    const int32_t input_offset = -quant->input_zp;

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const int32_t y0 = oy * geom->stride_h - geom->pad_top;
        /* Clip the window to the input: padded taps hold the zero point and add nothing. */
        const int32_t ky_lo = y0 < 0 ? -y0 : 0;
        const int32_t ky_hi = y0 + kh > geom->in_h ? geom->in_h - y0 : kh;
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const int32_t x0 = ox * geom->stride_w - geom->pad_left;
            const int32_t kx_lo = x0 < 0 ? -x0 : 0;
            const int32_t kx_hi = x0 + kw > in_w ? in_w - x0 : kw;
            int8_t *out = output + ((int32_t)oy * geom->out_w + ox) * out_c;
            for (int32_t oc = 0; oc < out_c; oc++) {
                int32_t acc = bias != 0 ? bias[oc] : 0;
                const int8_t *w_oc = weights + (int32_t)oc * kh * kw * in_c;
                for (int32_t ky = ky_lo; ky < ky_hi; ky++) {
                    for (int32_t kx = kx_lo; kx < kx_hi; kx++) {
                        const int8_t *in = input + ((y0 + ky) * in_w + (x0 + kx)) * in_c;
                        const int8_t *w = w_oc + (ky * kw + kx) * in_c;
                        for (int32_t ic = 0; ic < in_c; ic++) {
                            acc += ((int32_t)in[ic] + input_offset) * (int32_t)w[ic];
                        }
                    }
                }
                acc = tt_requantize(acc, quant->multiplier[oc], quant->shift[oc]) + quant->output_zp;
                out[oc] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
            }
        }
    }
}
#endif
