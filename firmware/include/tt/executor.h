/**
 * @file executor.h
 * @brief The generic executor of training plans: load a package once, then train or
 *        evaluate one sample per call.
 *
 * **Package.** A plan blob immediately followed by its weight blob (tt_protocol.plan; on the
 * host `tt_host.compiler.blob.package()`). The plan's total_bytes (a multiple of 4) says where
 * the weight blob starts. The package stays where it is (flash on a board) for as long as the
 * executor runs it: frozen weights and the plan's parameter arrays are read in place, so the
 * package must be 4-byte aligned.
 *
 * **Trust boundary.** tt_executor_load() is the only function that looks at untrusted bytes.
 * It performs every check of tt_protocol.plan.validate(), in the same order (the device
 * reports the failing check as the detail of TT_STATUS_BAD_PLAN), then the checks only the
 * C side can make: each op's scratch buffer holds at least tt_executor_temp_size() plus what
 * its kernel asks for (a layer's forward and input gradient: its wrapper's
 * ..._wrapper_..._scratch_size(), tt/kernels/layer.h); an op writes over one of its inputs only
 * where a kernel is built for it (the layer wrapper's in-place variants and the fused block at
 * the same offset, element-wise ops exactly in place); every gradient slot has an exponent;
 * INPUT is the first step op. It reads nothing outside
 * [package, package + len) and writes nothing outside the arena, whatever the bytes. After a
 * successful load, tt_executor_step() trusts the plan: a switch over op kinds that calls the
 * kernels with buffers at arena + offset, no checks.
 *
 * **Arena.** [0, plan arena_bytes) is the plan's (buffers and the exponent table), and that is
 * all the executor uses: what the update kernels cannot do with the plan's buffers alone (an
 * identity channel list, the int32 bias gradient of a fused bias update, a sliced QAS table, a
 * depthwise layer's compact input expanded) lives at the start of that op's scratch buffer
 * (tt_executor_temp_size() bytes), and a layer wrapper's merged weight tensor at the start of
 * its kernel's scratch; both are planned by the
 * compiler like any other buffer. tt_executor_arena_used() is the plan's arena_bytes.
 *
 * **Trained state.** The trained weight slices and biases (the outputs of the plan's
 * LOAD_WEIGHTS/LOAD_BIAS ops, which live in the arena) and the stochastic-rounding PRNG
 * counter (tt_rng_t.counter, starting at 0; its seed is the plan's). The parameter image
 * (tt_executor_params_read()) is exactly that state, so restoring it after a reset continues
 * training bit for bit as if no reset had happened.
 */
#ifndef TT_EXECUTOR_H
#define TT_EXECUTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "tt/kernels/irb.h"
#include "tt/kernels/sgd.h"
#include "tt/kernels/types.h"
#include "tt/protocol_gen.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One op's share of the steps run while a profile is kept (tt_executor_profile()). */
typedef struct {
    uint32_t runs;     /**< Times the op ran. */
    uint32_t reserved; /**< 0 (keeps ticks 8-byte aligned). */
    uint64_t ticks;    /**< Clock ticks it took in all: its kernel and the executor's work for it. */
} tt_op_profile_t;

/** A monotonic tick counter, e.g. tt_port_ticks() (wraps modulo 2^32). */
typedef uint32_t (*tt_clock_fn)(void);

/** What an op is, for a profile's reader: the fields of its plan record. */
typedef struct {
    uint8_t kind;   /**< TT_PLAN_OP_* */
    uint8_t phase;  /**< TT_PHASE_* */
    uint16_t layer; /**< IR layer, TT_PLAN_NONE16 if none */
} tt_op_identity_t;

/** Executor state (treat as opaque; about 200 bytes). */
typedef struct {
    const uint8_t *plan;     /**< The validated plan blob (in the package). */
    const uint8_t *weights;  /**< Its weight blob (right after the plan). */
    uint8_t *arena;          /**< The caller's arena. */
    uint32_t buffer_table;   /**< Plan offsets of the tables. */
    uint32_t op_table;
    uint32_t pool;
    uint32_t exp_table;      /**< Arena offset of the exponent table. */
    uint32_t arena_used;     /**< The plan's arena_bytes. */
    uint32_t params_bytes;   /**< Size of the parameter image. */
    uint32_t input_offset;   /**< Arena offset of the input buffer. */
    uint32_t input_bytes;
    uint16_t n_ops;
    uint16_t first_step_op;  /**< Index of the INPUT op: LOAD ops come before it. */
    uint16_t n_classes;
    bool loaded;
    tt_sgd_t sgd;            /**< The plan's learning rate (momentum 0). */
    tt_sgd_t head_sgd;       /**< The classifier's (layers flagged TT_LAYER_FLAG_HEAD). */
    tt_sgd_t step_sgd;       /**< sgd at the current step's learning-rate scale. */
    tt_sgd_t head_step_sgd;  /**< head_sgd at that scale. */
    uint16_t diverge_after;  /**< The plan's divergence guard (0: off). */
    uint16_t same_run;       /**< Consecutive training steps with identical logits... */
    uint32_t run_hash;       /**< ...their FNV-1a hash... */
    uint32_t run_label;      /**< ...the label of the run's first sample... */
    bool run_mixed;          /**< ...and whether the run's samples had different labels. */
    bool logits_varied;      /**< A training step's logits have differed from the one before. */
    bool diverged;           /**< The guard has stopped training (until the next load). */
    tt_rng_t rng;            /**< PRNG of the stochastic rounding: part of the trained state. */
    uint32_t fed;            /**< Bytes of the current sample fed so far (tt_executor_feed()). */
    uint16_t stream_op;      /**< A streamed sample's FUSED_BLOCK op (0: the sample is stored whole). */
    uint32_t stream_row;     /**< Bytes of one input row. */
    uint32_t stream_rows;    /**< Rows the input buffer holds. */
    int32_t stream_first;    /**< First input row held in the input buffer. */
    tt_irb_progress_t stream_progress; /**< How far the FUSED_BLOCK has got on this sample. */
    tt_op_profile_t *profile; /**< Per-op counters (n_ops entries), NULL when no profile is kept. */
    tt_clock_fn clock;        /**< Their clock. */
} tt_executor_t;

/** Outcome of one sample. */
typedef struct {
    float loss;         /**< Softmax cross-entropy against the label (natural log). */
    int32_t predicted;  /**< Class with the largest logit (first on ties). */
    bool correct;       /**< predicted == label. */
    bool skipped;       /**< A training step whose logits all sat at an int8 bound:
                             nothing was applied (no gradient passes such logits). */
} tt_step_result_t;

/**
 * Validate a package and make it the executor's plan; runs the plan's LOAD ops (trainable
 * slices and biases copied from the weight blob into the arena) and resets the PRNG counter.
 * On failure the executor is left unloaded.
 * @param ex          executor state (any contents)
 * @param package     plan blob + weight blob, 4-byte aligned; must outlive the executor's use
 * @param len         bytes of the package
 * @param arena       the arena (8-byte aligned), e.g. tt_arena()
 * @param arena_bytes its size
 * @param detail      receives the tt_protocol.plan.Check code on TT_STATUS_BAD_PLAN (0 on success)
 * @return TT_STATUS_OK, or TT_STATUS_BAD_PLAN (detail: the failing check;
 *         TT_PLAN_CHECK_ARENA_TOO_SMALL when the plan's arena does not fit @p arena_bytes,
 *         TT_PLAN_CHECK_BAD_TABLE for a misaligned package)
 */
tt_status_t tt_executor_load(tt_executor_t *ex, const uint8_t *package, uint32_t len, uint8_t *arena,
                             uint32_t arena_bytes, uint32_t *detail);

/**
 * As tt_executor_load() with the two blobs given separately (e.g. a plan received over the
 * UART and a weight blob flashed with the image). Both must be 4-byte aligned.
 */
tt_status_t tt_executor_load_blobs(tt_executor_t *ex, const uint8_t *plan, uint32_t plan_len, const uint8_t *weights,
                                   uint32_t weights_len, uint8_t *arena, uint32_t arena_bytes, uint32_t *detail);

/** Forget the plan (tt_executor_step() then answers TT_STATUS_NO_PLAN). */
void tt_executor_unload(tt_executor_t *ex);

/** Bytes of one sample: input_h * input_w * input_c of the plan (0 when none is loaded). */
uint32_t tt_executor_input_bytes(const tt_executor_t *ex);

/**
 * Take the next bytes of a sample (int8 NHWC, quantized with the plan's input scale and zero
 * point), in order: @p offset 0 starts a sample, any other offset must continue where the
 * last piece ended. The plan decides where they go: a plan whose INPUT is STREAMED keeps
 * only the few rows its first (fused) block reads at once and runs that block as each row
 * completes, so a sample never has to fit the arena whole; otherwise they are stored in the
 * input buffer. Feed the whole sample before every tt_executor_step() (the step reuses the
 * memory).
 * @return TT_STATUS_OK; TT_STATUS_NO_PLAN; TT_STATUS_SAMPLE_SIZE when the bytes run past the
 *         sample; TT_STATUS_OUT_OF_ORDER when @p offset is neither 0 nor the bytes fed so far
 *         (nothing is taken in either case)
 */
tt_status_t tt_executor_feed(tt_executor_t *ex, uint32_t offset, const uint8_t *data, uint32_t len);

/** Bytes of the current sample fed so far: 0 without a plan and after each tt_executor_step()
 *  (the step reuses the sample's memory, so the next one starts at offset 0). */
uint32_t tt_executor_fed(const tt_executor_t *ex);

/**
 * Run one sample: the forward ops and the loss against @p label; with @p train also the
 * planned backward ops and in-place SGD/QAS updates (which advance the PRNG), every layer at
 * its rate (the plan's, or the head's for the classifier) times @p lr_scale_q16 / 2^16 and
 * within its step bounds.
 * **Saturated logits.** A training step whose logits all sit at an int8 bound (-128 or 127)
 * runs no backward (result->skipped): the logits' clamp passes no gradient, so every update
 * would be zero.
 * **Divergence guard.** When, after the logits of two training steps have differed once, the
 * plan's diverge_after consecutive training steps produce identical logits for samples of more
 * than one label, the network's output stopped depending on its input (the collapse that
 * saturated logits lead to): the executor stops training,
 * and every later training step answers TT_STATUS_DIVERGED until the plan is loaded again
 * (evaluation still runs). That step itself was trained (or skipped) as usual.
 * @param lr_scale_q16 the schedule's factor for this step, at most TT_SGD_SCALE_ONE (ignored
 *                     when not training)
 * @return TT_STATUS_OK; TT_STATUS_NO_PLAN; TT_STATUS_LABEL_RANGE when label >= n_classes;
 *         TT_STATUS_SAMPLE_SIZE when the sample has not been fed whole since the last step
 *         (tt_executor_fed() < tt_executor_input_bytes()); TT_STATUS_BAD_PAYLOAD for a scale
 *         above one; TT_STATUS_DIVERGED (nothing runs in any of these cases)
 */
tt_status_t tt_executor_step(tt_executor_t *ex, uint32_t label, bool train, uint32_t lr_scale_q16,
                             tt_step_result_t *result);

/**
 * Keep a profile from now on: every op tt_executor_step() runs (and a streamed sample's first
 * block, as its rows arrive through tt_executor_feed()) adds one run and the @p clock ticks it
 * took to its entry of @p counters. The caller owns the counters and zeroes them to start
 * afresh; timing costs two clock reads per op. A load drops the profile (the op table changes).
 * @param counters tt_executor_ops() entries, or NULL to stop profiling
 * @param clock    the tick counter to read (ignored with NULL counters)
 */
void tt_executor_profile(tt_executor_t *ex, tt_op_profile_t *counters, tt_clock_fn clock);

/** Ops in the loaded plan's op table, LOAD ops included (0 when none). */
uint32_t tt_executor_ops(const tt_executor_t *ex);

/** Kind, phase and layer of op @p index (< tt_executor_ops()) of the loaded plan. */
tt_op_identity_t tt_executor_op_identity(const tt_executor_t *ex, uint32_t index);

/** The divergence guard has stopped training (tt_executor_step()); false without a plan. */
bool tt_executor_diverged(const tt_executor_t *ex);

/** Number of classes of the loaded plan (0 when none). */
uint32_t tt_executor_classes(const tt_executor_t *ex);

/** Arena bytes in use: the plan's arena_bytes, nothing above it (0 when none). */
uint32_t tt_executor_arena_used(const tt_executor_t *ex);

/** sizeof(tt_executor_t): what a binding that keeps the state opaque allocates. Pure. */
uint32_t tt_executor_state_bytes(void);

/**
 * Bytes the executor itself takes from the start of an op's scratch buffer, before the
 * kernel's scratch: the compact input expanded to every channel (WEIGHT_GRAD of a depthwise layer
 * with TT_OP_FLAG_COMPACT_INPUT) or the identity channel list (other COMPACT_INPUT
 * WEIGHT_GRAD), the identity list and, for depthwise, the QAS factors of the listed channels
 * (WEIGHT_UPDATE), the trained channels gathered (WEIGHT_GRAD_UPDATE of a partial slice
 * without COMPACT_INPUT), the int32 bias gradient (BIAS_GRAD_UPDATE); 0 for every other op.
 * Pure; the compiler sizes each op's scratch with it (through the host-built library).
 * @param op_kind     TT_PLAN_OP_*
 * @param op_flags    TT_OP_FLAG_*
 * @param layer_kind  TT_LAYER_* of the op's LAYER block
 * @param geom        the layer's geometry
 * @param n_channels  trained input channels of its weights (0: frozen)
 * @param whole_slice non-zero when those are every input channel, in order
 * @return a multiple of 4; UINT32_MAX when the size does not fit 32 bits
 */
uint32_t tt_executor_temp_size(uint32_t op_kind, uint32_t op_flags, uint32_t layer_kind, const tt_conv_geom_t *geom,
                               int32_t n_channels, int32_t whole_slice);

/**
 * Size of the parameter image: the output buffers of the LOAD_WEIGHTS / LOAD_BIAS ops
 * concatenated in op-table order (int8 slices, int32 little-endian biases, as in the arena),
 * then the PRNG counter (uint32 little-endian). 0 when no plan is loaded.
 */
uint32_t tt_executor_params_bytes(const tt_executor_t *ex);

/** Copy bytes [offset, offset + len) of the parameter image to @p out; the part of the range
 *  past the image's end is left untouched. */
void tt_executor_params_read(const tt_executor_t *ex, uint32_t offset, uint8_t *out, uint32_t len);

/**
 * Restore a whole parameter image (from a COMMIT slot after a reset).
 * @return TT_STATUS_OK, TT_STATUS_NO_PLAN, or TT_STATUS_BAD_PAYLOAD when @p len is not
 *         tt_executor_params_bytes() (nothing changes)
 */
tt_status_t tt_executor_params_write(tt_executor_t *ex, const uint8_t *in, uint32_t len);

#ifdef __cplusplus
}
#endif

#endif /* TT_EXECUTOR_H */
