#include "tt/kernels/sgd.h"

/* "lowbias32" (Chris Wellons' hash-prospector): a bijection on 32 bits with low bias. */
static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

uint32_t tt_rng_next(tt_rng_t *rng)
{
    return mix32(mix32(rng->counter++) ^ rng->seed);
}
