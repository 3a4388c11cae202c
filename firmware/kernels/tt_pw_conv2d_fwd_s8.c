#include "tt/kernels/pw_conv2d.h"

#include "tt_dsp.h"
#include "tt_fixedpoint.h"

/*
 * The Cortex-M7 path runs in one of two orders, chosen from the geometry alone (so that the
 * scratch size below, which the host planner reads, is the same on every build):
 *  - weight order (stride 1 and at least as many pixels as output channels): for each pair of
 *    output channels, their weights are widened to int16 (doubled, tt_dsp_requant2()) into
 *    scratch once, then stream past every pair of pixels, read as int8 straight from the input;
 *  - pixel order (otherwise): for each pair of pixels, their inputs are widened (input offset
 *    added, doubled) into scratch once, then every pair of weight rows streams past them.
 * Either way the widening is paid once per pair of whichever dimension is larger.
 */
/* Pixel order widens the two pixels again for every pw_chunk() output channels, so that its
 * table stays small whatever out_c: 512 B (a 4x4x96 -> 384 layer would otherwise need 6 KB),
 * and 128 B for the one-row calls of tt_irb_fwd_s8() (fewer than 16 pixels), whose scratch is
 * part of a fused block's footprint. Widening costs about 3 instructions per input value. */
static int32_t pw_chunk(const tt_conv_geom_t *g) { return g->out_h * g->out_w >= 16 ? 32 : 8; }

static int pw_weight_order(const tt_conv_geom_t *g)
{
    return g->stride_h == 1 && g->stride_w == 1 && g->in_h == g->out_h && g->in_w == g->out_w &&
           g->out_h * g->out_w >= g->out_c;
}

/* Small-in_c order (in_c 24 or 32): both operands widened once, the output channels' weights
 * PW_SMALL_CHUNK at a time for all pixels, each pixel pair for those channels; the loop is
 * then 12 instructions per 16 MACs, which such layers need (their requantization is large next
 * to their dot products). Only for layers with many pixels and channels: not the one-row calls
 * of tt_irb_fwd_s8(), whose scratch counts in a fused block's footprint, and not fewer than 16
 * output channels, over which the pixels' widening would be spread too thin. */
#define PW_SMALL_CHUNK 32

static int pw_small_order(const tt_conv_geom_t *g)
{
    return (g->in_c == 24 || g->in_c == 32) && g->out_h * g->out_w >= 128 && g->out_c >= 16;
}

static int32_t pw_small_chunk(const tt_conv_geom_t *g) { return g->out_c < PW_SMALL_CHUNK ? g->out_c : PW_SMALL_CHUNK; }

uint32_t tt_pw_conv2d_fwd_s8_scratch_size(const tt_conv_geom_t *geom)
{
    if (pw_small_order(geom)) {
        /* Two pixels and a chunk of output channels widened, and the chunk's table. */
        const uint32_t chunk = (uint32_t)pw_small_chunk(geom);
        return 4u * (uint32_t)geom->in_c + 2u * (uint32_t)geom->in_c * chunk + 16u * (chunk + 1u);
    }
    /* Two int16 rows of in_c (either order), and the requantization table: one entry of
     * eight words per pair of output channels in pixel order, for pw_chunk() channels at a
     * time, a single entry in weight order. */
    const uint32_t rows = 2u * (uint32_t)geom->in_c * (uint32_t)sizeof(int16_t);
    const uint32_t channels = (uint32_t)(geom->out_c < pw_chunk(geom) ? geom->out_c : pw_chunk(geom));
    const uint32_t pairs = pw_weight_order(geom) ? 1u : (channels + 1u) / 2u;
    return rows + pairs * 32u;
}

#if TT_DSP
/* The input pixel under output pixel @p p (a strided 1x1 convolution samples the grid). */
static const int8_t *pw_pixel(const tt_conv_geom_t *g, const int8_t *input, int32_t p)
{
    return input + ((p / g->out_w) * g->stride_h * g->in_w + (p % g->out_w) * g->stride_w) * g->in_c;
}

/*
 * The pixel-order fallback for what the assembly below does not cover (in_c not a multiple
 * of 8, an odd out_c, a channel outside tt_dsp_requant2()'s range, a narrow activation
 * range): 2 pixels x 2 output channels blocks (tt_dsp_dot_2x2()), pixels [p_begin, pixels).
 * An odd last pixel or channel is computed as a pair with itself: both results are then the
 * same, so storing both is harmless.
 */
static void pw_fallback(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                        const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output,
                        int32_t p_begin)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c;
    const int32_t pixels = geom->out_h * geom->out_w;
    const int32_t input_offset = -quant->input_zp;
    const tt_dsp_requant_t rq = tt_dsp_requant_params(quant, geom->out_c);
    int16_t *cols = (int16_t *)ctx->buf;

    for (int32_t p0 = p_begin; p0 < pixels; p0 += 2) {
        const int32_t p1 = p0 + 1 < pixels ? p0 + 1 : p0;
        int8_t *out0 = output + p0 * out_c;
        int8_t *out1 = output + p1 * out_c;
        tt_dsp_im2col_pair(pw_pixel(geom, input, p0), pw_pixel(geom, input, p1), in_c, input_offset, cols);
        for (int32_t oc0 = 0; oc0 < out_c; oc0 += 2) {
            const int32_t oc1 = oc0 + 1 < out_c ? oc0 + 1 : oc0;
            int32_t acc[4];
            acc[0] = acc[2] = bias != 0 ? bias[oc0] : 0;
            acc[1] = acc[3] = bias != 0 ? bias[oc1] : 0;
            tt_dsp_dot_2x2(cols, weights + oc0 * in_c, weights + oc1 * in_c, in_c, acc);
            tt_dsp_requant_pair(&rq, oc0, acc[0], acc[2], out0 + oc0, out1 + oc0);
            tt_dsp_requant_pair(&rq, oc1, acc[1], acc[3], out0 + oc1, out1 + oc1);
        }
    }
}

/*
 * The assembly: a 2 x 2 block of dot products per iteration, between stream A (int16 pairs
 * in scratch, four words per four terms: row 0 even/odd, row 1 even/odd, the order
 * tt_dsp_even()/tt_dsp_odd() give) and stream B (two int8 rows, at b and b + d, widened by
 * SXTB16 as they are read): per four terms 2 LDRD, 2 LDR, 4 SXTB16 and 8 SMLAD for 16 MACs.
 * The first 8 or 16 terms are peeled (their first multiplies add the biases, so starting the
 * accumulators costs one LDRD), then 16 terms per loop iteration. The four results are
 * requantized with tt_dsp_requant2() (constants from a table entry) and stored; the job
 * (in memory, its pointer on the stack) says where the next iteration's streams and outputs
 * are. Registers: r0 A, r1 B, r2 d, r3 the end of B's row, r4-r7 the accumulators A0.B0,
 * A0.B1, A1.B0, A1.B1, r8-r11 A's words, r12 and lr B's halves.
 *
 * Weight order: A = the two channels' weights, B = two pixels; the next iteration is the
 * next pixel pair (b += 2 d), same table entry. Pixel order: A = the two pixels, B = two
 * weight rows; the next iteration is the next pair of weight rows, next table entry.
 */
typedef struct {
    const int32_t *a; /* 0 */
    const int8_t *b;  /* 4: row 0 of this iteration's pair; row 1 at b + d */
    int32_t d;        /* 8: in_c */
    int32_t *table;   /* 12: [m0 k0 r0 m1 k1 r1 init0 init1] (channel 0 and 1 of the pair) */
    int8_t *out;      /* 16: output of channel 0, pixel 0 */
    int32_t outc;     /* 20: pixel 1's outputs - pixel 0's (0 for a pixel paired with itself) */
    int8_t *out_end;  /* 24: out after the last iteration */
} pw_job_t;

/* clang-format off */
#define TT_PW_ASM_MACROS                                                                            \
    ".macro tt_pw_step b11, b01, b10, b00\n"                                                        \
    "  ldrd   r8, r9, [r0], #8\n"                                                                   \
    "  ldrd   r10, r11, [r0], #8\n"                                                                 \
    "  ldr    r12, [r1, r2]\n"                                                                      \
    "  sxtb16 lr, r12, ror #8\n"                                                                    \
    "  sxtb16 r12, r12\n"                                                                           \
    "  smlad  r7, r10, r12, \\b11\n"                                                                \
    "  smlad  r5, r8, r12, \\b01\n"                                                                 \
    "  smlad  r7, r11, lr, r7\n"                                                                    \
    "  smlad  r5, r9, lr, r5\n"                                                                     \
    "  ldr    r12, [r1], #4\n"                                                                      \
    "  sxtb16 lr, r12, ror #8\n"                                                                    \
    "  sxtb16 r12, r12\n"                                                                           \
    "  smlad  r6, r10, r12, \\b10\n"                                                                \
    "  smlad  r4, r8, r12, \\b00\n"                                                                 \
    "  smlad  r6, r11, lr, r6\n"                                                                    \
    "  smlad  r4, r9, lr, r4\n"                                                                     \
    ".endm\n"                                                                                       \
    ".macro tt_pw_rq a, addr\n"                                                                     \
    "  add    r11, r9, \\a, asr #31\n"                                                              \
    "  smmlar r11, \\a, r8, r11\n"                                                                  \
    "  asr    r11, r11, r10\n"                                                                      \
    "  ssat   r11, #8, r11\n"                                                                       \
    "  strb   r11, \\addr\n"                                                                        \
    ".endm\n"
#define TT_PW_ASM_PURGE ".purgem tt_pw_step\n.purgem tt_pw_rq\n"
#define TT_PW_STEP "tt_pw_step r7, r5, r6, r4\n"
#define TT_PW_PEEL_8(FIRST) FIRST TT_PW_STEP
#define TT_PW_PEEL_16(FIRST) FIRST TT_PW_STEP TT_PW_STEP TT_PW_STEP
/* ORDER: W (weight order) or P (pixel order); PEEL: 8 or 16 terms (in_c % 16 == 8 or 0). */
#define TT_PW_ASM_W_BIAS "ldrd   r4, r6, [r12, #24]\n"
#define TT_PW_ASM_W_FIRST "tt_pw_step r6, r4, r6, r4\n"
#define TT_PW_ASM_W_RQ                                                                              \
    "tt_pw_rq r4, \"[r0]\"\n"                                                                       \
    "tt_pw_rq r5, \"[r0, r1]\"\n"                                                                   \
    "ldr    r8, [r12, #12]\n"                                                                       \
    "ldrd   r9, r10, [r12, #16]\n"                                                                  \
    "tt_pw_rq r6, \"[r0, #1]\"\n"                                                                   \
    "add    r2, r0, r1\n"                                                                           \
    "tt_pw_rq r7, \"[r2, #1]\"\n"                                                                   \
    "add    r0, r0, r1, lsl #1\n"
#define TT_PW_ASM_P_BIAS "ldrd   r4, r5, [r12, #24]\n"
#define TT_PW_ASM_P_FIRST "tt_pw_step r5, r5, r4, r4\n"
#define TT_PW_ASM_P_RQ                                                                              \
    "tt_pw_rq r4, \"[r0]\"\n"                                                                       \
    "tt_pw_rq r6, \"[r0, r1]\"\n"                                                                   \
    "ldr    r8, [r12, #12]\n"                                                                       \
    "ldrd   r9, r10, [r12, #16]\n"                                                                  \
    "tt_pw_rq r5, \"[r0, #1]\"\n"                                                                   \
    "add    r2, r0, r1\n"                                                                           \
    "tt_pw_rq r7, \"[r2, #1]\"\n"                                                                   \
    "add    r0, r0, #2\n"                                                                           \
    "add    r12, r12, #32\n"                                                                        \
    "str    r12, [lr, #12]\n"
#define TT_PW_ASM_FN(ORDER, PEEL)                                                                   \
    __attribute__((naked, noipa)) static void pw_asm_##ORDER##PEEL(__attribute__((unused)) pw_job_t *job) \
    {                                                                                               \
        __asm__ volatile(TT_PW_ASM_MACROS                                                           \
                         "push   {r4-r11, lr}\n"                                                    \
                         "push   {r0}\n"                                                            \
                         "0:\n"                                                                     \
                         "ldr    lr, [sp]\n"                                                        \
                         "ldm    lr, {r0, r1, r2, r12}\n"                                           \
                         "add    r3, r1, r2\n"                                                      \
                         TT_PW_ASM_##ORDER##_BIAS                                                   \
                         TT_PW_PEEL_##PEEL(TT_PW_ASM_##ORDER##_FIRST)                               \
                         "cmp    r1, r3\n"                                                          \
                         "beq    2f\n"                                                              \
                         "1:\n"                                                                     \
                         TT_PW_STEP TT_PW_STEP TT_PW_STEP TT_PW_STEP                                \
                         "cmp    r1, r3\n"                                                          \
                         "bne    1b\n"                                                              \
                         "2:\n"                                                                     \
                         "ldr    lr, [sp]\n"                                                        \
                         "add    r1, r1, r2\n"                                                      \
                         "str    r1, [lr, #4]\n"                                                    \
                         "ldrd   r0, r1, [lr, #16]\n"                                               \
                         "ldr    r12, [lr, #12]\n"                                                  \
                         "ldm    r12, {r8, r9, r10}\n"                                              \
                         TT_PW_ASM_##ORDER##_RQ                                                     \
                         "str    r0, [lr, #16]\n"                                                   \
                         "ldr    r3, [lr, #24]\n"                                                   \
                         "cmp    r0, r3\n"                                                          \
                         "bne    0b\n"                                                              \
                         "pop    {r0}\n"                                                            \
                         "pop    {r4-r11, pc}\n" TT_PW_ASM_PURGE);                                  \
    }
TT_PW_ASM_FN(W, 8)
TT_PW_ASM_FN(W, 16)
TT_PW_ASM_FN(P, 8)
TT_PW_ASM_FN(P, 16)
/* Small-in_c order: A = the pixel pair, B = the chunk's widened weight pairs (one after the
 * other, so B is never rewound), in_c / 4 steps unrolled, one iteration per channel pair.
 * With both operands widened the registers suffice to keep the job (lr) and the table entry
 * (r12) across the loop: r0 A, r1 B, r2-r3 and r10-r11 B's words, r8-r9 A's. */
#define TT_PW_S_MACROS                                                                              \
    ".macro tt_pw_s_step\n"                                                                         \
    "  ldrd   r8, r9, [r0], #8\n"                                                                   \
    "  ldrd   r10, r11, [r1], #8\n"                                                                 \
    "  ldrd   r2, r3, [r1], #8\n"                                                                   \
    "  smlad  r4, r8, r10, r4\n"                                                                    \
    "  smlad  r4, r9, r11, r4\n"                                                                    \
    "  smlad  r5, r8, r2, r5\n"                                                                     \
    "  smlad  r5, r9, r3, r5\n"                                                                     \
    "  ldrd   r8, r9, [r0], #8\n"                                                                   \
    "  smlad  r6, r8, r10, r6\n"                                                                    \
    "  smlad  r6, r9, r11, r6\n"                                                                    \
    "  smlad  r7, r8, r2, r7\n"                                                                     \
    "  smlad  r7, r9, r3, r7\n"                                                                     \
    ".endm\n"
#define TT_PW_S_STEPS_24 "tt_pw_s_step\ntt_pw_s_step\ntt_pw_s_step\ntt_pw_s_step\ntt_pw_s_step\ntt_pw_s_step\n"
#define TT_PW_S_STEPS_32 TT_PW_S_STEPS_24 "tt_pw_s_step\ntt_pw_s_step\n"
#define TT_PW_S_FN(N)                                                                               \
    __attribute__((naked, noipa)) static void pw_asm_S##N(__attribute__((unused)) pw_job_t *job)   \
    {                                                                                               \
        __asm__ volatile(TT_PW_ASM_MACROS TT_PW_S_MACROS                                            \
                         "push   {r4-r11, lr}\n"                                                    \
                         "mov    lr, r0\n"                                                          \
                         "ldrd   r0, r1, [lr]\n"                                                    \
                         "ldr    r12, [lr, #12]\n"                                                  \
                         "0:\n"                                                                     \
                         "ldrd   r4, r5, [r12, #24]\n"                                              \
                         "ldrd   r6, r7, [r12, #24]\n"                                              \
                         TT_PW_S_STEPS_##N                                                          \
                         "sub    r0, r0, #(4*" #N ")\n"                                             \
                         "ldrd   r2, r3, [lr, #16]\n"                                               \
                         "ldm    r12!, {r8, r9, r10}\n"                                             \
                         "tt_pw_rq r4, \"[r2]\"\n"                                                  \
                         "add    r2, r2, r3\n"                                                      \
                         "tt_pw_rq r6, \"[r2]\"\n"                                                  \
                         "ldm    r12!, {r8, r9, r10}\n"                                             \
                         "add    r12, r12, #8\n"                                                    \
                         "tt_pw_rq r7, \"[r2, #1]\"\n"                                              \
                         "sub    r2, r2, r3\n"                                                      \
                         "tt_pw_rq r5, \"[r2, #1]\"\n"                                              \
                         "add    r2, r2, #2\n"                                                      \
                         "str    r2, [lr, #16]\n"                                                   \
                         "ldr    r3, [lr, #24]\n"                                                   \
                         "cmp    r2, r3\n"                                                          \
                         "bne    0b\n"                                                              \
                         "pop    {r4-r11, pc}\n" TT_PW_ASM_PURGE ".purgem tt_pw_s_step\n");         \
    }
TT_PW_S_FN(24)
TT_PW_S_FN(32)
/* clang-format on */

/* Table entry of channels c0, c1 (init = the accumulators' start, doubled bias). */
static void pw_entry(const tt_conv_quant_t *q, int32_t c0, int32_t c1, int32_t init0, int32_t init1, int32_t *e)
{
    e[0] = q->multiplier[c0];
    e[1] = tt_dsp_requant2_k(q->shift[c0], q->output_zp);
    e[2] = -q->shift[c0];
    e[3] = q->multiplier[c1];
    e[4] = tt_dsp_requant2_k(q->shift[c1], q->output_zp);
    e[5] = -q->shift[c1];
    e[6] = init0;
    e[7] = init1;
}

/* Two pixels' inputs (offset added) doubled, in tt_dsp_im2col_pair()'s layout; n % 4 == 0. */
static void pw_columns(const int8_t *x0, const int8_t *x1, int32_t n, int32_t offset2, int32_t *cols)
{
    for (int32_t i = 0; i < n; i += 4) {
        const int32_t a = tt_dsp_read_s8x4(x0 + i), b = tt_dsp_read_s8x4(x1 + i);
        int32_t v;
        v = tt_dsp_even_add(offset2, a);
        cols[0] = (int32_t)__sadd16((int16x2_t)v, (int16x2_t)v);
        v = tt_dsp_odd_add(offset2, a);
        cols[1] = (int32_t)__sadd16((int16x2_t)v, (int16x2_t)v);
        v = tt_dsp_even_add(offset2, b);
        cols[2] = (int32_t)__sadd16((int16x2_t)v, (int16x2_t)v);
        v = tt_dsp_odd_add(offset2, b);
        cols[3] = (int32_t)__sadd16((int16x2_t)v, (int16x2_t)v);
        cols += 4;
    }
}

/* Two weight rows, doubled when dbl (only one operand of a product may be), the same layout;
 * returns the rows' sums in sums[0], sums[1]. */
static void pw_weight_rows(const int8_t *w0, const int8_t *w1, int32_t n, int dbl, int32_t *cols, int32_t sums[2])
{
    int32_t s0 = 0, s1 = 0;
    const int32_t ones = 0x00010001;
    for (int32_t i = 0; i < n; i += 4) {
        const int32_t a = tt_dsp_read_s8x4(w0 + i), b = tt_dsp_read_s8x4(w1 + i);
        const int32_t ae = tt_dsp_even(a), ao = tt_dsp_odd(a), be = tt_dsp_even(b), bo = tt_dsp_odd(b);
        s0 = tt_dsp_smlad(ae, ones, tt_dsp_smlad(ao, ones, s0));
        s1 = tt_dsp_smlad(be, ones, tt_dsp_smlad(bo, ones, s1));
        cols[0] = dbl ? (int32_t)__sadd16((int16x2_t)ae, (int16x2_t)ae) : ae;
        cols[1] = dbl ? (int32_t)__sadd16((int16x2_t)ao, (int16x2_t)ao) : ao;
        cols[2] = dbl ? (int32_t)__sadd16((int16x2_t)be, (int16x2_t)be) : be;
        cols[3] = dbl ? (int32_t)__sadd16((int16x2_t)bo, (int16x2_t)bo) : bo;
        cols += 4;
    }
    sums[0] = s0;
    sums[1] = s1;
}

void tt_pw_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                         const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c;
    const int32_t pixels = geom->out_h * geom->out_w;
    /* |2 acc| < 2^31 for every input: |x - zp| <= 255, |w| <= 128. */
    const int32_t bias_limit = (1 << 30) - 1 - in_c * 255 * 128;
    int ok = in_c % 8 == 0 && in_c <= 4096 && out_c % 2 == 0 && quant->act_min == -128 && quant->act_max == 127;
    for (int32_t c = 0; ok && c < out_c; c++) {
        const int32_t b = bias != 0 ? bias[c] : 0;
        ok = tt_dsp_requant2_ok(quant->shift[c]) && b >= -bias_limit && b <= bias_limit;
    }
    if (!ok) {
        pw_fallback(ctx, geom, quant, input, weights, bias, output, 0);
        return;
    }
    int32_t *rows = (int32_t *)ctx->buf;
    int32_t *table = rows + in_c; /* after 2 in_c int16 */
    pw_job_t job;
    if (pw_small_order(geom)) {
        const int32_t chunk = pw_small_chunk(geom);
        int32_t *wbuf = rows + in_c, *tab = wbuf + chunk * in_c / 2, sums[2];
        void (*fn)(pw_job_t *) = in_c == 24 ? pw_asm_S24 : pw_asm_S32;
        const int32_t offset2 = tt_dsp_pack_offset(-quant->input_zp);
        for (int32_t oc0 = 0; oc0 < out_c; oc0 += chunk) {
            const int32_t n = out_c - oc0 < chunk ? out_c - oc0 : chunk;
            for (int32_t oc = oc0; oc < oc0 + n; oc += 2) {
                pw_weight_rows(weights + oc * in_c, weights + (oc + 1) * in_c, in_c, 0, wbuf + (oc - oc0) / 2 * in_c,
                               sums);
                pw_entry(quant, oc, oc + 1, bias != 0 ? 2 * bias[oc] : 0, bias != 0 ? 2 * bias[oc + 1] : 0,
                         tab + 4 * (oc - oc0));
            }
            for (int32_t p0 = 0; p0 < pixels; p0 += 2) {
                const int32_t p1 = p0 + 1 < pixels ? p0 + 1 : p0;
                pw_columns(pw_pixel(geom, input, p0), pw_pixel(geom, input, p1), in_c, offset2, rows);
                job.a = rows;
                job.b = (const int8_t *)wbuf;
                job.table = tab;
                job.out = output + p0 * out_c + oc0;
                job.outc = (p1 - p0) * out_c;
                job.out_end = job.out + n;
                fn(&job);
            }
        }
        return;
    }
    if (pw_weight_order(geom)) {
        const int32_t pairs = pixels / 2;
        void (*fn)(pw_job_t *) = in_c % 16 == 0 ? pw_asm_W16 : pw_asm_W8;
        for (int32_t oc = 0; oc < out_c && pairs > 0; oc += 2) {
            int32_t sums[2];
            pw_weight_rows(weights + oc * in_c, weights + (oc + 1) * in_c, in_c, 1, rows, sums);
            /* The input offset, folded into the start: sum (x - zp) w = sum x w - zp sum w. */
            const int32_t b0 = bias != 0 ? bias[oc] : 0, b1 = bias != 0 ? bias[oc + 1] : 0;
            pw_entry(quant, oc, oc + 1, (int32_t)(2u * (uint32_t)(b0 - quant->input_zp * sums[0])),
                     (int32_t)(2u * (uint32_t)(b1 - quant->input_zp * sums[1])), table);
            job.a = rows;
            job.b = input;
            job.d = in_c;
            job.table = table;
            job.out = output + oc;
            job.outc = out_c;
            job.out_end = output + oc + 2 * pairs * out_c;
            fn(&job);
        }
        if (pixels % 2 != 0) {
            pw_fallback(ctx, geom, quant, input, weights, bias, output, pixels - 1);
        }
        return;
    }
    const int32_t offset2 = tt_dsp_pack_offset(-quant->input_zp);
    void (*fn)(pw_job_t *) = in_c % 16 == 0 ? pw_asm_P16 : pw_asm_P8;
    const int32_t chunk = pw_chunk(geom);
    for (int32_t oc0 = 0; oc0 < out_c; oc0 += chunk) {
        const int32_t n = out_c - oc0 < chunk ? out_c - oc0 : chunk;
        for (int32_t oc = oc0; oc < oc0 + n; oc += 2) {
            pw_entry(quant, oc, oc + 1, bias != 0 ? 2 * bias[oc] : 0, bias != 0 ? 2 * bias[oc + 1] : 0,
                     table + 4 * (oc - oc0));
        }
        for (int32_t p0 = 0; p0 < pixels; p0 += 2) {
            const int32_t p1 = p0 + 1 < pixels ? p0 + 1 : p0;
            pw_columns(pw_pixel(geom, input, p0), pw_pixel(geom, input, p1), in_c, offset2, rows);
            job.a = rows;
            job.b = weights + oc0 * in_c;
            job.d = in_c;
            job.table = table;
            job.out = output + p0 * out_c + oc0;
            job.outc = (p1 - p0) * out_c;
            job.out_end = job.out + n;
            fn(&job);
        }
    }
}
#else
void tt_pw_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                         const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    (void)ctx;
    const int32_t in_c = geom->in_c, out_c = geom->out_c;
    const int32_t input_offset = -quant->input_zp;

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const int8_t *in = input + (oy * geom->stride_h * geom->in_w + ox * geom->stride_w) * in_c;
            int8_t *out = output + (oy * geom->out_w + ox) * out_c;
            for (int32_t oc = 0; oc < out_c; oc++) {
                const int8_t *w = weights + oc * in_c;
                int32_t acc = bias != 0 ? bias[oc] : 0;
                for (int32_t ic = 0; ic < in_c; ic++) {
                    acc += ((int32_t)in[ic] + input_offset) * (int32_t)w[ic];
                }
                acc = tt_requantize(acc, quant->multiplier[oc], quant->shift[oc]) + quant->output_zp;
                out[oc] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
            }
        }
    }
}
#endif
