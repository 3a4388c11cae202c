/**
 * @file avgpool.h
 * @brief Int8 average pooling (e.g. the global 4x4 pool before the classifier).
 */
#ifndef TT_KERNELS_AVGPOOL_H
#define TT_KERNELS_AVGPOOL_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Forward average pooling, TFLite semantics: the mean of the window's in-bounds elements
 * (padding is excluded from the count), rounded half away from zero, then clamped. Input
 * and output share one quantization.
 * @param geom   shapes, window, stride and padding; out_c == in_c
 * @param quant  output clamp
 * @param input  [in_h][in_w][in_c]
 * @param output [out_h][out_w][in_c]; must not overlap the input
 */
void tt_avgpool_fwd_s8(const tt_conv_geom_t *geom, const tt_pool_quant_t *quant, const int8_t *input,
                       int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_AVGPOOL_H */
