/* The executor's parameterless layers (the port of their cases in simulate.Machine): pooling,
 * elementwise ops, concatenation and padding, forward and input gradient, each decoded from its
 * parameter block. Split from executor.c, which runs the parameterised layers and the updates. */
#include <string.h>

#include "executor_ops.h"

void tt_ex_run_tensor_op(const tt_executor_t *ex, const op_t *op, const uint8_t *block)
{
    const uint16_t *s = op->slot;
    switch (op->kind) {
    case TT_PLAN_OP_ADD: {
        tt_add_quant_t q;
        tt_ex_read_add_quant(block, &q);
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
    case TT_PLAN_OP_MUL: {
        tt_mul_quant_t q;
        tt_mul_grad_t unused;
        tt_ex_read_mul(block, &q, &unused);
        const int8_t constant = (int8_t)tt_pv_i32(block + TT_PLAN_MUL_OFF_CONSTANT);
        const int8_t *b = s[1] == TT_PLAN_NONE16 ? &constant : (const int8_t *)buf(ex, s[1]);
        const uint32_t numel = tt_pv_u32(block + TT_PLAN_MUL_OFF_NUMEL);
        tt_mul_fwd_s8((int32_t)numel, &q, (const int8_t *)buf(ex, s[0]), b,
                      (int32_t)tt_pv_u32(block + TT_PLAN_MUL_OFF_B_NUMEL), (int8_t *)buf(ex, s[4]));
        pack_mask(ex, op, numel, q.act_min, q.act_max);
        break;
    }
    case TT_PLAN_OP_PAD: {
        tt_pad_geom_t g;
        tt_ex_read_pad_geom(block, &g);
        tt_pad_s8(&g, tt_pv_i32(block + TT_PLAN_PAD_OFF_FILL), (const int8_t *)buf(ex, s[0]), (int8_t *)buf(ex, s[4]));
        break;
    }
    case TT_PLAN_OP_CONCAT: {
        const int8_t *inputs[4] = {0, 0, 0, 0};
        int32_t inners[4];
        const uint32_t n = tt_pv_u32(block + TT_PLAN_CONCAT_OFF_N_INPUTS);
        for (uint32_t k = 0; k < n; k++) {
            inputs[k] = (const int8_t *)buf(ex, s[k]);
            inners[k] = (int32_t)tt_pv_u32(block + TT_PLAN_CONCAT_OFF_INNERS + 4u * k);
        }
        tt_concat_s8((int32_t)tt_pv_u32(block + TT_PLAN_CONCAT_OFF_OUTER), (int32_t)n, inners, inputs,
                     (int8_t *)buf(ex, s[4]));
        break;
    }
    case TT_PLAN_OP_REQUANTIZE: {
        tt_requantize_quant_t q;
        tt_ex_read_requantize(block, &q);
        const uint32_t numel = tt_pv_u32(block + TT_PLAN_REQUANTIZE_OFF_NUMEL);
        tt_requantize_s8((int32_t)numel, &q, (const int8_t *)buf(ex, s[0]), (int8_t *)buf(ex, s[4]));
        pack_mask(ex, op, numel, q.act_min, q.act_max);
        break;
    }
    case TT_PLAN_OP_HARD_SWISH: {
        tt_hard_swish_quant_t q;
        tt_hard_swish_grad_t unused;
        tt_ex_read_hard_swish(block, &q, &unused);
        const uint32_t numel = tt_pv_u32(block + TT_PLAN_HARD_SWISH_OFF_NUMEL);
        tt_hard_swish_fwd_s8((int32_t)numel, &q, (const int8_t *)buf(ex, s[0]), (int8_t *)buf(ex, s[4]));
        pack_mask(ex, op, numel, INT8_MIN, INT8_MAX);
        break;
    }
    case TT_PLAN_OP_LOGISTIC: {
        tt_logistic_quant_t q;
        tt_ex_read_logistic(block, &q);
        const uint32_t numel = tt_pv_u32(block + TT_PLAN_LOGISTIC_OFF_NUMEL);
        tt_logistic_fwd_s8((int32_t)numel, &q, (const int8_t *)buf(ex, s[0]), (int8_t *)buf(ex, s[4]));
        pack_mask(ex, op, numel, INT8_MIN, INT8_MAX);
        break;
    }
    case TT_PLAN_OP_MAXPOOL: {
        tt_conv_geom_t g;
        memcpy(&g, block + TT_PLAN_POOL_OFF_GEOM, sizeof g);
        const tt_pool_quant_t q = {tt_pv_i32(block + TT_PLAN_POOL_OFF_ACT_MIN), tt_pv_i32(block + TT_PLAN_POOL_OFF_ACT_MAX)};
        tt_maxpool_fwd_s8(&g, &q, (const int8_t *)buf(ex, s[0]), (int8_t *)buf(ex, s[4]));
        pack_mask(ex, op, size_of(ex, s[4]), q.act_min, q.act_max);
        break;
    }
    case TT_PLAN_OP_MEAN: {
        tt_conv_geom_t g;
        memcpy(&g, block + TT_PLAN_POOL_OFF_GEOM, sizeof g);
        const tt_mean_quant_t q = {
            tt_pv_i32(block + TT_PLAN_POOL_OFF_INPUT_ZP),   tt_pv_i32(block + TT_PLAN_POOL_OFF_OUTPUT_ZP),
            tt_pv_i32(block + TT_PLAN_POOL_OFF_MULTIPLIER), tt_pv_i32(block + TT_PLAN_POOL_OFF_SHIFT),
            tt_pv_i32(block + TT_PLAN_POOL_OFF_ACT_MIN),    tt_pv_i32(block + TT_PLAN_POOL_OFF_ACT_MAX)};
        tt_mean_fwd_s8(&g, &q, (const int8_t *)buf(ex, s[0]), (int8_t *)buf(ex, s[4]));
        pack_mask(ex, op, size_of(ex, s[4]), q.act_min, q.act_max);
        break;
    }
    case TT_PLAN_OP_AVGPOOL_BWD_INPUT: {
        tt_conv_geom_t g;
        memcpy(&g, block + TT_PLAN_POOL_OFF_GEOM, sizeof g);
        tt_avgpool_bwd_input_s16(&g, (const int16_t *)(void *)buf(ex, s[0]), *exp_of(ex, s[0]),
                                 (int16_t *)(void *)buf(ex, s[4]), exp_of(ex, s[4]));
        break;
    }
    case TT_PLAN_OP_MAXPOOL_BWD_INPUT: {
        tt_conv_geom_t g;
        memcpy(&g, block + TT_PLAN_POOL_OFF_GEOM, sizeof g);
        tt_maxpool_bwd_input_s16(&g, (const int8_t *)buf(ex, s[1]), (const int16_t *)(void *)buf(ex, s[0]),
                                 *exp_of(ex, s[0]), (int16_t *)(void *)buf(ex, s[4]), exp_of(ex, s[4]));
        break;
    }
    case TT_PLAN_OP_MUL_BWD_A:
    case TT_PLAN_OP_MUL_BWD_B: {
        tt_mul_quant_t q;
        tt_mul_grad_t g;
        tt_ex_read_mul(block, &q, &g);
        const int32_t numel = (int32_t)tt_pv_u32(block + TT_PLAN_MUL_OFF_NUMEL);
        const int32_t b_numel = (int32_t)tt_pv_u32(block + TT_PLAN_MUL_OFF_B_NUMEL);
        const int16_t *dy = (const int16_t *)(void *)buf(ex, s[0]);
        if (op->kind == TT_PLAN_OP_MUL_BWD_A) {
            const int8_t constant = (int8_t)tt_pv_i32(block + TT_PLAN_MUL_OFF_CONSTANT);
            const int8_t *b = s[1] == TT_PLAN_NONE16 ? &constant : (const int8_t *)buf(ex, s[1]);
            tt_mul_bwd_a_s16(numel, &q, &g, b, b_numel, dy, *exp_of(ex, s[0]), (int16_t *)(void *)buf(ex, s[4]),
                             exp_of(ex, s[4]));
        } else {
            tt_mul_bwd_b_s16(numel, &q, &g, (const int8_t *)buf(ex, s[1]), b_numel, dy, *exp_of(ex, s[0]),
                             (int16_t *)(void *)buf(ex, s[4]), exp_of(ex, s[4]));
        }
        break;
    }
    case TT_PLAN_OP_LEAKY_RELU_BWD_INPUT:
        tt_leaky_relu_bwd_input_s16((int32_t)tt_pv_u32(block + TT_PLAN_REQUANTIZE_OFF_NUMEL),
                                    tt_pv_i32(block + TT_PLAN_REQUANTIZE_OFF_INPUT_ZP),
                                    tt_pv_i32(block + TT_PLAN_REQUANTIZE_OFF_ALPHA_MULTIPLIER),
                                    tt_pv_i32(block + TT_PLAN_REQUANTIZE_OFF_ALPHA_SHIFT), (const int8_t *)buf(ex, s[1]),
                                    (const int16_t *)(void *)buf(ex, s[0]), (int16_t *)(void *)buf(ex, s[4]));
        *exp_of(ex, s[4]) = *exp_of(ex, s[0]);
        break;
    case TT_PLAN_OP_GRAD_CROP: {
        tt_pad_geom_t g;
        tt_ex_read_pad_geom(block, &g);
        tt_crop_s16(&g, (const int16_t *)(void *)buf(ex, s[0]), (int16_t *)(void *)buf(ex, s[4]));
        *exp_of(ex, s[4]) = *exp_of(ex, s[0]);
        break;
    }
    case TT_PLAN_OP_GRAD_SLICE:
        tt_slice_s16((int32_t)tt_pv_u32(block + TT_PLAN_SLICE_OFF_OUTER),
                     (int32_t)tt_pv_u32(block + TT_PLAN_SLICE_OFF_TOTAL),
                     (int32_t)tt_pv_u32(block + TT_PLAN_SLICE_OFF_OFFSET),
                     (int32_t)tt_pv_u32(block + TT_PLAN_SLICE_OFF_INNER), (const int16_t *)(void *)buf(ex, s[0]),
                     (int16_t *)(void *)buf(ex, s[4]));
        *exp_of(ex, s[4]) = *exp_of(ex, s[0]);
        break;
    case TT_PLAN_OP_HARD_SWISH_BWD_INPUT: {
        tt_hard_swish_quant_t q;
        tt_hard_swish_grad_t g;
        tt_ex_read_hard_swish(block, &q, &g);
        tt_hard_swish_bwd_input_s16((int32_t)tt_pv_u32(block + TT_PLAN_HARD_SWISH_OFF_NUMEL), &g,
                                    (const int8_t *)buf(ex, s[1]), (const int16_t *)(void *)buf(ex, s[0]),
                                    *exp_of(ex, s[0]), (int16_t *)(void *)buf(ex, s[4]), exp_of(ex, s[4]));
        break;
    }
    case TT_PLAN_OP_LOGISTIC_BWD_INPUT: {
        tt_logistic_quant_t q;
        tt_ex_read_logistic(block, &q);
        tt_logistic_bwd_input_s16((int32_t)tt_pv_u32(block + TT_PLAN_LOGISTIC_OFF_NUMEL), &q,
                                  (const int8_t *)buf(ex, s[1]), (const int16_t *)(void *)buf(ex, s[0]),
                                  *exp_of(ex, s[0]), (int16_t *)(void *)buf(ex, s[4]), exp_of(ex, s[4]));
        break;
    }
    default: break; /* unreachable: the loader refused every other kind */
    }
}
