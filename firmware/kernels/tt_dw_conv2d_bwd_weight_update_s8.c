#include "tt/kernels/dw_conv2d.h"

#include "tt_dw_bwd_weight.h"
#include "tt_wupdate.h"

#if TT_DSP
/* The update of one weight as soon as its exact sum exists; the Cortex-M7 core yields the
 * elements in the slice's order, so the PRNG draws and velocities line up with the loop below. */
typedef struct {
    const tt_sgd_t *sgd;
    const tt_qas_t *qas;
    tt_rng_t *rng;
    const int16_t *channels;
    int32_t r, grad_exp;
    int32_t *velocity;
    int8_t *weights;
} element_sink_t;

static void update_element(void *sink, int32_t i, int32_t j, int64_t acc)
{
    const element_sink_t *u = (const element_sink_t *)sink;
    u->weights[i] = tt_wupdate_s8(u->sgd, u->qas, u->channels[j], acc, u->r, u->grad_exp, u->rng,
                                  u->velocity != 0 ? &u->velocity[i] : 0, u->weights[i]);
}
#endif

/* Flattened: update_element() is inlined where the Cortex-M7 core emits each sum, so a weight's
 * update is not a call through the sink pointer. */
__attribute__((flatten)) void tt_dw_conv2d_bwd_weight_update_s8(const tt_conv_geom_t *geom,
                                                                const tt_bwd_weight_params_t *params,
                                                                const int8_t *input,
                                                                const tt_grad_s16_t *grad_output_s16,
                                                                const tt_update_t *update, int8_t *weights)
{
    const int32_t input_zp = params->input_zp, n_channels = params->channels.n;
    const int16_t *channels = params->channels.list;
    const int16_t *grad_output = grad_output_s16->values;
    const int32_t grad_output_exp = grad_output_s16->exp;
    const tt_sgd_t *sgd = update->sgd;
    const tt_qas_t *qas = update->qas;
    tt_rng_t *rng = update->rng;
    int32_t *velocity = update->velocity;
    const int32_t in_w = geom->in_w, c = geom->in_c, n = n_channels;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    const int32_t positions = geom->out_h * geom->out_w;
    const int32_t r = tt_wgrad_shift(grad_output, positions * c, input_zp, positions);
    const int32_t grad_exp = grad_output_exp + r;
#if TT_DSP
    if (geom->out_w <= TT_DW_BWD_WEIGHT_CHUNK) {
        element_sink_t sink = {sgd, qas, rng, channels, r, grad_exp, velocity, weights};
        tt_dw_bwd_weight_dsp(geom, input_zp, channels, n, n, 1, input, grad_output, update_element, &sink);
        return;
    }
#endif
    int32_t i = 0;

    for (int32_t ky = 0; ky < kh; ky++) {
        for (int32_t kx = 0; kx < kw; kx++) {
            for (int32_t j = 0; j < n; j++, i++) {
                const int32_t ch = channels[j];
                int64_t acc = 0;
                for (int32_t oy = 0; oy < geom->out_h; oy++) {
                    const int32_t iy = oy * geom->stride_h - geom->pad_top + ky;
                    if (iy < 0 || iy >= geom->in_h) {
                        continue;
                    }
                    for (int32_t ox = 0; ox < geom->out_w; ox++) {
                        const int32_t ix = ox * geom->stride_w - geom->pad_left + kx;
                        if (ix < 0 || ix >= in_w) {
                            continue;
                        }
                        acc += (int64_t)grad_output[(oy * geom->out_w + ox) * c + ch] *
                               ((int32_t)input[(iy * in_w + ix) * n + j] - input_zp);
                    }
                }
                weights[i] = tt_wupdate_s8(sgd, qas, ch, acc, r, grad_exp, rng, velocity != 0 ? &velocity[i] : 0,
                                           weights[i]);
            }
        }
    }
}
