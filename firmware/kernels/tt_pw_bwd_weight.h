/*
 * The Cortex-M7 core of the pointwise weight gradient, private to the kernels, shared by
 * tt_pw_conv2d_bwd_weight_s16() (which stores each dW element) and the fused
 * tt_pw_conv2d_bwd_weight_update_s8() (which applies each to its weight at once): both hand
 * every exact int32 sum to a sink, so both see the same values.
 */
#ifndef TT_KERNELS_PW_BWD_WEIGHT_H
#define TT_KERNELS_PW_BWD_WEIGHT_H

#include "tt/kernels/types.h"
#include "tt_dsp.h"

#if TT_DSP
/* Positions up to which the Cortex-M7 path runs: then |sum| <= 128 * 32768 * 255 < 2^31, so
 * int32 SMLAD accumulators are exact, and the packed input pairs of two channels fit a
 * 512-byte stack buffer (the kernel takes no scratch). The late layers a sparse update
 * trains have 16 to 64 positions; larger ones take the portable loop. */
#define TT_PW_BWD_WEIGHT_DSP_POSITIONS 128

/* Receives dW[oc][j]'s exact sum (before the rounding shift). */
typedef void (*tt_pw_wgrad_sink_t)(void *sink, int32_t oc, int32_t j, int32_t acc);

/*
 * dW[oc][j] = sum_k dY[k][oc] (x[k][channel j] - zp) is a dot product over positions k,
 * and both tensors are channel-minor, so an SMLAD operand needs two positions' values of one
 * channel. Two trained channels' (x - zp) for every position pair are packed once into a stack
 * buffer (LDRSB, PKHBT, SSUB16 of (zp, zp)), then every output channel pair streams past it:
 * one word read from each of two dY rows gives (dY[k][oc], dY[k][oc+1]) and
 * (dY[k+1][oc], dY[k+1][oc+1]), and PKHBT / PKHTB regroup them by channel. Why 2 output x
 * 2 trained channels: two dY words and one LDRD of the packed inputs feed four SMLAD (8 MACs)
 * with four accumulators in registers. An odd last position, output channel or trained
 * channel is summed with plain multiplies. Channel j of the input is at channels[j] of a
 * pixel's x_stride values (channels NULL: at j).
 */
static inline void tt_pw_bwd_weight_dsp(const tt_conv_geom_t *geom, int32_t input_zp, const int16_t *channels,
                                        int32_t x_stride, int32_t n_channels, const int8_t *input,
                                        const int16_t *grad_output, tt_pw_wgrad_sink_t emit, void *sink)
{
    const int32_t out_c = geom->out_c, out_w = geom->out_w;
    const int32_t positions = geom->out_h * out_w;
    const int32_t pairs = positions >> 1;
    int32_t xs[TT_PW_BWD_WEIGHT_DSP_POSITIONS]; /* per position pair: channel j0's word, channel j1's */
    int32_t offset[TT_PW_BWD_WEIGHT_DSP_POSITIONS];
    for (int32_t k = 0; k < positions; k++) {
        offset[k] = ((k / out_w) * geom->stride_h * geom->in_w + (k % out_w) * geom->stride_w) * x_stride;
    }
    const int32_t zp2 = tt_dsp_pack_offset(input_zp);

    for (int32_t j0 = 0; j0 < n_channels; j0 += 2) {
        const int32_t j1 = j0 + 1 < n_channels ? j0 + 1 : j0;
        const int8_t *x0 = input + (channels != 0 ? channels[j0] : j0);
        const int8_t *x1 = input + (channels != 0 ? channels[j1] : j1);
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
            emit(sink, oc, j0, a00);
            if (j1 != j0) {
                emit(sink, oc, j1, a01);
            }
            if (oc + 1 < out_c) {
                emit(sink, oc + 1, j0, a10);
                if (j1 != j0) {
                    emit(sink, oc + 1, j1, a11);
                }
            }
        }
    }
}
#endif

#endif /* TT_KERNELS_PW_BWD_WEIGHT_H */
