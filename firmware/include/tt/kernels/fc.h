/**
 * @file fc.h
 * @brief Int8 fully connected layer with per-output-channel weight scales (TFLite Micro's
 *        per-channel FULLY_CONNECTED, double rounding).
 */
#ifndef TT_KERNELS_FC_H
#define TT_KERNELS_FC_H

#include "tt/kernels/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Scratch bytes tt_fc_fwd_s8() needs for @p geom (currently 0). Pure. */
uint32_t tt_fc_fwd_s8_scratch_size(const tt_fc_geom_t *geom);

/**
 * Forward fully connected layer (batch 1).
 * @param ctx     scratch of tt_fc_fwd_s8_scratch_size() bytes
 * @param geom    in_c, out_c
 * @param quant   per-output-channel requantization (out_c entries)
 * @param input   [in_c]
 * @param weights [out_c][in_c], zero point 0
 * @param bias    [out_c] int32, or NULL
 * @param output  [out_c]
 */
void tt_fc_fwd_s8(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_conv_quant_t *quant,
                  const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TT_KERNELS_FC_H */
