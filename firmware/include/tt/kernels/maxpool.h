/**
 * @file maxpool.h
 * @brief Int8 max pooling (TFLite MAX_POOL_2D) and its input gradient.
 */
#ifndef TT_KERNELS_MAXPOOL_H
#define TT_KERNELS_MAXPOOL_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Forward max pooling, TFLite semantics: the largest in-bounds element of each window (padding
 * never counts), then clamped. Input and output share one quantization.
 * @param geom   shapes, window, stride and padding; out_c == in_c
 * @param quant  output clamp
 * @param input  [in_h][in_w][in_c]
 * @param output [out_h][out_w][in_c]; must not overlap the input
 */
void tt_maxpool_fwd_s8(const tt_conv_geom_t *geom, const tt_pool_quant_t *quant, const int8_t *input,
                       int8_t *output);

/**
 * Input gradient of max pooling: each window's dY goes to the window's first maximum of the
 * forward input in row-major window order (the float derivative picks one element; ties, common
 * in int8, go to the first). Computed per input element, so no scratch: an element sums the dY
 * of the windows it wins, and the sum is rounded once by the shift that keeps
 * max|dY| * windows-per-element within 15 bits (none for non-overlapping windows).
 * @param geom            the forward geometry (out_c == in_c)
 * @param input           the forward input x [in_h][in_w][c]
 * @param grad_output     dY [out_h][out_w][c], exponent grad_output_exp
 * @param grad_input      dX [in_h][in_w][c]
 * @param grad_input_exp  receives the exponent of dX
 */
void tt_maxpool_bwd_input_s16(const tt_conv_geom_t *geom, const int8_t *input, const int16_t *grad_output,
                              int32_t grad_output_exp, int16_t *grad_input, int32_t *grad_input_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_MAXPOOL_H */
