#include "tt_sgd.h"

void tt_sgd_update_s32(int32_t n, const tt_sgd_t *sgd, const tt_qas_t *qas, const int32_t *grad, int32_t grad_exp,
                       tt_rng_t *rng, int32_t *velocity, int32_t *bias)
{
    for (int32_t c = 0; c < n; c++) {
        const int64_t u = tt_sgd_step_q16(sgd, qas, c, grad[c], grad_exp);
        const int64_t step = tt_sgd_round(sgd, u, velocity != 0 ? &velocity[c] : 0, rng);
        bias[c] = tt_sat_s32((int64_t)bias[c] - step);
    }
}
