/**
 * @file pw_conv2d.h
 * @brief Int8 pointwise (1x1) convolution: a matrix product per pixel, the bulk of the MACs
 *        of inverted-bottleneck networks.
 */
#ifndef TT_KERNELS_PW_CONV2D_H
#define TT_KERNELS_PW_CONV2D_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Scratch bytes tt_pw_conv2d_fwd_s8() needs for @p geom (currently 0). Pure. */
uint32_t tt_pw_conv2d_fwd_s8_scratch_size(const tt_conv_geom_t *geom);

/**
 * Forward pointwise convolution: geom has kernel 1x1 and no padding; any stride.
 * @param ctx     scratch of tt_pw_conv2d_fwd_s8_scratch_size() bytes
 * @param geom    shapes and stride
 * @param quant   per-output-channel requantization (out_c entries)
 * @param input   [in_h][in_w][in_c]
 * @param weights [out_c][1][1][in_c], zero point 0
 * @param bias    [out_c] int32, or NULL
 * @param output  [out_h][out_w][out_c]; must not overlap the input
 */
void tt_pw_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                         const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_PW_CONV2D_H */
