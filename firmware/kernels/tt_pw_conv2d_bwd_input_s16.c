#include "tt/kernels/pw_conv2d.h"

#include "tt_dsp.h"
#include "tt_grad.h"

uint32_t tt_pw_conv2d_bwd_input_s16_scratch_size(const tt_conv_geom_t *geom)
{
    /* Portable: an int32 accumulator row (in_c) and one pre-scaled dY row (out_c int16).
     * Cortex-M7: two pre-scaled dY rows, interleaved by channel pairs (out_c rounded up to
     * even). The larger of the two on every build, so the host planner reserves what the
     * board uses. */
    const uint32_t portable = (uint32_t)geom->in_c * 4u + (((uint32_t)geom->out_c * 2u + 3u) & ~3u);
    const uint32_t dsp = (((uint32_t)geom->out_c + 1u) & ~1u) * 4u;
    return portable > dsp ? portable : dsp;
}

#if TT_DSP
/*
 * Cortex-M7: dX[p][ic] = sum_oc dY'[p][oc] W[oc][ic] is a dot product over output channels,
 * and W is stored [oc][ic], so the two weights an SMLAD needs (W[oc][ic], W[oc+1][ic]) sit
 * in_c bytes apart. A halfword load from each of the two rows gives the bytes
 * (W[oc][ic], W[oc][ic+1]) and (W[oc+1][ic], W[oc+1][ic+1]); packed into one word, SXTB16
 * splits it into exactly the pairs for input channels ic and ic+1. dY' is int16 already, so
 * a dY' word is an SMLAD operand as it stands.
 *
 * Why 2 pixels x 2 input channels: each pair of weight words (2 LDRH, 1 ORR, 2 SXTB16) then
 * feeds four SMLAD (8 MACs), and the two pixels' dY' rows are interleaved by channel pairs in
 * scratch so one LDRD fetches both. Four accumulators, two dY' words, the weight words and
 * four pointers fit the registers. Per output channel pair: 7 loads/ALU + 4 SMLAD for 8 MACs.
 * An odd output channel count leaves a last channel, added with plain multiplies; an odd
 * input channel count leaves a last input channel, summed one pixel at a time.
 */
static void pw_bwd_input_dsp(const tt_conv_geom_t *geom, const tt_grad_quant_t *quant, const int16_t *grad_output,
                             const int8_t *weights, int32_t p, int32_t q, int32_t *dyp, int16_t *grad_input)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c, out_w = geom->out_w;
    const int32_t positions = geom->out_h * out_w;
    const int32_t pairs = out_c >> 1;
    const int8_t *const last_row = weights + (out_c - 1) * in_c; /* the odd channel's row */

    if (geom->stride_h > 1 || geom->stride_w > 1) {
        /* Only the sampled positions receive a gradient. */
        memset(grad_input, 0, (size_t)geom->in_h * (size_t)geom->in_w * (size_t)in_c * sizeof(int16_t));
    }
    for (int32_t k0 = 0; k0 < positions; k0 += 2) {
        const int32_t k1 = k0 + 1 < positions ? k0 + 1 : k0;
        const int16_t *dy0 = grad_output + k0 * out_c, *dy1 = grad_output + k1 * out_c;
        int16_t *dx0 = grad_input + ((k0 / out_w) * geom->stride_h * geom->in_w + (k0 % out_w) * geom->stride_w) * in_c;
        int16_t *dx1 = grad_input + ((k1 / out_w) * geom->stride_h * geom->in_w + (k1 % out_w) * geom->stride_w) * in_c;
        /* dyp: for each channel pair j, (dY'0[2j], dY'0[2j+1]) then (dY'1[2j], dY'1[2j+1]); an
         * odd last channel is paired with 0. */
        int16_t *d = (int16_t *)dyp;
        for (int32_t oc = 0; oc < out_c; oc += 2) {
            const int32_t oc1 = oc + 1;
            d[0] = (int16_t)tt_grad_prescale_fast(dy0[oc], quant->multiplier[oc], quant->shift[oc], p);
            d[2] = (int16_t)tt_grad_prescale_fast(dy1[oc], quant->multiplier[oc], quant->shift[oc], p);
            d[1] = oc1 < out_c ? (int16_t)tt_grad_prescale_fast(dy0[oc1], quant->multiplier[oc1], quant->shift[oc1], p) : 0;
            d[3] = oc1 < out_c ? (int16_t)tt_grad_prescale_fast(dy1[oc1], quant->multiplier[oc1], quant->shift[oc1], p) : 0;
            d += 4;
        }
        int32_t ic = 0;
        for (; ic + 2 <= in_c; ic += 2) {
            int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0; /* pixel, input channel */
            const int8_t *w = weights + ic;
            const int32_t *dw = dyp;
            for (int32_t j = 0; j < pairs; j++) {
                uint16_t h0, h1;
                memcpy(&h0, w, 2);
                memcpy(&h1, w + in_c, 2);
                const int32_t packed = (int32_t)((uint32_t)h0 | ((uint32_t)h1 << 16));
                const int32_t we = tt_dsp_even(packed), wo = tt_dsp_odd(packed);
                const int32_t d0 = dw[0], d1 = dw[1];
                a00 = tt_dsp_smlad(d0, we, a00);
                a01 = tt_dsp_smlad(d0, wo, a01);
                a10 = tt_dsp_smlad(d1, we, a10);
                a11 = tt_dsp_smlad(d1, wo, a11);
                w += 2 * in_c;
                dw += 2;
            }
            if (out_c & 1) {
                const int16_t *dl = (const int16_t *)dw; /* dY'0[last], 0, dY'1[last], 0 */
                a00 += dl[0] * last_row[ic];
                a01 += dl[0] * last_row[ic + 1];
                a10 += dl[2] * last_row[ic];
                a11 += dl[2] * last_row[ic + 1];
            }
            dx0[ic] = tt_sat_s16(tt_requantize_fast(a00, quant->scale_multiplier, q));
            dx0[ic + 1] = tt_sat_s16(tt_requantize_fast(a01, quant->scale_multiplier, q));
            dx1[ic] = tt_sat_s16(tt_requantize_fast(a10, quant->scale_multiplier, q));
            dx1[ic + 1] = tt_sat_s16(tt_requantize_fast(a11, quant->scale_multiplier, q));
        }
        if (ic < in_c) {
            int32_t a0 = 0, a1 = 0;
            const int16_t *dl = (const int16_t *)dyp;
            for (int32_t oc = 0; oc < out_c; oc++) {
                const int32_t w = weights[oc * in_c + ic];
                const int16_t *e = dl + (oc >> 1) * 4 + (oc & 1);
                a0 += e[0] * w;
                a1 += e[2] * w;
            }
            dx0[ic] = tt_sat_s16(tt_requantize_fast(a0, quant->scale_multiplier, q));
            dx1[ic] = tt_sat_s16(tt_requantize_fast(a1, quant->scale_multiplier, q));
        }
    }
}
#endif

void tt_pw_conv2d_bwd_input_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_grad_quant_t *quant,
                                const int16_t *grad_output, int32_t grad_output_exp, const int8_t *weights,
                                int16_t *grad_input, int32_t *grad_input_exp)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c;

#if TT_DSP
    const int64_t wbound = tt_dsp_max_column_abs_sum(weights, out_c, in_c);
#else
    int64_t wbound = 0;
    for (int32_t ic = 0; ic < in_c; ic++) {
        int64_t s = 0;
        for (int32_t oc = 0; oc < out_c; oc++) {
            const int32_t w = weights[oc * in_c + ic];
            s += w < 0 ? -w : w;
        }
        wbound = s > wbound ? s : wbound;
    }
#endif
    int64_t bound = 0;
    const int32_t max_dy = tt_max_abs_s16(grad_output, geom->out_h * geom->out_w * out_c);
    const int32_t p = tt_grad_prescale_shift(max_dy, wbound, &bound);
    const int32_t q = tt_grad_choose_shift(bound, quant->scale_multiplier, quant->scale_shift, grad_output_exp + p,
                                           grad_input_exp);
#if TT_DSP
    pw_bwd_input_dsp(geom, quant, grad_output, weights, p, q, (int32_t *)ctx->buf, grad_input);
#else
    const int32_t in_w = geom->in_w;
    int32_t *acc = (int32_t *)ctx->buf;
    int16_t *dyp = (int16_t *)(acc + in_c);
    for (int32_t iy = 0; iy < geom->in_h; iy++) {
        for (int32_t ix = 0; ix < in_w; ix++) {
            int16_t *dx = grad_input + (iy * in_w + ix) * in_c;
            /* With stride > 1 only the sampled positions receive a gradient. */
            if (iy % geom->stride_h != 0 || ix % geom->stride_w != 0 || iy / geom->stride_h >= geom->out_h ||
                ix / geom->stride_w >= geom->out_w) {
                for (int32_t ic = 0; ic < in_c; ic++) {
                    dx[ic] = 0;
                }
                continue;
            }
            const int16_t *dy = grad_output + ((iy / geom->stride_h) * geom->out_w + ix / geom->stride_w) * out_c;
            for (int32_t oc = 0; oc < out_c; oc++) {
                dyp[oc] = (int16_t)tt_grad_prescale(dy[oc], quant->multiplier[oc], quant->shift[oc], p);
            }
            for (int32_t ic = 0; ic < in_c; ic++) {
                acc[ic] = 0;
            }
            for (int32_t oc = 0; oc < out_c; oc++) {
                const int32_t d = dyp[oc];
                if (d == 0) {
                    continue;
                }
                const int8_t *w = weights + oc * in_c;
                for (int32_t ic = 0; ic < in_c; ic++) {
                    acc[ic] += (int32_t)w[ic] * d;
                }
            }
            for (int32_t ic = 0; ic < in_c; ic++) {
                dx[ic] = tt_sat_s16(tt_requantize(acc[ic], quant->scale_multiplier, q));
            }
        }
    }
#endif
}
