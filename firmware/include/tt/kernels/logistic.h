/**
 * @file logistic.h
 * @brief Int8 logistic, 1 / (1 + exp(-x)) (TFLite LOGISTIC: output scale 1/256, zero point
 * -128), and its input gradient.
 */
#ifndef TT_KERNELS_LOGISTIC_H
#define TT_KERNELS_LOGISTIC_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Forward logistic, bit-exact with TFLite Micro's int8 kernel: the input rescaled to Q4.27 and
 * gemmlowp's fixed-point logistic. @p output may be @p input (elementwise).
 */
void tt_logistic_fwd_s8(int32_t n, const tt_logistic_quant_t *quant, const int8_t *input, int8_t *output);

/**
 * Input gradient: dX = dY * s(1 - s) with s the forward's int8 output of the input x, exactly
 * (s + 128)(128 - s) in Q16, rounded once by the shift that keeps max|dY| / 4 within 15 bits;
 * *grad_input_exp = grad_output_exp - 16 + shift. @p grad_input may be @p grad_output.
 */
void tt_logistic_bwd_input_s16(int32_t n, const tt_logistic_quant_t *quant, const int8_t *input,
                               const int16_t *grad_output, int32_t grad_output_exp, int16_t *grad_input,
                               int32_t *grad_input_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_LOGISTIC_H */
