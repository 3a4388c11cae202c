/**
 * @file dw_conv2d.h
 * @brief Int8 depthwise convolution (3x3, 5x5, 7x7, ...; any stride; asymmetric padding).
 *
 * Every pass and variant of the op, in one header:
 * forward and input gradient with their in-place variants, weight gradient, the fused update
 * (the variants: docs/KERNELS.md; which one runs: tt/kernels/layer.h).
 */
#ifndef TT_KERNELS_DW_CONV2D_H
#define TT_KERNELS_DW_CONV2D_H

#include "tt/kernels/sgd.h"
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

/* -- in place: output over input (docs/KERNELS.md) ------------------------------------------------- */

/**
 * 1 when tt_dw_conv2d_fwd_inplace_s8() supports @p geom: a valid geometry with depth
 * multiplier 1 (out_c == in_c) and out_h <= in_h, out_w <= in_w (any stride; padding as
 * TFLite's SAME or a folded PAD). Pure.
 */
int tt_dw_conv2d_fwd_inplace_s8_supported(const tt_conv_geom_t *geom);

/** Scratch bytes tt_dw_conv2d_fwd_inplace_s8() needs: the larger of
 *  tt_dw_conv2d_fwd_s8_scratch_size() (the planar path's ring of kernel_h padded rows of four
 *  channels, int16, and their weight tables; 0 where that path does not apply) and
 *  kernel_h * in_w rounded up to 4 (a window of input rows of one channel). The same on every
 *  build. Pure. */
uint32_t tt_dw_conv2d_fwd_inplace_s8_scratch_size(const tt_conv_geom_t *geom);

/**
 * In-place depthwise convolution. Output channel c is written only over input channel c's
 * bytes (NHWC, same channel count), and output pixel p lands on input pixel p; output row oy
 * therefore clobbers no input row at or beyond the window of output row oy. On the Cortex-M7,
 * where tt_dw_conv2d_fwd_s8() takes its planar path (square 3x3/5x5/7x7, horizontal stride 1
 * or 2, in_c >= 4), that path runs over the tensor itself, four channels at a time: its ring
 * holds the kernel_h padded rows under the current window, copied as the window slides and
 * before any write can reach them. The remaining in_c % 4 channels (all of them elsewhere, and
 * on builds without the DSP extension) go one at a time through the same scheme with a window
 * of int8 rows of one channel.
 * @param ctx     scratch of tt_dw_conv2d_fwd_inplace_s8_scratch_size() bytes
 * @param geom    supported per tt_dw_conv2d_fwd_inplace_s8_supported()
 * @param quant   per-channel requantization
 * @param weights [1][kernel_h][kernel_w][in_c]
 * @param bias    [in_c] int32, or NULL
 * @param data    in: [in_h][in_w][in_c]; out: [out_h][out_w][in_c] at the same address
 */
void tt_dw_conv2d_fwd_inplace_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *weights, const int32_t *bias, int8_t *data);

/**
 * 1 when tt_dw_conv2d_bwd_input_inplace_s16() supports @p geom: a valid geometry with depth
 * multiplier 1 (out_c == in_c), stride 1, out_h == in_h and out_w == in_w (so dX has dY's
 * shape; padding as TFLite's SAME or any split of kernel - 1), kernel_h and kernel_w <= 7. Pure.
 */
int tt_dw_conv2d_bwd_input_inplace_s16_supported(const tt_conv_geom_t *geom);

/** Scratch bytes tt_dw_conv2d_bwd_input_inplace_s16() needs: the dY values of one group of
 *  min(in_c, 32) channels (int16) at the (kernel_h - 1 - pad_top) * in_w + kernel_w - pad_left
 *  most recent pixels, the ones already overwritten that later dX pixels still read (640 B for
 *  8x8x192 3x3 SAME); 0 for an unsupported @p geom. Pure. */
uint32_t tt_dw_conv2d_bwd_input_inplace_s16_scratch_size(const tt_conv_geom_t *geom);

/**
 * Input gradient of a depthwise convolution written over its output gradient: the same dX
 * values and exponent as tt_dw_conv2d_bwd_input_s16() (the exponent is chosen from the whole of
 * dY before anything is overwritten). One pass per group of 32 channels, pixels in order: dX
 * pixel p is written over dY pixel p once that pixel's dY is copied into a ring of the recent
 * pixels, which the later dX pixels read where their taps reach back. The group bounds the
 * ring; its size amortizes each pixel's tap list over the group's channels.
 * @param ctx             scratch of tt_dw_conv2d_bwd_input_inplace_s16_scratch_size() bytes
 * @param geom            the forward op's geometry, supported per
 *                        tt_dw_conv2d_bwd_input_inplace_s16_supported()
 * @param quant           the weight scales (tt_grad_quant_t), in_c entries
 * @param grad_output_exp exponent of dY
 * @param weights         [1][kernel_h][kernel_w][in_c], the forward weights
 * @param grad            in: dY [in_h][in_w][in_c]; out: dX, same shape, same address
 * @param grad_input_exp  receives the exponent of dX
 */
void tt_dw_conv2d_bwd_input_inplace_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, int32_t grad_output_exp, const int8_t *weights,
                                        int16_t *grad, int32_t *grad_input_exp);

/* -- fused weight gradient + update (docs/KERNELS.md) ---------------------------------------------- */

/**
 * Fused weight gradient + SGD/QAS step of a depthwise convolution (multiplier 1).
 * @param geom    the forward op's geometry (in_c == out_c: dY's channel count)
 * @param params  K is read: the trained channels index dY and the QAS factors
 * @param input   the compact saved input [in_h][in_w][|K|] (channel j is K[j])
 * @param update  QAS factors per channel (in_c entries, indexed by K[j]); PRNG advanced by
 *                kernel_h * kernel_w * |K|
 * @param weights the trainable slice [kernel_h][kernel_w][|K|]
 * Other parameters as tt_conv2d_bwd_weight_update_s8().
 */
void tt_dw_conv2d_bwd_weight_update_s8(const tt_conv_geom_t *geom, const tt_bwd_weight_params_t *params,
                                       const int8_t *input, const tt_grad_s16_t *grad_output,
                                       const tt_update_t *update, int8_t *weights);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_DW_CONV2D_H */
