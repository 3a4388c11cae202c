#include "tt/kernels/concat.h"

#include <string.h>

void tt_concat_s8(int32_t outer, int32_t n_inputs, const int32_t *inners, const int8_t *const *inputs,
                  int8_t *output)
{
    for (int32_t r = 0; r < outer; r++) {
        for (int32_t k = 0; k < n_inputs; k++) {
            memcpy(output, inputs[k] + (size_t)r * (size_t)inners[k], (size_t)inners[k]);
            output += inners[k];
        }
    }
}

void tt_slice_s16(int32_t outer, int32_t total, int32_t offset, int32_t inner, const int16_t *grad, int16_t *slice)
{
    for (int32_t r = 0; r < outer; r++) {
        memcpy(slice + (size_t)r * (size_t)inner, grad + (size_t)r * (size_t)total + offset, 2u * (size_t)inner);
    }
}
