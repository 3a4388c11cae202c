/**
 * @file types.h
 * @brief Parameter structs shared by the int8 training kernels.
 *
 * Every kernel takes its arguments in one order: scratch context (only kernels that may need
 * scratch), geometry struct, quantization struct, then the tensors, inputs first and outputs
 * last. Tensor shapes live in the geometry struct, so a tensor argument is just its data
 * pointer.
 *
 * Layouts (TFLite's): activations NHWC with batch 1, int8; convolution weights OHWI;
 * depthwise weights 1HWC (channel = input channel * multiplier + m); fully-connected weights
 * [out][in]; biases int32. Weights are symmetric (zero point 0). Kernels trust their
 * arguments: the plan loader validates geometry once (tt_conv_geom_check()) and the step loop
 * never re-checks. No kernel allocates; no kernel keeps a pointer after it returns.
 */
#ifndef TT_KERNELS_TYPES_H
#define TT_KERNELS_TYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Caller-owned scratch memory for one kernel call (an arena slice planned at compile time). */
typedef struct {
    void *buf;     /**< At least the kernel's ..._scratch_size() bytes, 4-byte aligned; may be NULL if that is 0. */
    uint32_t size; /**< Size of @c buf in bytes. */
} tt_kernel_ctx_t;

/**
 * Geometry of a 2-D sliding-window op (convolution, depthwise, pointwise, pooling), batch 1,
 * dilation 1.
 *
 * Padding is explicit and may be asymmetric: an imported PAD op is folded into the following
 * convolution instead of being materialised. Padded positions count as the input zero point,
 * so they contribute nothing to a convolution; pooling excludes them from the average.
 * Invariant (tt_conv_geom_check()): out_h == (in_h + pad_top + pad_bottom - kernel_h) / stride_h + 1,
 * likewise for the width, and every padding is smaller than the kernel.
 */
typedef struct {
    int32_t in_h, in_w, in_c;    /**< Input height, width, channels. */
    int32_t out_h, out_w, out_c; /**< Output height, width, channels. */
    int32_t kernel_h, kernel_w;  /**< Window size. */
    int32_t stride_h, stride_w;  /**< Window step, >= 1. */
    int32_t pad_top, pad_left;   /**< Implicit rows/columns before the input. */
    int32_t pad_bottom, pad_right; /**< Implicit rows/columns after the input. */
} tt_conv_geom_t;

/** Geometry of a fully connected layer (batch 1). */
typedef struct {
    int32_t in_c;  /**< Input features. */
    int32_t out_c; /**< Output features (= weight rows). */
} tt_fc_geom_t;

/**
 * Per-output-channel requantization (convolution, depthwise, pointwise, fully connected),
 * TFLite's int8 scheme:
 *   acc = bias[c] + sum (x - input_zp) * w
 *   y   = clamp(MultiplyByQuantizedMultiplier(acc, multiplier[c], shift[c]) + output_zp, act_min, act_max)
 * with double rounding (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT), exactly
 * as the TFLite Micro reference kernels.
 */
typedef struct {
    int32_t input_zp;          /**< Input zero point, [-128, 127]. */
    int32_t output_zp;         /**< Output zero point, [-128, 127]. */
    const int32_t *multiplier; /**< out_c Q31 significands in [2^30, 2^31) (or 0). */
    const int32_t *shift;      /**< out_c exponents in [-31, 30]: > 0 shifts left, < 0 rounds right. */
    int32_t act_min;           /**< Output clamp, -128 <= act_min <= act_max <= 127. */
    int32_t act_max;
} tt_conv_quant_t;

/**
 * Int8 residual add, TFLite's scheme: both inputs are offset by their zero points, shifted
 * left by @c left_shift (20), rescaled to a common scale (input*_multiplier/shift, shifts
 * <= 0), summed, and the sum rescaled to the output (output_multiplier/shift).
 */
typedef struct {
    int32_t input1_zp, input2_zp, output_zp;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} tt_add_quant_t;

/** Pooling keeps its input's quantization; only the output clamp is a parameter. */
typedef struct {
    int32_t act_min, act_max;
} tt_pool_quant_t;

/**
 * TFLite's int8 MEAN over count = in_h * in_w elements (QuantizedMeanOrSum):
 * y = clamp(MultiplyByQuantizedMultiplier(sum - count * input_zp, multiplier, shift) + output_zp),
 * where multiplier and shift fold s_in / s_out and 1 / count as TFLM folds them.
 */
typedef struct {
    int32_t input_zp, output_zp; /**< Zero points, [-128, 127]. */
    int32_t multiplier;          /**< Q31 significand, [0, 2^31) (below 2^30 once 1/count is folded in). */
    int32_t shift;               /**< Exponent, [-31, 30]. */
    int32_t act_min, act_max;    /**< Output clamp. */
} tt_mean_quant_t;

/** An elementwise requantization with a clamp: y = clamp(MultiplyByQuantizedMultiplier(x - input_zp) +
 * output_zp, act_min, act_max), by the negative side's multiplier where x < input_zp (TFLite's
 * standalone RELU / RELU6 / LEAKY_RELU, an int8 -> int8 QUANTIZE). */
typedef struct {
    int32_t input_zp, output_zp;
    int32_t multiplier, shift;
    int32_t negative_multiplier, negative_shift;
    int32_t act_min, act_max;
} tt_requantize_quant_t;

/** TFLite's int8 MUL: y = clamp(MultiplyByQuantizedMultiplier((a - input1_zp)(b - input2_zp)) + output_zp). */
typedef struct {
    int32_t input1_zp, input2_zp, output_zp;
    int32_t multiplier, shift; /**< s_a s_b / s_out */
    int32_t act_min, act_max;
} tt_mul_quant_t;

/** The scales a MUL's input gradients multiply by: s_a (for dB) and s_b (for dA), Q31 + shift. */
typedef struct {
    int32_t a_multiplier, a_shift;
    int32_t b_multiplier, b_shift;
} tt_mul_grad_t;

/** TFLite's int8 HARD_SWISH (HardSwishParams): Q15 multipliers to the output scale and to the
 * scale where real 3.0 is 32768, and their exponents. */
typedef struct {
    int32_t input_zp, output_zp;
    int32_t output_multiplier, output_exponent; /**< Q15, exponent <= 0 */
    int32_t reluish_multiplier, reluish_exponent; /**< Q15 */
} tt_hard_swish_quant_t;

/** Hard swish's derivative at an int8 input x, Q14: 0 for x < lo, 1 for x > hi, else
 * 1/2 + MultiplyByQuantizedMultiplier(x - input_zp, multiplier, shift) (= x_real / 3). */
typedef struct {
    int32_t input_zp;
    int32_t multiplier, shift;
    int32_t lo, hi;
} tt_hard_swish_grad_t;

/** TFLite's int8 LOGISTIC: (x - input_zp) * multiplier * 2^(left_shift - 31) is the Q4.27 input
 * of gemmlowp's logistic; |x - input_zp| >= range_radius saturates. */
typedef struct {
    int32_t input_zp;
    int32_t range_radius;
    int32_t multiplier, left_shift; /**< Q31, left_shift in [0, 31] */
} tt_logistic_quant_t;

/**
 * Weight scales folded into a backward-input kernel (conv, pointwise, depthwise, FC):
 * s_W[o] = S * ratio[o], S = max_o s_W[o] = scale_multiplier * 2^(scale_shift - 31),
 * ratio[o] = multiplier[o] * 2^(shift[o] - 31) in (0, 1]. Gradients are int16 values with a
 * per-tensor power-of-two exponent (real = value * 2^exp); see DESIGN notes in
 * host/tt_host/reference/backward_int.py.
 */
typedef struct {
    const int32_t *multiplier; /**< out_c Q31 significands of ratio[o] (0 for a zero ratio). */
    const int32_t *shift;      /**< out_c exponents, in [-31, 0]. */
    int32_t scale_multiplier;  /**< Q31 significand of S, in [2^30, 2^31). */
    int32_t scale_shift;       /**< Exponent of S, in [-31, 30]. */
} tt_grad_quant_t;

/** An int16 gradient tensor with its power-of-two exponent: real value = values * 2^exp. */
typedef struct {
    const int16_t *values; /**< The tensor, shaped like the activation it is the gradient of. */
    int32_t exp;           /**< Its exponent. */
} tt_grad_s16_t;

/** A list of input channels (the trained ones of a sparse update): distinct, any order. */
typedef struct {
    const int16_t *list; /**< n channel indices (may be NULL where only n is read). */
    int32_t n;           /**< How many: 1 .. in_c. */
} tt_channels_t;

/** What a weight gradient needs besides its tensors. */
typedef struct {
    int32_t input_zp;       /**< Zero point of the saved forward input. */
    tt_channels_t channels; /**< The trained input channels (the gradient's last axis). */
} tt_bwd_weight_params_t;

/**
 * Check a sliding-window geometry (the rule in tt_conv_geom_t's comment).
 * @return 1 when consistent, 0 otherwise. Pure; used by the plan validator and the tests.
 */
int tt_conv_geom_check(const tt_conv_geom_t *geom);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_TYPES_H */
