#include <string.h>

#include "tt/kernels/pw_conv2d.h"

/* The geometry tt_pw_conv2d_fwd_s8() sees for a run of n consecutive pixels (copied, or in
 * place where the layer is a plain stride-1 1x1). */
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

/* Stride 1 over the whole grid: output pixel p reads input pixel p, so runs of pixels are
 * runs of bytes on both sides. */
static int flat(const tt_conv_geom_t *geom) { return geom->stride_h == 1 && geom->stride_w == 1; }

static uint32_t copy_bytes(const tt_conv_geom_t *geom)
{
    return ((uint32_t)(TT_PW_INPLACE_PIXELS * geom->in_c) + 3u) & ~3u;
}

/* The longest run tt_pw_conv2d_fwd_s8() is called on: a copied chunk, or a direct run. */
static int32_t longest_run(const tt_conv_geom_t *geom)
{
    const int32_t pixels = geom->out_h * geom->out_w;
    const int32_t run = flat(geom) && TT_PW_INPLACE_RUN > TT_PW_INPLACE_PIXELS ? TT_PW_INPLACE_RUN : TT_PW_INPLACE_PIXELS;
    return run < pixels ? run : pixels;
}

uint32_t tt_pw_conv2d_fwd_inplace_s8_scratch_size(const tt_conv_geom_t *geom)
{
    /* tt_pw_conv2d_fwd_s8()'s scratch depends on the pixel count through its choice of order,
     * so take the largest over every run length this kernel may call it with. */
    uint32_t inner = 0;
    for (int32_t n = 1; n <= longest_run(geom); n++) {
        const tt_conv_geom_t g = chunk_geom(geom, n);
        const uint32_t s = tt_pw_conv2d_fwd_s8_scratch_size(&g);
        inner = s > inner ? s : inner;
    }
    return copy_bytes(geom) + ((inner + 3u) & ~3u);
}

/*
 * Output pixel p is computed from input pixel q(p) >= p and occupies bytes below
 * (p + 1) * out_c <= (p + 1) * in_c, so computing the pixels in order never overwrites an input
 * pixel a later output reads. Within a run, though, tt_pw_conv2d_fwd_s8() may store an output
 * before it has read every input of the run, so a run goes through it in one of two ways:
 *  - direct (stride 1): pixels [p, p + n) read bytes from p * in_c on and write bytes below
 *    (p + n) * out_c; when (p + n) * out_c <= p * in_c the two do not overlap and the run is
 *    computed on the tensor itself. n may grow with p: n <= p (in_c - out_c) / out_c, so for a
 *    projection (out_c < in_c) only the first few pixels need the copy below, and the runs
 *    soon reach TT_PW_INPLACE_RUN pixels, over which the kernel's per-call work (widening the
 *    weights, building its requantization table) is spread;
 *  - copied: TT_PW_INPLACE_PIXELS input pixels are copied aside first (their own bytes may be
 *    overwritten) and the kernel runs on the copy (out_c == in_c, the first pixels, strides).
 * Either way each output is tt_pw_conv2d_fwd_s8()'s, bit for bit.
 */
void tt_pw_conv2d_fwd_inplace_s8(const tt_kernel_ctx_t *ctx, const tt_conv_geom_t *geom, const tt_conv_quant_t *quant,
                                 const int8_t *weights, const int32_t *bias, int8_t *data)
{
    const int32_t in_w = geom->in_w, in_c = geom->in_c, out_c = geom->out_c;
    const int32_t pixels = geom->out_h * geom->out_w;
    const uint32_t head = copy_bytes(geom);
    int8_t *copy = (int8_t *)ctx->buf;
    const tt_kernel_ctx_t inner = {(uint8_t *)ctx->buf + head, ctx->size - head};

    if (flat(geom)) {
        for (int32_t p = 0; p < pixels;) {
            const int32_t left = pixels - p;
            int32_t n = (int32_t)((int64_t)p * (in_c - out_c) / out_c);
            n = n < TT_PW_INPLACE_RUN ? n : TT_PW_INPLACE_RUN;
            n = n < left ? n : left;
            if (n >= TT_PW_INPLACE_PIXELS || n == left) {
                const tt_conv_geom_t g = chunk_geom(geom, n);
                tt_pw_conv2d_fwd_s8(&inner, &g, quant, data + p * in_c, weights, bias, data + p * out_c);
            } else {
                n = left < TT_PW_INPLACE_PIXELS ? left : TT_PW_INPLACE_PIXELS;
                memcpy(copy, data + p * in_c, (size_t)(n * in_c));
                const tt_conv_geom_t g = chunk_geom(geom, n);
                tt_pw_conv2d_fwd_s8(&inner, &g, quant, copy, weights, bias, data + p * out_c);
            }
            p += n;
        }
        return;
    }
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
