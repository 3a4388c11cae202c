#include <string.h>

#include "tt/kernels/add.h"
#include "tt/kernels/conv2d.h"
#include "tt/kernels/dcheck.h"
#include "tt/kernels/dw_conv2d.h"
#include "tt/kernels/irb.h"
#include "tt/kernels/pw_conv2d.h"

static uint32_t align4(uint32_t n)
{
    return (n + 3u) & ~3u;
}

/* Input rows [lo, hi) under output row r of a sliding-window op, and that row's one-row
 * geometry: the clipped rows become padding, so out_h == 1 whatever the stride. */
static tt_conv_geom_t row_geom(const tt_conv_geom_t *g, int32_t r, int32_t *lo, int32_t *hi)
{
    const int32_t y0 = r * g->stride_h - g->pad_top;
    *lo = y0 < 0 ? 0 : y0;
    *hi = y0 + g->kernel_h > g->in_h ? g->in_h : y0 + g->kernel_h;
    const tt_conv_geom_t row = {*hi - *lo,   g->in_w,       g->in_c,     1,
                                g->out_w,    g->out_c,      g->kernel_h, g->kernel_w,
                                1,           g->stride_w,   *lo - y0,    g->pad_left,
                                y0 + g->kernel_h - *hi, g->pad_right};
    return row;
}

static int is_pointwise(const tt_conv_geom_t *g)
{
    return g->kernel_h == 1 && g->kernel_w == 1 && g->pad_top == 0 && g->pad_left == 0 && g->pad_bottom == 0 &&
           g->pad_right == 0;
}

static int32_t block_in_c(const tt_irb_geom_t *geom)
{
    return geom->has_expand ? geom->expand.in_c : geom->dw.in_c;
}

static int32_t block_in_h(const tt_irb_geom_t *geom)
{
    return geom->has_expand ? geom->expand.in_h : geom->dw.in_h;
}

static int32_t block_in_w(const tt_irb_geom_t *geom)
{
    return geom->has_expand ? geom->expand.in_w : geom->dw.in_w;
}

static tt_conv_geom_t pw2_row_geom(const tt_irb_geom_t *geom)
{
    const tt_conv_geom_t g = {1, geom->dw.out_w, geom->dw.out_c, 1, geom->dw.out_w, geom->out_c, 1, 1, 1, 1, 0, 0, 0, 0};
    return g;
}

int tt_irb_geom_check(const tt_irb_geom_t *geom)
{
    const tt_conv_geom_t *d = &geom->dw, *x = &geom->expand;
    if (!tt_conv_geom_check(d) || d->out_c != d->in_c || geom->out_c < 1) {
        return 0;
    }
    if (geom->has_expand &&
        (!tt_conv_geom_check(x) || x->out_h != d->in_h || x->out_w != d->in_w || x->out_c != d->in_c)) {
        return 0;
    }
    if (geom->residual && (d->out_h != block_in_h(geom) || d->out_w != block_in_w(geom) ||
                           geom->out_c != block_in_c(geom))) {
        return 0;
    }
    return 1;
}

/* Scratch layout: [window][depthwise row][projected row][sub-kernel scratch]. The window holds
 * the expanded rows under the current depthwise window (at most min(kernel_h, in_h) rows); a
 * block without expansion copies its input rows there, which is what lets it run in place. */
static uint32_t window_bytes(const tt_irb_geom_t *geom)
{
    const tt_conv_geom_t *d = &geom->dw;
    const int32_t rows = d->kernel_h < d->in_h ? d->kernel_h : d->in_h;
    return align4((uint32_t)(rows * d->in_w * d->in_c));
}

static uint32_t dw_row_bytes(const tt_irb_geom_t *geom)
{
    return align4((uint32_t)(geom->dw.out_w * geom->dw.out_c));
}

static uint32_t proj_row_bytes(const tt_irb_geom_t *geom)
{
    return geom->residual ? align4((uint32_t)(geom->dw.out_w * geom->out_c)) : 0u;
}

static uint32_t expand_row_scratch(const tt_conv_geom_t *g)
{
    return is_pointwise(g) ? tt_pw_conv2d_fwd_s8_scratch_size(g) : tt_conv2d_fwd_s8_scratch_size(g);
}

static uint32_t inner_bytes(const tt_irb_geom_t *geom)
{
    const tt_conv_geom_t g2 = pw2_row_geom(geom);
    uint32_t need = tt_pw_conv2d_fwd_s8_scratch_size(&g2);
    int32_t lo, hi;
    if (geom->has_expand) {
        for (int32_t r = 0; r < geom->expand.out_h; r++) {
            const tt_conv_geom_t g = row_geom(&geom->expand, r, &lo, &hi);
            const uint32_t s = expand_row_scratch(&g);
            need = s > need ? s : need;
        }
    }
    for (int32_t oy = 0; oy < geom->dw.out_h; oy++) {
        const tt_conv_geom_t g = row_geom(&geom->dw, oy, &lo, &hi);
        const uint32_t s = tt_dw_conv2d_fwd_s8_scratch_size(&g);
        need = s > need ? s : need;
    }
    return align4(need);
}

uint32_t tt_irb_fwd_s8_scratch_size(const tt_irb_geom_t *geom)
{
    return window_bytes(geom) + dw_row_bytes(geom) + proj_row_bytes(geom) + inner_bytes(geom);
}

/* First block-input row that expanded rows r, r+1, ... still read (in_h when none). */
static int32_t input_needed_from(const tt_irb_geom_t *geom, int32_t r)
{
    if (r >= geom->dw.in_h) {
        return block_in_h(geom);
    }
    if (!geom->has_expand) {
        return r;
    }
    int32_t lo, hi;
    (void)row_geom(&geom->expand, r, &lo, &hi);
    return lo;
}

int tt_irb_fwd_s8_can_alias(const tt_irb_geom_t *geom)
{
    const tt_conv_geom_t *d = &geom->dw;
    const int64_t in_row = (int64_t)block_in_w(geom) * block_in_c(geom);
    const int64_t out_row = (int64_t)d->out_w * geom->out_c;
    for (int32_t oy = 0; oy < d->out_h; oy++) {
        int32_t lo, hi;
        (void)row_geom(d, oy, &lo, &hi);
        /* Before output row oy is written, expanded rows below hi exist (so their input rows
         * were read); a residual add reads input row oy right before overwriting it. */
        if ((int64_t)(oy + 1) * out_row > (int64_t)input_needed_from(geom, hi) * in_row) {
            return 0;
        }
    }
    return 1;
}

/* One past the last input row that output row @p oy reads, given expanded rows [0, whi)
 * computed: the expansion (or window copy) of its new expanded rows, and its residual row. */
static int32_t input_needed_to(const tt_irb_geom_t *geom, int32_t oy, int32_t whi)
{
    int32_t lo, hi, need = 0;
    (void)row_geom(&geom->dw, oy, &lo, &hi);
    if (hi > whi && hi > lo) {
        if (geom->has_expand) {
            int32_t ilo, ihi;
            (void)row_geom(&geom->expand, hi - 1, &ilo, &ihi);
            need = ihi;
        } else {
            need = hi;
        }
    }
    return geom->residual && oy + 1 > need ? oy + 1 : need;
}

/* First input row that output rows oy, oy+1, ... still read (in_h when none). */
static int32_t input_still_needed(const tt_irb_geom_t *geom, int32_t oy, int32_t whi)
{
    if (oy >= geom->dw.out_h) {
        return block_in_h(geom);
    }
    const int32_t from = input_needed_from(geom, whi);
    return geom->residual && oy < from ? oy : from;
}

int32_t tt_irb_fwd_s8_rows_span(const tt_irb_geom_t *geom)
{
    int32_t span = 0, whi = 0;
    for (int32_t oy = 0; oy < geom->dw.out_h; oy++) {
        const int32_t rows = input_needed_to(geom, oy, whi) - input_still_needed(geom, oy, whi);
        span = rows > span ? rows : span;
        int32_t lo, hi;
        (void)row_geom(&geom->dw, oy, &lo, &hi);
        whi = hi > whi ? hi : whi;
    }
    return span;
}

int32_t tt_irb_fwd_s8_rows(const tt_kernel_ctx_t *ctx, const tt_irb_geom_t *geom, const tt_irb_quant_t *quant,
                           const tt_irb_rows_t *rows, const tt_irb_weights_t *weights, int8_t *output,
                           tt_irb_progress_t *progress)
{
    TT_DCHECK(ctx->size >= tt_irb_fwd_s8_scratch_size(geom));
    const int8_t *input = rows->data;
    const int32_t first = rows->first, avail = rows->avail;
    const tt_conv_geom_t *d = &geom->dw, *xg = &geom->expand;
    const int32_t in_row = block_in_w(geom) * block_in_c(geom), out_row = d->out_w * geom->out_c;
    const int32_t x_row = d->in_w * d->in_c; /* one expanded row */
    const int pointwise = geom->has_expand && is_pointwise(xg);
    uint8_t *buf = (uint8_t *)ctx->buf;
    int8_t *window = (int8_t *)buf;
    int8_t *dw_row = (int8_t *)(buf + window_bytes(geom));
    int8_t *proj_row = (int8_t *)(buf + window_bytes(geom) + dw_row_bytes(geom));
    const uint32_t head = window_bytes(geom) + dw_row_bytes(geom) + proj_row_bytes(geom);
    const tt_kernel_ctx_t inner = {buf + head, ctx->size - head};
    const tt_conv_geom_t g2 = pw2_row_geom(geom);
    int32_t wlo = progress->wlo, whi = progress->whi; /* expanded rows [wlo, whi) are in the window, in order */
    int32_t oy = progress->next_out;

    for (; oy < d->out_h && input_needed_to(geom, oy, whi) <= avail; oy++) {
        int32_t lo, hi;
        const tt_conv_geom_t gd = row_geom(d, oy, &lo, &hi);
        if (lo >= whi) {
            wlo = whi = lo; /* rows skipped by a stride larger than the kernel are never computed */
        } else if (lo > wlo) {
            memmove(window, window + (lo - wlo) * x_row, (size_t)((whi - lo) * x_row));
            wlo = lo;
        }
        for (; whi < hi; whi++) {
            int8_t *dst = window + (whi - wlo) * x_row;
            if (!geom->has_expand) {
                memcpy(dst, input + (whi - first) * in_row, (size_t)x_row);
                continue;
            }
            int32_t ilo, ihi;
            const tt_conv_geom_t gx = row_geom(xg, whi, &ilo, &ihi);
            if (pointwise) {
                tt_pw_conv2d_fwd_s8(&inner, &gx, &quant->pw1, input + (ilo - first) * in_row, weights->pw1_weights,
                                    weights->pw1_bias, dst);
            } else {
                tt_conv2d_fwd_s8(&inner, &gx, &quant->pw1, input + (ilo - first) * in_row, weights->pw1_weights,
                                 weights->pw1_bias, dst);
            }
        }
        tt_dw_conv2d_fwd_s8(&inner, &gd, &quant->dw, window, weights->dw_weights, weights->dw_bias, dw_row);
        int8_t *out = output + oy * out_row;
        if (geom->residual) {
            /* Through a separate row: with output == input, pw2 must not overwrite the skip row
             * before the add reads it (the add itself is elementwise, so it may alias). */
            tt_pw_conv2d_fwd_s8(&inner, &g2, &quant->pw2, dw_row, weights->pw2_weights, weights->pw2_bias, proj_row);
            tt_add_fwd_s8(out_row, &quant->add, input + (oy - first) * in_row, proj_row, out);
        } else {
            tt_pw_conv2d_fwd_s8(&inner, &g2, &quant->pw2, dw_row, weights->pw2_weights, weights->pw2_bias, out);
        }
    }
    progress->next_out = oy;
    progress->wlo = wlo;
    progress->whi = whi;
    return input_still_needed(geom, oy, whi);
}

void tt_irb_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_irb_geom_t *geom, const tt_irb_quant_t *quant,
                   const int8_t *input, const tt_irb_weights_t *weights, int8_t *output)
{
    tt_irb_progress_t progress = {0, 0, 0};
    const tt_irb_rows_t all = {input, 0, block_in_h(geom)};
    (void)tt_irb_fwd_s8_rows(ctx, geom, quant, &all, weights, output, &progress);
}
