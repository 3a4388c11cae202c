/*
 * Helpers of the fused weight-gradient + SGD/QAS update kernels (tt_<op>_bwd_weight_update_s8),
 * private to the kernels. They compose the existing private helpers so the fused kernels
 * compute exactly the bits of tt_<op>_bwd_weight_s16() followed by tt_sgd_update_s8().
 */
#ifndef TT_KERNELS_WUPDATE_H
#define TT_KERNELS_WUPDATE_H

#include "tt_grad.h"
#include "tt_sgd.h"

/* The rounding shift of the weight-gradient kernels: keeps max|dY| * max|x - zp| * positions
 * (the int64 accumulator bound) inside int32. Same rule as tt_<op>_bwd_weight_s16(). */
static inline int32_t tt_wgrad_shift(const int16_t *grad_output, int32_t n, int32_t input_zp, int32_t positions)
{
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, n) * (128 + (input_zp < 0 ? -input_zp : input_zp)) *
                          positions;
    const int32_t bits = tt_bitlen_u64((uint64_t)bound);
    return bits > 31 ? bits - 31 : 0;
}

/*
 * One gradient element from its exact accumulator, then tt_sgd_update_s8()'s step on one
 * weight: QAS factor of channel @p c, optional momentum, one PRNG draw, saturation.
 */
static inline int8_t tt_wupdate_s8(const tt_sgd_t *sgd, const tt_qas_t *qas, int32_t c, int64_t acc, int32_t r,
                                   int32_t grad_exp, tt_rng_t *rng, int32_t *velocity, int8_t w)
{
    const int32_t g = (int32_t)tt_rdbp64(acc, r);
    const int64_t u = tt_sgd_step_q16(sgd, qas, c, g, grad_exp);
    const int64_t step = tt_sgd_round(sgd, u, velocity, rng);
    const int64_t nw = (int64_t)w - step;
    return (int8_t)(nw < -127 ? -127 : nw > 127 ? 127 : nw);
}

#endif /* TT_KERNELS_WUPDATE_H */
