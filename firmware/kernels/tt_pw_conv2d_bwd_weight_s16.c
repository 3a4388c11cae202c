#include "tt/kernels/pw_conv2d.h"

#include "tt_dsp.h"
#include "tt_grad.h"
#include "tt_pw_bwd_weight.h"

#if TT_DSP
typedef struct {
    int32_t *grad_weights;
    int32_t n_channels;
    int32_t r;
} store_t;

static void store(void *sink, int32_t oc, int32_t j, int32_t acc)
{
    const store_t *s = (const store_t *)sink;
    s->grad_weights[oc * s->n_channels + j] = (int32_t)tt_rdbp64(acc, s->r);
}
#endif

void tt_pw_conv2d_bwd_weight_s16(const tt_conv_geom_t *geom, const tt_bwd_weight_params_t *params, const int8_t *input,
                                 const tt_grad_s16_t *grad_output_s16, int32_t *grad_weights, int32_t *grad_weights_exp)
{
    const int32_t input_zp = params->input_zp, n_channels = params->channels.n;
    const int16_t *channels = params->channels.list;
    const int16_t *grad_output = grad_output_s16->values;
    const int32_t grad_output_exp = grad_output_s16->exp;
    const int32_t in_c = geom->in_c, out_c = geom->out_c;
    const int32_t positions = geom->out_h * geom->out_w;
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, positions * out_c) *
                          (128 + (input_zp < 0 ? -input_zp : input_zp)) * positions;
    const int32_t bits = tt_bitlen_u64((uint64_t)bound);
    const int32_t r = bits > 31 ? bits - 31 : 0;
    *grad_weights_exp = grad_output_exp + r;
#if TT_DSP
    if (positions <= TT_PW_BWD_WEIGHT_DSP_POSITIONS) {
        store_t s = {grad_weights, n_channels, r};
        tt_pw_bwd_weight_dsp(geom, input_zp, channels, in_c, n_channels, input, grad_output, store, &s);
        return;
    }
#endif

    for (int32_t oc = 0; oc < out_c; oc++) {
        for (int32_t j = 0; j < n_channels; j++) {
            const int32_t ic = channels[j];
            int64_t acc = 0;
            for (int32_t oy = 0; oy < geom->out_h; oy++) {
                const int8_t *in = input + (oy * geom->stride_h * geom->in_w) * in_c + ic;
                const int16_t *dy = grad_output + oy * geom->out_w * out_c + oc;
                for (int32_t ox = 0; ox < geom->out_w; ox++) {
                    acc += (int64_t)dy[ox * out_c] * ((int32_t)in[ox * geom->stride_w * in_c] - input_zp);
                }
            }
            grad_weights[oc * n_channels + j] = (int32_t)tt_rdbp64(acc, r);
        }
    }
}
