/**
 * @file irb.h
 * @brief Fused forward of a frozen inverted-bottleneck block (pw1 expand -> depthwise ->
 *        pw2 project [-> residual add]) that never materialises the expanded tensors.
 *
 * Layer by layer, an inverted bottleneck holds its expanded tensors (6x the block's input
 * channels, at the input's resolution) in SRAM, the largest tensors of the step.
 * Where nothing inside the block is saved for backward, the plan runs it with this kernel,
 * **row-streamed**: for each output row it slides a window of expanded rows (the expansion
 * layer applied to the input rows the depthwise window newly reaches, each computed once), runs
 * the depthwise on that window into one expanded output row, and projects that row with pw2
 * straight into the output row (through the residual add if the block has one). Scratch:
 * min(kernel_h, in_h) * in_w * E (window) + out_w * E (depthwise row) [+ out_w * out_c, the
 * projected row of a residual block] bytes, plus the sub-kernels' scratch. The expansion layer
 * may be any convolution, so the stem of the shared models fuses with their first block
 * (which has no pw1): the 64x64x16 stem output never exists either.
 *
 * Its memory against layer-by-layer and a channel-streamed alternative, measured on the
 * shared models: docs/KERNELS.md.
 *
 * Bit-exact with the unfused sequence tt_pw_conv2d_fwd_s8() -> tt_dw_conv2d_fwd_s8() ->
 * tt_pw_conv2d_fwd_s8() [-> tt_add_fwd_s8()]: the kernel calls exactly those kernels on
 * rows (the intermediate int8 requantizations are the same values), so it also takes their
 * Cortex-M7 DSP paths.
 */
#ifndef TT_KERNELS_IRB_H
#define TT_KERNELS_IRB_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Shapes of an inverted bottleneck. */
typedef struct {
    /** The expansion layer: block input in_h x in_w x in_c -> dw.in_h x dw.in_w x dw.in_c. A
     *  pointwise (1x1, no padding: tt_pw_conv2d_fwd_s8()) or any convolution
     *  (tt_conv2d_fwd_s8(), e.g. the stem that precedes a block without pw1). Ignored when
     *  @c has_expand is 0. */
    tt_conv_geom_t expand;
    /** The depthwise over the expanded tensor: dw.in_h x dw.in_w x E -> out_h x out_w x E
     *  (multiplier 1); its stride and padding are the block's. */
    tt_conv_geom_t dw;
    int32_t out_c;      /**< pw2's output channels. */
    int32_t has_expand; /**< Non-zero: the expansion layer exists; 0: the block input is the depthwise input. */
    int32_t residual;   /**< Non-zero: output = ADD(block input, projection); needs out == in shape. */
} tt_irb_geom_t;

/** Quantization of the block's layers. */
typedef struct {
    tt_conv_quant_t pw1; /**< The expansion layer's; ignored without it. */
    tt_conv_quant_t dw;
    tt_conv_quant_t pw2;
    /** The residual ADD with input1 = the block input and input2 = the projection (the sum is
     *  symmetric: a model whose ADD lists them the other way swaps the input1/input2 fields). */
    tt_add_quant_t add;
} tt_irb_quant_t;

/** The block's frozen parameters (flash), layouts as the single-layer kernels. */
typedef struct {
    const int8_t *pw1_weights; /**< The expansion layer's [E][kh][kw][in_c] (OHWI), or NULL without it. */
    const int32_t *pw1_bias;   /**< [expand_c] or NULL. */
    const int8_t *dw_weights;  /**< [1][kh][kw][expand_c]. */
    const int32_t *dw_bias;    /**< [expand_c] or NULL. */
    const int8_t *pw2_weights; /**< [out_c][1][1][expand_c]. */
    const int32_t *pw2_bias;   /**< [out_c] or NULL. */
} tt_irb_weights_t;

/** 1 when @p geom is a valid block (the rules in tt_irb_geom_t's comments). Pure. */
int tt_irb_geom_check(const tt_irb_geom_t *geom);

/** Scratch bytes tt_irb_fwd_s8() needs (see the file comment), each part rounded up to 4. Pure. */
uint32_t tt_irb_fwd_s8_scratch_size(const tt_irb_geom_t *geom);

/**
 * 1 when tt_irb_fwd_s8() may write its output over its input (output == input): for every
 * output row, the bytes written so far stay below the first input row the expansion layer (or,
 * without one, the window copy) still has to read. True on 45 of the 51 blocks of the shared
 * models, every residual block included. Pure.
 */
int tt_irb_fwd_s8_can_alias(const tt_irb_geom_t *geom);

/**
 * Fused inverted-bottleneck forward.
 * @param ctx     scratch of tt_irb_fwd_s8_scratch_size() bytes
 * @param geom    valid per tt_irb_geom_check()
 * @param quant   the layers' requantization
 * @param input   [in_h][in_w][in_c]
 * @param weights the block's parameters
 * @param output  [out_h][out_w][out_c]; must not overlap the input, except output == input
 *                when tt_irb_fwd_s8_can_alias()
 */
void tt_irb_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_irb_geom_t *geom, const tt_irb_quant_t *quant,
                   const int8_t *input, const tt_irb_weights_t *weights, int8_t *output);

/** The input rows a piece of tt_irb_fwd_s8_rows() has: [first, avail). */
typedef struct {
    const int8_t *data; /**< row r at data + (r - first) * in_w * in_c */
    int32_t first;      /**< the first row held; at most what the previous piece returned (0 first) */
    int32_t avail;      /**< one past the last complete row held, first <= avail <= in_h */
} tt_irb_rows_t;

/** How far tt_irb_fwd_s8_rows() has got; zero-initialise before the first piece. */
typedef struct {
    int32_t next_out; /**< next output row to compute */
    int32_t wlo, whi; /**< expanded rows held in the scratch window: [wlo, whi) */
} tt_irb_progress_t;

/**
 * Input rows tt_irb_fwd_s8_rows() reads at most at once: over the output rows, the rows from
 * the first one still needed to the last one the next output row reads. A caller that runs
 * each piece as soon as a row completes never holds more complete rows than this, the row it
 * is receiving included. Pure.
 */
int32_t tt_irb_fwd_s8_rows_span(const tt_irb_geom_t *geom);

/**
 * The fused forward in pieces, as input rows arrive (a sample streamed in over the UART, or
 * a camera's rows): computes, from progress->next_out on, every output row whose input rows
 * are all below @p avail, and stops at the first that is not. The window of expanded rows
 * stays in the scratch between pieces, so the scratch (and @p output) must be left alone
 * between calls; each expanded row is still computed once. Successive pieces give exactly
 * tt_irb_fwd_s8()'s bits (which is this function over all rows at once).
 * @param ctx      scratch of tt_irb_fwd_s8_scratch_size() bytes, the same for every piece
 * @param rows     the input rows held
 * @param output   [out_h][out_w][out_c]; must not overlap the input rows
 * @param progress updated to the next output row to compute
 * @return the first input row the remaining output rows read (in_h when all are done): the
 *         caller may drop the rows below it
 */
int32_t tt_irb_fwd_s8_rows(const tt_kernel_ctx_t *ctx, const tt_irb_geom_t *geom, const tt_irb_quant_t *quant,
                           const tt_irb_rows_t *rows, const tt_irb_weights_t *weights, int8_t *output,
                           tt_irb_progress_t *progress);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_IRB_H */
