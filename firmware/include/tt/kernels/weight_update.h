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

/** One SGD/QAS step of a trainable slice: the rate, the factors, the PRNG, the momentum state. */
typedef struct {
    const tt_sgd_t *sgd; /**< Learning rate (and its step bound) and momentum. */
    const tt_qas_t *qas; /**< Per-output-channel factors s_x / s_W[o] (depthwise: per channel). */
    tt_rng_t *rng;       /**< PRNG state, advanced by the slice's element count. */
    int32_t *velocity;   /**< Momentum state in the slice's layout, or NULL when momentum is 0. */
} tt_update_t;

/**
 * Fused weight gradient + SGD/QAS step of a general convolution (see the file comment).
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

/** As tt_conv2d_bwd_weight_update_s8() for a pointwise convolution (1x1, no padding, any
 *  stride); slice [out_c][|K|]. */
void tt_pw_conv2d_bwd_weight_update_s8(const tt_conv_geom_t *geom, const tt_bwd_weight_params_t *params,
                                       const int8_t *input, const tt_grad_s16_t *grad_output,
                                       const tt_update_t *update, int8_t *weights);

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

#endif /* TT_KERNELS_WEIGHT_UPDATE_H */
