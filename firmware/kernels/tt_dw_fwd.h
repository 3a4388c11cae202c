/*
 * What the depthwise forward kernels share, private to them: tt_dw_conv2d_fwd_s8() and
 * tt_dw_conv2d_fwd_inplace_s8(), which runs the former's Cortex-M7 planar path over its own
 * input, so that both produce the same bits by construction.
 */
#ifndef TT_KERNELS_DW_FWD_H
#define TT_KERNELS_DW_FWD_H

#include <stdint.h>

#include "tt/kernels/types.h"

/*
 * tt_dw_conv2d_fwd_s8()'s planar path (four channels at a time through a ring of int16 rows)
 * on channels [0, n); returns n: in_c rounded down to a multiple of 4 where that path applies
 * (a build with TT_DSP and tt_dw_conv2d_fwd_s8_scratch_size() > 0), else 0, having done
 * nothing. ctx holds tt_dw_conv2d_fwd_s8_scratch_size() bytes.
 *
 * Output may be input (depth multiplier 1, out_h <= in_h, out_w <= in_w, padding below the
 * kernel): for each group of four channels, output row oy is stored only after the ring holds
 * every padded row up to oy * stride_h + kernel_h - 1, i.e. every input row up to at least oy
 * (pad_top < kernel_h); its pixels oy * out_w .. (oy + 1) * out_w - 1 lie in input rows <= oy
 * (out_w <= in_w), so it overwrites only rows the ring already holds, and writes only the
 * group's own channels. Rows still to be copied are intact.
 */
int32_t tt_dw_conv2d_fwd_planar_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom,
                                   const tt_conv_quant_t *quant, const int8_t *input, const int8_t *weights,
                                   const int32_t *bias, int8_t *output);

#endif /* TT_KERNELS_DW_FWD_H */
