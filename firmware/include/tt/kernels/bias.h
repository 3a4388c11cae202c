/**
 * @file bias.h
 * @brief Bias gradient of a convolution, depthwise, pointwise or fully connected layer.
 */
#ifndef TT_KERNELS_BIAS_H
#define TT_KERNELS_BIAS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * db[c] = sum over positions of dY[p][c], accumulated in int64 and stored as int32 with its
 * exponent (real db = v * 2^exp): dY's exponent unless max|dY| * positions exceeds int32.
 * @param positions     out_h * out_w (1 for fully connected)
 * @param channels      out_c
 * @param grad_output   dY [positions][channels] (masked), exponent grad_output_exp
 * @param grad_bias     [channels]
 * @param grad_bias_exp receives the exponent of db
 */
void tt_bias_bwd_s16(int32_t positions, int32_t channels, const int16_t *grad_output, int32_t grad_output_exp,
                     int32_t *grad_bias, int32_t *grad_bias_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_BIAS_H */
