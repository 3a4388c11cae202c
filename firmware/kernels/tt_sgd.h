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

/*
 * The two roundings of the step in the forms a 32-bit core computes fastest, bit-identical to
 * tt_srdhm() and tt_rdbp64() (every trained weight takes this path every step, so its
 * instructions count). tt_srdhm(a, b), the product's nudge and truncating division, is
 * floor((a b + 2^30) / 2^31) for every pair but INT32_MIN^2 (see tt_requantize_fast() in
 * tt_dsp.h), one 64-bit add and shift. x / 2^e rounded half away from zero is
 * floor((x + 2^(e-1) - [x < 0]) / 2^e), which needs no mask compare; the add cannot overflow
 * for |x| < 2^62, which the step's product is.
 */
static inline int32_t tt_sgd_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 30)) >> 31);
}

static inline int64_t tt_sgd_rdbp62(int64_t x, int32_t e)
{
    return e == 0 ? x : (x + ((int64_t)1 << (e - 1)) - (x < 0 ? 1 : 0)) >> e;
}

static inline int64_t tt_sgd_step_q16(const tt_sgd_t *sgd, const tt_qas_t *qas, int32_t c, int32_t g, int32_t grad_exp)
{
    const int32_t m = tt_sgd_srdhm(sgd->lr_multiplier, qas->multiplier[c]);
    const int32_t sh = sgd->lr_shift + qas->shift[c] + grad_exp + TT_SGD_FRAC_BITS - 31;
    const int64_t prod = (int64_t)g * m; /* |prod| < 2^62 */
    if (sh <= 0) {
        return -sh > 62 ? 0 : tt_sgd_bounded(sgd, tt_sgd_rdbp62(prod, -sh));
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
