/* The plan loader's checks: a line-by-line port of tt_protocol.plan.validate() (and
 * validate_weights()), same checks, same order, same Check codes, so the corruption corpus
 * that the Python side derives from any plan is rejected here for the same reason.
 *
 * Every length and offset in a blob is untrusted until checked: sums and products of them
 * are formed in 64 bits (saturating where a product of several could overflow even that), so
 * no arithmetic wraps into a range that passes a bounds check. Nothing is read outside the
 * two blobs and nothing is written but the caller's info struct. */
#include <string.h>

#include "plan_check.h"
#include "tt/crc32.h"

enum { ROLE_OPTIONAL = TT_PLAN_SLOT_OPTIONAL, ROLE_DTYPE = 0x7F };

static const tt_plan_signature_t SIGNATURES[TT_PLAN_OP_KIND_MAX + 1] = TT_PLAN_SIGNATURES_INIT;

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

/* The pool block kinds each pooling op runs on (POOL_KIND_OF). */
static int pool_kind_fits(uint32_t k, uint32_t pool_kind)
{
    switch (k) {
    case TT_PLAN_OP_AVGPOOL: return pool_kind == TT_POOL_AVERAGE;
    case TT_PLAN_OP_MEAN: return pool_kind == TT_POOL_MEAN;
    case TT_PLAN_OP_AVGPOOL_BWD_INPUT: return pool_kind == TT_POOL_AVERAGE || pool_kind == TT_POOL_MEAN;
    default: return pool_kind == TT_POOL_MAX; /* MAXPOOL, MAXPOOL_BWD_INPUT */
    }
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
    if (k == TT_PLAN_OP_AVGPOOL || k == TT_PLAN_OP_MEAN || k == TT_PLAN_OP_MAXPOOL || k == TT_PLAN_OP_AVGPOOL_BWD_INPUT ||
        k == TT_PLAN_OP_MAXPOOL_BWD_INPUT) {
        if (!pool_kind_fits(k, p->kind)) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        const uint64_t x = in_numel(p->g), y = out_numel(p->g);
        if (k == TT_PLAN_OP_AVGPOOL_BWD_INPUT || k == TT_PLAN_OP_MAXPOOL_BWD_INPUT) {
            want[0] = 2u * y; want[4] = 2u * x;
            if (k == TT_PLAN_OP_MAXPOOL_BWD_INPUT) {
                want[1] = x;
            }
        } else {
            want[0] = x; want[4] = y; want[5] = (y + 7u) / 8u;
        }
    } else if (k == TT_PLAN_OP_ADD) {
        want[0] = want[1] = want[4] = p->numel;
        want[5] = (p->numel + 7u) / 8u;
    } else if (k == TT_PLAN_OP_MUL) { /* a, b -> y, mask */
        want[0] = want[4] = p->numel;
        want[1] = p->b_numel;
        want[5] = (p->numel + 7u) / 8u;
    } else if (k == TT_PLAN_OP_MUL_BWD_A) { /* dy, b -> da */
        want[0] = want[4] = 2u * (uint64_t)p->numel;
        want[1] = p->b_numel;
    } else if (k == TT_PLAN_OP_MUL_BWD_B) { /* dy, a -> db */
        want[0] = 2u * (uint64_t)p->numel;
        want[1] = p->numel;
        want[4] = 2u * (uint64_t)p->b_numel;
    } else if (k == TT_PLAN_OP_CONCAT) { /* a, b, c, d -> y */
        uint64_t total = 0;
        for (uint32_t i = 0; i < p->n_inputs; i++) {
            want[i] = (uint64_t)p->outer * p->inners[i];
            total += want[i];
        }
        want[4] = total;
    } else if (k == TT_PLAN_OP_PAD) { /* x -> y */
        want[0] = p->pad_x;
        want[4] = p->pad_y;
    } else if (k == TT_PLAN_OP_GRAD_CROP) { /* dy -> dx */
        want[0] = 2u * p->pad_y;
        want[4] = 2u * p->pad_x;
    } else if (k == TT_PLAN_OP_GRAD_SLICE) { /* dy -> dx */
        want[0] = 2u * (uint64_t)p->outer * p->total;
        want[4] = 2u * (uint64_t)p->outer * p->inner;
    } else if (k == TT_PLAN_OP_HARD_SWISH || k == TT_PLAN_OP_REQUANTIZE || k == TT_PLAN_OP_LOGISTIC) {
        want[0] = want[4] = p->numel;
        want[5] = (p->numel + 7u) / 8u;
    } else if (k == TT_PLAN_OP_HARD_SWISH_BWD_INPUT || k == TT_PLAN_OP_LEAKY_RELU_BWD_INPUT ||
               k == TT_PLAN_OP_LOGISTIC_BWD_INPUT) { /* dy, x -> dx */
        want[0] = want[4] = 2u * (uint64_t)p->numel;
        want[1] = p->numel;
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
    if (k == TT_PLAN_OP_CONCAT) { /* inputs given iff below n_inputs */
        for (uint32_t i = 0; i < 4; i++) {
            if ((slot[i] != TT_PLAN_NONE16) != (i < p->n_inputs)) {
                return TT_PLAN_CHECK_BAD_BUFFER_ID;
            }
        }
    }
    /* b is either a buffer (the block's constant then 0) or the block's scalar constant. */
    if ((k == TT_PLAN_OP_MUL || k == TT_PLAN_OP_MUL_BWD_A) &&
        (slot[1] == TT_PLAN_NONE16 ? p->b_numel != 1 : p->constant != 0)) {
        return TT_PLAN_CHECK_BAD_BUFFER_ID;
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
            r = tt_pc_check_block(&c, params, sig->params, &block);
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
