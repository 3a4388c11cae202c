#include "tt/kernels/conv2d.h"
#include "tt/kernels/fc.h"

uint32_t tt_fc_fwd_overlay_s8_scratch_size(const tt_fc_geom_t *geom)
{
    return ((uint32_t)geom->in_c + 3u) & ~3u;
}

/* A fully connected layer is a 1x1 convolution over a 1x1 input with OHWI = [out][1][1][in]
 * weights, and TFLite's per-channel FULLY_CONNECTED requantizes exactly like CONV_2D. */
void tt_fc_fwd_overlay_s8(const tt_kernel_ctx_t *ctx, const tt_fc_geom_t *geom, const tt_conv_quant_t *quant,
                          const int8_t *input, const int8_t *weights, const int16_t *channels, int32_t n_channels,
                          const int8_t *trained, const int32_t *bias, int8_t *output)
{
    const tt_conv_geom_t g = {1, 1, geom->in_c, 1, 1, geom->out_c, 1, 1, 1, 1, 0, 0, 0, 0};
    tt_conv2d_fwd_overlay_s8(ctx, &g, quant, input, weights, channels, n_channels, trained, bias, output);
}
