/**
 * @file trainer.h
 * @brief The device's training state behind the protocol: the running plan, the sample being
 *        received, the counters STATS reports, and the trained parameters' persistence.
 *
 * proto.c parses requests and builds answers; everything they act on lives here, so the
 * rules of the training requests (SAMPLE_DATA, SAMPLE_RUN, STATS, PULL, COMMIT, ROLLBACK and
 * what LOAD_END and a reset do to the plan) are in one place. See protocol/tt_protocol/frame.py
 * for the requests and protocol/tt_protocol/responder.py for the same rules in Python.
 *
 * **Plan.** A package (plan blob + weight blob) in the flash model area, validated by
 * tt_executor_load(), which also sets the factory parameters. A load then restores the
 * trained state the store holds for that plan: when the newest record is a commit (not a
 * factory record) tagged with the plan's hash and its payload is [trained count, u32 LE][the
 * parameter image] of exactly this plan's size, the image goes back into the arena and the
 * count into the counters. Anything else leaves the factory parameters.
 *
 * **Boot.** tt_trainer_init() looks at the model area: the plan header's total_bytes plus
 * weights_bytes give the package's length (erased or garbage flash gives a length the
 * executor then refuses, or none), and a package that validates is loaded as above. A reset
 * therefore comes back with the committed state, and uncommitted training is lost.
 *
 * **Sample.** SAMPLE_DATA writes straight into the executor's input buffer, in order; a step
 * reuses that memory, so every run consumes the sample.
 */
#ifndef TT_TRAINER_H
#define TT_TRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "tt/executor.h"
#include "tt/port.h"
#include "tt/protocol_gen.h"
#include "tt/sha256.h"
#include "tt/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Counters since the plan was loaded (all zero without one). */
typedef struct {
    uint32_t trained;        /**< Training runs (restored from a commit at load). */
    uint32_t train_correct;  /**< Of which predicted correctly before their update. */
    float train_loss_sum;    /**< Sum of their losses (float32, in run order). */
    uint32_t evaluated;      /**< Evaluation runs. */
    uint32_t eval_correct;
    float eval_loss_sum;
    uint64_t train_ticks;    /**< tt_port_ticks() spent in training runs. */
    uint64_t eval_ticks;     /**< ... in evaluation runs. */
    uint32_t skipped;        /**< Training runs whose logits were all saturated (nothing applied). */
} tt_trainer_counters_t;

/** Training state; treat as opaque. */
typedef struct {
    tt_executor_t ex;
    tt_store_t store;
    uint8_t *arena;
    uint32_t arena_bytes;
    const uint8_t *package;  /**< The running package; NULL while no plan is loaded. */
    uint32_t package_len;
    uint32_t sample_ticks;    /**< Ticks the current sample's pieces took (a streamed plan computes as they arrive). */
    uint32_t restored_sequence; /**< Store record restored at the last load (0: none, factory parameters). */
    uint32_t restored_bytes;    /**< Its payload size. */
    tt_trainer_counters_t counters;
    tt_op_profile_t *profile;            /**< Per-op counters in the arena past the plan's share; NULL when they do not fit. */
    tt_trainer_counters_t profile_start; /**< The counters when the profile began. */
    /** When not NULL, kept as the SHA-256 of the current sample's input bytes as they arrive
     *  (decoded): what an authenticated training run is bound to (tt/auth.h). */
    tt_sha256_t *input_digest;
} tt_trainer_t;

/** What PROFILE reports: the runs since the profile began (the plan's load or the last reset). */
typedef struct {
    uint32_t n_ops;              /**< Ops in the plan (entries of @c ops). */
    uint32_t trained;            /**< Training runs since the profile began. */
    uint32_t evaluated;          /**< Evaluation runs. */
    uint64_t train_ticks;        /**< tt_port_ticks() they took, the ops' and the step's own. */
    uint64_t eval_ticks;
    const tt_op_profile_t *ops;  /**< Each op's runs and ticks, in op-table order. */
} tt_trainer_profile_t;

/** Outcome of SAMPLE_RUN. */
typedef struct {
    uint32_t trained;   /**< Training runs so far, this one included when it trained. */
    float loss;
    uint32_t predicted;
    bool correct;
    bool skipped;       /**< A training run whose logits were all saturated: nothing applied. */
    uint32_t ticks;     /**< tt_port_ticks() spent in the step. */
} tt_trainer_result_t;

/** What STATS reports (the memory figures besides the counters). */
typedef struct {
    tt_trainer_counters_t counters;
    uint32_t arena_bytes;     /**< The arena given to tt_trainer_init(). */
    uint32_t arena_used;      /**< The plan's share of it (0 without a plan). */
    uint32_t params_bytes;    /**< Size of the parameter image (0 without a plan). */
    uint32_t commit_sequence; /**< Sequence of the store's newest record; 0 when none. */
    bool diverged;            /**< The divergence guard has stopped training. */
} tt_trainer_stats_t;

/**
 * Set up on @p arena (8-byte aligned, @p arena_bytes long) with the store slots of @p layout,
 * then load the package the model area holds, if it validates, and restore its committed
 * parameters (see the file comment).
 */
void tt_trainer_init(tt_trainer_t *t, uint8_t *arena, uint32_t arena_bytes, const tt_flash_layout_t *layout);

/**
 * Validate the package at @p package (4-byte aligned, in flash, @p len bytes) and make it the
 * running plan, with the committed parameters restored. Any plan running before is gone.
 * @param model_hash when not NULL, the package's plan header must name this model
 * @param detail     receives the plan Check code for TT_STATUS_BAD_PLAN, else 0
 * @return TT_STATUS_OK; TT_STATUS_BAD_PLAN; TT_STATUS_MODEL_MISMATCH (no plan is left loaded
 *         after either refusal)
 */
tt_status_t tt_trainer_load(tt_trainer_t *t, const uint8_t *package, uint32_t len, const uint8_t *model_hash,
                            uint32_t *detail);

/** Forget the running plan (its package is about to be overwritten); counters zeroed. */
void tt_trainer_unload(tt_trainer_t *t);

/** The running plan's hash (32 bytes, in the package), or NULL when none is loaded. */
const uint8_t *tt_trainer_plan_hash(const tt_trainer_t *t);

/** The running plan's model hash (32 bytes, in the package), or NULL when none is loaded. */
const uint8_t *tt_trainer_model_hash(const tt_trainer_t *t);

/** The largest COMMIT record (trained count + parameter image) the store holds. */
uint32_t tt_trainer_store_capacity(const tt_trainer_t *t);

/** Size of the plan's input tensor, the sample (0 without a plan). */
uint32_t tt_trainer_input_bytes(const tt_trainer_t *t);

/**
 * SAMPLE_DATA: @p len bytes of the sample at byte @p offset (0 starts a new sample, anything
 * else must be the bytes held). A refused chunk changes nothing.
 * @return TT_STATUS_OK; NO_PLAN; OUT_OF_ORDER (detail: the bytes held); SAMPLE_SIZE (detail:
 *         the input's size) for data past the input's end
 */
tt_status_t tt_trainer_sample_data(tt_trainer_t *t, uint32_t offset, const uint8_t *data, uint32_t len,
                                   uint32_t *detail);

/**
 * SAMPLE_PACKED: the PackBits stream @p stream[0..len) (tt/packbits.h), which must decode to
 * exactly @p decoded bytes, undone with a left-neighbour delta of @p stride (0: none), fed as
 * tt_trainer_sample_data() would feed those bytes at @p offset. The stream is checked whole
 * before any byte is fed, then decoded through a small stack buffer straight into the
 * executor. A refused chunk changes nothing.
 * @return TT_STATUS_OK; NO_PLAN; OUT_OF_ORDER; SAMPLE_SIZE (as tt_trainer_sample_data(), for
 *         @p decoded bytes); BAD_PAYLOAD for a stride above TT_PACKED_MAX_STRIDE (detail: that
 *         limit) or a malformed stream, or one that decodes to another length (detail: the
 *         stream offset where it failed, @p len for a length mismatch)
 */
tt_status_t tt_trainer_sample_packed(tt_trainer_t *t, uint32_t offset, uint32_t decoded, uint32_t stride,
                                     const uint8_t *stream, uint32_t len, uint32_t *detail);

/**
 * SAMPLE_RUN: evaluate the sample, or with @p train train on it at @p lr_scale_q16 of the
 * plan's rates (tt_executor_step()), then consume it. Refusals run nothing and keep the sample.
 * @return TT_STATUS_OK; NO_PLAN; SAMPLE_SIZE (detail: the input's size) while the sample is
 *         incomplete; LABEL_RANGE (detail: the classes); OUT_OF_ORDER (detail: samples trained)
 *         for a training run whose @p step is not the number trained so far; BAD_PAYLOAD
 *         (detail: TT_SGD_SCALE_ONE) for a scale above one; DIVERGED (detail: samples trained)
 *         for a training run after the divergence guard stopped training
 */
tt_status_t tt_trainer_sample_run(tt_trainer_t *t, uint32_t step, uint32_t label, bool train, uint32_t lr_scale_q16,
                                  tt_trainer_result_t *result, uint32_t *detail);

/** STATS: counters and memory figures (zeros where a plan is needed and none is loaded). */
void tt_trainer_stats(const tt_trainer_t *t, tt_trainer_stats_t *stats);

/**
 * PULL: copy bytes [offset, offset + length) of the parameter image, clipped at its end, to
 * @p out; *copied and *total receive the bytes copied and the image's size.
 * @param max_length the most a request may ask for (the answer's room)
 * @return TT_STATUS_OK; NO_PLAN; BAD_PAYLOAD with detail @p max_length when length exceeds it,
 *         or with detail the image's size when offset lies past its end
 */
tt_status_t tt_trainer_pull(const tt_trainer_t *t, uint32_t offset, uint32_t length, uint32_t max_length, uint8_t *out,
                            uint32_t *copied, uint32_t *total, uint32_t *detail);

/**
 * COMMIT: persist [trained count][parameter image] in the store, tagged with the plan hash,
 * streamed from the arena (no copy in RAM).
 * @return TT_STATUS_OK (*sequence, *bytes: the record's sequence and payload size); NO_PLAN;
 *         NO_SPACE (detail: the store's capacity); FLASH_ERROR (detail: the flash address)
 */
tt_status_t tt_trainer_commit(tt_trainer_t *t, uint32_t *sequence, uint32_t *bytes, uint32_t *detail);

/**
 * ROLLBACK: write a factory record, then load the running package afresh (factory
 * parameters, counters zeroed).
 * @return TT_STATUS_OK (*sequence: the record's); NO_PLAN; FLASH_ERROR (detail: the flash
 *         address; the plan keeps running as it was)
 */
tt_status_t tt_trainer_rollback(tt_trainer_t *t, uint32_t *sequence, uint32_t *detail);

/**
 * REVERT: load the running package afresh and restore the store's newest record when it is
 * this plan's (the factory parameters otherwise); counters as after a reset, the divergence
 * guard cleared. Writes nothing to flash.
 * @return TT_STATUS_OK (*sequence: the restored record's, 0 when none; *bytes: its payload
 *         size, 0 when none); NO_PLAN
 */
tt_status_t tt_trainer_revert(tt_trainer_t *t, uint32_t *sequence, uint32_t *bytes, uint32_t *detail);

/** Bytes of arena a plan of @p n_ops ops leaves free for a profile to be kept. */
uint32_t tt_trainer_profile_bytes(uint32_t n_ops);

/**
 * PROFILE: where the time of the runs since the profile began went, op by op. The profile
 * starts with every load (boot, upload, ROLLBACK, REVERT) when the arena has
 * tt_trainer_profile_bytes() free past the plan's share, and costs no memory a plan needs.
 * @return TT_STATUS_OK; NO_PLAN; NO_SPACE (detail: the bytes the counters need) when the plan
 *         leaves too little of the arena
 */
tt_status_t tt_trainer_profile(const tt_trainer_t *t, tt_trainer_profile_t *profile, uint32_t *detail);

/** Zero the profile: it covers only the runs after this call. Nothing happens without one. */
void tt_trainer_profile_reset(tt_trainer_t *t);

#ifdef __cplusplus
}
#endif

#endif /* TT_TRAINER_H */
