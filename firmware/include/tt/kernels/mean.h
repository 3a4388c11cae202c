/**
 * @file mean.h
 * @brief Int8 mean over height and width (TFLite MEAN, Keras' GlobalAveragePooling2D).
 */
#ifndef TT_KERNELS_MEAN_H
#define TT_KERNELS_MEAN_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Forward mean over H and W, one int8 output per channel, bit-exact with TFLite Micro's MEAN
 * (which requantizes from the input's scale to the output's; an unchanged quantization runs
 * the same arithmetic). Its input gradient is tt_avgpool_bwd_input_s16 over the same geometry:
 * gradients are in real units, so the requantization does not change them.
 * @param geom   the global window: kernel = in_h x in_w, out 1 x 1, out_c == in_c, no padding
 * @param quant  requantization and clamp
 * @param input  [in_h][in_w][in_c]
 * @param output [in_c]; must not overlap the input
 */
void tt_mean_fwd_s8(const tt_conv_geom_t *geom, const tt_mean_quant_t *quant, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_MEAN_H */
