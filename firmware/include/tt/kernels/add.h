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

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_ADD_H */
