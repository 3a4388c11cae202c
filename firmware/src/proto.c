#include "tt/proto.h"

#include <string.h>

#include "tt/version.h"

void tt_proto_init(tt_proto_t *proto, uint8_t *rx, uint8_t *tx, tt_write_fn write, void *write_ctx,
                   const tt_board_info_t *board, tt_trainer_t *trainer)
{
    tt_frame_decoder_init(&proto->decoder, rx, TT_MAX_FRAME_BYTES);
    proto->tx = tx;
    proto->tx_len = 0;
    proto->have_last = false;
    proto->last_seq = 0;
    proto->last_crc = 0;
    proto->write = write;
    proto->write_ctx = write_ctx;
    proto->board = board;
    proto->trainer = trainer;
    memset(proto->announced_model, 0, sizeof proto->announced_model);
    proto->reset_requested = false;
    proto->switch_to = 0;
    proto->baud_unconfirmed = false;
    proto->baud_since = 0;
    tt_upload_init(&proto->upload, tt_port_flash_layout());
    tt_proto_set_key_record(proto, tt_auth_image_record());
}

/* The model area left for a package: with a key, its seal needs room after it. */
static uint32_t package_capacity(const tt_proto_t *proto)
{
    return tt_auth_active(&proto->auth) ? proto->upload.capacity - TT_AUTH_SEAL_BYTES : proto->upload.capacity;
}

/* Whether the package at @p package (@p len bytes, in the model area) carries this key's seal. */
static bool sealed(const tt_proto_t *proto, const uint8_t *package, uint32_t len)
{
    const uint32_t at = tt_auth_seal_offset(len);
    if (at > proto->upload.capacity || proto->upload.capacity - at < TT_AUTH_SEAL_BYTES) {
        return false;
    }
    uint8_t digest[TT_SHA256_BYTES], seal[TT_AUTH_SEAL_BYTES];
    tt_sha256(package, len, digest);
    tt_auth_seal(&proto->auth, digest, seal);
    return tt_equal_ct(seal, package + at, TT_AUTH_SEAL_BYTES) != 0;
}

void tt_proto_set_key_record(tt_proto_t *proto, const volatile uint8_t *record)
{
    tt_auth_init(&proto->auth, record);
    tt_trainer_t *t = proto->trainer;
    t->input_digest = tt_auth_active(&proto->auth) ? &proto->input_digest : NULL;
    tt_sha256_init(&proto->input_digest);
    if (tt_auth_active(&proto->auth) && t->package != NULL && !sealed(proto, t->package, t->package_len)) {
        tt_trainer_unload(t); /* loaded at boot from the model area, never approved by the key */
    }
}

bool tt_proto_reset_requested(const tt_proto_t *proto) { return proto->reset_requested; }

static uint8_t *payload_out(tt_proto_t *proto) { return proto->tx + TT_FRAME_HEADER_BYTES; }

/* Build an ERROR frame into @p frame (room for TT_ERROR_FRAME_BYTES); returns its length. */
static size_t build_error(uint8_t *frame, tt_status_t status, uint16_t seq, uint8_t opcode, uint32_t detail)
{
    uint8_t *p = frame + TT_FRAME_HEADER_BYTES;
    p[TT_ERROR_OFF_STATUS] = (uint8_t)status;
    p[TT_ERROR_OFF_OPCODE] = opcode;
    tt_put_u32(p + TT_ERROR_OFF_DETAIL, detail);
    return tt_frame_finish(frame, TT_OP_ERROR, seq, TT_ERROR_BYTES);
}

static void reply_error(tt_proto_t *proto, tt_status_t status, uint16_t seq, uint8_t opcode, uint32_t detail)
{
    proto->tx_len = build_error(proto->tx, status, seq, opcode, detail);
}

static void reply_info(tt_proto_t *proto, uint16_t seq)
{
    uint8_t *p = payload_out(proto);
    memset(p, 0, TT_INFO_BYTES); /* board name padding and "no plan" hashes are zeros */
    p[TT_INFO_OFF_PROTOCOL_VERSION] = (uint8_t)TT_PROTOCOL_VERSION;
    p[TT_INFO_OFF_FIRMWARE_VERSION + 0] = TT_VERSION_MAJOR;
    p[TT_INFO_OFF_FIRMWARE_VERSION + 1] = TT_VERSION_MINOR;
    p[TT_INFO_OFF_FIRMWARE_VERSION + 2] = TT_VERSION_PATCH;
    const size_t name_cap = TT_INFO_OFF_SRAM_BYTES - TT_INFO_OFF_BOARD;
    const size_t name_len = strlen(proto->board->name);
    memcpy(p + TT_INFO_OFF_BOARD, proto->board->name, name_len < name_cap ? name_len : name_cap);
    tt_put_u32(p + TT_INFO_OFF_SRAM_BYTES, proto->board->sram_bytes);
    tt_put_u32(p + TT_INFO_OFF_FLASH_BYTES, proto->board->flash_bytes);
    tt_put_u32(p + TT_INFO_OFF_ARENA_BYTES, proto->trainer->arena_bytes);
    tt_put_u32(p + TT_INFO_OFF_CORE_CLOCK_HZ, proto->board->core_clock_hz);
    tt_put_u16(p + TT_INFO_OFF_MAX_PAYLOAD, (uint16_t)TT_MAX_PAYLOAD);
    tt_put_u32(p + TT_INFO_OFF_MODEL_AREA_BYTES, package_capacity(proto));
    tt_put_u32(p + TT_INFO_OFF_PARAM_STORE_BYTES, tt_trainer_store_capacity(proto->trainer));
    const uint8_t *plan_hash = tt_trainer_plan_hash(proto->trainer);
    if (plan_hash != NULL) {
        memcpy(p + TT_INFO_OFF_PLAN_HASH, plan_hash, TT_INFO_OFF_MODEL_HASH - TT_INFO_OFF_PLAN_HASH);
        memcpy(p + TT_INFO_OFF_MODEL_HASH, tt_trainer_model_hash(proto->trainer),
               TT_INFO_OFF_MODEL_AREA_BYTES - TT_INFO_OFF_MODEL_HASH);
    }
    p[TT_INFO_OFF_AUTH] = proto->auth.mode;
    if (tt_auth_active(&proto->auth)) {
        memcpy(p + TT_INFO_OFF_KEY_ID, proto->auth.key_id, TT_AUTH_KEY_ID_BYTES);
    }
    proto->tx_len = tt_frame_finish(proto->tx, TT_OP_INFO, seq, TT_INFO_BYTES);
}

/* Answer a LOAD_* request: its response on success, else ERROR with the status's detail. */
static void reply_load(tt_proto_t *proto, tt_status_t status, uint32_t detail, const tt_frame_header_t *h)
{
    if (status != TT_STATUS_OK) {
        reply_error(proto, status, h->seq, h->opcode, detail);
        return;
    }
    const tt_upload_t *up = &proto->upload;
    uint8_t *p = payload_out(proto);
    if (h->opcode == TT_OP_LOAD_END) {
        tt_put_u32(p + TT_LOAD_DONE_OFF_TOTAL_BYTES, up->total);
        tt_put_u32(p + TT_LOAD_DONE_OFF_CRC32, up->crc);
        proto->tx_len = tt_frame_finish(proto->tx, TT_OP_LOAD_DONE, h->seq, TT_LOAD_DONE_BYTES);
        return;
    }
    tt_put_u32(p + TT_LOAD_PROGRESS_OFF_RECEIVED, up->received);
    tt_put_u32(p + TT_LOAD_PROGRESS_OFF_CAPACITY, up->capacity);
    proto->tx_len = tt_frame_finish(proto->tx, (uint8_t)(h->opcode | 0x80u), h->seq, TT_LOAD_PROGRESS_BYTES);
}

static tt_status_t load_begin(tt_proto_t *proto, const uint8_t *payload, size_t len, uint32_t *detail)
{
    if (len != TT_LOAD_BEGIN_BYTES) {
        *detail = TT_LOAD_BEGIN_BYTES;
        return TT_STATUS_BAD_PAYLOAD;
    }
    const uint32_t total = tt_get_u32(payload + TT_LOAD_BEGIN_OFF_TOTAL_BYTES);
    const uint32_t crc = tt_get_u32(payload + TT_LOAD_BEGIN_OFF_CRC32);
    const uint8_t *model = payload + TT_LOAD_BEGIN_OFF_MODEL_HASH;
    if (total == 0u) {
        *detail = TT_LOAD_BEGIN_BYTES;
        return TT_STATUS_BAD_PAYLOAD;
    }
    if (total > package_capacity(proto)) {
        *detail = package_capacity(proto);
        return TT_STATUS_NO_SPACE;
    }
    /* Re-provisioning with another network must be asked for: a host streaming samples for
     * one model never replaces it by accident. */
    const uint8_t *running = tt_trainer_model_hash(proto->trainer);
    if (running != NULL && memcmp(running, model, sizeof proto->announced_model) != 0 &&
        (tt_get_u32(payload + TT_LOAD_BEGIN_OFF_FLAGS) & TT_LOAD_FLAG_REPLACE_MODEL) == 0u) {
        *detail = 0;
        return TT_STATUS_MODEL_MISMATCH;
    }
    const bool resumes = tt_upload_resumes(&proto->upload, total, crc);
    const tt_status_t status = tt_upload_begin(&proto->upload, total, crc, detail);
    if (status == TT_STATUS_OK) {
        if (!resumes) {
            tt_trainer_unload(proto->trainer); /* the chunks will overwrite its package */
        }
        memcpy(proto->announced_model, model, sizeof proto->announced_model);
    }
    return status;
}

static void execute_load(tt_proto_t *proto, const tt_frame_header_t *h, const uint8_t *payload, size_t len)
{
    uint32_t detail = 0;
    tt_status_t status;
    switch (h->opcode) {
    case TT_OP_LOAD_BEGIN:
        status = load_begin(proto, payload, len, &detail);
        break;
    case TT_OP_LOAD_CHUNK:
        if (len < TT_LOAD_CHUNK_BYTES) {
            status = TT_STATUS_BAD_PAYLOAD;
            detail = TT_LOAD_CHUNK_BYTES;
        } else {
            status = tt_upload_chunk(&proto->upload, tt_get_u32(payload + TT_LOAD_CHUNK_OFF_OFFSET),
                                     payload + TT_LOAD_CHUNK_BYTES, (uint32_t)(len - TT_LOAD_CHUNK_BYTES), &detail);
        }
        break;
    default: /* TT_OP_LOAD_END */
        if (len != 0) {
            status = TT_STATUS_BAD_PAYLOAD;
        } else {
            status = tt_upload_end(&proto->upload, &detail);
        }
        if (status == TT_STATUS_OK) {
            /* The CRC proved flash holds the announced bytes; now they must be a plan, for the
             * announced model. A refused package is never run. */
            status = tt_trainer_load(proto->trainer, tt_upload_package(&proto->upload), proto->upload.total,
                                     proto->announced_model, &detail);
        }
        if (status == TT_STATUS_OK && tt_auth_active(&proto->auth)) {
            /* Approved by the key (the request's tag covered proto->bound, the package's
             * digest): seal it, so that the next boot runs it too. */
            uint8_t seal[TT_AUTH_SEAL_BYTES];
            tt_auth_seal(&proto->auth, proto->bound, seal);
            status = tt_upload_append(&proto->upload, seal, sizeof seal, &detail);
            if (status != TT_STATUS_OK) {
                tt_trainer_unload(proto->trainer);
            }
        }
        break;
    }
    reply_load(proto, status, detail, h);
}

static void reply(tt_proto_t *proto, const tt_frame_header_t *h, size_t len)
{
    proto->tx_len = tt_frame_finish(proto->tx, (uint8_t)(h->opcode | 0x80u), h->seq, len);
}

/* Payload size checks shared by the training requests: exactly @p want bytes (or, with
 * @p at_least, no fewer). */
static bool payload_ok(tt_proto_t *proto, const tt_frame_header_t *h, size_t len, size_t want, bool at_least)
{
    if (at_least ? len >= want : len == want) {
        return true;
    }
    reply_error(proto, TT_STATUS_BAD_PAYLOAD, h->seq, h->opcode, (uint32_t)want);
    return false;
}

/* SAMPLE_DATA and SAMPLE_PACKED answer alike: how much of the sample the device holds. */
static void reply_sample_progress(tt_proto_t *proto, const tt_frame_header_t *h, tt_status_t status, uint32_t detail)
{
    if (status != TT_STATUS_OK) {
        reply_error(proto, status, h->seq, h->opcode, detail);
        return;
    }
    uint8_t *p = payload_out(proto);
    tt_put_u32(p + TT_SAMPLE_PROGRESS_OFF_RECEIVED, tt_executor_fed(&proto->trainer->ex));
    tt_put_u32(p + TT_SAMPLE_PROGRESS_OFF_INPUT_BYTES, tt_trainer_input_bytes(proto->trainer));
    reply(proto, h, TT_SAMPLE_PROGRESS_BYTES);
}

static void execute_sample_data(tt_proto_t *proto, const tt_frame_header_t *h, const uint8_t *payload, size_t len)
{
    if (!payload_ok(proto, h, len, TT_SAMPLE_DATA_BYTES, true)) {
        return;
    }
    uint32_t detail;
    const tt_status_t status =
        tt_trainer_sample_data(proto->trainer, tt_get_u32(payload + TT_SAMPLE_DATA_OFF_OFFSET),
                               payload + TT_SAMPLE_DATA_BYTES, (uint32_t)(len - TT_SAMPLE_DATA_BYTES), &detail);
    reply_sample_progress(proto, h, status, detail);
}

static void execute_sample_packed(tt_proto_t *proto, const tt_frame_header_t *h, const uint8_t *payload, size_t len)
{
    if (!payload_ok(proto, h, len, TT_SAMPLE_PACKED_BYTES, true)) {
        return;
    }
    uint32_t detail;
    const tt_status_t status = tt_trainer_sample_packed(
        proto->trainer, tt_get_u32(payload + TT_SAMPLE_PACKED_OFF_OFFSET),
        tt_get_u16(payload + TT_SAMPLE_PACKED_OFF_DECODED), payload[TT_SAMPLE_PACKED_OFF_STRIDE],
        payload + TT_SAMPLE_PACKED_BYTES, (uint32_t)(len - TT_SAMPLE_PACKED_BYTES), &detail);
    reply_sample_progress(proto, h, status, detail);
}

/* SET_BAUD: answered here at the old rate; tt_proto_feed() switches once the answer is out. */
static void execute_set_baud(tt_proto_t *proto, const tt_frame_header_t *h, const uint8_t *payload, size_t len)
{
    if (!payload_ok(proto, h, len, TT_SET_BAUD_BYTES, false)) {
        return;
    }
    const uint32_t wanted = tt_get_u32(payload + TT_SET_BAUD_OFF_BAUD);
    uint32_t nearest;
    const uint32_t made = tt_port_uart_rate(wanted, &nearest);
    if (made == 0u) {
        reply_error(proto, TT_STATUS_BAD_PAYLOAD, h->seq, h->opcode, nearest);
        return;
    }
    uint8_t *p = payload_out(proto);
    tt_put_u32(p + TT_BAUD_OFF_BAUD, made);
    tt_put_u32(p + TT_BAUD_OFF_CONFIRM_MS, wanted == TT_DEFAULT_BAUD ? 0u : TT_BAUD_CONFIRM_MS);
    proto->switch_to = wanted;
    reply(proto, h, TT_BAUD_BYTES);
}

static void execute_sample_run(tt_proto_t *proto, const tt_frame_header_t *h, const uint8_t *payload, size_t len)
{
    if (!payload_ok(proto, h, len, TT_SAMPLE_RUN_BYTES, false)) {
        return;
    }
    uint16_t flags = (uint16_t)(tt_get_u16(payload + TT_SAMPLE_RUN_OFF_FLAGS) & TT_SAMPLE_FLAG_TRAIN);
    tt_trainer_result_t r;
    uint32_t detail;
    const tt_status_t status = tt_trainer_sample_run(
        proto->trainer, tt_get_u32(payload + TT_SAMPLE_RUN_OFF_STEP), tt_get_u16(payload + TT_SAMPLE_RUN_OFF_LABEL),
        flags != 0u, tt_get_u32(payload + TT_SAMPLE_RUN_OFF_LR_SCALE), &r, &detail);
    if (status != TT_STATUS_OK) {
        reply_error(proto, status, h->seq, h->opcode, detail);
        return;
    }
    uint8_t *p = payload_out(proto);
    tt_put_u32(p + TT_SAMPLE_RESULT_OFF_TRAINED, r.trained);
    tt_put_f32(p + TT_SAMPLE_RESULT_OFF_LOSS, r.loss);
    tt_put_u16(p + TT_SAMPLE_RESULT_OFF_PREDICTED, (uint16_t)r.predicted);
    p[TT_SAMPLE_RESULT_OFF_CORRECT] = r.correct ? 1u : 0u;
    if (r.skipped) {
        flags |= TT_SAMPLE_FLAG_SKIPPED;
    }
    p[TT_SAMPLE_RESULT_OFF_FLAGS] = (uint8_t)flags;
    tt_put_u32(p + TT_SAMPLE_RESULT_OFF_TICKS, r.ticks);
    reply(proto, h, TT_SAMPLE_RESULT_BYTES);
}

static void execute_stats(tt_proto_t *proto, const tt_frame_header_t *h, size_t len)
{
    if (!payload_ok(proto, h, len, 0, false)) {
        return;
    }
    tt_trainer_stats_t s;
    tt_trainer_stats(proto->trainer, &s);
    uint32_t stack_bytes, stack_peak;
    tt_port_stack_usage(&stack_bytes, &stack_peak);
    const tt_trainer_counters_t *c = &s.counters;
    uint8_t *p = payload_out(proto);
    tt_put_u32(p + TT_STATS_OFF_TRAINED, c->trained);
    tt_put_u32(p + TT_STATS_OFF_TRAIN_CORRECT, c->train_correct);
    tt_put_f32(p + TT_STATS_OFF_TRAIN_LOSS_SUM, c->train_loss_sum);
    tt_put_u32(p + TT_STATS_OFF_EVALUATED, c->evaluated);
    tt_put_u32(p + TT_STATS_OFF_EVAL_CORRECT, c->eval_correct);
    tt_put_f32(p + TT_STATS_OFF_EVAL_LOSS_SUM, c->eval_loss_sum);
    tt_put_u64(p + TT_STATS_OFF_TRAIN_TICKS, c->train_ticks);
    tt_put_u64(p + TT_STATS_OFF_EVAL_TICKS, c->eval_ticks);
    tt_put_u32(p + TT_STATS_OFF_TICK_HZ, tt_port_tick_hz());
    tt_put_u32(p + TT_STATS_OFF_ARENA_BYTES, s.arena_bytes);
    tt_put_u32(p + TT_STATS_OFF_ARENA_USED, s.arena_used);
    tt_put_u32(p + TT_STATS_OFF_STACK_BYTES, stack_bytes);
    tt_put_u32(p + TT_STATS_OFF_STACK_PEAK, stack_peak);
    tt_put_u32(p + TT_STATS_OFF_PARAMS_BYTES, s.params_bytes);
    tt_put_u32(p + TT_STATS_OFF_COMMIT_SEQUENCE, s.commit_sequence);
    tt_put_u32(p + TT_STATS_OFF_SKIPPED, c->skipped);
    tt_put_u32(p + TT_STATS_OFF_DIVERGED, s.diverged ? 1u : 0u);
    reply(proto, h, TT_STATS_BYTES);
}

static void execute_pull(tt_proto_t *proto, const tt_frame_header_t *h, const uint8_t *payload, size_t len)
{
    if (!payload_ok(proto, h, len, TT_PULL_BYTES, false)) {
        return;
    }
    const uint32_t offset = tt_get_u32(payload + TT_PULL_OFF_OFFSET);
    uint8_t *p = payload_out(proto);
    uint32_t copied, total, detail;
    /* The image goes straight into the answer, after its header. */
    const tt_status_t status =
        tt_trainer_pull(proto->trainer, offset, tt_get_u16(payload + TT_PULL_OFF_LENGTH),
                        TT_MAX_PAYLOAD - TT_PULL_DATA_BYTES, p + TT_PULL_DATA_BYTES, &copied, &total, &detail);
    if (status != TT_STATUS_OK) {
        reply_error(proto, status, h->seq, h->opcode, detail);
        return;
    }
    tt_put_u32(p + TT_PULL_DATA_OFF_OFFSET, offset);
    tt_put_u32(p + TT_PULL_DATA_OFF_TOTAL, total);
    reply(proto, h, TT_PULL_DATA_BYTES + copied);
}

static void execute_profile(tt_proto_t *proto, const tt_frame_header_t *h, const uint8_t *payload, size_t len)
{
    if (!payload_ok(proto, h, len, TT_PROFILE_BYTES, false)) {
        return;
    }
    const uint32_t first = tt_get_u16(payload + TT_PROFILE_OFF_FIRST);
    tt_trainer_profile_t prof;
    uint32_t detail;
    tt_status_t status = tt_trainer_profile(proto->trainer, &prof, &detail);
    if (status == TT_STATUS_OK && first > prof.n_ops) {
        status = TT_STATUS_BAD_PAYLOAD;
        detail = prof.n_ops;
    }
    if (status != TT_STATUS_OK) {
        reply_error(proto, status, h->seq, h->opcode, detail);
        return;
    }
    const uint32_t room = (TT_MAX_PAYLOAD - TT_PROFILE_DATA_BYTES) / TT_PROFILE_RECORD_BYTES;
    const uint32_t count = prof.n_ops - first < room ? prof.n_ops - first : room;
    uint8_t *p = payload_out(proto);
    memset(p, 0, TT_PROFILE_DATA_BYTES);
    tt_put_u16(p + TT_PROFILE_DATA_OFF_N_OPS, (uint16_t)prof.n_ops);
    tt_put_u16(p + TT_PROFILE_DATA_OFF_FIRST, (uint16_t)first);
    tt_put_u16(p + TT_PROFILE_DATA_OFF_COUNT, (uint16_t)count);
    tt_put_u32(p + TT_PROFILE_DATA_OFF_TICK_HZ, tt_port_tick_hz());
    tt_put_u32(p + TT_PROFILE_DATA_OFF_TRAINED, prof.trained);
    tt_put_u32(p + TT_PROFILE_DATA_OFF_EVALUATED, prof.evaluated);
    tt_put_u64(p + TT_PROFILE_DATA_OFF_TRAIN_TICKS, prof.train_ticks);
    tt_put_u64(p + TT_PROFILE_DATA_OFF_EVAL_TICKS, prof.eval_ticks);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *r = p + TT_PROFILE_DATA_BYTES + i * TT_PROFILE_RECORD_BYTES;
        const tt_op_identity_t id = tt_executor_op_identity(&proto->trainer->ex, first + i);
        r[TT_PROFILE_RECORD_OFF_KIND] = id.kind;
        r[TT_PROFILE_RECORD_OFF_PHASE] = id.phase;
        tt_put_u16(r + TT_PROFILE_RECORD_OFF_LAYER, id.layer);
        tt_put_u32(r + TT_PROFILE_RECORD_OFF_RUNS, prof.ops[first + i].runs);
        tt_put_u64(r + TT_PROFILE_RECORD_OFF_TICKS, prof.ops[first + i].ticks);
    }
    if (tt_get_u16(payload + TT_PROFILE_OFF_FLAGS) & TT_PROFILE_FLAG_RESET) {
        tt_trainer_profile_reset(proto->trainer);
    }
    reply(proto, h, TT_PROFILE_DATA_BYTES + count * TT_PROFILE_RECORD_BYTES);
}

/* COMMIT, ROLLBACK, REVERT and RESET: empty requests. */
static void execute_state(tt_proto_t *proto, const tt_frame_header_t *h, size_t len)
{
    if (!payload_ok(proto, h, len, 0, false)) {
        return;
    }
    if (h->opcode == TT_OP_RESET) {
        proto->reset_requested = true;
        reply(proto, h, 0);
        return;
    }
    uint32_t sequence = 0, bytes = 0, detail;
    const tt_status_t status = h->opcode == TT_OP_COMMIT   ? tt_trainer_commit(proto->trainer, &sequence, &bytes, &detail)
                               : h->opcode == TT_OP_REVERT ? tt_trainer_revert(proto->trainer, &sequence, &bytes, &detail)
                                                           : tt_trainer_rollback(proto->trainer, &sequence, &detail);
    if (status != TT_STATUS_OK) {
        reply_error(proto, status, h->seq, h->opcode, detail);
        return;
    }
    uint8_t *p = payload_out(proto);
    tt_put_u32(p + TT_COMMIT_OFF_SEQUENCE, sequence);
    tt_put_u32(p + TT_COMMIT_OFF_BYTES, bytes);
    reply(proto, h, TT_COMMIT_BYTES);
}

static void execute_nonce(tt_proto_t *proto, const tt_frame_header_t *h, size_t len)
{
    if (!payload_ok(proto, h, len, 0, false)) {
        return;
    }
    const tt_status_t status = tt_auth_issue_nonce(&proto->auth, payload_out(proto) + TT_NONCE_OFF_NONCE);
    if (status != TT_STATUS_OK) {
        reply_error(proto, status, h->seq, h->opcode, 0);
        return;
    }
    reply(proto, h, TT_NONCE_BYTES);
}

/* With a key: check the trailer of a request that needs one and strip it from @p len, or
 * answer UNAUTHORIZED. The tag also covers proto->bound: the stored package's digest for
 * LOAD_END, the sample's for a training run. */
static bool authorized(tt_proto_t *proto, const tt_frame_header_t *h, const uint8_t *payload, size_t *len)
{
    if (!tt_auth_active(&proto->auth) || !tt_auth_needed(h->opcode, payload, *len)) {
        return true;
    }
    const uint8_t *bound = NULL;
    if (h->opcode == TT_OP_LOAD_END) {
        tt_sha256(proto->upload.area, proto->upload.active ? proto->upload.received : 0u, proto->bound);
        bound = proto->bound;
    } else if (h->opcode == TT_OP_SAMPLE_RUN) {
        tt_sha256_t sample = proto->input_digest; /* a refused run keeps the sample: finish a copy */
        tt_sha256_final(&sample, proto->bound);
        bound = proto->bound;
    }
    uint32_t detail;
    if (tt_auth_check(&proto->auth, h->opcode, payload, len, bound, &detail) != TT_STATUS_OK) {
        reply_error(proto, TT_STATUS_UNAUTHORIZED, h->seq, h->opcode, detail);
        return false;
    }
    return true;
}

/* Run one request whose frame passed the CRC. Only its header fields are trusted so far. */
static void execute(tt_proto_t *proto, const uint8_t *frame, size_t frame_len)
{
    const tt_frame_header_t h = tt_frame_header_read(frame);
    size_t payload_len = frame_len - TT_FRAME_HEADER_BYTES - TT_FRAME_CRC_BYTES;
    const uint8_t *payload = frame + TT_FRAME_HEADER_BYTES;

    if (h.version != TT_PROTOCOL_VERSION) {
        reply_error(proto, TT_STATUS_BAD_VERSION, h.seq, h.opcode, TT_PROTOCOL_VERSION);
        return;
    }
    if (h.length != payload_len) {
        reply_error(proto, TT_STATUS_TRUNCATED, h.seq, h.opcode, (uint32_t)payload_len);
        return;
    }
    if (!authorized(proto, &h, payload, &payload_len)) {
        return;
    }
    switch (h.opcode) {
    case TT_OP_HELLO:
        if (payload_len != 0) {
            reply_error(proto, TT_STATUS_BAD_PAYLOAD, h.seq, h.opcode, 0);
        } else {
            reply_info(proto, h.seq);
        }
        return;
    case TT_OP_PING:
        /* rx and tx are distinct buffers of the same size, so the echo always fits. */
        memcpy(payload_out(proto), payload, payload_len);
        proto->tx_len = tt_frame_finish(proto->tx, TT_OP_PONG, h.seq, payload_len);
        return;
    case TT_OP_LOAD_BEGIN:
    case TT_OP_LOAD_CHUNK:
    case TT_OP_LOAD_END:
        execute_load(proto, &h, payload, payload_len);
        return;
    case TT_OP_SAMPLE_DATA:
        execute_sample_data(proto, &h, payload, payload_len);
        return;
    case TT_OP_SAMPLE_PACKED:
        execute_sample_packed(proto, &h, payload, payload_len);
        return;
    case TT_OP_SET_BAUD:
        execute_set_baud(proto, &h, payload, payload_len);
        return;
    case TT_OP_SAMPLE_RUN:
        execute_sample_run(proto, &h, payload, payload_len);
        return;
    case TT_OP_STATS:
        execute_stats(proto, &h, payload_len);
        return;
    case TT_OP_PULL:
        execute_pull(proto, &h, payload, payload_len);
        return;
    case TT_OP_PROFILE:
        execute_profile(proto, &h, payload, payload_len);
        return;
    case TT_OP_NONCE:
        execute_nonce(proto, &h, payload_len);
        return;
    case TT_OP_COMMIT:
    case TT_OP_ROLLBACK:
    case TT_OP_REVERT:
    case TT_OP_RESET:
        execute_state(proto, &h, payload_len);
        return;
    default:
        reply_error(proto, TT_STATUS_UNKNOWN_OPCODE, h.seq, h.opcode, 0);
        return;
    }
}

static tt_status_t framing_status(tt_frame_event_t event)
{
    switch (event) {
    case TT_FRAME_TOO_LARGE:
        return TT_STATUS_TOO_LARGE;
    case TT_FRAME_BAD_CRC:
        return TT_STATUS_BAD_CRC;
    case TT_FRAME_TRUNCATED:
        return TT_STATUS_TRUNCATED;
    case TT_FRAME_BAD_COBS:
        return TT_STATUS_BAD_FRAMING;
    default:
        return TT_STATUS_INTERNAL;
    }
}

/* Run the UART at @p baud from the next byte on; what was half received is noise. */
static void switch_uart(tt_proto_t *proto, uint32_t baud)
{
    tt_port_uart_set_baud(baud);
    tt_frame_decoder_init(&proto->decoder, proto->decoder.buf, proto->decoder.cap);
    proto->baud_unconfirmed = baud != TT_DEFAULT_BAUD;
    proto->baud_since = tt_port_ticks();
}

void tt_proto_poll(tt_proto_t *proto)
{
    if (!proto->baud_unconfirmed) {
        return;
    }
    const uint64_t window = (uint64_t)tt_port_tick_hz() * TT_BAUD_CONFIRM_MS / 1000u;
    if ((uint64_t)(uint32_t)(tt_port_ticks() - proto->baud_since) >= window) {
        switch_uart(proto, TT_DEFAULT_BAUD);
    }
}

static void handle_event(tt_proto_t *proto, tt_frame_event_t event)
{
    if (event != TT_FRAME_READY) {
        /* Nothing in the header can be trusted: answer with the unknown sequence number
         * so the host retransmits whatever it was waiting for. The answer is built in its
         * own small buffer, keeping the last response for that retransmission. */
        const uint32_t detail = event == TT_FRAME_TOO_LARGE ? TT_MAX_FRAME_BYTES : 0;
        const size_t len = build_error(proto->framing_error, framing_status(event), TT_SEQ_UNKNOWN, 0, detail);
        tt_frame_send(proto->framing_error, len, proto->write, proto->write_ctx);
        return;
    }
    proto->baud_unconfirmed = false; /* an intact frame: the rate carries */
    const uint8_t *frame = proto->decoder.buf;
    const size_t len = proto->decoder.len;
    const tt_frame_header_t h = tt_frame_header_read(frame);
    const uint32_t crc = tt_get_u32(frame + len - TT_FRAME_CRC_BYTES);
    const bool repeat = proto->have_last && proto->last_seq == h.seq && proto->last_crc == crc;
    if (!repeat) {
        execute(proto, frame, len);
        proto->have_last = true;
        proto->last_seq = h.seq;
        proto->last_crc = crc;
    }
    tt_frame_send(proto->tx, proto->tx_len, proto->write, proto->write_ctx);
}

size_t tt_proto_feed(tt_proto_t *proto, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (proto->reset_requested) {
            return i; /* nothing after a RESET is executed: the device is about to restart */
        }
        const tt_frame_event_t event = tt_frame_decoder_push(&proto->decoder, data[i]);
        if (event != TT_FRAME_PENDING) {
            handle_event(proto, event);
        }
        if (proto->switch_to != 0u) {
            /* SET_BAUD's answer went out at the old rate; a switch before it has left would cut
             * its last bytes. The rest of this read came before the switch: noise to the new
             * rate (a host sends nothing until it has the answer). */
            tt_port_uart_flush();
            switch_uart(proto, proto->switch_to);
            proto->switch_to = 0;
            return len;
        }
    }
    return len;
}
