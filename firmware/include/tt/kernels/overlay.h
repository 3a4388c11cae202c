/**
 * @file overlay.h
 * @brief Forward of a partially trained layer: frozen weights from flash, the trained input
 *        channels' weights from the SRAM slice.
 *
 * A layer trained on a list K of its input channels keeps only the slice of K in SRAM
 * (layout in weight_update.h: [out_c][kernel_h][kernel_w][|K|]); its other weights stay in the
 * flash weight blob, never copied. For output channel o the kernel builds that channel's merged
 * OHWI row (kernel_h * kernel_w * in_c bytes of scratch: the flash row, then the slice's
 * values at the channels of K), and computes channel o at every output pixel with it. The
 * result is bit-identical to the ordinary forward on the merged tensor (the same integer sums,
 * the same requantization).
 *
 * Why an overlay rather than the whole weight tensor in SRAM: on the published ~100 KB
 * schemes the partially trained layers are pointwise convolutions whose full tensors are
 * 8x / 4x / 2x their slices: MCUNet-5fps conv 36 (36,864 B vs 4,608 B) and 39 (55,296 B vs
 * 13,824 B), MobileNetV2-w0.35 conv 42 (18,816 vs 2,352) and 45 (18,816 vs 9,408),
 * ProxylessNAS-w0.3 conv 39 (3,072 vs 1,536), 48 (24,576 vs 6,144) and 51 (12,288 vs 6,144),
 * i.e. 73.7 KB, 25.9 KB and 26.1 KB of SRAM saved per model, for a scratch of one weight row
 * (in_c <= 96 B on those layers). When K is every input channel the slice *is* the weight tensor
 * and the plan calls the ordinary (faster) forward kernel on it.
 *
 * Pointwise convolutions use tt_conv2d_fwd_overlay_s8() with their 1x1 geometry; their input
 * gradient, tt_pw_conv2d_bwd_input_overlay_s16(), reads the two tensors the same way.
 */
#ifndef TT_KERNELS_OVERLAY_H
#define TT_KERNELS_OVERLAY_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Scratch bytes tt_conv2d_fwd_overlay_s8() needs: kernel_h * kernel_w * in_c (one merged
 *  weight row), rounded up to 4. Pure. */
uint32_t tt_conv2d_fwd_overlay_s8_scratch_size(const tt_conv_geom_t *geom);

/**
 * Forward convolution (general or pointwise) with a trainable overlay.
 * @param ctx        scratch of tt_conv2d_fwd_overlay_s8_scratch_size() bytes
 * @param geom       shapes, stride and padding (valid per tt_conv_geom_check())
 * @param quant      per-output-channel requantization (out_c entries)
 * @param input      [in_h][in_w][in_c]
 * @param weights    the frozen tensor [out_c][kernel_h][kernel_w][in_c] (flash); its values at
 *                   the channels of K are ignored
 * @param channels   K: the trained input channels (distinct, any order), n_channels entries
 * @param n_channels 0 .. in_c (0: plain forward)
 * @param trained    the slice [out_c][kernel_h][kernel_w][n_channels]
 * @param bias       [out_c] int32, or NULL
 * @param output     [out_h][out_w][out_c]; must not overlap the input
 */
void tt_conv2d_fwd_overlay_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                              const int8_t *input, const int8_t *weights, const int16_t *channels, int32_t n_channels,
                              const int8_t *trained, const int32_t *bias, int8_t *output);

/** Scratch bytes tt_fc_fwd_overlay_s8() needs: in_c (one merged row), rounded up to 4. Pure. */
uint32_t tt_fc_fwd_overlay_s8_scratch_size(const tt_fc_geom_t *geom);

/**
 * Forward fully connected layer with a trainable overlay (as tt_conv2d_fwd_overlay_s8()).
 * @param weights  the frozen tensor [out_c][in_c]
 * @param trained  the slice [out_c][n_channels]
 */
void tt_fc_fwd_overlay_s8(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_conv_quant_t *quant,
                          const int8_t *input, const int8_t *weights, const int16_t *channels, int32_t n_channels,
                          const int8_t *trained, const int32_t *bias, int8_t *output);

/** Scratch bytes tt_pw_conv2d_bwd_input_overlay_s16() needs: tt_pw_conv2d_bwd_input_s16_scratch_size()
 *  plus one bit per input channel (rounded up to 32-bit words). Pure. */
uint32_t tt_pw_conv2d_bwd_input_overlay_s16_scratch_size(const tt_conv_geom_t *geom);

/**
 * Input gradient of a partially trained pointwise convolution, reading the frozen tensor and
 * the trained slice where they lie: bit-identical to tt_pw_conv2d_bwd_input_s16() on the merged
 * tensor (same weight bound, same int32 sums, same requantization), without the merged tensor
 * (out_c * in_c bytes: 55,296 B for MCUNet-5fps conv 39 on the published 99kb scheme).
 * @param ctx             scratch of tt_pw_conv2d_bwd_input_overlay_s16_scratch_size() bytes; with
 *                        n_channels 0, tt_pw_conv2d_bwd_input_s16_scratch_size() is enough
 * @param geom            the forward op's geometry (1x1, any stride)
 * @param quant           the weight scales (tt_grad_quant_t), out_c entries
 * @param grad_output     dY, shaped like the forward output; exponent grad_output_exp
 * @param weights         the frozen tensor [out_c][in_c]; its values at the channels of K are ignored
 * @param channels        K: the trained input channels (distinct, any order), n_channels entries
 * @param n_channels      0 .. in_c (0: the plain input gradient)
 * @param trained         the slice [out_c][n_channels]
 * @param grad_input      dX, shaped like the forward input; must not overlap dY
 * @param grad_input_exp  receives the exponent of dX
 */
void tt_pw_conv2d_bwd_input_overlay_s16(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                        const tt_grad_quant_t *quant, const int16_t *grad_output,
                                        int32_t grad_output_exp, const int8_t *weights, const int16_t *channels,
                                        int32_t n_channels, const int8_t *trained, int16_t *grad_input,
                                        int32_t *grad_input_exp);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_OVERLAY_H */
