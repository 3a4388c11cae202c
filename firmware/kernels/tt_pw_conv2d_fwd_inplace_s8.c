#include <string.h>

#include "tt/kernels/inplace.h"
#include "tt/kernels/pw_conv2d.h"

/* The geometry tt_pw_conv2d_fwd_s8() sees for a chunk of n copied pixels. */
static tt_conv_geom_t chunk_geom(const tt_conv_geom_t *geom, int32_t n)
{
    const tt_conv_geom_t g = {1, n, geom->in_c, 1, n, geom->out_c, 1, 1, 1, 1, 0, 0, 0, 0};
    return g;
}

int tt_pw_conv2d_fwd_inplace_s8_supported(const tt_conv_geom_t *geom)
{
    return tt_conv_geom_check(geom) && geom->kernel_h == 1 && geom->kernel_w == 1 && geom->pad_top == 0 &&
           geom->pad_left == 0 && geom->pad_bottom == 0 && geom->pad_right == 0 && geom->out_c <= geom->in_c;
}

static uint32_t copy_bytes(const tt_conv_geom_t *geom)
{
    return ((uint32_t)(TT_PW_INPLACE_PIXELS * geom->in_c) + 3u) & ~3u;
}

uint32_t tt_pw_conv2d_fwd_inplace_s8_scratch_size(const tt_conv_geom_t *geom)
{
    uint32_t inner = 0;
    for (int32_t n = 1; n <= TT_PW_INPLACE_PIXELS; n++) {
        const tt_conv_geom_t g = chunk_geom(geom, n);
        const uint32_t s = tt_pw_conv2d_fwd_s8_scratch_size(&g);
        inner = s > inner ? s : inner;
    }
    return copy_bytes(geom) + ((inner + 3u) & ~3u);
}

void tt_pw_conv2d_fwd_inplace_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *weights, const int32_t *bias, int8_t *data)
{
    const int32_t in_w = geom->in_w, in_c = geom->in_c, out_c = geom->out_c;
    const uint32_t head = copy_bytes(geom);
    int8_t *copy = (int8_t *)ctx->buf;
    const tt_kernel_ctx_t inner = {(uint8_t *)ctx->buf + head, ctx->size - head};

    for (int32_t oy = 0; oy < geom->out_h; oy++) {
        const int8_t *in_row = data + oy * geom->stride_h * in_w * in_c;
        for (int32_t ox = 0; ox < geom->out_w; ox += TT_PW_INPLACE_PIXELS) {
            const int32_t n = geom->out_w - ox < TT_PW_INPLACE_PIXELS ? geom->out_w - ox : TT_PW_INPLACE_PIXELS;
            for (int32_t k = 0; k < n; k++) {
                memcpy(copy + k * in_c, in_row + (ox + k) * geom->stride_w * in_c, (size_t)in_c);
            }
            const tt_conv_geom_t g = chunk_geom(geom, n);
            tt_pw_conv2d_fwd_s8(&inner, &g, quant, copy, weights, bias, data + (oy * geom->out_w + ox) * out_c);
        }
    }
}
