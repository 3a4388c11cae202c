#include "tt/kernels/mask.h"

void tt_mask_pack_s8(int32_t size, int32_t act_min, int32_t act_max, const int8_t *output, uint8_t *mask)
{
    for (int32_t b = 0; b < (size + 7) / 8; b++) {
        uint32_t byte = 0;
        for (int32_t k = 0; k < 8 && b * 8 + k < size; k++) {
            const int32_t y = output[b * 8 + k];
            byte |= (uint32_t)(y > act_min && y < act_max) << k;
        }
        mask[b] = (uint8_t)byte;
    }
}
