#include "tt/kernels/mask.h"

#include "tt_dsp.h"

#if TT_DSP
/*
 * Cortex-M7: a mask byte covers eight values, four words of int16 pairs; each pair of its bits
 * picks one of four lane masks and one AND keeps or clears both halves of a word, about three
 * instructions a value against eight for the bit test and select per value. Words are read
 * before they are written, so dX may be dY.
 */
void tt_mask_bwd_s16(int32_t size, const uint8_t *mask, const int16_t *grad_output, int16_t *grad_input)
{
    static const uint32_t lanes[4] = {0u, 0x0000FFFFu, 0xFFFF0000u, 0xFFFFFFFFu};
    int32_t i = 0;
    for (; i + 8 <= size; i += 8) {
        const uint32_t m = mask[i >> 3];
        const int32_t a = tt_dsp_read_word(grad_output + i), b = tt_dsp_read_word(grad_output + i + 2);
        const int32_t c = tt_dsp_read_word(grad_output + i + 4), d = tt_dsp_read_word(grad_output + i + 6);
        tt_dsp_write_word(grad_input + i, (int32_t)((uint32_t)a & lanes[m & 3u]));
        tt_dsp_write_word(grad_input + i + 2, (int32_t)((uint32_t)b & lanes[(m >> 2) & 3u]));
        tt_dsp_write_word(grad_input + i + 4, (int32_t)((uint32_t)c & lanes[(m >> 4) & 3u]));
        tt_dsp_write_word(grad_input + i + 6, (int32_t)((uint32_t)d & lanes[m >> 6]));
    }
    for (; i < size; i++) {
        grad_input[i] = ((mask[i >> 3] >> (i & 7)) & 1u) ? grad_output[i] : 0;
    }
}
#else
void tt_mask_bwd_s16(int32_t size, const uint8_t *mask, const int16_t *grad_output, int16_t *grad_input)
{
    for (int32_t i = 0; i < size; i++) {
        grad_input[i] = ((mask[i >> 3] >> (i & 7)) & 1u) ? grad_output[i] : 0;
    }
}
#endif
