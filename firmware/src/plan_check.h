/* Internal to the plan loader (plan_check.c, plan_check_blocks.c): the state of one check and
 * the decoded parameter blocks the op checks read. */
#ifndef TT_PLAN_CHECK_H
#define TT_PLAN_CHECK_H

#include <stdint.h>

#include "plan_view.h"

#define OK TT_PLAN_CHECK_OK

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
    uint32_t kind; /* LayerKind (LAYER blocks), PoolKind (POOL blocks) */
    uint32_t flags;
    uint32_t n;
    int64_t g[14]; /* in_h in_w in_c out_h out_w out_c kh kw sh sw pt pl pb pr */
    uint32_t numel;     /* ADD, MUL, HARD_SWISH */
    uint32_t b_numel;   /* MUL */
    int32_t constant;   /* MUL */
    uint32_t outer, n_inputs, inners[4]; /* CONCAT */
    uint32_t total, offset, inner;       /* SLICE (outer too) */
    uint64_t pad_x, pad_y;               /* PAD: input and output elements */
    uint32_t n_classes; /* LOSS */
    uint64_t fused_x, fused_y;
} block_t;

enum { IN_H, IN_W, IN_C, OUT_H, OUT_W, OUT_C, KH, KW, SH, SW, PT, PL, PB, PR };

/* a * b, saturated far above any 32-bit size (a product of untrusted counts never wraps). */
static inline uint64_t mul_sat(uint64_t a, uint64_t b)
{
    const uint64_t cap = (uint64_t)1 << 40;
    if (a == 0 || b == 0) {
        return 0;
    }
    return a > cap / b ? cap : a * b;
}

static inline int region_ok(uint64_t offset, uint64_t size, uint64_t limit, uint64_t lower)
{
    return offset % TT_PLAN_ALIGN == 0 && offset >= lower && offset + size <= limit;
}

static inline uint64_t in_numel(const int64_t *g) { return (uint64_t)g[IN_H] * (uint64_t)g[IN_W] * (uint64_t)g[IN_C]; }
static inline uint64_t out_numel(const int64_t *g) { return (uint64_t)g[OUT_H] * (uint64_t)g[OUT_W] * (uint64_t)g[OUT_C]; }

/* _Pool.block(): the parameter block at @p offset of the pool, of type @p want (ParamType), into
 * @p b; OK or the failing check (plan_check_blocks.c). */
uint32_t tt_pc_check_block(const ctx_t *c, uint32_t offset, uint32_t want, block_t *b);

#endif /* TT_PLAN_CHECK_H */
