#include "tt/kernels/sgd.h"

tt_sgd_t tt_sgd_scaled(const tt_sgd_t *sgd, uint32_t scale_q16)
{
    tt_sgd_t out = *sgd;
    if (scale_q16 >= TT_SGD_SCALE_ONE) {
        return out;
    }
    if (scale_q16 == 0u || sgd->lr_multiplier == 0) {
        out.lr_multiplier = 0;
        return out;
    }
    /* multiplier in [2^30, 2^31) times a scale below 2^16: a product of 31 to 46 bits */
    const uint64_t p = (uint64_t)(uint32_t)sgd->lr_multiplier * scale_q16;
    int32_t k = -31;
    for (uint64_t v = p; v != 0u; v >>= 1) {
        k++;
    }
    uint64_t m = k > 0 ? (p + ((uint64_t)1 << (k - 1))) >> k : p;
    if (m == (uint64_t)1 << 31) {
        m >>= 1;
        k++;
    }
    out.lr_multiplier = (int32_t)m;
    out.lr_shift = sgd->lr_shift + k - 16;
    return out;
}
