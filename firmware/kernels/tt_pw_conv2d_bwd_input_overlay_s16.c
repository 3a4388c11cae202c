#include <string.h>

#include "tt/kernels/pw_conv2d.h"

#include "tt_dsp.h"
#include "tt_grad.h"

/* The trained-column bitmap, then (Cortex-M7) two pixels' dX values of the slice's columns. */
static uint32_t bitmap_bytes(const tt_conv_geom_t *geom) { return (((uint32_t)geom->in_c + 31u) / 32u) * 4u; }

uint32_t tt_pw_conv2d_bwd_input_overlay_s16_scratch_size(const tt_conv_geom_t *geom)
{
    return tt_pw_conv2d_bwd_input_s16_scratch_size(geom) + bitmap_bytes(geom) + 4u * (uint32_t)geom->in_c;
}

/*
 * dX[p][ic] = sum_oc dY'[p][oc] W[oc][ic] reads W one column per input channel, so the merged
 * tensor never has to exist: the columns outside K come from the frozen tensor in maximal
 * runs (row stride in_c), the columns of K from the slice (row stride n, column j lands on
 * dX channel channels[j]). Every dX element is the same int32 sum over the same merged
 * column as in the plain kernel, so the bits are the same.
 */
typedef struct {
    const int8_t *w;      /* row 0 of the segment's first column */
    int32_t stride;       /* bytes between rows */
    int32_t cols;
    int32_t first;        /* a frozen run: the dX channel of its first column */
} segment_t;

/* The trained columns: the slice as a segment and the dX channel of each of its columns; on
 * the Cortex-M7 two pixels' values are computed into contiguous rows first, then scattered. */
typedef struct {
    const segment_t *columns; /* cols 0: nothing trained */
    const int16_t *channels;  /* the dX channel of column j */
    int16_t *row0, *row1;     /* scratch, cols int16 each */
} slice_t;

static int is_trained(const uint32_t *bits, int32_t c) { return (bits[(uint32_t)c / 32u] >> ((uint32_t)c % 32u)) & 1u; }

/* The next run of frozen columns at or after *from, as a segment; 0 when none is left.
 * @p trained NULL: every column is frozen (the plain kernel, one run without a scan). */
static int next_frozen_run(const int8_t *weights, int32_t in_c, const uint32_t *trained, int32_t *from, segment_t *s)
{
    int32_t a = *from, b = in_c;
    if (trained != 0) {
        while (a < in_c && is_trained(trained, a)) {
            a++;
        }
        for (b = a; b < in_c && !is_trained(trained, b);) {
            b++;
        }
    }
    if (a >= in_c) {
        return 0;
    }
    *from = b;
    s->w = weights + a;
    s->stride = in_c;
    s->cols = b - a;
    s->first = a;
    return 1;
}

/* Largest sum of |W| over the rows of one of the segment's columns. */
static int64_t segment_bound(const segment_t *s, int32_t rows)
{
#if TT_DSP
    return tt_dsp_max_column_abs_sum(s->w, rows, s->cols, s->stride);
#else
    int64_t best = 0;
    for (int32_t k = 0; k < s->cols; k++) {
        int64_t sum = 0;
        for (int32_t r = 0; r < rows; r++) {
            const int32_t w = s->w[r * s->stride + k];
            sum += w < 0 ? -w : w;
        }
        best = sum > best ? sum : best;
    }
    return best;
#endif
}

#if TT_DSP
/*
 * Cortex-M7, one segment for two pixels: W is stored [oc][ic], so the two weights an SMLAD
 * needs (W[oc][ic], W[oc+1][ic]) sit a row stride apart. A halfword load from each of the two
 * rows gives the bytes (W[oc][ic], W[oc][ic+1]) and (W[oc+1][ic], W[oc+1][ic+1]); packed into
 * one word, SXTB16 splits it into exactly the pairs for columns ic and ic+1. dY' is int16
 * already, so a dY' word is an SMLAD operand as it stands.
 *
 * Why 2 pixels x 2 columns: each pair of weight words (2 LDRH, 1 ORR, 2 SXTB16) then feeds
 * four SMLAD (8 MACs), and the two pixels' dY' rows are interleaved by channel pairs in
 * scratch so one LDRD fetches both. Four accumulators, two dY' words, the weight words and
 * four pointers fit the registers. Per output channel pair: 7 loads/ALU + 4 SMLAD for 8 MACs.
 * An odd output channel count leaves a last channel, added with plain multiplies; an odd
 * column count leaves a last column, summed one pixel at a time.
 *
 * Column k lands on dx0[k] and dx1[k]: the caller points them at a frozen run's first channel,
 * or at a contiguous row in scratch that it scatters to the slice's channels (a per-column
 * channel lookup in this loop would cost more than the scatter).
 */
static void segment_dsp(const segment_t *s, int32_t out_c, const int32_t *dyp, const tt_dsp_dx_requant_t *rq,
                        int16_t *dx0, int16_t *dx1)
{
    const int32_t stride = s->stride, pairs = out_c >> 1;
    const int8_t *const last_row = s->w + (out_c - 1) * stride; /* the odd channel's row */
    int32_t k = 0;
    for (; k + 2 <= s->cols; k += 2) {
        int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0; /* pixel, column */
        const int8_t *w = s->w + k;
        const int32_t *dw = dyp;
        for (int32_t j = 0; j < pairs; j++) {
            uint16_t h0, h1;
            memcpy(&h0, w, 2);
            memcpy(&h1, w + stride, 2);
            const int32_t packed = (int32_t)((uint32_t)h0 | ((uint32_t)h1 << 16));
            const int32_t we = tt_dsp_even(packed), wo = tt_dsp_odd(packed);
            const int32_t d0 = dw[0], d1 = dw[1];
            a00 = tt_dsp_smlad(d0, we, a00);
            a01 = tt_dsp_smlad(d0, wo, a01);
            a10 = tt_dsp_smlad(d1, we, a10);
            a11 = tt_dsp_smlad(d1, wo, a11);
            w += 2 * stride;
            dw += 2;
        }
        if (out_c & 1) {
            const int16_t *dl = (const int16_t *)dw; /* dY'0[last], 0, dY'1[last], 0 */
            a00 += dl[0] * last_row[k];
            a01 += dl[0] * last_row[k + 1];
            a10 += dl[2] * last_row[k];
            a11 += dl[2] * last_row[k + 1];
        }
        dx0[k] = (int16_t)tt_dsp_dx_requant(rq, a00);
        dx0[k + 1] = (int16_t)tt_dsp_dx_requant(rq, a01);
        dx1[k] = (int16_t)tt_dsp_dx_requant(rq, a10);
        dx1[k + 1] = (int16_t)tt_dsp_dx_requant(rq, a11);
    }
    if (k < s->cols) {
        int32_t a0 = 0, a1 = 0;
        const int16_t *dl = (const int16_t *)dyp;
        for (int32_t oc = 0; oc < out_c; oc++) {
            const int32_t w = s->w[oc * stride + k];
            const int16_t *e = dl + (oc >> 1) * 4 + (oc & 1);
            a0 += e[0] * w;
            a1 += e[2] * w;
        }
        dx0[k] = (int16_t)tt_dsp_dx_requant(rq, a0);
        dx1[k] = (int16_t)tt_dsp_dx_requant(rq, a1);
    }
}

/*
 * The same for three pixels, where the scratch holds their dY' rows (out_c <= in_c, the
 * projections' input gradients) and nothing is trained: each pair of weight words (2 LDRH,
 * ORR, 2 SXTB16) then feeds six SMLAD (12 MACs), 16 instructions with the loop against 15 for
 * 8 MACs with two pixels. The loop is assembly: six accumulators, the weight pointer, row
 * stride, dY' pointer and end, two weight halves and two dY' words are the core's 14 registers
 * (GCC spills at -Os). dyp holds, per channel pair, pixel 0's, 1's and 2's word.
 */
static void segment_dsp3(const segment_t *s, int32_t out_c, const int32_t *dyp, const tt_dsp_dx_requant_t *rq,
                         int16_t *dx0, int16_t *dx1, int16_t *dx2)
{
    const int32_t stride = s->stride, pairs = out_c >> 1;
    const int8_t *const last_row = s->w + (out_c - 1) * stride; /* the odd channel's row */
    const int32_t *const end = dyp + 3 * pairs;
    int32_t k = 0;
    for (; k + 2 <= s->cols; k += 2) {
        int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0, a20 = 0, a21 = 0; /* pixel, column */
        if (pairs > 0) {
            const int8_t *w = s->w + k;
            const int32_t *dy = dyp;
            int32_t h0, h1, d0, d1;
            __asm__ volatile("1:\n\t"
                             "ldrh   %[h0], [%[w]]\n\t"
                             "ldrh   %[h1], [%[w], %[st]]\n\t"
                             "add    %[w], %[w], %[st], lsl #1\n\t"
                             "orr    %[h0], %[h0], %[h1], lsl #16\n\t"
                             "sxtb16 %[h1], %[h0]\n\t"
                             "sxtb16 %[h0], %[h0], ror #8\n\t"
                             "ldrd   %[d0], %[d1], [%[dy]], #8\n\t"
                             "smlad  %[a00], %[d0], %[h1], %[a00]\n\t"
                             "smlad  %[a01], %[d0], %[h0], %[a01]\n\t"
                             "smlad  %[a10], %[d1], %[h1], %[a10]\n\t"
                             "smlad  %[a11], %[d1], %[h0], %[a11]\n\t"
                             "ldr    %[d0], [%[dy]], #4\n\t"
                             "smlad  %[a20], %[d0], %[h1], %[a20]\n\t"
                             "smlad  %[a21], %[d0], %[h0], %[a21]\n\t"
                             "cmp    %[dy], %[end]\n\t"
                             "bne    1b"
                             : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [a20] "+r"(a20),
                               [a21] "+r"(a21), [w] "+r"(w), [dy] "+r"(dy), [h0] "=&r"(h0), [h1] "=&r"(h1),
                               [d0] "=&r"(d0), [d1] "=&r"(d1)
                             : [st] "r"(stride), [end] "r"(end)
                             : "cc", "memory");
        }
        if (out_c & 1) {
            const int16_t *dl = (const int16_t *)end; /* dY'0[last], 0, dY'1[last], 0, dY'2[last], 0 */
            const int32_t w0 = last_row[k], w1 = last_row[k + 1];
            a00 += dl[0] * w0;
            a01 += dl[0] * w1;
            a10 += dl[2] * w0;
            a11 += dl[2] * w1;
            a20 += dl[4] * w0;
            a21 += dl[4] * w1;
        }
        dx0[k] = (int16_t)tt_dsp_dx_requant(rq, a00);
        dx0[k + 1] = (int16_t)tt_dsp_dx_requant(rq, a01);
        dx1[k] = (int16_t)tt_dsp_dx_requant(rq, a10);
        dx1[k + 1] = (int16_t)tt_dsp_dx_requant(rq, a11);
        dx2[k] = (int16_t)tt_dsp_dx_requant(rq, a20);
        dx2[k + 1] = (int16_t)tt_dsp_dx_requant(rq, a21);
    }
    if (k < s->cols) {
        int32_t a0 = 0, a1 = 0, a2 = 0;
        const int16_t *dl = (const int16_t *)dyp;
        for (int32_t oc = 0; oc < out_c; oc++) {
            const int32_t w = s->w[oc * stride + k];
            const int16_t *e = dl + (oc >> 1) * 6 + (oc & 1);
            a0 += e[0] * w;
            a1 += e[2] * w;
            a2 += e[4] * w;
        }
        dx0[k] = (int16_t)tt_dsp_dx_requant(rq, a0);
        dx1[k] = (int16_t)tt_dsp_dx_requant(rq, a1);
        dx2[k] = (int16_t)tt_dsp_dx_requant(rq, a2);
    }
}

/* dY' of @p n pixels (n = 2 or 3: rows dy0, dy1 and dy2) interleaved by channel pairs: for
 * each pair j, pixel 0's word (dY'[2j], dY'[2j+1]), pixel 1's, ...; an odd last channel is
 * paired with 0. Inlined with n constant, so the test of n folds away. */
__attribute__((always_inline)) static inline void prescale_rows(const tt_grad_quant_t *quant, int32_t out_c,
                                                                int32_t p, const int16_t *dy0, const int16_t *dy1,
                                                                const int16_t *dy2, int32_t n, int32_t *dyp)
{
    int16_t *d = (int16_t *)dyp;
    for (int32_t oc = 0; oc < out_c; oc += 2) {
        const int32_t oc1 = oc + 1, m0 = quant->multiplier[oc], s0 = quant->shift[oc];
        d[0] = (int16_t)tt_grad_prescale_fast(dy0[oc], m0, s0, p);
        d[2] = (int16_t)tt_grad_prescale_fast(dy1[oc], m0, s0, p);
        if (n == 3) {
            d[4] = (int16_t)tt_grad_prescale_fast(dy2[oc], m0, s0, p);
        }
        if (oc1 < out_c) {
            const int32_t m1 = quant->multiplier[oc1], s1 = quant->shift[oc1];
            d[1] = (int16_t)tt_grad_prescale_fast(dy0[oc1], m1, s1, p);
            d[3] = (int16_t)tt_grad_prescale_fast(dy1[oc1], m1, s1, p);
            if (n == 3) {
                d[5] = (int16_t)tt_grad_prescale_fast(dy2[oc1], m1, s1, p);
            }
        } else {
            d[1] = 0;
            d[3] = 0;
            if (n == 3) {
                d[5] = 0;
            }
        }
        d += 2 * n;
    }
}

static void bwd_input_dsp(const tt_conv_geom_t *geom, const tt_grad_quant_t *quant, const int16_t *grad_output,
                          const int8_t *weights, const uint32_t *trained_bits, const slice_t *slice, int32_t p,
                          int32_t q, int32_t *dyp, int16_t *grad_input)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c, out_w = geom->out_w;
    const int32_t positions = geom->out_h * out_w;
    const tt_dsp_dx_requant_t rq = tt_dsp_dx_requant_params(quant->scale_multiplier, q);

    if (geom->stride_h > 1 || geom->stride_w > 1) {
        /* Only the sampled positions receive a gradient. */
        memset(grad_input, 0, (size_t)geom->in_h * (size_t)geom->in_w * (size_t)in_c * sizeof(int16_t));
    }
    /* Three pixels at a time while their dY' rows fit the scratch and nothing is trained
     * (segment_dsp3()); the rest two at a time. */
    int32_t k0 = 0;
    if (slice->columns->cols == 0 && 6 * ((out_c + 1) & ~1) <= (int32_t)tt_pw_conv2d_bwd_input_s16_scratch_size(geom)) {
        for (; k0 + 3 <= positions; k0 += 3) {
            const int16_t *dy[3];
            int16_t *dx[3];
            for (int32_t i = 0; i < 3; i++) {
                const int32_t k = k0 + i;
                dy[i] = grad_output + k * out_c;
                dx[i] = grad_input + ((k / out_w) * geom->stride_h * geom->in_w + (k % out_w) * geom->stride_w) * in_c;
            }
            prescale_rows(quant, out_c, p, dy[0], dy[1], dy[2], 3, dyp);
            segment_t run;
            for (int32_t from = 0; next_frozen_run(weights, in_c, trained_bits, &from, &run);) {
                segment_dsp3(&run, out_c, dyp, &rq, dx[0] + run.first, dx[1] + run.first, dx[2] + run.first);
            }
        }
    }
    for (; k0 < positions; k0 += 2) {
        const int32_t k1 = k0 + 1 < positions ? k0 + 1 : k0;
        const int16_t *dy0 = grad_output + k0 * out_c, *dy1 = grad_output + k1 * out_c;
        int16_t *dx0 = grad_input + ((k0 / out_w) * geom->stride_h * geom->in_w + (k0 % out_w) * geom->stride_w) * in_c;
        int16_t *dx1 = grad_input + ((k1 / out_w) * geom->stride_h * geom->in_w + (k1 % out_w) * geom->stride_w) * in_c;
        prescale_rows(quant, out_c, p, dy0, dy1, dy1, 2, dyp);
        segment_t run;
        for (int32_t from = 0; next_frozen_run(weights, in_c, trained_bits, &from, &run);) {
            segment_dsp(&run, out_c, dyp, &rq, dx0 + run.first, dx1 + run.first);
        }
        const int32_t n = slice->columns->cols;
        if (n > 0) {
            segment_dsp(slice->columns, out_c, dyp, &rq, slice->row0, slice->row1);
            for (int32_t j = 0; j < n; j++) {
                dx0[slice->channels[j]] = slice->row0[j];
                dx1[slice->channels[j]] = slice->row1[j];
            }
        }
    }
}
#else
/* Portable: one input pixel at a time, an int32 accumulator per input channel; column k of
 * the segment adds into acc[channel(k)]. */
static void accumulate(const segment_t *s, const int16_t *channels, int32_t out_c, const int16_t *dyp, int32_t *acc)
{
    for (int32_t oc = 0; oc < out_c; oc++) {
        const int32_t d = dyp[oc];
        if (d == 0) {
            continue;
        }
        const int8_t *w = s->w + oc * s->stride;
        for (int32_t k = 0; k < s->cols; k++) {
            acc[channels != 0 ? channels[k] : s->first + k] += (int32_t)w[k] * d;
        }
    }
}

static void bwd_input_portable(const tt_conv_geom_t *geom, const tt_grad_quant_t *quant, const int16_t *grad_output,
                               const int8_t *weights, const uint32_t *trained_bits, const slice_t *slice, int32_t p,
                               int32_t q, int32_t *acc, int16_t *grad_input)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c, in_w = geom->in_w;
    int16_t *dyp = (int16_t *)(acc + in_c);
    for (int32_t iy = 0; iy < geom->in_h; iy++) {
        for (int32_t ix = 0; ix < in_w; ix++) {
            int16_t *dx = grad_input + (iy * in_w + ix) * in_c;
            /* With stride > 1 only the sampled positions receive a gradient. */
            if (iy % geom->stride_h != 0 || ix % geom->stride_w != 0 || iy / geom->stride_h >= geom->out_h ||
                ix / geom->stride_w >= geom->out_w) {
                for (int32_t ic = 0; ic < in_c; ic++) {
                    dx[ic] = 0;
                }
                continue;
            }
            const int16_t *dy = grad_output + ((iy / geom->stride_h) * geom->out_w + ix / geom->stride_w) * out_c;
            for (int32_t oc = 0; oc < out_c; oc++) {
                dyp[oc] = (int16_t)tt_grad_prescale(dy[oc], quant->multiplier[oc], quant->shift[oc], p);
            }
            for (int32_t ic = 0; ic < in_c; ic++) {
                acc[ic] = 0;
            }
            segment_t run;
            for (int32_t from = 0; next_frozen_run(weights, in_c, trained_bits, &from, &run);) {
                accumulate(&run, 0, out_c, dyp, acc);
            }
            if (slice->columns->cols > 0) { /* none trained: its columns are NULL, no row to offset */
                accumulate(slice->columns, slice->channels, out_c, dyp, acc);
            }
            for (int32_t ic = 0; ic < in_c; ic++) {
                dx[ic] = tt_sat_s16(tt_requantize(acc[ic], quant->scale_multiplier, q));
            }
        }
    }
}
#endif

void tt_pw_conv2d_bwd_input_overlay_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, const int16_t *grad_output,
                                        int32_t grad_output_exp, const int8_t *weights, const int16_t *channels,
                                        int32_t n_channels, const int8_t *trained, int16_t *grad_input,
                                        int32_t *grad_input_exp)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c;
    const segment_t columns = {trained, n_channels, n_channels, 0};
    slice_t slice = {&columns, channels, 0, 0};
    uint32_t *bits = 0;
    if (n_channels > 0) { /* after the plain kernel's scratch: the bitmap, then the slice's two rows */
        uint8_t *after = (uint8_t *)ctx->buf + tt_pw_conv2d_bwd_input_s16_scratch_size(geom);
        bits = (uint32_t *)(void *)after;
        memset(bits, 0, bitmap_bytes(geom));
        for (int32_t j = 0; j < n_channels; j++) {
            bits[(uint32_t)channels[j] / 32u] |= 1u << ((uint32_t)channels[j] % 32u);
        }
        slice.row0 = (int16_t *)(void *)(after + bitmap_bytes(geom));
        slice.row1 = slice.row0 + n_channels;
    }

    /* The bound of the merged tensor: the largest column |W| sum among the frozen runs and the slice. */
    int64_t wbound = n_channels > 0 ? segment_bound(&columns, out_c) : 0;
    segment_t run;
    for (int32_t from = 0; next_frozen_run(weights, in_c, bits, &from, &run);) {
        const int64_t b = segment_bound(&run, out_c);
        wbound = b > wbound ? b : wbound;
    }
    int32_t p;
    const int32_t q = tt_grad_input_shifts(grad_output, geom->out_h * geom->out_w * out_c, wbound, quant,
                                           grad_output_exp, &p, grad_input_exp);
#if TT_DSP
    bwd_input_dsp(geom, quant, grad_output, weights, bits, &slice, p, q, (int32_t *)ctx->buf, grad_input);
#else
    bwd_input_portable(geom, quant, grad_output, weights, bits, &slice, p, q, (int32_t *)ctx->buf, grad_input);
#endif
}
