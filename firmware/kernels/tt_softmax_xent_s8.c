#include <string.h>

#include "tt/kernels/loss.h"

/* Constants as exact float32 values (hex literals), shared with tt_host.reference.loss. */
#define LOG2E 0x1.715476p+0f
#define LN2_HI 0x1.63p-1f        /* 0.693359375: k * LN2_HI is exact for |k| < 2^15 */
#define LN2_LO (-0x1.bd0106p-13f) /* ln 2 - LN2_HI */
#define SQRT2 0x1.6a09e6p+0f

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

float tt_expf_neg(float x)
{
    if (!(x >= -80.0f)) {
        return 0.0f; /* exp(-80) / 1000 is still a normal float: no subnormal anywhere */
    }
    /* x = k ln2 + r, |r| <= ~0.35 (Cody-Waite), then a degree-6 Taylor polynomial (relative
     * error ~2e-7) and an exact scaling by 2^k, k in [-126, 0]. */
    const int32_t k = (int32_t)(x * LOG2E - 0.5f); /* truncation toward zero of a value <= -0.5 */
    const float kf = (float)k;
    const float r = (x - kf * LN2_HI) - kf * LN2_LO;
    float p = 0x1.6c16c2p-10f; /* 1/720 */
    p = p * r + 0x1.111112p-7f;  /* 1/120 */
    p = p * r + 0x1.555556p-5f;  /* 1/24 */
    p = p * r + 0x1.555556p-3f;  /* 1/6 */
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    return p * from_bits((uint32_t)(k + 127) << 23);
}

float tt_logf_ge1(float x)
{
    /* x = m 2^e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s), s = (m - 1) / (m + 1). */
    const uint32_t b = to_bits(x);
    int32_t e = (int32_t)((b >> 23) & 0xffu) - 127;
    float m = from_bits((b & 0x7fffffu) | 0x3f800000u);
    if (m > SQRT2) {
        m = m * 0.5f;
        e += 1;
    }
    const float f = m - 1.0f;
    const float s = f / (2.0f + f);
    const float z = s * s;
    float p = 0x1.c71c72p-3f; /* 2/9 */
    p = p * z + 0x1.24924ap-2f; /* 2/7 */
    p = p * z + 0x1.99999ap-2f; /* 2/5 */
    p = p * z + 0x1.555556p-1f; /* 2/3 */
    p = p * z + 2.0f;
    const float ef = (float)e;
    return ef * LN2_HI + (s * p + ef * LN2_LO);
}

int32_t tt_softmax_xent_s8(int32_t n, const tt_logit_quant_t *quant, const int8_t *logits, int32_t label, float *loss,
                           int16_t *grad, int32_t *grad_exp)
{
    int32_t arg = 0;
    for (int32_t i = 1; i < n; i++) {
        arg = logits[i] > logits[arg] ? i : arg;
    }
    const int32_t qmax = logits[arg];
    /* exp(z_i - z_max): the zero point cancels; z_i - z_max = scale * (q_i - q_max) <= 0. */
    float sum = 0.0f, others = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        const float e = tt_expf_neg(quant->scale * (float)(logits[i] - qmax));
        sum += e;
        others += i == label ? 0.0f : e;
    }
    *loss = tt_logf_ge1(sum) - quant->scale * (float)(logits[label] - qmax);

    float gmax = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        const float g = i == label ? others / sum : tt_expf_neg(quant->scale * (float)(logits[i] - qmax)) / sum;
        gmax = g > gmax ? g : gmax;
    }
    /* gmax < 2^e2 with e2 from its float exponent; scale so the largest value is < 2^15.
     * Gradients below 2^-100 are all noise: the exponent stops there. */
    int32_t e2 = (int32_t)((to_bits(gmax) >> 23) & 0xffu) - 126;
    e2 = e2 < -100 ? -100 : e2;
    const float up = from_bits((uint32_t)(15 - e2 + 127) << 23);
    for (int32_t i = 0; i < n; i++) {
        /* p_label - 1 = -(sum of the other exponentials) / sum: no cancellation when the
         * prediction is confident. */
        const float g = i == label ? -(others / sum) : tt_expf_neg(quant->scale * (float)(logits[i] - qmax)) / sum;
        const float v = g * up;
        const float a = v < 0.0f ? -v : v;
        int32_t q = (int32_t)(a + 0.5f); /* round half away from zero */
        q = q > 32767 ? 32767 : q;
        grad[i] = (int16_t)(v < 0.0f ? -q : q);
    }
    *grad_exp = e2 - 15;
    return arg;
}
