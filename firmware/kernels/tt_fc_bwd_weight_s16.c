#include "tt/kernels/fc.h"

void tt_fc_bwd_weight_s16(const tt_fc_geom_t *geom, int32_t input_zp, const int16_t *channels, int32_t n_channels,
                          const int8_t *input, const int16_t *grad_output, int32_t grad_output_exp,
                          int32_t *grad_weights, int32_t *grad_weights_exp)
{
    /* One product per element: |dY * (x - zp)| < 2^24, always exact. */
    for (int32_t oc = 0; oc < geom->out_c; oc++) {
        for (int32_t j = 0; j < n_channels; j++) {
            grad_weights[oc * n_channels + j] = (int32_t)grad_output[oc] * ((int32_t)input[channels[j]] - input_zp);
        }
    }
    *grad_weights_exp = grad_output_exp;
}
