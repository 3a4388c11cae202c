/**
 * @file mask.h
 * @brief The 1-bit clamp mask: ReLU/ReLU6 (and int8 saturation) backward.
 *
 * The shared models express ReLU/ReLU6 only through each layer's output clamp
 * [act_min, act_max]. The gradient passes where the int8 output lies strictly inside that
 * range; the forward pass saves one bit per output element instead of the output itself.
 * Layout: element i is bit (i % 8), LSB first, of byte i / 8; unused bits of the last byte
 * are 0. A mask of n elements takes (n + 7) / 8 bytes.
 */
#ifndef TT_KERNELS_MASK_H
#define TT_KERNELS_MASK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Pack the mask of an int8 output: bit = act_min < output[i] < act_max.
 * @param size    elements of @p output
 * @param act_min the forward op's clamp (tt_conv_quant_t.act_min)
 * @param act_max the forward op's clamp
 * @param output  the forward output
 * @param mask    (size + 7) / 8 bytes
 */
void tt_mask_pack_s8(int32_t size, int32_t act_min, int32_t act_max, const int8_t *output, uint8_t *mask);

/**
 * Clamp backward: grad_input[i] = mask bit i ? grad_output[i] : 0. The exponent is unchanged.
 * @param grad_input may alias @p grad_output (in place)
 */
void tt_mask_bwd_s16(int32_t size, const uint8_t *mask, const int16_t *grad_output, int16_t *grad_input);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_MASK_H */
