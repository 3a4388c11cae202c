#include "tt/kernels/gather.h"

void tt_gather_channels_s8(int32_t pixels, int32_t in_c, const int16_t *channels, int32_t n_channels,
                           const int8_t *input, int8_t *output)
{
    for (int32_t p = 0; p < pixels; p++) {
        const int8_t *in = input + p * in_c;
        for (int32_t j = 0; j < n_channels; j++) {
            *output++ = in[channels[j]];
        }
    }
}
