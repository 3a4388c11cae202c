#include "tt/kernels/mul.h"

#include "tt_fixedpoint.h"

void tt_mul_fwd_s8(int32_t n, const tt_mul_quant_t *quant, const int8_t *a, const int8_t *b, int32_t b_numel,
                   int8_t *output)
{
    for (int32_t i = 0, j = 0; i < n; i++, j = j + 1 == b_numel ? 0 : j + 1) {
        const int32_t product = (a[i] - quant->input1_zp) * (b[j] - quant->input2_zp);
        const int32_t y = tt_requantize(product, quant->multiplier, quant->shift) + quant->output_zp;
        output[i] = tt_clamp_s8(y, quant->act_min, quant->act_max);
    }
}
