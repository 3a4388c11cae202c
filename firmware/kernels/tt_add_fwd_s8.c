#include "tt/kernels/add.h"

#include "tt_dsp.h"
#include "tt_fixedpoint.h"

#if TT_DSP
/*
 * Cortex-M7: the same three requantizations per element in their short forms (tt_dsp.h):
 * tt_requantize_fast() for the two inputs (their shifts are 0 to -3, outside the one-SMLAL
 * form's range) and, when the output shift allows, tt_requantize_zp() with the output zero
 * point folded in; SSAT then clamps to int8. No 64-bit division or branch per element.
 */
void tt_add_fwd_s8(int32_t size, const tt_add_quant_t *quant, const int8_t *input1, const int8_t *input2,
                   int8_t *output)
{
    const tt_add_quant_t q = *quant;
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
