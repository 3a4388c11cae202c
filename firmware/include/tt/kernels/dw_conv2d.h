/**
 * @file dw_conv2d.h
 * @brief Int8 depthwise convolution (3x3, 5x5, 7x7, ...; any stride; asymmetric padding).
 */
#ifndef TT_KERNELS_DW_CONV2D_H
#define TT_KERNELS_DW_CONV2D_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Scratch bytes tt_dw_conv2d_fwd_s8() needs for @p geom (currently 0). Pure. */
uint32_t tt_dw_conv2d_fwd_s8_scratch_size(const tt_conv_geom_t *geom);

/**
 * Forward depthwise convolution. out_c must be a multiple of in_c (the depth multiplier);
 * output channel ic * multiplier + m reads input channel ic.
 * @param ctx     scratch of tt_dw_conv2d_fwd_s8_scratch_size() bytes
 * @param geom    shapes, stride and padding
 * @param quant   per-output-channel requantization (out_c entries)
 * @param input   [in_h][in_w][in_c]
 * @param weights [1][kernel_h][kernel_w][out_c] (1HWC), zero point 0
 * @param bias    [out_c] int32, or NULL
 * @param output  [out_h][out_w][out_c]; must not overlap the input
 */
void tt_dw_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                         const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_DW_CONV2D_H */
