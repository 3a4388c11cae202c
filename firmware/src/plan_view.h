/* Internal to the executor (plan_check.c, executor.c): little-endian field access to the plan
 * and weight blobs (protocol/tt_protocol/plan/, layouts in tt/plan_gen.h) and the decoded
 * view of a LAYER parameter block. Nothing here checks anything: plan_check.c validates a
 * blob once, after which executor.c reads it through these helpers without re-checking. */
#ifndef TT_PLAN_VIEW_H
#define TT_PLAN_VIEW_H

#include <stdint.h>

#include "tt/kernels/sgd.h"
#include "tt/kernels/types.h"
#include "tt/plan_gen.h"

/* Byte-wise loads: correct at any alignment and on any host byte order. */
static inline uint16_t tt_pv_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline uint32_t tt_pv_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline int32_t tt_pv_i32(const uint8_t *p) { return (int32_t)tt_pv_u32(p); }

static inline uint32_t tt_pv_align4(uint32_t n) { return (n + 3u) & ~3u; }

/** Header fields the executor keeps after validation. */
typedef struct {
    uint32_t plan_bytes;
    uint32_t weights_bytes;
    uint32_t arena_bytes;
    uint32_t exp_table_offset;
    uint32_t buffer_table;
    uint32_t op_table;
    uint32_t pool;
    uint32_t pool_bytes;
    uint32_t seed;
    int32_t lr_multiplier;
    int32_t lr_shift;
    int32_t head_lr_multiplier; /**< the rate of layers flagged TT_LAYER_FLAG_HEAD */
    int32_t head_lr_shift;
    uint16_t diverge_after;     /**< the divergence guard (0: off) */
    uint16_t n_exp_slots;
    uint16_t n_buffers;
    uint16_t n_ops;
    uint16_t n_classes;
    uint16_t input_buffer;
    uint16_t logits_buffer;
    uint32_t input_bytes;  /**< the sample: input_h * input_w * input_c */
    uint32_t input_row;    /**< one row of it: input_w * input_c */
} tt_plan_info_t;

/** A LAYER block decoded for the kernels: pointers into the (validated) plan and weight blob. */
typedef struct {
    uint32_t kind;            /**< TT_LAYER_* */
    uint32_t flags;           /**< TT_LAYER_FLAG_* */
    int32_t n;                /**< trained input channels (0: frozen weights) */
    tt_conv_geom_t geom;
    tt_conv_quant_t quant;
    tt_grad_quant_t grad;     /**< valid with TT_LAYER_FLAG_GRAD_QUANT */
    tt_qas_t qas_w;           /**< valid when n > 0 */
    tt_qas_t qas_b;           /**< valid with TT_LAYER_FLAG_BIAS_TRAINED */
    const int16_t *channels;  /**< n entries */
    int64_t weight_step_max_q16; /**< bound on one weight step, Q16 int8 steps (0 iff n == 0) */
    int64_t bias_step_max_q16;   /**< bound on one bias step, Q16 bias steps (0 iff biases frozen) */
    const int8_t *weights;    /**< factory weights in the weight blob */
    const int32_t *bias;      /**< factory biases in the weight blob */
} tt_plan_layer_t;

/** Validate a plan blob and its weight blob exactly as tt_protocol.plan.validate() does, in the
 *  same order; @p arena_limit is the device's arena. Returns a TT_PLAN_CHECK_* code and, on
 *  TT_PLAN_CHECK_OK, fills @p info. Reads only [plan, plan+plan_len) and
 *  [weights, weights+weights_len); writes nothing but @p info. */
uint32_t tt_plan_check(const uint8_t *plan, uint32_t plan_len, const uint8_t *weights, uint32_t weights_len,
                       uint32_t arena_limit, tt_plan_info_t *info);

/** Decode the LAYER block at pool offset @p block of a validated plan. The plan must be 4-byte
 *  aligned in memory (its int32/int16 arrays are handed to the kernels in place). */
void tt_plan_layer(const uint8_t *plan, const tt_plan_info_t *info, const uint8_t *weights, uint32_t block,
                   tt_plan_layer_t *out);

/** Elements of a trained weight slice: [out_c][taps][n], or [taps][n] for depthwise. */
static inline uint32_t tt_plan_slice_count(const tt_plan_layer_t *l)
{
    const uint32_t taps = (uint32_t)(l->geom.kernel_h * l->geom.kernel_w);
    return l->kind == TT_LAYER_DW_CONV2D ? taps * (uint32_t)l->n : (uint32_t)l->geom.out_c * taps * (uint32_t)l->n;
}

/** int8 weights of the whole layer: OHWI, 1HWC for depthwise, [out][in] for FC. */
static inline uint32_t tt_plan_weight_count(const tt_plan_layer_t *l)
{
    const uint32_t taps = (uint32_t)(l->geom.kernel_h * l->geom.kernel_w);
    return l->kind == TT_LAYER_DW_CONV2D ? taps * (uint32_t)l->geom.out_c
                                         : (uint32_t)l->geom.out_c * taps * (uint32_t)l->geom.in_c;
}

/** 1 when the slice is the whole tensor in its own layout: every input channel, in order. */
static inline int tt_plan_slice_is_whole(const tt_plan_layer_t *l)
{
    if (l->n != l->geom.in_c) {
        return 0;
    }
    for (int32_t j = 0; j < l->n; j++) {
        if (l->channels[j] != j) {
            return 0;
        }
    }
    return 1;
}

#endif /* TT_PLAN_VIEW_H */
