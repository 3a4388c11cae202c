/**
 * @file requantize.h
 * @brief Int8 elementwise requantization with a clamp: TFLite's standalone RELU and RELU6 and an
 *        int8 -> int8 QUANTIZE. In real units it is the identity up to the clamp, so its input
 *        gradient is the output gradient through the clamp's mask (tt_mask_bwd_s16): no kernel.
 */
#ifndef TT_KERNELS_REQUANTIZE_H
#define TT_KERNELS_REQUANTIZE_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** y = clamp(MultiplyByQuantizedMultiplier(x - input_zp) + output_zp); @p output may be @p input. */
void tt_requantize_s8(int32_t n, const tt_requantize_quant_t *quant, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_REQUANTIZE_H */
