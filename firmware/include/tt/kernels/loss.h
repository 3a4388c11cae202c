/**
 * @file loss.h
 * @brief Softmax cross-entropy on the dequantized int8 logits, and its gradient.
 */
#ifndef TT_KERNELS_LOSS_H
#define TT_KERNELS_LOSS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Quantization of the logits: real = scale * (q - zero_point). */
typedef struct {
    float scale;        /**< > 0 (float32, as in the .tflite) */
    int32_t zero_point; /**< [-128, 127] */
} tt_logit_quant_t;

/**
 * Softmax cross-entropy of one sample and its gradient with respect to the real logits,
 * p - onehot(label), as int16 values with a power-of-two exponent chosen from the exact
 * maximum (the largest |value| lies in [2^14, 2^15]).
 *
 * Float32 throughout, in a fixed operation order, with its own exp and log (range reduction
 * plus polynomials; no libm, no fused multiply-add: the file is built with
 * -ffp-contract=off), so tt_host.reference.loss reproduces every bit on any IEEE-754 host.
 * Cost: 3 exp per logit and one log.
 * @param n         number of classes, >= 1
 * @param quant     the logits' quantization
 * @param logits    [n] int8
 * @param label     the true class, [0, n)
 * @param loss      receives -log softmax(logits)[label] (natural log)
 * @param grad      [n] int16 gradient values
 * @param grad_exp  receives their exponent
 * @return the predicted class (first index of the largest logit)
 */
int32_t tt_softmax_xent_s8(int32_t n, const tt_logit_quant_t *quant, const int8_t *logits, int32_t label, float *loss,
                           int16_t *grad, int32_t *grad_exp);

/** The library's float32 exp for x <= 0 (0 below -80); exposed for the bit-exactness tests. */
float tt_expf_neg(float x);

/** The library's float32 natural log for x >= 1; exposed for the bit-exactness tests. */
float tt_logf_ge1(float x);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_LOSS_H */
