#include "tt/kernels/fc.h"

#include "tt_dsp.h"
#include "tt_fixedpoint.h"

uint32_t tt_fc_fwd_s8_scratch_size(const tt_fc_geom_t *geom)
{
    (void)geom;
    return 0;
}

#if TT_DSP
/*
 * Cortex-M7: two weight rows per pass over the input, so each input word is loaded and
 * widened once (SXTAB16 adds the input offset) for two outputs; each weight word is used
 * once anyway (batch 1), so it is widened in place. Per four inputs and two rows: 3 loads,
 * 6 widenings, 4 SMLAD for 8 MACs. No scratch: the input is read straight from the arena.
 */
void tt_fc_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_conv_quant_t *quant,
                  const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    (void)ctx;
    const int32_t in_c = geom->in_c, out_c = geom->out_c;
    const int32_t input_offset = -quant->input_zp;
    const int32_t offset2 = tt_dsp_pack_offset(input_offset);
    const tt_dsp_requant_t rq = tt_dsp_requant_params(quant, geom->out_c);

    for (int32_t oc0 = 0; oc0 < out_c; oc0 += 2) {
        const int32_t oc1 = oc0 + 1 < out_c ? oc0 + 1 : oc0;
        const int8_t *w0 = weights + oc0 * in_c, *w1 = weights + oc1 * in_c;
        int32_t a0 = bias != 0 ? bias[oc0] : 0, a1 = bias != 0 ? bias[oc1] : 0;
        int32_t ic = 0;
        for (; ic + 4 <= in_c; ic += 4) {
            const int32_t x = tt_dsp_read_s8x4(input + ic);
            const int32_t xe = tt_dsp_even_add(offset2, x), xo = tt_dsp_odd_add(offset2, x);
            const int32_t r0 = tt_dsp_read_s8x4(w0 + ic), r1 = tt_dsp_read_s8x4(w1 + ic);
            a0 = tt_dsp_smlad(xo, tt_dsp_odd(r0), tt_dsp_smlad(xe, tt_dsp_even(r0), a0));
            a1 = tt_dsp_smlad(xo, tt_dsp_odd(r1), tt_dsp_smlad(xe, tt_dsp_even(r1), a1));
        }
        for (; ic < in_c; ic++) {
            const int32_t x = input[ic] + input_offset;
            a0 += x * w0[ic];
            a1 += x * w1[ic];
        }
        tt_dsp_requant_pair(&rq, oc0, a0, a0, output + oc0, output + oc0);
        tt_dsp_requant_pair(&rq, oc1, a1, a1, output + oc1, output + oc1);
    }
}
#else
void tt_fc_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_conv_quant_t *quant,
                  const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    (void)ctx;
    const int32_t in_c = geom->in_c;
    const int32_t input_offset = -quant->input_zp;

    for (int32_t oc = 0; oc < geom->out_c; oc++) {
        const int8_t *w = weights + oc * in_c;
        int32_t acc = bias != 0 ? bias[oc] : 0;
        for (int32_t ic = 0; ic < in_c; ic++) {
            acc += ((int32_t)input[ic] + input_offset) * (int32_t)w[ic];
        }
        acc = tt_requantize(acc, quant->multiplier[oc], quant->shift[oc]) + quant->output_zp;
        output[oc] = tt_clamp_s8(acc, quant->act_min, quant->act_max);
    }
}
#endif
