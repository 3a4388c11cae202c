/**
 * @file concat.h
 * @brief Int8 concatenation (TFLite CONCATENATION of tensors sharing a quantization) and its
 *        input gradient, a slice of the output gradient.
 *
 * Along any axis: each input is @p outer rows of inners[k] elements (the elements from the axis
 * on), the output @p outer rows of their sum.
 */
#ifndef TT_KERNELS_CONCAT_H
#define TT_KERNELS_CONCAT_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The inputs' rows side by side (a copy); @p output must not overlap them. */
void tt_concat_s8(int32_t outer, int32_t n_inputs, const int32_t *inners, const int8_t *const *inputs,
                  int8_t *output);

/** Columns [offset, offset + inner) of @p grad seen as @p outer rows of @p total: input k's
 * gradient (same exponent); @p slice must not overlap @p grad. */
void tt_slice_s16(int32_t outer, int32_t total, int32_t offset, int32_t inner, const int16_t *grad, int16_t *slice);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_CONCAT_H */
