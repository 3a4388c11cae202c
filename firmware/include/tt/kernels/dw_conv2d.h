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

/** Scratch bytes tt_dw_conv2d_fwd_s8() needs for @p geom: the DSP path's ring of padded input
 * rows and its requantization table (0 where the portable path runs). Pure. */
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

/** Scratch bytes tt_dw_conv2d_bwd_input_s16() needs: 0. Pure. */
uint32_t tt_dw_conv2d_bwd_input_s16_scratch_size(const tt_conv_geom_t *geom);

/**
 * Input gradient of a depthwise convolution with depth multiplier 1 (out_c == in_c); the per-
 * channel scale ratio is applied to the accumulator.
 *
 * Gradients are int16 values with one power-of-two exponent per tensor (real = v * 2^exp).
 * The output exponent is chosen in this call, before accumulating, from the bound
 * max|dY| * (largest sum of |W| that reaches one input element), so no value saturates (up to
 * one rounding step) and the int32 accumulators cannot overflow (dY is pre-shifted if they
 * could). Stateless and deterministic: tt_host.reference.backward_int computes the same bits.
 * @param ctx             scratch of tt_dw_conv2d_bwd_input_s16_scratch_size() bytes
 * @param geom            the forward op's geometry
 * @param quant           the weight scales (tt_grad_quant_t), out_c entries
 * @param grad_output     dY, shaped like the forward output
 * @param grad_output_exp exponent of dY
 * @param weights         the forward weights (layout as the forward kernel)
 * @param grad_input      dX, shaped like the forward input; must not overlap dY
 * @param grad_input_exp  receives the exponent of dX
 */
void tt_dw_conv2d_bwd_input_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_grad_quant_t *quant,
                                const int16_t *grad_output, int32_t grad_output_exp, const int8_t *weights,
                                int16_t *grad_input, int32_t *grad_input_exp);

/**
 * Weight gradient of dw_conv2d for a subset of input channels (sparse update), accumulated exactly
 * in int64 and stored as int32 with its own exponent: real dW = v * s_x * 2^exp, where s_x is
 * the input scale (folded into the QAS factor by the update). The exponent is dY's unless
 * max|dY| * (128 + |zp|) * out_h * out_w exceeds int32 (outputs larger than about 16x16). Depth multiplier 1.
 * @param geom             the forward op's geometry
 * @param params           the saved input's zero point and the trained input channels K
 * @param input            the saved forward input (all in_c channels)
 * @param grad_output      dY (masked), int16, with its exponent
 * @param grad_weights     [kernel_h][kernel_w][|K|] (1HWC order)
 * @param grad_weights_exp receives the exponent of dW
 */
void tt_dw_conv2d_bwd_weight_s16(const tt_conv_geom_t *geom, const tt_bwd_weight_params_t *params, const int8_t *input,
                                 const tt_grad_s16_t *grad_output, int32_t *grad_weights, int32_t *grad_weights_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_DW_CONV2D_H */
