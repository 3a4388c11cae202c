#include "tt/kernels/types.h"

static int axis_ok(int32_t n_in, int32_t n_out, int32_t k, int32_t stride, int32_t p0, int32_t p1)
{
    if (n_in < 1 || n_out < 1 || k < 1 || stride < 1 || p0 < 0 || p1 < 0) {
        return 0;
    }
    /* A window entirely inside the padding has no defined value for pooling (and is a
     * wasted output for convolution), so padding stays below the kernel size. */
    if (p0 >= k || p1 >= k) {
        return 0;
    }
    int64_t span = (int64_t)n_in + p0 + p1;
    if (span < k) {
        return 0;
    }
    return (span - k) / stride + 1 == n_out;
}

int tt_conv_geom_check(const tt_conv_geom_t *geom)
{
    return geom->in_c >= 1 && geom->out_c >= 1 &&
           axis_ok(geom->in_h, geom->out_h, geom->kernel_h, geom->stride_h, geom->pad_top, geom->pad_bottom) &&
           axis_ok(geom->in_w, geom->out_w, geom->kernel_w, geom->stride_w, geom->pad_left, geom->pad_right);
}
