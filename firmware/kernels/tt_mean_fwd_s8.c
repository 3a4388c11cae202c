#include "tt/kernels/mean.h"

#include "tt_fixedpoint.h"

void tt_mean_fwd_s8(const tt_conv_geom_t *geom, const tt_mean_quant_t *quant, const int8_t *input, int8_t *output)
{
    const int32_t c = geom->in_c, count = geom->in_h * geom->in_w;
    /* One channel at a time down the HWC layout: no accumulator array, so no scratch. */
    for (int32_t ch = 0; ch < c; ch++) {
        int32_t sum = 0;
        for (int32_t p = 0; p < count; p++) {
            sum += input[p * c + ch];
        }
        const int32_t y = tt_requantize(sum - count * quant->input_zp, quant->multiplier, quant->shift) + quant->output_zp;
        output[ch] = tt_clamp_s8(y, quant->act_min, quant->act_max);
    }
}
