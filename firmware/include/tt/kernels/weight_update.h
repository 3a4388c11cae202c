/**
 * @file weight_update.h
 * @brief Fused weight gradient + SGD/QAS update of a sparse update, on the trainable slice.
 *
 * tt_<op>_bwd_weight_s16() followed by tt_sgd_update_s8() needs the whole int32 weight
 * gradient in SRAM (437 KB for a 1000-class head). These kernels produce each gradient element
 * and apply its update at once, so the gradient never exists: no scratch at all. They are
 * bit-identical to the two-kernel sequence on the same weights: the gradient's rounding shift
 * comes from max|dY| over the whole dY before the first element (as in the unfused kernel),
 * and the elements are visited in gradient order, so draw i of the counter-based PRNG
 * (tt_rng_t, a pure function of seed and counter + i) goes to the same weight; on return
 * @c rng->counter has advanced by the gradient's element count, as tt_sgd_update_s8() does.
 *
 * **Trainable slice.** A layer trained on a list K of its input channels keeps, in SRAM, only
 * the weights of those channels, contiguous per output channel in the order of K:
 *   conv2d / pw_conv2d: [out_c][kernel_h][kernel_w][|K|]  (OHWI restricted to K)
 *   fc:                 [out_c][|K|]
 *   dw_conv2d:          [kernel_h][kernel_w][|K|]         (1HWC restricted to K; multiplier 1)
 * which is exactly the gradient layout of tt_<op>_bwd_weight_s16(). The frozen weights stay
 * in flash; the forward reads the slice through tt_conv2d_fwd_overlay_s8() /
 * tt_fc_fwd_overlay_s8() (overlay.h), or the ordinary forward when K is every channel (the
 * slice is then the whole weight tensor in its own layout).
 *
 * **Compact input.** The kernels read the forward input restricted to K, gathered at forward
 * time by tt_gather_channels_s8(): [in_h][in_w][|K|] (fc: [|K|]).
 *
 * Momentum state, when used, has the slice's layout (one int32 per trainable weight).
 */
#ifndef TT_KERNELS_WEIGHT_UPDATE_H
#define TT_KERNELS_WEIGHT_UPDATE_H

#include "tt/kernels/sgd.h"
#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Fused weight gradient + SGD/QAS step of a general convolution (see the file comment).
 * @param geom            the forward op's geometry (geom->in_c is the full input's; unused)
 * @param input_zp        zero point of the saved forward input
 * @param n_channels      |K|, 1 .. in_c
 * @param input           the compact saved input [in_h][in_w][n_channels]
 * @param grad_output     dY (masked), [out_h][out_w][out_c], exponent grad_output_exp
 * @param grad_output_exp exponent of dY
 * @param sgd             learning rate and momentum
 * @param qas             per-output-channel factors s_x / s_W[o] (out_c entries)
 * @param rng             PRNG state, advanced by out_c * kernel_h * kernel_w * n_channels
 * @param velocity        momentum state in the slice's layout, or NULL when momentum is 0
 * @param weights         the trainable slice [out_c][kernel_h][kernel_w][n_channels], updated
 *                        in place and saturated to [-127, 127]
 */
void tt_conv2d_bwd_weight_update_s8(const tt_conv_geom_t *geom, int32_t input_zp, int32_t n_channels,
                                    const int8_t *input, const int16_t *grad_output, int32_t grad_output_exp,
                                    const tt_sgd_t *sgd, const tt_qas_t *qas, tt_rng_t *rng, int32_t *velocity,
                                    int8_t *weights);

/** As tt_conv2d_bwd_weight_update_s8() for a pointwise convolution (1x1, no padding, any
 *  stride); slice [out_c][n_channels]. */
void tt_pw_conv2d_bwd_weight_update_s8(const tt_conv_geom_t *geom, int32_t input_zp, int32_t n_channels,
                                       const int8_t *input, const int16_t *grad_output, int32_t grad_output_exp,
                                       const tt_sgd_t *sgd, const tt_qas_t *qas, tt_rng_t *rng, int32_t *velocity,
                                       int8_t *weights);

/**
 * Fused weight gradient + SGD/QAS step of a depthwise convolution (multiplier 1).
 * @param geom       the forward op's geometry (in_c == out_c: dY's channel count)
 * @param channels   K: the trained channels (they index dY and the QAS factors), n_channels entries
 * @param input      the compact saved input [in_h][in_w][n_channels] (channel j is channels[j])
 * @param qas        per-channel factors s_x / s_W[c] (in_c entries), indexed by channels[j]
 * @param rng        advanced by kernel_h * kernel_w * n_channels
 * @param weights    the trainable slice [kernel_h][kernel_w][n_channels]
 * Other parameters as tt_conv2d_bwd_weight_update_s8().
 */
void tt_dw_conv2d_bwd_weight_update_s8(const tt_conv_geom_t *geom, int32_t input_zp, const int16_t *channels,
                                       int32_t n_channels, const int8_t *input, const int16_t *grad_output,
                                       int32_t grad_output_exp, const tt_sgd_t *sgd, const tt_qas_t *qas,
                                       tt_rng_t *rng, int32_t *velocity, int8_t *weights);

/**
 * Fused weight gradient + SGD/QAS step of a fully connected layer.
 * @param geom       in_c (full, unused) and out_c
 * @param input      the compact saved input [n_channels]
 * @param grad_output dY [out_c]
 * @param rng        advanced by out_c * n_channels
 * @param weights    the trainable slice [out_c][n_channels]
 * Other parameters as tt_conv2d_bwd_weight_update_s8().
 */
void tt_fc_bwd_weight_update_s8(const tt_fc_geom_t *geom, int32_t input_zp, int32_t n_channels, const int8_t *input,
                                const int16_t *grad_output, int32_t grad_output_exp, const tt_sgd_t *sgd,
                                const tt_qas_t *qas, tt_rng_t *rng, int32_t *velocity, int8_t *weights);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_WEIGHT_UPDATE_H */
