/**
 * @file requantize.h
 * @brief Int8 elementwise requantization with a clamp: TFLite's standalone RELU, RELU6 and
 *        LEAKY_RELU and an int8 -> int8 QUANTIZE. In real units all but LEAKY_RELU are the
 *        identity up to the clamp, so their input gradient is the output gradient through the
 *        clamp's mask (tt_mask_bwd_s16); LEAKY_RELU's scales it by alpha below 0.
 */
#ifndef TT_KERNELS_REQUANTIZE_H
#define TT_KERNELS_REQUANTIZE_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** y = clamp(MultiplyByQuantizedMultiplier(x - input_zp) + output_zp); @p output may be @p input. */
void tt_requantize_s8(int32_t n, const tt_requantize_quant_t *quant, const int8_t *input, int8_t *output);

/** LEAKY_RELU's input gradient: dX = dY where the forward input x >= input_zp, else
 * MultiplyByQuantizedMultiplier(dY, alpha) (alpha <= 1); the exponent is dY's.
 * @p grad_input may be @p grad_output. */
void tt_leaky_relu_bwd_input_s16(int32_t n, int32_t input_zp, int32_t alpha_multiplier, int32_t alpha_shift,
                                 const int8_t *input, const int16_t *grad_output, int16_t *grad_input);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_REQUANTIZE_H */
