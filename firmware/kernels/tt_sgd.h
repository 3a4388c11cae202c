/* The fixed-point SGD step shared by tt_sgd_update_s8/s32; twin of
 * tt_host.reference.update.step_q16. */
#ifndef TT_KERNELS_SGD_PRIV_H
#define TT_KERNELS_SGD_PRIV_H

#include "tt/kernels/sgd.h"
#include "tt_grad.h"

#define TT_SGD_STEP_MAX ((int64_t)1 << 47) /* 2^31 steps in Q16 */

/* lr * qas[c] * g * 2^grad_exp in Q16: one exact 32x32 product, one rounding; then the bound. */
static inline int64_t tt_sgd_bounded(const tt_sgd_t *sgd, int64_t u)
{
    const int64_t m = sgd->step_max_q16;
    return m == 0 ? u : u > m ? m : u < -m ? -m : u;
}

static inline int64_t tt_sgd_step_q16(const tt_sgd_t *sgd, const tt_qas_t *qas, int32_t c, int32_t g, int32_t grad_exp)
{
    const int32_t m = tt_srdhm(sgd->lr_multiplier, qas->multiplier[c]);
    const int32_t sh = sgd->lr_shift + qas->shift[c] + grad_exp + TT_SGD_FRAC_BITS - 31;
    const int64_t prod = (int64_t)g * m; /* |prod| < 2^62 */
    if (sh <= 0) {
        return -sh > 62 ? 0 : tt_sgd_bounded(sgd, tt_rdbp64(prod, -sh));
    }
    if (prod == 0) {
        return 0;
    }
    const int64_t lim = TT_SGD_STEP_MAX >> (sh < 47 ? sh : 47);
    if (sh >= 47 || prod > lim || prod < -lim) {
        return tt_sgd_bounded(sgd, prod > 0 ? TT_SGD_STEP_MAX : -TT_SGD_STEP_MAX);
    }
    return tt_sgd_bounded(sgd, prod * ((int64_t)1 << sh));
}

/* Momentum (optional), then stochastic rounding to whole steps: floor((u + r) / 2^16). */
static inline int64_t tt_sgd_round(const tt_sgd_t *sgd, int64_t u, int32_t *velocity, tt_rng_t *rng)
{
    if (velocity != 0 && sgd->momentum_q15 != 0) {
        const int32_t v = tt_sat_s32(tt_rdbp64((int64_t)*velocity * sgd->momentum_q15, 15) + u);
        *velocity = v;
        u = v;
    }
    const int64_t r = (int64_t)(tt_rng_next(rng) >> 16);
    /* Arithmetic right shift of a negative int64 is floor (GCC and Clang on every target). */
    return (u + r) >> TT_SGD_FRAC_BITS;
}

#endif /* TT_KERNELS_SGD_PRIV_H */
