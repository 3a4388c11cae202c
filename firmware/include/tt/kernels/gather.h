/**
 * @file gather.h
 * @brief Keep a list of channels of an NHWC tensor: the compact saved input of a sparse
 *        weight update.
 *
 * A layer whose weights train on a subset K of its input channels needs, for its weight
 * gradient, only those channels of its forward input. The plan gathers them at forward time
 * (before the layer's forward kernel, which reads the full input) into a buffer of
 * pixels * |K| bytes that lives until the backward pass; the full input is freed as soon as
 * the forward consumes it. The tt_<op>_bwd_weight_update_s8() kernels read that compact
 * tensor. The existing tt_conv2d/pw_conv2d/fc_bwd_weight_s16() kernels also accept it: pass a
 * geometry whose in_c is |K| and the identity channel list 0..|K|-1 (their input indexing uses
 * only in_c and the list); tt_dw_conv2d_bwd_weight_s16() does not (its dY shares the input's
 * channel stride), use tt_dw_conv2d_bwd_weight_update_s8().
 */
#ifndef TT_KERNELS_GATHER_H
#define TT_KERNELS_GATHER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * output[p][j] = input[p][channels[j]] for every pixel p.
 * @param pixels     in_h * in_w (1 for a fully connected input)
 * @param in_c       channels of @p input
 * @param channels   n_channels indices in [0, in_c) (distinct, any order: the order of the
 *                   trainable slice)
 * @param n_channels 1 .. in_c
 * @param input      [pixels][in_c]
 * @param output     [pixels][n_channels]; must not overlap the input
 */
void tt_gather_channels_s8(int32_t pixels, int32_t in_c, const int16_t *channels, int32_t n_channels,
                           const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_GATHER_H */
