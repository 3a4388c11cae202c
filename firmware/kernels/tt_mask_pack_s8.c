#include "tt/kernels/mask.h"

#include "tt_dsp.h"

#if TT_DSP
/*
 * Cortex-M7: four values a word. SSUB8 sets each byte's GE flag from the exact difference,
 * so y - (act_min + 1) >= 0 selects (SEL) 1 or 0 per byte, and act_max - 1 - y >= 0 keeps that
 * or 0: a word of four 0/1 bytes. One multiply by 0x01020408 moves byte k's bit to bit 24 + k
 * (the other partial products land on distinct bits below 24 or above 31, so nothing carries
 * into bits 24..27), and UBFX takes the nibble: about two instructions a value against eight.
 */
static uint32_t mask_nibble(int32_t y, int32_t lo, int32_t hi)
{
    int32_t m;
    __asm__("ssub8 %0, %1, %2\n\t"
            "sel   %0, %3, %4\n\t"
            "ssub8 %1, %5, %1\n\t"
            "sel   %0, %0, %4"
            : "=&r"(m), "+r"(y)
            : "r"(lo), "r"(0x01010101), "r"(0), "r"(hi));
    return ((uint32_t)m * 0x01020408u) >> 24;
}

void tt_mask_pack_s8(int32_t size, int32_t act_min, int32_t act_max, const int8_t *output, uint8_t *mask)
{
    /* A value passes when act_min + 1 <= y <= act_max - 1; those bounds, capped to int8, in
     * every byte. When either leaves int8 on the inside no value passes. */
    const int32_t first = act_min + 1 < -128 ? -128 : act_min + 1, last = act_max - 1 > 127 ? 127 : act_max - 1;
    if (first > 127 || last < -128) {
        for (int32_t b = 0; b < (size + 7) / 8; b++) {
            mask[b] = 0;
        }
        return;
    }
    const int32_t lo = (int32_t)(((uint32_t)first & 0xFFu) * 0x01010101u);
    const int32_t hi = (int32_t)(((uint32_t)last & 0xFFu) * 0x01010101u);
    int32_t b = 0;
    for (; 8 * b + 8 <= size; b++) {
        const uint32_t n0 = mask_nibble(tt_dsp_read_s8x4(output + 8 * b), lo, hi);
        const uint32_t n1 = mask_nibble(tt_dsp_read_s8x4(output + 8 * b + 4), lo, hi);
        mask[b] = (uint8_t)(n0 | (n1 << 4));
    }
    if (8 * b < size) {
        uint32_t byte = 0;
        for (int32_t k = 0; 8 * b + k < size; k++) {
            const int32_t y = output[8 * b + k];
            byte |= (uint32_t)(y > act_min && y < act_max) << k;
        }
        mask[b] = (uint8_t)byte;
    }
}
#else
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
#endif
