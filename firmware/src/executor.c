/* The plan executor: load (validate once, run the LOAD ops) and step (a switch over op kinds
 * calling the kernels; no checks). Semantics of every op: SIGNATURES in
 * protocol/tt_protocol/plan.py, reference implementation tt_host.compiler.simulate, which this
 * file matches bit for bit (tests/test_executor.py).
 *
 * A layer's forward and input gradient go through its wrapper (tt/kernels/layer.h), which
 * picks the kernel variant (plain, in place, overlay, merged) and sizes its scratch; the load
 * check asks the same size function. Where the plan's buffers are not enough for an update op
 * (the compact input of a depthwise weight gradient, the int32 bias gradient of a fused bias
 * update, an identity channel list for a compact slice, gathered channels) the executor takes
 * it from the start of the op's own scratch buffer, tt_executor_temp_size() bytes: the compiler
 * plans those bytes like any other scratch, so the plan's arena is all the executor uses. */
#include "tt/executor.h"

#include <stdint.h>
#include <string.h>

#include "plan_view.h"
#include "tt/kernels/kernels.h"

typedef struct {
    uint32_t kind;
    uint32_t flags;
    uint16_t scratch;
    uint16_t slot[7]; /* ins 0..3, outs 4..6 */
    uint32_t params;
} op_t;

enum { X = 0, OUT = 4 };

static void read_op(const uint8_t *plan, uint32_t op_table, uint32_t i, op_t *op)
{
    const uint8_t *p = plan + op_table + i * TT_PLAN_OPREC_BYTES;
    op->kind = p[TT_PLAN_OPREC_OFF_KIND];
    op->flags = p[TT_PLAN_OPREC_OFF_FLAGS];
    op->scratch = tt_pv_u16(p + TT_PLAN_OPREC_OFF_SCRATCH);
    for (uint32_t s = 0; s < 7; s++) {
        op->slot[s] = tt_pv_u16(p + (s < 4 ? TT_PLAN_OPREC_OFF_INS + 2u * s : TT_PLAN_OPREC_OFF_OUTS + 2u * (s - 4u)));
    }
    op->params = tt_pv_u32(p + TT_PLAN_OPREC_OFF_PARAMS);
}

static uint32_t buf_offset(const uint8_t *plan, uint32_t table, uint32_t id)
{
    return tt_pv_u32(plan + table + id * TT_PLAN_BUFFER_BYTES + TT_PLAN_BUFFER_OFF_OFFSET);
}

static uint32_t buf_size(const uint8_t *plan, uint32_t table, uint32_t id)
{
    return tt_pv_u32(plan + table + id * TT_PLAN_BUFFER_BYTES + TT_PLAN_BUFFER_OFF_SIZE);
}

/* -- load-time checks of what only the C side knows ---------------------------------------- */

static int is_fwd(uint32_t k)
{
    return k == TT_PLAN_OP_CONV2D || k == TT_PLAN_OP_PW_CONV2D || k == TT_PLAN_OP_DW_CONV2D || k == TT_PLAN_OP_FC;
}

static int is_bwd_input(uint32_t k)
{
    return k == TT_PLAN_OP_CONV2D_BWD_INPUT || k == TT_PLAN_OP_PW_CONV2D_BWD_INPUT ||
           k == TT_PLAN_OP_DW_CONV2D_BWD_INPUT || k == TT_PLAN_OP_FC_BWD_INPUT;
}

static int uses_layer(uint32_t k)
{
    return is_fwd(k) || is_bwd_input(k) || k == TT_PLAN_OP_LOAD_WEIGHTS || k == TT_PLAN_OP_LOAD_BIAS ||
           k == TT_PLAN_OP_SAVE || (k >= TT_PLAN_OP_BIAS_GRAD && k <= TT_PLAN_OP_WEIGHT_GRAD_UPDATE);
}

/* Does slot s of this op carry a gradient exponent (read or written)? */
static int has_exponent(uint32_t k, uint32_t s, uint8_t dtype)
{
    if (dtype == TT_DTYPE_INT16) {
        return 1;
    }
    return (s == 4 && (k == TT_PLAN_OP_BIAS_GRAD || k == TT_PLAN_OP_WEIGHT_GRAD)) ||
           (s == 0 && (k == TT_PLAN_OP_BIAS_UPDATE || k == TT_PLAN_OP_WEIGHT_UPDATE));
}

/* The input slot an op is required to update in place (same buffer id), or -1. */
static int in_place_slot(uint32_t k)
{
    switch (k) {
    case TT_PLAN_OP_MASK_BWD:
    case TT_PLAN_OP_GRAD_ADD:
    case TT_PLAN_OP_BIAS_UPDATE:
    case TT_PLAN_OP_WEIGHT_UPDATE:
    case TT_PLAN_OP_BIAS_GRAD_UPDATE: return 1;
    case TT_PLAN_OP_WEIGHT_GRAD_UPDATE: return 2;
    default: return -1;
    }
}

static tt_irb_geom_t irb_geom(const tt_plan_layer_t *pw1, const tt_plan_layer_t *dw, const tt_plan_layer_t *pw2,
                              int residual)
{
    tt_irb_geom_t g;
    memset(&g, 0, sizeof g);
    if (pw1 != 0) {
        g.expand = pw1->geom;
        g.has_expand = 1;
    }
    g.dw = dw->geom;
    g.out_c = pw2->geom.out_c;
    g.residual = residual;
    return g;
}

/* Fixed-point parameters in the ranges the kernels' arithmetic is defined for (TFLite's normal
 * form, which the compiler emits): validate() leaves their values to the kernels. */
static int multiplier_ok(int32_t m) { return m == 0 || m >= (1 << 30); }

static int layer_quant_ok(const tt_plan_layer_t *l)
{
    const int32_t out_c = l->geom.out_c;
    for (int32_t o = 0; o < out_c; o++) {
        if (!multiplier_ok(l->quant.multiplier[o])) {
            return 0;
        }
        if ((l->flags & TT_LAYER_FLAG_GRAD_QUANT) && !multiplier_ok(l->grad.multiplier[o])) {
            return 0;
        }
        /* QAS exponents enter a sum of exponents in tt_sgd_step_q16(): keep it far from overflow. */
        if (l->n > 0 && (l->qas_w.shift[o] < -64 || l->qas_w.shift[o] > 64)) {
            return 0;
        }
        if ((l->flags & TT_LAYER_FLAG_BIAS_TRAINED) && (l->qas_b.shift[o] < -64 || l->qas_b.shift[o] > 64)) {
            return 0;
        }
    }
    return !(l->flags & TT_LAYER_FLAG_GRAD_QUANT) || l->grad.scale_multiplier >= (1 << 30);
}

/* TFLite's int8 ADD: inputs shifted left by 20, rescaled by factors below one, so every
 * intermediate stays inside int32. */
static int add_quant_ok(const tt_add_quant_t *q)
{
    return q->left_shift >= 0 && q->left_shift <= 20 && multiplier_ok(q->input1_multiplier) &&
           multiplier_ok(q->input2_multiplier) && multiplier_ok(q->output_multiplier) && q->input1_shift >= -31 &&
           q->input1_shift <= 0 && q->input2_shift >= -31 && q->input2_shift <= 0 && q->output_shift >= -31 &&
           q->output_shift <= 0;
}

static void read_add_quant(const uint8_t *p, tt_add_quant_t *q);

typedef struct {
    const uint8_t *plan;
    const uint8_t *weights;
    const tt_plan_info_t *info;
} layout_t;

/* tt_executor_temp_size() in 64 bits (a hostile geometry cannot wrap it into a small size). */
static uint64_t temp_bytes(uint32_t k, uint32_t flags, uint32_t kind, const tt_conv_geom_t *g, int32_t n, int whole)
{
    const uint64_t pixels = (uint64_t)(uint32_t)g->in_h * (uint32_t)g->in_w;
    const uint64_t un = (uint32_t)n, identity = (2u * un + 3u) & ~(uint64_t)3;
    const int compact = (flags & TT_OP_FLAG_COMPACT_INPUT) != 0;
    uint64_t t = 0;
    if (k == TT_PLAN_OP_WEIGHT_GRAD && compact) {
        /* depthwise: the compact copy expanded to every channel; else the identity list */
        t = kind == TT_LAYER_DW_CONV2D ? pixels * (uint32_t)g->in_c : identity;
    } else if (k == TT_PLAN_OP_WEIGHT_UPDATE) {
        t = identity + (kind == TT_LAYER_DW_CONV2D ? 8u * un : 0u); /* + the sliced QAS table */
    } else if (k == TT_PLAN_OP_WEIGHT_GRAD_UPDATE) {
        t = !compact && !whole ? pixels * un : 0u; /* the trained channels gathered */
    } else if (k == TT_PLAN_OP_BIAS_GRAD_UPDATE) {
        t = 4u * (uint64_t)(uint32_t)g->out_c; /* the int32 bias gradient */
    }
    return (t + 3u) & ~(uint64_t)3;
}

uint32_t tt_executor_temp_size(uint32_t op_kind, uint32_t op_flags, uint32_t layer_kind, const tt_conv_geom_t *geom,
                               int32_t n_channels, int32_t whole_slice)
{
    const uint64_t t = temp_bytes(op_kind, op_flags, layer_kind, geom, n_channels, whole_slice != 0);
    return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static void fused_layers(const layout_t *L, uint32_t block, tt_plan_layer_t *pw1, tt_plan_layer_t *dw,
                         tt_plan_layer_t *pw2, int *has_pw1, uint32_t *add, uint32_t *residual)
{
    const uint8_t *p = L->plan + L->info->pool + block;
    const uint32_t pw1_at = tt_pv_u32(p + TT_PLAN_FUSED_OFF_PW1);
    *has_pw1 = pw1_at != TT_PLAN_NONE32;
    if (*has_pw1) {
        tt_plan_layer(L->plan, L->info, L->weights, pw1_at, pw1);
    }
    tt_plan_layer(L->plan, L->info, L->weights, tt_pv_u32(p + TT_PLAN_FUSED_OFF_DW), dw);
    tt_plan_layer(L->plan, L->info, L->weights, tt_pv_u32(p + TT_PLAN_FUSED_OFF_PW2), pw2);
    *add = tt_pv_u32(p + TT_PLAN_FUSED_OFF_ADD);
    *residual = tt_pv_u32(p + TT_PLAN_FUSED_OFF_RESIDUAL_INPUT);
}

/* The weights a layer's forward or input-gradient op reads: the factory tensor, plus the
 * trained slice when the op has one (slot 1; @p slice its bytes, NULL while only checking). */
static tt_weights_view_t weights_view(const tt_plan_layer_t *l, int has_slice, const int8_t *slice)
{
    tt_weights_view_t w = {l->weights, slice, l->channels, 0, 0};
    if (has_slice && l->n > 0) {
        w.n_channels = l->n;
        w.whole = tt_plan_slice_is_whole(l);
    }
    return w;
}

/* The layer wrapper's scratch for a forward or input-gradient op (tt/kernels/layer.h). */
static uint32_t layer_scratch_size(uint32_t k, const tt_plan_layer_t *l, const tt_weights_view_t *w, int in_place)
{
    const tt_fc_geom_t fc = {l->geom.in_c, l->geom.out_c};
    switch (k) {
    case TT_PLAN_OP_CONV2D: return tt_conv2d_fwd_wrapper_s8_scratch_size(&l->geom, w, in_place);
    case TT_PLAN_OP_PW_CONV2D: return tt_pw_conv2d_fwd_wrapper_s8_scratch_size(&l->geom, w, in_place);
    case TT_PLAN_OP_DW_CONV2D: return tt_dw_conv2d_fwd_wrapper_s8_scratch_size(&l->geom, w, in_place);
    case TT_PLAN_OP_FC: return tt_fc_fwd_wrapper_s8_scratch_size(&fc, w, in_place);
    case TT_PLAN_OP_CONV2D_BWD_INPUT: return tt_conv2d_bwd_input_wrapper_s16_scratch_size(&l->geom, w, in_place);
    case TT_PLAN_OP_PW_CONV2D_BWD_INPUT: return tt_pw_conv2d_bwd_input_wrapper_s16_scratch_size(&l->geom, w, in_place);
    case TT_PLAN_OP_DW_CONV2D_BWD_INPUT: return tt_dw_conv2d_bwd_input_wrapper_s16_scratch_size(&l->geom, w, in_place);
    default: return tt_fc_bwd_input_wrapper_s16_scratch_size(&fc, w, in_place); /* TT_PLAN_OP_FC_BWD_INPUT */
    }
}

/* Checks of one step op beyond validate(). */
static uint32_t check_op(const layout_t *L, const op_t *op)
{
    const uint8_t *plan = L->plan;
    const tt_plan_info_t *h = L->info;
    const uint32_t k = op->kind, table = h->buffer_table;
    static const tt_plan_signature_t SIGNATURES[TT_PLAN_OP_KIND_MAX + 1] = TT_PLAN_SIGNATURES_INIT;
    const tt_plan_signature_t *sig = &SIGNATURES[k];

    /* Every gradient slot has an exponent slot (the exponent table is indexed by buffer id). */
    for (uint32_t s = 0; s < 7; s++) {
        const uint8_t role = s < 4 ? sig->ins[s] : sig->outs[s - 4];
        if (role != 0 && op->slot[s] != TT_PLAN_NONE16 && has_exponent(k, s, role & 0x7Fu) &&
            op->slot[s] >= h->n_exp_slots) {
            return TT_PLAN_CHECK_BAD_SHAPE;
        }
    }

    tt_plan_layer_t l;
    memset(&l, 0, sizeof l);
    int whole_slice = 0;
    if (uses_layer(k)) {
        tt_plan_layer(plan, h, L->weights, op->params, &l);
        if (!layer_quant_ok(&l)) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        whole_slice = l.n > 0 && tt_plan_slice_is_whole(&l);
    }
    const int has_w = op->slot[1] != TT_PLAN_NONE16;
    const int same_offset = op->slot[X] != TT_PLAN_NONE16 && op->slot[OUT] != TT_PLAN_NONE16 &&
                            buf_offset(plan, table, op->slot[OUT]) == buf_offset(plan, table, op->slot[X]);

    /* Writing over an input: only where a variant is built for it (the layer wrapper says). */
    uint32_t scratch = 0;
    int in_place_kernel = 0;
    if (is_fwd(k) || is_bwd_input(k)) {
        const tt_weights_view_t w = weights_view(&l, has_w, 0);
        const uint32_t aliased = same_offset ? layer_scratch_size(k, &l, &w, 1) : TT_SCRATCH_UNSUPPORTED;
        in_place_kernel = aliased != TT_SCRATCH_UNSUPPORTED;
        scratch = in_place_kernel ? aliased : layer_scratch_size(k, &l, &w, 0);
        if (scratch == TT_SCRATCH_UNSUPPORTED) { /* a geometry whose scratch does not fit 32 bits */
            return TT_PLAN_CHECK_BAD_SHAPE;
        }
    }
    if (k == TT_PLAN_OP_FUSED_BLOCK) {
        tt_plan_layer_t pw1, dw, pw2;
        int has_pw1;
        uint32_t add, residual;
        fused_layers(L, op->params, &pw1, &dw, &pw2, &has_pw1, &add, &residual);
        const tt_irb_geom_t g = irb_geom(has_pw1 ? &pw1 : 0, &dw, &pw2, add != TT_PLAN_NONE32);
        const tt_conv_geom_t *p2 = &pw2.geom;
        tt_add_quant_t q;
        if (add != TT_PLAN_NONE32) {
            read_add_quant(plan + h->pool + add, &q);
        }
        if ((has_pw1 && !layer_quant_ok(&pw1)) || !layer_quant_ok(&dw) || !layer_quant_ok(&pw2) ||
            (add != TT_PLAN_NONE32 && !add_quant_ok(&q))) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        if (!tt_irb_geom_check(&g) || p2->in_h != dw.geom.out_h || p2->in_w != dw.geom.out_w ||
            p2->in_c != dw.geom.out_c || p2->out_h != p2->in_h || p2->out_w != p2->in_w) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
        in_place_kernel = same_offset && tt_irb_fwd_s8_can_alias(&g);
        scratch = tt_irb_fwd_s8_scratch_size(&g);
    }
    if (k == TT_PLAN_OP_ADD) {
        tt_add_quant_t q;
        read_add_quant(plan + h->pool + op->params, &q);
        if (!add_quant_ok(&q)) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
    }
    const int elementwise = k == TT_PLAN_OP_ADD || k == TT_PLAN_OP_GRAD_ADD || k == TT_PLAN_OP_GRAD_COPY ||
                            k == TT_PLAN_OP_MASK_BWD;
    const int mandated = in_place_slot(k);
    for (uint32_t o = 4; o < 7; o++) {
        if (op->slot[o] == TT_PLAN_NONE16) {
            continue;
        }
        const uint32_t oa = buf_offset(plan, table, op->slot[o]), on = buf_size(plan, table, op->slot[o]);
        for (uint32_t s = 0; s < 8; s++) {
            const uint16_t id = s < 7 ? op->slot[s] : op->scratch;
            if (id == TT_PLAN_NONE16 || s == o) {
                continue;
            }
            const uint32_t ia = buf_offset(plan, table, id), in = buf_size(plan, table, id);
            if (ia >= oa + on || oa >= ia + in) {
                continue;
            }
            const int exact = ia == oa && in == on;
            if ((o == 4 && (int)s == mandated && id == op->slot[4]) || (s == X && o == 4 && in_place_kernel) ||
                (s < 4 && o == 4 && elementwise && exact)) {
                continue;
            }
            return TT_PLAN_CHECK_BAD_BUFFER_ID;
        }
    }
    if (op->scratch != TT_PLAN_NONE16) { /* scratch vs inputs (outputs were checked above) */
        const uint32_t sa = buf_offset(plan, table, op->scratch), sn = buf_size(plan, table, op->scratch);
        for (uint32_t s = 0; s < 4; s++) {
            if (op->slot[s] == TT_PLAN_NONE16) {
                continue;
            }
            const uint32_t ia = buf_offset(plan, table, op->slot[s]), in = buf_size(plan, table, op->slot[s]);
            if (!(ia >= sa + sn || sa >= ia + in)) {
                return TT_PLAN_CHECK_BAD_BUFFER_ID;
            }
        }
    }

    /* The op's scratch buffer holds the executor's temporaries, then the kernel's scratch. */
    const uint64_t need = (uses_layer(k) ? temp_bytes(k, op->flags, l.kind, &l.geom, l.n, whole_slice) : 0u) + scratch;
    if (need > 0 && (op->scratch == TT_PLAN_NONE16 || buf_size(plan, table, op->scratch) < need)) {
        return TT_PLAN_CHECK_BAD_SHAPE;
    }
    return TT_PLAN_CHECK_OK;
}

/* -- step ------------------------------------------------------------------------------------- */

static uint8_t *buf(const tt_executor_t *ex, uint16_t id)
{
    return ex->arena + buf_offset(ex->plan, ex->buffer_table, id);
}

static uint32_t size_of(const tt_executor_t *ex, uint16_t id) { return buf_size(ex->plan, ex->buffer_table, id); }

static int32_t *exp_of(const tt_executor_t *ex, uint16_t id)
{
    return (int32_t *)(void *)(ex->arena + ex->exp_table) + id;
}

/* The executor's temporaries of an op: the start of its scratch buffer (see temp_bytes()). */
static uint8_t *temp_region(const tt_executor_t *ex, const op_t *op) { return buf(ex, op->scratch); }

/* 0, 1, ..., n-1 at the start of the op's temporaries: the channel list of a compact input. */
static const int16_t *identity_list(const tt_executor_t *ex, const op_t *op, int32_t n)
{
    int16_t *list = (int16_t *)(void *)temp_region(ex, op);
    for (int32_t j = 0; j < n; j++) {
        list[j] = (int16_t)j;
    }
    return list;
}

static tt_plan_info_t info_of(const tt_executor_t *ex)
{
    tt_plan_info_t h;
    memset(&h, 0, sizeof h);
    h.pool = ex->pool;
    return h;
}

static void layer_of(const tt_executor_t *ex, uint32_t block, tt_plan_layer_t *l)
{
    const tt_plan_info_t h = info_of(ex);
    tt_plan_layer(ex->plan, &h, ex->weights, block, l);
}

/* The kernel's scratch: the op's whole scratch buffer (ops that call a kernel with scratch keep
 * no executor temporaries). */
static tt_kernel_ctx_t scratch_of(const tt_executor_t *ex, const op_t *op)
{
    tt_kernel_ctx_t ctx = {0, 0};
    if (op->scratch != TT_PLAN_NONE16) {
        ctx.buf = buf(ex, op->scratch);
        ctx.size = size_of(ex, op->scratch);
    }
    return ctx;
}

static void pack_mask(const tt_executor_t *ex, const op_t *op, uint32_t numel, int32_t act_min, int32_t act_max)
{
    if (op->slot[5] != TT_PLAN_NONE16) {
        tt_mask_pack_s8((int32_t)numel, act_min, act_max, (const int8_t *)buf(ex, op->slot[4]), buf(ex, op->slot[5]));
    }
}

static tt_weights_view_t weights_of(const tt_executor_t *ex, const op_t *op, const tt_plan_layer_t *l)
{
    const int has_slice = op->slot[1] != TT_PLAN_NONE16;
    return weights_view(l, has_slice, has_slice ? (const int8_t *)buf(ex, op->slot[1]) : 0);
}

static void layer_forward(const tt_executor_t *ex, const op_t *op, const tt_plan_layer_t *l)
{
    const tt_kernel_ctx_t ctx = scratch_of(ex, op);
    const int8_t *x = (const int8_t *)buf(ex, op->slot[0]);
    int8_t *y = (int8_t *)buf(ex, op->slot[4]);
    const int32_t *bias = op->slot[2] != TT_PLAN_NONE16 ? (const int32_t *)(void *)buf(ex, op->slot[2]) : l->bias;
    const tt_weights_view_t w = weights_of(ex, op, l);
    const tt_fc_geom_t fc = {l->geom.in_c, l->geom.out_c};
    switch (op->kind) {
    case TT_PLAN_OP_CONV2D: tt_conv2d_fwd_wrapper_s8(&ctx, &l->geom, &l->quant, x, &w, bias, y); break;
    case TT_PLAN_OP_PW_CONV2D: tt_pw_conv2d_fwd_wrapper_s8(&ctx, &l->geom, &l->quant, x, &w, bias, y); break;
    case TT_PLAN_OP_DW_CONV2D: tt_dw_conv2d_fwd_wrapper_s8(&ctx, &l->geom, &l->quant, x, &w, bias, y); break;
    default: tt_fc_fwd_wrapper_s8(&ctx, &fc, &l->quant, x, &w, bias, y); break; /* TT_PLAN_OP_FC */
    }
    pack_mask(ex, op, size_of(ex, op->slot[4]), l->quant.act_min, l->quant.act_max);
}

static void read_add_quant(const uint8_t *p, tt_add_quant_t *q)
{
    q->input1_zp = tt_pv_i32(p + TT_PLAN_ADD_OFF_INPUT1_ZP);
    q->input2_zp = tt_pv_i32(p + TT_PLAN_ADD_OFF_INPUT2_ZP);
    q->output_zp = tt_pv_i32(p + TT_PLAN_ADD_OFF_OUTPUT_ZP);
    q->left_shift = tt_pv_i32(p + TT_PLAN_ADD_OFF_LEFT_SHIFT);
    q->input1_multiplier = tt_pv_i32(p + TT_PLAN_ADD_OFF_INPUT1_MULTIPLIER);
    q->input1_shift = tt_pv_i32(p + TT_PLAN_ADD_OFF_INPUT1_SHIFT);
    q->input2_multiplier = tt_pv_i32(p + TT_PLAN_ADD_OFF_INPUT2_MULTIPLIER);
    q->input2_shift = tt_pv_i32(p + TT_PLAN_ADD_OFF_INPUT2_SHIFT);
    q->output_multiplier = tt_pv_i32(p + TT_PLAN_ADD_OFF_OUTPUT_MULTIPLIER);
    q->output_shift = tt_pv_i32(p + TT_PLAN_ADD_OFF_OUTPUT_SHIFT);
    q->act_min = tt_pv_i32(p + TT_PLAN_ADD_OFF_ACT_MIN);
    q->act_max = tt_pv_i32(p + TT_PLAN_ADD_OFF_ACT_MAX);
}

/* A FUSED_BLOCK op's kernel arguments, read from its parameter blocks. */
typedef struct {
    tt_irb_geom_t g;
    tt_irb_quant_t q;
    tt_irb_weights_t w;
} fused_args_t;

static void fused_args(const uint8_t *plan, const uint8_t *weights, const tt_plan_info_t *h, uint32_t params,
                       fused_args_t *a)
{
    const layout_t L = {plan, weights, h};
    tt_plan_layer_t pw1, dw, pw2;
    int has_pw1;
    uint32_t add, residual;
    fused_layers(&L, params, &pw1, &dw, &pw2, &has_pw1, &add, &residual);
    a->g = irb_geom(has_pw1 ? &pw1 : 0, &dw, &pw2, add != TT_PLAN_NONE32);
    memset(&a->q, 0, sizeof a->q);
    if (has_pw1) {
        a->q.pw1 = pw1.quant;
    }
    a->q.dw = dw.quant;
    a->q.pw2 = pw2.quant;
    if (add != TT_PLAN_NONE32) {
        read_add_quant(plan + h->pool + add, &a->q.add);
        if (residual == 2) { /* the kernel's input1 is the block input: swap the two inputs' fields */
            const tt_add_quant_t q = a->q.add;
            a->q.add.input1_zp = q.input2_zp;
            a->q.add.input2_zp = q.input1_zp;
            a->q.add.input1_multiplier = q.input2_multiplier;
            a->q.add.input2_multiplier = q.input1_multiplier;
            a->q.add.input1_shift = q.input2_shift;
            a->q.add.input2_shift = q.input1_shift;
        }
    }
    const tt_irb_weights_t w = {has_pw1 ? pw1.weights : 0, has_pw1 ? pw1.bias : 0, dw.weights, dw.bias,
                                pw2.weights, pw2.bias};
    a->w = w;
}

static void fused_block(const tt_executor_t *ex, const op_t *op)
{
    const tt_plan_info_t h = info_of(ex);
    fused_args_t a;
    fused_args(ex->plan, ex->weights, &h, op->params, &a);
    const tt_kernel_ctx_t ctx = scratch_of(ex, op);
    tt_irb_fwd_s8(&ctx, &a.g, &a.q, (const int8_t *)buf(ex, op->slot[0]), &a.w, (int8_t *)buf(ex, op->slot[4]));
}

static void bwd_input(const tt_executor_t *ex, const op_t *op, const tt_plan_layer_t *l)
{
    const tt_kernel_ctx_t ctx = scratch_of(ex, op);
    const int16_t *dy = (const int16_t *)(void *)buf(ex, op->slot[0]);
    const int32_t dy_exp = *exp_of(ex, op->slot[0]);
    int16_t *dx = (int16_t *)(void *)buf(ex, op->slot[4]);
    int32_t *dx_exp = exp_of(ex, op->slot[4]);
    const tt_weights_view_t w = weights_of(ex, op, l);
    const tt_fc_geom_t fc = {l->geom.in_c, l->geom.out_c};
    const tt_grad_quant_t *q = &l->grad;
    switch (op->kind) {
    case TT_PLAN_OP_CONV2D_BWD_INPUT: tt_conv2d_bwd_input_wrapper_s16(&ctx, &l->geom, q, dy, dy_exp, &w, dx, dx_exp); break;
    case TT_PLAN_OP_PW_CONV2D_BWD_INPUT:
        tt_pw_conv2d_bwd_input_wrapper_s16(&ctx, &l->geom, q, dy, dy_exp, &w, dx, dx_exp);
        break;
    case TT_PLAN_OP_DW_CONV2D_BWD_INPUT:
        tt_dw_conv2d_bwd_input_wrapper_s16(&ctx, &l->geom, q, dy, dy_exp, &w, dx, dx_exp);
        break;
    default: tt_fc_bwd_input_wrapper_s16(&ctx, &fc, q, dy, dy_exp, &w, dx, dx_exp); break; /* TT_PLAN_OP_FC_BWD_INPUT */
    }
}

static void weight_grad(const tt_executor_t *ex, const op_t *op, const tt_plan_layer_t *l)
{
    const int16_t *dy = (const int16_t *)(void *)buf(ex, op->slot[0]);
    const int32_t dy_exp = *exp_of(ex, op->slot[0]);
    const int8_t *x = (const int8_t *)buf(ex, op->slot[1]);
    int32_t *dw = (int32_t *)(void *)buf(ex, op->slot[4]);
    int32_t *dw_exp = exp_of(ex, op->slot[4]);
    const int32_t zp = l->quant.input_zp;
    tt_conv_geom_t g = l->geom;
    const int16_t *channels = l->channels;
    if (op->flags & TT_OP_FLAG_COMPACT_INPUT) {
        if (l->kind == TT_LAYER_DW_CONV2D) {
            /* The depthwise kernel indexes its input with dY's channel stride: expand the compact
             * copy (unlisted channels hold the zero point, which it never reads). */
            const int32_t pixels = g.in_h * g.in_w;
            int8_t *full = (int8_t *)temp_region(ex, op);
            memset(full, (int)(int8_t)zp, (size_t)(pixels * g.in_c));
            for (int32_t p = 0; p < pixels; p++) {
                for (int32_t j = 0; j < l->n; j++) {
                    full[p * g.in_c + channels[j]] = x[p * l->n + j];
                }
            }
            x = full;
        } else { /* the compact copy is an input of n channels listed in order */
            g.in_c = l->n;
            channels = identity_list(ex, op, l->n);
        }
    }
    switch (l->kind) {
    case TT_LAYER_CONV2D: tt_conv2d_bwd_weight_s16(&g, zp, channels, l->n, x, dy, dy_exp, dw, dw_exp); break;
    case TT_LAYER_PW_CONV2D: tt_pw_conv2d_bwd_weight_s16(&g, zp, channels, l->n, x, dy, dy_exp, dw, dw_exp); break;
    case TT_LAYER_DW_CONV2D: tt_dw_conv2d_bwd_weight_s16(&g, zp, channels, l->n, x, dy, dy_exp, dw, dw_exp); break;
    default: {
        const tt_fc_geom_t fc = {g.in_c, g.out_c};
        tt_fc_bwd_weight_s16(&fc, zp, channels, l->n, x, dy, dy_exp, dw, dw_exp);
        break;
    }
    }
}

/* The step of one parameter tensor: its layer's rate (the head's or the plan's) at this step's
 * scale, its own bound. */
static tt_sgd_t sgd_of(const tt_executor_t *ex, const tt_plan_layer_t *l, int bias)
{
    tt_sgd_t sgd = (l->flags & TT_LAYER_FLAG_HEAD) ? ex->head_step_sgd : ex->step_sgd;
    sgd.step_max_q16 = bias ? l->bias_step_max_q16 : l->weight_step_max_q16;
    return sgd;
}

static void weight_update(tt_executor_t *ex, const op_t *op, const tt_plan_layer_t *l)
{
    const int depthwise = l->kind == TT_LAYER_DW_CONV2D;
    const tt_weight_slice_t slice = {l->geom.out_c, l->geom.kernel_h * l->geom.kernel_w, l->n,
                                     identity_list(ex, op, l->n), l->n, depthwise};
    tt_qas_t qas = l->qas_w;
    if (depthwise) { /* compact slice: element j moves by the factor of channel channels[j] */
        int32_t *mult = (int32_t *)(void *)(temp_region(ex, op) + tt_pv_align4(2u * (uint32_t)l->n));
        int32_t *shift = mult + l->n;
        for (int32_t j = 0; j < l->n; j++) {
            mult[j] = l->qas_w.multiplier[l->channels[j]];
            shift[j] = l->qas_w.shift[l->channels[j]];
        }
        qas.multiplier = mult;
        qas.shift = shift;
    }
    const tt_sgd_t sgd = sgd_of(ex, l, 0);
    tt_sgd_update_s8(&slice, &sgd, &qas, (const int32_t *)(void *)buf(ex, op->slot[0]), *exp_of(ex, op->slot[0]),
                     &ex->rng, 0, (int8_t *)buf(ex, op->slot[4]));
}

static void weight_grad_update(tt_executor_t *ex, const op_t *op, const tt_plan_layer_t *l)
{
    const int16_t *dy = (const int16_t *)(void *)buf(ex, op->slot[0]);
    const int32_t dy_exp = *exp_of(ex, op->slot[0]);
    const int8_t *x = (const int8_t *)buf(ex, op->slot[1]);
    int8_t *w = (int8_t *)buf(ex, op->slot[4]);
    const int32_t zp = l->quant.input_zp;
    const tt_sgd_t sgd = sgd_of(ex, l, 0);
    if (!(op->flags & TT_OP_FLAG_COMPACT_INPUT) && !tt_plan_slice_is_whole(l)) {
        int8_t *kept = (int8_t *)temp_region(ex, op);
        tt_gather_channels_s8(l->geom.in_h * l->geom.in_w, l->geom.in_c, l->channels, l->n, x, kept);
        x = kept;
    }
    switch (l->kind) {
    case TT_LAYER_CONV2D:
        tt_conv2d_bwd_weight_update_s8(&l->geom, zp, l->n, x, dy, dy_exp, &sgd, &l->qas_w, &ex->rng, 0, w);
        break;
    case TT_LAYER_PW_CONV2D:
        tt_pw_conv2d_bwd_weight_update_s8(&l->geom, zp, l->n, x, dy, dy_exp, &sgd, &l->qas_w, &ex->rng, 0, w);
        break;
    case TT_LAYER_DW_CONV2D:
        tt_dw_conv2d_bwd_weight_update_s8(&l->geom, zp, l->channels, l->n, x, dy, dy_exp, &sgd, &l->qas_w,
                                          &ex->rng, 0, w);
        break;
    default: {
        const tt_fc_geom_t fc = {l->geom.in_c, l->geom.out_c};
        tt_fc_bwd_weight_update_s8(&fc, zp, l->n, x, dy, dy_exp, &sgd, &l->qas_w, &ex->rng, 0, w);
        break;
    }
    }
}

static void run_op(tt_executor_t *ex, const op_t *op, uint32_t label, tt_step_result_t *result)
{
    tt_plan_layer_t l;
    if (uses_layer(op->kind)) {
        layer_of(ex, op->params, &l);
    }
    const uint8_t *block = ex->plan + ex->pool + op->params; /* valid only for ops with a block */
    const uint16_t *s = op->slot;
    switch (op->kind) {
    case TT_PLAN_OP_LOAD_WEIGHTS: {
        const int32_t rows = l.kind == TT_LAYER_DW_CONV2D ? l.geom.kernel_h * l.geom.kernel_w
                                                         : l.geom.out_c * l.geom.kernel_h * l.geom.kernel_w;
        tt_gather_channels_s8(rows, l.geom.in_c, l.channels, l.n, l.weights, (int8_t *)buf(ex, s[4]));
        break;
    }
    case TT_PLAN_OP_LOAD_BIAS: memcpy(buf(ex, s[4]), l.bias, 4u * (uint32_t)l.geom.out_c); break;
    case TT_PLAN_OP_INPUT: break; /* the caller wrote the sample there (tt_executor_input()) */
    case TT_PLAN_OP_CONV2D:
    case TT_PLAN_OP_PW_CONV2D:
    case TT_PLAN_OP_DW_CONV2D:
    case TT_PLAN_OP_FC: layer_forward(ex, op, &l); break;
    case TT_PLAN_OP_ADD: {
        tt_add_quant_t q;
        read_add_quant(block, &q);
        const uint32_t numel = tt_pv_u32(block + TT_PLAN_ADD_OFF_NUMEL);
        tt_add_fwd_s8((int32_t)numel, &q, (const int8_t *)buf(ex, s[0]), (const int8_t *)buf(ex, s[1]),
                      (int8_t *)buf(ex, s[4]));
        pack_mask(ex, op, numel, q.act_min, q.act_max);
        break;
    }
    case TT_PLAN_OP_AVGPOOL: {
        tt_conv_geom_t g;
        memcpy(&g, block + TT_PLAN_POOL_OFF_GEOM, sizeof g);
        const tt_pool_quant_t q = {tt_pv_i32(block + TT_PLAN_POOL_OFF_ACT_MIN), tt_pv_i32(block + TT_PLAN_POOL_OFF_ACT_MAX)};
        tt_avgpool_fwd_s8(&g, &q, (const int8_t *)buf(ex, s[0]), (int8_t *)buf(ex, s[4]));
        pack_mask(ex, op, size_of(ex, s[4]), q.act_min, q.act_max);
        break;
    }
    case TT_PLAN_OP_SAVE:
        tt_gather_channels_s8(l.geom.in_h * l.geom.in_w, l.geom.in_c, l.channels, l.n, (const int8_t *)buf(ex, s[0]),
                              (int8_t *)buf(ex, s[4]));
        break;
    case TT_PLAN_OP_FUSED_BLOCK: fused_block(ex, op); break;
    case TT_PLAN_OP_LOSS: {
        tt_logit_quant_t q;
        const uint32_t bits = tt_pv_u32(block + TT_PLAN_LOSS_OFF_SCALE);
        memcpy(&q.scale, &bits, sizeof q.scale);
        q.zero_point = tt_pv_i32(block + TT_PLAN_LOSS_OFF_ZERO_POINT);
        result->predicted = tt_softmax_xent_s8((int32_t)size_of(ex, s[0]), &q, (const int8_t *)buf(ex, s[0]),
                                               (int32_t)label, &result->loss, (int16_t *)(void *)buf(ex, s[4]),
                                               exp_of(ex, s[4]));
        result->correct = result->predicted == (int32_t)label;
        break;
    }
    case TT_PLAN_OP_MASK_BWD: {
        int16_t *g = (int16_t *)(void *)buf(ex, s[1]);
        tt_mask_bwd_s16((int32_t)(size_of(ex, s[1]) / 2u), buf(ex, s[0]), g, g);
        break;
    }
    case TT_PLAN_OP_CONV2D_BWD_INPUT:
    case TT_PLAN_OP_PW_CONV2D_BWD_INPUT:
    case TT_PLAN_OP_DW_CONV2D_BWD_INPUT:
    case TT_PLAN_OP_FC_BWD_INPUT: bwd_input(ex, op, &l); break;
    case TT_PLAN_OP_AVGPOOL_BWD_INPUT: {
        tt_conv_geom_t g;
        memcpy(&g, block + TT_PLAN_POOL_OFF_GEOM, sizeof g);
        tt_avgpool_bwd_input_s16(&g, (const int16_t *)(void *)buf(ex, s[0]), *exp_of(ex, s[0]),
                                 (int16_t *)(void *)buf(ex, s[4]), exp_of(ex, s[4]));
        break;
    }
    case TT_PLAN_OP_GRAD_ADD: /* grad (slot 1) += other (slot 0) */
        tt_add_bwd_input_s16((int32_t)(size_of(ex, s[1]) / 2u), (const int16_t *)(void *)buf(ex, s[1]),
                             *exp_of(ex, s[1]), (const int16_t *)(void *)buf(ex, s[0]), *exp_of(ex, s[0]),
                             (int16_t *)(void *)buf(ex, s[4]), exp_of(ex, s[4]));
        break;
    case TT_PLAN_OP_GRAD_COPY:
        memmove(buf(ex, s[4]), buf(ex, s[0]), size_of(ex, s[0]));
        *exp_of(ex, s[4]) = *exp_of(ex, s[0]);
        break;
    case TT_PLAN_OP_BIAS_GRAD:
        tt_bias_bwd_s16(l.geom.out_h * l.geom.out_w, l.geom.out_c, (const int16_t *)(void *)buf(ex, s[0]),
                        *exp_of(ex, s[0]), (int32_t *)(void *)buf(ex, s[4]), exp_of(ex, s[4]));
        break;
    case TT_PLAN_OP_BIAS_UPDATE: {
        const tt_sgd_t sgd = sgd_of(ex, &l, 1);
        tt_sgd_update_s32(l.geom.out_c, &sgd, &l.qas_b, (const int32_t *)(void *)buf(ex, s[0]), *exp_of(ex, s[0]),
                          &ex->rng, 0, (int32_t *)(void *)buf(ex, s[4]));
        break;
    }
    case TT_PLAN_OP_BIAS_GRAD_UPDATE: {
        const tt_sgd_t sgd = sgd_of(ex, &l, 1);
        int32_t *db = (int32_t *)(void *)temp_region(ex, op);
        int32_t db_exp;
        tt_bias_bwd_s16(l.geom.out_h * l.geom.out_w, l.geom.out_c, (const int16_t *)(void *)buf(ex, s[0]),
                        *exp_of(ex, s[0]), db, &db_exp);
        tt_sgd_update_s32(l.geom.out_c, &sgd, &l.qas_b, db, db_exp, &ex->rng, 0, (int32_t *)(void *)buf(ex, s[4]));
        break;
    }
    case TT_PLAN_OP_WEIGHT_GRAD: weight_grad(ex, op, &l); break;
    case TT_PLAN_OP_WEIGHT_UPDATE: weight_update(ex, op, &l); break;
    case TT_PLAN_OP_WEIGHT_GRAD_UPDATE: weight_grad_update(ex, op, &l); break;
    default: break; /* unreachable: the loader refused every other kind */
    }
}

/* A streamed INPUT (plan_check: the op after it is the FUSED_BLOCK reading its buffer, which
 * no other op reads): the buffer must hold the rows the block reads at once, and the block's
 * output must not overlap it (rows keep arriving there while the output grows). */
static uint32_t check_streamed(const layout_t *L, uint32_t fused_index)
{
    op_t op;
    read_op(L->plan, L->info->op_table, fused_index, &op);
    fused_args_t a;
    fused_args(L->plan, L->weights, L->info, op.params, &a);
    const uint32_t table = L->info->buffer_table;
    const uint32_t row = L->info->input_row;
    const uint32_t ia = buf_offset(L->plan, table, op.slot[0]), in = buf_size(L->plan, table, op.slot[0]);
    const uint32_t oa = buf_offset(L->plan, table, op.slot[4]), on = buf_size(L->plan, table, op.slot[4]);
    if (in / row < (uint32_t)tt_irb_fwd_s8_rows_span(&a.g) || !(ia >= oa + on || oa >= ia + in)) {
        return TT_PLAN_CHECK_BAD_SHAPE;
    }
    return TT_PLAN_CHECK_OK;
}

/* The fused block as the streamed sample's rows complete: rows [stream_first, avail) are in
 * the input buffer from its start; afterwards the rows no output row still reads are dropped. */
static void stream_rows(tt_executor_t *ex, int32_t avail)
{
    op_t op;
    read_op(ex->plan, ex->op_table, ex->stream_op, &op);
    const tt_plan_info_t h = info_of(ex);
    fused_args_t a;
    fused_args(ex->plan, ex->weights, &h, op.params, &a);
    const tt_kernel_ctx_t ctx = scratch_of(ex, &op);
    int8_t *rows = (int8_t *)buf(ex, op.slot[0]);
    const int32_t first = ex->stream_first;
    const int32_t keep = tt_irb_fwd_s8_rows(&ctx, &a.g, &a.q, rows, first, avail > first ? avail : first, &a.w,
                                            (int8_t *)buf(ex, op.slot[4]), &ex->stream_progress);
    if (keep > first) {
        const int32_t held = avail > keep ? avail - keep : 0;
        memmove(rows, rows + (uint32_t)(keep - first) * ex->stream_row, (size_t)held * ex->stream_row);
        ex->stream_first = keep;
    }
}

/* -- API -------------------------------------------------------------------------------------- */

tt_status_t tt_executor_load_blobs(tt_executor_t *ex, const uint8_t *plan, uint32_t plan_len, const uint8_t *weights,
                                   uint32_t weights_len, uint8_t *arena, uint32_t arena_bytes, uint32_t *detail)
{
    ex->loaded = false;
    tt_plan_info_t h;
    uint32_t check = tt_plan_check(plan, plan_len, weights, weights_len, arena_bytes, &h);
    if (check == TT_PLAN_CHECK_OK && ((((uintptr_t)plan | (uintptr_t)weights) & 3u) || ((uintptr_t)arena & 7u))) {
        check = TT_PLAN_CHECK_BAD_TABLE; /* the kernels read the blobs' arrays in place */
    }
    const layout_t L = {plan, weights, &h};
    uint32_t first_step = h.n_ops;
    for (uint32_t i = 0; check == TT_PLAN_CHECK_OK && i < h.n_ops; i++) {
        op_t op;
        read_op(plan, h.op_table, i, &op);
        if (op.kind == TT_PLAN_OP_LOAD_WEIGHTS || op.kind == TT_PLAN_OP_LOAD_BIAS) {
            continue;
        }
        if (first_step == h.n_ops) {
            first_step = i;
            if (op.kind != TT_PLAN_OP_INPUT) { /* the sample must not be overwritten before it is read */
                check = TT_PLAN_CHECK_BAD_OP_ORDER;
                break;
            }
        }
        check = check_op(&L, &op);
        if (check == TT_PLAN_CHECK_OK && op.kind == TT_PLAN_OP_INPUT && (op.flags & TT_OP_FLAG_STREAMED)) {
            check = check_streamed(&L, i + 1u);
        }
    }
    *detail = check;
    if (check != TT_PLAN_CHECK_OK) {
        return TT_STATUS_BAD_PLAN;
    }
    memset(ex, 0, sizeof *ex);
    ex->plan = plan;
    ex->weights = weights;
    ex->arena = arena;
    ex->buffer_table = h.buffer_table;
    ex->op_table = h.op_table;
    ex->pool = h.pool;
    ex->exp_table = h.exp_table_offset;
    ex->arena_used = h.arena_bytes;
    ex->input_offset = buf_offset(plan, h.buffer_table, h.input_buffer);
    ex->input_bytes = h.input_bytes;
    ex->n_ops = h.n_ops;
    ex->first_step_op = (uint16_t)first_step;
    op_t input_op;
    read_op(plan, h.op_table, first_step, &input_op);
    if (input_op.flags & TT_OP_FLAG_STREAMED) {
        ex->stream_op = (uint16_t)(first_step + 1u);
        ex->stream_row = h.input_row;
        ex->stream_rows = buf_size(plan, h.buffer_table, h.input_buffer) / h.input_row;
    }
    ex->n_classes = h.n_classes;
    memset(&ex->sgd, 0, sizeof ex->sgd);
    ex->sgd.lr_multiplier = h.lr_multiplier;
    ex->sgd.lr_shift = h.lr_shift;
    ex->head_sgd = ex->sgd;
    ex->head_sgd.lr_multiplier = h.head_lr_multiplier;
    ex->head_sgd.lr_shift = h.head_lr_shift;
    ex->diverge_after = h.diverge_after;
    ex->same_run = 0;
    ex->logits_varied = false;
    ex->diverged = false;
    ex->rng.seed = h.seed;
    ex->rng.counter = 0;
    /* The reference arena starts zeroed; so does this one (buffers and exponents). */
    memset(arena, 0, ex->arena_used);
    ex->params_bytes = 4u;
    tt_step_result_t unused;
    for (uint32_t i = 0; i < first_step; i++) {
        op_t op;
        read_op(plan, h.op_table, i, &op);
        run_op(ex, &op, 0, &unused);
        ex->params_bytes += size_of(ex, op.slot[4]);
    }
    ex->loaded = true;
    return TT_STATUS_OK;
}

tt_status_t tt_executor_load(tt_executor_t *ex, const uint8_t *package, uint32_t len, uint8_t *arena,
                             uint32_t arena_bytes, uint32_t *detail)
{
    /* The plan's total_bytes says where the weight blob starts; a value that cannot be right
     * leaves the whole package to the plan, whose length check then refuses it. */
    uint32_t plan_len = len;
    if (len >= TT_PLAN_HEADER_BYTES) {
        const uint32_t total = tt_pv_u32(package + TT_PLAN_HEADER_OFF_TOTAL_BYTES);
        if (total >= TT_PLAN_HEADER_BYTES && total <= len) {
            plan_len = total;
        }
    }
    return tt_executor_load_blobs(ex, package, plan_len, package + plan_len, len - plan_len, arena, arena_bytes,
                                  detail);
}

void tt_executor_unload(tt_executor_t *ex) { ex->loaded = false; }

uint32_t tt_executor_input_bytes(const tt_executor_t *ex) { return ex->loaded ? ex->input_bytes : 0u; }

uint32_t tt_executor_fed(const tt_executor_t *ex) { return ex->loaded ? ex->fed : 0u; }

tt_status_t tt_executor_feed(tt_executor_t *ex, uint32_t offset, const uint8_t *data, uint32_t len)
{
    if (!ex->loaded) {
        return TT_STATUS_NO_PLAN;
    }
    if (offset > ex->input_bytes || len > ex->input_bytes - offset) {
        return TT_STATUS_SAMPLE_SIZE;
    }
    if (offset == 0u) { /* a new sample (or the same one again from the start) */
        ex->fed = 0;
        ex->stream_first = 0;
        memset(&ex->stream_progress, 0, sizeof ex->stream_progress);
    }
    if (offset != ex->fed) {
        return TT_STATUS_OUT_OF_ORDER;
    }
    if (ex->stream_op == 0u) {
        memcpy(ex->arena + ex->input_offset + offset, data, len);
        ex->fed += len;
        return TT_STATUS_OK;
    }
    while (len > 0u) {
        const int32_t row = (int32_t)(ex->fed / ex->stream_row);
        const uint32_t col = ex->fed % ex->stream_row;
        const uint32_t n = len < ex->stream_row - col ? len : ex->stream_row - col;
        /* Rows below stream_first are read by nothing; the load checked that the rows the block
         * still reads fit the buffer (tt_irb_fwd_s8_rows_span()), and the bound is kept anyway. */
        if (row >= ex->stream_first && (uint32_t)(row - ex->stream_first) < ex->stream_rows) {
            memcpy(ex->arena + ex->input_offset + (uint32_t)(row - ex->stream_first) * ex->stream_row + col, data, n);
        }
        ex->fed += n;
        data += n;
        len -= n;
        if (col + n == ex->stream_row) {
            stream_rows(ex, row + 1);
        }
    }
    return TT_STATUS_OK;
}

/* Every logit at an int8 bound: the logits' clamp passes no gradient to any of them, so the
 * whole backward would compute zeros. */
static bool logits_saturated(const int8_t *q, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (q[i] != INT8_MIN && q[i] != INT8_MAX) {
            return false;
        }
    }
    return true;
}

/* FNV-1a over the logits: identical logits for different samples show in equal hashes
 * without keeping a copy of the last ones (up to 4096 bytes). */
static uint32_t logits_hash(const int8_t *q, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)q[i]) * 16777619u;
    }
    return h;
}

/* The divergence guard's record of one training step's logits: a run of identical logits
 * over samples of different labels, after they have varied once, means the output stopped
 * depending on the input. (A zero-initialised head gives identical logits from the start:
 * that is where training begins, not a collapse.) */
static void watch_logits(tt_executor_t *ex, const int8_t *q, uint32_t n, uint32_t label)
{
    const uint32_t h = logits_hash(q, n);
    if (ex->same_run > 0u && h == ex->run_hash) {
        ex->same_run += ex->same_run < UINT16_MAX ? 1u : 0u;
        ex->run_mixed = ex->run_mixed || label != ex->run_label;
    } else {
        ex->logits_varied = ex->logits_varied || ex->same_run > 0u;
        ex->run_hash = h;
        ex->run_label = label;
        ex->same_run = 1;
        ex->run_mixed = false;
    }
    ex->diverged = ex->diverge_after != 0u && ex->logits_varied && ex->run_mixed && ex->same_run >= ex->diverge_after;
}

tt_status_t tt_executor_step(tt_executor_t *ex, uint32_t label, bool train, uint32_t lr_scale_q16,
                             tt_step_result_t *result)
{
    if (!ex->loaded) {
        return TT_STATUS_NO_PLAN;
    }
    if (label >= ex->n_classes) {
        return TT_STATUS_LABEL_RANGE;
    }
    /* Whatever the arena holds where a sample was only partly fed is the previous sample's
     * leftovers (or, streamed, a half-run first block): never train or report on it. */
    if (ex->fed != ex->input_bytes) {
        return TT_STATUS_SAMPLE_SIZE;
    }
    if (train && lr_scale_q16 > TT_SGD_SCALE_ONE) {
        return TT_STATUS_BAD_PAYLOAD;
    }
    if (train && ex->diverged) {
        return TT_STATUS_DIVERGED;
    }
    memset(result, 0, sizeof *result);
    ex->step_sgd = tt_sgd_scaled(&ex->sgd, lr_scale_q16);
    ex->head_step_sgd = tt_sgd_scaled(&ex->head_sgd, lr_scale_q16);
    /* A streamed sample has been through the INPUT and FUSED_BLOCK ops while it arrived. */
    const uint32_t start = ex->stream_op != 0u ? ex->stream_op + 1u : ex->first_step_op;
    for (uint32_t i = start; i < ex->n_ops; i++) {
        op_t op;
        read_op(ex->plan, ex->op_table, i, &op);
        if (!train && op.kind != TT_PLAN_OP_LOSS &&
            ex->plan[ex->op_table + i * TT_PLAN_OPREC_BYTES + TT_PLAN_OPREC_OFF_PHASE] == TT_PHASE_BACKWARD) {
            continue;
        }
        run_op(ex, &op, label, result);
        if (train && op.kind == TT_PLAN_OP_LOSS) {
            const int8_t *logits = (const int8_t *)buf(ex, op.slot[0]);
            const uint32_t n = size_of(ex, op.slot[0]);
            watch_logits(ex, logits, n, label);
            if (logits_saturated(logits, n)) {
                result->skipped = true;
                break;
            }
        }
    }
    ex->fed = 0; /* the step reused the sample's memory */
    return TT_STATUS_OK;
}

bool tt_executor_diverged(const tt_executor_t *ex) { return ex->loaded && ex->diverged; }

uint32_t tt_executor_classes(const tt_executor_t *ex) { return ex->loaded ? ex->n_classes : 0u; }

uint32_t tt_executor_arena_used(const tt_executor_t *ex) { return ex->loaded ? ex->arena_used : 0u; }

uint32_t tt_executor_params_bytes(const tt_executor_t *ex) { return ex->loaded ? ex->params_bytes : 0u; }

void tt_executor_params_read(const tt_executor_t *ex, uint32_t offset, uint8_t *out, uint32_t len)
{
    if (!ex->loaded) {
        return;
    }
    const uint8_t counter[4] = {(uint8_t)ex->rng.counter, (uint8_t)(ex->rng.counter >> 8),
                                (uint8_t)(ex->rng.counter >> 16), (uint8_t)(ex->rng.counter >> 24)};
    const uint64_t want_lo = offset, want_hi = (uint64_t)offset + len;
    uint64_t at = 0;
    for (uint32_t i = 0; i <= ex->first_step_op; i++) {
        const uint8_t *piece = counter;
        uint32_t n = sizeof counter;
        if (i < ex->first_step_op) { /* the LOAD ops' outputs, then the counter */
            op_t op;
            read_op(ex->plan, ex->op_table, i, &op);
            piece = buf(ex, op.slot[4]);
            n = size_of(ex, op.slot[4]);
        }
        const uint64_t lo = at > want_lo ? at : want_lo;
        const uint64_t hi = at + n < want_hi ? at + n : want_hi;
        if (lo < hi) {
            memcpy(out + (lo - want_lo), piece + (lo - at), (size_t)(hi - lo));
        }
        at += n;
    }
}

tt_status_t tt_executor_params_write(tt_executor_t *ex, const uint8_t *in, uint32_t len)
{
    if (!ex->loaded) {
        return TT_STATUS_NO_PLAN;
    }
    if (len != ex->params_bytes) {
        return TT_STATUS_BAD_PAYLOAD;
    }
    uint32_t at = 0;
    for (uint32_t i = 0; i < ex->first_step_op; i++) {
        op_t op;
        read_op(ex->plan, ex->op_table, i, &op);
        const uint32_t n = size_of(ex, op.slot[4]);
        memcpy(buf(ex, op.slot[4]), in + at, n);
        at += n;
    }
    ex->rng.counter = tt_pv_u32(in + at);
    return TT_STATUS_OK;
}
