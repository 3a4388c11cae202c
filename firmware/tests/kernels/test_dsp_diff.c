/* Differential test of the kernels' Cortex-M7 DSP paths against their portable loops.
 *
 * The kernels under test are linked as usual (on the f746-qemu image they take their DSP
 * paths, firmware/kernels/tt_dsp.h); the same sources are compiled a second time into this
 * file with TT_KERNELS_PORTABLE defined and every public name prefixed ref_, which selects the
 * portable loops the host build runs. Thousands of random shapes, strides, paddings,
 * quantization parameters (shifts outside the fast requantization's range, biases near the
 * int32 limits, narrow activation ranges) and values go through both; every output and
 * exponent must be identical. A mismatch prints the case and the first differing indices and
 * the image exits non-zero. On the host build both sides are the portable loops, so there it
 * only checks scratch sizes and, under the sanitizers, memory safety on random shapes. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tt/kernels/kernels.h"
#include "tt_test.h"

/* --- The portable kernels, renamed --------------------------------------------------------- */

#define TT_KERNELS_PORTABLE 1
#define tt_conv2d_fwd_s8 ref_conv2d_fwd_s8
#define tt_conv2d_fwd_s8_scratch_size ref_conv2d_fwd_s8_scratch_size
#define tt_conv2d_fwd_overlay_s8 ref_conv2d_fwd_overlay_s8
#define tt_conv2d_fwd_overlay_s8_scratch_size ref_conv2d_fwd_overlay_s8_scratch_size
#define tt_pw_conv2d_fwd_s8 ref_pw_conv2d_fwd_s8
#define tt_pw_conv2d_fwd_s8_scratch_size ref_pw_conv2d_fwd_s8_scratch_size
#define tt_dw_conv2d_fwd_s8 ref_dw_conv2d_fwd_s8
#define tt_dw_conv2d_fwd_s8_scratch_size ref_dw_conv2d_fwd_s8_scratch_size
#define tt_dw_conv2d_fwd_planar_s8 ref_dw_conv2d_fwd_planar_s8
#define tt_fc_fwd_s8 ref_fc_fwd_s8
#define tt_fc_fwd_s8_scratch_size ref_fc_fwd_s8_scratch_size
#define tt_add_fwd_s8 ref_add_fwd_s8
#define tt_add_bwd_input_s16 ref_add_bwd_input_s16
#define tt_avgpool_fwd_s8 ref_avgpool_fwd_s8
#define tt_mask_bwd_s16 ref_mask_bwd_s16
#define tt_mask_pack_s8 ref_mask_pack_s8
#define tt_bias_bwd_s16 ref_bias_bwd_s16
#define tt_pw_conv2d_bwd_input_s16 ref_pw_conv2d_bwd_input_s16
#define tt_pw_conv2d_bwd_input_s16_scratch_size ref_pw_conv2d_bwd_input_s16_scratch_size
#define tt_pw_conv2d_bwd_input_overlay_s16 ref_pw_conv2d_bwd_input_overlay_s16
#define tt_pw_conv2d_bwd_input_overlay_s16_scratch_size ref_pw_conv2d_bwd_input_overlay_s16_scratch_size
#define tt_pw_conv2d_bwd_weight_s16 ref_pw_conv2d_bwd_weight_s16
#define tt_pw_conv2d_bwd_weight_update_s8 ref_pw_conv2d_bwd_weight_update_s8
#define tt_dw_conv2d_bwd_input_s16 ref_dw_conv2d_bwd_input_s16
#define tt_dw_conv2d_bwd_weight_s16 ref_dw_conv2d_bwd_weight_s16
#define tt_dw_conv2d_bwd_weight_update_s8 ref_dw_conv2d_bwd_weight_update_s8
#define tt_dw_conv2d_bwd_input_s16_scratch_size ref_dw_conv2d_bwd_input_s16_scratch_size
/* The two pointwise input-gradient files call each other's public functions. */
uint32_t tt_pw_conv2d_bwd_input_s16_scratch_size(const tt_conv_geom_t *geom);
void tt_pw_conv2d_bwd_input_overlay_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, const int16_t *grad_output,
                                        int32_t grad_output_exp, const int8_t *weights, const int16_t *channels,
                                        int32_t n_channels, const int8_t *trained, int16_t *grad_input,
                                        int32_t *grad_input_exp);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#include "../../kernels/tt_add_bwd_input_s16.c"
#include "../../kernels/tt_add_fwd_s8.c"
#include "../../kernels/tt_avgpool_fwd_s8.c"
#include "../../kernels/tt_bias_bwd_s16.c"
#include "../../kernels/tt_mask_bwd_s16.c"
#include "../../kernels/tt_mask_pack_s8.c"
#include "../../kernels/tt_conv2d_fwd_overlay_s8.c"
#include "../../kernels/tt_conv2d_fwd_s8.c"
#include "../../kernels/tt_dw_conv2d_bwd_input_s16.c"
#include "../../kernels/tt_dw_conv2d_bwd_weight_s16.c"
#include "../../kernels/tt_dw_conv2d_bwd_weight_update_s8.c"
#include "../../kernels/tt_dw_conv2d_fwd_planar_s8.c"
#include "../../kernels/tt_dw_conv2d_fwd_s8.c"
#include "../../kernels/tt_fc_fwd_s8.c"
#include "../../kernels/tt_pw_conv2d_bwd_input_overlay_s16.c"
#include "../../kernels/tt_pw_conv2d_bwd_input_s16.c"
#include "../../kernels/tt_pw_conv2d_bwd_weight_s16.c"
#include "../../kernels/tt_pw_conv2d_bwd_weight_update_s8.c"
#include "../../kernels/tt_pw_conv2d_fwd_s8.c"
#pragma GCC diagnostic pop
#undef tt_conv2d_fwd_s8
#undef tt_conv2d_fwd_s8_scratch_size
#undef tt_conv2d_fwd_overlay_s8
#undef tt_conv2d_fwd_overlay_s8_scratch_size
#undef tt_pw_conv2d_fwd_s8
#undef tt_pw_conv2d_fwd_s8_scratch_size
#undef tt_dw_conv2d_fwd_s8
#undef tt_dw_conv2d_fwd_s8_scratch_size
#undef tt_dw_conv2d_fwd_planar_s8
#undef tt_fc_fwd_s8
#undef tt_fc_fwd_s8_scratch_size
#undef tt_add_fwd_s8
#undef tt_add_bwd_input_s16
#undef tt_avgpool_fwd_s8
#undef tt_mask_bwd_s16
#undef tt_mask_pack_s8
#undef tt_bias_bwd_s16
#undef tt_pw_conv2d_bwd_input_s16
#undef tt_pw_conv2d_bwd_input_s16_scratch_size
#undef tt_pw_conv2d_bwd_input_overlay_s16
#undef tt_pw_conv2d_bwd_input_overlay_s16_scratch_size
#undef tt_pw_conv2d_bwd_weight_s16
#undef tt_pw_conv2d_bwd_weight_update_s8
#undef tt_dw_conv2d_bwd_input_s16
#undef tt_dw_conv2d_bwd_weight_s16
#undef tt_dw_conv2d_bwd_weight_update_s8
#undef tt_dw_conv2d_bwd_input_s16_scratch_size

/* --- Random data ---------------------------------------------------------------------------- */

static uint32_t rng_state = 0x9E3779B9u;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Uniform in [lo, hi]. */
static int32_t uniform(int32_t lo, int32_t hi) { return lo + (int32_t)(rng() % (uint32_t)(hi - lo + 1)); }

#define BUF 8192   /* int8 tensors */
#define BUF16 4096 /* int16 and int32 tensors */
static int8_t in_a[BUF], in_b[BUF], wts[BUF], out_dsp[BUF], out_ref[BUF];
static int16_t g16[BUF16], gi_dsp[BUF16], gi_ref[BUF16], channels[1024];
static int32_t bias[1024], mult[1024], shift[1024], gw_dsp[BUF16], gw_ref[BUF16];
static uint32_t scratch_dsp[2048], scratch_ref[2048];

static void fill_s8(int8_t *p, int32_t n)
{
    /* Mostly uniform, sometimes saturated, so the extremes (-128, 127) appear often. */
    const int mode = (int)(rng() % 4u);
    for (int32_t i = 0; i < n; i++) {
        const uint32_t r = rng();
        p[i] = mode == 0 ? (int8_t)((r & 1u) ? 127 : -128) : (int8_t)r;
    }
}

/* Per-channel requantization: mostly what imported models have (multiplier in [2^30, 2^31),
 * right shift 1..12), sometimes a shift outside the fast paths' range, a zero multiplier, a
 * bias near the int32 limits, or a narrow activation range. */
static tt_conv_quant_t random_quant(int32_t channels_n, int32_t acc_bound)
{
    /* Exotic channels in one call of four; the fast paths need every channel regular. */
    const uint32_t exotic = rng() % 4u == 0 ? 16u : 1000u;
    for (int32_t c = 0; c < channels_n; c++) {
        const uint32_t kind = rng() % exotic;
        mult[c] = kind == 0 ? 0 : (int32_t)(0x40000000u | (rng() >> 2));
        shift[c] = kind == 1 ? uniform(-31, 3) : kind == 2 ? -uniform(13, 24) : -uniform(1, 12);
        bias[c] = kind == 3 ? (int32_t)rng() : uniform(-acc_bound, acc_bound);
    }
    const int narrow = rng() % 8u == 0;
    int32_t lo = -128, hi = 127;
    if (narrow) {
        lo = uniform(-128, 0);
        hi = uniform(lo, 127);
    }
    const tt_conv_quant_t q = {uniform(-128, 127), uniform(-128, 127), mult, shift, lo, hi};
    return q;
}

static int report_s8(const char *what, int case_no, const int8_t *got, const int8_t *want, int32_t n)
{
    int32_t bad = 0;
    for (int32_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            if (bad < 4) {
                fprintf(stderr, "%s case %d: index %ld: dsp %d, portable %d\n", what, case_no, (long)i, got[i],
                        want[i]);
            }
            bad++;
        }
    }
    if (bad > 0) {
        fprintf(stderr, "%s case %d: %ld of %ld differ\n", what, case_no, (long)bad, (long)n);
    }
    return bad == 0;
}

static int report_s32(const char *what, int case_no, const int32_t *got, const int32_t *want, int32_t n)
{
    int32_t bad = 0;
    for (int32_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            if (bad < 4) {
                fprintf(stderr, "%s case %d: index %ld: dsp %ld, portable %ld\n", what, case_no, (long)i, (long)got[i],
                        (long)want[i]);
            }
            bad++;
        }
    }
    if (bad > 0) {
        fprintf(stderr, "%s case %d: %ld of %ld differ\n", what, case_no, (long)bad, (long)n);
    }
    return bad == 0;
}

static void print_geom(const char *what, int case_no, const tt_conv_geom_t *g)
{
    fprintf(stderr, "%s case %d: %ldx%ldx%ld -> %ldx%ldx%ld k%ldx%ld s%ldx%ld pad %ld %ld %ld %ld\n", what, case_no,
            (long)g->in_h, (long)g->in_w, (long)g->in_c, (long)g->out_h, (long)g->out_w, (long)g->out_c,
            (long)g->kernel_h, (long)g->kernel_w, (long)g->stride_h, (long)g->stride_w, (long)g->pad_top,
            (long)g->pad_left, (long)g->pad_bottom, (long)g->pad_right);
}

/* One axis: input n, kernel k, stride s, random paddings below k; returns the output size. */
static int32_t random_axis(int32_t n, int32_t k, int32_t s, int32_t *p0, int32_t *p1)
{
    do {
        *p0 = uniform(0, k - 1);
        *p1 = uniform(0, k - 1);
    } while (n + *p0 + *p1 < k);
    return (n + *p0 + *p1 - k) / s + 1;
}

static tt_conv_geom_t random_geom(int32_t max_hw, int32_t in_c, int32_t out_c, int32_t kh, int32_t kw, int32_t stride)
{
    tt_conv_geom_t g;
    memset(&g, 0, sizeof g);
    g.in_h = uniform(1, max_hw);
    g.in_w = uniform(1, max_hw);
    g.in_c = in_c;
    g.out_c = out_c;
    g.kernel_h = kh;
    g.kernel_w = kw;
    g.stride_h = rng() % 4u == 0 ? uniform(1, 3) : stride;
    g.stride_w = stride;
    g.out_h = random_axis(g.in_h, kh, g.stride_h, &g.pad_top, &g.pad_bottom);
    g.out_w = random_axis(g.in_w, kw, g.stride_w, &g.pad_left, &g.pad_right);
    return g;
}

static int fits(int64_t n) { return n > 0 && n <= BUF; }

/* --- Forward convolutions ------------------------------------------------------------------ */

typedef void (*conv_fn)(const tt_kernel_ctx_t *, const tt_conv_geom_t *, const tt_conv_quant_t *, const int8_t *,
                        const int8_t *, const int32_t *, int8_t *);
typedef uint32_t (*conv_scratch_fn)(const tt_conv_geom_t *);

static void run_conv(const char *what, int case_no, const tt_conv_geom_t *g, int depthwise, conv_fn dsp,
                     conv_scratch_fn dsp_scratch, conv_fn ref, conv_scratch_fn ref_scratch)
{
    const int64_t n_in = (int64_t)g->in_h * g->in_w * g->in_c, n_out = (int64_t)g->out_h * g->out_w * g->out_c;
    const int64_t n_w = (int64_t)g->kernel_h * g->kernel_w * (depthwise ? 1 : g->in_c) * g->out_c;
    const uint32_t need = dsp_scratch(g);
    CHECK(need == ref_scratch(g), "%s case %d: scratch %lu, portable %lu", what, case_no, (unsigned long)need,
          (unsigned long)ref_scratch(g));
    if (!fits(n_in) || !fits(n_out) || !fits(n_w) || need > sizeof scratch_dsp || g->out_c > 1024) {
        return;
    }
    fill_s8(in_a, (int32_t)n_in);
    fill_s8(wts, (int32_t)n_w);
    const int32_t per_out = (int32_t)(n_w / g->out_c);
    const tt_conv_quant_t q = random_quant(g->out_c, per_out * 255 * 128);
    const int32_t *b = rng() % 8u == 0 ? 0 : bias;
    /* The scratch starts dirty: a kernel may not rely on zeroed scratch. */
    memset(scratch_dsp, 0xA5, need);
    memset(out_dsp, 0x5A, (size_t)n_out);
    memset(out_ref, 0x3C, (size_t)n_out);
    const tt_kernel_ctx_t cd = {need ? scratch_dsp : 0, need}, cr = {need ? scratch_ref : 0, need};
    dsp(&cd, g, &q, in_a, wts, b, out_dsp);
    ref(&cr, g, &q, in_a, wts, b, out_ref);
    tt_test_checks++;
    if (!report_s8(what, case_no, out_dsp, out_ref, (int32_t)n_out)) {
        print_geom(what, case_no, g);
        tt_test_failures++;
    }
}

static void test_dw(int cases)
{
    static const int32_t kernels[] = {1, 2, 3, 3, 3, 5, 5, 7, 7};
    for (int i = 0; i < cases; i++) {
        const int32_t k = kernels[rng() % 9u];
        const int32_t kw = rng() % 8u == 0 ? kernels[rng() % 9u] : k;
        const int wide = i % 16 == 0; /* rows of many blocks */
        const int32_t c = wide ? 4 : rng() % 3u == 0 ? uniform(1, 9) : 4 * uniform(1, 6);
        const int32_t mult_c = rng() % 8u == 0 ? 2 : 1;
        const int32_t stride = rng() % 8u == 0 ? 3 : uniform(1, 2);
        const tt_conv_geom_t g = random_geom(wide ? 40 : 14, c, c * mult_c, k, kw, stride);
        run_conv("dw_conv2d_fwd", i, &g, 1, tt_dw_conv2d_fwd_s8, tt_dw_conv2d_fwd_s8_scratch_size, ref_dw_conv2d_fwd_s8,
                 ref_dw_conv2d_fwd_s8_scratch_size);
    }
}

static void test_pw(int cases)
{
    for (int i = 0; i < cases; i++) {
        /* Multiples of 8 and even out_c take the assembly; the rest, the fallback. */
        const int32_t in_c = rng() % 2u ? 8 * uniform(1, 25) : rng() % 2u ? uniform(1, 24) : uniform(1, 200);
        const int32_t out_c = rng() % 4u ? 2 * uniform(1, 20) : uniform(1, 40);
        /* One case in four large enough (>= 128 pixels) for the small-in_c order. */
        const int big = i % 4 == 0;
        tt_conv_geom_t g = random_geom(8, in_c, out_c, 1, 1, uniform(1, 2));
        if (big) {
            g = random_geom(4, 8 * uniform(2, 4), 2 * uniform(6, 20), 1, 1, 1);
            g.in_h = g.out_h = uniform(8, 16);
            g.in_w = g.out_w = uniform(8, 16);
            g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 0;
            g.stride_h = g.stride_w = 1;
        }
        run_conv("pw_conv2d_fwd", i, &g, 0, tt_pw_conv2d_fwd_s8, tt_pw_conv2d_fwd_s8_scratch_size, ref_pw_conv2d_fwd_s8,
                 ref_pw_conv2d_fwd_s8_scratch_size);
    }
}

static void test_conv(int cases)
{
    for (int i = 0; i < cases; i++) {
        const int32_t k = uniform(1, 4);
        tt_conv_geom_t g = random_geom(10, uniform(1, 12), uniform(1, 20), k, rng() % 4u ? k : uniform(1, 4),
                                       uniform(1, 2));
        if (i % 3 == 0) {
            /* The models' stems: 3x3, stride 2, 3 input channels, padded; some one row high,
             * as the fused stem block calls it. */
            g = random_geom(18, 3, uniform(1, 20), 3, 3, 2);
            if (i % 2 == 0) {
                g.stride_h = 2;
                g.out_h = 1;
            }
        }
        run_conv("conv2d_fwd", i, &g, 0, tt_conv2d_fwd_s8, tt_conv2d_fwd_s8_scratch_size, ref_conv2d_fwd_s8,
                 ref_conv2d_fwd_s8_scratch_size);
    }
}

/* The forward of a partially trained layer: pointwise (strides 1 and 2, rows of 1..11 pixels,
 * in_c of every remainder mod 4) and some 3x3 layers (the portable loop on both sides), with
 * no, some (any order) or all input channels trained. */
static void test_conv_overlay(int cases)
{
    static int8_t slice[BUF];
    for (int i = 0; i < cases; i++) {
        const int32_t k = i % 8 == 0 ? 3 : 1;
        const int32_t in_c = uniform(1, 60), out_c = uniform(1, 24);
        tt_conv_geom_t g = random_geom(11, in_c, out_c, k, k, uniform(1, 2));
        if (k == 1) {
            g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 0;
            g.out_h = (g.in_h - 1) / g.stride_h + 1;
            g.out_w = (g.in_w - 1) / g.stride_w + 1;
        }
        const int32_t n_in = g.in_h * g.in_w * in_c, n_out = g.out_h * g.out_w * out_c, n_w = k * k * in_c * out_c;
        const uint32_t need = tt_conv2d_fwd_overlay_s8_scratch_size(&g);
        if (!fits(n_in) || !fits(n_out) || !fits(n_w) || need > sizeof scratch_dsp) {
            continue;
        }
        const uint32_t kind = rng() % 3u; /* 0: none trained, 1: some in random order, 2: all in order */
        int32_t n_ch = kind == 0 ? 0 : kind == 2 ? in_c : uniform(1, in_c);
        for (int32_t c = 0; c < in_c; c++) {
            channels[c] = (int16_t)c;
        }
        for (int32_t c = in_c - 1; kind == 1 && c > 0; c--) {
            const int32_t j = uniform(0, c);
            const int16_t t = channels[c];
            channels[c] = channels[j];
            channels[j] = t;
        }
        if (!fits((int64_t)k * k * n_ch * out_c)) {
            n_ch = 0;
        }
        fill_s8(in_a, n_in);
        fill_s8(wts, n_w);
        fill_s8(slice, k * k * n_ch * out_c);
        const tt_conv_quant_t q = random_quant(out_c, k * k * in_c * 255 * 128);
        const int32_t *b = rng() % 8u == 0 ? 0 : bias;
        memset(scratch_dsp, 0xA5, need);
        memset(out_dsp, 0x5A, (size_t)n_out);
        memset(out_ref, 0x3C, (size_t)n_out);
        const tt_kernel_ctx_t cd = {scratch_dsp, need}, cr = {scratch_ref, need};
        tt_conv2d_fwd_overlay_s8(&cd, &g, &q, in_a, wts, channels, n_ch, slice, b, out_dsp);
        ref_conv2d_fwd_overlay_s8(&cr, &g, &q, in_a, wts, channels, n_ch, slice, b, out_ref);
        tt_test_checks++;
        if (!report_s8("conv2d_fwd_overlay", i, out_dsp, out_ref, n_out)) {
            print_geom("conv2d_fwd_overlay", i, &g);
            tt_test_failures++;
        }
    }
}

static void test_fc(int cases)
{
    for (int i = 0; i < cases; i++) {
        const tt_fc_geom_t g = {uniform(1, 200), uniform(1, 40)}; /* in_c * out_c <= BUF */
        const uint32_t need = tt_fc_fwd_s8_scratch_size(&g);
        CHECK(need == ref_fc_fwd_s8_scratch_size(&g), "fc_fwd case %d: scratch sizes differ", i);
        if (need > sizeof scratch_dsp) {
            continue;
        }
        fill_s8(in_a, g.in_c);
        fill_s8(wts, g.in_c * g.out_c);
        const tt_conv_quant_t q = random_quant(g.out_c, g.in_c * 255 * 128);
        const tt_kernel_ctx_t cd = {scratch_dsp, need}, cr = {scratch_ref, need};
        tt_fc_fwd_s8(&cd, &g, &q, in_a, wts, bias, out_dsp);
        ref_fc_fwd_s8(&cr, &g, &q, in_a, wts, bias, out_ref);
        tt_test_checks++;
        if (!report_s8("fc_fwd", i, out_dsp, out_ref, g.out_c)) {
            tt_test_failures++;
        }
    }
}

static void test_add(int cases)
{
    for (int i = 0; i < cases; i++) {
        const int32_t n = uniform(1, 700);
        fill_s8(in_a, n);
        fill_s8(in_b, n);
        int32_t lo = -128, hi = 127;
        if (rng() % 4u == 0) {
            lo = uniform(-128, 0);
            hi = uniform(lo, 127);
        }
        /* Mostly TFLite's parameters (left shift 20, input shifts 0..-4); one case in four
         * anywhere in the fast path's range and just outside it (left shift 19 or 21, input
         * shifts down to -29, zero multipliers, output shifts -1..-24). */
        const int odd = rng() % 4u == 0;
        const tt_add_quant_t q = {uniform(-128, 127),
                                  uniform(-128, 127),
                                  uniform(-128, 127),
                                  odd && rng() % 4u == 0 ? uniform(19, 21) : 20,
                                  odd && rng() % 4u == 0 ? 0 : (int32_t)(0x40000000u | (rng() >> 2)),
                                  -uniform(0, odd ? 29 : 4),
                                  (int32_t)(0x40000000u | (rng() >> 2)),
                                  -uniform(0, odd ? 29 : 4),
                                  (int32_t)(0x40000000u | (rng() >> 2)),
                                  odd ? -uniform(1, 24) : -uniform(15, 24),
                                  lo,
                                  hi};
        tt_add_fwd_s8(n, &q, in_a, in_b, out_dsp);
        ref_add_fwd_s8(n, &q, in_a, in_b, out_ref);
        tt_test_checks++;
        if (!report_s8("add_fwd", i, out_dsp, out_ref, n)) {
            tt_test_failures++;
        }
    }
}

/* Average pools: windows 1..7 at strides 1..3 with padding (partial windows), and global
 * pools of up to 20 x 20 (more than 255 taps), channel counts around the groups of four. */
static void test_avgpool(int cases)
{
    for (int i = 0; i < cases; i++) {
        tt_conv_geom_t g;
        const int32_t c = rng() % 2u ? uniform(1, 12) : 4 * uniform(1, 8);
        if (i % 4 == 0) {
            memset(&g, 0, sizeof g);
            g.in_h = g.kernel_h = uniform(1, 20);
            g.in_w = g.kernel_w = uniform(1, 20);
            g.out_h = g.out_w = g.stride_h = g.stride_w = 1;
            g.in_c = g.out_c = c;
        } else {
            const int32_t k = uniform(1, 7);
            g = random_geom(12, c, c, k, rng() % 4u ? k : uniform(1, 7), uniform(1, 3));
        }
        const int32_t n_in = g.in_h * g.in_w * c, n_out = g.out_h * g.out_w * c;
        if (!fits(n_in) || !fits(n_out)) {
            continue;
        }
        fill_s8(in_a, n_in);
        if (i % 8 == 0) { /* one sign throughout: the largest sums */
            memset(in_a, rng() % 2u ? 127 : -128, (size_t)n_in);
        }
        const tt_pool_quant_t q = {rng() % 4u ? -128 : uniform(-128, 0), rng() % 4u ? 127 : uniform(0, 127)};
        memset(out_dsp, 0x5A, (size_t)n_out);
        memset(out_ref, 0x3C, (size_t)n_out);
        tt_avgpool_fwd_s8(&g, &q, in_a, out_dsp);
        ref_avgpool_fwd_s8(&g, &q, in_a, out_ref);
        tt_test_checks++;
        if (!report_s8("avgpool_fwd", i, out_dsp, out_ref, n_out)) {
            print_geom("avgpool_fwd", i, &g);
            tt_test_failures++;
        }
    }
}

/* --- Backward ------------------------------------------------------------------------------- */

static void fill_s16(int16_t *p, int32_t n);

/* The residual add's gradient: exponents equal or apart by up to 40 either way, values of
 * every width (sums that need halving, and -32768), the output over either input. */
static void test_add_bwd(int cases)
{
    for (int i = 0; i < cases; i++) {
        const int32_t n = uniform(1, 700);
        fill_s16(g16, n);
        fill_s16(g16 + n, n);
        const int32_t e0 = uniform(-20, 0), e1 = rng() % 4u == 0 ? e0 : e0 + uniform(-40, 40);
        const int alias = (int)(rng() % 3u); /* 0: separate output, 1: over dY, 2: over the other */
        int32_t x_dsp = 99, x_ref = 98;
        memcpy(gi_dsp, g16, (size_t)n * 4);
        int16_t *out_d = alias == 0 ? gi_dsp + 2 * n : gi_dsp + (alias - 1) * n;
        tt_add_bwd_input_s16(n, gi_dsp, e0, gi_dsp + n, e1, out_d, &x_dsp);
        ref_add_bwd_input_s16(n, g16, e0, g16 + n, e1, gi_ref, &x_ref);
        CHECK(x_dsp == x_ref, "add_bwd_input case %d: exponent %ld, portable %ld", i, (long)x_dsp, (long)x_ref);
        tt_test_checks++;
        if (memcmp(out_d, gi_ref, (size_t)n * 2) != 0) {
            fprintf(stderr, "add_bwd_input case %d: n %ld exponents %ld %ld differ\n", i, (long)n, (long)e0, (long)e1);
            tt_test_failures++;
        }
    }
}

static void fill_s16(int16_t *p, int32_t n)
{
    const int bits = uniform(2, 15);
    for (int32_t i = 0; i < n; i++) {
        p[i] = (int16_t)((int32_t)rng() >> (32 - bits));
    }
    if (n > 0 && rng() % 4u == 0) { /* a saturated gradient: |-32768| does not fit int16 */
        p[rng() % (uint32_t)n] = rng() % 2u ? INT16_MIN : INT16_MAX;
    }
}

/* The sparse-update kernels of a partially trained pointwise layer: the input gradient over
 * the frozen tensor (wts, garbage at the trained channels) and the slice of channels[0..n),
 * and the fused weight gradient + SGD/QAS update of that slice from the compact input. */
static void pw_bwd_sparse(int i, const tt_conv_geom_t *g, const tt_grad_quant_t *gq, int32_t n_ch, int32_t zp,
                          int32_t dy_exp)
{
    static int8_t slice_dsp[BUF], slice_ref[BUF];
    const int32_t n_in = g->in_h * g->in_w * g->in_c, n_w = n_ch * g->out_c;
    fill_s8(slice_dsp, n_w);
    const uint32_t need = tt_pw_conv2d_bwd_input_overlay_s16_scratch_size(g);
    CHECK(need == ref_pw_conv2d_bwd_input_overlay_s16_scratch_size(g), "pw_bwd_input_overlay case %d: scratch", i);
    if (need <= sizeof scratch_dsp) {
        const tt_kernel_ctx_t cd = {scratch_dsp, need}, cr = {scratch_ref, need};
        int32_t e_dsp = 99, e_ref = 98;
        memset(gi_dsp, 0x11, (size_t)n_in * 2);
        memset(gi_ref, 0x22, (size_t)n_in * 2);
        tt_pw_conv2d_bwd_input_overlay_s16(&cd, g, gq, g16, dy_exp, wts, channels, n_ch, slice_dsp, gi_dsp, &e_dsp);
        ref_pw_conv2d_bwd_input_overlay_s16(&cr, g, gq, g16, dy_exp, wts, channels, n_ch, slice_dsp, gi_ref, &e_ref);
        CHECK(e_dsp == e_ref && memcmp(gi_dsp, gi_ref, (size_t)n_in * 2) == 0, "pw_bwd_input_overlay case %d", i);
    }
    const int32_t pixels = g->in_h * g->in_w;
    if ((int64_t)pixels * n_ch > BUF) {
        return;
    }
    fill_s8(in_b, pixels * n_ch); /* the compact saved input */
    for (int32_t c = 0; c < g->out_c; c++) {
        mult[c] = (int32_t)(0x40000000u | (rng() >> 2));
        shift[c] = uniform(-24, 24);
    }
    const tt_qas_t qas = {mult, shift};
    /* Every other case bounds its steps (the clamp sits in the DSP path's update too). */
    const tt_sgd_t sgd = {(int32_t)(0x40000000u | (rng() >> 2)), -uniform(0, 12), 0, (i % 2) ? (int64_t)1 << 15 : 0};
    tt_rng_t r_dsp = {rng(), rng() % 1000u}, r_ref = r_dsp;
    memcpy(slice_ref, slice_dsp, (size_t)n_w);
    const tt_bwd_weight_params_t params = {zp, {0, n_ch}}; /* the input is compact: only the count is read */
    const tt_grad_s16_t dy = {g16, dy_exp};
    const tt_update_t u_dsp = {&sgd, &qas, &r_dsp, 0}, u_ref = {&sgd, &qas, &r_ref, 0};
    tt_pw_conv2d_bwd_weight_update_s8(g, &params, in_b, &dy, &u_dsp, slice_dsp);
    ref_pw_conv2d_bwd_weight_update_s8(g, &params, in_b, &dy, &u_ref, slice_ref);
    CHECK(r_dsp.counter == r_ref.counter, "pw_bwd_weight_update case %d: PRNG counter %lu, portable %lu", i,
          (unsigned long)r_dsp.counter, (unsigned long)r_ref.counter);
    tt_test_checks++;
    if (!report_s8("pw_bwd_weight_update", i, slice_dsp, slice_ref, n_w)) {
        print_geom("pw_bwd_weight_update", i, g);
        tt_test_failures++;
    }
}

/* The clamp's mask packed from an output (ReLU, ReLU6-like and empty ranges, bounds at and
 * past int8's ends), applied to dY (any length, in place or not), and the bias gradient
 * (channel counts around its groups of four, up to 4000 positions). */
static void test_mask_bias_bwd(int cases)
{
    static uint8_t mask[BUF16 / 8 + 1], mask_ref[BUF16 / 8 + 1];
    for (int i = 0; i < cases; i++) {
        const int32_t n = uniform(1, BUF16 / 2);
        fill_s8(in_a, n);
        const int32_t act_min = rng() % 8u == 0 ? uniform(-300, 300) : uniform(-128, 127);
        const int32_t act_max = rng() % 8u == 0 ? uniform(-300, 300) : uniform(act_min < 127 ? act_min : 127, 127);
        tt_mask_pack_s8(n, act_min, act_max, in_a, mask);
        ref_mask_pack_s8(n, act_min, act_max, in_a, mask_ref);
        tt_test_checks++;
        if (memcmp(mask, mask_ref, (size_t)(n + 7) / 8) != 0) {
            fprintf(stderr, "mask_pack case %d: n %ld range %ld..%ld differs\n", i, (long)n, (long)act_min,
                    (long)act_max);
            tt_test_failures++;
        }
        fill_s16(g16, n);
        const int in_place = (int)(rng() % 2u);
        memcpy(gi_dsp, g16, (size_t)n * 2);
        tt_mask_bwd_s16(n, mask, gi_dsp, in_place ? gi_dsp : gi_dsp + n);
        ref_mask_bwd_s16(n, mask, g16, gi_ref);
        tt_test_checks++;
        if (memcmp(in_place ? gi_dsp : gi_dsp + n, gi_ref, (size_t)n * 2) != 0) {
            fprintf(stderr, "mask_bwd case %d: n %ld differs\n", i, (long)n);
            tt_test_failures++;
        }
        const int32_t ch = uniform(1, 40), positions = rng() % 8u == 0 ? uniform(1, 4000 / ch) : uniform(1, 64);
        fill_s16(g16, positions * ch);
        int32_t e_dsp = 99, e_ref = 98;
        tt_bias_bwd_s16(positions, ch, g16, -7, gw_dsp, &e_dsp);
        ref_bias_bwd_s16(positions, ch, g16, -7, gw_ref, &e_ref);
        CHECK(e_dsp == e_ref, "bias_bwd case %d: exponent %ld, portable %ld", i, (long)e_dsp, (long)e_ref);
        tt_test_checks++;
        if (!report_s32("bias_bwd", i, gw_dsp, gw_ref, ch)) {
            tt_test_failures++;
        }
    }
}

static void test_pw_bwd(int cases)
{
    for (int i = 0; i < cases; i++) {
        const tt_conv_geom_t g = random_geom(6, uniform(1, 48), uniform(1, 60), 1, 1, uniform(1, 2));
        const int32_t n_out = g.out_h * g.out_w * g.out_c, n_in = g.in_h * g.in_w * g.in_c;
        if (n_out > BUF16 || n_in > BUF16 || !fits((int64_t)g.in_c * g.out_c)) {
            continue;
        }
        /* Input gradient. */
        for (int32_t c = 0; c < g.out_c; c++) {
            mult[c] = rng() % 8u == 0 ? 0 : (int32_t)(0x40000000u | (rng() >> 2));
            shift[c] = -uniform(0, 31);
        }
        const tt_grad_quant_t gq = {mult, shift, (int32_t)(0x40000000u | (rng() >> 2)), uniform(-20, 4)};
        fill_s16(g16, n_out);
        fill_s8(wts, g.in_c * g.out_c);
        const uint32_t need = tt_pw_conv2d_bwd_input_s16_scratch_size(&g);
        CHECK(need == ref_pw_conv2d_bwd_input_s16_scratch_size(&g), "pw_bwd_input case %d: scratch sizes differ", i);
        if (need <= sizeof scratch_dsp) {
            const tt_kernel_ctx_t cd = {scratch_dsp, need}, cr = {scratch_ref, need};
            int32_t e_dsp = 99, e_ref = 98;
            const int32_t dy_exp = uniform(-20, 0);
            memset(gi_dsp, 0x11, (size_t)n_in * 2);
            memset(gi_ref, 0x22, (size_t)n_in * 2);
            tt_pw_conv2d_bwd_input_s16(&cd, &g, &gq, g16, dy_exp, wts, gi_dsp, &e_dsp);
            ref_pw_conv2d_bwd_input_s16(&cr, &g, &gq, g16, dy_exp, wts, gi_ref, &e_ref);
            CHECK(e_dsp == e_ref, "pw_bwd_input case %d: exponent %ld, portable %ld", i, (long)e_dsp, (long)e_ref);
            tt_test_checks++;
            if (memcmp(gi_dsp, gi_ref, (size_t)n_in * 2) != 0) {
                for (int32_t j = 0, shown = 0; j < n_in && shown < 4; j++) {
                    if (gi_dsp[j] != gi_ref[j]) {
                        fprintf(stderr, "pw_bwd_input case %d: index %ld: dsp %d, portable %d\n", i, (long)j, gi_dsp[j],
                                gi_ref[j]);
                        shown++;
                    }
                }
                print_geom("pw_bwd_input", i, &g);
                tt_test_failures++;
            }
        }
        /* Weight gradient on a random subset of input channels, in random order. */
        const int32_t n_ch = uniform(1, g.in_c);
        for (int32_t c = 0; c < g.in_c; c++) {
            channels[c] = (int16_t)c;
        }
        for (int32_t c = g.in_c - 1; c > 0; c--) {
            const int32_t j = uniform(0, c);
            const int16_t t = channels[c];
            channels[c] = channels[j];
            channels[j] = t;
        }
        fill_s8(in_a, n_in);
        int32_t e_dsp = 99, e_ref = 98;
        const int32_t zp = uniform(-128, 127), dy_exp = uniform(-20, 0);
        const tt_bwd_weight_params_t params = {zp, {channels, n_ch}};
        const tt_grad_s16_t dy = {g16, dy_exp};
        tt_pw_conv2d_bwd_weight_s16(&g, &params, in_a, &dy, gw_dsp, &e_dsp);
        ref_pw_conv2d_bwd_weight_s16(&g, &params, in_a, &dy, gw_ref, &e_ref);
        CHECK(e_dsp == e_ref, "pw_bwd_weight case %d: exponent %ld, portable %ld", i, (long)e_dsp, (long)e_ref);
        tt_test_checks++;
        if (!report_s32("pw_bwd_weight", i, gw_dsp, gw_ref, n_ch * g.out_c)) {
            print_geom("pw_bwd_weight", i, &g);
            tt_test_failures++;
        }
        pw_bwd_sparse(i, &g, &gq, n_ch, zp, dy_exp);
    }
}

static void test_dw_bwd(int cases)
{
    static const int32_t kernels[] = {1, 2, 3, 3, 5, 7};
    for (int i = 0; i < cases; i++) {
        const int32_t k = kernels[rng() % 6u];
        const int32_t kw = rng() % 4u ? k : kernels[rng() % 6u];
        const tt_conv_geom_t g = random_geom(12, uniform(1, 20), 0, k, kw, uniform(1, 2));
        tt_conv_geom_t gg = g;
        gg.out_c = g.in_c;
        const int32_t n_out = gg.out_h * gg.out_w * gg.out_c, n_in = gg.in_h * gg.in_w * gg.in_c;
        if (n_out > BUF16 || n_in > BUF16) {
            continue;
        }
        for (int32_t c = 0; c < gg.out_c; c++) {
            mult[c] = rng() % 8u == 0 ? 0 : (int32_t)(0x40000000u | (rng() >> 2));
            shift[c] = -uniform(0, 31);
        }
        const tt_grad_quant_t gq = {mult, shift, (int32_t)(0x40000000u | (rng() >> 2)), uniform(-20, 4)};
        fill_s16(g16, n_out);
        fill_s8(wts, gg.kernel_h * gg.kernel_w * gg.in_c);
        const tt_kernel_ctx_t cd = {scratch_dsp, sizeof scratch_dsp}, cr = {scratch_ref, sizeof scratch_ref};
        int32_t e_dsp = 99, e_ref = 98;
        const int32_t dy_exp = uniform(-20, 0);
        tt_dw_conv2d_bwd_input_s16(&cd, &gg, &gq, g16, dy_exp, wts, gi_dsp, &e_dsp);
        ref_dw_conv2d_bwd_input_s16(&cr, &gg, &gq, g16, dy_exp, wts, gi_ref, &e_ref);
        CHECK(e_dsp == e_ref, "dw_bwd_input case %d: exponent %ld, portable %ld", i, (long)e_dsp, (long)e_ref);
        tt_test_checks++;
        if (memcmp(gi_dsp, gi_ref, (size_t)n_in * 2) != 0) {
            for (int32_t j = 0, shown = 0; j < n_in && shown < 4; j++) {
                if (gi_dsp[j] != gi_ref[j]) {
                    fprintf(stderr, "dw_bwd_input case %d: index %ld: dsp %d, portable %d\n", i, (long)j, gi_dsp[j],
                            gi_ref[j]);
                    shown++;
                }
            }
            print_geom("dw_bwd_input", i, &gg);
            tt_test_failures++;
        }
    }
}

/* The depthwise weight gradient and its fused update on a channel slice: one run of
 * consecutive channels (the published schemes' first n), a random subset in random order (a
 * ranked selection), or an ascending subset with runs of every length; kernels 1..7, strides
 * 1..3, any padding, and maps of more than 256 positions so the int32 sums move to int64 in
 * chunks; dY with a saturated value, zero points across int8. */
static void test_dw_bwd_weight(int cases)
{
    static int8_t slice_dsp[2048], slice_ref[2048]; /* taps * channels <= 49 * 40 */
    static int32_t vel_dsp[2048], vel_ref[2048];
    for (int i = 0; i < cases; i++) {
        const int32_t k = uniform(1, 7);
        const int big = i % 8 == 0;
        const int32_t c = big ? uniform(1, 8) : uniform(1, 40);
        tt_conv_geom_t g = random_geom(big ? 40 : 12, c, c, k, rng() % 4u ? k : uniform(1, 7), rng() % 8u ? uniform(1, 2) : 3);
        const int32_t n_out = g.out_h * g.out_w * c, n_in = g.in_h * g.in_w * c;
        if (n_out > BUF16 || n_in > BUF) {
            continue;
        }
        const uint32_t kind = rng() % 3u;
        int32_t n_ch = 0;
        if (kind == 0) {
            const int32_t first = uniform(0, c - 1);
            n_ch = uniform(1, c - first);
            for (int32_t j = 0; j < n_ch; j++) {
                channels[j] = (int16_t)(first + j);
            }
        } else {
            for (int32_t ch = 0; ch < c; ch++) {
                if (rng() % 4u != 0) {
                    channels[n_ch++] = (int16_t)ch;
                }
            }
            if (n_ch == 0) {
                channels[n_ch++] = (int16_t)uniform(0, c - 1);
            }
            for (int32_t j = n_ch - 1; kind == 2 && j > 0; j--) {
                const int32_t t = uniform(0, j);
                const int16_t v = channels[j];
                channels[j] = channels[t];
                channels[t] = v;
            }
        }
        const int32_t taps = g.kernel_h * g.kernel_w, n_w = taps * n_ch;
        fill_s16(g16, n_out);
        fill_s8(in_a, n_in);
        const int32_t zp = uniform(-128, 127), dy_exp = uniform(-20, 0);
        const tt_bwd_weight_params_t params = {zp, {channels, n_ch}};
        const tt_grad_s16_t dy = {g16, dy_exp};
        int32_t e_dsp = 99, e_ref = 98;
        tt_dw_conv2d_bwd_weight_s16(&g, &params, in_a, &dy, gw_dsp, &e_dsp);
        ref_dw_conv2d_bwd_weight_s16(&g, &params, in_a, &dy, gw_ref, &e_ref);
        CHECK(e_dsp == e_ref, "dw_bwd_weight case %d: exponent %ld, portable %ld", i, (long)e_dsp, (long)e_ref);
        tt_test_checks++;
        if (!report_s32("dw_bwd_weight", i, gw_dsp, gw_ref, n_w)) {
            print_geom("dw_bwd_weight", i, &g);
            tt_test_failures++;
        }
        /* The fused update reads the compact input: the slice's channels of every pixel. */
        const int32_t pixels = g.in_h * g.in_w;
        for (int32_t px = 0; px < pixels; px++) {
            for (int32_t j = 0; j < n_ch; j++) {
                in_b[px * n_ch + j] = in_a[px * c + channels[j]];
            }
        }
        for (int32_t ch = 0; ch < c; ch++) {
            mult[ch] = (int32_t)(0x40000000u | (rng() >> 2));
            shift[ch] = uniform(-24, 24);
        }
        fill_s8(slice_dsp, n_w);
        memcpy(slice_ref, slice_dsp, (size_t)n_w);
        for (int32_t j = 0; j < n_w; j++) {
            vel_dsp[j] = vel_ref[j] = (int32_t)rng() >> uniform(8, 24);
        }
        const tt_qas_t qas = {mult, shift};
        const tt_sgd_t sgd = {(int32_t)(0x40000000u | (rng() >> 2)), -uniform(0, 12), i % 3 ? 0 : uniform(1, 32767),
                              (i % 2) ? (int64_t)1 << 15 : 0};
        tt_rng_t r_dsp = {rng(), rng() % 1000u}, r_ref = r_dsp;
        const int momentum = i % 3 == 0;
        const tt_update_t u_dsp = {&sgd, &qas, &r_dsp, momentum ? vel_dsp : 0};
        const tt_update_t u_ref = {&sgd, &qas, &r_ref, momentum ? vel_ref : 0};
        tt_dw_conv2d_bwd_weight_update_s8(&g, &params, in_b, &dy, &u_dsp, slice_dsp);
        ref_dw_conv2d_bwd_weight_update_s8(&g, &params, in_b, &dy, &u_ref, slice_ref);
        CHECK(r_dsp.counter == r_ref.counter, "dw_bwd_weight_update case %d: PRNG counter %lu, portable %lu", i,
              (unsigned long)r_dsp.counter, (unsigned long)r_ref.counter);
        CHECK(memcmp(vel_dsp, vel_ref, (size_t)n_w * 4) == 0, "dw_bwd_weight_update case %d: velocities differ", i);
        tt_test_checks++;
        if (!report_s8("dw_bwd_weight_update", i, slice_dsp, slice_ref, n_w)) {
            print_geom("dw_bwd_weight_update", i, &g);
            tt_test_failures++;
        }
    }
}

/* The in-place kernel (its DSP path on the Cortex-M7) against the portable out-of-place kernel:
 * dX written over dY in a buffer of exactly dY's size, every stride-1 same-shape geometry up to
 * 7x7 with its padding split any way, channel counts across several of its groups of 32 (whole
 * and short last groups, and fewer channels than a group). */
static void test_dw_bwd_inplace(int cases)
{
    for (int i = 0; i < cases; i++) {
        tt_conv_geom_t g;
        memset(&g, 0, sizeof g);
        g.kernel_h = uniform(1, 7);
        g.kernel_w = rng() % 4u ? g.kernel_h : uniform(1, 7);
        g.in_h = g.out_h = uniform(1, 12);
        g.in_w = g.out_w = uniform(1, 12);
        g.in_c = g.out_c = uniform(1, 80);
        g.stride_h = g.stride_w = 1;
        g.pad_top = uniform(0, g.kernel_h - 1);
        g.pad_bottom = g.kernel_h - 1 - g.pad_top;
        g.pad_left = uniform(0, g.kernel_w - 1);
        g.pad_right = g.kernel_w - 1 - g.pad_left;
        const int32_t n = g.in_h * g.in_w * g.in_c;
        const uint32_t need = tt_dw_conv2d_bwd_input_inplace_s16_scratch_size(&g);
        CHECK(tt_dw_conv2d_bwd_input_inplace_s16_supported(&g), "dw_bwd_inplace case %d: not supported", i);
        if (n > BUF16 || need > sizeof scratch_dsp) {
            continue;
        }
        for (int32_t c = 0; c < g.out_c; c++) {
            mult[c] = rng() % 8u == 0 ? 0 : (int32_t)(0x40000000u | (rng() >> 2));
            shift[c] = -uniform(0, 31);
        }
        const tt_grad_quant_t gq = {mult, shift, (int32_t)(0x40000000u | (rng() >> 2)), uniform(-20, 4)};
        fill_s16(g16, n);
        fill_s8(wts, g.kernel_h * g.kernel_w * g.in_c);
        int16_t *buf = gi_dsp + BUF16 - n; /* exactly dY's bytes at the end of the buffer */
        memcpy(buf, g16, (size_t)n * 2);
        memset(scratch_dsp, 0xA5, need);
        const tt_kernel_ctx_t cd = {scratch_dsp, need}, cr = {scratch_ref, sizeof scratch_ref};
        int32_t e_dsp = 99, e_ref = 98;
        const int32_t dy_exp = uniform(-20, 0);
        tt_dw_conv2d_bwd_input_inplace_s16(&cd, &g, &gq, dy_exp, wts, buf, &e_dsp);
        ref_dw_conv2d_bwd_input_s16(&cr, &g, &gq, g16, dy_exp, wts, gi_ref, &e_ref);
        CHECK(e_dsp == e_ref, "dw_bwd_inplace case %d: exponent %ld, portable %ld", i, (long)e_dsp, (long)e_ref);
        tt_test_checks++;
        if (memcmp(buf, gi_ref, (size_t)n * 2) != 0) {
            for (int32_t j = 0, shown = 0; j < n && shown < 4; j++) {
                if (buf[j] != gi_ref[j]) {
                    fprintf(stderr, "dw_bwd_inplace case %d: index %ld: in place %d, portable %d\n", i, (long)j,
                            buf[j], gi_ref[j]);
                    shown++;
                }
            }
            print_geom("dw_bwd_inplace", i, &g);
            tt_test_failures++;
        }
    }
}

/* A forward kernel written over its input (its DSP path on the Cortex-M7) against the
 * portable out-of-place kernel: the input in a buffer of exactly max(input, output) bytes at
 * the end of out_dsp, the scratch dirty. */
typedef void (*inplace_fn)(const tt_kernel_ctx_t *, const tt_conv_geom_t *, const tt_conv_quant_t *, const int8_t *,
                           const int32_t *, int8_t *);

static void run_inplace(const char *what, int case_no, const tt_conv_geom_t *g, int depthwise, inplace_fn dsp,
                        conv_scratch_fn dsp_scratch, conv_fn ref, conv_scratch_fn ref_scratch)
{
    const int64_t n_in = (int64_t)g->in_h * g->in_w * g->in_c, n_out = (int64_t)g->out_h * g->out_w * g->out_c;
    const int64_t n_w = (int64_t)g->kernel_h * g->kernel_w * (depthwise ? 1 : g->in_c) * g->out_c;
    const int64_t n = n_in > n_out ? n_in : n_out;
    const uint32_t need = dsp_scratch(g), need_ref = ref_scratch(g);
    if (!fits(n) || !fits(n_w) || need > sizeof scratch_dsp || need_ref > sizeof scratch_ref || g->out_c > 1024) {
        return;
    }
    fill_s8(in_a, (int32_t)n_in);
    fill_s8(wts, (int32_t)n_w);
    const int32_t per_out = (int32_t)(n_w / g->out_c);
    const tt_conv_quant_t q = random_quant(g->out_c, per_out * 255 * 128);
    const int32_t *b = rng() % 8u == 0 ? 0 : bias;
    int8_t *buf = out_dsp + BUF - n;
    memcpy(buf, in_a, (size_t)n_in);
    memset(scratch_dsp, 0xA5, need);
    memset(out_ref, 0x3C, (size_t)n_out);
    const tt_kernel_ctx_t cd = {need ? scratch_dsp : 0, need}, cr = {need_ref ? scratch_ref : 0, need_ref};
    dsp(&cd, g, &q, wts, b, buf);
    ref(&cr, g, &q, in_a, wts, b, out_ref);
    tt_test_checks++;
    if (!report_s8(what, case_no, buf, out_ref, (int32_t)n_out)) {
        print_geom(what, case_no, g);
        tt_test_failures++;
    }
}

/* Every supported depthwise geometry: kernels 1..7 (square or not), strides 1..3, any padding
 * below the kernel with the output no larger than the input, channel counts that leave
 * 0..3 channels past the planar path's groups of four, and wide rows of many ring blocks. */
static void test_dw_inplace(int cases)
{
    static const int32_t kernels[] = {1, 2, 3, 3, 3, 5, 5, 7, 7};
    for (int i = 0; i < cases; i++) {
        tt_conv_geom_t g;
        do {
            const int32_t k = kernels[rng() % 9u];
            const int32_t kw = rng() % 8u == 0 ? kernels[rng() % 9u] : k;
            const int wide = i % 16 == 0;
            const int32_t c = wide ? 4 * uniform(1, 2) : rng() % 3u == 0 ? uniform(1, 13) : 4 * uniform(1, 8);
            const int32_t stride = rng() % 8u == 0 ? 3 : uniform(1, 2);
            g = random_geom(wide ? 40 : 14, c, c, k, kw, stride);
        } while (!tt_dw_conv2d_fwd_inplace_s8_supported(&g));
        run_inplace("dw_conv2d_fwd_inplace", i, &g, 1, tt_dw_conv2d_fwd_inplace_s8,
                    tt_dw_conv2d_fwd_inplace_s8_scratch_size, ref_dw_conv2d_fwd_s8, ref_dw_conv2d_fwd_s8_scratch_size);
    }
}

/* Projections (out_c <= in_c) at strides 1 and 2, from out_c == in_c (every pixel through the
 * copy) to out_c << in_c, small tensors and ones of up to 256 pixels. */
static void test_pw_inplace(int cases)
{
    for (int i = 0; i < cases; i++) {
        const int32_t in_c = rng() % 2u ? 8 * uniform(1, 25) : uniform(1, 200);
        const int32_t out_c = rng() % 8u == 0 ? in_c : rng() % 2u ? uniform(1, in_c) : 2 * uniform(1, (in_c + 1) / 2);
        tt_conv_geom_t g = random_geom(i % 4 == 0 ? 16 : 8, in_c, out_c > in_c ? in_c : out_c, 1, 1,
                                       rng() % 4u == 0 ? 2 : 1);
        CHECK(tt_pw_conv2d_fwd_inplace_s8_supported(&g), "pw_conv2d_fwd_inplace case %d: not supported", i);
        run_inplace("pw_conv2d_fwd_inplace", i, &g, 0, tt_pw_conv2d_fwd_inplace_s8,
                    tt_pw_conv2d_fwd_inplace_s8_scratch_size, ref_pw_conv2d_fwd_s8, ref_pw_conv2d_fwd_s8_scratch_size);
    }
}

int main(void)
{
    test_dw(1500);
    test_pw(1000);
    test_conv(300);
    test_conv_overlay(600);
    test_fc(300);
    test_add(1000);
    test_avgpool(500);
    test_add_bwd(500);
    test_mask_bias_bwd(500);
    test_pw_bwd(300);
    test_dw_bwd(500);
    test_dw_bwd_inplace(500);
    test_dw_bwd_weight(400);
    test_dw_inplace(1000);
    test_pw_inplace(1000);
    printf("test_dsp_diff: %d checks, %d failed\n", tt_test_checks, tt_test_failures);
    return tt_test_failures != 0;
}
