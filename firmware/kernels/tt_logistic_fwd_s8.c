#include "tt/kernels/logistic.h"

#include "tt_fixedpoint.h"

/* gemmlowp's fixed-point logistic on int32 raw values (host/tt_host/reference/gemmlowp.py is
 * the same, vectorised). FixedPoint<int32, k> holds real = raw * 2^(k - 31); a product of two
 * adds their integer bits and is the doubling high multiply of the raws. Sums wrap as gemmlowp's
 * int32 sums do, through unsigned arithmetic so that they are defined behaviour. */

#define INPUT_INTEGER_BITS 4
#define FRACTIONAL_BITS (31 - INPUT_INTEGER_BITS)

static int32_t add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* SaturatingRoundingMultiplyByPOT with a positive exponent: a saturating left shift. */
static int32_t shl_sat(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    return x > threshold ? INT32_MAX : x < -threshold ? INT32_MIN : (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a Q0.31 a in [-1/4, 0): Taylor expansion around -1/8. */
static int32_t exp_on_quarter_interval(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t one_third = 715827883;
    const int32_t x = add(a, 1 << 28);
    const int32_t x2 = tt_srdhm(x, x);
    const int32_t x3 = tt_srdhm(x2, x);
    const int32_t x4 = tt_srdhm(x2, x2);
    const int32_t x4_over_4 = tt_rounding_divide_by_pot(x4, 2);
    const int32_t poly = tt_rounding_divide_by_pot(add(tt_srdhm(add(x4_over_4, x3), one_third), x2), 1);
    return add(constant_term, tt_srdhm(constant_term, add(x, poly)));
}

/* exp(a) in Q0.31 for a Q4.27 a <= 0: the remainder below 1/4 by the polynomial, each bit
 * above by a factor exp(-2^k). */
static int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t exp_of_minus_pot[] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401};
    const int32_t quarter = 1 << (FRACTIONAL_BITS - 2);
    const int32_t a_mod_quarter_minus_quarter = sub(a & (quarter - 1), quarter);
    int32_t result = exp_on_quarter_interval(shl_sat(a_mod_quarter_minus_quarter, INPUT_INTEGER_BITS));
    const int32_t remainder = sub(a_mod_quarter_minus_quarter, a);
    for (int32_t k = 0; k < (int32_t)(sizeof exp_of_minus_pot / sizeof exp_of_minus_pot[0]); k++) {
        if (remainder & (1 << (FRACTIONAL_BITS - 2 + k))) {
            result = tt_srdhm(result, exp_of_minus_pot[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) in Q0.31 for a Q0.31 a in [0, 1]: Newton-Raphson in Q2.29. */
static int32_t one_over_one_plus(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = add(1515870810, tt_srdhm(half_denominator, -1010580540)); /* 48/17 - 32/17 d */
    for (int32_t i = 0; i < 3; i++) {
        const int32_t one_minus = sub(1 << 29, tt_srdhm(half_denominator, x));
        x = add(x, shl_sat(tt_srdhm(x, one_minus), 2));
    }
    return shl_sat(x, 1);
}

/* gemmlowp::logistic of a Q4.27 input, in Q0.31. */
static int32_t logistic_q4(int32_t a)
{
    if (a == 0) {
        return 1 << 30;
    }
    const int32_t of_abs = one_over_one_plus(exp_on_negative_values(a > 0 ? -a : a));
    return a > 0 ? of_abs : sub(INT32_MAX, of_abs);
}

void tt_logistic_fwd_s8(int32_t n, const tt_logistic_quant_t *quant, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < n; i++) {
        const int32_t x = input[i] - quant->input_zp;
        if (x <= -quant->range_radius) {
            output[i] = INT8_MIN;
        } else if (x >= quant->range_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t q4 = tt_requantize(x, quant->multiplier, quant->left_shift);
            const int32_t y = tt_rounding_divide_by_pot(logistic_q4(q4), 31 - 8) + INT8_MIN;
            output[i] = tt_clamp_s8(y, INT8_MIN, INT8_MAX);
        }
    }
}
