/**
 * @file mul.h
 * @brief Int8 elementwise multiply with broadcasting (TFLite MUL: squeeze-excite gates, scalar
 *        factors) and its input gradients.
 *
 * The second operand b broadcasts over the first: element i of a meets b[i % b_numel], so
 * b_numel = n is the same shape, b_numel = channels a per-channel gate of an HWC tensor, and
 * b_numel = 1 a scalar.
 */
#ifndef TT_KERNELS_MUL_H
#define TT_KERNELS_MUL_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Forward MUL, bit-exact with TFLite Micro. @p output may be @p a. */
void tt_mul_fwd_s8(int32_t n, const tt_mul_quant_t *quant, const int8_t *a, const int8_t *b, int32_t b_numel,
                   int8_t *output);

/**
 * Gradient of a: dA = dY * s_b (b - zp_b), rounded once (tt_grad_choose_shift on the bound
 * max|dY| * max|b - zp_b|). @p grad_a may be @p grad_output.
 */
void tt_mul_bwd_a_s16(int32_t n, const tt_mul_quant_t *quant, const tt_mul_grad_t *grad, const int8_t *b,
                      int32_t b_numel, const int16_t *grad_output, int32_t grad_output_exp, int16_t *grad_a,
                      int32_t *grad_a_exp);

/**
 * Gradient of b: dB[j] = sum over the i with i % b_numel == j of dY[i] * s_a (a[i] - zp_a), in
 * int64, brought under 2^31 by one rounding shift from the bound max|dY| * max|a - zp_a| *
 * (n / b_numel), then scaled once. b_numel values.
 */
void tt_mul_bwd_b_s16(int32_t n, const tt_mul_quant_t *quant, const tt_mul_grad_t *grad, const int8_t *a,
                      int32_t b_numel, const int16_t *grad_output, int32_t grad_output_exp, int16_t *grad_b,
                      int32_t *grad_b_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_MUL_H */
