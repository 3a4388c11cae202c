/**
 * @file layer.h
 * @brief One entry per parameterised op and pass: the place that picks the kernel variant.
 *
 * A layer's forward and input-gradient kernels come in variants: plain, in place (the output
 * written over the input), overlay (a partially trained layer read as frozen tensor + trained
 * slice, no merged copy) and merged (the slice copied over a copy of the frozen tensor first).
 * Which one runs follows from two facts only: whether the output aliases the input, and whether
 * the layer trains a slice that is not the whole tensor. Each wrapper below decides that here,
 * and nowhere else: the executor's step calls only the wrapper, its load check only the
 * wrapper's scratch-size function, and the host compiler asks the same function through
 * ctypes (tt_host.compiler.scratch), so planner, loader and step cannot disagree.
 *
 * Scratch layout of a merged variant: the merged weight tensor (rounded up to 4 bytes) first,
 * then the kernel's own scratch.
 */
#ifndef TT_KERNELS_LAYER_H
#define TT_KERNELS_LAYER_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a layer's forward and input-gradient kernels read as its weights. */
typedef struct {
    const int8_t *frozen;    /**< The whole factory tensor (flash), the kernel's layout. */
    const int8_t *trained;   /**< The trained slice (arena): n_channels input channels, or NULL. */
    const int16_t *channels; /**< The trained input channels, n_channels entries (ascending). */
    int32_t n_channels;      /**< 0: a frozen layer (trained is ignored). */
    int32_t whole;           /**< 1: the slice is every input channel in order, i.e. the tensor itself. */
} tt_weights_view_t;

/** Returned by a ..._wrapper_..._scratch_size() function for a request no variant serves
 *  (writing over the input where no in-place kernel exists for that geometry and weights). */
#define TT_SCRATCH_UNSUPPORTED 0xFFFFFFFFu

/* Scratch sizes. Only n_channels and whole of @p w are read; @p in_place: the output is planned
 * over the input (the same bytes). Pure. */
uint32_t tt_conv2d_fwd_wrapper_s8_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w, int in_place);
uint32_t tt_pw_conv2d_fwd_wrapper_s8_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w,
                                                  int in_place);
uint32_t tt_dw_conv2d_fwd_wrapper_s8_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w,
                                                  int in_place);
uint32_t tt_fc_fwd_wrapper_s8_scratch_size(const tt_fc_geom_t *geom, const tt_weights_view_t *w, int in_place);
uint32_t tt_conv2d_bwd_input_wrapper_s16_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w,
                                                      int in_place);
uint32_t tt_pw_conv2d_bwd_input_wrapper_s16_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w,
                                                         int in_place);
uint32_t tt_dw_conv2d_bwd_input_wrapper_s16_scratch_size(const tt_conv_geom_t *geom, const tt_weights_view_t *w,
                                                         int in_place);
uint32_t tt_fc_bwd_input_wrapper_s16_scratch_size(const tt_fc_geom_t *geom, const tt_weights_view_t *w,
                                                  int in_place);

/**
 * Forward of a layer: plain, overlay (conv, pointwise, FC with a partial slice), merged
 * (depthwise with a partial slice) or in place (pointwise and depthwise, when @p output ==
 * @p input), bit-identical whichever runs.
 * @param ctx     scratch of the matching ..._scratch_size(geom, w, output == input) bytes,
 *                which must not be TT_SCRATCH_UNSUPPORTED
 * @param bias    [out_c] int32, or NULL
 */
void tt_conv2d_fwd_wrapper_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                              const int8_t *input, const tt_weights_view_t *w, const int32_t *bias, int8_t *output);
void tt_pw_conv2d_fwd_wrapper_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *input, const tt_weights_view_t *w, const int32_t *bias, int8_t *output);
void tt_dw_conv2d_fwd_wrapper_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *input, const tt_weights_view_t *w, const int32_t *bias, int8_t *output);
void tt_fc_fwd_wrapper_s8(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_conv_quant_t *quant,
                          const int8_t *input, const tt_weights_view_t *w, const int32_t *bias, int8_t *output);

/**
 * Input gradient of a layer: plain, overlay (pointwise with a partial slice), merged (conv,
 * depthwise, FC with a partial slice) or in place (depthwise, when @p grad_input ==
 * @p grad_output).
 * @param ctx  scratch of the matching ..._scratch_size(geom, w, grad_input == grad_output) bytes
 */
void tt_conv2d_bwd_input_wrapper_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                     const tt_grad_quant_t *quant, const int16_t *grad_output, int32_t grad_output_exp,
                                     const tt_weights_view_t *w, int16_t *grad_input, int32_t *grad_input_exp);
void tt_pw_conv2d_bwd_input_wrapper_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, const int16_t *grad_output,
                                        int32_t grad_output_exp, const tt_weights_view_t *w, int16_t *grad_input,
                                        int32_t *grad_input_exp);
void tt_dw_conv2d_bwd_input_wrapper_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, const int16_t *grad_output,
                                        int32_t grad_output_exp, const tt_weights_view_t *w, int16_t *grad_input,
                                        int32_t *grad_input_exp);
void tt_fc_bwd_input_wrapper_s16(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_grad_quant_t *quant,
                                 const int16_t *grad_output, int32_t grad_output_exp, const tt_weights_view_t *w,
                                 int16_t *grad_input, int32_t *grad_input_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_LAYER_H */
