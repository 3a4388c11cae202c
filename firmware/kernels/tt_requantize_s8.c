#include "tt/kernels/requantize.h"

#include "tt_fixedpoint.h"

void tt_requantize_s8(int32_t n, const tt_requantize_quant_t *quant, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < n; i++) {
        const int32_t y = tt_requantize(input[i] - quant->input_zp, quant->multiplier, quant->shift) + quant->output_zp;
        output[i] = tt_clamp_s8(y, quant->act_min, quant->act_max);
    }
}
