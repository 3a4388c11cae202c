/**
 * @file add.h
 * @brief Int8 elementwise (residual) add with TFLite's int8 ADD arithmetic.
 */
#ifndef TT_KERNELS_ADD_H
#define TT_KERNELS_ADD_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Forward add of two tensors of the same shape (no broadcasting).
 * @param size   number of elements
 * @param quant  zero points and multipliers (see tt_add_quant_t)
 * @param input1 [size]
 * @param input2 [size]
 * @param output [size]; may alias either input (elementwise, read before write)
 */
void tt_add_fwd_s8(int32_t size, const tt_add_quant_t *quant, const int8_t *input1, const int8_t *input2,
                   int8_t *output);

/**
 * Backward of a residual ADD. An ADD's real output is the sum of its real inputs, so both
 * addends receive dY unchanged: the fan-out needs no kernel (the plan aliases dY). Where the
 * skip tensor also fed the residual block, its gradient is dY plus the gradient that came back
 * through the block; this kernel forms that sum. Both are aligned to the larger exponent (the
 * other rounded half away from zero), summed exactly, and halved only when the exact maximum
 * exceeds int16.
 * @param size            elements
 * @param grad_output     dY of the ADD, exponent grad_output_exp
 * @param grad_other      the gradient arriving through the block, exponent grad_other_exp
 * @param grad_input      the skip input's gradient; may alias either input
 * @param grad_input_exp  receives its exponent
 */
void tt_add_bwd_input_s16(int32_t size, const int16_t *grad_output, int32_t grad_output_exp, const int16_t *grad_other,
                          int32_t grad_other_exp, int16_t *grad_input, int32_t *grad_input_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_ADD_H */
