#include "tt/kernels/pw_conv2d.h"

#include "tt_dsp.h"
#include "tt_grad.h"

#if TT_DSP
/* Positions up to which the Cortex-M7 path runs: then |sum| <= 128 * 32768 * 255 < 2^31, so
 * int32 SMLAD accumulators are exact, and the packed input pairs of two channels fit a
 * 512-byte stack buffer (the kernel takes no scratch). The late layers a sparse update
 * trains have 16 to 64 positions; larger ones take the portable loop. */
#define PW_BWD_WEIGHT_DSP_POSITIONS 128

/*
 * Cortex-M7: dW[oc][j] = sum_k dY[k][oc] (x[k][ic_j] - zp) is a dot product over positions k,
 * and both tensors are channel-minor, so an SMLAD operand needs two positions' values of one
 * channel. Two trained channels' (x - zp) for every position pair are packed once into a stack
 * buffer (LDRSB, PKHBT, SSUB16 of (zp, zp)), then every output channel pair streams past it:
 * one word read from each of two dY rows gives (dY[k][oc], dY[k][oc+1]) and
 * (dY[k+1][oc], dY[k+1][oc+1]), and PKHBT / PKHTB regroup them by channel. Why 2 output x
 * 2 trained channels: two dY words and one LDRD of the packed inputs feed four SMLAD (8 MACs)
 * with four accumulators in registers. An odd last position, output channel or trained
 * channel is summed with plain multiplies.
 */
static void pw_bwd_weight_dsp(const tt_conv_geom_t *geom, int32_t input_zp, const int16_t *channels,
                              int32_t n_channels, const int8_t *input, const int16_t *grad_output, int32_t r,
                              int32_t *grad_weights)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c, out_w = geom->out_w;
    const int32_t positions = geom->out_h * out_w;
    const int32_t pairs = positions >> 1;
    int32_t xs[PW_BWD_WEIGHT_DSP_POSITIONS]; /* per position pair: channel j0's word, channel j1's */
    int32_t offset[PW_BWD_WEIGHT_DSP_POSITIONS];
    for (int32_t k = 0; k < positions; k++) {
        offset[k] = ((k / out_w) * geom->stride_h * geom->in_w + (k % out_w) * geom->stride_w) * in_c;
    }
    const int32_t zp2 = tt_dsp_pack_offset(input_zp);

    for (int32_t j0 = 0; j0 < n_channels; j0 += 2) {
        const int32_t j1 = j0 + 1 < n_channels ? j0 + 1 : j0;
        const int8_t *x0 = input + channels[j0], *x1 = input + channels[j1];
        for (int32_t i = 0; i < pairs; i++) {
            const int32_t a = offset[2 * i], b = offset[2 * i + 1];
            xs[2 * i] = (int32_t)__ssub16((int16x2_t)tt_dsp_pack_lo(x0[a], x0[b]), (int16x2_t)zp2);
            xs[2 * i + 1] = (int32_t)__ssub16((int16x2_t)tt_dsp_pack_lo(x1[a], x1[b]), (int16x2_t)zp2);
        }
        for (int32_t oc = 0; oc < out_c; oc += 2) {
            int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0; /* output channel, trained channel */
            if (oc + 1 < out_c) {
                const int16_t *dy = grad_output + oc;
                const int32_t *xp = xs;
                for (int32_t i = 0; i < pairs; i++) {
                    const int32_t d0 = tt_dsp_read_word(dy), d1 = tt_dsp_read_word(dy + out_c);
                    const int32_t e0 = tt_dsp_pack_lo(d0, d1), e1 = tt_dsp_pack_hi(d0, d1);
                    a00 = tt_dsp_smlad(e0, xp[0], a00);
                    a01 = tt_dsp_smlad(e0, xp[1], a01);
                    a10 = tt_dsp_smlad(e1, xp[0], a10);
                    a11 = tt_dsp_smlad(e1, xp[1], a11);
                    dy += 2 * out_c;
                    xp += 2;
                }
            } else {
                for (int32_t k = 0; k < 2 * pairs; k++) {
                    const int32_t d = grad_output[k * out_c + oc];
                    a00 += d * ((int32_t)x0[offset[k]] - input_zp);
                    a01 += d * ((int32_t)x1[offset[k]] - input_zp);
                }
            }
            if (positions & 1) {
                const int32_t k = positions - 1;
                const int32_t v0 = (int32_t)x0[offset[k]] - input_zp, v1 = (int32_t)x1[offset[k]] - input_zp;
                const int32_t d0 = grad_output[k * out_c + oc];
                a00 += d0 * v0;
                a01 += d0 * v1;
                if (oc + 1 < out_c) {
                    const int32_t d1 = grad_output[k * out_c + oc + 1];
                    a10 += d1 * v0;
                    a11 += d1 * v1;
                }
            }
            grad_weights[oc * n_channels + j0] = (int32_t)tt_rdbp64(a00, r);
            grad_weights[oc * n_channels + j1] = (int32_t)tt_rdbp64(a01, r);
            if (oc + 1 < out_c) {
                grad_weights[(oc + 1) * n_channels + j0] = (int32_t)tt_rdbp64(a10, r);
                grad_weights[(oc + 1) * n_channels + j1] = (int32_t)tt_rdbp64(a11, r);
            }
        }
    }
}
#endif

void tt_pw_conv2d_bwd_weight_s16(const tt_conv_geom_t *geom, int32_t input_zp, const int16_t *channels,
                                 int32_t n_channels, const int8_t *input, const int16_t *grad_output,
                                 int32_t grad_output_exp, int32_t *grad_weights, int32_t *grad_weights_exp)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c;
    const int32_t positions = geom->out_h * geom->out_w;
    const int64_t bound = (int64_t)tt_max_abs_s16(grad_output, positions * out_c) *
                          (128 + (input_zp < 0 ? -input_zp : input_zp)) * positions;
    const int32_t bits = tt_bitlen_u64((uint64_t)bound);
    const int32_t r = bits > 31 ? bits - 31 : 0;
    *grad_weights_exp = grad_output_exp + r;
#if TT_DSP
    if (positions <= PW_BWD_WEIGHT_DSP_POSITIONS) {
        pw_bwd_weight_dsp(geom, input_zp, channels, n_channels, input, grad_output, r, grad_weights);
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
