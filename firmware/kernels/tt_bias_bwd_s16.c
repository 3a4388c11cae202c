#include "tt/kernels/bias.h"

#include "tt_grad.h"

#if TT_DSP
/*
 * Cortex-M7, when the shift is 0 (max|dY| * positions < 2^31, every bias gradient of the
 * late layers a sparse update trains): the sums are exact in int32, so four channels go down
 * the positions together, two words a position, each word's bottom half added by SXTAH and
 * its top half by an ADD with ASR: about two instructions a value against seven for the int64
 * column sums.
 */
static void bias_sums_dsp(int32_t positions, int32_t channels, const int16_t *grad_output, int32_t *grad_bias)
{
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int16_t *p = grad_output + c;
        for (int32_t k = 0; k < positions; k++, p += channels) {
            const int32_t x = tt_dsp_read_word(p), y = tt_dsp_read_word(p + 2);
            a0 += (int16_t)x;
            a1 += x >> 16;
            a2 += (int16_t)y;
            a3 += y >> 16;
        }
        grad_bias[c] = a0;
        grad_bias[c + 1] = a1;
        grad_bias[c + 2] = a2;
        grad_bias[c + 3] = a3;
    }
    for (; c < channels; c++) {
        int32_t a = 0;
        for (int32_t k = 0; k < positions; k++) {
            a += grad_output[k * channels + c];
        }
        grad_bias[c] = a;
    }
}
#endif

void tt_bias_bwd_s16(int32_t positions, int32_t channels, const int16_t *grad_output, int32_t grad_output_exp,
                     int32_t *grad_bias, int32_t *grad_bias_exp)
{
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, positions * channels) * positions;
    const int32_t bits = tt_bitlen_u64((uint64_t)bound);
    const int32_t r = bits > 31 ? bits - 31 : 0;
    *grad_bias_exp = grad_output_exp + r;
#if TT_DSP
    if (r == 0) {
        bias_sums_dsp(positions, channels, grad_output, grad_bias);
        return;
    }
#endif
    for (int32_t c = 0; c < channels; c++) {
        int64_t acc = 0;
        for (int32_t p = 0; p < positions; p++) {
            acc += grad_output[p * channels + c];
        }
        grad_bias[c] = (int32_t)tt_rdbp64(acc, r);
    }
}
