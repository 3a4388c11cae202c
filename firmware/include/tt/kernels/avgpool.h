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

/**
 * Input gradient of average pooling: each window's dY is shared equally by its in-bounds
 * elements (padding is excluded, as in the forward). Computed as sum dY * round(2^30 / count)
 * in int64 and rounded once; the exponent comes from the bound max|dY| * windows-per-element
 * * 2^30 / smallest count, so a global 4x4 pool keeps all 15 bits.
 * @param geom            the forward geometry (out_c == in_c)
 * @param grad_output     dY [out_h][out_w][c], exponent grad_output_exp
 * @param grad_input      dX [in_h][in_w][c]
 * @param grad_input_exp  receives the exponent of dX
 */
void tt_avgpool_bwd_input_s16(const tt_conv_geom_t *geom, const int16_t *grad_output, int32_t grad_output_exp,
                              int16_t *grad_input, int32_t *grad_input_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_AVGPOOL_H */
