/**
 * @file pad.h
 * @brief Int8 spatial padding (a TFLite PAD / PADV2 that no convolution absorbs) and its input
 *        gradient, a crop of the output gradient.
 */
#ifndef TT_KERNELS_PAD_H
#define TT_KERNELS_PAD_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Rows and columns of padding around an HWC tensor. */
typedef struct {
    int32_t in_h, in_w, c;
    int32_t top, left, bottom, right;
} tt_pad_geom_t;

/** y = x with the padding filled with @p fill; @p output must not overlap @p input. */
void tt_pad_s8(const tt_pad_geom_t *geom, int32_t fill, const int8_t *input, int8_t *output);

/** dX = dY without the padding (same exponent); @p grad_input must not overlap @p grad_output. */
void tt_crop_s16(const tt_pad_geom_t *geom, const int16_t *grad_output, int16_t *grad_input);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_PAD_H */
