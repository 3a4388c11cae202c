#include "tt/kernels/hard_swish.h"

#include "tt_grad.h"

/* Bound of h' in Q14: 1.5 at real +3, plus one step of the multiplier's rounding. */
#define SLOPE_BOUND (3 * (1 << 13) + 1)

void tt_hard_swish_bwd_input_s16(int32_t n, const tt_hard_swish_grad_t *grad, const int8_t *input,
                                 const int16_t *grad_output, int32_t grad_output_exp, int16_t *grad_input,
                                 int32_t *grad_input_exp)
{
    const int32_t r = tt_grad_slope_shift(grad_output, n, SLOPE_BOUND);
    *grad_input_exp = grad_output_exp - 14 + r;
    for (int32_t i = 0; i < n; i++) {
        const int32_t x = input[i];
        const int32_t slope = x < grad->lo ? 0
                              : x > grad->hi ? (1 << 14)
                                             : (1 << 13) + tt_requantize(x - grad->input_zp, grad->multiplier, grad->shift);
        grad_input[i] = tt_sat_s16(tt_rdbp64((int64_t)grad_output[i] * slope, r));
    }
}
