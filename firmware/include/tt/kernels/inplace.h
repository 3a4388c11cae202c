/**
 * @file inplace.h
 * @brief Depthwise and pointwise kernels that write their output over their input.
 *
 * Each is bit-identical to its out-of-place kernel (tt_dw_conv2d_fwd_s8(),
 * tt_pw_conv2d_fwd_s8(), tt_dw_conv2d_bwd_input_s16()); the output occupies the first bytes
 * of the input's buffer, so the plan needs one buffer of max(input, output) bytes instead of
 * both. Legal only where the plan no longer needs the input (nothing saved from it for
 * backward, no weight gradient still to read a dY).
 */
#ifndef TT_KERNELS_INPLACE_H
#define TT_KERNELS_INPLACE_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * 1 when tt_dw_conv2d_fwd_inplace_s8() supports @p geom: a valid geometry with depth
 * multiplier 1 (out_c == in_c) and out_h <= in_h, out_w <= in_w (any stride; padding as
 * TFLite's SAME or a folded PAD). Pure.
 */
int tt_dw_conv2d_fwd_inplace_s8_supported(const tt_conv_geom_t *geom);

/** Scratch bytes tt_dw_conv2d_fwd_inplace_s8() needs: the larger of
 *  tt_dw_conv2d_fwd_s8_scratch_size() (the planar path's ring of kernel_h padded rows of four
 *  channels, int16, and their weight tables; 0 where that path does not apply) and
 *  kernel_h * in_w rounded up to 4 (a window of input rows of one channel). The same on every
 *  build. Pure. */
uint32_t tt_dw_conv2d_fwd_inplace_s8_scratch_size(const tt_conv_geom_t *geom);

/**
 * In-place depthwise convolution. Output channel c is written only over input channel c's
 * bytes (NHWC, same channel count), and output pixel p lands on input pixel p; output row oy
 * therefore clobbers no input row at or beyond the window of output row oy. On the Cortex-M7,
 * where tt_dw_conv2d_fwd_s8() takes its planar path (square 3x3/5x5/7x7, horizontal stride 1
 * or 2, in_c >= 4), that path runs over the tensor itself, four channels at a time: its ring
 * holds the kernel_h padded rows under the current window, copied as the window slides and
 * before any write can reach them. The remaining in_c % 4 channels (all of them elsewhere, and
 * on builds without the DSP extension) go one at a time through the same scheme with a window
 * of int8 rows of one channel.
 * @param ctx     scratch of tt_dw_conv2d_fwd_inplace_s8_scratch_size() bytes
 * @param geom    supported per tt_dw_conv2d_fwd_inplace_s8_supported()
 * @param quant   per-channel requantization
 * @param weights [1][kernel_h][kernel_w][in_c]
 * @param bias    [in_c] int32, or NULL
 * @param data    in: [in_h][in_w][in_c]; out: [out_h][out_w][in_c] at the same address
 */
void tt_dw_conv2d_fwd_inplace_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *weights, const int32_t *bias, int8_t *data);

/** Input pixels tt_pw_conv2d_fwd_inplace_s8() copies aside per chunk, where a run of pixels
 *  cannot be computed on the tensor itself. */
#define TT_PW_INPLACE_PIXELS 4

/** Pixels tt_pw_conv2d_fwd_inplace_s8() computes per call of tt_pw_conv2d_fwd_s8() directly on
 *  the tensor (stride 1), at most. */
#define TT_PW_INPLACE_RUN 128

/**
 * 1 when tt_pw_conv2d_fwd_inplace_s8() supports @p geom: a valid pointwise geometry (1x1, no
 * padding, any stride) with out_c <= in_c (a projection). Pure.
 */
int tt_pw_conv2d_fwd_inplace_s8_supported(const tt_conv_geom_t *geom);

/** Scratch bytes tt_pw_conv2d_fwd_inplace_s8() needs: TT_PW_INPLACE_PIXELS input pixels
 *  (4 * in_c) plus the largest tt_pw_conv2d_fwd_s8() scratch over the runs it calls that kernel
 *  on (1 .. TT_PW_INPLACE_RUN pixels at stride 1, 1 .. TT_PW_INPLACE_PIXELS otherwise, at most
 *  the layer's pixels), each rounded up to 4. Pure. */
uint32_t tt_pw_conv2d_fwd_inplace_s8_scratch_size(const tt_conv_geom_t *geom);

/**
 * In-place pointwise projection (out_c <= in_c). Output pixel p is computed from input pixel
 * q(p) >= p and occupies bytes below (p + 1) * in_c, so computing pixels in order never reaches
 * an input pixel a later output reads. At stride 1, a run of pixels [p, p + n) whose outputs
 * end at or below its inputs' start ((p + n) * out_c <= p * in_c) is computed by
 * tt_pw_conv2d_fwd_s8() on the tensor itself, up to TT_PW_INPLACE_RUN pixels per call (for a
 * projection the runs grow geometrically after the first pixels); otherwise
 * TT_PW_INPLACE_PIXELS input pixels are copied aside first (their own bytes may be overwritten)
 * and tt_pw_conv2d_fwd_s8() runs on the copy.
 * @param ctx     scratch of tt_pw_conv2d_fwd_inplace_s8_scratch_size() bytes
 * @param geom    supported per tt_pw_conv2d_fwd_inplace_s8_supported()
 * @param weights [out_c][1][1][in_c]
 * @param bias    [out_c] int32, or NULL
 * @param data    in: [in_h][in_w][in_c]; out: [out_h][out_w][out_c] at the same address
 */
void tt_pw_conv2d_fwd_inplace_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *weights, const int32_t *bias, int8_t *data);

/**
 * 1 when tt_dw_conv2d_bwd_input_inplace_s16() supports @p geom: a valid geometry with depth
 * multiplier 1 (out_c == in_c), stride 1, out_h == in_h and out_w == in_w (so dX has dY's
 * shape; padding as TFLite's SAME or any split of kernel - 1), kernel_h and kernel_w <= 7. Pure.
 */
int tt_dw_conv2d_bwd_input_inplace_s16_supported(const tt_conv_geom_t *geom);

/** Scratch bytes tt_dw_conv2d_bwd_input_inplace_s16() needs: the dY values of one group of
 *  min(in_c, 32) channels (int16) at the (kernel_h - 1 - pad_top) * in_w + kernel_w - pad_left
 *  most recent pixels, the ones already overwritten that later dX pixels still read (640 B for
 *  8x8x192 3x3 SAME); 0 for an unsupported @p geom. Pure. */
uint32_t tt_dw_conv2d_bwd_input_inplace_s16_scratch_size(const tt_conv_geom_t *geom);

/**
 * Input gradient of a depthwise convolution written over its output gradient: the same dX
 * values and exponent as tt_dw_conv2d_bwd_input_s16() (the exponent is chosen from the whole of
 * dY before anything is overwritten). One pass per group of 32 channels, pixels in order: dX
 * pixel p is written over dY pixel p once that pixel's dY is copied into a ring of the recent
 * pixels, which the later dX pixels read where their taps reach back. The group bounds the
 * ring; its size amortizes each pixel's tap list over the group's channels.
 * @param ctx             scratch of tt_dw_conv2d_bwd_input_inplace_s16_scratch_size() bytes
 * @param geom            the forward op's geometry, supported per
 *                        tt_dw_conv2d_bwd_input_inplace_s16_supported()
 * @param quant           the weight scales (tt_grad_quant_t), in_c entries
 * @param grad_output_exp exponent of dY
 * @param weights         [1][kernel_h][kernel_w][in_c], the forward weights
 * @param grad            in: dY [in_h][in_w][in_c]; out: dX, same shape, same address
 * @param grad_input_exp  receives the exponent of dX
 */
void tt_dw_conv2d_bwd_input_inplace_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, int32_t grad_output_exp, const int8_t *weights,
                                        int16_t *grad, int32_t *grad_input_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_INPLACE_H */
