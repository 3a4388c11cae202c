/**
 * @file hard_swish.h
 * @brief Int8 hard swish, x * relu6(x + 3) / 6 (TFLite HARD_SWISH), and its input gradient.
 */
#ifndef TT_KERNELS_HARD_SWISH_H
#define TT_KERNELS_HARD_SWISH_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Forward hard swish, bit-exact with TFLite Micro's int8 kernel (its 16-bit fixed point step by
 * step). @p output may be @p input (elementwise).
 */
void tt_hard_swish_fwd_s8(int32_t n, const tt_hard_swish_quant_t *quant, const int8_t *input, int8_t *output);

/**
 * Input gradient: dX = dY * h'(x) for the forward input x (tt_hard_swish_grad_t), rounded once by
 * the shift that keeps max|dY| * 1.5 within 15 bits; *grad_input_exp = grad_output_exp - 14 + shift.
 * @p grad_input may be @p grad_output.
 */
void tt_hard_swish_bwd_input_s16(int32_t n, const tt_hard_swish_grad_t *grad, const int8_t *input,
                                 const int16_t *grad_output, int32_t grad_output_exp, int16_t *grad_input,
                                 int32_t *grad_input_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_HARD_SWISH_H */
