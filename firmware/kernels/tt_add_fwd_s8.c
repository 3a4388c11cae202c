#include "tt/kernels/add.h"

#include "tt_fixedpoint.h"

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
