/**
 * @file conv2d.h
 * @brief General int8 convolution (any kernel, stride, asymmetric padding), e.g. the 3x3
 *        stride-2 stem on a 3-channel image.
 *
 * Every pass and variant of the op, in one header:
 * forward, its overlay for a partially trained layer, input and weight gradients, the fused update
 * (the variants: docs/KERNELS.md; which one runs: tt/kernels/layer.h).
 */
#ifndef TT_KERNELS_CONV2D_H
#define TT_KERNELS_CONV2D_H

#include "tt/kernels/sgd.h"
#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Scratch bytes tt_conv2d_fwd_s8() needs for @p geom: with n4 = kernel_h * kernel_w * in_c
 * rounded up to a multiple of 4, 2 * n4 * 2 (two int16 im2col columns) plus 2 * n4 (the two
 * int8 windows they are widened from), plus ceil(out_c / 2) * 4 * n4 (the weights widened to
 * int16) when that is at most 1024 and kernel_h * kernel_w * in_c is in [4, 256]. Pure and identical on every build, so the
 * host planner reserves what the Cortex-M7 build uses.
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

/**
 * Scratch bytes tt_conv2d_bwd_input_s16() needs: in_c int32 accumulators + out_c int16
 * (prescaled dY), rounded up to 4. Pure.
 */
uint32_t tt_conv2d_bwd_input_s16_scratch_size(const tt_conv_geom_t *geom);

/**
 * Input gradient of a general convolution (transposed convolution; gather form, one input pixel at a time).
 *
 * Gradients are int16 values with one power-of-two exponent per tensor (real = v * 2^exp).
 * The output exponent is chosen in this call, before accumulating, from the bound
 * max|dY| * (largest sum of |W| that reaches one input element), so no value saturates (up to
 * one rounding step) and the int32 accumulators cannot overflow (dY is pre-shifted if they
 * could). Stateless and deterministic: tt_host.reference.backward_int computes the same bits.
 * @param ctx             scratch of tt_conv2d_bwd_input_s16_scratch_size() bytes
 * @param geom            the forward op's geometry
 * @param quant           the weight scales (tt_grad_quant_t), out_c entries
 * @param grad_output     dY, shaped like the forward output
 * @param grad_output_exp exponent of dY
 * @param weights         the forward weights (layout as the forward kernel)
 * @param grad_input      dX, shaped like the forward input; must not overlap dY
 * @param grad_input_exp  receives the exponent of dX
 */
void tt_conv2d_bwd_input_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_grad_quant_t *quant,
                             const int16_t *grad_output, int32_t grad_output_exp, const int8_t *weights,
                             int16_t *grad_input, int32_t *grad_input_exp);

/**
 * Weight gradient of conv2d for a subset of input channels (sparse update), accumulated exactly
 * in int64 and stored as int32 with its own exponent: real dW = v * s_x * 2^exp, where s_x is
 * the input scale (folded into the QAS factor by the update). The exponent is dY's unless
 * max|dY| * (128 + |zp|) * out_h * out_w exceeds int32 (outputs larger than about 16x16).
 * @param geom             the forward op's geometry
 * @param params           the saved input's zero point and the trained input channels K
 * @param input            the saved forward input (all in_c channels)
 * @param grad_output      dY (masked), int16, with its exponent
 * @param grad_weights     [out_c][kernel_h][kernel_w][|K|]
 * @param grad_weights_exp receives the exponent of dW
 */
void tt_conv2d_bwd_weight_s16(const tt_conv_geom_t *geom, const tt_bwd_weight_params_t *params, const int8_t *input,
                              const tt_grad_s16_t *grad_output, int32_t *grad_weights, int32_t *grad_weights_exp);

/* -- overlay: a partially trained layer (docs/KERNELS.md) ------------------------------------------ */

/** Scratch bytes tt_conv2d_fwd_overlay_s8() needs: kernel_h * kernel_w * in_c (one merged
 *  weight row), rounded up to 4. Pure. */
uint32_t tt_conv2d_fwd_overlay_s8_scratch_size(const tt_conv_geom_t *geom);

/**
 * Forward convolution (general or pointwise) with a trainable overlay.
 * @param ctx        scratch of tt_conv2d_fwd_overlay_s8_scratch_size() bytes
 * @param geom       shapes, stride and padding (valid per tt_conv_geom_check())
 * @param quant      per-output-channel requantization (out_c entries)
 * @param input      [in_h][in_w][in_c]
 * @param weights    the frozen tensor [out_c][kernel_h][kernel_w][in_c] (flash); its values at
 *                   the channels of K are ignored
 * @param channels   K: the trained input channels (distinct, any order), n_channels entries
 * @param n_channels 0 .. in_c (0: plain forward)
 * @param trained    the slice [out_c][kernel_h][kernel_w][n_channels]
 * @param bias       [out_c] int32, or NULL
 * @param output     [out_h][out_w][out_c]; must not overlap the input
 */
void tt_conv2d_fwd_overlay_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                              const int8_t *input, const int8_t *weights, const int16_t *channels, int32_t n_channels,
                              const int8_t *trained, const int32_t *bias, int8_t *output);

/* -- fused weight gradient + update (docs/KERNELS.md) ---------------------------------------------- */

/**
 * Fused weight gradient + SGD/QAS step of a general convolution (docs/KERNELS.md: the gradient
 * never exists; bit-identical to tt_conv2d_bwd_weight_s16() then tt_sgd_update_s8()).
 * @param geom        the forward op's geometry (geom->in_c is the full input's; unused)
 * @param params      the saved input's zero point and the trained channels K (only K's count
 *                    is read: the input is compact)
 * @param input       the compact saved input [in_h][in_w][|K|]
 * @param grad_output dY (masked), [out_h][out_w][out_c], with its exponent
 * @param update      rate, QAS factors (out_c entries), PRNG (advanced by out_c * kernel_h *
 *                    kernel_w * |K|) and momentum state
 * @param weights     the trainable slice [out_c][kernel_h][kernel_w][|K|], updated in place and
 *                    saturated to [-127, 127]
 */
void tt_conv2d_bwd_weight_update_s8(const tt_conv_geom_t *geom, const tt_bwd_weight_params_t *params,
                                    const int8_t *input, const tt_grad_s16_t *grad_output, const tt_update_t *update,
                                    int8_t *weights);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_CONV2D_H */
