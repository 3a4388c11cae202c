/* Forward and backward kernels, loss and update against the golden vectors in
 * kernel_vectors.h. A failing case prints its name, the stage (mask, dX, dW, ...) and the first
 * mismatching indices with both values; the exit status is non-zero. Each backward stage is fed
 * the *expected* output of the previous one, so one broken kernel fails exactly one stage. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernel_vectors.h"
#include "tt/kernels/kernels.h"
#include "tt_test.h"

#define MAX_OUT 4096
#define MAX_SCRATCH 4096
#define MAX_REPORTED 8

static int compare(const char *what, const int8_t *got, const int8_t *want, int32_t n)
{
    int32_t bad = 0;
    for (int32_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            if (bad < MAX_REPORTED) {
                fprintf(stderr, "%s: index %ld: got %d, want %d\n", what, (long)i, got[i], want[i]);
            }
            bad++;
        }
    }
    if (bad > 0) {
        fprintf(stderr, "%s: %ld of %ld elements differ\n", what, (long)bad, (long)n);
    }
    return bad == 0;
}

#define COMPARE_ARRAY(NAME, TYPE, FMT)                                                                      \
    static int NAME(const char *name, const char *what, const TYPE *got, const TYPE *want, int32_t n)           \
    {                                                                                                         \
        int32_t bad = 0;                                                                                      \
        for (int32_t i = 0; i < n; i++) {                                                                     \
            if (got[i] != want[i]) {                                                                          \
                if (bad < MAX_REPORTED) {                                                                     \
                    fprintf(stderr, "%s: %s: index %ld: got " FMT ", want " FMT "\n", name, what, (long)i,   \
                            (long)got[i], (long)want[i]);                                                      \
                }                                                                                             \
                bad++;                                                                                        \
            }                                                                                                 \
        }                                                                                                     \
        if (bad > 0) {                                                                                        \
            fprintf(stderr, "%s: %s: %ld of %ld elements differ\n", name, what, (long)bad, (long)n);           \
        }                                                                                                     \
        return bad == 0;                                                                                      \
    }
COMPARE_ARRAY(compare_s16, int16_t, "%ld")
COMPARE_ARRAY(compare_s32, int32_t, "%ld")
COMPARE_ARRAY(compare_s8, int8_t, "%ld")
COMPARE_ARRAY(compare_u8, uint8_t, "0x%02lx")

static void run_conv_vectors(void)
{
    static int8_t out[MAX_OUT];
    static uint32_t scratch[MAX_SCRATCH / 4];
    for (size_t i = 0; i < sizeof tt_conv_vectors / sizeof tt_conv_vectors[0]; i++) {
        const tt_conv_vector_t *v = &tt_conv_vectors[i];
        const tt_conv_quant_t q = {v->input_zp, v->output_zp, v->multiplier, v->shift, v->act_min, v->act_max};
        uint32_t need = 0;
        CHECK(v->expected_len <= MAX_OUT, "%s: output too large for the test buffer", v->name);
        if (v->kind == TT_VEC_FC) {
            const tt_fc_geom_t g = {v->geom.in_c, v->geom.out_c};
            need = tt_fc_fwd_s8_scratch_size(&g);
        } else {
            CHECK(tt_conv_geom_check(&v->geom), "%s: geometry rejected", v->name);
            need = v->kind == TT_VEC_CONV2D      ? tt_conv2d_fwd_s8_scratch_size(&v->geom)
                   : v->kind == TT_VEC_PW_CONV2D ? tt_pw_conv2d_fwd_s8_scratch_size(&v->geom)
                                                 : tt_dw_conv2d_fwd_s8_scratch_size(&v->geom);
        }
        CHECK(need <= MAX_SCRATCH, "%s: scratch %lu too large", v->name, (unsigned long)need);
        /* Junk in scratch and output: a kernel must not depend on either. */
        memset(scratch, 0xA5, sizeof scratch);
        memset(out, 0x5A, sizeof out);
        const tt_kernel_ctx_t ctx = {scratch, need};
        switch (v->kind) {
        case TT_VEC_CONV2D:
            tt_conv2d_fwd_s8(&ctx, &v->geom, &q, v->input, v->weights, v->bias, out);
            break;
        case TT_VEC_PW_CONV2D:
            tt_pw_conv2d_fwd_s8(&ctx, &v->geom, &q, v->input, v->weights, v->bias, out);
            break;
        case TT_VEC_DW_CONV2D:
            tt_dw_conv2d_fwd_s8(&ctx, &v->geom, &q, v->input, v->weights, v->bias, out);
            break;
        case TT_VEC_FC: {
            const tt_fc_geom_t g = {v->geom.in_c, v->geom.out_c};
            tt_fc_fwd_s8(&ctx, &g, &q, v->input, v->weights, v->bias, out);
            break;
        }
        }
        CHECK(compare(v->name, out, v->expected, v->expected_len), "%s: output mismatch", v->name);
    }
}

static void run_add_vectors(void)
{
    static int8_t out[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_add_vectors / sizeof tt_add_vectors[0]; i++) {
        const tt_add_vector_t *v = &tt_add_vectors[i];
        memset(out, 0x5A, sizeof out);
        tt_add_fwd_s8(v->size, &v->quant, v->input1, v->input2, out);
        CHECK(compare(v->name, out, v->expected, v->size), "%s: output mismatch", v->name);
    }
}

static void run_pool_vectors(void)
{
    static int8_t out[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_pool_vectors / sizeof tt_pool_vectors[0]; i++) {
        const tt_pool_vector_t *v = &tt_pool_vectors[i];
        memset(out, 0x5A, sizeof out);
        CHECK(tt_conv_geom_check(&v->geom), "%s: geometry rejected", v->name);
        tt_avgpool_fwd_s8(&v->geom, &v->quant, v->input, out);
        CHECK(compare(v->name, out, v->expected, v->expected_len), "%s: output mismatch", v->name);
    }
}

static void run_maxpool_vectors(void)
{
    static int8_t out[MAX_OUT];
    static int16_t dx[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_maxpool_vectors / sizeof tt_maxpool_vectors[0]; i++) {
        const tt_pool_vector_t *v = &tt_maxpool_vectors[i];
        const tt_maxpool_bwd_vector_t *b = &tt_maxpool_bwd_vectors[i];
        memset(out, 0x5A, sizeof out);
        CHECK(tt_conv_geom_check(&v->geom), "%s: geometry rejected", v->name);
        tt_maxpool_fwd_s8(&v->geom, &v->quant, v->input, out);
        CHECK(compare(v->name, out, v->expected, v->expected_len), "%s: output mismatch", v->name);
        int32_t e = -999;
        memset(dx, 0x5A, sizeof dx);
        tt_maxpool_bwd_input_s16(&v->geom, v->input, b->dy, b->dy_exp, dx, &e);
        CHECK(e == b->dx_exp, "%s: dX exponent %ld, want %ld", v->name, (long)e, (long)b->dx_exp);
        CHECK(compare_s16(v->name, "max pool dX", dx, b->dx, v->geom.in_h * v->geom.in_w * v->geom.in_c),
              "%s: dX mismatch", v->name);
    }
}

static void run_concat_vectors(void)
{
    static int8_t out[MAX_OUT];
    static int16_t grad[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_concat_vectors / sizeof tt_concat_vectors[0]; i++) {
        const tt_concat_vector_t *v = &tt_concat_vectors[i];
        const int32_t total = v->inners[0] + v->inners[1] + v->inners[2];
        memset(out, 0x5A, sizeof out);
        tt_concat_s8(v->outer, 3, v->inners, v->inputs, out);
        CHECK(compare(v->name, out, v->expected, v->outer * total), "%s: output mismatch", v->name);
        tt_slice_s16(v->outer, total, v->inners[0], v->inners[1], v->dy, grad);
        CHECK(compare_s16(v->name, "input 1 gradient", grad, v->d1, v->outer * v->inners[1]), "%s: slice mismatch",
              v->name);
    }
}

static void run_requantize_vectors(void)
{
    static int8_t out[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_requantize_vectors / sizeof tt_requantize_vectors[0]; i++) {
        const tt_requantize_vector_t *v = &tt_requantize_vectors[i];
        memset(out, 0x5A, sizeof out);
        tt_requantize_s8(v->n, &v->quant, v->x, out);
        CHECK(compare(v->name, out, v->expected, v->n), "%s: output mismatch", v->name);
    }
}

static void run_mul_vectors(void)
{
    static int8_t out[MAX_OUT];
    static int16_t grad[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_mul_vectors / sizeof tt_mul_vectors[0]; i++) {
        const tt_mul_vector_t *v = &tt_mul_vectors[i];
        memset(out, 0x5A, sizeof out);
        tt_mul_fwd_s8(v->n, &v->quant, v->a, v->b, v->b_numel, out);
        CHECK(compare(v->name, out, v->expected, v->n), "%s: output mismatch", v->name);
        int32_t e = -999;
        tt_mul_bwd_a_s16(v->n, &v->quant, &v->grad, v->b, v->b_numel, v->dy, v->dy_exp, grad, &e);
        CHECK(e == v->da_exp && compare_s16(v->name, "dA", grad, v->da, v->n), "%s: dA mismatch", v->name);
        tt_mul_bwd_b_s16(v->n, &v->quant, &v->grad, v->a, v->b_numel, v->dy, v->dy_exp, grad, &e);
        CHECK(e == v->db_exp && compare_s16(v->name, "dB", grad, v->db, v->b_numel), "%s: dB mismatch", v->name);
    }
}

static void run_hard_swish_vectors(void)
{
    static int8_t out[MAX_OUT];
    static int16_t grad[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_hard_swish_vectors / sizeof tt_hard_swish_vectors[0]; i++) {
        const tt_hard_swish_vector_t *v = &tt_hard_swish_vectors[i];
        memset(out, 0x5A, sizeof out);
        tt_hard_swish_fwd_s8(v->n, &v->quant, v->x, out);
        CHECK(compare(v->name, out, v->expected, v->n), "%s: output mismatch", v->name);
        int32_t e = -999;
        tt_hard_swish_bwd_input_s16(v->n, &v->grad, v->x, v->dy, v->dy_exp, grad, &e);
        CHECK(e == v->dx_exp && compare_s16(v->name, "dX", grad, v->dx, v->n), "%s: dX mismatch", v->name);
    }
}

static void run_logistic_vectors(void)
{
    static int8_t out[MAX_OUT];
    static int16_t grad[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_logistic_vectors / sizeof tt_logistic_vectors[0]; i++) {
        const tt_logistic_vector_t *v = &tt_logistic_vectors[i];
        memset(out, 0x5A, sizeof out);
        tt_logistic_fwd_s8(v->n, &v->quant, v->x, out);
        CHECK(compare(v->name, out, v->expected, v->n), "%s: output mismatch", v->name);
        int32_t e = -999;
        tt_logistic_bwd_input_s16(v->n, &v->quant, v->x, v->dy, v->dy_exp, grad, &e);
        CHECK(e == v->dx_exp && compare_s16(v->name, "dX", grad, v->dx, v->n), "%s: dX mismatch", v->name);
    }
}

static void run_mean_vectors(void)
{
    static int8_t out[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_mean_vectors / sizeof tt_mean_vectors[0]; i++) {
        const tt_mean_vector_t *v = &tt_mean_vectors[i];
        memset(out, 0x5A, sizeof out);
        CHECK(tt_conv_geom_check(&v->geom), "%s: geometry rejected", v->name);
        tt_mean_fwd_s8(&v->geom, &v->quant, v->input, out);
        CHECK(compare(v->name, out, v->expected, v->geom.out_c), "%s: output mismatch", v->name);
    }
}

static int32_t volume(const tt_conv_geom_t *g, int out)
{
    return out ? g->out_h * g->out_w * g->out_c : g->in_h * g->in_w * g->in_c;
}

static void run_bwd_vectors(void)
{
    static int16_t g16[MAX_OUT];
    static int32_t g32[MAX_OUT];
    static uint8_t mask[MAX_OUT / 8 + 1];
    static int8_t w[MAX_OUT];
    static int32_t b[MAX_OUT];
    static uint32_t scratch[MAX_SCRATCH / 4];
    for (size_t i = 0; i < sizeof tt_bwd_vectors / sizeof tt_bwd_vectors[0]; i++) {
        const tt_bwd_vector_t *v = &tt_bwd_vectors[i];
        const tt_conv_vector_t *c = &tt_conv_vectors[v->conv_index];
        const tt_conv_geom_t *g = &c->geom;
        const tt_fc_geom_t fg = {g->in_c, g->out_c};
        const int32_t n_out = c->expected_len, n_in = volume(g, 0);
        const int32_t n_w = c->kind == TT_VEC_DW_CONV2D ? g->kernel_h * g->kernel_w * g->out_c
                                                        : g->out_c * g->kernel_h * g->kernel_w * g->in_c;
        const tt_grad_quant_t gq = {v->gq_mult, v->gq_shift, v->gq_scale_mult, v->gq_scale_shift};
        int32_t e = -999;
        CHECK(n_in <= MAX_OUT && n_out <= MAX_OUT && n_w <= MAX_OUT, "%s: too large for the test buffers", c->name);

        /* 1. the clamp mask of the forward output */
        memset(mask, 0xA5, sizeof mask);
        tt_mask_pack_s8(n_out, c->act_min, c->act_max, c->expected, mask);
        CHECK(compare_u8(c->name, "mask", mask, v->mask, (n_out + 7) / 8), "%s: mask mismatch", c->name);

        /* 2. dY through the mask, in place */
        memcpy(g16, v->dy, (size_t)n_out * sizeof g16[0]);
        tt_mask_bwd_s16(n_out, v->mask, g16, g16);
        CHECK(compare_s16(c->name, "masked dY", g16, v->dy_masked, n_out), "%s: masked dY mismatch", c->name);

        /* 3. dX */
        memset(scratch, 0xA5, sizeof scratch);
        memset(g16, 0x5A, sizeof g16);
        uint32_t need = 0;
        switch (c->kind) {
        case TT_VEC_CONV2D:
            need = tt_conv2d_bwd_input_s16_scratch_size(g);
            break;
        case TT_VEC_PW_CONV2D:
            need = tt_pw_conv2d_bwd_input_s16_scratch_size(g);
            break;
        case TT_VEC_DW_CONV2D:
            need = tt_dw_conv2d_bwd_input_s16_scratch_size(g);
            break;
        case TT_VEC_FC:
            need = tt_fc_bwd_input_s16_scratch_size(&fg);
            break;
        }
        CHECK(need <= MAX_SCRATCH, "%s: scratch %lu too large", c->name, (unsigned long)need);
        const tt_kernel_ctx_t ctx = {scratch, need};
        switch (c->kind) {
        case TT_VEC_CONV2D:
            tt_conv2d_bwd_input_s16(&ctx, g, &gq, v->dy_masked, v->dy_exp, c->weights, g16, &e);
            break;
        case TT_VEC_PW_CONV2D:
            tt_pw_conv2d_bwd_input_s16(&ctx, g, &gq, v->dy_masked, v->dy_exp, c->weights, g16, &e);
            break;
        case TT_VEC_DW_CONV2D:
            tt_dw_conv2d_bwd_input_s16(&ctx, g, &gq, v->dy_masked, v->dy_exp, c->weights, g16, &e);
            break;
        case TT_VEC_FC:
            tt_fc_bwd_input_s16(&ctx, &fg, &gq, v->dy_masked, v->dy_exp, c->weights, g16, &e);
            break;
        }
        CHECK(e == v->dx_exp, "%s: dX exponent %ld, want %ld", c->name, (long)e, (long)v->dx_exp);
        CHECK(compare_s16(c->name, "dX", g16, v->dx, n_in), "%s: dX mismatch", c->name);
        if (c->kind == TT_VEC_PW_CONV2D) {
            /* 3b. the same dX with the channel subset's weights in a slice and garbage at their
             * place in the frozen tensor, which the overlay kernel must not read */
            static int8_t slice[MAX_OUT];
            memcpy(w, c->weights, (size_t)n_w);
            for (int32_t o = 0; o < g->out_c; o++) {
                for (int32_t j = 0; j < v->n_channels; j++) {
                    slice[o * v->n_channels + j] = w[o * g->in_c + v->channels[j]];
                    w[o * g->in_c + v->channels[j]] = (int8_t)(j & 1 ? 127 : -128);
                }
            }
            need = tt_pw_conv2d_bwd_input_overlay_s16_scratch_size(g);
            CHECK(need <= MAX_SCRATCH, "%s: overlay scratch %lu too large", c->name, (unsigned long)need);
            const tt_kernel_ctx_t octx = {scratch, need};
            memset(g16, 0x5A, sizeof g16);
            e = -999;
            tt_pw_conv2d_bwd_input_overlay_s16(&octx, g, &gq, v->dy_masked, v->dy_exp, w, v->channels, v->n_channels,
                                               slice, g16, &e);
            CHECK(e == v->dx_exp, "%s: overlay dX exponent %ld, want %ld", c->name, (long)e, (long)v->dx_exp);
            CHECK(compare_s16(c->name, "overlay dX", g16, v->dx, n_in), "%s: overlay dX mismatch", c->name);
        }

        /* 4. dW for the channel subset, and db */
        memset(g32, 0x5A, sizeof g32);
        e = -999;
        const tt_bwd_weight_params_t params = {c->input_zp, {v->channels, v->n_channels}};
        const tt_grad_s16_t dy_masked = {v->dy_masked, v->dy_exp};
        switch (c->kind) {
        case TT_VEC_CONV2D: tt_conv2d_bwd_weight_s16(g, &params, c->input, &dy_masked, g32, &e); break;
        case TT_VEC_PW_CONV2D: tt_pw_conv2d_bwd_weight_s16(g, &params, c->input, &dy_masked, g32, &e); break;
        case TT_VEC_DW_CONV2D: tt_dw_conv2d_bwd_weight_s16(g, &params, c->input, &dy_masked, g32, &e); break;
        case TT_VEC_FC: tt_fc_bwd_weight_s16(&fg, &params, c->input, &dy_masked, g32, &e); break;
        }
        CHECK(e == v->dw_exp, "%s: dW exponent %ld, want %ld", c->name, (long)e, (long)v->dw_exp);
        CHECK(compare_s32(c->name, "dW", g32, v->dw, v->dw_len), "%s: dW mismatch", c->name);
        e = -999;
        tt_bias_bwd_s16(n_out / g->out_c, g->out_c, v->dy_masked, v->dy_exp, g32, &e);
        CHECK(e == v->db_exp, "%s: db exponent %ld, want %ld", c->name, (long)e, (long)v->db_exp);
        CHECK(compare_s32(c->name, "db", g32, v->db, g->out_c), "%s: db mismatch", c->name);

        /* 5. one SGD+QAS step with stochastic rounding: weights, then biases, one PRNG stream */
        const tt_weight_slice_t slice = {g->out_c, g->kernel_h * g->kernel_w, g->in_c, v->channels, v->n_channels,
                                         c->kind == TT_VEC_DW_CONV2D};
        const tt_qas_t qw = {v->qas_w_mult, v->qas_w_shift}, qb = {v->qas_b_mult, v->qas_b_shift};
        tt_rng_t rng = {v->seed, 0};
        memcpy(w, c->weights, (size_t)n_w);
        tt_sgd_update_s8(&slice, &v->sgd, &qw, v->dw, v->dw_exp, &rng, 0, w);
        CHECK(compare_s8(c->name, "updated weights", w, v->w_new, n_w), "%s: weight update mismatch", c->name);
        for (int32_t k = 0; k < g->out_c; k++) {
            b[k] = c->bias != 0 ? c->bias[k] : 0;
        }
        tt_sgd_update_s32(g->out_c, &v->sgd, &qb, v->db, v->db_exp, &rng, 0, b);
        CHECK(compare_s32(c->name, "updated biases", b, v->b_new, g->out_c), "%s: bias update mismatch", c->name);
    }
}

static void run_loss_vectors(void)
{
    static int16_t grad[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_loss_vectors / sizeof tt_loss_vectors[0]; i++) {
        const tt_loss_vector_t *v = &tt_loss_vectors[i];
        float loss = -1.0f;
        int32_t e = -999;
        memset(grad, 0x5A, sizeof grad);
        const int32_t pred = tt_softmax_xent_s8(v->n, &v->quant, v->logits, v->label, &loss, grad, &e);
        uint32_t bits;
        memcpy(&bits, &loss, sizeof bits);
        CHECK(pred == v->predicted, "%s: predicted %ld, want %ld", v->name, (long)pred, (long)v->predicted);
        CHECK(bits == v->loss_bits, "%s: loss bits 0x%08lx, want 0x%08lx", v->name, (unsigned long)bits,
              (unsigned long)v->loss_bits);
        CHECK(e == v->grad_exp, "%s: gradient exponent %ld, want %ld", v->name, (long)e, (long)v->grad_exp);
        CHECK(compare_s16(v->name, "dlogits", grad, v->grad, v->n), "%s: gradient mismatch", v->name);
    }
}

static void run_pool_add_bwd_vectors(void)
{
    static int16_t out[MAX_OUT];
    for (size_t i = 0; i < sizeof tt_pool_bwd_vectors / sizeof tt_pool_bwd_vectors[0]; i++) {
        const tt_pool_bwd_vector_t *v = &tt_pool_bwd_vectors[i];
        int32_t e = -999;
        memset(out, 0x5A, sizeof out);
        tt_avgpool_bwd_input_s16(&v->geom, v->dy, v->dy_exp, out, &e);
        CHECK(e == v->dx_exp, "%s: dX exponent %ld, want %ld", v->name, (long)e, (long)v->dx_exp);
        CHECK(compare_s16(v->name, "pool dX", out, v->dx, volume(&v->geom, 0)), "%s: dX mismatch", v->name);
    }
    for (size_t i = 0; i < sizeof tt_add_bwd_vectors / sizeof tt_add_bwd_vectors[0]; i++) {
        const tt_add_bwd_vector_t *v = &tt_add_bwd_vectors[i];
        int32_t e = -999;
        memset(out, 0x5A, sizeof out);
        tt_add_bwd_input_s16(v->size, v->a, v->a_exp, v->b, v->b_exp, out, &e);
        CHECK(e == v->sum_exp, "%s: exponent %ld, want %ld", v->name, (long)e, (long)v->sum_exp);
        CHECK(compare_s16(v->name, "skip gradient", out, v->sum, v->size), "%s: sum mismatch", v->name);
    }
}

int main(void)
{
    run_conv_vectors();
    run_add_vectors();
    run_pool_vectors();
    run_maxpool_vectors();
    run_concat_vectors();
    run_requantize_vectors();
    run_mul_vectors();
    run_hard_swish_vectors();
    run_logistic_vectors();
    run_mean_vectors();
    run_bwd_vectors();
    run_loss_vectors();
    run_pool_add_bwd_vectors();
    return tt_test_report("kernel vectors");
}
