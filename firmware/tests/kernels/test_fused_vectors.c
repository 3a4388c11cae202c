/* Sparse-update and memory-saving kernels against the golden vectors in fused_vectors.h:
 * channel gather, fused weight gradient + SGD/QAS update, trainable-overlay forward, in-place
 * depthwise/pointwise forward, in-place depthwise input gradient and the fused inverted
 * bottleneck. A failing case prints its name, the step (gather, slice, velocity, expanded,
 * depthwise, dX in place, ...) and the first mismatching indices.
 * Scratch is placed at the end of its static buffer, so an overrun hits ASan's redzone on the
 * host; the in-place kernels run in a buffer of exactly max(input, output) bytes. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fused_vectors.h"
#include "tt/kernels/kernels.h"
#include "tt_test.h"

#define MAX_BUF 12288
#define MAX_SCRATCH 8192
#define MAX_REPORTED 8

#define COMPARE_ARRAY(NAME, TYPE)                                                                           \
    static int NAME(const char *name, const char *what, const TYPE *got, const TYPE *want, int32_t n)         \
    {                                                                                                       \
        int32_t bad = 0;                                                                                    \
        for (int32_t i = 0; i < n; i++) {                                                                   \
            if (got[i] != want[i]) {                                                                        \
                if (bad < MAX_REPORTED) {                                                                   \
                    fprintf(stderr, "%s: %s: index %ld: got %ld, want %ld\n", name, what, (long)i,         \
                            (long)got[i], (long)want[i]);                                                   \
                }                                                                                           \
                bad++;                                                                                      \
            }                                                                                               \
        }                                                                                                   \
        if (bad > 0) {                                                                                      \
            fprintf(stderr, "%s: %s: %ld of %ld elements differ\n", name, what, (long)bad, (long)n);         \
        }                                                                                                   \
        return bad == 0;                                                                                    \
    }
COMPARE_ARRAY(compare_s8, int8_t)
COMPARE_ARRAY(compare_s16, int16_t)
COMPARE_ARRAY(compare_s32, int32_t)

static uint32_t scratch_pool[MAX_SCRATCH / 4];

/* A context of exactly @p need bytes ending at the end of the pool, filled with junk. */
static tt_kernel_ctx_t scratch(uint32_t need)
{
    memset(scratch_pool, 0xA5, sizeof scratch_pool);
    const tt_kernel_ctx_t ctx = {(uint8_t *)scratch_pool + sizeof scratch_pool - need, need};
    return ctx;
}

static void run_weight_updates(void)
{
    static int8_t kept[MAX_BUF];
    static int8_t w[MAX_BUF];
    static int32_t v[MAX_BUF / 4];
    static int32_t dw[MAX_BUF / 4];
    for (size_t i = 0; i < sizeof tt_fv_wupd / sizeof tt_fv_wupd[0]; i++) {
        const tt_fv_wupd_t *c = &tt_fv_wupd[i];
        const tt_conv_geom_t *g = &c->geom;
        const int32_t pixels = g->in_h * g->in_w, n = c->n_channels;
        CHECK(pixels * n <= MAX_BUF && c->dw_len <= MAX_BUF / 4, "%s: too large for the test buffers", c->name);
        memset(kept, 0x5A, sizeof kept);
        tt_gather_channels_s8(pixels, g->in_c, c->channels, n, c->input, kept);
        CHECK(compare_s8(c->name, "gather", kept, c->input_kept, pixels * n), "%s: gather mismatch", c->name);

        /* The unfused gradient on the compact input (conv/pw/fc accept it with in_c = n and the
         * identity channel list; depthwise takes the full input). */
        int32_t e = -999;
        static int16_t ident[512];
        for (int32_t j = 0; j < n; j++) {
            ident[j] = (int16_t)j;
        }
        tt_conv_geom_t compact = *g;
        compact.in_c = n;
        const tt_grad_s16_t dy = {c->dy, c->dy_exp};
        const tt_bwd_weight_params_t on_compact = {c->input_zp, {ident, n}};
        const tt_bwd_weight_params_t on_listed = {c->input_zp, {c->channels, n}};
        if (c->kind == TT_FV_FC) {
            const tt_fc_geom_t fg = {n, g->out_c};
            tt_fc_bwd_weight_s16(&fg, &on_compact, c->input_kept, &dy, dw, &e);
        } else if (c->kind == TT_FV_DW_CONV2D) {
            tt_dw_conv2d_bwd_weight_s16(g, &on_listed, c->input, &dy, dw, &e);
        } else if (c->kind == TT_FV_PW_CONV2D) {
            tt_pw_conv2d_bwd_weight_s16(&compact, &on_compact, c->input_kept, &dy, dw, &e);
        } else {
            tt_conv2d_bwd_weight_s16(&compact, &on_compact, c->input_kept, &dy, dw, &e);
        }
        CHECK(e == c->dw_exp, "%s: dW exponent %ld, want %ld", c->name, (long)e, (long)c->dw_exp);
        CHECK(compare_s32(c->name, "unfused dW", dw, c->dw, c->dw_len), "%s: unfused dW mismatch", c->name);

        /* The fused step on the slice. */
        const tt_qas_t qas = {c->qas_mult, c->qas_shift};
        tt_rng_t rng = {c->seed, c->counter};
        memcpy(w, c->slice_before, (size_t)c->dw_len);
        if (c->velocity_before != 0) {
            memcpy(v, c->velocity_before, (size_t)c->dw_len * sizeof v[0]);
        }
        const tt_update_t update = {&c->sgd, &qas, &rng, c->velocity_before != 0 ? v : 0};
        switch (c->kind) {
        case TT_FV_CONV2D: tt_conv2d_bwd_weight_update_s8(g, &on_listed, c->input_kept, &dy, &update, w); break;
        case TT_FV_PW_CONV2D: tt_pw_conv2d_bwd_weight_update_s8(g, &on_listed, c->input_kept, &dy, &update, w); break;
        case TT_FV_DW_CONV2D: tt_dw_conv2d_bwd_weight_update_s8(g, &on_listed, c->input_kept, &dy, &update, w); break;
        case TT_FV_FC: {
            const tt_fc_geom_t fg = {g->in_c, g->out_c};
            tt_fc_bwd_weight_update_s8(&fg, &on_listed, c->input_kept, &dy, &update, w);
            break;
        }
        }
        CHECK(compare_s8(c->name, "slice after the fused step", w, c->slice_after, c->dw_len), "%s: slice mismatch",
              c->name);
        CHECK(rng.counter == c->counter_after, "%s: PRNG counter %lu, want %lu", c->name, (unsigned long)rng.counter,
              (unsigned long)c->counter_after);
        if (c->velocity_after != 0) {
            CHECK(compare_s32(c->name, "velocity", v, c->velocity_after, c->dw_len), "%s: velocity mismatch", c->name);
        }
    }
}

static void run_overlays(void)
{
    static int8_t out[MAX_BUF];
    for (size_t i = 0; i < sizeof tt_fv_overlay / sizeof tt_fv_overlay[0]; i++) {
        const tt_fv_overlay_t *c = &tt_fv_overlay[i];
        memset(out, 0x5A, sizeof out);
        if (c->kind == TT_FV_FC) {
            const tt_fc_geom_t fg = {c->geom.in_c, c->geom.out_c};
            const uint32_t need = tt_fc_fwd_overlay_s8_scratch_size(&fg);
            const tt_kernel_ctx_t ctx = scratch(need);
            tt_fc_fwd_overlay_s8(&ctx, &fg, &c->quant, c->input, c->weights, c->channels, c->n_channels, c->trained,
                                 c->bias, out);
        } else {
            const uint32_t need = tt_conv2d_fwd_overlay_s8_scratch_size(&c->geom);
            const tt_kernel_ctx_t ctx = scratch(need);
            tt_conv2d_fwd_overlay_s8(&ctx, &c->geom, &c->quant, c->input, c->weights, c->channels, c->n_channels,
                                     c->trained, c->bias, out);
        }
        CHECK(compare_s8(c->name, "output", out, c->expected, c->expected_len), "%s: output mismatch", c->name);
    }
}

static void run_inplace(void)
{
    static int8_t data[MAX_BUF];
    for (size_t i = 0; i < sizeof tt_fv_inplace / sizeof tt_fv_inplace[0]; i++) {
        const tt_fv_inplace_t *c = &tt_fv_inplace[i];
        const int32_t len = c->input_len > c->expected_len ? c->input_len : c->expected_len;
        int8_t *buf = data + MAX_BUF - len; /* exactly max(input, output) bytes before the redzone */
        memcpy(buf, c->input, (size_t)c->input_len);
        if (c->kind == TT_FV_DW_CONV2D) {
            CHECK(tt_dw_conv2d_fwd_inplace_s8_supported(&c->geom), "%s: geometry not supported", c->name);
            const tt_kernel_ctx_t ctx = scratch(tt_dw_conv2d_fwd_inplace_s8_scratch_size(&c->geom));
            tt_dw_conv2d_fwd_inplace_s8(&ctx, &c->geom, &c->quant, c->weights, c->bias, buf);
        } else {
            CHECK(tt_pw_conv2d_fwd_inplace_s8_supported(&c->geom), "%s: geometry not supported", c->name);
            const tt_kernel_ctx_t ctx = scratch(tt_pw_conv2d_fwd_inplace_s8_scratch_size(&c->geom));
            tt_pw_conv2d_fwd_inplace_s8(&ctx, &c->geom, &c->quant, c->weights, c->bias, buf);
        }
        CHECK(compare_s8(c->name, "output", buf, c->expected, c->expected_len), "%s: output mismatch", c->name);
    }
}

/* The out-of-place kernel first (the values), then dX written over dY in a buffer of exactly
 * dY's bytes (the overwriting). */
static void run_inplace_bwd(void)
{
    static int16_t data[MAX_BUF / 2];
    for (size_t i = 0; i < sizeof tt_fv_inplace_bwd / sizeof tt_fv_inplace_bwd[0]; i++) {
        const tt_fv_inplace_bwd_t *c = &tt_fv_inplace_bwd[i];
        int32_t e = 99;
        memset(data, 0x5A, sizeof data);
        const tt_kernel_ctx_t ctx = scratch(tt_dw_conv2d_bwd_input_s16_scratch_size(&c->geom));
        tt_dw_conv2d_bwd_input_s16(&ctx, &c->geom, &c->quant, c->dy, c->dy_exp, c->weights, data, &e);
        CHECK(e == c->dx_exp, "%s: out-of-place exponent %ld, want %ld", c->name, (long)e, (long)c->dx_exp);
        CHECK(compare_s16(c->name, "dX out of place", data, c->dx, c->len), "%s: out-of-place dX mismatch", c->name);

        int16_t *buf = data + MAX_BUF / 2 - c->len;
        memcpy(buf, c->dy, (size_t)c->len * sizeof *buf);
        CHECK(tt_dw_conv2d_bwd_input_inplace_s16_supported(&c->geom), "%s: geometry not supported", c->name);
        const tt_kernel_ctx_t ctx2 = scratch(tt_dw_conv2d_bwd_input_inplace_s16_scratch_size(&c->geom));
        e = 99;
        tt_dw_conv2d_bwd_input_inplace_s16(&ctx2, &c->geom, &c->quant, c->dy_exp, c->weights, buf, &e);
        CHECK(e == c->dx_exp, "%s: in-place exponent %ld, want %ld", c->name, (long)e, (long)c->dx_exp);
        CHECK(compare_s16(c->name, "dX in place", buf, c->dx, c->len), "%s: in-place dX mismatch", c->name);
    }
}

static void run_irb(void)
{
    static int8_t a[MAX_BUF], b[MAX_BUF];
    for (size_t i = 0; i < sizeof tt_fv_irb / sizeof tt_fv_irb[0]; i++) {
        const tt_fv_irb_t *c = &tt_fv_irb[i];
        const tt_irb_geom_t *g = &c->geom;
        const tt_irb_weights_t *w = &c->weights;
        CHECK(tt_irb_geom_check(g), "%s: geometry rejected", c->name);
        CHECK(tt_irb_fwd_s8_can_alias(g) == c->can_alias, "%s: can_alias %d, want %ld", c->name,
              tt_irb_fwd_s8_can_alias(g), (long)c->can_alias);
        const uint32_t need = tt_irb_fwd_s8_scratch_size(g);
        CHECK(need <= MAX_SCRATCH, "%s: scratch %lu too large", c->name, (unsigned long)need);
        if (need > MAX_SCRATCH) {
            continue;
        }

        /* The unfused sequence, step by step, against the stored intermediates. */
        const int8_t *expanded = c->input;
        if (g->has_expand) {
            const tt_kernel_ctx_t ctx = scratch(tt_conv2d_fwd_s8_scratch_size(&g->expand));
            tt_conv2d_fwd_s8(&ctx, &g->expand, &c->quant.pw1, c->input, w->pw1_weights, w->pw1_bias, a);
            CHECK(compare_s8(c->name, "expanded", a, c->expanded, c->expanded_len), "%s: expansion mismatch", c->name);
            expanded = c->expanded;
        }
        {
            const tt_kernel_ctx_t ctx = scratch(tt_dw_conv2d_fwd_s8_scratch_size(&g->dw));
            tt_dw_conv2d_fwd_s8(&ctx, &g->dw, &c->quant.dw, expanded, w->dw_weights, w->dw_bias, b);
            CHECK(compare_s8(c->name, "depthwise", b, c->depthwise, c->depthwise_len), "%s: depthwise mismatch",
                  c->name);
        }
        {
            const tt_conv_geom_t g2 = {g->dw.out_h, g->dw.out_w, g->dw.out_c, g->dw.out_h, g->dw.out_w, g->out_c,
                                       1, 1, 1, 1, 0, 0, 0, 0};
            const tt_kernel_ctx_t ctx = scratch(tt_pw_conv2d_fwd_s8_scratch_size(&g2));
            tt_pw_conv2d_fwd_s8(&ctx, &g2, &c->quant.pw2, c->depthwise, w->pw2_weights, w->pw2_bias, a);
            CHECK(compare_s8(c->name, "projected", a, c->projected, c->output_len), "%s: projection mismatch",
                  c->name);
        }

        /* Fused, out of place, then over its own input. */
        memset(a, 0x5A, sizeof a);
        const tt_kernel_ctx_t ctx = scratch(need);
        tt_irb_fwd_s8(&ctx, g, &c->quant, c->input, w, a);
        CHECK(compare_s8(c->name, "fused output", a, c->output, c->output_len), "%s: fused output mismatch", c->name);
        if (c->can_alias) {
            const int32_t len = c->input_len > c->output_len ? c->input_len : c->output_len;
            int8_t *buf = b + MAX_BUF - len;
            memcpy(buf, c->input, (size_t)c->input_len);
            const tt_kernel_ctx_t ctx2 = scratch(need);
            tt_irb_fwd_s8(&ctx2, g, &c->quant, buf, w, buf);
            CHECK(compare_s8(c->name, "fused output in place", buf, c->output, c->output_len),
                  "%s: in-place fused output mismatch", c->name);
        }
    }
}

int main(void)
{
    run_weight_updates();
    run_overlays();
    run_inplace();
    run_inplace_bwd();
    run_irb();
    return tt_test_report("fused kernel vectors");
}
