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

/** Scratch bytes tt_pw_conv2d_fwd_s8() needs for @p geom: two input rows widened to int16 and
 * a requantization table for a chunk of output channels. Pure. */
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

/** Scratch bytes tt_pw_conv2d_bwd_input_s16() needs: the larger of in_c int32 + out_c int16
 *  (rounded up to 4; the portable loop) and 2 x out_c int16 with out_c rounded up to even (two
 *  interleaved dY rows; the Cortex-M7 loop), on every build. Pure. */
uint32_t tt_pw_conv2d_bwd_input_s16_scratch_size(const tt_conv_geom_t *geom);

/**
 * Input gradient of a pointwise convolution (any stride; unsampled input pixels get 0).
 *
 * Gradients are int16 values with one power-of-two exponent per tensor (real = v * 2^exp).
 * The output exponent is chosen in this call, before accumulating, from the bound
 * max|dY| * (largest sum of |W| that reaches one input element), so no value saturates (up to
 * one rounding step) and the int32 accumulators cannot overflow (dY is pre-shifted if they
 * could). Stateless and deterministic: tt_host.reference.backward_int computes the same bits.
 * @param ctx             scratch of tt_pw_conv2d_bwd_input_s16_scratch_size() bytes
 * @param geom            the forward op's geometry
 * @param quant           the weight scales (tt_grad_quant_t), out_c entries
 * @param grad_output     dY, shaped like the forward output
 * @param grad_output_exp exponent of dY
 * @param weights         the forward weights (layout as the forward kernel)
 * @param grad_input      dX, shaped like the forward input; must not overlap dY
 * @param grad_input_exp  receives the exponent of dX
 */
void tt_pw_conv2d_bwd_input_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_grad_quant_t *quant,
                                const int16_t *grad_output, int32_t grad_output_exp, const int8_t *weights,
                                int16_t *grad_input, int32_t *grad_input_exp);

/**
 * Weight gradient of pw_conv2d for a subset of input channels (sparse update), accumulated exactly
 * in int64 and stored as int32 with its own exponent: real dW = v * s_x * 2^exp, where s_x is
 * the input scale (folded into the QAS factor by the update). The exponent is dY's unless
 * max|dY| * (128 + |zp|) * out_h * out_w exceeds int32 (outputs larger than about 16x16).
 * @param geom             the forward op's geometry
 * @param params           the saved input's zero point and the trained input channels K
 * @param input            the saved forward input (all in_c channels)
 * @param grad_output      dY (masked), int16, with its exponent
 * @param grad_weights     [out_c][|K|]
 * @param grad_weights_exp receives the exponent of dW
 */
void tt_pw_conv2d_bwd_weight_s16(const tt_conv_geom_t *geom, const tt_bwd_weight_params_t *params, const int8_t *input,
                                 const tt_grad_s16_t *grad_output, int32_t *grad_weights, int32_t *grad_weights_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_PW_CONV2D_H */
