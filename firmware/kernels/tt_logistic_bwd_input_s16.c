#include "tt/kernels/logistic.h"

#include "tt_grad.h"

/* s(1 - s) <= 1/4: 2^14 in Q16. */
#define SLOPE_BOUND (1 << 14)

void tt_logistic_bwd_input_s16(int32_t n, const tt_logistic_quant_t *quant, const int8_t *input,
                               const int16_t *grad_output, int32_t grad_output_exp, int16_t *grad_input,
                               int32_t *grad_input_exp)
{
    const int32_t r = tt_grad_slope_shift(grad_output, n, SLOPE_BOUND);
    *grad_input_exp = grad_output_exp - 16 + r;
    for (int32_t i = 0; i < n; i++) {
        int8_t y;
        tt_logistic_fwd_s8(1, quant, &input[i], &y);
        const int32_t slope = (y + 128) * (128 - y); /* s(1 - s) in Q16, s = (y + 128) / 256 */
        grad_input[i] = tt_sat_s16(tt_rdbp64((int64_t)grad_output[i] * slope, r));
    }
}
