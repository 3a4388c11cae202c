/**
 * @file pw_conv2d.h
 * @brief Int8 pointwise (1x1) convolution: a matrix product per pixel, the bulk of the MACs
 *        of inverted-bottleneck networks.
 *
 * Every pass and variant of the op, in one header:
 * forward and its in-place variant, input gradient and its overlay, weight gradient, the fused update
 * (the variants: docs/KERNELS.md; which one runs: tt/kernels/layer.h).
 */
#ifndef TT_KERNELS_PW_CONV2D_H
#define TT_KERNELS_PW_CONV2D_H

#include "tt/kernels/sgd.h"
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

/* -- in place: output over input (docs/KERNELS.md) ------------------------------------------------- */

/** Input pixels tt_pw_conv2d_fwd_inplace_s8() copies aside per chunk, where a run of pixels
 *  cannot be computed on the tensor itself. */
#define TT_PW_INPLACE_PIXELS 4

/** Pixels tt_pw_conv2d_fwd_inplace_s8() computes per call of tt_pw_conv2d_fwd_s8() directly on
 *  the tensor (stride 1), at most. */
#define TT_PW_INPLACE_RUN 128

/**
 * 1 when tt_pw_conv2d_fwd_inplace_s8() supports @p geom: a valid pointwise geometry (1x1, no
 * padding, any stride) with out_c <= in_c (a projection). Pure.
 */
int tt_pw_conv2d_fwd_inplace_s8_supported(const tt_conv_geom_t *geom);

/** Scratch bytes tt_pw_conv2d_fwd_inplace_s8() needs: TT_PW_INPLACE_PIXELS input pixels
 *  (4 * in_c) plus the largest tt_pw_conv2d_fwd_s8() scratch over the runs it calls that kernel
 *  on (1 .. TT_PW_INPLACE_RUN pixels at stride 1, 1 .. TT_PW_INPLACE_PIXELS otherwise, at most
 *  the layer's pixels), each rounded up to 4. Pure. */
uint32_t tt_pw_conv2d_fwd_inplace_s8_scratch_size(const tt_conv_geom_t *geom);

/**
 * In-place pointwise projection (out_c <= in_c). Output pixel p is computed from input pixel
 * q(p) >= p and occupies bytes below (p + 1) * in_c, so computing pixels in order never reaches
 * an input pixel a later output reads. At stride 1, a run of pixels [p, p + n) whose outputs
 * end at or below its inputs' start ((p + n) * out_c <= p * in_c) is computed by
 * tt_pw_conv2d_fwd_s8() on the tensor itself, up to TT_PW_INPLACE_RUN pixels per call (for a
 * projection the runs grow geometrically after the first pixels); otherwise
 * TT_PW_INPLACE_PIXELS input pixels are copied aside first (their own bytes may be overwritten)
 * and tt_pw_conv2d_fwd_s8() runs on the copy.
 * @param ctx     scratch of tt_pw_conv2d_fwd_inplace_s8_scratch_size() bytes
 * @param geom    supported per tt_pw_conv2d_fwd_inplace_s8_supported()
 * @param weights [out_c][1][1][in_c]
 * @param bias    [out_c] int32, or NULL
 * @param data    in: [in_h][in_w][in_c]; out: [out_h][out_w][out_c] at the same address
 */
void tt_pw_conv2d_fwd_inplace_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *weights, const int32_t *bias, int8_t *data);

/* -- overlay: a partially trained layer (docs/KERNELS.md); its forward is tt_conv2d_fwd_overlay_s8() ---- */

/** Scratch bytes tt_pw_conv2d_bwd_input_overlay_s16() needs: tt_pw_conv2d_bwd_input_s16_scratch_size()
 *  plus one bit per input channel (rounded up to 32-bit words). Pure. */
uint32_t tt_pw_conv2d_bwd_input_overlay_s16_scratch_size(const tt_conv_geom_t *geom);

/**
 * Input gradient of a partially trained pointwise convolution, reading the frozen tensor and
 * the trained slice where they lie: bit-identical to tt_pw_conv2d_bwd_input_s16() on the merged
 * tensor (same weight bound, same int32 sums, same requantization), without the merged tensor
 * (out_c * in_c bytes: 55,296 B for MCUNet-5fps conv 39 on the published 99kb scheme).
 * @param ctx             scratch of tt_pw_conv2d_bwd_input_overlay_s16_scratch_size() bytes; with
 *                        n_channels 0, tt_pw_conv2d_bwd_input_s16_scratch_size() is enough
 * @param geom            the forward op's geometry (1x1, any stride)
 * @param quant           the weight scales (tt_grad_quant_t), out_c entries
 * @param grad_output     dY, shaped like the forward output; exponent grad_output_exp
 * @param weights         the frozen tensor [out_c][in_c]; its values at the channels of K are ignored
 * @param channels        K: the trained input channels (distinct, any order), n_channels entries
 * @param n_channels      0 .. in_c (0: the plain input gradient)
 * @param trained         the slice [out_c][n_channels]
 * @param grad_input      dX, shaped like the forward input; must not overlap dY
 * @param grad_input_exp  receives the exponent of dX
 */
void tt_pw_conv2d_bwd_input_overlay_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, const int16_t *grad_output,
                                        int32_t grad_output_exp, const int8_t *weights, const int16_t *channels,
                                        int32_t n_channels, const int8_t *trained, int16_t *grad_input,
                                        int32_t *grad_input_exp);

/* -- fused weight gradient + update (docs/KERNELS.md) ---------------------------------------------- */

/** As tt_conv2d_bwd_weight_update_s8() for a pointwise convolution (1x1, no padding, any
 *  stride); slice [out_c][|K|]. */
void tt_pw_conv2d_bwd_weight_update_s8(const tt_conv_geom_t *geom, const tt_bwd_weight_params_t *params,
                                       const int8_t *input, const tt_grad_s16_t *grad_output,
                                       const tt_update_t *update, int8_t *weights);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_PW_CONV2D_H */
