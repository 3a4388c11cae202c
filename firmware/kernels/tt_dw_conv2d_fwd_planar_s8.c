/* The Cortex-M7 planar path of tt_dw_conv2d_fwd_s8() (tt_dw_fwd.h), and the scratch size it
 * sets for every build: the geometry is computed here on the host too, so the planner reserves
 * what the board uses. */
#include "tt/kernels/dw_conv2d.h"

#include <string.h>

#include "tt_dsp.h"
#include "tt_dw_fwd.h"
#include "tt_fixedpoint.h"

/*
 * The Cortex-M7 path for square 3x3 / 5x5 / 7x7 kernels, depth multiplier 1, horizontal
 * stride 1 or 2 ("planar"), works on four channels at a time through a ring of int16 rows in
 * scratch. Its geometry is computed here on every build, so that the host planner, reading
 * tt_dw_conv2d_fwd_s8_scratch_size() through the host library, reserves what the board uses.
 *
 * Ring layout: the padded input rows under the current window, kernel_h "slots" (padded row R
 * lives in slot R % kernel_h), each row cut into blocks of four columns. A block holds, slot
 * after slot, for each of the four channels, two words of int16 pairs (columns 4b, 4b+1) and
 * (4b+2, 4b+3): [block][slot][channel][2 words], 32 bytes per slot and block. So every word
 * one output iteration reads is at a constant offset from one pointer (the offsets are
 * immediates of the loads), and the copy writes a block of one row for all four channels
 * with four doubleword stores.
 */
typedef struct {
    int32_t half;   /* kernel = 2 half + 1 */
    int32_t blocks; /* 4-column blocks per ring row */
    int32_t wwords; /* weight words per kernel row (see dw_planar_weights()) */
} dw_planar_t;

static int dw_planar_plan(const tt_conv_geom_t *g, dw_planar_t *p)
{
    const int32_t k = g->kernel_w;
    if (g->out_c != g->in_c || g->in_c < 4 || g->kernel_h != k || (k != 3 && k != 5 && k != 7) ||
        (g->stride_w != 1 && g->stride_w != 2)) {
        return 0;
    }
    /* Outputs are computed four at a time; the last iteration of a row may run past out_w
     * (its extra outputs are not stored), so the ring holds the columns it reads. */
    const int32_t iters = (g->out_w + 3) / 4;
    p->half = (k - 1) / 2;
    p->blocks = (4 * g->stride_w * iters + 2 * p->half + 3) / 4;
    p->wwords = g->stride_w == 1 ? 2 * p->half : p->half + 1;
    return 1;
}

static uint32_t dw_ring_bytes(const dw_planar_t *p, int32_t kh) { return (uint32_t)(p->blocks * kh) * 32u; }

/* Four channels' weight tables: each 2 * kh kernel rows (rows 0..kh-1 twice, so a rotated
 * window of kh rows is contiguous) of wwords words; kh rows when there is one output row (the
 * row-streamed calls of tt_irb_fwd_s8()), whose window is never rotated. */
static int32_t dw_table_rows(const tt_conv_geom_t *g) { return g->out_h > 1 ? 2 * g->kernel_h : g->kernel_h; }

static uint32_t dw_table_bytes(const dw_planar_t *p, const tt_conv_geom_t *g)
{
    return (uint32_t)(4 * dw_table_rows(g) * p->wwords) * 4u;
}

uint32_t tt_dw_conv2d_fwd_s8_scratch_size(const tt_conv_geom_t *geom)
{
    dw_planar_t p;
    if (!dw_planar_plan(geom, &p)) {
        return 0;
    }
    return dw_ring_bytes(&p, geom->kernel_h) + dw_table_bytes(&p, geom);
}

#if TT_DSP
/*
 * Planar path, per output row and channel: the row's outputs four at a time from the ring.
 * Pairing two horizontal taps in one SMLAD needs the two input values of one channel in one
 * word, which NHWC never has (there a word holds four channels) and the ring does. With
 * words W_j = (column 2j, 2j+1) and a kernel row w_0 .. w_2h (weights doubled, see
 * tt_dsp_requant2()), A_i = (w_2i, w_2i+1) and B_i = (w_2i+1, w_2i+2):
 *   stride 1, outputs x..x+3 (x = 4 * iteration, relative word 0):
 *     out0 = sum_i W_i A_i       + W_h.lo w_2h      (SMLABT with B_h-1's top half)
 *     out1 = W_0.hi w_0          + sum_i W_1+i B_i  (SMLATB with A_0's bottom half)
 *     out2 = sum_i W_1+i A_i     + W_h+1.lo w_2h
 *     out3 = W_1.hi w_0          + sum_i W_2+i B_i
 *   stride 2, outputs x..x+3 (relative word 0 = column 8 * iteration):
 *     out_j = sum_i W_j+i A_i    + W_j+h.lo w_2h    (SMLABB with C = (w_2h, 0))
 * That is 2 (h + 1) multiply instructions per kernel row and output pair where the NHWC loop
 * needs 2h + 1 single MACs per output, the words are loaded once for four outputs, and the
 * weights of a row are two to four words loaded by LDRD.
 */
typedef struct {
    int32_t multiplier, k, right, bias2; /* tt_dsp_requant2() constants; bias2 = 2 * bias, or 0 (slow) */
    int32_t fast;                        /* tt_dsp_requant2() applies: shift in range, |acc| < 2^30, int8 clamp */
    int32_t bias, shift, zp, act_min, act_max;
} dw_chan_t;

static inline int32_t dw_word(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The four accumulators of one iteration (see above); blk points at slot 0 of the iteration's
 * first block, offset to the channel. */
__attribute__((always_inline)) static inline void dw_iteration(const int32_t k, const int32_t s, const uint8_t *blk,
                                                               const int32_t *wt, int32_t init, int32_t acc[4])
{
    const int32_t h = (k - 1) / 2, kb = k * 32, ww = s == 1 ? 2 * h : h + 1, nw = s == 1 ? h + 2 : h + 4;
    int32_t a0 = init, a1 = init, a2 = init, a3 = init;
#pragma GCC unroll 8
    for (int32_t slot = 0; slot < k; slot++) {
        const uint8_t *r = blk + slot * 32;
        const int32_t *w = wt + slot * ww;
        int32_t W[8];
#pragma GCC unroll 8
        for (int32_t j = 0; j < nw; j++) {
            W[j] = dw_word(r + (j >> 1) * kb + (j & 1) * 4);
        }
        if (s == 1) {
#pragma GCC unroll 4
            for (int32_t i = 0; i < h; i++) {
                a0 = tt_dsp_smlad(W[i], w[2 * i], a0);
                a1 = tt_dsp_smlad(W[1 + i], w[2 * i + 1], a1);
                a2 = tt_dsp_smlad(W[1 + i], w[2 * i], a2);
                a3 = tt_dsp_smlad(W[2 + i], w[2 * i + 1], a3);
            }
            a0 = (int32_t)__smlabt(W[h], w[2 * h - 1], a0);
            a1 = (int32_t)__smlatb(W[0], w[0], a1);
            a2 = (int32_t)__smlabt(W[h + 1], w[2 * h - 1], a2);
            a3 = (int32_t)__smlatb(W[1], w[0], a3);
        } else {
#pragma GCC unroll 4
            for (int32_t i = 0; i < h; i++) {
                a0 = tt_dsp_smlad(W[i], w[i], a0);
                a1 = tt_dsp_smlad(W[1 + i], w[i], a1);
                a2 = tt_dsp_smlad(W[2 + i], w[i], a2);
                a3 = tt_dsp_smlad(W[3 + i], w[i], a3);
            }
            a0 = (int32_t)__smlabb(W[h], w[h], a0);
            a1 = (int32_t)__smlabb(W[h + 1], w[h], a1);
            a2 = (int32_t)__smlabb(W[h + 2], w[h], a2);
            a3 = (int32_t)__smlabb(W[h + 3], w[h], a3);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* The general requantization, for a channel tt_dsp_requant2() does not cover. */
__attribute__((noinline)) static int8_t dw_requant_slow(const dw_chan_t *q, int32_t acc2)
{
    const int32_t acc = (int32_t)((uint32_t)(acc2 >> 1) + (uint32_t)q->bias);
    return tt_clamp_s8(tt_requantize_fast(acc, q->multiplier, q->shift) + q->zp, q->act_min, q->act_max);
}

/*
 * The full iterations of a row in assembly: GCC keeps too few of the operands below in
 * registers (it spilled the loop count, the output stride and the requantization constants
 * and reloaded them every iteration, 23 instructions per 3x3 output instead of 15). Registers:
 * r0 the job, r1 the ring block, r2 the weight rows, r3 the output, r4-r7 the accumulators,
 * r8-r12 ring words and weights, lr the iteration count. Per iteration and kernel row, stride 1
 * loads h + 2 words (LDRD, then LDR) and h weight pairs (LDRD) for 4 (h + 1) multiplies;
 * stride 2 loads h + 4 words and h + 1 weights for the same. The requantization is
 * tt_dsp_requant2() (ADD, SMMLAR, ASR, SSAT) and a byte store per output.
 */
typedef struct {
    const uint8_t *blk; /* 0: slot 0 of the row's first block, offset to the channel */
    const int32_t *wt;  /* 4: the rotated weight rows */
    int8_t *out;        /* 8 */
    int32_t iters;      /* 12: >= 1; a job with 0 ends the list */
    int32_t init[2];    /* 16, 20: 2 * bias, twice (one LDRD per accumulator pair) */
    int32_t multiplier; /* 24 */
    int32_t k;          /* 28 */
    int32_t right;      /* 32 */
    int32_t c;          /* 36: output stride (channels) */
} dw_job_t;

/* clang-format off */
#define TT_DW_ASM_MACROS                                                                             \
    ".macro tt_dw_s1_slot s, k, h\n"                                                                 \
    ".if \\s == 0\n"                                                                                 \
    "  ldrd   r8, r9, [r1], #(32*\\k)\n"                                                                        \
    "  ldrd   r11, r12, [r2]\n"                                                                      \
    "  ldr    r10, [r0, #16]\n"                                                                      \
    "  smlad  r4, r8, r11, r10\n"                                                                    \
    "  smlatb r5, r8, r11, r10\n"                                                                    \
    "  smlad  r6, r9, r11, r10\n"                                                                    \
    "  smlatb r7, r9, r11, r10\n"                                                                    \
    ".else\n"                                                                                        \
    "  ldrd   r8, r9, [r1, #(32*\\s - 32*\\k)]\n"                                                  \
    "  ldrd   r11, r12, [r2, #(8*\\h*\\s)]\n"                                                        \
    "  smlad  r4, r8, r11, r4\n"                                                                     \
    "  smlatb r5, r8, r11, r5\n"                                                                     \
    "  smlad  r6, r9, r11, r6\n"                                                                     \
    "  smlatb r7, r9, r11, r7\n"                                                                     \
    ".endif\n"                                                                                       \
    "  ldr    r10, [r1, #(32*\\s)]\n"                                                       \
    "  smlad  r5, r9, r12, r5\n"                                                                     \
    "  smlad  r7, r10, r12, r7\n"                                                                    \
    ".if \\h == 1\n"                                                                                 \
    "  smlabt r4, r9, r12, r4\n"                                                                     \
    "  smlabt r6, r10, r12, r6\n"                                                                    \
    ".else\n"                                                                                        \
    "  ldr    r8, [r1, #(32*\\s + 4)]\n"                                                    \
    "  ldrd   r11, r12, [r2, #(8*\\h*\\s + 8)]\n"                                                    \
    "  smlad  r4, r9, r11, r4\n"                                                                     \
    "  smlad  r6, r10, r11, r6\n"                                                                    \
    "  smlad  r5, r10, r12, r5\n"                                                                    \
    "  smlad  r7, r8, r12, r7\n"                                                                     \
    ".if \\h == 2\n"                                                                                 \
    "  smlabt r4, r10, r12, r4\n"                                                                    \
    "  smlabt r6, r8, r12, r6\n"                                                                     \
    ".else\n"                                                                                        \
    "  ldr    r9, [r1, #(32*\\k + 32*\\s)]\n"                                                        \
    "  ldrd   r11, r12, [r2, #(8*\\h*\\s + 16)]\n"                                                   \
    "  smlad  r4, r10, r11, r4\n"                                                                    \
    "  smlad  r6, r8, r11, r6\n"                                                                     \
    "  smlad  r5, r8, r12, r5\n"                                                                     \
    "  smlad  r7, r9, r12, r7\n"                                                                     \
    "  smlabt r4, r8, r12, r4\n"                                                                     \
    "  smlabt r6, r9, r12, r6\n"                                                                     \
    ".endif\n"                                                                                       \
    ".endif\n"                                                                                       \
    ".endm\n"                                                                                        \
    ".macro tt_dw_s2_slot s, k, h\n"                                                                 \
    ".if \\s == 0\n"                                                                                 \
    "  ldrd   r8, r9, [r1], #(64*\\k)\n"                                                             \
    ".else\n"                                                                                        \
    "  ldrd   r8, r9, [r1, #(32*\\s - 64*\\k)]\n"                                                  \
    ".endif\n"                                                                                       \
    "  ldrd   r10, r12, [r1, #(32*\\s - 32*\\k)]\n"                                                  \
    "  ldr    r11, [r2, #(4*(\\h+1)*\\s)]\n"                                                         \
    "  smlad  r4, r8, r11, r4\n"                                                                     \
    "  smlad  r5, r9, r11, r5\n"                                                                     \
    "  smlad  r6, r10, r11, r6\n"                                                                    \
    "  smlad  r7, r12, r11, r7\n"                                                                    \
    "  ldr    r8, [r1, #(32*\\s)]\n"                                                        \
    "  ldr    r11, [r2, #(4*(\\h+1)*\\s + 4)]\n"                                                     \
    ".if \\h == 1\n"                                                                                 \
    "  smlabb r4, r9, r11, r4\n"                                                                     \
    "  smlabb r5, r10, r11, r5\n"                                                                    \
    "  smlabb r6, r12, r11, r6\n"                                                                    \
    "  smlabb r7, r8, r11, r7\n"                                                                     \
    ".else\n"                                                                                        \
    "  smlad  r4, r9, r11, r4\n"                                                                     \
    "  smlad  r5, r10, r11, r5\n"                                                                    \
    "  smlad  r6, r12, r11, r6\n"                                                                    \
    "  smlad  r7, r8, r11, r7\n"                                                                     \
    "  ldr    r9, [r1, #(32*\\s + 4)]\n"                                                    \
    "  ldr    r11, [r2, #(4*(\\h+1)*\\s + 8)]\n"                                                     \
    ".if \\h == 2\n"                                                                                 \
    "  smlabb r4, r10, r11, r4\n"                                                                    \
    "  smlabb r5, r12, r11, r5\n"                                                                    \
    "  smlabb r6, r8, r11, r6\n"                                                                     \
    "  smlabb r7, r9, r11, r7\n"                                                                     \
    ".else\n"                                                                                        \
    "  smlad  r4, r10, r11, r4\n"                                                                    \
    "  smlad  r5, r12, r11, r5\n"                                                                    \
    "  smlad  r6, r8, r11, r6\n"                                                                     \
    "  smlad  r7, r9, r11, r7\n"                                                                     \
    "  ldr    r10, [r1, #(32*\\k + 32*\\s)]\n"                                                       \
    "  ldr    r11, [r2, #(4*(\\h+1)*\\s + 12)]\n"                                                    \
    "  smlabb r4, r12, r11, r4\n"                                                                    \
    "  smlabb r5, r8, r11, r5\n"                                                                     \
    "  smlabb r6, r9, r11, r6\n"                                                                     \
    "  smlabb r7, r10, r11, r7\n"                                                                    \
    ".endif\n"                                                                                       \
    ".endif\n"                                                                                       \
    ".endm\n"                                                                                        \
    ".macro tt_dw_requant_one a, addr\n"                                                             \
    "  add    r12, r9, \\a, asr #31\n"                                                               \
    "  smmlar r12, \\a, r8, r12\n"                                                                   \
    "  asr    r12, r12, r10\n"                                                                       \
    "  ssat   r12, #8, r12\n"                                                                        \
    "  strb   r12, \\addr\n"                                                                         \
    ".endm\n"                                                                                        \
    ".macro tt_dw_requant\n"                                                                         \
    "  ldrd   r8, r9, [r0, #24]\n"                                                                   \
    "  ldrd   r10, r11, [r0, #32]\n"                                                                 \
    "  tt_dw_requant_one r4, [r3]\n"                                                                 \
    "  tt_dw_requant_one r5, \"[r3, r11]\"\n"                                                            \
    "  add    r3, r3, r11, lsl #1\n"                                                                 \
    "  tt_dw_requant_one r6, [r3]\n"                                                                 \
    "  tt_dw_requant_one r7, \"[r3, r11]\"\n"                                                            \
    "  add    r3, r3, r11, lsl #1\n"                                                                 \
    ".endm\n"
#define TT_DW_ASM_PURGE                                                                              \
    ".purgem tt_dw_s1_slot\n.purgem tt_dw_s2_slot\n.purgem tt_dw_requant_one\n.purgem tt_dw_requant\n"

#define TT_DW_ASM_S1_SLOTS_3 "tt_dw_s1_slot 0, 3, 1\ntt_dw_s1_slot 1, 3, 1\ntt_dw_s1_slot 2, 3, 1\n"
#define TT_DW_ASM_S1_SLOTS_5 "tt_dw_s1_slot 0, 5, 2\ntt_dw_s1_slot 1, 5, 2\ntt_dw_s1_slot 2, 5, 2\n" \
                             "tt_dw_s1_slot 3, 5, 2\ntt_dw_s1_slot 4, 5, 2\n"
#define TT_DW_ASM_S1_SLOTS_7 "tt_dw_s1_slot 0, 7, 3\ntt_dw_s1_slot 1, 7, 3\ntt_dw_s1_slot 2, 7, 3\n" \
                             "tt_dw_s1_slot 3, 7, 3\ntt_dw_s1_slot 4, 7, 3\ntt_dw_s1_slot 5, 7, 3\n"   \
                             "tt_dw_s1_slot 6, 7, 3\n"
#define TT_DW_ASM_S2_SLOTS_3 "tt_dw_s2_slot 0, 3, 1\ntt_dw_s2_slot 1, 3, 1\ntt_dw_s2_slot 2, 3, 1\n"
#define TT_DW_ASM_S2_SLOTS_5 "tt_dw_s2_slot 0, 5, 2\ntt_dw_s2_slot 1, 5, 2\ntt_dw_s2_slot 2, 5, 2\n" \
                             "tt_dw_s2_slot 3, 5, 2\ntt_dw_s2_slot 4, 5, 2\n"
#define TT_DW_ASM_S2_SLOTS_7 "tt_dw_s2_slot 0, 7, 3\ntt_dw_s2_slot 1, 7, 3\ntt_dw_s2_slot 2, 7, 3\n" \
                             "tt_dw_s2_slot 3, 7, 3\ntt_dw_s2_slot 4, 7, 3\ntt_dw_s2_slot 5, 7, 3\n"   \
                             "tt_dw_s2_slot 6, 7, 3\n"
/* Each function runs a list of jobs (one output row of one channel each), ended by a job with
 * no iterations. Stride 2 starts the accumulators at 2 * bias with two LDRD (its first slot
 * has no free register for the bias); stride 1's first slot adds it in its first multiplies. */
#define TT_DW_ASM_FN(K, S, INIT)                                                                     \
    __attribute__((naked, noipa)) static void dw_asm_k##K##s##S(__attribute__((unused)) const dw_job_t *job)           \
    {                                                                                                \
        __asm__ volatile(TT_DW_ASM_MACROS                                                            \
                         "push   {r4-r11, lr}\n"                                                     \
                         "0:\n"                                                                      \
                         "ldrd   r3, lr, [r0, #8]\n"                                                 \
                         "cmp    lr, #0\n"                                                           \
                         "beq    9f\n"                                                               \
                         "ldrd   r1, r2, [r0]\n"                                                     \
                         "1:\n" INIT TT_DW_ASM_S##S##_SLOTS_##K                                      \
                         "tt_dw_requant\n"                                                           \
                         "subs   lr, lr, #1\n"                                                       \
                         "bne    1b\n"                                                               \
                         "add    r0, r0, #40\n"                                                      \
                         "b      0b\n"                                                               \
                         "9:\n"                                                                      \
                         "pop    {r4-r11, pc}\n" TT_DW_ASM_PURGE);                                   \
    }
#define TT_DW_INIT_S2 "ldrd r4, r5, [r0, #16]\nldrd r6, r7, [r0, #16]\n"
TT_DW_ASM_FN(3, 1, "")
TT_DW_ASM_FN(5, 1, "")
TT_DW_ASM_FN(7, 1, "")
TT_DW_ASM_FN(3, 2, TT_DW_INIT_S2)
TT_DW_ASM_FN(5, 2, TT_DW_INIT_S2)
TT_DW_ASM_FN(7, 2, TT_DW_INIT_S2)
/* clang-format on */

typedef void (*dw_asm_fn)(const dw_job_t *);

static dw_asm_fn dw_asm_for(int32_t k, int32_t s)
{
    if (k == 3) {
        return s == 1 ? dw_asm_k3s1 : dw_asm_k3s2;
    }
    if (k == 5) {
        return s == 1 ? dw_asm_k5s1 : dw_asm_k5s2;
    }
    return s == 1 ? dw_asm_k7s1 : dw_asm_k7s2;
}

/* The iterations of one output row of one channel that dw_asm_*() does not run: a partial
 * last iteration, or every iteration of a channel tt_dsp_requant2() does not cover. */
static void dw_planar_tail(int32_t k, int32_t s, const uint8_t *blk, const int32_t *wt, const dw_chan_t *q,
                           int32_t x, int32_t out_w, int32_t c, int8_t *out)
{
    const int32_t step = s * k * 32;
    blk += (x / 4) * step;
    out += x * c;
    for (; x < out_w; x += 4) {
        int32_t acc[4];
        switch (k * 4 + s) {
        case 13: dw_iteration(3, 1, blk, wt, q->bias2, acc); break;
        case 14: dw_iteration(3, 2, blk, wt, q->bias2, acc); break;
        case 21: dw_iteration(5, 1, blk, wt, q->bias2, acc); break;
        case 22: dw_iteration(5, 2, blk, wt, q->bias2, acc); break;
        case 29: dw_iteration(7, 1, blk, wt, q->bias2, acc); break;
        default: dw_iteration(7, 2, blk, wt, q->bias2, acc); break;
        }
        for (int32_t j = 0; j < 4 && x + j < out_w; j++) {
            out[j * c] = q->fast ? (int8_t)tt_dsp_requant2(acc[j], q->multiplier, q->k, q->right)
                                 : dw_requant_slow(q, acc[j]);
        }
        blk += step;
        out += 4 * c;
    }
}

/* Four channels of input pixels a (four bytes, channels 0..3) and b, as the four channels'
 * int16 pairs (a_c + offset, b_c + offset): PKHBT / PKHTB regroup the bytes (a0 a1 b0 b1),
 * (a2 a3 b2 b3), and SXTAB16 (plain and ROR #8) widens them with the offset added. */
__attribute__((always_inline)) static inline void dw_transpose(int32_t a, int32_t b, int32_t offset2, int32_t v[4])
{
    const int32_t lo = tt_dsp_pack_lo(a, b), hi = tt_dsp_pack_hi(a, b);
    v[0] = tt_dsp_even_add(offset2, lo);
    v[1] = tt_dsp_odd_add(offset2, lo);
    v[2] = tt_dsp_even_add(offset2, hi);
    v[3] = tt_dsp_odd_add(offset2, hi);
}

/* The four channels' words of one column pair into a block (channel c at + 8c). */
static inline void dw_store_pair(uint8_t *d, int32_t a, int32_t b, int32_t offset2)
{
    int32_t v[4];
    dw_transpose(a, b, offset2, v);
    memcpy(d, &v[0], 4);
    memcpy(d + 8, &v[1], 4);
    memcpy(d + 16, &v[2], 4);
    memcpy(d + 24, &v[3], 4);
}

/* One pixel (four channels, a) into half `half` (0: low, 1: high) of the words at d. */
static inline void dw_store_single(uint8_t *d, int32_t half, int32_t a, int32_t offset2)
{
    const int32_t e = tt_dsp_even_add(offset2, a), o = tt_dsp_odd_add(offset2, a);
    const int16_t v[4] = {(int16_t)e, (int16_t)o, (int16_t)(e >> 16), (int16_t)(o >> 16)};
    d += half * 2;
    memcpy(d, &v[0], 2);
    memcpy(d + 8, &v[1], 2);
    memcpy(d + 16, &v[2], 2);
    memcpy(d + 24, &v[3], 2);
}

/*
 * Whole blocks of a ring row: four pixels of four channels per iteration (dw_transpose()
 * twice, 24 instructions for 16 values), in assembly so that both words of a channel are
 * stored by one STRD. Registers: r0 the block, r1 the pixels, r2 c, r3 the packed offset,
 * r4 the count, r5 the block stride, r12 3c, lr 4c.
 */
typedef struct {
    uint8_t *d;       /* 0: the slot in the first block */
    const int8_t *p;  /* 4: the first pixel's four channels */
    int32_t c;        /* 8: pixel stride */
    int32_t offset2;  /* 12: tt_dsp_pack_offset() */
    int32_t blocks;   /* 16: >= 1 */
    int32_t kb;       /* 20: block stride */
} dw_copy_t;

__attribute__((naked, noipa)) static void dw_copy_blocks(__attribute__((unused)) const dw_copy_t *job)
{
    __asm__ volatile("push    {r4-r11, lr}\n"
                     "ldm     r0, {r0-r5}\n"
                     "add     r12, r2, r2, lsl #1\n"
                     "lsl     lr, r2, #2\n"
                     "1:\n"
                     "ldr     r6, [r1]\n"
                     "ldr     r7, [r1, r2]\n"
                     "ldr     r8, [r1, r2, lsl #1]\n"
                     "ldr     r9, [r1, r12]\n"
                     "add     r1, r1, lr\n"
                     "pkhbt   r10, r6, r7, lsl #16\n"
                     "pkhtb   r7, r7, r6, asr #16\n"
                     "pkhbt   r11, r8, r9, lsl #16\n"
                     "pkhtb   r9, r9, r8, asr #16\n"
                     "sxtab16 r6, r3, r10\n"
                     "sxtab16 r8, r3, r11\n"
                     "strd    r6, r8, [r0]\n"
                     "sxtab16 r6, r3, r10, ror #8\n"
                     "sxtab16 r8, r3, r11, ror #8\n"
                     "strd    r6, r8, [r0, #8]\n"
                     "sxtab16 r6, r3, r7\n"
                     "sxtab16 r8, r3, r9\n"
                     "strd    r6, r8, [r0, #16]\n"
                     "sxtab16 r6, r3, r7, ror #8\n"
                     "sxtab16 r8, r3, r9, ror #8\n"
                     "strd    r6, r8, [r0, #24]\n"
                     "add     r0, r0, r5\n"
                     "subs    r4, r4, #1\n"
                     "bne     1b\n"
                     "pop     {r4-r11, pc}\n");
}

/*
 * One input row (four channels from src, channel stride c) into a ring slot (slot points at
 * the slot in block 0). Only the input's columns are written: padding columns stay as zeroed
 * at the start of the call (their value after the offset is 0), so a block straddling the
 * border gets a single pixel written into the half of its word that is not padding.
 */
static void dw_copy_row(uint8_t *slot, int32_t kb, const int8_t *src, int32_t c, int32_t in_w, int32_t pad_left,
                        int32_t offset)
{
    const int32_t offset2 = tt_dsp_pack_offset(offset);
    int32_t X = pad_left, x = 0;
    if (X & 1) {
        dw_store_single(slot + (X >> 2) * kb + ((X >> 1) & 1) * 4, 1, tt_dsp_read_s8x4(src), offset2);
        x++;
        X++;
    }
    if ((X & 2) && x + 2 <= in_w) {
        dw_store_pair(slot + (X >> 2) * kb + 4, tt_dsp_read_s8x4(src + x * c), tt_dsp_read_s8x4(src + (x + 1) * c),
                      offset2);
        x += 2;
        X += 2;
    }
    const int8_t *p = src + x * c;
    const int32_t blocks = (in_w - x) / 4;
    if (blocks > 0) {
        const dw_copy_t job = {slot + (X >> 2) * kb, p, c, offset2, blocks, kb};
        dw_copy_blocks(&job);
        x += 4 * blocks;
        p += 4 * blocks * c;
    }
    X = pad_left + x; /* even */
    if (x + 2 <= in_w) {
        dw_store_pair(slot + (X >> 2) * kb + ((X >> 1) & 1) * 4, tt_dsp_read_s8x4(p), tt_dsp_read_s8x4(p + c), offset2);
        x += 2;
        X += 2;
        p += 2 * c;
    }
    if (x < in_w) {
        dw_store_single(slot + (X >> 2) * kb + ((X >> 1) & 1) * 4, 0, tt_dsp_read_s8x4(p), offset2);
    }
}

/*
 * Weight tables of channels ch..ch+3, each dw_table_rows() rows (row t is kernel row t % kh)
 * of ww words, weights doubled (tt_dsp_requant2()). Stride 1: word i of a row is the pair (w_i, w_i+1),
 * i < 2h, so A_j = word 2j and B_j = word 2j + 1 (one LDRD loads both); stride 2: A_0 .. A_h-1
 * and C = (w_2h, 0). The four channels' weights of a tap are one word (1HWC), so a pair of
 * taps is transposed into the four channels' pairs like the input rows (dw_transpose()).
 */
__attribute__((noinline)) static void dw_planar_weights(const tt_conv_geom_t *g, const dw_planar_t *p,
                                                       const int8_t *weights, int32_t ch, int32_t *tables,
                                                       int32_t table_words)
{
    const int32_t k = g->kernel_w, c = g->in_c, ww = p->wwords, s = g->stride_w;
    /* The second copy of the rows, k * ww words on (none for one output row). Every call of the
     * row-streamed blocks builds the tables again, so the four channels' words are written
     * straight from registers (no per-word test of out_h, no array through the stack), in a
     * function of its own (inlined, it shared dw_planar()'s registers and spilled). */
    const int32_t copy = g->out_h > 1 ? k * ww : 0;
    int32_t *t1 = tables + table_words, *t2 = t1 + table_words, *t3 = t2 + table_words;
    for (int32_t r = 0; r < k; r++) {
        const int8_t *w = weights + r * k * c + ch;
        for (int32_t i = 0; i < ww; i++) {
            const int32_t tap = s == 1 ? i : 2 * i;
            const int32_t second = tap + 1 < k ? tt_dsp_read_s8x4(w + (tap + 1) * c) : 0;
            int32_t v[4];
            dw_transpose(tt_dsp_read_s8x4(w + tap * c), second, 0, v);
            const int32_t d0 = (int32_t)__sadd16((int16x2_t)v[0], (int16x2_t)v[0]);
            const int32_t d1 = (int32_t)__sadd16((int16x2_t)v[1], (int16x2_t)v[1]);
            const int32_t d2 = (int32_t)__sadd16((int16x2_t)v[2], (int16x2_t)v[2]);
            const int32_t d3 = (int32_t)__sadd16((int16x2_t)v[3], (int16x2_t)v[3]);
            const int32_t at = r * ww + i;
            tables[at] = d0;
            t1[at] = d1;
            t2[at] = d2;
            t3[at] = d3;
            if (copy != 0) {
                tables[at + copy] = d0;
                t1[at + copy] = d1;
                t2[at + copy] = d2;
                t3[at + copy] = d3;
            }
        }
    }
}

static void dw_planar(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *g, const dw_planar_t *p,
                      const tt_conv_quant_t *quant, const int8_t *input, const int8_t *weights, const int32_t *bias,
                      int8_t *output, int32_t channels)
{
    const int32_t k = g->kernel_h, c = g->in_c, kb = k * 32;
    const int32_t offset = -quant->input_zp;
    const int32_t padded_h = g->pad_top + g->in_h;
    uint8_t *ring = (uint8_t *)ctx->buf;
    int32_t *tables = (int32_t *)(ring + dw_ring_bytes(p, k));
    const int32_t table_words = dw_table_rows(g) * p->wwords;
    const int narrow = quant->act_min > -128 || quant->act_max < 127;
    const dw_asm_fn asm_fn = dw_asm_for(k, g->stride_w);
    const int32_t full = g->out_w / 4; /* iterations per row that store all four outputs */
    /* |2 acc| < 2^31 whatever the inputs: |x - zp| <= 255, |w| <= 128. */
    const int32_t bias_limit = (1 << 30) - 1 - k * k * 255 * 128;

    memset(ring, 0, dw_ring_bytes(p, k));
    for (int32_t ch = 0; ch + 4 <= channels; ch += 4) {
        dw_chan_t q[4];
        for (int32_t j = 0; j < 4; j++) {
            const int32_t b = bias != 0 ? bias[ch + j] : 0, shift = quant->shift[ch + j];
            q[j].fast = !narrow && tt_dsp_requant2_ok(shift) && b >= -bias_limit && b <= bias_limit;
            q[j].multiplier = quant->multiplier[ch + j];
            q[j].right = -shift;
            q[j].k = q[j].fast ? tt_dsp_requant2_k(shift, quant->output_zp) : 0;
            q[j].bias2 = q[j].fast ? 2 * b : 0;
            q[j].bias = b;
            q[j].shift = shift;
            q[j].zp = quant->output_zp;
            q[j].act_min = quant->act_min;
            q[j].act_max = quant->act_max;
        }
        dw_planar_weights(g, p, weights, ch, tables, table_words);
        /* The channels' jobs for dw_asm_*(): per row only the table rotation and the output move. */
        dw_job_t jobs[5];
        int32_t plane[4], n = 0, tail = 0;
        for (int32_t j = 0; j < 4; j++) {
            if (q[j].fast && full > 0) {
                const dw_job_t job = {ring + j * 8, tables, output, full, {q[j].bias2, q[j].bias2},
                                      q[j].multiplier, q[j].k, q[j].right, c};
                plane[n] = j;
                jobs[n++] = job;
            }
            tail |= !q[j].fast || 4 * full < g->out_w;
        }
        jobs[n].iters = 0;
        int32_t next = 0; /* padded rows [0, next) have been through the ring */
        for (int32_t oy = 0; oy < g->out_h; oy++) {
            const int32_t r0 = oy * g->stride_h;
            for (int32_t r = next > r0 ? next : r0; r < r0 + k; r++) {
                uint8_t *slot = ring + (r % k) * 32;
                if (r < g->pad_top || r >= padded_h) {
                    /* A padding row: zero the slot (it may hold an earlier row). */
                    for (int32_t b = 0; b < p->blocks; b++) {
                        memset(slot + b * kb, 0, 32);
                    }
                } else {
                    dw_copy_row(slot, kb, input + (r - g->pad_top) * g->in_w * c + ch, c, g->in_w, g->pad_left, offset);
                }
            }
            next = r0 + k;
            /* Slot s holds kernel row (s - r0) mod k: start the doubled table there. */
            const int32_t rot = (k - r0 % k) % k;
            int8_t *out = output + oy * g->out_w * c + ch;
            for (int32_t i = 0; i < n; i++) {
                jobs[i].wt = tables + plane[i] * table_words + rot * p->wwords;
                jobs[i].out = out + plane[i];
            }
            asm_fn(jobs);
            for (int32_t j = 0; tail && j < 4; j++) {
                const int32_t done = q[j].fast ? 4 * full : 0;
                if (done < g->out_w) {
                    dw_planar_tail(k, g->stride_w, ring + j * 8, tables + j * table_words + rot * p->wwords, &q[j],
                                   done, g->out_w, c, out + j);
                }
            }
        }
        /* The next group's rows are copied over these; its padding columns are still zero. */
    }
}
#endif

int32_t tt_dw_conv2d_fwd_planar_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                   const tt_conv_quant_t *quant, const int8_t *input, const int8_t *weights,
                                   const int32_t *bias, int8_t *output)
{
#if TT_DSP
    dw_planar_t p;
    if (dw_planar_plan(geom, &p)) {
        const int32_t n = geom->in_c & ~3;
        dw_planar(ctx, geom, &p, quant, input, weights, bias, output, n);
        return n;
    }
#else
    (void)ctx;
    (void)geom;
    (void)quant;
    (void)input;
    (void)weights;
    (void)bias;
    (void)output;
#endif
    return 0;
}
