/* Decoding a validated plan's parameter blocks for the executor's check and step, and the
 * executor's own temporaries (tt_executor_temp_size()). */
#include "executor_ops.h"

#include "tt/executor.h"

void tt_ex_fused_layers(const layout_t *L, uint32_t block, tt_plan_layer_t *pw1, tt_plan_layer_t *dw,
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

void tt_ex_read_add_quant(const uint8_t *p, tt_add_quant_t *q)
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

void tt_ex_read_mul(const uint8_t *p, tt_mul_quant_t *q, tt_mul_grad_t *g)
{
    q->input1_zp = tt_pv_i32(p + TT_PLAN_MUL_OFF_INPUT1_ZP);
    q->input2_zp = tt_pv_i32(p + TT_PLAN_MUL_OFF_INPUT2_ZP);
    q->output_zp = tt_pv_i32(p + TT_PLAN_MUL_OFF_OUTPUT_ZP);
    q->multiplier = tt_pv_i32(p + TT_PLAN_MUL_OFF_MULTIPLIER);
    q->shift = tt_pv_i32(p + TT_PLAN_MUL_OFF_SHIFT);
    q->act_min = tt_pv_i32(p + TT_PLAN_MUL_OFF_ACT_MIN);
    q->act_max = tt_pv_i32(p + TT_PLAN_MUL_OFF_ACT_MAX);
    g->a_multiplier = tt_pv_i32(p + TT_PLAN_MUL_OFF_A_MULTIPLIER);
    g->a_shift = tt_pv_i32(p + TT_PLAN_MUL_OFF_A_SHIFT);
    g->b_multiplier = tt_pv_i32(p + TT_PLAN_MUL_OFF_B_MULTIPLIER);
    g->b_shift = tt_pv_i32(p + TT_PLAN_MUL_OFF_B_SHIFT);
}

void tt_ex_read_pad_geom(const uint8_t *p, tt_pad_geom_t *g)
{
    g->in_h = tt_pv_i32(p + TT_PLAN_PAD_OFF_IN_H);
    g->in_w = tt_pv_i32(p + TT_PLAN_PAD_OFF_IN_W);
    g->c = tt_pv_i32(p + TT_PLAN_PAD_OFF_C);
    g->top = tt_pv_i32(p + TT_PLAN_PAD_OFF_TOP);
    g->left = tt_pv_i32(p + TT_PLAN_PAD_OFF_LEFT);
    g->bottom = tt_pv_i32(p + TT_PLAN_PAD_OFF_BOTTOM);
    g->right = tt_pv_i32(p + TT_PLAN_PAD_OFF_RIGHT);
}

void tt_ex_read_requantize(const uint8_t *p, tt_requantize_quant_t *q)
{
    q->input_zp = tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_INPUT_ZP);
    q->output_zp = tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_OUTPUT_ZP);
    q->multiplier = tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_MULTIPLIER);
    q->shift = tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_SHIFT);
    q->negative_multiplier = tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_NEGATIVE_MULTIPLIER);
    q->negative_shift = tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_NEGATIVE_SHIFT);
    q->act_min = tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_ACT_MIN);
    q->act_max = tt_pv_i32(p + TT_PLAN_REQUANTIZE_OFF_ACT_MAX);
}

void tt_ex_read_logistic(const uint8_t *p, tt_logistic_quant_t *q)
{
    q->input_zp = tt_pv_i32(p + TT_PLAN_LOGISTIC_OFF_INPUT_ZP);
    q->range_radius = tt_pv_i32(p + TT_PLAN_LOGISTIC_OFF_RANGE_RADIUS);
    q->multiplier = tt_pv_i32(p + TT_PLAN_LOGISTIC_OFF_MULTIPLIER);
    q->left_shift = tt_pv_i32(p + TT_PLAN_LOGISTIC_OFF_LEFT_SHIFT);
}

void tt_ex_read_hard_swish(const uint8_t *p, tt_hard_swish_quant_t *q, tt_hard_swish_grad_t *g)
{
    q->input_zp = tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_INPUT_ZP);
    q->output_zp = tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_OUTPUT_ZP);
    q->output_multiplier = tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_OUTPUT_MULTIPLIER);
    q->output_exponent = tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_OUTPUT_EXPONENT);
    q->reluish_multiplier = tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_RELUISH_MULTIPLIER);
    q->reluish_exponent = tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_RELUISH_EXPONENT);
    g->input_zp = q->input_zp;
    g->multiplier = tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_GRAD_MULTIPLIER);
    g->shift = tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_GRAD_SHIFT);
    g->lo = tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_GRAD_LO);
    g->hi = tt_pv_i32(p + TT_PLAN_HARD_SWISH_OFF_GRAD_HI);
}

void tt_ex_fused_args(const uint8_t *plan, const uint8_t *weights, const tt_plan_info_t *h, uint32_t params,
                      fused_args_t *a)
{
    const layout_t L = {plan, weights, h};
    tt_plan_layer_t pw1, dw, pw2;
    int has_pw1;
    uint32_t add, residual;
    tt_ex_fused_layers(&L, params, &pw1, &dw, &pw2, &has_pw1, &add, &residual);
    a->g = irb_geom(has_pw1 ? &pw1 : 0, &dw, &pw2, add != TT_PLAN_NONE32);
    memset(&a->q, 0, sizeof a->q);
    if (has_pw1) {
        a->q.pw1 = pw1.quant;
    }
    a->q.dw = dw.quant;
    a->q.pw2 = pw2.quant;
    if (add != TT_PLAN_NONE32) {
        tt_ex_read_add_quant(plan + h->pool + add, &a->q.add);
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

uint64_t tt_ex_temp_bytes(uint32_t k, uint32_t flags, uint32_t kind, const tt_conv_geom_t *g, int32_t n, int whole)
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
    const uint64_t t = tt_ex_temp_bytes(op_kind, op_flags, layer_kind, geom, n_channels, whole_slice != 0);
    return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}
