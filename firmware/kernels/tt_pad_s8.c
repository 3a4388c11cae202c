#include "tt/kernels/pad.h"

#include <string.h>

void tt_pad_s8(const tt_pad_geom_t *geom, int32_t fill, const int8_t *input, int8_t *output)
{
    const size_t out_w = (size_t)(geom->left + geom->in_w + geom->right), c = (size_t)geom->c;
    const size_t out_h = (size_t)(geom->top + geom->in_h + geom->bottom);
    const size_t row = (size_t)geom->in_w * c;
    memset(output, fill, out_h * out_w * c);
    for (int32_t y = 0; y < geom->in_h; y++) {
        memcpy(output + ((size_t)(y + geom->top) * out_w + (size_t)geom->left) * c, input + (size_t)y * row, row);
    }
}

void tt_crop_s16(const tt_pad_geom_t *geom, const int16_t *grad_output, int16_t *grad_input)
{
    const size_t out_w = (size_t)(geom->left + geom->in_w + geom->right), c = (size_t)geom->c;
    const size_t row = (size_t)geom->in_w * c;
    for (int32_t y = 0; y < geom->in_h; y++) {
        memcpy(grad_input + (size_t)y * row, grad_output + (((size_t)(y + geom->top)) * out_w + (size_t)geom->left) * c,
               2u * row);
    }
}
