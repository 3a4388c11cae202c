#include "tt/kernels/hard_swish.h"

#include "tt_fixedpoint.h"

/* gemmlowp SaturatingRoundingDoublingHighMul on int16. */
static int32_t srdhm16(int32_t a, int32_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    const int32_t ab = a * b;
    return (ab + (ab >= 0 ? (1 << 14) : 1 - (1 << 14))) / (1 << 15); /* C division truncates */
}

static int32_t sat_left_shift16(int32_t a, int32_t amount)
{
    const int64_t v = (int64_t)a * ((int64_t)1 << amount);
    return (int32_t)(v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v);
}

void tt_hard_swish_fwd_s8(int32_t n, const tt_hard_swish_quant_t *quant, const int8_t *input, int8_t *output)
{
    const int32_t relu_exp = quant->reluish_exponent;
    for (int32_t i = 0; i < n; i++) {
        /* The input on a scale 128x finer (exact in 16 bits), then on the output scale before
         * its final shift. */
        const int32_t hires = (input[i] - quant->input_zp) * 128;
        const int32_t preshift = srdhm16(hires, quant->output_multiplier);
        /* The "relu-ish" factor: the input on the scale where real 3 is 32768, saturating,
         * then mapped from [-1, 1] to [0, 1]. */
        int32_t reluish = hires;
        if (relu_exp > 0) {
            reluish = sat_left_shift16(reluish, relu_exp - 1);
        }
        reluish = srdhm16(reluish, quant->reluish_multiplier);
        if (relu_exp > 0) {
            reluish = sat_left_shift16(reluish, 1);
        }
        if (relu_exp < 0) {
            reluish = tt_rounding_divide_by_pot(reluish, -relu_exp);
        }
        reluish = (reluish + (1 << 15)) >> 1;
        /* A truncating doubling high multiply, as TFLM's (it cancels the rounding bias above). */
        const int32_t product = (reluish == INT16_MIN && preshift == INT16_MIN) ? INT16_MAX : reluish * preshift / (1 << 15);
        const int32_t y = tt_rounding_divide_by_pot(product, -quant->output_exponent) + quant->output_zp;
        output[i] = tt_clamp_s8(y, INT8_MIN, INT8_MAX);
    }
}
