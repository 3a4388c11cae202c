/*
 * The Cortex-M7 core of the depthwise weight gradient, private to the kernels, shared by
 * tt_dw_conv2d_bwd_weight_s16() (which stores each dW element) and the fused
 * tt_dw_conv2d_bwd_weight_update_s8() (which applies each to its weight at once): both hand
 * every exact sum to a sink, in the slice's order, so both see the values of the portable loop.
 */
#ifndef TT_KERNELS_DW_BWD_WEIGHT_H
#define TT_KERNELS_DW_BWD_WEIGHT_H

#include "tt/kernels/types.h"
#include "tt_dsp.h"

#if TT_DSP
/* Positions summed in int32 before the sum moves to an int64: a term is at most
 * |dY (x - zp)| <= 32768 * 255 < 2^23, so 256 of them stay below 2^31 and the int32 sum is
 * exact. Rows wider than this take the portable loop. */
#define TT_DW_BWD_WEIGHT_CHUNK 256

/* Receives dW[tap][j]'s exact sum (before the rounding shift); i = tap * n_channels + j. */
typedef void (*tt_dw_wgrad_sink_t)(void *sink, int32_t i, int32_t j, int64_t acc);

/* The output positions whose window puts tap k on the input (o * stride - pad + k inside
 * [0, in)) form one range [*lo, *hi) per axis, so a tap's positions are a rectangle. */
static inline void tt_dw_wgrad_range(int32_t in, int32_t out, int32_t stride, int32_t pad, int32_t k, int32_t *lo,
                                     int32_t *hi)
{
    const int32_t first = pad - k, last = in - 1 + pad - k; /* o * stride in [first, last] */
    *lo = first > 0 ? (first + stride - 1) / stride : 0;
    *hi = last < 0 ? 0 : last / stride + 1 < out ? last / stride + 1 : out;
    *hi = *hi > *lo ? *hi : *lo;
}

/* A tap's rectangle of positions: rows x len, consecutive positions x_step values of x and
 * c values of dY apart, consecutive rows x_row and d_row apart. */
typedef struct {
    int32_t rows, len, x_step, x_row, c, d_row;
} tt_dw_wgrad_rect_t;

/*
 * Four consecutive channels: one LDR of x widened by SXTAB16 (the -zp offset added in the
 * same instruction) into (x0 - zp, x2 - zp) and (x1 - zp, x3 - zp), two dY words (dY0, dY1)
 * and (dY2, dY3), and SMLABB / SMLABT / SMLATB / SMLATT pick the matching halves: 13
 * instructions for 4 MACs with the loop, where the portable loop's int64 products and index
 * arithmetic take about 80. The row loop is assembly because GCC (at -Os) spills the
 * accumulators inside it in one of the two kernels that inline this. Whole rows go into the
 * int32 sums, as many as a chunk holds.
 */
static inline void tt_dw_wgrad_row4(const int8_t *xp, const int16_t *dp, int32_t len, int32_t x_step, int32_t d_step,
                                    int32_t offset2, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], xw, xe, xo, d;
    const int8_t *const end = xp + len * x_step;
    __asm__ volatile("1:\n\t"
                     "ldr     %[xw], [%[xp]]\n\t"
                     "ldr     %[d], [%[dp]]\n\t"
                     "add     %[xp], %[xp], %[xs]\n\t"
                     "sxtab16 %[xe], %[off], %[xw]\n\t"
                     "sxtab16 %[xo], %[off], %[xw], ror #8\n\t"
                     "ldr     %[xw], [%[dp], #4]\n\t"
                     "add     %[dp], %[dp], %[ds]\n\t"
                     "smlabb  %[a0], %[xe], %[d], %[a0]\n\t"
                     "smlabt  %[a1], %[xo], %[d], %[a1]\n\t"
                     "smlatb  %[a2], %[xe], %[xw], %[a2]\n\t"
                     "smlatt  %[a3], %[xo], %[xw], %[a3]\n\t"
                     "cmp     %[xp], %[end]\n\t"
                     "bne     1b\n\t"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp), [dp] "+r"(dp),
                       [xw] "=&r"(xw), [xe] "=&r"(xe), [xo] "=&r"(xo), [d] "=&r"(d)
                     : [end] "r"(end), [xs] "r"(x_step), [ds] "r"(d_step), [off] "r"(offset2)
                     : "cc", "memory");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Adds the four channels' sums over the rectangle to sum[]. */
__attribute__((noinline)) static void tt_dw_wgrad_run4(const tt_dw_wgrad_rect_t *t, const int8_t *x, const int16_t *dy,
                                                     int32_t offset2, int64_t sum[4])
{
    const int32_t rows_per_chunk = TT_DW_BWD_WEIGHT_CHUNK / t->len;
    const int32_t x_step = t->x_step, d_step = t->c * 2;
    for (int32_t row = 0; row < t->rows;) {
        const int32_t chunk_end = t->rows - row < rows_per_chunk ? t->rows : row + rows_per_chunk;
        int32_t acc[4] = {0, 0, 0, 0};
        for (; row < chunk_end; row++) {
            tt_dw_wgrad_row4(x + row * t->x_row, dy + row * t->d_row, t->len, x_step, d_step, offset2, acc);
        }
        for (int32_t k = 0; k < 4; k++) {
            sum[k] += acc[k];
        }
    }
}

/* One channel (outside a run of four): plain multiplies into an int32 per chunk. */
__attribute__((noinline)) static int64_t tt_dw_wgrad_one(const tt_dw_wgrad_rect_t *t, const int8_t *x,
                                                        const int16_t *dy, int32_t input_zp)
{
    const int32_t rows_per_chunk = TT_DW_BWD_WEIGHT_CHUNK / t->len;
    const int32_t x_step = t->x_step, c = t->c;
    int64_t s = 0;
    for (int32_t row = 0; row < t->rows;) {
        const int32_t chunk_end = t->rows - row < rows_per_chunk ? t->rows : row + rows_per_chunk;
        int32_t a = 0;
        for (; row < chunk_end; row++) {
            const int8_t *xp = x + row * t->x_row;
            const int16_t *dp = dy + row * t->d_row;
            const int8_t *const end = xp + t->len * x_step;
            for (; xp != end; xp += x_step, dp += c) {
                a += (int32_t)*dp * ((int32_t)*xp - input_zp);
            }
        }
        s += a;
    }
    return s;
}

/*
 * dW[tap][j] = sum over the tap's positions of dY[o][ch] (x[i][ch] - zp): per channel a dot
 * product over positions, with both tensors channel-minor, so the lanes of a packed word are
 * channels and every lane needs its own accumulator (SMLAD, which adds its two lanes, does not
 * fit). Runs of four consecutive channels go through tt_dw_wgrad_run4(), the others (a ranked
 * selection) one at a time. Channel j of the input is value channels[j] of a pixel's x_stride
 * values in the full input, value j in the fused kernel's compact one (compact_input).
 */
static inline void tt_dw_bwd_weight_dsp(const tt_conv_geom_t *geom, int32_t input_zp, const int16_t *channels,
                                        int32_t n_channels, int32_t x_stride, int compact_input, const int8_t *input,
                                        const int16_t *grad_output, tt_dw_wgrad_sink_t emit, void *sink)
{
    const int32_t c = geom->in_c, in_w = geom->in_w, out_w = geom->out_w;
    const int32_t sh = geom->stride_h, sw = geom->stride_w, kw = geom->kernel_w;
    const int32_t offset2 = tt_dsp_pack_offset(-input_zp);
    for (int32_t ky = 0; ky < geom->kernel_h; ky++) {
        int32_t oy0, oy1;
        tt_dw_wgrad_range(geom->in_h, geom->out_h, sh, geom->pad_top, ky, &oy0, &oy1);
        for (int32_t kx = 0; kx < kw; kx++) {
            int32_t ox0, ox1;
            tt_dw_wgrad_range(in_w, out_w, sw, geom->pad_left, kx, &ox0, &ox1);
            const tt_dw_wgrad_rect_t rect = {ox1 > ox0 ? oy1 - oy0 : 0, ox1 - ox0,       sw * x_stride,
                                             sh * in_w * x_stride,      c,                out_w * c};
            /* Offsets of the rectangle's first position in x and in dY (read only when rows > 0). */
            const int32_t x0 = ((oy0 * sh - geom->pad_top + ky) * in_w + ox0 * sw - geom->pad_left + kx) * x_stride;
            const int32_t d0 = (oy0 * out_w + ox0) * c;
            const int32_t i0 = (ky * kw + kx) * n_channels;
            int32_t j = 0;
            while (j < n_channels) {
                const int32_t ch = channels[j];
                const int8_t *x = input + x0 + (compact_input ? j : ch);
                const int16_t *dy = grad_output + d0 + ch;
                if (j + 4 <= n_channels && channels[j + 1] == ch + 1 && channels[j + 2] == ch + 2 &&
                    channels[j + 3] == ch + 3) {
                    int64_t sum[4] = {0, 0, 0, 0};
                    if (rect.rows > 0) {
                        tt_dw_wgrad_run4(&rect, x, dy, offset2, sum);
                    }
                    for (int32_t k = 0; k < 4; k++, j++) {
                        emit(sink, i0 + j, j, sum[k]);
                    }
                } else {
                    emit(sink, i0 + j, j, rect.rows > 0 ? tt_dw_wgrad_one(&rect, x, dy, input_zp) : 0);
                    j++;
                }
            }
        }
    }
}
#endif

#endif /* TT_KERNELS_DW_BWD_WEIGHT_H */
