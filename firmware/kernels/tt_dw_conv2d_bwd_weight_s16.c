#include "tt/kernels/dw_conv2d.h"

#include "tt_dw_bwd_weight.h"
#include "tt_grad.h"

#if TT_DSP
typedef struct {
    int32_t r;
    int32_t *grad_weights;
} store_sink_t;

static void store_element(void *sink, int32_t i, int32_t j, int64_t acc)
{
    const store_sink_t *s = (const store_sink_t *)sink;
    (void)j;
    s->grad_weights[i] = (int32_t)tt_rdbp64(acc, s->r);
}
#endif

void tt_dw_conv2d_bwd_weight_s16(const tt_conv_geom_t *geom, const tt_bwd_weight_params_t *params, const int8_t *input,
                                 const tt_grad_s16_t *grad_output_s16, int32_t *grad_weights, int32_t *grad_weights_exp)
{
    const int32_t input_zp = params->input_zp, n_channels = params->channels.n;
    const int16_t *channels = params->channels.list;
    const int16_t *grad_output = grad_output_s16->values;
    const int32_t grad_output_exp = grad_output_s16->exp;
    const int32_t in_w = geom->in_w, c = geom->in_c;
    const int32_t kh = geom->kernel_h, kw = geom->kernel_w;
    const int32_t positions = geom->out_h * geom->out_w;
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, positions * c) *
                          (128 + (input_zp < 0 ? -input_zp : input_zp)) * positions;
    const int32_t bits = tt_bitlen_u64((uint64_t)bound);
    const int32_t r = bits > 31 ? bits - 31 : 0;
    *grad_weights_exp = grad_output_exp + r;
#if TT_DSP
    if (geom->out_w <= TT_DW_BWD_WEIGHT_CHUNK) {
        store_sink_t sink = {r, grad_weights};
        tt_dw_bwd_weight_dsp(geom, input_zp, channels, n_channels, c, 0, input, grad_output, store_element, &sink);
        return;
    }
#endif

    for (int32_t ky = 0; ky < kh; ky++) {
        for (int32_t kx = 0; kx < kw; kx++) {
            for (int32_t j = 0; j < n_channels; j++) {
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
                               ((int32_t)input[(iy * in_w + ix) * c + ch] - input_zp);
                    }
                }
                grad_weights[(ky * kw + kx) * n_channels + j] = (int32_t)tt_rdbp64(acc, r);
            }
        }
    }
}
