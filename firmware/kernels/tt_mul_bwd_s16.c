#include "tt/kernels/mul.h"

#include "tt_grad.h"

static int32_t max_abs_centered(const int8_t *v, int32_t n, int32_t zp)
{
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++) {
        const int32_t d = v[i] - zp;
        m = (d < 0 ? -d : d) > m ? (d < 0 ? -d : d) : m;
    }
    return m;
}

void tt_mul_bwd_a_s16(int32_t n, const tt_mul_quant_t *quant, const tt_mul_grad_t *grad, const int8_t *b,
                      int32_t b_numel, const int16_t *grad_output, int32_t grad_output_exp, int16_t *grad_a,
                      int32_t *grad_a_exp)
{
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, n) * max_abs_centered(b, b_numel, quant->input2_zp);
    const int32_t q = tt_grad_choose_shift(bound, grad->b_multiplier, grad->b_shift, grad_output_exp, grad_a_exp);
    for (int32_t i = 0, j = 0; i < n; i++, j = j + 1 == b_numel ? 0 : j + 1) {
        const int32_t product = grad_output[i] * (b[j] - quant->input2_zp);
        grad_a[i] = bound == 0 ? 0 : tt_sat_s16(tt_requantize(product, grad->b_multiplier, q));
    }
}

void tt_mul_bwd_b_s16(int32_t n, const tt_mul_quant_t *quant, const tt_mul_grad_t *grad, const int8_t *a,
                      int32_t b_numel, const int16_t *grad_output, int32_t grad_output_exp, int16_t *grad_b,
                      int32_t *grad_b_exp)
{
    const int64_t positions = n / b_numel;
    const int64_t bound =
        (int64_t)tt_max_abs_s16(grad_output, n) * max_abs_centered(a, n, quant->input1_zp) * positions;
    const int32_t bits = tt_bitlen_u64((uint64_t)bound);
    const int32_t r = bits > 31 ? bits - 31 : 0;
    const int64_t scaled_bound = (bound + ((int64_t)1 << r) - 1) >> r;
    const int32_t q =
        tt_grad_choose_shift(scaled_bound, grad->a_multiplier, grad->a_shift, grad_output_exp + r, grad_b_exp);
    for (int32_t j = 0; j < b_numel; j++) {
        int64_t acc = 0;
        for (int32_t i = j; i < n; i += b_numel) {
            acc += (int64_t)grad_output[i] * (a[i] - quant->input1_zp);
        }
        grad_b[j] = scaled_bound == 0 ? 0 : tt_sat_s16(tt_requantize((int32_t)tt_rdbp64(acc, r), grad->a_multiplier, q));
    }
}
