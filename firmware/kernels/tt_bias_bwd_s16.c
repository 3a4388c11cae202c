#include "tt/kernels/bias.h"

#include "tt_grad.h"

void tt_bias_bwd_s16(int32_t positions, int32_t channels, const int16_t *grad_output, int32_t grad_output_exp,
                     int32_t *grad_bias, int32_t *grad_bias_exp)
{
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, positions * channels) * positions;
    const int32_t bits = tt_bitlen_u64((uint64_t)bound);
    const int32_t r = bits > 31 ? bits - 31 : 0;
    for (int32_t c = 0; c < channels; c++) {
        int64_t acc = 0;
        for (int32_t p = 0; p < positions; p++) {
            acc += grad_output[p * channels + c];
        }
        grad_bias[c] = (int32_t)tt_rdbp64(acc, r);
    }
    *grad_bias_exp = grad_output_exp + r;
}
