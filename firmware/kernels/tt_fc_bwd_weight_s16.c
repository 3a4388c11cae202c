#include "tt/kernels/fc.h"

void tt_fc_bwd_weight_s16(const tt_fc_geom_t *geom, const tt_bwd_weight_params_t *params, const int8_t *input,
                          const tt_grad_s16_t *grad_output_s16, int32_t *grad_weights, int32_t *grad_weights_exp)
{
    const int32_t input_zp = params->input_zp, n_channels = params->channels.n;
    const int16_t *channels = params->channels.list;
    const int16_t *grad_output = grad_output_s16->values;
    const int32_t grad_output_exp = grad_output_s16->exp;
    /* One product per element: |dY * (x - zp)| < 2^24, always exact. */
    for (int32_t oc = 0; oc < geom->out_c; oc++) {
        for (int32_t j = 0; j < n_channels; j++) {
            grad_weights[oc * n_channels + j] = (int32_t)grad_output[oc] * ((int32_t)input[channels[j]] - input_zp);
        }
    }
    *grad_weights_exp = grad_output_exp;
}
