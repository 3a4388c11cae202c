/*
 * Armv7E-M DSP helpers for the int8 kernels' Cortex-M7 paths, private to the kernels.
 *
 * TT_DSP is 1 when the compiler targets a core with the DSP extension (__ARM_FEATURE_DSP:
 * Cortex-M4/M7/M33 and up) and the build did not ask for the portable loops
 * (-DTT_KERNELS_PORTABLE, which bench/kernels.py uses to measure them on the same core).
 * Every DSP path computes the same int32 accumulators as the portable loop it replaces
 * (integer addition is exact and its order does not matter) and then requantizes them the
 * same way, so both paths produce identical bytes; the golden vectors run on the emulated
 * Cortex-M7 (tests/test_kernels_qemu.py) check it, and so does firmware/tests/kernels/
 * test_dsp_diff.c, which runs every DSP path against its portable loop (compiled into the
 * same image with TT_KERNELS_PORTABLE) on thousands of random shapes and parameters.
 *
 * The instructions that matter (Arm ARM v7-M, A7.7):
 *   SXTB16 r, x[, ROR #8]  sign-extends bytes 0 and 2 (or 1 and 3) of x into two int16 lanes
 *   SXTAB16 r, a, x        the same, added lane-wise to a (used to add the input offset)
 *   SMLAD r, a, b, acc     acc + a.lo * b.lo + a.hi * b.hi: two 16x16 MACs in one instruction
 * Int8 operands are widened in pairs "even bytes / odd bytes": a word x0 x1 x2 x3 becomes
 * (x0, x2) and (x1, x3). Both operands of an SMLAD are widened the same way, so the pairs
 * line up, and an int16 copy of an operand (an im2col column) is stored in that order too
 * (tt_dsp_im2col_pair()).
 */
#ifndef TT_KERNELS_DSP_H
#define TT_KERNELS_DSP_H

#include <stdint.h>
#include <string.h>

#include "tt/kernels/types.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(TT_KERNELS_PORTABLE)
#define TT_DSP 1
#else
#define TT_DSP 0
#endif

#if TT_DSP
#include <arm_acle.h>

/* Unaligned 32-bit reads and writes: int8 rows start at any byte (in_c need not be a
 * multiple of 4); the Cortex-M7 loads unaligned words with a single LDR. memcpy lets the
 * compiler emit exactly that without breaking aliasing rules. */
static inline int32_t tt_dsp_read_s8x4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline int32_t tt_dsp_read_word(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void tt_dsp_write_word(int16_t *p, int32_t v) { memcpy(p, &v, sizeof v); }

/*
 * Largest column sum of |w| over @p cols columns of an int8 matrix whose rows are @p stride
 * bytes apart (the weight bound of the input
 * gradient kernels). Four columns at a time: SSUB8 negates the four bytes and sets a GE flag
 * per byte where the negation is >= 0, SEL then picks |w| per byte (as an unsigned byte, so
 * |-128| = 128 fits), and UXTAB16 adds the even and odd bytes into two int16-lane sums. A lane
 * holds at most 511 * 128 < 2^16, so the lanes are flushed every 511 rows. 6 instructions per
 * four weights instead of about 16.
 */
static inline int32_t tt_dsp_abs_s8x4(int32_t x)
{
    int32_t a;
    __asm__("ssub8 %0, %2, %1\n\tsel %0, %0, %1" : "=&r"(a) : "r"(x), "r"(0) : "cc");
    return a;
}

static inline int64_t tt_dsp_max_column_abs_sum(const int8_t *m, int32_t rows, int32_t cols, int32_t stride)
{
    int32_t best = 0; /* <= rows * 128 */
    int32_t c = 0;
    for (; c + 4 <= cols; c += 4) {
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        const int8_t *p = m + c;
        for (int32_t r0 = 0; r0 < rows; r0 += 511) {
            const int32_t n = rows - r0 < 511 ? rows - r0 : 511;
            uint32_t even = 0, odd = 0;
            for (int32_t r = 0; r < n; r++) {
                const int32_t a = tt_dsp_abs_s8x4(tt_dsp_read_s8x4(p));
                even = __uxtab16(even, (uint32_t)a);
                __asm__("uxtab16 %0, %0, %1, ror #8" : "+r"(odd) : "r"(a));
                p += stride;
            }
            s0 += (int32_t)(even & 0xFFFFu);
            s2 += (int32_t)(even >> 16);
            s1 += (int32_t)(odd & 0xFFFFu);
            s3 += (int32_t)(odd >> 16);
        }
        best = s0 > best ? s0 : best;
        best = s1 > best ? s1 : best;
        best = s2 > best ? s2 : best;
        best = s3 > best ? s3 : best;
    }
    for (; c < cols; c++) {
        int32_t s = 0;
        for (int32_t r = 0; r < rows; r++) {
            const int32_t w = m[r * stride + c];
            s += w < 0 ? -w : w;
        }
        best = s > best ? s : best;
    }
    return best;
}

/* The two widened halves of four int8: (x0, x2) and (x1, x3). The odd half is written in
 * assembly because GCC does not fold a rotation into SXTB16's ROR #8 operand. */
static inline int32_t tt_dsp_even(int32_t x) { return (int32_t)__sxtb16((uint32_t)x); }
static inline int32_t tt_dsp_odd(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* The same with a packed int16 offset (k, k) added: (x0 + k, x2 + k), (x1 + k, x3 + k). */
static inline int32_t tt_dsp_even_add(int32_t offset2, int32_t x)
{
    return (int32_t)__sxtab16((uint32_t)offset2, (uint32_t)x);
}
static inline int32_t tt_dsp_odd_add(int32_t offset2, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(offset2), "r"(x));
    return r;
}

/* (a.lo, b.lo) and (a.hi, b.hi): two int16 pairs regrouped by lane (PKHBT / PKHTB). */
static inline int32_t tt_dsp_pack_lo(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline int32_t tt_dsp_pack_hi(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t tt_dsp_smlad(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)__smlad((int16x2_t)a, (int16x2_t)b, acc);
}

/* (k, k) in two int16 lanes; k = -input_zp is in [-127, 128], so x + k fits an int16. */
static inline int32_t tt_dsp_pack_offset(int32_t k) { return (int32_t)(((uint32_t)k & 0xFFFFu) * 0x10001u); }

/*
 * Two int16 im2col columns (two output pixels' inputs, n values each, the input offset
 * already added) share one buffer of n words, interleaved so that the 2x2 dot product
 * reads it front to back with one pointer: for every full group of four values j..j+3,
 * four words (x0 j, x0 j+2) (x0 j+1, x0 j+3) (x1 j, x1 j+2) (x1 j+1, x1 j+3), the even/odd
 * order that tt_dsp_even()/tt_dsp_odd() give the matching weights; then, for each of the
 * n % 4 last values, the pair x0 j, x1 j. Words are written and read with memcpy, so the
 * int16 view and the word view never alias. n words = 2 * n * 2 bytes, what the kernels'
 * ..._scratch_size() reserve.
 */

/* Column pair from two contiguous int8 vectors (pointwise convolution). */
static inline void tt_dsp_im2col_pair(const int8_t *x0, const int8_t *x1, int32_t n, int32_t offset, int16_t *cols)
{
    const int32_t offset2 = tt_dsp_pack_offset(offset);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int32_t a = tt_dsp_read_s8x4(x0 + i), b = tt_dsp_read_s8x4(x1 + i);
        tt_dsp_write_word(cols, tt_dsp_even_add(offset2, a));
        tt_dsp_write_word(cols + 2, tt_dsp_odd_add(offset2, a));
        tt_dsp_write_word(cols + 4, tt_dsp_even_add(offset2, b));
        tt_dsp_write_word(cols + 6, tt_dsp_odd_add(offset2, b));
        cols += 8;
    }
    for (; i < n; i++) {
        cols[0] = (int16_t)(x0[i] + offset);
        cols[1] = (int16_t)(x1[i] + offset);
        cols += 2;
    }
}

/*
 * The 2x2 block of dot products at the heart of pointwise and general convolution: the two
 * interleaved columns against two int8 weight rows w0, w1 of n terms;
 * acc = {x0.w0, x0.w1, x1.w0, x1.w1} added to the values acc holds.
 *
 * Why 2 pixels x 2 rows: each weight word is widened once (2 SXTB16) and used for both
 * pixels, each column word is loaded once and used for both rows, and the four
 * accumulators, four column words, a weight word and its two halves and four pointers
 * fit the core's 14 allocatable registers, so nothing spills inside the loop (a 2x4 or 4x2
 * block needs eight accumulators and spills). Per four terms: 2 LDRD of column words,
 * 2 LDR of weights, 4 SXTB16 and 8 SMLAD for 16 MACs; eight terms per iteration halve the
 * loop's compare and branch. The loop is assembly because GCC's register allocator (at -Os
 * in particular) spills accumulators to the stack inside it.
 */
static inline void tt_dsp_dot_2x2(const int16_t *cols, const int8_t *w0, const int8_t *w1,
                                                     int32_t n, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const int8_t *const end8 = w0 + (n & ~7);
    if (w0 < end8) {
        int32_t x0e, x0o, x1e, x1o, r, we;
#define TT_DSP_DOT_2X2_STEP                                   \
    "ldrd   %[x0e], %[x0o], [%[c]], #8\n\t"                  \
    "ldrd   %[x1e], %[x1o], [%[c]], #8\n\t"                  \
    "ldr    %[r], [%[w0]], #4\n\t"                           \
    "sxtb16 %[we], %[r]\n\t"                                 \
    "sxtb16 %[r], %[r], ror #8\n\t"                          \
    "smlad  %[a00], %[x0e], %[we], %[a00]\n\t"               \
    "smlad  %[a00], %[x0o], %[r], %[a00]\n\t"                \
    "smlad  %[a10], %[x1e], %[we], %[a10]\n\t"               \
    "smlad  %[a10], %[x1o], %[r], %[a10]\n\t"                \
    "ldr    %[r], [%[w1]], #4\n\t"                           \
    "sxtb16 %[we], %[r]\n\t"                                 \
    "sxtb16 %[r], %[r], ror #8\n\t"                          \
    "smlad  %[a01], %[x0e], %[we], %[a01]\n\t"               \
    "smlad  %[a01], %[x0o], %[r], %[a01]\n\t"                \
    "smlad  %[a11], %[x1e], %[we], %[a11]\n\t"               \
    "smlad  %[a11], %[x1o], %[r], %[a11]\n\t"
        __asm__ volatile("1:\n\t" TT_DSP_DOT_2X2_STEP TT_DSP_DOT_2X2_STEP
                         "cmp    %[w0], %[end]\n\t"
                         "bne    1b\n\t"
                         : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [c] "+r"(cols),
                           [w0] "+r"(w0), [w1] "+r"(w1), [x0e] "=&r"(x0e), [x0o] "=&r"(x0o), [x1e] "=&r"(x1e),
                           [x1o] "=&r"(x1o), [r] "=&r"(r), [we] "=&r"(we)
                         : [end] "r"(end8)
                         : "cc", "memory");
#undef TT_DSP_DOT_2X2_STEP
    }
    if (n & 4) {
        const int32_t x0e = tt_dsp_read_word(cols), x0o = tt_dsp_read_word(cols + 2);
        const int32_t x1e = tt_dsp_read_word(cols + 4), x1o = tt_dsp_read_word(cols + 6);
        const int32_t r0 = tt_dsp_read_s8x4(w0), r1 = tt_dsp_read_s8x4(w1);
        a00 = tt_dsp_smlad(x0o, tt_dsp_odd(r0), tt_dsp_smlad(x0e, tt_dsp_even(r0), a00));
        a10 = tt_dsp_smlad(x1o, tt_dsp_odd(r0), tt_dsp_smlad(x1e, tt_dsp_even(r0), a10));
        a01 = tt_dsp_smlad(x0o, tt_dsp_odd(r1), tt_dsp_smlad(x0e, tt_dsp_even(r1), a01));
        a11 = tt_dsp_smlad(x1o, tt_dsp_odd(r1), tt_dsp_smlad(x1e, tt_dsp_even(r1), a11));
        cols += 8;
        w0 += 4;
        w1 += 4;
    }
    for (int32_t j = n & 3; j > 0; j--) {
        const int32_t x0 = cols[0], x1 = cols[1], v0 = *w0++, v1 = *w1++;
        cols += 2;
        a00 += x0 * v0;
        a01 += x0 * v1;
        a10 += x1 * v0;
        a11 += x1 * v1;
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}
#endif /* TT_DSP */

/*
 * TFLite's MultiplyByQuantizedMultiplier in fewer instructions, bit-identical to
 * tt_requantize() for every x and every multiplier other than INT32_MIN (multipliers are
 * in [2^30, 2^31) or 0, tt_conv_quant_t).
 *
 * gemmlowp's SaturatingRoundingDoublingHighMul adds a nudge of 2^30 (1 - 2^30 when the
 * product is negative) and divides by 2^31 truncating toward zero. For a negative product
 * p = -k that is -floor((k + 2^30 - 1) / 2^31) = -ceil((k - 2^30) / 2^31)
 * = floor((p + 2^30) / 2^31), the same expression as for a non-negative product. So the high
 * product is one arithmetic shift of p + 2^30, which the Cortex-M7 computes with a single
 * SMLAL (accumulator preset to 2^30) and two shifts, without the branch or the 64-bit
 * division. The saturating case (both factors INT32_MIN) cannot occur. The rounding
 * right shift that follows is tt_rounding_divide_by_pot()'s formula.
 */
__attribute__((always_inline)) static inline int32_t tt_requantize_fast(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int64_t p = (int64_t)(int32_t)((uint32_t)x << left) * multiplier + ((int64_t)1 << 30);
    /* Arithmetic right shift of a negative value: guaranteed by GCC and Clang. */
    const int32_t high = (int32_t)(p >> 31);
    const int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
    const int32_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
    return (high >> right) + ((high & mask) > threshold ? 1 : 0);
}

/*
 * The same requantization with the output zero point added, in one SMLAL and one shift, for
 * right shifts r = -shift in [2, 23] (what imported models have; tt_dsp_requant_params()
 * checks every channel and the kernels keep tt_requantize_fast() for the others).
 *
 * With A = x * m + 2^30, tt_requantize_fast() computes h = floor(A / 2^31) and then
 * RoundingDivideByPOT(h, r) = floor((h + 2^(r-1) - [h < 0]) / 2^r). Because
 * floor((floor(a / N) + c) / M) = floor((a + c N) / (N M)) for integers c and N, M > 0, both
 * roundings are one floor division of a 64-bit value:
 *     y + zp = floor((x m + 2^30 - [h < 0] 2^31 + 2^(30+r) + zp 2^(31+r)) / 2^(31+r)).
 * [h < 0] = [A < 0] equals [x < 0] except when x < 0 and x m >= -2^30 (m = 0, or x = -1 and
 * m = 2^30); then 0 <= A <= 2^30, h = 0, and the numerator with either sign term lies in
 * [-2^31 + 2^30, 2^(30+r)), which floors to 0 as well. So the sign term may use x. The
 * dividend is 2^(31+r) = 2^32 * 2^(r-1): the result is the high word of the 64-bit sum shifted
 * right by r - 1. The sum is preset to lo = 2^30 + [x < 0] 2^31 (no carry: 2^30 - 2^31 is
 * 0xC0000000 with a borrow of one from the high word), hi = k_hi - [x < 0] with
 * k_hi = (2 zp + 1) 2^(r-2); one SMLAL adds x m. The high word holds (y + zp) 2^(r-1) plus a
 * fraction: |y| <= 2^(31-r), so it stays below 2^30 + 2^(r+6) <= 2^31 for r <= 23.
 * Five instructions (AND, ORR, ADD, SMLAL, ASR) against about twenty; tests/kernels and the
 * golden vectors on the Cortex-M7 check it, and an exhaustive-in-spirit comparison against
 * tt_requantize() over 2 * 10^8 random and extreme (x, m, r, zp) found no difference.
 */
static inline int32_t tt_requantize_fast_ok(int32_t shift) { return shift >= -23 && shift <= -2; }

/* k_hi for a channel: (2 zp + 1) 2^(r-2) with r = -shift. */
static inline int32_t tt_requantize_k_hi(int32_t shift, int32_t zp)
{
    return (int32_t)((uint32_t)(2 * zp + 1) << (-shift - 2));
}

__attribute__((always_inline)) static inline int32_t tt_requantize_zp(int32_t x, int32_t multiplier, int32_t k_hi,
                                                                     int32_t shift)
{
    const uint32_t lo = ((uint32_t)x & 0x80000000u) | 0x40000000u;
    const int32_t hi = k_hi + (x >> 31); /* arithmetic shift: -1 for negative x */
    const int64_t sum = (int64_t)(((uint64_t)(uint32_t)hi << 32) | lo) + (int64_t)x * multiplier;
    return (int32_t)(sum >> 32) >> (-shift - 1);
}

/*
 * tt_grad_prescale() (tt_grad.h) in the same form: round(dy * 2^16 * m / 2^(31 + right)) with
 * right = 16 - shift + p >= 16. With zp = 0 the high word above stays below 2^31 for every
 * r <= 31 (|x m| < 2^62, so the 64-bit sum cannot overflow and its high word is the exact
 * floor), so the one-SMLAL form covers all of tt_grad_prescale()'s cases; right > 31 rounds
 * to 0 there as here. The portable helper's 64-bit division costs a library call per dY.
 */
__attribute__((always_inline)) static inline int32_t tt_grad_prescale_fast(int32_t dy, int32_t multiplier, int32_t shift,
                                                                          int32_t p)
{
    const int32_t right = 16 - shift + p;
    if (right > 31) {
        return 0;
    }
    return tt_requantize_zp((int32_t)((uint32_t)dy << 16), multiplier, (int32_t)(1u << (right - 2)), -right);
}

#if TT_DSP
/* A kernel's requantization parameters, read once per call instead of per output. */
typedef struct {
    const int32_t *multiplier, *shift;
    int32_t output_zp, act_min, act_max;
    int32_t fast;   /* every channel's shift is tt_requantize_fast_ok() */
    int32_t narrow; /* the activation range is narrower than int8: clamp after SSAT */
} tt_dsp_requant_t;

static inline tt_dsp_requant_t tt_dsp_requant_params(const tt_conv_quant_t *q, int32_t channels)
{
    int32_t fast = 1;
    for (int32_t c = 0; c < channels; c++) {
        fast &= tt_requantize_fast_ok(q->shift[c]);
    }
    const tt_dsp_requant_t r = {q->multiplier, q->shift, q->output_zp, q->act_min, q->act_max, fast,
                                q->act_min > -128 || q->act_max < 127};
    return r;
}

/*
 * Requantization of a *doubled* accumulator in four instructions (ADD, SMMLAR, ASR, SSAT),
 * for right shifts r = -shift in [1, 23]: the kernels that use it pre-double one operand
 * (pointwise: the int16 input columns; depthwise: the int16 weights) and the bias, so the
 * accumulator arrives as x2 = 2 x at no cost, which needs |x| < 2^30.
 *
 * tt_requantize_zp()'s single floor division, numerator and divisor doubled, is
 *     y + zp = floor((x2 m + 2^31 - [x < 0] 2^32 + (2 zp + 1) 2^(31+r)) / 2^(32+r)).
 * SMMLAR d, x2, m, a computes floor((a 2^32 + x2 m + 2^31) / 2^32): the rounding constant
 * SMMLAR adds is exactly the 2^31 term, so with a = k - [x < 0], k = (2 zp + 1) 2^(r-1)
 * (one ADD of x2 >> 31, arithmetic), d is the numerator over 2^32 and y + zp = d >> r.
 * |d| <= 2^30 + 2^(r+7) < 2^31 for r <= 23. Checked against tt_requantize() on 2 * 10^8
 * random and extreme (x, m, r, zp), m = 0 and 2^30 included; tests/kernels and the
 * differential test firmware/tests/kernels/test_dsp_diff.c check it on the Cortex-M7.
 * Two instructions fewer per output than tt_requantize_zp() + SSAT, whose 64-bit preset
 * needs three.
 */
static inline int tt_dsp_requant2_ok(int32_t shift) { return shift >= -23 && shift <= -1; }

/* k for a channel: (2 zp + 1) 2^(r-1) with r = -shift. */
static inline int32_t tt_dsp_requant2_k(int32_t shift, int32_t zp)
{
    return (int32_t)((uint32_t)(2 * zp + 1) << (-shift - 1));
}

__attribute__((always_inline)) static inline int32_t tt_dsp_requant2(int32_t x2, int32_t multiplier, int32_t k,
                                                                    int32_t right)
{
    int32_t d;
    __asm__("add    %0, %1, %2, asr #31\n\t"
            "smmlar %0, %2, %3, %0"
            : "=&r"(d)
            : "r"(k), "r"(x2), "r"(multiplier));
    return __ssat(d >> right, 8);
}

/*
 * The last step of the dense input-gradient kernels, tt_sat_s16(tt_requantize_fast(acc, m, q)),
 * with m the Q31 scale multiplier (in [2^30, 2^31) or 0) and q from tt_grad_choose_shift(),
 * in the fewest instructions for the call's q (one branch per output that always goes the
 * same way), SSAT for the int64 saturation (the value is an int32 already):
 *   q >= 0: the result is the high product h = floor((x 2^q m + 2^30) / 2^31)
 *           = floor((x 2^(q+1) m + 2^31) / 2^32), one SMMULR. tt_grad_choose_shift() makes
 *           |x| 2^q m < 2^46, so |x 2^q| < 2^16 and the doubled operand fits; for q >= 16
 *           that forces x = 0, so capping the shift at 31 changes nothing.
 *   q <= -2: tt_requantize_zp() with zero point 0, exact for every r = -q <= 31 (see
 *           tt_grad_prescale_fast()); q >= -16 anyway, as the bound is below 2^62.
 *   q == -1: tt_requantize_fast().
 */
typedef struct {
    int32_t multiplier, q, left, k_hi;
} tt_dsp_dx_requant_t;

static inline tt_dsp_dx_requant_t tt_dsp_dx_requant_params(int32_t multiplier, int32_t q)
{
    const tt_dsp_dx_requant_t r = {multiplier, q, q + 1 > 31 ? 31 : q + 1, q <= -2 ? tt_requantize_k_hi(q, 0) : 0};
    return r;
}

__attribute__((always_inline)) static inline int32_t tt_dsp_dx_requant(const tt_dsp_dx_requant_t *r, int32_t acc)
{
    int32_t y;
    if (r->q >= 0) {
        __asm__("smmulr %0, %1, %2" : "=r"(y) : "r"((int32_t)((uint32_t)acc << r->left)), "r"(r->multiplier));
    } else if (r->q <= -2) {
        y = tt_requantize_zp(acc, r->multiplier, r->k_hi, r->q);
    } else {
        y = tt_requantize_fast(acc, r->multiplier, r->q);
    }
    return __ssat(y, 16);
}

/* Requantize two accumulators of output channel c (two pixels) and store them; the channel's
 * multiplier and shift are loaded once for both. The activation clamp is SSAT to int8 (one
 * instruction) and, only for a narrower range (ReLU6-like), a compare against each bound. */
__attribute__((always_inline)) static inline void tt_dsp_requant_pair(const tt_dsp_requant_t *r, int32_t c, int32_t acc0,
                                                                      int32_t acc1, int8_t *out0, int8_t *out1)
{
    const int32_t m = r->multiplier[c], s = r->shift[c];
    int32_t y0, y1;
    if (r->fast) {
        const int32_t k_hi = tt_requantize_k_hi(s, r->output_zp);
        y0 = __ssat(tt_requantize_zp(acc0, m, k_hi, s), 8);
        y1 = __ssat(tt_requantize_zp(acc1, m, k_hi, s), 8);
    } else {
        y0 = __ssat(tt_requantize_fast(acc0, m, s) + r->output_zp, 8);
        y1 = __ssat(tt_requantize_fast(acc1, m, s) + r->output_zp, 8);
    }
    if (r->narrow) {
        y0 = y0 < r->act_min ? r->act_min : y0;
        y1 = y1 < r->act_min ? r->act_min : y1;
        y0 = y0 > r->act_max ? r->act_max : y0;
        y1 = y1 > r->act_max ? r->act_max : y1;
    }
    *out0 = (int8_t)y0;
    *out1 = (int8_t)y1;
}
#endif

#endif /* TT_KERNELS_DSP_H */
