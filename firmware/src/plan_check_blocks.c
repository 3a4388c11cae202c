/* The plan loader's checks of parameter blocks (LAYER, POOL, ADD, FUSED, LOSS): the port of
 * tt_protocol.plan.blocks (_Pool and its geometry rules), same checks in the same order. */
#include <string.h>

#include "plan_check.h"

enum { BLOCK_HEAD = TT_PLAN_BLOCK_BYTES };

/* geometry_problem() and the MAX_CHANNELS bound of _Pool._geom(). */
static int geom_ok(const int64_t *g)
{
    for (int k = IN_H; k <= OUT_C; k++) {
        if (g[k] > TT_PLAN_MAX_CHANNELS || g[k] < 1) {
            return 0;
        }
    }
    if (g[KH] < 1 || g[KW] < 1 || g[SH] < 1 || g[SW] < 1 || g[PT] < 0 || g[PL] < 0 || g[PB] < 0 || g[PR] < 0) {
        return 0;
    }
    if (g[PT] >= g[KH] || g[PB] >= g[KH] || g[PL] >= g[KW] || g[PR] >= g[KW]) {
        return 0;
    }
    const int64_t span_h = g[IN_H] + g[PT] + g[PB], span_w = g[IN_W] + g[PL] + g[PR];
    if (span_h < g[KH] || (span_h - g[KH]) / g[SH] + 1 != g[OUT_H]) {
        return 0;
    }
    if (span_w < g[KW] || (span_w - g[KW]) / g[SW] + 1 != g[OUT_W]) {
        return 0;
    }
    return 1;
}

static void read_geom(const uint8_t *p, int64_t *g)
{
    for (int k = 0; k < 14; k++) {
        g[k] = tt_pv_i32(p + 4u * (uint32_t)k);
    }
}

static int clamp_ok(const uint8_t *p)
{
    const int32_t lo = tt_pv_i32(p), hi = tt_pv_i32(p + 4);
    return -128 <= lo && lo <= hi && hi <= 127;
}

/* _Pool._pool_kind(): average and max pools have no requantization; a mean covers the whole input. */
static int pool_kind_ok(const uint8_t *p, uint32_t kind, const int64_t *g)
{
    const int32_t in_zp = tt_pv_i32(p + TT_PLAN_POOL_OFF_INPUT_ZP), out_zp = tt_pv_i32(p + TT_PLAN_POOL_OFF_OUTPUT_ZP);
    const int32_t multiplier = tt_pv_i32(p + TT_PLAN_POOL_OFF_MULTIPLIER), shift = tt_pv_i32(p + TT_PLAN_POOL_OFF_SHIFT);
    if (kind == TT_POOL_AVERAGE || kind == TT_POOL_MAX) {
        return in_zp == 0 && out_zp == 0 && multiplier == 0 && shift == 0;
    }
    if (kind != TT_POOL_MEAN) {
        return 0;
    }
    return g[KH] == g[IN_H] && g[KW] == g[IN_W] && g[OUT_H] == 1 && g[OUT_W] == 1 && g[SH] == 1 && g[SW] == 1 &&
           g[PT] == 0 && g[PL] == 0 && g[PB] == 0 && g[PR] == 0 && in_zp >= -128 && in_zp <= 127 && out_zp >= -128 &&
           out_zp <= 127 && multiplier >= 0 && shift >= -31 && shift <= 30;
}

static int in_range(int32_t v, int32_t lo, int32_t hi) { return lo <= v && v <= hi; }

/* _Pool.block() for MUL blocks. */
static int mul_ok(const uint8_t *p, const block_t *b)
{
    const uint64_t max_numel = (uint64_t)TT_PLAN_MAX_CHANNELS * TT_PLAN_MAX_CHANNELS;
    if (b->numel < 1 || b->numel > max_numel || b->b_numel < 1 || b->b_numel > b->numel || b->numel % b->b_numel ||
        !in_range(b->constant, -128, 127) || !clamp_ok(p + TT_PLAN_MUL_OFF_ACT_MIN)) {
        return 0;
    }
    static const uint32_t zps[] = {TT_PLAN_MUL_OFF_INPUT1_ZP, TT_PLAN_MUL_OFF_INPUT2_ZP, TT_PLAN_MUL_OFF_OUTPUT_ZP};
    static const uint32_t multipliers[][2] = {{TT_PLAN_MUL_OFF_MULTIPLIER, TT_PLAN_MUL_OFF_SHIFT},
                                              {TT_PLAN_MUL_OFF_A_MULTIPLIER, TT_PLAN_MUL_OFF_A_SHIFT},
                                              {TT_PLAN_MUL_OFF_B_MULTIPLIER, TT_PLAN_MUL_OFF_B_SHIFT}};
    for (int i = 0; i < 3; i++) {
        if (!in_range(tt_pv_i32(p + zps[i]), -128, 127) || tt_pv_i32(p + multipliers[i][0]) < 0 ||
            !in_range(tt_pv_i32(p + multipliers[i][1]), -31, 30)) {
            return 0;
        }
    }
    return 1;
}

/* _Pool.block() for HARD_SWISH blocks. */
static int hard_swish_ok(const uint8_t *p, uint32_t numel)
{
#define HS(field) tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_##field)
    return numel >= 1 && (uint64_t)numel <= (uint64_t)TT_PLAN_MAX_CHANNELS * TT_PLAN_MAX_CHANNELS &&
           in_range(HS(INPUT_ZP), -128, 127) && in_range(HS(OUTPUT_ZP), -128, 127) &&
           in_range(HS(OUTPUT_MULTIPLIER), 0, 32767) && in_range(HS(OUTPUT_EXPONENT), -31, 0) &&
           in_range(HS(RELUISH_MULTIPLIER), 0, 32767) && in_range(HS(RELUISH_EXPONENT), -31, 30) &&
           HS(GRAD_MULTIPLIER) >= 0 && in_range(HS(GRAD_SHIFT), -31, 30) && HS(GRAD_LO) >= -128 &&
           HS(GRAD_LO) <= HS(GRAD_HI) + 1 && HS(GRAD_HI) + 1 <= 128;
#undef HS
}

/* _Pool.block() for LOGISTIC blocks. */
static int logistic_ok(const uint8_t *p, uint32_t numel)
{
    return numel >= 1 && (uint64_t)numel <= (uint64_t)TT_PLAN_MAX_CHANNELS * TT_PLAN_MAX_CHANNELS &&
           in_range(tt_pv_i32(p + TT_PLAN_LOGISTIC_OFF_INPUT_ZP), -128, 127) &&
           tt_pv_i32(p + TT_PLAN_LOGISTIC_OFF_RANGE_RADIUS) >= 0 && tt_pv_i32(p + TT_PLAN_LOGISTIC_OFF_MULTIPLIER) >= 0 &&
           in_range(tt_pv_i32(p + TT_PLAN_LOGISTIC_OFF_LEFT_SHIFT), 0, 31);
}

static uint64_t layer_block_bytes(uint64_t out_c, uint64_t n, uint32_t flags)
{
    uint64_t arrays = 2;
    arrays += (flags & TT_LAYER_FLAG_GRAD_QUANT) ? 2 : 0;
    arrays += n ? 2 : 0;
    arrays += (flags & TT_LAYER_FLAG_BIAS_TRAINED) ? 2 : 0;
    return TT_PLAN_LAYER_BYTES + arrays * 4u * out_c + ((2u * n + 3u) & ~(uint64_t)3);
}

static uint64_t weight_count(uint32_t kind, const int64_t *g)
{
    const uint64_t taps = mul_sat((uint64_t)g[KH], (uint64_t)g[KW]);
    if (kind == TT_LAYER_DW_CONV2D) {
        return mul_sat(taps, (uint64_t)g[OUT_C]);
    }
    return mul_sat(mul_sat((uint64_t)g[OUT_C], taps), (uint64_t)g[IN_C]);
}

/* _Pool._layer(): base is the block's offset in the plan. */
static uint32_t check_layer(const ctx_t *c, uint32_t base, uint32_t bytes, block_t *b)
{
    const uint8_t *p = c->plan + base;
    int64_t *g = b->g;
    read_geom(p + TT_PLAN_LAYER_OFF_GEOM, g);
    if (!geom_ok(g) || !clamp_ok(p + TT_PLAN_LAYER_OFF_ACT_MIN)) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    const uint32_t kind = tt_pv_u16(p + TT_PLAN_BLOCK_OFF_KIND);
    if (kind < TT_LAYER_CONV2D || kind > TT_LAYER_FC) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    const int one = g[KH] == 1 && g[KW] == 1 && g[PT] == 0 && g[PL] == 0 && g[PB] == 0 && g[PR] == 0;
    if (kind == TT_LAYER_PW_CONV2D && !one) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    if (kind == TT_LAYER_FC && !(one && g[IN_H] == 1 && g[IN_W] == 1 && g[OUT_H] == 1 && g[OUT_W] == 1)) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    if (kind == TT_LAYER_DW_CONV2D && g[OUT_C] != g[IN_C]) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    const int32_t in_zp = tt_pv_i32(p + TT_PLAN_LAYER_OFF_INPUT_ZP), out_zp = tt_pv_i32(p + TT_PLAN_LAYER_OFF_OUTPUT_ZP);
    const uint32_t flags = tt_pv_u32(p + TT_PLAN_LAYER_OFF_FLAGS);
    if (in_zp < -128 || in_zp > 127 || out_zp < -128 || out_zp > 127 || (flags & ~7u)) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    const uint32_t n = tt_pv_u32(p + TT_PLAN_LAYER_OFF_N_CHANNELS);
    /* A positive step bound for what trains, 0 for what does not. */
    const int32_t w_bound = tt_pv_i32(p + TT_PLAN_LAYER_OFF_WEIGHT_STEP_MAX);
    const int32_t b_bound = tt_pv_i32(p + TT_PLAN_LAYER_OFF_BIAS_STEP_MAX);
    if ((n > 0 ? w_bound <= 0 : w_bound != 0) ||
        ((flags & TT_LAYER_FLAG_BIAS_TRAINED) != 0u ? b_bound <= 0 : b_bound != 0)) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    if (n > g[IN_C]) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    const uint64_t out_c = (uint64_t)g[OUT_C];
    if (bytes != layer_block_bytes(out_c, n, flags)) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    const uint64_t wbytes = weight_count(kind, g);
    if (tt_pv_u32(p + TT_PLAN_LAYER_OFF_WEIGHTS_BYTES) != wbytes || tt_pv_u32(p + TT_PLAN_LAYER_OFF_BIAS_BYTES) != 4u * out_c) {
        return TT_PLAN_CHECK_BAD_WEIGHTS;
    }
    if (!region_ok(tt_pv_u32(p + TT_PLAN_LAYER_OFF_WEIGHTS_OFFSET), wbytes, c->h.weights_bytes, TT_WEIGHTS_HEADER_BYTES) ||
        !region_ok(tt_pv_u32(p + TT_PLAN_LAYER_OFF_BIAS_OFFSET), 4u * out_c, c->h.weights_bytes, TT_WEIGHTS_HEADER_BYTES)) {
        return TT_PLAN_CHECK_BAD_WEIGHTS;
    }
    /* Arrays: multiplier, shift, [grad_multiplier, grad_shift], [qas_w x2], [qas_b x2], channels. */
    const uint8_t *shift = p + TT_PLAN_LAYER_BYTES + 4u * out_c;
    for (uint32_t o = 0; o < out_c; o++) {
        const int32_t s = tt_pv_i32(shift + 4u * o);
        if (s < -31 || s > 30) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
    }
    const uint8_t *after = shift + 4u * out_c;
    const uint8_t *grad_shift = after + 4u * out_c;
    if (flags & TT_LAYER_FLAG_GRAD_QUANT) {
        after += 8u * out_c;
    }
    after += n ? 8u * out_c : 0u;
    after += (flags & TT_LAYER_FLAG_BIAS_TRAINED) ? 8u * out_c : 0u;
    /* Range and uniqueness of the channel list: one bit per input channel (<= MAX_CHANNELS). */
    uint32_t seen[TT_PLAN_MAX_CHANNELS / 32u];
    memset(seen, 0, sizeof seen);
    for (uint32_t j = 0; j < n; j++) {
        const int32_t ch = (int16_t)tt_pv_u16(after + 2u * j);
        if (ch < 0 || ch >= g[IN_C] || (seen[(uint32_t)ch / 32u] >> ((uint32_t)ch % 32u) & 1u)) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        seen[(uint32_t)ch / 32u] |= 1u << ((uint32_t)ch % 32u);
    }
    if (flags & TT_LAYER_FLAG_GRAD_QUANT) {
        for (uint32_t o = 0; o < out_c; o++) {
            const int32_t s = tt_pv_i32(grad_shift + 4u * o);
            if (s < -31 || s > 0) {
                return TT_PLAN_CHECK_BAD_PARAMS;
            }
        }
        const int32_t s = tt_pv_i32(p + TT_PLAN_LAYER_OFF_GRAD_SCALE_SHIFT);
        if (s < -31 || s > 30) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
    }
    b->kind = kind;
    b->flags = flags;
    b->n = n;
    return OK;
}

/* _Pool.block(). */
uint32_t tt_pc_check_block(const ctx_t *c, uint32_t offset, uint32_t want, block_t *b)
{
    memset(b, 0, sizeof *b);
    const uint64_t pool_bytes = c->h.pool_bytes;
    if (offset == TT_PLAN_NONE32 || offset % TT_PLAN_ALIGN || (uint64_t)offset + BLOCK_HEAD > pool_bytes) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    const uint32_t base = c->h.pool + offset;
    const uint8_t *p = c->plan + base;
    if (tt_pv_u16(p + TT_PLAN_BLOCK_OFF_TYPE) != want) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    const uint32_t bytes = tt_pv_u32(p + TT_PLAN_BLOCK_OFF_BYTES);
    if (bytes % TT_PLAN_ALIGN || (uint64_t)offset + bytes > pool_bytes) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    static const uint32_t fixed[] = {0, TT_PLAN_LAYER_BYTES, TT_PLAN_ADD_BYTES, TT_PLAN_POOL_BYTES, TT_PLAN_FUSED_BYTES,
                                     TT_PLAN_LOSS_BYTES, TT_PLAN_MUL_BYTES, TT_PLAN_HARD_SWISH_BYTES,
                                     TT_PLAN_REQUANTIZE_BYTES, TT_PLAN_CONCAT_BYTES, TT_PLAN_SLICE_BYTES,
                                     TT_PLAN_PAD_BYTES, TT_PLAN_LOGISTIC_BYTES};
    if (bytes < fixed[want]) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    switch (want) {
    case TT_PARAM_LAYER:
        return check_layer(c, base, bytes, b);
    case TT_PARAM_POOL:
        read_geom(p + TT_PLAN_POOL_OFF_GEOM, b->g);
        b->kind = tt_pv_u16(p + TT_PLAN_BLOCK_OFF_KIND);
        if (!geom_ok(b->g) || !clamp_ok(p + TT_PLAN_POOL_OFF_ACT_MIN) || b->g[OUT_C] != b->g[IN_C] ||
            bytes != TT_PLAN_POOL_BYTES || !pool_kind_ok(p, b->kind, b->g)) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        return OK;
    case TT_PARAM_ADD:
        b->numel = tt_pv_u32(p + TT_PLAN_ADD_OFF_NUMEL);
        if (!clamp_ok(p + TT_PLAN_ADD_OFF_ACT_MIN) || b->numel < 1 ||
            b->numel > TT_PLAN_MAX_CHANNELS * TT_PLAN_MAX_CHANNELS || bytes != TT_PLAN_ADD_BYTES) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        return OK;
    case TT_PARAM_MUL:
        b->numel = tt_pv_u32(p + TT_PLAN_MUL_OFF_NUMEL);
        b->b_numel = tt_pv_u32(p + TT_PLAN_MUL_OFF_B_NUMEL);
        b->constant = tt_pv_i32(p + TT_PLAN_MUL_OFF_CONSTANT);
        return bytes == TT_PLAN_MUL_BYTES && mul_ok(p, b) ? OK : TT_PLAN_CHECK_BAD_PARAMS;
    case TT_PARAM_HARD_SWISH:
        b->numel = tt_pv_u32(p + TT_PLAN_HARD_SWISH_OFF_NUMEL);
        return bytes == TT_PLAN_HARD_SWISH_BYTES && hard_swish_ok(p, b->numel) ? OK : TT_PLAN_CHECK_BAD_PARAMS;
    case TT_PARAM_LOGISTIC:
        b->numel = tt_pv_u32(p + TT_PLAN_LOGISTIC_OFF_NUMEL);
        return bytes == TT_PLAN_LOGISTIC_BYTES && logistic_ok(p, b->numel) ? OK : TT_PLAN_CHECK_BAD_PARAMS;
    case TT_PARAM_REQUANTIZE: {
        b->numel = tt_pv_u32(p + TT_PLAN_REQUANTIZE_OFF_NUMEL);
        const int ok = bytes == TT_PLAN_REQUANTIZE_BYTES && b->numel >= 1 &&
                       (uint64_t)b->numel <= (uint64_t)TT_PLAN_MAX_CHANNELS * TT_PLAN_MAX_CHANNELS &&
                       in_range(tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_INPUT_ZP), -128, 127) &&
                       in_range(tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_OUTPUT_ZP), -128, 127) &&
                       tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_MULTIPLIER) >= 0 &&
                       in_range(tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_SHIFT), -31, 30) &&
                       tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_NEGATIVE_MULTIPLIER) >= 0 &&
                       in_range(tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_NEGATIVE_SHIFT), -31, 30) &&
                       tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_ALPHA_MULTIPLIER) >= 0 &&
                       in_range(tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_ALPHA_SHIFT), -31, 30) &&
                       clamp_ok(p + TT_PLAN_REQUANTIZE_OFF_ACT_MIN);
        return ok ? OK : TT_PLAN_CHECK_BAD_PARAMS;
    }
    case TT_PARAM_CONCAT: {
        const uint64_t max_numel = (uint64_t)TT_PLAN_MAX_CHANNELS * TT_PLAN_MAX_CHANNELS;
        b->outer = tt_pv_u32(p + TT_PLAN_CONCAT_OFF_OUTER);
        b->n_inputs = tt_pv_u32(p + TT_PLAN_CONCAT_OFF_N_INPUTS);
        uint64_t total = 0;
        int ok = bytes == TT_PLAN_CONCAT_BYTES && b->n_inputs >= 1 && b->n_inputs <= 4 && b->outer >= 1;
        for (uint32_t k = 0; k < 4; k++) {
            b->inners[k] = tt_pv_u32(p + TT_PLAN_CONCAT_OFF_INNERS + 4u * k);
            ok = ok && (k < b->n_inputs ? b->inners[k] >= 1 : b->inners[k] == 0);
            total += b->inners[k];
        }
        return ok && (uint64_t)b->outer * total <= max_numel ? OK : TT_PLAN_CHECK_BAD_PARAMS;
    }
    case TT_PARAM_SLICE:
        b->outer = tt_pv_u32(p + TT_PLAN_SLICE_OFF_OUTER);
        b->total = tt_pv_u32(p + TT_PLAN_SLICE_OFF_TOTAL);
        b->offset = tt_pv_u32(p + TT_PLAN_SLICE_OFF_OFFSET);
        b->inner = tt_pv_u32(p + TT_PLAN_SLICE_OFF_INNER);
        return bytes == TT_PLAN_SLICE_BYTES && b->outer >= 1 && b->inner >= 1 &&
                       (uint64_t)b->offset + b->inner <= b->total &&
                       (uint64_t)b->outer * b->total <= (uint64_t)TT_PLAN_MAX_CHANNELS * TT_PLAN_MAX_CHANNELS
                   ? OK
                   : TT_PLAN_CHECK_BAD_PARAMS;
    case TT_PARAM_PAD: {
#define PD(field) tt_pv_i32(p + TT_PLAN_PAD_OFF_##field)
        const int32_t max = (int32_t)TT_PLAN_MAX_CHANNELS;
        const int ok = bytes == TT_PLAN_PAD_BYTES && in_range(PD(IN_H), 1, max) && in_range(PD(IN_W), 1, max) &&
                       in_range(PD(C), 1, max) && in_range(PD(TOP), 0, max) && in_range(PD(LEFT), 0, max) &&
                       in_range(PD(BOTTOM), 0, max) && in_range(PD(RIGHT), 0, max) && in_range(PD(FILL), -128, 127);
        b->pad_x = (uint64_t)PD(IN_H) * (uint64_t)PD(IN_W) * (uint64_t)PD(C);
        b->pad_y = (uint64_t)(PD(IN_H) + PD(TOP) + PD(BOTTOM)) * (uint64_t)(PD(IN_W) + PD(LEFT) + PD(RIGHT)) *
                   (uint64_t)PD(C);
#undef PD
        return ok ? OK : TT_PLAN_CHECK_BAD_PARAMS;
    }
    case TT_PARAM_LOSS: {
        b->n_classes = tt_pv_u32(p + TT_PLAN_LOSS_OFF_N_CLASSES);
        float scale;
        const uint32_t bits = tt_pv_u32(p + TT_PLAN_LOSS_OFF_SCALE);
        memcpy(&scale, &bits, sizeof scale);
        if (bytes != TT_PLAN_LOSS_BYTES || b->n_classes < 1 || b->n_classes > TT_PLAN_MAX_CLASSES || !(scale > 0.0f)) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        return OK;
    }
    default: { /* TT_PARAM_FUSED */
        if (bytes != TT_PLAN_FUSED_BYTES) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        const uint32_t pw1_at = tt_pv_u32(p + TT_PLAN_FUSED_OFF_PW1), add_at = tt_pv_u32(p + TT_PLAN_FUSED_OFF_ADD);
        const uint32_t residual = tt_pv_u32(p + TT_PLAN_FUSED_OFF_RESIDUAL_INPUT);
        block_t dw, pw2, pw1, add;
        uint32_t r = tt_pc_check_block(c, tt_pv_u32(p + TT_PLAN_FUSED_OFF_DW), TT_PARAM_LAYER, &dw);
        if (r == OK) {
            r = tt_pc_check_block(c, tt_pv_u32(p + TT_PLAN_FUSED_OFF_PW2), TT_PARAM_LAYER, &pw2);
        }
        if (r == OK && pw1_at != TT_PLAN_NONE32) {
            r = tt_pc_check_block(c, pw1_at, TT_PARAM_LAYER, &pw1);
        }
        if (r == OK && add_at != TT_PLAN_NONE32) {
            r = tt_pc_check_block(c, add_at, TT_PARAM_ADD, &add);
        }
        if (r != OK) {
            return r;
        }
        int ok = dw.kind == TT_LAYER_DW_CONV2D && pw2.kind == TT_LAYER_PW_CONV2D && out_numel(dw.g) == in_numel(pw2.g) &&
                 dw.g[OUT_C] == dw.g[IN_C] && pw2.n == 0 && dw.n == 0 && !(dw.flags & TT_LAYER_FLAG_BIAS_TRAINED) &&
                 !(pw2.flags & TT_LAYER_FLAG_BIAS_TRAINED);
        const int64_t *first = dw.g;
        if (pw1_at != TT_PLAN_NONE32) {
            /* The expansion: a pointwise conv, or any conv (the stem before a block without one). */
            ok = ok && (pw1.kind == TT_LAYER_PW_CONV2D || pw1.kind == TT_LAYER_CONV2D) &&
                 out_numel(pw1.g) == in_numel(dw.g) && pw1.n == 0 && !(pw1.flags & TT_LAYER_FLAG_BIAS_TRAINED);
            first = pw1.g;
        }
        if (add_at != TT_PLAN_NONE32) {
            ok = ok && add.numel == out_numel(pw2.g) && out_numel(pw2.g) == in_numel(first) &&
                 (residual == 1 || residual == 2);
        } else {
            ok = ok && residual == 0;
        }
        if (!ok) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        b->fused_x = in_numel(first);
        b->fused_y = out_numel(pw2.g);
        return OK;
    }
    }
}
