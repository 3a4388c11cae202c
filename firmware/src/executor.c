/* The plan executor: load (validate once: plan_check.c, then executor_check.c; run the LOAD
 * ops) and step (a switch over op kinds calling the kernels; no checks). Semantics of every op: SIGNATURES in
 * protocol/tt_protocol/plan/format.py, reference implementation tt_host.compiler.simulate, which this
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

#include "executor_ops.h"

/* -- step ------------------------------------------------------------------------------------- */

/* The executor's temporaries of an op: the start of its scratch buffer (tt_executor_temp_size()). */
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

static void fused_block(const tt_executor_t *ex, const op_t *op)
{
    const tt_plan_info_t h = info_of(ex);
    fused_args_t a;
    tt_ex_fused_args(ex->plan, ex->weights, &h, op->params, &a);
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

/* dY of a backward op: its slot 0 and that slot's exponent. */
static tt_grad_s16_t grad_of(const tt_executor_t *ex, const op_t *op)
{
    const tt_grad_s16_t dy = {(const int16_t *)(void *)buf(ex, op->slot[0]), *exp_of(ex, op->slot[0])};
    return dy;
}

static void weight_grad(const tt_executor_t *ex, const op_t *op, const tt_plan_layer_t *l)
{
    const tt_grad_s16_t dy = grad_of(ex, op);
    const int8_t *x = (const int8_t *)buf(ex, op->slot[1]);
    int32_t *dw = (int32_t *)(void *)buf(ex, op->slot[4]);
    int32_t *dw_exp = exp_of(ex, op->slot[4]);
    tt_conv_geom_t g = l->geom;
    tt_bwd_weight_params_t params = {l->quant.input_zp, {l->channels, l->n}};
    if (op->flags & TT_OP_FLAG_COMPACT_INPUT) {
        if (l->kind == TT_LAYER_DW_CONV2D) {
            /* The depthwise kernel indexes its input with dY's channel stride: expand the compact
             * copy (unlisted channels hold the zero point, which it never reads). */
            const int32_t pixels = g.in_h * g.in_w;
            int8_t *full = (int8_t *)temp_region(ex, op);
            memset(full, (int)(int8_t)params.input_zp, (size_t)(pixels * g.in_c));
            for (int32_t p = 0; p < pixels; p++) {
                for (int32_t j = 0; j < l->n; j++) {
                    full[p * g.in_c + l->channels[j]] = x[p * l->n + j];
                }
            }
            x = full;
        } else { /* the compact copy is an input of n channels listed in order */
            g.in_c = l->n;
            params.channels.list = identity_list(ex, op, l->n);
        }
    }
    switch (l->kind) {
    case TT_LAYER_CONV2D: tt_conv2d_bwd_weight_s16(&g, &params, x, &dy, dw, dw_exp); break;
    case TT_LAYER_PW_CONV2D: tt_pw_conv2d_bwd_weight_s16(&g, &params, x, &dy, dw, dw_exp); break;
    case TT_LAYER_DW_CONV2D: tt_dw_conv2d_bwd_weight_s16(&g, &params, x, &dy, dw, dw_exp); break;
    default: {
        const tt_fc_geom_t fc = {g.in_c, g.out_c};
        tt_fc_bwd_weight_s16(&fc, &params, x, &dy, dw, dw_exp);
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
    const tt_grad_s16_t dy = grad_of(ex, op);
    const int8_t *x = (const int8_t *)buf(ex, op->slot[1]);
    int8_t *w = (int8_t *)buf(ex, op->slot[4]);
    const tt_bwd_weight_params_t params = {l->quant.input_zp, {l->channels, l->n}};
    const tt_sgd_t sgd = sgd_of(ex, l, 0);
    const tt_update_t update = {&sgd, &l->qas_w, &ex->rng, 0};
    if (!(op->flags & TT_OP_FLAG_COMPACT_INPUT) && !tt_plan_slice_is_whole(l)) {
        int8_t *kept = (int8_t *)temp_region(ex, op);
        tt_gather_channels_s8(l->geom.in_h * l->geom.in_w, l->geom.in_c, l->channels, l->n, x, kept);
        x = kept;
    }
    switch (l->kind) {
    case TT_LAYER_CONV2D: tt_conv2d_bwd_weight_update_s8(&l->geom, &params, x, &dy, &update, w); break;
    case TT_LAYER_PW_CONV2D: tt_pw_conv2d_bwd_weight_update_s8(&l->geom, &params, x, &dy, &update, w); break;
    case TT_LAYER_DW_CONV2D: tt_dw_conv2d_bwd_weight_update_s8(&l->geom, &params, x, &dy, &update, w); break;
    default: {
        const tt_fc_geom_t fc = {l->geom.in_c, l->geom.out_c};
        tt_fc_bwd_weight_update_s8(&fc, &params, x, &dy, &update, w);
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
    default: tt_ex_run_tensor_op(ex, op, block); break; /* the parameterless layers: executor_tensor_ops.c */
    }
}

/* Op @p i, charged to the profile when one is kept. */
static void run_profiled(tt_executor_t *ex, uint32_t i, const op_t *op, uint32_t label, tt_step_result_t *result)
{
    if (ex->profile == NULL) {
        run_op(ex, op, label, result);
        return;
    }
    const uint32_t start = ex->clock();
    run_op(ex, op, label, result);
    ex->profile[i].ticks += (uint32_t)(ex->clock() - start);
    ex->profile[i].runs++;
}

/* A streamed INPUT (plan_check: the op after it is the FUSED_BLOCK reading its buffer, which
 * no other op reads): the buffer must hold the rows the block reads at once, and the block's
 * output must not overlap it (rows keep arriving there while the output grows). */
/* The fused block as the streamed sample's rows complete: rows [stream_first, avail) are in
 * the input buffer from its start; afterwards the rows no output row still reads are dropped. */
static void stream_rows(tt_executor_t *ex, int32_t avail)
{
    op_t op;
    read_op(ex->plan, ex->op_table, ex->stream_op, &op);
    const tt_plan_info_t h = info_of(ex);
    fused_args_t a;
    tt_ex_fused_args(ex->plan, ex->weights, &h, op.params, &a);
    const tt_kernel_ctx_t ctx = scratch_of(ex, &op);
    int8_t *rows = (int8_t *)buf(ex, op.slot[0]);
    const int32_t first = ex->stream_first;
    const tt_irb_rows_t piece = {rows, first, avail > first ? avail : first};
    const uint32_t start = ex->profile != NULL ? ex->clock() : 0u;
    const int32_t keep = tt_irb_fwd_s8_rows(&ctx, &a.g, &a.q, &piece, &a.w, (int8_t *)buf(ex, op.slot[4]),
                                            &ex->stream_progress);
    if (ex->profile != NULL) { /* its runs are counted at the step, once per sample */
        ex->profile[ex->stream_op].ticks += (uint32_t)(ex->clock() - start);
    }
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
    if (check == TT_PLAN_CHECK_OK) {
        check = tt_ex_check_ops(&L, &first_step);
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
    if (ex->profile != NULL && ex->stream_op != 0u) {
        ex->profile[ex->stream_op - 1u].runs++;
        ex->profile[ex->stream_op].runs++;
    }
    for (uint32_t i = start; i < ex->n_ops; i++) {
        op_t op;
        read_op(ex->plan, ex->op_table, i, &op);
        if (!train && op.kind != TT_PLAN_OP_LOSS &&
            ex->plan[ex->op_table + i * TT_PLAN_OPREC_BYTES + TT_PLAN_OPREC_OFF_PHASE] == TT_PHASE_BACKWARD) {
            continue;
        }
        run_profiled(ex, i, &op, label, result);
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

void tt_executor_profile(tt_executor_t *ex, tt_op_profile_t *counters, tt_clock_fn clock)
{
    ex->profile = counters;
    ex->clock = clock;
}

uint32_t tt_executor_ops(const tt_executor_t *ex) { return ex->loaded ? ex->n_ops : 0u; }

tt_op_identity_t tt_executor_op_identity(const tt_executor_t *ex, uint32_t index)
{
    const uint8_t *p = ex->plan + ex->op_table + index * TT_PLAN_OPREC_BYTES;
    const tt_op_identity_t id = {p[TT_PLAN_OPREC_OFF_KIND], p[TT_PLAN_OPREC_OFF_PHASE],
                                 tt_pv_u16(p + TT_PLAN_OPREC_OFF_LAYER)};
    return id;
}

bool tt_executor_diverged(const tt_executor_t *ex) { return ex->loaded && ex->diverged; }

uint32_t tt_executor_classes(const tt_executor_t *ex) { return ex->loaded ? ex->n_classes : 0u; }

uint32_t tt_executor_arena_used(const tt_executor_t *ex) { return ex->loaded ? ex->arena_used : 0u; }

uint32_t tt_executor_state_bytes(void) { return (uint32_t)sizeof(tt_executor_t); }

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
