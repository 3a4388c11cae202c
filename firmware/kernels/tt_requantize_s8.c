#include "tt/kernels/requantize.h"

#include "tt_fixedpoint.h"

void tt_requantize_s8(int32_t n, const tt_requantize_quant_t *quant, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < n; i++) {
        const int32_t v = input[i] - quant->input_zp;
        const int32_t scaled = v >= 0 ? tt_requantize(v, quant->multiplier, quant->shift)
                                      : tt_requantize(v, quant->negative_multiplier, quant->negative_shift);
        output[i] = tt_clamp_s8(scaled + quant->output_zp, quant->act_min, quant->act_max);
    }
}

void tt_leaky_relu_bwd_input_s16(int32_t n, int32_t input_zp, int32_t alpha_multiplier, int32_t alpha_shift,
                                 const int8_t *input, const int16_t *grad_output, int16_t *grad_input)
{
    for (int32_t i = 0; i < n; i++) {
        const int32_t dy = grad_output[i];
        grad_input[i] = (int16_t)(input[i] >= input_zp ? dy : tt_requantize(dy, alpha_multiplier, alpha_shift));
    }
}
