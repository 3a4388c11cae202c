/* Forward kernels against the golden vectors in kernel_vectors.h. A failing case prints its
 * name and the first mismatching indices with both values; the exit status is non-zero. */
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

int main(void)
{
    run_conv_vectors();
    run_add_vectors();
    run_pool_vectors();
    return tt_test_report("kernel vectors");
}
