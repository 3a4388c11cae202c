#include "tt/trainer.h"

#include <string.h>

#include "tt/frame.h"
#include "tt/packbits.h"
#include "tt/plan_gen.h"

/* Store payload of a commit: the trained count, then the parameter image. */
#define COUNT_BYTES 4u

static void forget(tt_trainer_t *t)
{
    t->package = NULL;
    t->package_len = 0;
    t->sample_ticks = 0;
    t->restored_sequence = 0;
    t->restored_bytes = 0;
    memset(&t->counters, 0, sizeof t->counters);
    t->profile = NULL;
}

void tt_trainer_unload(tt_trainer_t *t)
{
    tt_executor_unload(&t->ex);
    forget(t);
}

/* Put back the state a commit saved for this plan, if the store's newest record is one. */
static void restore(tt_trainer_t *t)
{
    const tt_store_record_t r = tt_store_newest(&t->store);
    const uint8_t *plan_hash = t->package + TT_PLAN_HEADER_OFF_PLAN_HASH;
    if (!r.valid || (r.flags & TT_STORE_FACTORY) != 0u || memcmp(r.tag, plan_hash, TT_STORE_TAG_BYTES) != 0 ||
        r.length != COUNT_BYTES + tt_executor_params_bytes(&t->ex)) {
        return;
    }
    if (tt_executor_params_write(&t->ex, r.payload + COUNT_BYTES, r.length - COUNT_BYTES) == TT_STATUS_OK) {
        t->counters.trained = tt_get_u32(r.payload);
        t->restored_sequence = r.sequence;
        t->restored_bytes = r.length;
    }
}

uint32_t tt_trainer_profile_bytes(uint32_t n_ops) { return n_ops * (uint32_t)sizeof(tt_op_profile_t); }

/* The profile's counters live in the arena past the plan's share (8-byte aligned): memory
 * the plan does not use, so keeping a profile never costs a plan its budget. */
static void start_profile(tt_trainer_t *t)
{
    const uint32_t at = (tt_executor_arena_used(&t->ex) + 7u) & ~7u;
    const uint32_t need = tt_trainer_profile_bytes(tt_executor_ops(&t->ex));
    t->profile = at <= t->arena_bytes && need <= t->arena_bytes - at ? (tt_op_profile_t *)(void *)(t->arena + at) : NULL;
    tt_executor_profile(&t->ex, t->profile, tt_port_ticks);
    tt_trainer_profile_reset(t);
}

tt_status_t tt_trainer_load(tt_trainer_t *t, const uint8_t *package, uint32_t len, const uint8_t *model_hash,
                            uint32_t *detail)
{
    forget(t);
    const tt_status_t status = tt_executor_load(&t->ex, package, len, t->arena, t->arena_bytes, detail);
    if (status != TT_STATUS_OK) {
        return status;
    }
    /* Only a validated header is worth comparing: before that its bytes mean nothing. */
    if (model_hash != NULL && memcmp(package + TT_PLAN_HEADER_OFF_MODEL_HASH, model_hash, 32u) != 0) {
        tt_executor_unload(&t->ex);
        *detail = 0;
        return TT_STATUS_MODEL_MISMATCH;
    }
    t->package = package;
    t->package_len = len;
    restore(t);
    start_profile(t);
    return TT_STATUS_OK;
}

/* The package the model area holds, by its plan header's own account; 0 when the header
 * cannot describe a package inside the area (erased flash reads 0xFFFFFFFF). */
static uint32_t stored_package_len(const uint8_t *area, uint32_t capacity)
{
    if (capacity < TT_PLAN_HEADER_BYTES) {
        return 0;
    }
    const uint32_t plan = tt_get_u32(area + TT_PLAN_HEADER_OFF_TOTAL_BYTES);
    const uint32_t weights = tt_get_u32(area + TT_PLAN_HEADER_OFF_WEIGHTS_BYTES);
    if (plan < TT_PLAN_HEADER_BYTES || plan > capacity || weights > capacity - plan) {
        return 0;
    }
    return plan + weights;
}

void tt_trainer_init(tt_trainer_t *t, uint8_t *arena, uint32_t arena_bytes, const tt_flash_layout_t *layout)
{
    memset(t, 0, sizeof *t);
    t->arena = arena;
    t->arena_bytes = arena_bytes;
    tt_store_init(&t->store, layout->slot_a, layout->slot_b);
    const uint8_t *area = tt_port_flash_sector(layout->model_first).address;
    uint32_t capacity = 0;
    for (size_t i = 0; i < layout->model_count; i++) {
        capacity += tt_port_flash_sector(layout->model_first + i).size;
    }
    const uint32_t len = stored_package_len(area, capacity);
    uint32_t detail;
    if (len == 0 || tt_trainer_load(t, area, len, NULL, &detail) != TT_STATUS_OK) {
        tt_trainer_unload(t); /* nothing runnable in the model area: wait for an upload */
    }
}

const uint8_t *tt_trainer_plan_hash(const tt_trainer_t *t)
{
    return t->package != NULL ? t->package + TT_PLAN_HEADER_OFF_PLAN_HASH : NULL;
}

const uint8_t *tt_trainer_model_hash(const tt_trainer_t *t)
{
    return t->package != NULL ? t->package + TT_PLAN_HEADER_OFF_MODEL_HASH : NULL;
}

uint32_t tt_trainer_store_capacity(const tt_trainer_t *t) { return tt_store_capacity(&t->store); }

uint32_t tt_trainer_input_bytes(const tt_trainer_t *t)
{
    return t->package != NULL ? tt_executor_input_bytes(&t->ex) : 0u;
}

/* The refusals SAMPLE_DATA and SAMPLE_PACKED share, for @p len bytes at @p offset. */
static tt_status_t sample_check(const tt_trainer_t *t, uint32_t offset, uint32_t len, uint32_t *detail)
{
    *detail = 0;
    if (t->package == NULL) {
        return TT_STATUS_NO_PLAN;
    }
    const uint32_t input_bytes = tt_executor_input_bytes(&t->ex);
    if (offset != 0u && offset != tt_executor_fed(&t->ex)) {
        *detail = tt_executor_fed(&t->ex);
        return TT_STATUS_OUT_OF_ORDER;
    }
    if (offset > input_bytes || len > input_bytes - offset) {
        *detail = input_bytes;
        return TT_STATUS_SAMPLE_SIZE;
    }
    return TT_STATUS_OK;
}

/* A sample's bytes are stored, or (a streamed plan) run through the first block as its rows
 * complete: those ticks belong to the sample's step. Offset 0 starts a new sample. */
static void sample_begin(tt_trainer_t *t, uint32_t offset)
{
    if (offset == 0u) {
        t->sample_ticks = 0;
        if (t->input_digest != NULL) {
            tt_sha256_init(t->input_digest);
        }
    }
}

static void sample_digest(tt_trainer_t *t, const uint8_t *data, uint32_t len)
{
    if (t->input_digest != NULL) {
        tt_sha256_update(t->input_digest, data, len);
    }
}

tt_status_t tt_trainer_sample_data(tt_trainer_t *t, uint32_t offset, const uint8_t *data, uint32_t len,
                                   uint32_t *detail)
{
    const tt_status_t refused = sample_check(t, offset, len, detail);
    if (refused != TT_STATUS_OK) {
        return refused;
    }
    sample_begin(t, offset);
    sample_digest(t, data, len);
    const uint32_t start = tt_port_ticks();
    const tt_status_t status = tt_executor_feed(&t->ex, offset, data, len);
    t->sample_ticks += tt_port_ticks() - start;
    if (status != TT_STATUS_OK) {
        return TT_STATUS_INTERNAL; /* every reason to refuse was checked above */
    }
    return TT_STATUS_OK;
}

/* Where decoded bytes go: the executor, at the offset they continue. */
typedef struct {
    tt_trainer_t *t;
    uint32_t offset;
    tt_status_t status;
} packed_sink_t;

static void feed_decoded(void *ctx, const uint8_t *data, uint32_t len)
{
    packed_sink_t *sink = ctx;
    sample_digest(sink->t, data, len);
    if (tt_executor_feed(&sink->t->ex, sink->offset, data, len) != TT_STATUS_OK) {
        sink->status = TT_STATUS_INTERNAL; /* every reason to refuse was checked before */
    }
    sink->offset += len;
}

tt_status_t tt_trainer_sample_packed(tt_trainer_t *t, uint32_t offset, uint32_t decoded, uint32_t stride,
                                     const uint8_t *stream, uint32_t len, uint32_t *detail)
{
    const tt_status_t refused = sample_check(t, offset, decoded, detail);
    if (refused != TT_STATUS_OK) {
        return refused;
    }
    if (stride > TT_PACKED_MAX_STRIDE) {
        *detail = TT_PACKED_MAX_STRIDE;
        return TT_STATUS_BAD_PAYLOAD;
    }
    /* The whole stream is checked before a byte is fed: a refused chunk changes nothing. */
    uint32_t walked = 0, bad_at = 0;
    if (tt_packbits_check(stream, len, &walked, &bad_at) != TT_STATUS_OK) {
        *detail = bad_at;
        return TT_STATUS_BAD_PAYLOAD;
    }
    if (walked != decoded) {
        *detail = len;
        return TT_STATUS_BAD_PAYLOAD;
    }
    sample_begin(t, offset);
    const uint32_t start = tt_port_ticks();
    /* A few rows at a time: the decoded sample never sits anywhere whole but in the executor. */
    uint8_t buf[256];
    packed_sink_t sink = {t, offset, TT_STATUS_OK};
    (void)tt_packbits_unpack(stream, len, stride, buf, sizeof buf, feed_decoded, &sink);
    t->sample_ticks += tt_port_ticks() - start;
    return sink.status;
}

tt_status_t tt_trainer_sample_run(tt_trainer_t *t, uint32_t step, uint32_t label, bool train, uint32_t lr_scale_q16,
                                  tt_trainer_result_t *result, uint32_t *detail)
{
    *detail = 0;
    if (t->package == NULL) {
        return TT_STATUS_NO_PLAN;
    }
    tt_trainer_counters_t *c = &t->counters;
    if (tt_executor_fed(&t->ex) != tt_executor_input_bytes(&t->ex)) {
        *detail = tt_executor_input_bytes(&t->ex);
        return TT_STATUS_SAMPLE_SIZE;
    }
    if (label >= tt_executor_classes(&t->ex)) {
        *detail = tt_executor_classes(&t->ex);
        return TT_STATUS_LABEL_RANGE;
    }
    if (train && step != c->trained) {
        /* The step makes a training request idempotent: a host that lost the answer and asks
         * again learns that the sample already trained instead of training it twice. */
        *detail = c->trained;
        return TT_STATUS_OUT_OF_ORDER;
    }
    if (train && lr_scale_q16 > TT_SGD_SCALE_ONE) {
        *detail = TT_SGD_SCALE_ONE;
        return TT_STATUS_BAD_PAYLOAD;
    }
    if (train && tt_executor_diverged(&t->ex)) {
        *detail = c->trained;
        return TT_STATUS_DIVERGED;
    }
    tt_step_result_t r;
    const uint32_t start = tt_port_ticks();
    const tt_status_t status = tt_executor_step(&t->ex, label, train, lr_scale_q16, &r);
    const uint32_t ticks = tt_port_ticks() - start + t->sample_ticks;
    t->sample_ticks = 0;
    if (status != TT_STATUS_OK) {
        return TT_STATUS_INTERNAL; /* every reason to refuse was checked above */
    }
    if (train) {
        c->trained++;
        c->skipped += r.skipped ? 1u : 0u;
        c->train_correct += r.correct ? 1u : 0u;
        c->train_loss_sum += r.loss;
        c->train_ticks += ticks;
    } else {
        c->evaluated++;
        c->eval_correct += r.correct ? 1u : 0u;
        c->eval_loss_sum += r.loss;
        c->eval_ticks += ticks;
    }
    result->trained = c->trained;
    result->loss = r.loss;
    result->predicted = (uint32_t)r.predicted;
    result->correct = r.correct;
    result->skipped = r.skipped;
    result->ticks = ticks;
    return TT_STATUS_OK;
}

void tt_trainer_stats(const tt_trainer_t *t, tt_trainer_stats_t *stats)
{
    memset(stats, 0, sizeof *stats);
    stats->counters = t->counters;
    stats->arena_bytes = t->arena_bytes;
    if (t->package != NULL) {
        stats->arena_used = tt_executor_arena_used(&t->ex);
        stats->params_bytes = tt_executor_params_bytes(&t->ex);
    }
    const tt_store_record_t r = tt_store_newest(&t->store);
    stats->commit_sequence = r.valid ? r.sequence : 0u;
    stats->diverged = tt_executor_diverged(&t->ex);
}

tt_status_t tt_trainer_pull(const tt_trainer_t *t, uint32_t offset, uint32_t length, uint32_t max_length, uint8_t *out,
                            uint32_t *copied, uint32_t *total, uint32_t *detail)
{
    *detail = 0;
    *copied = 0;
    if (t->package == NULL) {
        return TT_STATUS_NO_PLAN;
    }
    const uint32_t image = tt_executor_params_bytes(&t->ex);
    *total = image;
    if (length > max_length) {
        *detail = max_length;
        return TT_STATUS_BAD_PAYLOAD;
    }
    if (offset > image) {
        *detail = image;
        return TT_STATUS_BAD_PAYLOAD;
    }
    const uint32_t n = length < image - offset ? length : image - offset;
    tt_executor_params_read(&t->ex, offset, out, n);
    *copied = n;
    return TT_STATUS_OK;
}

/* The commit payload, piece by piece: the trained count, then the image from the arena. */
static void read_commit(void *ctx, uint32_t offset, uint8_t *out, uint32_t len)
{
    const tt_trainer_t *t = ctx;
    while (len > 0u && offset < COUNT_BYTES) {
        *out++ = (uint8_t)(t->counters.trained >> (8u * offset));
        offset++;
        len--;
    }
    if (len > 0u) {
        tt_executor_params_read(&t->ex, offset - COUNT_BYTES, out, len);
    }
}

static tt_status_t store_status(tt_store_result_t r, const tt_store_t *store, const tt_store_written_t *w,
                                uint32_t *detail)
{
    switch (r) {
    case TT_STORE_OK:
        return TT_STATUS_OK;
    case TT_STORE_TOO_LARGE:
        *detail = tt_store_capacity(store);
        return TT_STATUS_NO_SPACE;
    default:
        *detail = (uint32_t)(uintptr_t)w->flash_at; /* the bus address on the device */
        return TT_STATUS_FLASH_ERROR;
    }
}

tt_status_t tt_trainer_commit(tt_trainer_t *t, uint32_t *sequence, uint32_t *bytes, uint32_t *detail)
{
    *detail = 0;
    if (t->package == NULL) {
        return TT_STATUS_NO_PLAN;
    }
    const uint32_t len = COUNT_BYTES + tt_executor_params_bytes(&t->ex);
    tt_store_written_t w;
    const tt_store_result_t r =
        tt_store_write(&t->store, 0u, len, t->package + TT_PLAN_HEADER_OFF_PLAN_HASH, read_commit, t, &w);
    *sequence = w.sequence;
    *bytes = len;
    return store_status(r, &t->store, &w, detail);
}

/* Load the running package afresh: its LOAD ops (the factory parameters, PRNG counter at 0),
 * then the store's newest record when it is this plan's, as at boot. */
static tt_status_t reload(tt_trainer_t *t, uint32_t *detail)
{
    if (tt_trainer_load(t, t->package, t->package_len, NULL, detail) != TT_STATUS_OK) {
        tt_trainer_unload(t); /* the package validated before; flash must have changed under us */
        return TT_STATUS_INTERNAL;
    }
    return TT_STATUS_OK;
}

tt_status_t tt_trainer_rollback(tt_trainer_t *t, uint32_t *sequence, uint32_t *detail)
{
    *detail = 0;
    if (t->package == NULL) {
        return TT_STATUS_NO_PLAN;
    }
    tt_store_written_t w;
    const tt_store_result_t r = tt_store_write(&t->store, TT_STORE_FACTORY, 0u, NULL, read_commit, t, &w);
    *sequence = w.sequence;
    const tt_status_t status = store_status(r, &t->store, &w, detail);
    if (status != TT_STATUS_OK) {
        return status;
    }
    /* The factory record just written means nothing is restored. */
    return reload(t, detail);
}

tt_status_t tt_trainer_revert(tt_trainer_t *t, uint32_t *sequence, uint32_t *bytes, uint32_t *detail)
{
    *detail = 0;
    *sequence = 0;
    *bytes = 0;
    if (t->package == NULL) {
        return TT_STATUS_NO_PLAN;
    }
    const tt_status_t status = reload(t, detail);
    if (status != TT_STATUS_OK) {
        return status;
    }
    *sequence = t->restored_sequence;
    *bytes = t->restored_bytes;
    return TT_STATUS_OK;
}

tt_status_t tt_trainer_profile(const tt_trainer_t *t, tt_trainer_profile_t *profile, uint32_t *detail)
{
    *detail = 0;
    memset(profile, 0, sizeof *profile);
    if (t->package == NULL) {
        return TT_STATUS_NO_PLAN;
    }
    if (t->profile == NULL) {
        *detail = tt_trainer_profile_bytes(tt_executor_ops(&t->ex));
        return TT_STATUS_NO_SPACE;
    }
    const tt_trainer_counters_t *c = &t->counters, *s = &t->profile_start;
    profile->n_ops = tt_executor_ops(&t->ex);
    profile->trained = c->trained - s->trained;
    profile->evaluated = c->evaluated - s->evaluated;
    profile->train_ticks = c->train_ticks - s->train_ticks;
    profile->eval_ticks = c->eval_ticks - s->eval_ticks;
    profile->ops = t->profile;
    return TT_STATUS_OK;
}

void tt_trainer_profile_reset(tt_trainer_t *t)
{
    t->profile_start = t->counters;
    if (t->profile != NULL) {
        memset(t->profile, 0, tt_trainer_profile_bytes(tt_executor_ops(&t->ex)));
    }
}
