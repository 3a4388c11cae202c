#include "tt/kernels/mask.h"

void tt_mask_bwd_s16(int32_t size, const uint8_t *mask, const int16_t *grad_output, int16_t *grad_input)
{
    for (int32_t i = 0; i < size; i++) {
        grad_input[i] = ((mask[i >> 3] >> (i & 7)) & 1u) ? grad_output[i] : 0;
    }
}
