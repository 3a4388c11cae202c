#include "tt_sgd.h"

void tt_sgd_update_s8(const tt_weight_slice_t *slice, const tt_sgd_t *sgd, const tt_qas_t *qas, const int32_t *grad,
                      int32_t grad_exp, tt_rng_t *rng, int32_t *velocity, int8_t *weights)
{
    const int32_t nch = slice->n_channels, in_c = slice->in_c, taps = slice->taps;
    const int32_t outer = slice->depthwise ? 1 : slice->out_c;
    int32_t i = 0;
    for (int32_t o = 0; o < outer; o++) {
        for (int32_t t = 0; t < taps; t++) {
            for (int32_t j = 0; j < nch; j++, i++) {
                const int32_t c = slice->depthwise ? slice->channels[j] : o;
                const int64_t u = tt_sgd_step_q16(sgd, qas, c, grad[i], grad_exp);
                const int64_t step = tt_sgd_round(sgd, u, velocity != 0 ? &velocity[i] : 0, rng);
                int8_t *w = &weights[(o * taps + t) * in_c + slice->channels[j]];
                const int64_t nw = (int64_t)*w - step;
                *w = (int8_t)(nw < -127 ? -127 : nw > 127 ? 127 : nw);
            }
        }
    }
}
