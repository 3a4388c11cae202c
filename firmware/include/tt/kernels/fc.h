/**
 * @file fc.h
 * @brief Int8 fully connected layer with per-output-channel weight scales (TFLite Micro's
 *        per-channel FULLY_CONNECTED, double rounding).
 *
 * Every pass and variant of the op, in one header:
 * forward and its overlay, input and weight gradients, the fused update
 * (the variants: docs/KERNELS.md; which one runs: tt/kernels/layer.h).
 */
#ifndef TT_KERNELS_FC_H
#define TT_KERNELS_FC_H

#include "tt/kernels/sgd.h"
#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Scratch bytes tt_fc_fwd_s8() needs for @p geom (currently 0). Pure. */
uint32_t tt_fc_fwd_s8_scratch_size(const tt_fc_geom_t *geom);

/**
 * Forward fully connected layer (batch 1).
 * @param ctx     scratch of tt_fc_fwd_s8_scratch_size() bytes
 * @param geom    in_c, out_c
 * @param quant   per-output-channel requantization (out_c entries)
 * @param input   [in_c]
 * @param weights [out_c][in_c], zero point 0
 * @param bias    [out_c] int32, or NULL
 * @param output  [out_c]
 */
void tt_fc_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_conv_quant_t *quant,
                  const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output);

/** Scratch bytes tt_fc_bwd_input_s16() needs: in_c int32 + out_c int16, rounded up to 4. Pure. */
uint32_t tt_fc_bwd_input_s16_scratch_size(const tt_fc_geom_t *geom);

/**
 * Input gradient of a fully connected layer.
 *
 * Gradients are int16 values with one power-of-two exponent per tensor (real = v * 2^exp).
 * The output exponent is chosen in this call, before accumulating, from the bound
 * max|dY| * (largest sum of |W| that reaches one input element), so no value saturates (up to
 * one rounding step) and the int32 accumulators cannot overflow (dY is pre-shifted if they
 * could). Stateless and deterministic: tt_host.reference.backward_int computes the same bits.
 * @param ctx             scratch of tt_fc_bwd_input_s16_scratch_size() bytes
 * @param geom            the forward op's geometry
 * @param quant           the weight scales (tt_grad_quant_t), out_c entries
 * @param grad_output     dY, shaped like the forward output
 * @param grad_output_exp exponent of dY
 * @param weights         the forward weights (layout as the forward kernel)
 * @param grad_input      dX, shaped like the forward input; must not overlap dY
 * @param grad_input_exp  receives the exponent of dX
 */
void tt_fc_bwd_input_s16(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_grad_quant_t *quant,
                         const int16_t *grad_output, int32_t grad_output_exp, const int8_t *weights,
                         int16_t *grad_input, int32_t *grad_input_exp);

/**
 * Weight gradient of fc for a subset of input channels (sparse update), accumulated exactly
 * in int64 and stored as int32 with its own exponent: real dW = v * s_x * 2^exp, where s_x is
 * the input scale (folded into the QAS factor by the update). The exponent is dY's unless
 * max|dY| * (128 + |zp|) * out_h * out_w exceeds int32 (outputs larger than about 16x16).
 * @param geom             the forward op's geometry
 * @param params           the saved input's zero point and the trained input channels K
 * @param input            the saved forward input (all in_c channels)
 * @param grad_output      dY (masked), int16, with its exponent
 * @param grad_weights     [out_c][|K|] (always exact: the exponent is dY's)
 * @param grad_weights_exp receives the exponent of dW
 */
void tt_fc_bwd_weight_s16(const tt_fc_geom_t *geom, const tt_bwd_weight_params_t *params, const int8_t *input,
                          const tt_grad_s16_t *grad_output, int32_t *grad_weights, int32_t *grad_weights_exp);

/* -- overlay: a partially trained layer (docs/KERNELS.md) ------------------------------------------ */

/** Scratch bytes tt_fc_fwd_overlay_s8() needs: in_c (one merged row), rounded up to 4. Pure. */
uint32_t tt_fc_fwd_overlay_s8_scratch_size(const tt_fc_geom_t *geom);

/**
 * Forward fully connected layer with a trainable overlay (as tt_conv2d_fwd_overlay_s8()).
 * @param weights  the frozen tensor [out_c][in_c]
 * @param trained  the slice [out_c][n_channels]
 */
void tt_fc_fwd_overlay_s8(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_conv_quant_t *quant,
                          const int8_t *input, const int8_t *weights, const int16_t *channels, int32_t n_channels,
                          const int8_t *trained, const int32_t *bias, int8_t *output);

/* -- fused weight gradient + update (docs/KERNELS.md) ---------------------------------------------- */

/**
 * Fused weight gradient + SGD/QAS step of a fully connected layer.
 * @param geom        in_c (full, unused) and out_c
 * @param input       the compact saved input [|K|]
 * @param grad_output dY [out_c]
 * @param update      PRNG advanced by out_c * |K|
 * @param weights     the trainable slice [out_c][|K|]
 * Other parameters as tt_conv2d_bwd_weight_update_s8().
 */
void tt_fc_bwd_weight_update_s8(const tt_fc_geom_t *geom, const tt_bwd_weight_params_t *params, const int8_t *input,
                                const tt_grad_s16_t *grad_output, const tt_update_t *update, int8_t *weights);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_FC_H */
