#include "tt/kernels/fc.h"

#include "tt_grad.h"

uint32_t tt_fc_bwd_input_s16_scratch_size(const tt_fc_geom_t *geom)
{
    return (uint32_t)geom->in_c * 4u + (((uint32_t)geom->out_c * 2u + 3u) & ~3u);
}

void tt_fc_bwd_input_s16(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_grad_quant_t *quant,
                         const int16_t *grad_output, int32_t grad_output_exp, const int8_t *weights,
                         int16_t *grad_input, int32_t *grad_input_exp)
{
    const int32_t in_c = geom->in_c, out_c = geom->out_c;
    int32_t *acc = (int32_t *)ctx->buf;
    int16_t *dyp = (int16_t *)(acc + in_c);

    /* Column sums of |W| in the accumulator row first, then the row is reused. */
    for (int32_t ic = 0; ic < in_c; ic++) {
        acc[ic] = 0;
    }
    for (int32_t oc = 0; oc < out_c; oc++) {
        for (int32_t ic = 0; ic < in_c; ic++) {
            const int32_t w = weights[oc * in_c + ic];
            acc[ic] += w < 0 ? -w : w;
        }
    }
    int64_t wbound = 0;
    for (int32_t ic = 0; ic < in_c; ic++) {
        wbound = acc[ic] > wbound ? acc[ic] : wbound;
    }
    int32_t p;
    const int32_t q = tt_grad_input_shifts(grad_output, out_c, wbound, quant, grad_output_exp, &p, grad_input_exp);

    for (int32_t oc = 0; oc < out_c; oc++) {
        dyp[oc] = (int16_t)tt_grad_prescale(grad_output[oc], quant->multiplier[oc], quant->shift[oc], p);
    }
    for (int32_t ic = 0; ic < in_c; ic++) {
        acc[ic] = 0;
    }
    for (int32_t oc = 0; oc < out_c; oc++) {
        const int32_t d = dyp[oc];
        const int8_t *w = weights + oc * in_c;
        for (int32_t ic = 0; ic < in_c; ic++) {
            acc[ic] += (int32_t)w[ic] * d;
        }
    }
    for (int32_t ic = 0; ic < in_c; ic++) {
        grad_input[ic] = tt_sat_s16(tt_requantize(acc[ic], quant->scale_multiplier, q));
    }
}
