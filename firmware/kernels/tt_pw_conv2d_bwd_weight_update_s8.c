#include "tt/kernels/pw_conv2d.h"

#include "tt_pw_bwd_weight.h"
#include "tt_wupdate.h"

#if TT_DSP
/* The update of one weight as soon as its exact sum exists. The Cortex-M7 core yields the
 * elements two output channels x two trained channels at a time, not in the slice's order;
 * the PRNG is a counter hash with one draw per element, so element i takes draw c0 + i
 * whatever the order, exactly as in the in-order loop below. */
typedef struct {
    const tt_sgd_t *sgd;
    const tt_qas_t *qas;
    tt_rng_t rng;
    uint32_t counter0;
    int32_t n_channels, r, grad_exp;
    int32_t *velocity;
    int8_t *weights;
} element_sink_t;

static void update_element(void *sink, int32_t oc, int32_t j, int32_t acc)
{
    element_sink_t *u = (element_sink_t *)sink;
    const int32_t i = oc * u->n_channels + j;
    u->rng.counter = u->counter0 + (uint32_t)i;
    u->weights[i] = tt_wupdate_s8(u->sgd, u->qas, oc, acc, u->r, u->grad_exp, &u->rng,
                                  u->velocity != 0 ? &u->velocity[i] : 0, u->weights[i]);
}
#endif

/* Flattened: the Cortex-M7 core and update_element() are inlined into one function, so each
 * weight's update is not a call through the sink pointer (about 15 instructions a weight). */
__attribute__((flatten)) void tt_pw_conv2d_bwd_weight_update_s8(const tt_conv_geom_t *geom,
                                                                const tt_bwd_weight_params_t *params,
                                                                const int8_t *input,
                                                                const tt_grad_s16_t *grad_output_s16,
                                                                const tt_update_t *update, int8_t *weights)
{
    const int32_t input_zp = params->input_zp, n_channels = params->channels.n;
    const int16_t *grad_output = grad_output_s16->values;
    const int32_t grad_output_exp = grad_output_s16->exp;
    const tt_sgd_t *sgd = update->sgd;
    const tt_qas_t *qas = update->qas;
    tt_rng_t *rng = update->rng;
    int32_t *velocity = update->velocity;
    const int32_t n = n_channels, out_c = geom->out_c;
    const int32_t positions = geom->out_h * geom->out_w;
    const int32_t r = tt_wgrad_shift(grad_output, positions * out_c, input_zp, positions);
    const int32_t grad_exp = grad_output_exp + r;
#if TT_DSP
    if (positions <= TT_PW_BWD_WEIGHT_DSP_POSITIONS) {
        element_sink_t u = {sgd, qas, *rng, rng->counter, n, r, grad_exp, velocity, weights};
        tt_pw_bwd_weight_dsp(geom, input_zp, 0, n, n, input, grad_output, update_element, &u);
        rng->counter += (uint32_t)(out_c * n);
        return;
    }
#endif
    int32_t i = 0;
    for (int32_t oc = 0; oc < out_c; oc++) {
        for (int32_t j = 0; j < n; j++, i++) {
            int64_t acc = 0;
            for (int32_t oy = 0; oy < geom->out_h; oy++) {
                const int8_t *in = input + (oy * geom->stride_h * geom->in_w) * n + j;
                const int16_t *dy = grad_output + oy * geom->out_w * out_c + oc;
                for (int32_t ox = 0; ox < geom->out_w; ox++) {
                    acc += (int64_t)dy[ox * out_c] * ((int32_t)in[ox * geom->stride_w * n] - input_zp);
                }
            }
            weights[i] = tt_wupdate_s8(sgd, qas, oc, acc, r, grad_exp, rng, velocity != 0 ? &velocity[i] : 0,
                                       weights[i]);
        }
    }
}
