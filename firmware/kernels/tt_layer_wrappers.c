/* The layer wrappers of tt/kernels/layer.h: each picks its kernel variant from the aliasing of
 * its output and the weights view, and sizes its scratch by the same rule. */
#include <string.h>

#include "tt/kernels/conv2d.h"
#include "tt/kernels/dcheck.h"
#include "tt/kernels/dw_conv2d.h"
#include "tt/kernels/fc.h"
#include "tt/kernels/layer.h"
#include "tt/kernels/pw_conv2d.h"

#define UNSUPPORTED TT_SCRATCH_UNSUPPORTED

static uint32_t align4(uint64_t n) { return (uint32_t)((n + 3u) & ~(uint64_t)3u); }

/* A slice of some input channels only: the kernels need it merged into the frozen tensor, or an
 * overlay kernel that reads both where they lie. */
static int partial(const tt_weights_view_t *w) { return w->n_channels > 0 && !w->whole; }

/* The tensor a plain kernel reads when the slice is nothing or everything. */
static const int8_t *plain_weights(const tt_weights_view_t *w)
{
    return w->n_channels > 0 ? w->trained : w->frozen;
}

/* Weight tensor sizes in the kernels' layouts (OHWI; depthwise 1HWC; FC [out][in]). */
static uint64_t conv_weights(const tt_conv_geom_t *g)
{
    return (uint64_t)(uint32_t)(g->kernel_h * g->kernel_w) * (uint32_t)g->out_c * (uint32_t)g->in_c;
}

static uint64_t dw_weights(const tt_conv_geom_t *g)
{
    return (uint64_t)(uint32_t)(g->kernel_h * g->kernel_w) * (uint32_t)g->out_c;
}

/* The merged variant's scratch: the merged tensor, then the kernel's own scratch. Sizes are
 * summed in 64 bits: a hostile geometry saturates to UNSUPPORTED instead of wrapping. */
static uint32_t merged_size(uint64_t weights, uint32_t kernel)
{
    const uint64_t total = (uint64_t)align4(weights) + kernel;
    return total >= UNSUPPORTED ? UNSUPPORTED : (uint32_t)total;
}

/* The frozen tensor with the slice written over its trained channels, at the start of the
 * scratch; rows of in_c weights (out_c * taps of them, depthwise taps), the slice n per row. */
static const int8_t *merge(const tt_kernel_ctx_t *ctx, const tt_weights_view_t *w, int32_t rows, int32_t in_c,
                           tt_kernel_ctx_t *rest)
{
    int8_t *merged = (int8_t *)ctx->buf;
    const uint32_t bytes = (uint32_t)rows * (uint32_t)in_c;
    memcpy(merged, w->frozen, bytes);
    for (int32_t r = 0; r < rows; r++) {
        for (int32_t j = 0; j < w->n_channels; j++) {
            merged[r * in_c + w->channels[j]] = w->trained[r * w->n_channels + j];
        }
    }
    rest->buf = merged + align4(bytes);
    rest->size = ctx->size - align4(bytes);
    return merged;
}

/* -- forward ------------------------------------------------------------------------------------ */

uint32_t tt_conv2d_fwd_wrapper_s8_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w, int in_place)
{
    if (in_place) {
        return UNSUPPORTED;
    }
    return partial(w) ? tt_conv2d_fwd_overlay_s8_scratch_size(geom) : tt_conv2d_fwd_s8_scratch_size(geom);
}

void tt_conv2d_fwd_wrapper_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                              const int8_t *input, const tt_weights_view_t *w, const int32_t *bias, int8_t *output)
{
    TT_DCHECK(ctx->size >= tt_conv2d_fwd_wrapper_s8_scratch_size(geom, w, (const void *)input == (const void *)output));
    if (partial(w)) {
        tt_conv2d_fwd_overlay_s8(ctx, geom, quant, input, w->frozen, w->channels, w->n_channels, w->trained, bias,
                                 output);
    } else {
        tt_conv2d_fwd_s8(ctx, geom, quant, input, plain_weights(w), bias, output);
    }
}

uint32_t tt_pw_conv2d_fwd_wrapper_s8_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w,
                                                  int in_place)
{
    if (in_place) { /* the overlay kernel has no in-place form */
        const int served = !partial(w) && tt_pw_conv2d_fwd_inplace_s8_supported(geom);
        return served ? tt_pw_conv2d_fwd_inplace_s8_scratch_size(geom) : UNSUPPORTED;
    }
    return partial(w) ? tt_conv2d_fwd_overlay_s8_scratch_size(geom) : tt_pw_conv2d_fwd_s8_scratch_size(geom);
}

void tt_pw_conv2d_fwd_wrapper_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *input, const tt_weights_view_t *w, const int32_t *bias, int8_t *output)
{
    const int in_place = (const void *)input == (const void *)output;
    TT_DCHECK(ctx->size >= tt_pw_conv2d_fwd_wrapper_s8_scratch_size(geom, w, in_place));
    if (partial(w)) {
        tt_conv2d_fwd_overlay_s8(ctx, geom, quant, input, w->frozen, w->channels, w->n_channels, w->trained, bias,
                                 output);
    } else if (in_place) {
        tt_pw_conv2d_fwd_inplace_s8(ctx, geom, quant, plain_weights(w), bias, output);
    } else {
        tt_pw_conv2d_fwd_s8(ctx, geom, quant, input, plain_weights(w), bias, output);
    }
}

uint32_t tt_dw_conv2d_fwd_wrapper_s8_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w,
                                                  int in_place)
{
    uint32_t kernel;
    if (in_place) {
        if (!tt_dw_conv2d_fwd_inplace_s8_supported(geom)) {
            return UNSUPPORTED;
        }
        kernel = tt_dw_conv2d_fwd_inplace_s8_scratch_size(geom);
    } else {
        kernel = tt_dw_conv2d_fwd_s8_scratch_size(geom);
    }
    return partial(w) ? merged_size(dw_weights(geom), kernel) : kernel;
}

void tt_dw_conv2d_fwd_wrapper_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *input, const tt_weights_view_t *w, const int32_t *bias, int8_t *output)
{
    const int in_place = (const void *)input == (const void *)output;
    TT_DCHECK(ctx->size >= tt_dw_conv2d_fwd_wrapper_s8_scratch_size(geom, w, in_place));
    tt_kernel_ctx_t rest = *ctx;
    const int8_t *weights = partial(w) ? merge(ctx, w, geom->kernel_h * geom->kernel_w, geom->in_c, &rest)
                                       : plain_weights(w);
    if (in_place) {
        tt_dw_conv2d_fwd_inplace_s8(&rest, geom, quant, weights, bias, output);
    } else {
        tt_dw_conv2d_fwd_s8(&rest, geom, quant, input, weights, bias, output);
    }
}

uint32_t tt_fc_fwd_wrapper_s8_scratch_size(const tt_fc_geom_t *geom, const tt_weights_view_t *w, int in_place)
{
    if (in_place) {
        return UNSUPPORTED;
    }
    return partial(w) ? tt_fc_fwd_overlay_s8_scratch_size(geom) : tt_fc_fwd_s8_scratch_size(geom);
}

void tt_fc_fwd_wrapper_s8(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_conv_quant_t *quant,
                          const int8_t *input, const tt_weights_view_t *w, const int32_t *bias, int8_t *output)
{
    TT_DCHECK(ctx->size >= tt_fc_fwd_wrapper_s8_scratch_size(geom, w, (const void *)input == (const void *)output));
    if (partial(w)) {
        tt_fc_fwd_overlay_s8(ctx, geom, quant, input, w->frozen, w->channels, w->n_channels, w->trained, bias, output);
    } else {
        tt_fc_fwd_s8(ctx, geom, quant, input, plain_weights(w), bias, output);
    }
}

/* -- input gradient ----------------------------------------------------------------------------- */

uint32_t tt_conv2d_bwd_input_wrapper_s16_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w,
                                                      int in_place)
{
    if (in_place) {
        return UNSUPPORTED;
    }
    const uint32_t kernel = tt_conv2d_bwd_input_s16_scratch_size(geom);
    return partial(w) ? merged_size(conv_weights(geom), kernel) : kernel;
}

void tt_conv2d_bwd_input_wrapper_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                     const tt_grad_quant_t *quant, const int16_t *grad_output, int32_t grad_output_exp,
                                     const tt_weights_view_t *w, int16_t *grad_input, int32_t *grad_input_exp)
{
    TT_DCHECK(ctx->size >= tt_conv2d_bwd_input_wrapper_s16_scratch_size(geom, w,
                                                            (const void *)grad_output == (const void *)grad_input));
    tt_kernel_ctx_t rest = *ctx;
    const int8_t *weights = partial(w) ? merge(ctx, w, geom->out_c * geom->kernel_h * geom->kernel_w, geom->in_c, &rest)
                                       : plain_weights(w);
    tt_conv2d_bwd_input_s16(&rest, geom, quant, grad_output, grad_output_exp, weights, grad_input, grad_input_exp);
}

uint32_t tt_pw_conv2d_bwd_input_wrapper_s16_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w,
                                                         int in_place)
{
    if (in_place) {
        return UNSUPPORTED;
    }
    return partial(w) ? tt_pw_conv2d_bwd_input_overlay_s16_scratch_size(geom)
                      : tt_pw_conv2d_bwd_input_s16_scratch_size(geom);
}

void tt_pw_conv2d_bwd_input_wrapper_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, const int16_t *grad_output,
                                        int32_t grad_output_exp, const tt_weights_view_t *w, int16_t *grad_input,
                                        int32_t *grad_input_exp)
{
    TT_DCHECK(ctx->size >= tt_pw_conv2d_bwd_input_wrapper_s16_scratch_size(geom, w,
                                                            (const void *)grad_output == (const void *)grad_input));
    if (partial(w)) {
        tt_pw_conv2d_bwd_input_overlay_s16(ctx, geom, quant, grad_output, grad_output_exp, w->frozen, w->channels,
                                           w->n_channels, w->trained, grad_input, grad_input_exp);
    } else {
        tt_pw_conv2d_bwd_input_s16(ctx, geom, quant, grad_output, grad_output_exp, plain_weights(w), grad_input,
                                   grad_input_exp);
    }
}

uint32_t tt_dw_conv2d_bwd_input_wrapper_s16_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w,
                                                         int in_place)
{
    uint32_t kernel;
    if (in_place) {
        if (!tt_dw_conv2d_bwd_input_inplace_s16_supported(geom)) {
            return UNSUPPORTED;
        }
        kernel = tt_dw_conv2d_bwd_input_inplace_s16_scratch_size(geom);
    } else {
        kernel = tt_dw_conv2d_bwd_input_s16_scratch_size(geom);
    }
    return partial(w) ? merged_size(dw_weights(geom), kernel) : kernel;
}

void tt_dw_conv2d_bwd_input_wrapper_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, const int16_t *grad_output,
                                        int32_t grad_output_exp, const tt_weights_view_t *w, int16_t *grad_input,
                                        int32_t *grad_input_exp)
{
    const int in_place = (const void *)grad_output == (const void *)grad_input;
    TT_DCHECK(ctx->size >= tt_dw_conv2d_bwd_input_wrapper_s16_scratch_size(geom, w, in_place));
    tt_kernel_ctx_t rest = *ctx;
    const int8_t *weights = partial(w) ? merge(ctx, w, geom->kernel_h * geom->kernel_w, geom->in_c, &rest)
                                       : plain_weights(w);
    if (in_place) {
        tt_dw_conv2d_bwd_input_inplace_s16(&rest, geom, quant, grad_output_exp, weights, grad_input, grad_input_exp);
    } else {
        tt_dw_conv2d_bwd_input_s16(&rest, geom, quant, grad_output, grad_output_exp, weights, grad_input,
                                   grad_input_exp);
    }
}

uint32_t tt_fc_bwd_input_wrapper_s16_scratch_size(const tt_fc_geom_t *geom, const tt_weights_view_t *w, int in_place)
{
    if (in_place) {
        return UNSUPPORTED;
    }
    const uint32_t kernel = tt_fc_bwd_input_s16_scratch_size(geom);
    return partial(w) ? merged_size((uint64_t)(uint32_t)geom->out_c * (uint32_t)geom->in_c, kernel) : kernel;
}

void tt_fc_bwd_input_wrapper_s16(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_grad_quant_t *quant,
                                 const int16_t *grad_output, int32_t grad_output_exp, const tt_weights_view_t *w,
                                 int16_t *grad_input, int32_t *grad_input_exp)
{
    TT_DCHECK(ctx->size >= tt_fc_bwd_input_wrapper_s16_scratch_size(geom, w,
                                                            (const void *)grad_output == (const void *)grad_input));
    tt_kernel_ctx_t rest = *ctx;
    const int8_t *weights = partial(w) ? merge(ctx, w, geom->out_c, geom->in_c, &rest) : plain_weights(w);
    tt_fc_bwd_input_s16(&rest, geom, quant, grad_output, grad_output_exp, weights, grad_input, grad_input_exp);
}
