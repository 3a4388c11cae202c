#include "tt/kernels/fc.h"

#include "tt_wupdate.h"

void tt_fc_bwd_weight_update_s8(const tt_fc_geom_t *geom, const tt_bwd_weight_params_t *params,
                                const int8_t *input, const tt_grad_s16_t *grad_output_s16,
                                const tt_update_t *update, int8_t *weights)
{
    const int32_t input_zp = params->input_zp, n_channels = params->channels.n;
    const int16_t *grad_output = grad_output_s16->values;
    const int32_t grad_output_exp = grad_output_s16->exp;
    const tt_sgd_t *sgd = update->sgd;
    const tt_qas_t *qas = update->qas;
    tt_rng_t *rng = update->rng;
    int32_t *velocity = update->velocity;
    /* One product per element, |dY * (x - zp)| < 2^24: exact, the exponent is dY's. */
    int32_t i = 0;
    for (int32_t oc = 0; oc < geom->out_c; oc++) {
        for (int32_t j = 0; j < n_channels; j++, i++) {
            const int64_t acc = (int64_t)grad_output[oc] * ((int32_t)input[j] - input_zp);
            weights[i] = tt_wupdate_s8(sgd, qas, oc, acc, 0, grad_output_exp, rng, velocity != 0 ? &velocity[i] : 0,
                                       weights[i]);
        }
    }
}
