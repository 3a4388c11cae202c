#include "tt/kernels/add.h"

#include "tt_dsp.h"
#include "tt_fixedpoint.h"

#if TT_DSP
/* TFLite's int8 ADD always has left shift 20 (tt_host.reference.params.AddQuant); the fast
 * path takes it as a constant, so x is formed with one shifted ADD. */
#define ADD_LEFT_SHIFT 20

/*
 * One input's term, tt_requantize_fast((v - zp) << 20, m, -r) for r >= 0, in six
 * instructions (LDRSB, ADD, SMMULR, two ADD, ASR) instead of about twenty.
 * With x = (v - zp) 2^20, the high product is h = floor((x m + 2^30) / 2^31)
 * = floor((2x m + 2^31) / 2^32): SMMULR of x2 = 2x = v 2^21 - zp 2^21 and m.
 * RoundingDivideByPOT(h, r) = floor((h + 2^(r-1) - [h < 0]) / 2^r) is, numerator and divisor
 * doubled, floor((2h + 2^r - 2[h < 0]) / 2^(r+1)), and the 2 may be a 1: the doubled numerator
 * is even, so adding one more cannot cross a multiple of 2^(r+1). That form,
 * floor((2h + 2^r - [h < 0]) / 2^(r+1)), also holds for r = 0 (h itself), so one expression
 * covers every shift. [h < 0] may be read from x: with m >= 0, h < 0 implies x < 0, and when
 * x < 0 but h = 0 the numerator 2^r - 1 still floors to 0.
 */
typedef struct {
    int32_t offset, multiplier, round, right; /* -zp 2^21, m, 2^r, r + 1 */
} add_input_t;

__attribute__((always_inline)) static inline int32_t input_term(const add_input_t *in, int32_t v)
{
    const int32_t x2 = (int32_t)((uint32_t)v << (ADD_LEFT_SHIFT + 1)) + in->offset;
    int32_t h;
    __asm__("smmulr %0, %1, %2" : "=r"(h) : "r"(x2), "r"(in->multiplier));
    return (int32_t)((uint32_t)h * 2u + (uint32_t)in->round + (uint32_t)(x2 >> 31)) >> in->right;
}

static add_input_t input_params(int32_t zp, int32_t multiplier, int32_t shift)
{
    const add_input_t in = {-zp * (1 << (ADD_LEFT_SHIFT + 1)), multiplier, 1 << -shift, 1 - shift};
    return in;
}

/*
 * What imported models have: input shifts of 0 to -3 and multipliers >= 0, left shift 20,
 * an output shift in tt_dsp_requant2()'s range. Then |x| <= 255 * 2^20 < 2^28 and each input
 * term is at most |x|, so the sum stays below 2^29, inside tt_dsp_requant2()'s 2^30 (and
 * 2h + 2^r stays below 2^31 for r <= 28); the sum is
 * requantized with the zero point folded in (four instructions with SSAT), about 22
 * instructions an element in all against 61 for the general path below.
 */
static int32_t fast_ok(const tt_add_quant_t *q)
{
    return q->left_shift == ADD_LEFT_SHIFT && q->input1_shift <= 0 && q->input1_shift >= -28 &&
           q->input2_shift <= 0 && q->input2_shift >= -28 && q->input1_multiplier >= 0 &&
           q->input2_multiplier >= 0 && tt_dsp_requant2_ok(q->output_shift);
}

static void add_fast(int32_t size, const tt_add_quant_t *q, const int8_t *input1, const int8_t *input2,
                     int8_t *output)
{
    const add_input_t a = input_params(q->input1_zp, q->input1_multiplier, q->input1_shift);
    const add_input_t b = input_params(q->input2_zp, q->input2_multiplier, q->input2_shift);
    const int32_t m = q->output_multiplier, k = tt_dsp_requant2_k(q->output_shift, q->output_zp);
    const int32_t right = -q->output_shift, lo = q->act_min, hi = q->act_max;
    if (lo > -128 || hi < 127) {
        for (int32_t i = 0; i < size; i++) {
            const int32_t sum = input_term(&a, input1[i]) + input_term(&b, input2[i]);
            const int32_t y = tt_dsp_requant2(sum * 2, m, k, right);
            output[i] = (int8_t)(y < lo ? lo : y > hi ? hi : y);
        }
    } else {
        for (int32_t i = 0; i < size; i++) {
            const int32_t sum = input_term(&a, input1[i]) + input_term(&b, input2[i]);
            output[i] = (int8_t)tt_dsp_requant2(sum * 2, m, k, right);
        }
    }
}

/*
 * Cortex-M7, other parameters: the same three requantizations per element in their short
 * forms (tt_dsp.h): tt_requantize_fast() for the two inputs and, when the output shift
 * allows, tt_requantize_zp() with the output zero point folded in; SSAT then clamps to int8.
 * No 64-bit division or branch per element.
 */
void tt_add_fwd_s8(int32_t size, const tt_add_quant_t *quant, const int8_t *input1, const int8_t *input2,
                   int8_t *output)
{
    const tt_add_quant_t q = *quant;
    if (fast_ok(&q)) {
        add_fast(size, &q, input1, input2, output);
        return;
    }
    const int32_t narrow = q.act_min > -128 || q.act_max < 127;
    const int32_t fast = tt_requantize_fast_ok(q.output_shift);
    const int32_t k_hi = fast ? tt_requantize_k_hi(q.output_shift, q.output_zp) : 0;
    for (int32_t i = 0; i < size; i++) {
        /* |x - zp| <= 255, so the left shift by 20 stays inside int32. */
        const int32_t a = ((int32_t)input1[i] - q.input1_zp) * (1 << q.left_shift);
        const int32_t b = ((int32_t)input2[i] - q.input2_zp) * (1 << q.left_shift);
        const int32_t sum = tt_requantize_fast(a, q.input1_multiplier, q.input1_shift) +
                            tt_requantize_fast(b, q.input2_multiplier, q.input2_shift);
        int32_t y = fast ? tt_requantize_zp(sum, q.output_multiplier, k_hi, q.output_shift)
                         : tt_requantize_fast(sum, q.output_multiplier, q.output_shift) + q.output_zp;
        y = __ssat(y, 8);
        if (narrow) {
            y = y < q.act_min ? q.act_min : y;
            y = y > q.act_max ? q.act_max : y;
        }
        output[i] = (int8_t)y;
    }
}
#else
void tt_add_fwd_s8(int32_t size, const tt_add_quant_t *quant, const int8_t *input1, const int8_t *input2,
                   int8_t *output)
{
    for (int32_t i = 0; i < size; i++) {
        /* |x - zp| <= 255, so the left shift by 20 stays inside int32. */
        const int32_t a = ((int32_t)input1[i] - quant->input1_zp) * (1 << quant->left_shift);
        const int32_t b = ((int32_t)input2[i] - quant->input2_zp) * (1 << quant->left_shift);
        const int32_t sum = tt_requantize(a, quant->input1_multiplier, quant->input1_shift) +
                            tt_requantize(b, quant->input2_multiplier, quant->input2_shift);
        const int32_t y = tt_requantize(sum, quant->output_multiplier, quant->output_shift) + quant->output_zp;
        output[i] = tt_clamp_s8(y, quant->act_min, quant->act_max);
    }
}
#endif
