/* The plan loader's checks: a line-by-line port of tt_protocol.plan.validate() (and
 * validate_weights()), same checks, same order, same Check codes, so the corruption corpus
 * that the Python side derives from any plan is rejected here for the same reason.
 *
 * Every length and offset in a blob is untrusted until checked: sums and products of them
 * are formed in 64 bits (saturating where a product of several could overflow even that), so
 * no arithmetic wraps into a range that passes a bounds check. Nothing is read outside the
 * two blobs and nothing is written but the caller's info struct. */
#include <string.h>

#include "plan_view.h"
#include "tt/crc32.h"

#define OK TT_PLAN_CHECK_OK

enum { BLOCK_HEAD = TT_PLAN_BLOCK_BYTES, ROLE_OPTIONAL = TT_PLAN_SLOT_OPTIONAL, ROLE_DTYPE = 0x7F };

static const tt_plan_signature_t SIGNATURES[TT_PLAN_OP_KIND_MAX + 1] = TT_PLAN_SIGNATURES_INIT;

typedef struct {
    const uint8_t *plan;
    const uint8_t *weights;
    uint32_t weights_len;
    tt_plan_info_t h;
    uint16_t n_labels;
    uint32_t label_table, label_bytes;
    uint64_t input_bytes; /* input_h * input_w * input_c */
    uint64_t input_row;   /* input_w * input_c */
} ctx_t;

/* A parameter block that passed its checks, decoded just enough for the shape checks. */
typedef struct {
    uint32_t kind; /* LayerKind (LAYER blocks) */
    uint32_t flags;
    uint32_t n;
    int64_t g[14]; /* in_h in_w in_c out_h out_w out_c kh kw sh sw pt pl pb pr */
    uint32_t numel;     /* ADD */
    uint32_t n_classes; /* LOSS */
    uint64_t fused_x, fused_y;
} block_t;

enum { IN_H, IN_W, IN_C, OUT_H, OUT_W, OUT_C, KH, KW, SH, SW, PT, PL, PB, PR };

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    const uint64_t cap = (uint64_t)1 << 40; /* far above any 32-bit size */
    if (a == 0 || b == 0) {
        return 0;
    }
    return a > cap / b ? cap : a * b;
}

static int region_ok(uint64_t offset, uint64_t size, uint64_t limit, uint64_t lower)
{
    return offset % TT_PLAN_ALIGN == 0 && offset >= lower && offset + size <= limit;
}

static uint32_t check_header(const uint8_t *b, uint32_t len, uint32_t magic, uint32_t header_bytes)
{
    if (len < header_bytes) {
        return TT_PLAN_CHECK_TRUNCATED;
    }
    if (tt_pv_u32(b) != magic) {
        return TT_PLAN_CHECK_BAD_MAGIC;
    }
    if (tt_pv_u16(b + 4) != TT_PLAN_FORMAT_VERSION) {
        return TT_PLAN_CHECK_BAD_VERSION;
    }
    if (tt_pv_u16(b + 6) != header_bytes || tt_pv_u32(b + 8) != len) {
        return TT_PLAN_CHECK_BAD_LENGTH;
    }
    if (tt_crc32(b + TT_PLAN_CRC_START, len - TT_PLAN_CRC_START) != tt_pv_u32(b + 12)) {
        return TT_PLAN_CHECK_BAD_CRC;
    }
    return OK;
}

/* validate_weights(): the weight blob's own checks. */
static uint32_t check_weights(const uint8_t *w, uint32_t len)
{
    uint32_t c = check_header(w, len, TT_WEIGHTS_MAGIC, TT_WEIGHTS_HEADER_BYTES);
    if (c != OK) {
        return c;
    }
    const uint32_t n = tt_pv_u32(w + TT_WEIGHTS_HEADER_OFF_N_TENSORS);
    const uint32_t table = tt_pv_u32(w + TT_WEIGHTS_HEADER_OFF_TABLE_OFFSET);
    const uint32_t data = tt_pv_u32(w + TT_WEIGHTS_HEADER_OFF_DATA_OFFSET);
    if (n > TT_PLAN_MAX_TENSORS) {
        return TT_PLAN_CHECK_BAD_COUNT;
    }
    if (!region_ok(table, (uint64_t)n * TT_WEIGHTS_TENSOR_BYTES, len, TT_WEIGHTS_HEADER_BYTES)) {
        return TT_PLAN_CHECK_BAD_TABLE;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = w + table + i * TT_WEIGHTS_TENSOR_BYTES;
        if (!region_ok(tt_pv_u32(r + TT_WEIGHTS_TENSOR_OFF_OFFSET), tt_pv_u32(r + TT_WEIGHTS_TENSOR_OFF_BYTES), len,
                       data)) {
            return TT_PLAN_CHECK_BAD_TABLE;
        }
    }
    return OK;
}

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

static uint64_t in_numel(const int64_t *g) { return (uint64_t)g[IN_H] * (uint64_t)g[IN_W] * (uint64_t)g[IN_C]; }
static uint64_t out_numel(const int64_t *g) { return (uint64_t)g[OUT_H] * (uint64_t)g[OUT_W] * (uint64_t)g[OUT_C]; }

/* _Pool.block(). */
static uint32_t check_block(const ctx_t *c, uint32_t offset, uint32_t want, block_t *b)
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
                                     TT_PLAN_LOSS_BYTES};
    if (bytes < fixed[want]) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    switch (want) {
    case TT_PARAM_LAYER:
        return check_layer(c, base, bytes, b);
    case TT_PARAM_POOL:
        read_geom(p + TT_PLAN_POOL_OFF_GEOM, b->g);
        if (!geom_ok(b->g) || !clamp_ok(p + TT_PLAN_POOL_OFF_ACT_MIN) || b->g[OUT_C] != b->g[IN_C] ||
            bytes != TT_PLAN_POOL_BYTES) {
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
        uint32_t r = check_block(c, tt_pv_u32(p + TT_PLAN_FUSED_OFF_DW), TT_PARAM_LAYER, &dw);
        if (r == OK) {
            r = check_block(c, tt_pv_u32(p + TT_PLAN_FUSED_OFF_PW2), TT_PARAM_LAYER, &pw2);
        }
        if (r == OK && pw1_at != TT_PLAN_NONE32) {
            r = check_block(c, pw1_at, TT_PARAM_LAYER, &pw1);
        }
        if (r == OK && add_at != TT_PLAN_NONE32) {
            r = check_block(c, add_at, TT_PARAM_ADD, &add);
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

static int is_layer_fwd(uint32_t k)
{
    return k == TT_PLAN_OP_CONV2D || k == TT_PLAN_OP_PW_CONV2D || k == TT_PLAN_OP_DW_CONV2D || k == TT_PLAN_OP_FC;
}

/* Forward kinds an op may run again in the backward (TT_OP_FLAG_RECOMPUTE). */
static int recomputable(uint32_t k) { return is_layer_fwd(k) || k == TT_PLAN_OP_ADD; }

static int is_bwd_input(uint32_t k)
{
    return k == TT_PLAN_OP_CONV2D_BWD_INPUT || k == TT_PLAN_OP_PW_CONV2D_BWD_INPUT ||
           k == TT_PLAN_OP_DW_CONV2D_BWD_INPUT || k == TT_PLAN_OP_FC_BWD_INPUT;
}

/* Expected byte size of each slot, by slot position (ins 0..3, outs 4..6); UINT64_MAX = any.
 * Port of _sizes(); returns a Check when the op and its block disagree. */
#define ANY UINT64_MAX
static uint32_t slot_sizes(uint32_t k, const block_t *p, uint32_t flags, uint64_t *want)
{
    for (int i = 0; i < 7; i++) {
        want[i] = ANY;
    }
    const int layer_op = is_layer_fwd(k) || is_bwd_input(k) || k == TT_PLAN_OP_LOAD_WEIGHTS ||
                         k == TT_PLAN_OP_LOAD_BIAS || k == TT_PLAN_OP_SAVE || (k >= TT_PLAN_OP_BIAS_GRAD &&
                                                                               k <= TT_PLAN_OP_WEIGHT_GRAD_UPDATE);
    if (layer_op) {
        const int64_t *g = p->g;
        const uint64_t n = p->n;
        if (is_layer_fwd(k) && p->kind != k - TT_PLAN_OP_CONV2D + TT_LAYER_CONV2D) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        if (is_bwd_input(k) && p->kind != k - TT_PLAN_OP_CONV2D_BWD_INPUT + TT_LAYER_CONV2D) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        if (is_bwd_input(k) && !(p->flags & TT_LAYER_FLAG_GRAD_QUANT)) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        if ((k == TT_PLAN_OP_LOAD_BIAS || k == TT_PLAN_OP_BIAS_GRAD || k == TT_PLAN_OP_BIAS_UPDATE ||
             k == TT_PLAN_OP_BIAS_GRAD_UPDATE) && !(p->flags & TT_LAYER_FLAG_BIAS_TRAINED)) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        if ((k == TT_PLAN_OP_LOAD_WEIGHTS || k == TT_PLAN_OP_SAVE || k == TT_PLAN_OP_WEIGHT_GRAD ||
             k == TT_PLAN_OP_WEIGHT_UPDATE || k == TT_PLAN_OP_WEIGHT_GRAD_UPDATE) && n == 0) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        if (k == TT_PLAN_OP_SAVE && n >= (uint64_t)g[IN_C]) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        const uint64_t hw_in = (uint64_t)g[IN_H] * (uint64_t)g[IN_W];
        const uint64_t x = hw_in * ((flags & TT_OP_FLAG_COMPACT_INPUT) ? n : (uint64_t)g[IN_C]);
        const uint64_t taps = mul_sat((uint64_t)g[KH], (uint64_t)g[KW]);
        const uint64_t slice = p->kind == TT_LAYER_DW_CONV2D ? mul_sat(taps, n) : mul_sat(mul_sat((uint64_t)g[OUT_C], taps), n);
        const uint64_t y = out_numel(g), b = 4u * (uint64_t)g[OUT_C];
        switch (k) {
        case TT_PLAN_OP_LOAD_WEIGHTS: want[4] = slice; break;
        case TT_PLAN_OP_LOAD_BIAS: want[4] = b; break;
        case TT_PLAN_OP_SAVE: want[0] = x; want[4] = hw_in * n; break;
        case TT_PLAN_OP_BIAS_GRAD: want[0] = 2u * y; want[4] = b; break;
        case TT_PLAN_OP_BIAS_UPDATE: want[0] = b; want[1] = b; want[4] = b; break;
        case TT_PLAN_OP_WEIGHT_GRAD: want[0] = 2u * y; want[1] = x; want[4] = mul_sat(4u, slice); break;
        case TT_PLAN_OP_WEIGHT_UPDATE: want[0] = mul_sat(4u, slice); want[1] = slice; want[4] = slice; break;
        case TT_PLAN_OP_BIAS_GRAD_UPDATE: want[0] = 2u * y; want[1] = b; want[4] = b; break;
        case TT_PLAN_OP_WEIGHT_GRAD_UPDATE: want[0] = 2u * y; want[1] = x; want[2] = slice; want[4] = slice; break;
        default:
            if (is_layer_fwd(k)) { /* x, w, b -> y, mask */
                want[0] = x; want[1] = slice; want[2] = b; want[4] = y; want[5] = (y + 7u) / 8u;
            } else { /* dy, w -> dx */
                want[0] = 2u * y; want[1] = slice; want[4] = 2u * in_numel(g);
            }
        }
        return OK;
    }
    if (k == TT_PLAN_OP_AVGPOOL || k == TT_PLAN_OP_AVGPOOL_BWD_INPUT) {
        const uint64_t x = in_numel(p->g), y = out_numel(p->g);
        if (k == TT_PLAN_OP_AVGPOOL) {
            want[0] = x; want[4] = y; want[5] = (y + 7u) / 8u;
        } else {
            want[0] = 2u * y; want[4] = 2u * x;
        }
    } else if (k == TT_PLAN_OP_ADD) {
        want[0] = want[1] = want[4] = p->numel;
        want[5] = (p->numel + 7u) / 8u;
    } else if (k == TT_PLAN_OP_LOSS) {
        want[0] = p->n_classes;
        want[4] = 2u * (uint64_t)p->n_classes;
    } else if (k == TT_PLAN_OP_FUSED_BLOCK) {
        want[0] = p->fused_x;
        want[4] = p->fused_y;
    }
    return OK;
}

static uint32_t buf_offset(const ctx_t *c, uint32_t id)
{
    return tt_pv_u32(c->plan + c->h.buffer_table + id * TT_PLAN_BUFFER_BYTES + TT_PLAN_BUFFER_OFF_OFFSET);
}

static uint32_t buf_size(const ctx_t *c, uint32_t id)
{
    return tt_pv_u32(c->plan + c->h.buffer_table + id * TT_PLAN_BUFFER_BYTES + TT_PLAN_BUFFER_OFF_SIZE);
}

static uint8_t buf_dtype(const ctx_t *c, uint32_t id)
{
    return c->plan[c->h.buffer_table + id * TT_PLAN_BUFFER_BYTES + TT_PLAN_BUFFER_OFF_DTYPE];
}

static uint8_t buf_kind(const ctx_t *c, uint32_t id)
{
    return c->plan[c->h.buffer_table + id * TT_PLAN_BUFFER_BYTES + TT_PLAN_BUFFER_OFF_KIND];
}

/* _check_shapes(). */
/* @p streamed_reader: the FUSED_BLOCK right after a STREAMED INPUT, whose input slot holds
 * rows of the sample (checked at the INPUT op) while the block reads the whole sample. */
static uint32_t check_shapes(const ctx_t *c, uint32_t k, const uint8_t *op, const uint16_t *slot, const block_t *p,
                             int streamed_reader)
{
    const tt_plan_signature_t *sig = &SIGNATURES[k];
    const uint32_t flags = op[TT_PLAN_OPREC_OFF_FLAGS];
    uint64_t want[7];
    uint32_t r = slot_sizes(k, p, flags, want);
    if (r != OK) {
        return r;
    }
    if (k == TT_PLAN_OP_INPUT) {
        want[4] = c->input_bytes;
        if (slot[4] != c->h.input_buffer) {
            return TT_PLAN_CHECK_BAD_SHAPE;
        }
        if (flags & TT_OP_FLAG_STREAMED) { /* whole rows, at least one, at most the sample */
            const uint64_t have = buf_size(c, slot[4]);
            if (c->input_row == 0 || have % c->input_row || have < c->input_row || have > c->input_bytes) {
                return TT_PLAN_CHECK_BAD_SHAPE;
            }
            want[4] = have;
        }
    }
    if (k == TT_PLAN_OP_LOSS && (slot[0] != c->h.logits_buffer || p->n_classes != c->h.n_classes)) {
        return TT_PLAN_CHECK_BAD_SHAPE;
    }
    if (k == TT_PLAN_OP_MASK_BWD || k == TT_PLAN_OP_GRAD_ADD || k == TT_PLAN_OP_GRAD_COPY) {
        const uint64_t g = buf_size(c, slot[k != TT_PLAN_OP_GRAD_COPY ? 1 : 0]);
        for (int i = 0; i < 7; i++) {
            want[i] = g;
        }
        if (k == TT_PLAN_OP_MASK_BWD) {
            want[0] = (g / 2u + 7u) / 8u;
        }
    }
    if (is_layer_fwd(k) || is_bwd_input(k)) {
        if ((slot[1] != TT_PLAN_NONE16) != (p->n > 0)) {
            return TT_PLAN_CHECK_BAD_BUFFER_ID;
        }
        if (is_layer_fwd(k) && (slot[2] != TT_PLAN_NONE16) != ((p->flags & TT_LAYER_FLAG_BIAS_TRAINED) != 0)) {
            return TT_PLAN_CHECK_BAD_BUFFER_ID;
        }
    }
    if (streamed_reader) {
        if (p->fused_x != c->input_bytes) {
            return TT_PLAN_CHECK_BAD_SHAPE;
        }
        want[0] = ANY;
    }
    int in_place = -1;
    switch (k) {
    case TT_PLAN_OP_MASK_BWD:
    case TT_PLAN_OP_GRAD_ADD:
    case TT_PLAN_OP_BIAS_UPDATE:
    case TT_PLAN_OP_WEIGHT_UPDATE:
    case TT_PLAN_OP_BIAS_GRAD_UPDATE: in_place = 1; break;
    case TT_PLAN_OP_WEIGHT_GRAD_UPDATE: in_place = 2; break;
    default: break;
    }
    if (in_place >= 0 && slot[in_place] != slot[4]) {
        return TT_PLAN_CHECK_BAD_BUFFER_ID;
    }
    for (int i = 0; i < 7; i++) {
        const uint8_t role = i < 4 ? sig->ins[i] : sig->outs[i - 4];
        if (role == 0 || slot[i] == TT_PLAN_NONE16) {
            continue;
        }
        const uint8_t dtype = role & ROLE_DTYPE;
        if (buf_dtype(c, slot[i]) != dtype || (want[i] != ANY && buf_size(c, slot[i]) != want[i])) {
            return TT_PLAN_CHECK_BAD_SHAPE;
        }
        const uint8_t kind = buf_kind(c, slot[i]);
        if ((dtype == TT_DTYPE_INT16 || dtype == TT_DTYPE_INT32) &&
            (kind == TT_BUFKIND_GRAD || kind == TT_BUFKIND_PARAM_GRAD) && slot[i] >= c->h.n_exp_slots) {
            return TT_PLAN_CHECK_BAD_SHAPE;
        }
    }
    if (k == TT_PLAN_OP_DW_CONV2D_BWD_INPUT && p->g[OUT_C] != p->g[IN_C]) {
        return TT_PLAN_CHECK_BAD_PARAMS;
    }
    return OK;
}

/* Strict UTF-8 (what Python's decoder accepts): no overlongs, surrogates or code points
 * above U+10FFFF. */
/* A STREAMED INPUT is followed by the FUSED_BLOCK that reads its buffer, and no other op
 * after it reads that buffer (the rows pass through it while the sample arrives). */
static uint32_t check_streamed(uint32_t i, uint32_t k, const uint8_t *op, const uint16_t *slot, uint16_t input,
                               uint32_t *streamed_at)
{
    if (k == TT_PLAN_OP_INPUT && (op[TT_PLAN_OPREC_OFF_FLAGS] & TT_OP_FLAG_STREAMED)) {
        *streamed_at = i;
        return OK;
    }
    if (*streamed_at == TT_PLAN_NONE32) {
        return OK;
    }
    if (i == *streamed_at + 1u) {
        return k == TT_PLAN_OP_FUSED_BLOCK && slot[0] == input ? OK : TT_PLAN_CHECK_BAD_OP_ORDER;
    }
    for (int s = 0; s < 4; s++) {
        if (slot[s] == input) {
            return TT_PLAN_CHECK_BAD_BUFFER_ID;
        }
    }
    return OK;
}

static int utf8_ok(const uint8_t *s, uint32_t n)
{
    uint32_t i = 0;
    while (i < n) {
        const uint8_t b = s[i];
        uint32_t len, cp;
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            len = 2; cp = b & 0x1Fu;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3; cp = b & 0x0Fu;
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4; cp = b & 0x07u;
        } else {
            return 0;
        }
        if (n - i < len) {
            return 0;
        }
        for (uint32_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xC0u) != 0x80u) {
                return 0;
            }
            cp = (cp << 6) | (s[i + j] & 0x3Fu);
        }
        if ((len == 3 && (cp < 0x800u || (cp >= 0xD800u && cp <= 0xDFFFu))) || (len == 4 && (cp < 0x10000u || cp > 0x10FFFFu))) {
            return 0;
        }
        i += len;
    }
    return 1;
}

/* parse_labels(). */
static uint32_t check_labels(const ctx_t *c)
{
    const uint8_t *area = c->plan + c->label_table;
    const uint64_t records = (uint64_t)c->n_labels * TT_PLAN_LABEL_BYTES;
    if (records > c->label_bytes) {
        return TT_PLAN_CHECK_BAD_LABELS;
    }
    const uint8_t *strings = area + records;
    const uint32_t strings_len = c->label_bytes - (uint32_t)records;
    for (uint32_t i = 0; i < c->n_labels; i++) {
        const uint32_t off = tt_pv_u16(area + i * TT_PLAN_LABEL_BYTES + TT_PLAN_LABEL_OFF_OFFSET);
        const uint32_t len = tt_pv_u16(area + i * TT_PLAN_LABEL_BYTES + TT_PLAN_LABEL_OFF_LENGTH);
        if (len < 1 || len > TT_PLAN_MAX_LABEL_BYTES || off + len > strings_len || !utf8_ok(strings + off, len)) {
            return TT_PLAN_CHECK_BAD_LABELS;
        }
    }
    return OK;
}

uint32_t tt_plan_check(const uint8_t *plan, uint32_t plan_len, const uint8_t *weights, uint32_t weights_len,
                       uint32_t arena_limit, tt_plan_info_t *info)
{
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.plan = plan;
    c.weights = weights;
    c.weights_len = weights_len;
    uint32_t r = check_header(plan, plan_len, TT_PLAN_MAGIC, TT_PLAN_HEADER_BYTES);
    if (r != OK) {
        return r;
    }
    tt_plan_info_t *h = &c.h;
    h->plan_bytes = plan_len;
    h->weights_bytes = tt_pv_u32(plan + TT_PLAN_HEADER_OFF_WEIGHTS_BYTES);
    h->arena_bytes = tt_pv_u32(plan + TT_PLAN_HEADER_OFF_ARENA_BYTES);
    h->exp_table_offset = tt_pv_u32(plan + TT_PLAN_HEADER_OFF_EXP_TABLE_OFFSET);
    h->n_exp_slots = tt_pv_u16(plan + TT_PLAN_HEADER_OFF_N_EXP_SLOTS);
    h->n_buffers = tt_pv_u16(plan + TT_PLAN_HEADER_OFF_N_BUFFERS);
    h->n_ops = tt_pv_u16(plan + TT_PLAN_HEADER_OFF_N_OPS);
    h->n_classes = tt_pv_u16(plan + TT_PLAN_HEADER_OFF_N_CLASSES);
    h->input_buffer = tt_pv_u16(plan + TT_PLAN_HEADER_OFF_INPUT_BUFFER);
    h->logits_buffer = tt_pv_u16(plan + TT_PLAN_HEADER_OFF_LOGITS_BUFFER);
    h->buffer_table = tt_pv_u32(plan + TT_PLAN_HEADER_OFF_BUFFER_TABLE_OFFSET);
    h->op_table = tt_pv_u32(plan + TT_PLAN_HEADER_OFF_OP_TABLE_OFFSET);
    h->pool = tt_pv_u32(plan + TT_PLAN_HEADER_OFF_PARAM_POOL_OFFSET);
    h->pool_bytes = tt_pv_u32(plan + TT_PLAN_HEADER_OFF_PARAM_POOL_BYTES);
    h->seed = tt_pv_u32(plan + TT_PLAN_HEADER_OFF_SEED);
    h->lr_multiplier = tt_pv_i32(plan + TT_PLAN_HEADER_OFF_LR_MULTIPLIER);
    h->lr_shift = tt_pv_i32(plan + TT_PLAN_HEADER_OFF_LR_SHIFT);
    h->head_lr_multiplier = tt_pv_i32(plan + TT_PLAN_HEADER_OFF_HEAD_LR_MULTIPLIER);
    h->head_lr_shift = tt_pv_i32(plan + TT_PLAN_HEADER_OFF_HEAD_LR_SHIFT);
    h->diverge_after = tt_pv_u16(plan + TT_PLAN_HEADER_OFF_DIVERGE_AFTER);
    c.n_labels = tt_pv_u16(plan + TT_PLAN_HEADER_OFF_N_LABELS);
    c.label_table = tt_pv_u32(plan + TT_PLAN_HEADER_OFF_LABEL_TABLE_OFFSET);
    c.label_bytes = tt_pv_u32(plan + TT_PLAN_HEADER_OFF_LABEL_BYTES);
    c.input_bytes = (uint64_t)tt_pv_u16(plan + TT_PLAN_HEADER_OFF_INPUT_H) * tt_pv_u16(plan + TT_PLAN_HEADER_OFF_INPUT_W) *
                    tt_pv_u16(plan + TT_PLAN_HEADER_OFF_INPUT_C);
    h->input_bytes = (uint32_t)c.input_bytes; /* the sample (a streamed INPUT's buffer holds only rows of it) */
    c.input_row = (uint64_t)tt_pv_u16(plan + TT_PLAN_HEADER_OFF_INPUT_W) * tt_pv_u16(plan + TT_PLAN_HEADER_OFF_INPUT_C);
    h->input_row = (uint32_t)c.input_row;

    if (h->n_buffers > TT_PLAN_MAX_BUFFERS || h->n_ops > TT_PLAN_MAX_OPS || h->n_classes < 1 ||
        h->n_classes > TT_PLAN_MAX_CLASSES || (c.n_labels != 0 && c.n_labels != h->n_classes) ||
        h->n_exp_slots > h->n_buffers) {
        return TT_PLAN_CHECK_BAD_COUNT;
    }
    if (!region_ok(h->buffer_table, (uint64_t)h->n_buffers * TT_PLAN_BUFFER_BYTES, plan_len, TT_PLAN_HEADER_BYTES) ||
        !region_ok(h->op_table, (uint64_t)h->n_ops * TT_PLAN_OPREC_BYTES, plan_len, TT_PLAN_HEADER_BYTES) ||
        !region_ok(h->pool, h->pool_bytes, plan_len, TT_PLAN_HEADER_BYTES) ||
        !region_ok(c.label_table, c.label_bytes, plan_len, TT_PLAN_HEADER_BYTES)) {
        return TT_PLAN_CHECK_BAD_TABLE;
    }
    if (h->arena_bytes > arena_limit) {
        return TT_PLAN_CHECK_ARENA_TOO_SMALL;
    }
    if (!region_ok(h->exp_table_offset, 4u * (uint64_t)h->n_exp_slots, h->arena_bytes, 0)) {
        return TT_PLAN_CHECK_BAD_BUFFER;
    }
    r = check_weights(weights, weights_len);
    if (r != OK) {
        return r;
    }
    if (weights_len != h->weights_bytes ||
        tt_pv_u32(weights + TT_WEIGHTS_HEADER_OFF_CRC32) != tt_pv_u32(plan + TT_PLAN_HEADER_OFF_WEIGHTS_CRC32) ||
        memcmp(weights + TT_WEIGHTS_HEADER_OFF_MODEL_HASH, plan + TT_PLAN_HEADER_OFF_MODEL_HASH, 32) != 0) {
        return TT_PLAN_CHECK_BAD_WEIGHTS;
    }
    if (tt_pv_i32(plan + TT_PLAN_HEADER_OFF_MOMENTUM_Q15) != 0 || h->lr_multiplier < (1 << 30) || h->lr_shift < -31 ||
        h->lr_shift > 0 || h->head_lr_multiplier < (1 << 30) || h->head_lr_shift < -31 || h->head_lr_shift > 0) {
        return TT_PLAN_CHECK_BAD_OPTIMIZER;
    }

    for (uint32_t i = 0; i < h->n_buffers; i++) {
        const uint8_t dtype = buf_dtype(&c, i), kind = buf_kind(&c, i);
        const uint32_t size = buf_size(&c, i);
        const uint32_t elem = dtype == TT_DTYPE_INT16 ? 2u : dtype == TT_DTYPE_INT32 ? 4u : 1u;
        if (dtype < TT_DTYPE_INT8 || dtype > TT_DTYPE_BYTES || kind > TT_BUFKIND_SCRATCH || size == 0 || size % elem) {
            return TT_PLAN_CHECK_BAD_BUFFER;
        }
        if (!region_ok(buf_offset(&c, i), size, h->exp_table_offset, 0)) {
            return TT_PLAN_CHECK_BAD_BUFFER;
        }
        const int grad = (dtype == TT_DTYPE_INT16 || dtype == TT_DTYPE_INT32) &&
                         (kind == TT_BUFKIND_GRAD || kind == TT_BUFKIND_PARAM_GRAD);
        if ((i < h->n_exp_slots) != grad) {
            return TT_PLAN_CHECK_BAD_BUFFER;
        }
    }

    uint32_t phase = TT_PHASE_LOAD, n_input = 0, n_loss = 0;
    uint32_t streamed_at = TT_PLAN_NONE32; /* the index of a STREAMED INPUT op */
    for (uint32_t i = 0; i < h->n_ops; i++) {
        const uint8_t *op = plan + h->op_table + i * TT_PLAN_OPREC_BYTES;
        const uint32_t k = op[TT_PLAN_OPREC_OFF_KIND];
        const tt_plan_signature_t *sig = k <= TT_PLAN_OP_KIND_MAX ? &SIGNATURES[k] : 0;
        /* A kind is known when its signature has at least one output slot. */
        if (sig == 0 || sig->outs[0] == 0) {
            return TT_PLAN_CHECK_BAD_OP_KIND;
        }
        const uint32_t flags = op[TT_PLAN_OPREC_OFF_FLAGS];
        const uint32_t allowed = (k == TT_PLAN_OP_WEIGHT_GRAD || k == TT_PLAN_OP_WEIGHT_GRAD_UPDATE) ? TT_OP_FLAG_COMPACT_INPUT
                                 : k == TT_PLAN_OP_INPUT                                              ? TT_OP_FLAG_STREAMED
                                 : recomputable(k)                                                    ? TT_OP_FLAG_RECOMPUTE
                                                                                                      : 0u;
        if (flags & ~allowed) {
            return TT_PLAN_CHECK_BAD_OP_KIND;
        }
        /* A recomputed forward op runs in the backward, where the masks it rebuilds are used. */
        const uint32_t op_phase = op[TT_PLAN_OPREC_OFF_PHASE];
        const uint32_t want = (flags & TT_OP_FLAG_RECOMPUTE) ? TT_PHASE_BACKWARD : sig->phase;
        if (op_phase != want || op_phase < phase) {
            return TT_PLAN_CHECK_BAD_OP_ORDER;
        }
        phase = op_phase;
        n_input += k == TT_PLAN_OP_INPUT;
        n_loss += k == TT_PLAN_OP_LOSS;
        uint16_t slot[7];
        for (int s = 0; s < 7; s++) {
            slot[s] = tt_pv_u16(op + (s < 4 ? TT_PLAN_OPREC_OFF_INS + 2u * (uint32_t)s
                                             : TT_PLAN_OPREC_OFF_OUTS + 2u * (uint32_t)(s - 4)));
        }
        for (int s = 0; s < 7; s++) {
            const uint8_t role = s < 4 ? sig->ins[s] : sig->outs[s - 4];
            if (role == 0 && slot[s] != TT_PLAN_NONE16) {
                return TT_PLAN_CHECK_BAD_BUFFER_ID;
            }
        }
        for (int s = 0; s < 7; s++) {
            const uint8_t role = s < 4 ? sig->ins[s] : sig->outs[s - 4];
            if (role == 0) {
                continue;
            }
            if (slot[s] == TT_PLAN_NONE16 && !(role & ROLE_OPTIONAL)) {
                return TT_PLAN_CHECK_BAD_BUFFER_ID;
            }
            if (slot[s] != TT_PLAN_NONE16 && slot[s] >= h->n_buffers) {
                return TT_PLAN_CHECK_BAD_BUFFER_ID;
            }
        }
        const uint16_t scratch = tt_pv_u16(op + TT_PLAN_OPREC_OFF_SCRATCH);
        if (scratch != TT_PLAN_NONE16 && (scratch >= h->n_buffers || buf_dtype(&c, scratch) != TT_DTYPE_BYTES)) {
            return TT_PLAN_CHECK_BAD_BUFFER_ID;
        }
        const uint32_t params = tt_pv_u32(op + TT_PLAN_OPREC_OFF_PARAMS);
        block_t block;
        memset(&block, 0, sizeof block);
        if (sig->params == 0) {
            if (params != TT_PLAN_NONE32) {
                return TT_PLAN_CHECK_BAD_PARAMS;
            }
        } else {
            r = check_block(&c, params, sig->params, &block);
            if (r != OK) {
                return r;
            }
        }
        const int streamed_reader = streamed_at != TT_PLAN_NONE32 && i == streamed_at + 1u &&
                                    k == TT_PLAN_OP_FUSED_BLOCK && slot[0] == h->input_buffer;
        r = check_shapes(&c, k, op, slot, &block, streamed_reader);
        if (r != OK) {
            return r;
        }
        r = check_streamed(i, k, op, slot, h->input_buffer, &streamed_at);
        if (r != OK) {
            return r;
        }
    }
    if (n_input != 1 || n_loss != 1 || (streamed_at != TT_PLAN_NONE32 && streamed_at + 1u == h->n_ops)) {
        return TT_PLAN_CHECK_BAD_OP_ORDER;
    }
    r = check_labels(&c);
    if (r != OK) {
        return r;
    }
    *info = c.h;
    return OK;
}

void tt_plan_layer(const uint8_t *plan, const tt_plan_info_t *info, const uint8_t *weights, uint32_t block,
                   tt_plan_layer_t *out)
{
    const uint8_t *p = plan + info->pool + block;
    out->kind = tt_pv_u16(p + TT_PLAN_BLOCK_OFF_KIND);
    out->flags = tt_pv_u32(p + TT_PLAN_LAYER_OFF_FLAGS);
    out->n = (int32_t)tt_pv_u32(p + TT_PLAN_LAYER_OFF_N_CHANNELS);
    memcpy(&out->geom, p + TT_PLAN_LAYER_OFF_GEOM, sizeof out->geom);
    const int32_t out_c = out->geom.out_c;
    /* The arrays are 4-byte aligned in a 4-byte aligned plan: handed to the kernels in place. */
    const int32_t *a = (const int32_t *)(const void *)(p + TT_PLAN_LAYER_BYTES);
    out->quant.input_zp = tt_pv_i32(p + TT_PLAN_LAYER_OFF_INPUT_ZP);
    out->quant.output_zp = tt_pv_i32(p + TT_PLAN_LAYER_OFF_OUTPUT_ZP);
    out->quant.act_min = tt_pv_i32(p + TT_PLAN_LAYER_OFF_ACT_MIN);
    out->quant.act_max = tt_pv_i32(p + TT_PLAN_LAYER_OFF_ACT_MAX);
    out->quant.multiplier = a;
    out->quant.shift = a + out_c;
    a += 2 * out_c;
    if (out->flags & TT_LAYER_FLAG_GRAD_QUANT) {
        out->grad.multiplier = a;
        out->grad.shift = a + out_c;
        out->grad.scale_multiplier = tt_pv_i32(p + TT_PLAN_LAYER_OFF_GRAD_SCALE_MULTIPLIER);
        out->grad.scale_shift = tt_pv_i32(p + TT_PLAN_LAYER_OFF_GRAD_SCALE_SHIFT);
        a += 2 * out_c;
    }
    if (out->n > 0) {
        out->qas_w.multiplier = a;
        out->qas_w.shift = a + out_c;
        a += 2 * out_c;
    }
    if (out->flags & TT_LAYER_FLAG_BIAS_TRAINED) {
        out->qas_b.multiplier = a;
        out->qas_b.shift = a + out_c;
        a += 2 * out_c;
    }
    out->channels = (const int16_t *)(const void *)a;
    out->weight_step_max_q16 = tt_pv_i32(p + TT_PLAN_LAYER_OFF_WEIGHT_STEP_MAX);
    out->bias_step_max_q16 = (int64_t)tt_pv_i32(p + TT_PLAN_LAYER_OFF_BIAS_STEP_MAX) * ((int64_t)1 << TT_SGD_FRAC_BITS);
    out->weights = (const int8_t *)(weights + tt_pv_u32(p + TT_PLAN_LAYER_OFF_WEIGHTS_OFFSET));
    out->bias = (const int32_t *)(const void *)(weights + tt_pv_u32(p + TT_PLAN_LAYER_OFF_BIAS_OFFSET));
}
