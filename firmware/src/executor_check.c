/* The executor's load-time checks: what plan_check.c (the mirror of tt_protocol.plan.validate())
 * cannot know because only the C side knows it. Each op's scratch holds what its kernel asks
 * for (a layer's wrapper, tt/kernels/layer.h, for its forward and input gradient) after the
 * executor's temporaries; an op writes over an input only where a kernel is built for it;
 * fixed-point parameters lie in the ranges the kernels' arithmetic is defined for; every
 * gradient slot has an exponent; INPUT is the first step op. After these pass, the step trusts
 * the plan. */
#include "executor_ops.h"

enum { X = 0, OUT = 4 }; /* the slots of an op's (first) input and output */

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
        tt_ex_fused_layers(L, op->params, &pw1, &dw, &pw2, &has_pw1, &add, &residual);
        const tt_irb_geom_t g = irb_geom(has_pw1 ? &pw1 : 0, &dw, &pw2, add != TT_PLAN_NONE32);
        const tt_conv_geom_t *p2 = &pw2.geom;
        tt_add_quant_t q;
        if (add != TT_PLAN_NONE32) {
            tt_ex_read_add_quant(plan + h->pool + add, &q);
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
        tt_ex_read_add_quant(plan + h->pool + op->params, &q);
        if (!add_quant_ok(&q)) {
            return TT_PLAN_CHECK_BAD_PARAMS;
        }
    }
    /* Kernels that read element i before writing it: an output may lie exactly over an input. */
    const int elementwise = k == TT_PLAN_OP_ADD || k == TT_PLAN_OP_MUL || k == TT_PLAN_OP_HARD_SWISH || k == TT_PLAN_OP_REQUANTIZE ||
                            k == TT_PLAN_OP_LOGISTIC ||
                            k == TT_PLAN_OP_GRAD_ADD || k == TT_PLAN_OP_GRAD_COPY || k == TT_PLAN_OP_MASK_BWD;
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
    const uint64_t need = (uses_layer(k) ? tt_ex_temp_bytes(k, op->flags, l.kind, &l.geom, l.n, whole_slice) : 0u) + scratch;
    if (need > 0 && (op->scratch == TT_PLAN_NONE16 || buf_size(plan, table, op->scratch) < need)) {
        return TT_PLAN_CHECK_BAD_SHAPE;
    }
    return TT_PLAN_CHECK_OK;
}

static uint32_t check_streamed(const layout_t *L, uint32_t fused_index)
{
    op_t op;
    read_op(L->plan, L->info->op_table, fused_index, &op);
    fused_args_t a;
    tt_ex_fused_args(L->plan, L->weights, L->info, op.params, &a);
    const uint32_t table = L->info->buffer_table;
    const uint32_t row = L->info->input_row;
    const uint32_t ia = buf_offset(L->plan, table, op.slot[0]), in = buf_size(L->plan, table, op.slot[0]);
    const uint32_t oa = buf_offset(L->plan, table, op.slot[4]), on = buf_size(L->plan, table, op.slot[4]);
    if (in / row < (uint32_t)tt_irb_fwd_s8_rows_span(&a.g) || !(ia >= oa + on || oa >= ia + in)) {
        return TT_PLAN_CHECK_BAD_SHAPE;
    }
    return TT_PLAN_CHECK_OK;
}

uint32_t tt_ex_check_ops(const layout_t *L, uint32_t *first_step)
{
    const tt_plan_info_t *h = L->info;
    *first_step = h->n_ops;
    for (uint32_t i = 0; i < h->n_ops; i++) {
        op_t op;
        read_op(L->plan, h->op_table, i, &op);
        if (op.kind == TT_PLAN_OP_LOAD_WEIGHTS || op.kind == TT_PLAN_OP_LOAD_BIAS) {
            continue;
        }
        if (*first_step == h->n_ops) {
            *first_step = i;
            if (op.kind != TT_PLAN_OP_INPUT) { /* the sample must not be overwritten before it is read */
                return TT_PLAN_CHECK_BAD_OP_ORDER;
            }
        }
        uint32_t check = check_op(L, &op);
        if (check == TT_PLAN_CHECK_OK && op.kind == TT_PLAN_OP_INPUT && (op.flags & TT_OP_FLAG_STREAMED)) {
            check = check_streamed(L, i + 1u);
        }
        if (check != TT_PLAN_CHECK_OK) {
            return check;
        }
    }
    return TT_PLAN_CHECK_OK;
}
