#include "tt/kernels/add.h"

#include "tt_grad.h"

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
