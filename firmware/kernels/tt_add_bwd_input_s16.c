#include "tt/kernels/add.h"

#include "tt_dsp.h"
#include "tt_grad.h"

#if TT_DSP
/*
 * Cortex-M7: the same sums without a call or a variable mask per element. Rounding v half
 * away from zero by 2^s is floor((v + 2^(s-1) - [v < 0]) / 2^s); numerator and divisor
 * doubled, and the even numerator's 2 [v < 0] made a 1 (it cannot cross a multiple of
 * 2^(s+1)), that is floor((2v + 2^s - [v < 0]) / 2^(s+1)), which also holds for s = 0: three
 * instructions (two shifted ADDs and an ASR) for every shift. Shifts of 17 and more round
 * every int16 to 0, as 17 does, so s is capped there and 2v + 2^s stays inside int32. The
 * operand with the larger exponent goes first (addition is exact, so the order is free) and
 * is not shifted. About 25 instructions an element against about 100.
 */
__attribute__((always_inline)) static inline int32_t align_fast(int32_t v, int32_t round, int32_t right)
{
    return (int32_t)((uint32_t)v * 2u + (uint32_t)round + (uint32_t)(v >> 31)) >> right;
}

void tt_add_bwd_input_s16(int32_t size, const int16_t *grad_output, int32_t grad_output_exp, const int16_t *grad_other,
                          int32_t grad_other_exp, int16_t *grad_input, int32_t *grad_input_exp)
{
    const int swap = grad_other_exp > grad_output_exp;
    const int16_t *a = swap ? grad_other : grad_output, *b = swap ? grad_output : grad_other;
    const int32_t e = swap ? grad_other_exp : grad_output_exp;
    const int32_t diff = e - (swap ? grad_output_exp : grad_other_exp);
    const int32_t sb = diff < 17 ? diff : 17;
    const int32_t round = 1 << sb, right = sb + 1;
    int32_t hi = 0, lo = 0;
    for (int32_t i = 0; i < size; i++) {
        const int32_t s = a[i] + align_fast(b[i], round, right);
        hi = s > hi ? s : hi;
        lo = s < lo ? s : lo;
    }
    if (hi <= 32767 && lo >= -32767) {
        for (int32_t i = 0; i < size; i++) {
            grad_input[i] = (int16_t)(a[i] + align_fast(b[i], round, right));
        }
        *grad_input_exp = e;
        return;
    }
    /* Halved: |s| <= 65535, and s / 2 rounded is align_fast(s, 2, 2); only 32768 saturates. */
    for (int32_t i = 0; i < size; i++) {
        const int32_t s = a[i] + align_fast(b[i], round, right);
        grad_input[i] = (int16_t)__ssat(align_fast(s, 2, 2), 16);
    }
    *grad_input_exp = e + 1;
}
#else
static int32_t align(int16_t v, int32_t shift)
{
    return tt_rounding_divide_by_pot(v, shift > 31 ? 31 : shift);
}

void tt_add_bwd_input_s16(int32_t size, const int16_t *grad_output, int32_t grad_output_exp, const int16_t *grad_other,
                          int32_t grad_other_exp, int16_t *grad_input, int32_t *grad_input_exp)
{
    const int32_t e = grad_output_exp > grad_other_exp ? grad_output_exp : grad_other_exp;
    const int32_t sa = e - grad_output_exp, sb = e - grad_other_exp;
    /* Elementwise, so the exact maximum costs one extra cheap pass: halve only if needed. */
    int32_t m = 0;
    for (int32_t i = 0; i < size; i++) {
        int32_t s = align(grad_output[i], sa) + align(grad_other[i], sb);
        s = s < 0 ? -s : s;
        m = s > m ? s : m;
    }
    const int32_t r = m > 32767 ? 1 : 0;
    for (int32_t i = 0; i < size; i++) {
        const int32_t s = align(grad_output[i], sa) + align(grad_other[i], sb);
        grad_input[i] = tt_sat_s16(tt_rounding_divide_by_pot(s, r));
    }
    *grad_input_exp = e + r;
}
#endif
