#include "tt/kernels/pw_conv2d.h"

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

/* The overlay kernel with nothing trained reads every column from @p weights: one
 * implementation (and one Cortex-M7 path) for both. */
void tt_pw_conv2d_bwd_input_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_grad_quant_t *quant,
                                const int16_t *grad_output, int32_t grad_output_exp, const int8_t *weights,
                                int16_t *grad_input, int32_t *grad_input_exp)
{
    tt_pw_conv2d_bwd_input_overlay_s16(ctx, geom, quant, grad_output, grad_output_exp, weights, 0, 0, 0, grad_input,
                                       grad_input_exp);
}
