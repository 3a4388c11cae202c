/* Internal to the executor (executor.c, executor_check.c, executor_ops.c, executor_tensor_ops.c): op
 * records, buffer table entries, arena access and parameter blocks decoded from a plan that
 * plan_check.c validated. */
#ifndef TT_EXECUTOR_OPS_H
#define TT_EXECUTOR_OPS_H

#include <stdint.h>
#include <string.h>

#include "plan_view.h"
#include "tt/executor.h"
#include "tt/kernels/kernels.h"

typedef struct {
    uint32_t kind;
    uint32_t flags;
    uint16_t scratch;
    uint16_t slot[7]; /* ins 0..3, outs 4..6 */
    uint32_t params;
} op_t;

static inline void read_op(const uint8_t *plan, uint32_t op_table, uint32_t i, op_t *op)
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

static inline uint32_t buf_offset(const uint8_t *plan, uint32_t table, uint32_t id)
{
    return tt_pv_u32(plan + table + id * TT_PLAN_BUFFER_BYTES + TT_PLAN_BUFFER_OFF_OFFSET);
}

static inline uint32_t buf_size(const uint8_t *plan, uint32_t table, uint32_t id)
{
    return tt_pv_u32(plan + table + id * TT_PLAN_BUFFER_BYTES + TT_PLAN_BUFFER_OFF_SIZE);
}

/* An arena buffer of the loaded plan, its size and its gradient exponent slot. */
static inline uint8_t *buf(const tt_executor_t *ex, uint16_t id)
{
    return ex->arena + buf_offset(ex->plan, ex->buffer_table, id);
}

static inline uint32_t size_of(const tt_executor_t *ex, uint16_t id) { return buf_size(ex->plan, ex->buffer_table, id); }

static inline int32_t *exp_of(const tt_executor_t *ex, uint16_t id)
{
    return (int32_t *)(void *)(ex->arena + ex->exp_table) + id;
}

/* The clamp mask of an op's int8 output (slot 4) into its mask slot (5), when it has one. */
static inline void pack_mask(const tt_executor_t *ex, const op_t *op, uint32_t numel, int32_t act_min, int32_t act_max)
{
    if (op->slot[5] != TT_PLAN_NONE16) {
        tt_mask_pack_s8((int32_t)numel, act_min, act_max, (const int8_t *)buf(ex, op->slot[4]), buf(ex, op->slot[5]));
    }
}

static inline int is_fwd(uint32_t k)
{
    return k == TT_PLAN_OP_CONV2D || k == TT_PLAN_OP_PW_CONV2D || k == TT_PLAN_OP_DW_CONV2D || k == TT_PLAN_OP_FC;
}

static inline int is_bwd_input(uint32_t k)
{
    return k == TT_PLAN_OP_CONV2D_BWD_INPUT || k == TT_PLAN_OP_PW_CONV2D_BWD_INPUT ||
           k == TT_PLAN_OP_DW_CONV2D_BWD_INPUT || k == TT_PLAN_OP_FC_BWD_INPUT;
}

static inline int uses_layer(uint32_t k)
{
    return is_fwd(k) || is_bwd_input(k) || k == TT_PLAN_OP_LOAD_WEIGHTS || k == TT_PLAN_OP_LOAD_BIAS ||
           k == TT_PLAN_OP_SAVE || (k >= TT_PLAN_OP_BIAS_GRAD && k <= TT_PLAN_OP_WEIGHT_GRAD_UPDATE);
}

/* The weights a layer's forward or input-gradient op reads: the factory tensor, plus the
 * trained slice when the op has one (slot 1; @p slice its bytes, NULL while only checking). */
static inline tt_weights_view_t weights_view(const tt_plan_layer_t *l, int has_slice, const int8_t *slice)
{
    tt_weights_view_t w = {l->weights, slice, l->channels, 0, 0};
    if (has_slice && l->n > 0) {
        w.n_channels = l->n;
        w.whole = tt_plan_slice_is_whole(l);
    }
    return w;
}

static inline tt_irb_geom_t irb_geom(const tt_plan_layer_t *pw1, const tt_plan_layer_t *dw, const tt_plan_layer_t *pw2,
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

typedef struct {
    const uint8_t *plan;
    const uint8_t *weights;
    const tt_plan_info_t *info;
} layout_t;

/* The (pw1, dw, pw2) LAYER blocks, ADD block and residual input of a FUSED_BLOCK's parameter block. */
void tt_ex_fused_layers(const layout_t *L, uint32_t block, tt_plan_layer_t *pw1, tt_plan_layer_t *dw,
                        tt_plan_layer_t *pw2, int *has_pw1, uint32_t *add, uint32_t *residual);

/* An ADD parameter block. */
void tt_ex_read_add_quant(const uint8_t *p, tt_add_quant_t *q);
/* A MUL block's requantization and gradient scales. */
void tt_ex_read_mul(const uint8_t *p, tt_mul_quant_t *q, tt_mul_grad_t *g);
/* Run a parameterless layer's op (pooling, elementwise, concatenation, padding; forward or input
 * gradient): executor_tensor_ops.c. @p block is the op's parameter block. */
void tt_ex_run_tensor_op(const tt_executor_t *ex, const op_t *op, const uint8_t *block);
/* A PAD block's geometry. */
void tt_ex_read_pad_geom(const uint8_t *p, tt_pad_geom_t *g);
/* A REQUANTIZE block's requantization. */
void tt_ex_read_requantize(const uint8_t *p, tt_requantize_quant_t *q);
/* A HARD_SWISH block's requantization and derivative parameters. */
void tt_ex_read_hard_swish(const uint8_t *p, tt_hard_swish_quant_t *q, tt_hard_swish_grad_t *g);

/* A LOGISTIC block's requantization (its derivative needs nothing more). */
void tt_ex_read_logistic(const uint8_t *p, tt_logistic_quant_t *q);

/* A FUSED_BLOCK op's kernel arguments, read from its parameter blocks. */
typedef struct {
    tt_irb_geom_t g;
    tt_irb_quant_t q;
    tt_irb_weights_t w;
} fused_args_t;

void tt_ex_fused_args(const uint8_t *plan, const uint8_t *weights, const tt_plan_info_t *h, uint32_t params,
                      fused_args_t *a);

/* tt_executor_temp_size() in 64 bits (a hostile geometry cannot wrap it into a small size). */
uint64_t tt_ex_temp_bytes(uint32_t k, uint32_t flags, uint32_t kind, const tt_conv_geom_t *g, int32_t n, int whole);

/* The executor's load-time checks of every op of a validated plan (what only the C side knows:
 * kernel scratch, aliasing, quantization ranges, op order); sets *first_step to the index of the
 * INPUT op. Returns TT_PLAN_CHECK_OK or the failing check. */
uint32_t tt_ex_check_ops(const layout_t *L, uint32_t *first_step);

#endif /* TT_EXECUTOR_OPS_H */
