/**
 * @file sgd.h
 * @brief SGD with Quantization-Aware Scaling on int8 weights and int32 biases, stochastic
 *        rounding from a counter-based PRNG shared with tt_host.reference.update.
 *
 * With W = s_W * W_int the int8 graph's gradient/weight ratio is off by s_W^-2; QAS scales the
 * weight gradient by s_W^-2 and the int32-bias gradient by (s_W * s_x)^-2, per output channel.
 * In terms of the integer gradients the kernels produce (real dW = g * s_x * 2^e, real
 * db = g * 2^e) one step moves
 *   W_int by -lr * g * 2^e * s_x / s_W[o]        (tt_qas_t of the weights: s_x / s_W[o])
 *   b_int by -lr * g * 2^e / (s_W[o] * s_x)      (tt_qas_t of the biases: 1 / (s_W[o] s_x))
 * which is exactly the float SGD step expressed in quantization steps. The step is formed in
 * fixed point with 16 fraction bits (one rounding, half away from zero) and rounded to an
 * integer stochastically: floor(u / 2^16 + r), r uniform on {0, 1/2^16, ..., 1 - 1/2^16}, so its
 * expectation is exactly u / 2^16 and updates smaller than one step do not vanish (TTE
 * truncates them). Weights saturate to [-127, 127] (symmetric), biases to int32.
 */
#ifndef TT_KERNELS_SGD_H
#define TT_KERNELS_SGD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Fraction bits of the fixed-point step and of the momentum velocity. */
#define TT_SGD_FRAC_BITS 16

/**
 * Counter-based PRNG: draw i is mix(mix(counter + i) ^ seed) with Chris Wellons' "lowbias32"
 * mixer. Random access and vectorisable, so numpy reproduces it without a Python loop.
 */
typedef struct {
    uint32_t seed;    /**< Any value; fixed for a training run. */
    uint32_t counter; /**< Draws so far (wraps after 2^32). */
} tt_rng_t;

/** Next 32 random bits. */
uint32_t tt_rng_next(tt_rng_t *rng);

/** Optimizer hyper-parameters for one step of one parameter tensor. */
typedef struct {
    int32_t lr_multiplier; /**< Learning rate as a Q31 pair (TFLite QuantizeMultiplier of lr); 0: no step. */
    int32_t lr_shift;
    int32_t momentum_q15;  /**< Momentum in Q15, [0, 32767]; 0 (the default) is plain SGD. */
    /** Bound on one step in Q16 quantization steps: the fixed-point step is clamped to
     *  [-step_max_q16, step_max_q16] before momentum and rounding, so one sample never moves a
     *  parameter further, however large its gradient. 0: unbounded. */
    int64_t step_max_q16;
} tt_sgd_t;

/** A learning-rate scale of 1 in Q16 (tt_sgd_scaled()). */
#define TT_SGD_SCALE_ONE 65536u

/**
 * @p sgd with its rate multiplied by @p scale_q16 / 2^16 (a schedule's factor, at most
 * TT_SGD_SCALE_ONE): the product renormalised to a multiplier in [2^30, 2^31) with one rounding
 * (half up), the shift adjusted; a scale of 0 gives multiplier 0 (steps of 0, PRNG draws as
 * usual). Twin of tt_host.reference.update.Sgd.scaled.
 */
tt_sgd_t tt_sgd_scaled(const tt_sgd_t *sgd, uint32_t scale_q16);

/** Per-output-channel QAS factor as Q31 pairs (see the file comment). */
typedef struct {
    const int32_t *multiplier;
    const int32_t *shift;
} tt_qas_t;

/**
 * Which weights a gradient covers. Non-depthwise: weights [out_c][taps][in_c], gradient
 * [out_c][taps][n_channels], QAS channel = o. Depthwise (multiplier 1): weights [taps][in_c],
 * gradient [taps][n_channels], QAS channel = channels[j].
 */
typedef struct {
    int32_t out_c;            /**< Output channels (ignored for depthwise). */
    int32_t taps;             /**< kernel_h * kernel_w (1 for pointwise and fully connected). */
    int32_t in_c;             /**< Input channels of the full weight tensor. */
    const int16_t *channels;  /**< The trained input channels, as given to the gradient kernel. */
    int32_t n_channels;
    int32_t depthwise;        /**< Non-zero for depthwise weights. */
} tt_weight_slice_t;

/**
 * One SGD+QAS step on the int8 weights named by @p slice, in place. Draws one random number
 * per gradient element, in gradient order, whether or not it is zero.
 * @param slice    gradient/weight layout
 * @param sgd      learning rate and momentum
 * @param qas      per-output-channel factors s_x / s_W[o] (indexed by the QAS channel)
 * @param grad     int32 gradient from tt_<op>_bwd_weight_s16()
 * @param grad_exp its exponent
 * @param rng      PRNG state, advanced
 * @param velocity int32 momentum state (Q16 weight steps), one per gradient element, or NULL
 *                 when momentum is 0; saturates at 2^15 steps
 * @param weights  the full weight tensor, updated in place and saturated to [-127, 127]
 */
void tt_sgd_update_s8(const tt_weight_slice_t *slice, const tt_sgd_t *sgd, const tt_qas_t *qas, const int32_t *grad,
                      int32_t grad_exp, tt_rng_t *rng, int32_t *velocity, int8_t *weights);

/**
 * One SGD+QAS step on @p n int32 biases, in place, saturating to int32.
 * @param qas      per-channel factors 1 / (s_W[o] * s_x)
 * @param grad     int32 gradient from tt_bias_bwd_s16(), exponent @p grad_exp
 * @param velocity as for the weights (Q16 bias steps; saturates at 2^15 steps), or NULL
 */
void tt_sgd_update_s32(int32_t n, const tt_sgd_t *sgd, const tt_qas_t *qas, const int32_t *grad, int32_t grad_exp,
                       tt_rng_t *rng, int32_t *velocity, int32_t *bias);

/** One SGD/QAS step of a trainable slice (the fused tt_<op>_bwd_weight_update_s8() kernels). */
typedef struct {
    const tt_sgd_t *sgd; /**< Learning rate (and its step bound) and momentum. */
    const tt_qas_t *qas; /**< Per-output-channel factors s_x / s_W[o] (depthwise: per channel). */
    tt_rng_t *rng;       /**< PRNG state, advanced by the slice's element count. */
    int32_t *velocity;   /**< Momentum state in the slice's layout, or NULL when momentum is 0. */
} tt_update_t;

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_SGD_H */
