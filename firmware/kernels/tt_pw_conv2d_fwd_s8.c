#include "tt/kernels/pw_conv2d.h"

#include "tt_dsp.h"
#include "tt_fixedpoint.h"

uint32_t tt_pw_conv2d_fwd_s8_scratch_size(const tt_conv_geom_t *geom)
{
    /* Two int16 columns (tt_dsp_im2col_pair()) for the Cortex-M7 path; the same on every
     * build so the host planner reserves what the board uses. */
    return 2u * (uint32_t)geom->in_c * (uint32_t)sizeof(int16_t);
}

#if TT_DSP
/*
 * Cortex-M7: a matrix product of the output pixels (rows) by the weights (columns), in
 * 2 pixels x 2 output channels blocks (tt_dsp_dot_2x2()). The two pixels' inputs are widened
 * to int16 once, with the input offset added, into the scratch columns; then every pair of
 * weight rows streams past them. An odd last pixel or channel is computed as a pair with
 * itself: both results are then the same, so storing both is harmless.
 */
void tt_pw_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                         const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c, out_w = geom->out_w;
    const int32_t pixels = geom->out_h * out_w;
    const int32_t input_offset = -quant->input_zp;
    const tt_dsp_requant_t rq = tt_dsp_requant_params(quant, geom->out_c);
    int16_t *cols = (int16_t *)ctx->buf;

    for (int32_t p0 = 0; p0 < pixels; p0 += 2) {
        const int32_t p1 = p0 + 1 < pixels ? p0 + 1 : p0;
        const int8_t *in0 = input + ((p0 / out_w) * geom->stride_h * geom->in_w + (p0 % out_w) * geom->stride_w) * in_c;
        const int8_t *in1 = input + ((p1 / out_w) * geom->stride_h * geom->in_w + (p1 % out_w) * geom->stride_w) * in_c;
        int8_t *out0 = output + p0 * out_c;
        int8_t *out1 = output + p1 * out_c;
        tt_dsp_im2col_pair(in0, in1, in_c, input_offset, cols);
        for (int32_t oc0 = 0; oc0 < out_c; oc0 += 2) {
            const int32_t oc1 = oc0 + 1 < out_c ? oc0 + 1 : oc0;
            int32_t acc[4];
            acc[0] = acc[2] = bias != 0 ? bias[oc0] : 0;
            acc[1] = acc[3] = bias != 0 ? bias[oc1] : 0;
            tt_dsp_dot_2x2(cols, weights + oc0 * in_c, weights + oc1 * in_c, in_c, acc);
            tt_dsp_requant_pair(&rq, oc0, acc[0], acc[2], out0 + oc0, out1 + oc0);
            tt_dsp_requant_pair(&rq, oc1, acc[1], acc[3], out0 + oc1, out1 + oc1);
        }
    }
}
#else
void tt_pw_conv2d_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                         const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    (void)ctx;
    const int32_t in_c = geom->in_c, out_c = geom->out_c;
    const int32_t input_offset = -quant->input_zp;

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        for (int32_t ox = 0; ox < geom->out_w; ox++) {
            const int8_t *in = input + (oy * geom->stride_h * geom->in_w + ox * geom->stride_w) * in_c;
            int8_t *out = output + (oy * geom->out_w + ox) * out_c;
            for (int32_t oc = 0; oc < out_c; oc++) {
                const int8_t *w = weights + oc * in_c;
                int32_t acc = bias != 0 ? bias[oc] : 0;
                for (int32_t ic = 0; ic < in_c; ic++) {
                    acc += ((int32_t)in[ic] + input_offset) * (int32_t)w[ic];
                }
                acc = tt_requantize(acc, quant->multiplier[oc], quant->shift[oc]) + quant->output_zp;
                out[oc] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
            }
        }
    }
}
#endif
