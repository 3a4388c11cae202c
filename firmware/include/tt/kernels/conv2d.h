/**
 * @file conv2d.h
 * @brief General int8 convolution (any kernel, stride, asymmetric padding), e.g. the 3x3
 *        stride-2 stem on a 3-channel image.
 */
#ifndef TT_KERNELS_CONV2D_H
#define TT_KERNELS_CONV2D_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Scratch bytes tt_conv2d_fwd_s8() needs for @p geom: 2 * kernel_h * kernel_w * in_c * 2
 * (two int16 im2col columns). Pure and identical on every build, so the host planner reserves
 * what the Cortex-M7 build uses.
 */
uint32_t tt_conv2d_fwd_s8_scratch_size(const tt_conv_geom_t *geom);

/**
 * Forward convolution.
 * @param ctx     scratch of tt_conv2d_fwd_s8_scratch_size() bytes
 * @param geom    shapes, stride and padding (valid per tt_conv_geom_check())
 * @param quant   per-output-channel requantization (out_c entries)
 * @param input   [in_h][in_w][in_c]
 * @param weights [out_c][kernel_h][kernel_w][in_c] (OHWI), zero point 0
 * @param bias    [out_c] int32, or NULL for none
 * @param output  [out_h][out_w][out_c]; must not overlap the input
 */
void tt_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                      const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_CONV2D_H */
