/* The training requests end to end through tt_proto_feed(), on the RAM flash of the host
 * port, with the real package of executor_vectors.h: upload and load, samples against a
 * reference executor stepping the same samples, STATS, PULL, COMMIT and a simulated reboot
 * that restores the image, a power cut at every flash step of a COMMIT (the reboot finds the
 * old state or the new one, nothing else), ROLLBACK, RESET, and the refusals: sample size and
 * order, label range, training step, model mismatch, corrupt packages, garbage in flash.
 * The link: compressed samples (SAMPLE_PACKED) evaluate as the same sample sent raw, and a
 * malformed one changes nothing; a SET_BAUD switch is kept once a frame confirms it and given
 * up after TT_BAUD_CONFIRM_MS otherwise. */
#include <math.h>

#include "executor_vectors.h"
#include "host_port.h"
#include "tt/crc32.h"
#include "tt/executor.h"
#include "tt/plan_gen.h"
#include "tt/proto.h"
#include "tt/trainer.h"
#include "tt_test.h"

#define ARENA_BYTES (64u * 1024u)
#define PLAN_LEN ((uint32_t)sizeof tt_ev_plan)
#define PACKAGE_LEN (PLAN_LEN + (uint32_t)sizeof tt_ev_weights)
#define INPUT_BYTES (16u * 16u * 3u)
#define CLASSES 3u
#define MODEL_AREA 0x80000u

static const tt_board_info_t board = {"host", 327680u, 1048576u, 216000000u};

static uint64_t arena_words[2][ARENA_BYTES / 8u];
static uint64_t ref_arena_words[ARENA_BYTES / 8u];
static uint32_t package_words[(PACKAGE_LEN + 3u) / 4u];
static uint8_t *package(void) { return (uint8_t *)package_words; }

/* -- a device: trainer and endpoint on one of two arenas (two boots of the same flash) ---- */

typedef struct {
    tt_trainer_t trainer;
    tt_proto_t proto;
    uint8_t rx[TT_MAX_FRAME_BYTES];
    uint8_t tx[TT_MAX_FRAME_BYTES];
    uint8_t out[4 * TT_MAX_FRAME_BYTES];
    size_t out_len;
    uint16_t seq;
} device_t;

static device_t devices[2];

static void capture(void *ctx, const uint8_t *data, size_t len)
{
    device_t *d = ctx;
    if (d->out_len + len <= sizeof d->out) {
        memcpy(d->out + d->out_len, data, len);
    }
    d->out_len += len;
}

/* Power on: what tt_trainer_init() finds in flash decides the plan and its parameters. */
static device_t *boot(int which)
{
    device_t *d = &devices[which];
    tt_trainer_init(&d->trainer, (uint8_t *)arena_words[which], ARENA_BYTES, tt_port_flash_layout());
    tt_proto_init(&d->proto, d->rx, d->tx, capture, d, &board, &d->trainer);
    d->seq = (uint16_t)(100u + 1000u * (unsigned)which);
    return d;
}

/* The answer to one request. */
typedef struct {
    uint8_t opcode;
    uint8_t status; /* of an ERROR; TT_STATUS_OK otherwise */
    uint32_t detail;
    uint8_t payload[TT_MAX_PAYLOAD];
    size_t len;
} answer_t;

static void wire_to(void *ctx, const uint8_t *data, size_t len) { capture(ctx, data, len); }

/* Send one request (a fresh sequence number) and decode the one answer it must get. */
static answer_t request(device_t *d, uint8_t opcode, const uint8_t *payload, size_t len)
{
    static uint8_t frame[TT_MAX_FRAME_BYTES];
    static device_t wire; /* only its out buffer: the encoded request */
    if (len != 0) {
        memcpy(frame + TT_FRAME_HEADER_BYTES, payload, len);
    }
    const size_t n = tt_frame_finish(frame, opcode, d->seq++, len);
    wire.out_len = 0;
    tt_frame_send(frame, n, wire_to, &wire);
    d->out_len = 0;
    tt_proto_feed(&d->proto, wire.out, wire.out_len);

    answer_t a;
    memset(&a, 0, sizeof a);
    static uint8_t dec_buf[TT_MAX_FRAME_BYTES];
    tt_frame_decoder_t dec;
    tt_frame_decoder_init(&dec, dec_buf, sizeof dec_buf);
    int frames = 0;
    for (size_t i = 0; i < d->out_len; i++) {
        if (tt_frame_decoder_push(&dec, d->out[i]) != TT_FRAME_READY) {
            continue;
        }
        frames++;
        const tt_frame_header_t h = tt_frame_header_read(dec_buf);
        a.opcode = h.opcode;
        a.len = h.length;
        memcpy(a.payload, dec_buf + TT_FRAME_HEADER_BYTES, h.length);
        if (h.opcode == TT_OP_ERROR) {
            a.status = a.payload[TT_ERROR_OFF_STATUS];
            a.detail = tt_get_u32(a.payload + TT_ERROR_OFF_DETAIL);
        }
    }
    CHECK(frames == 1, "request 0x%02x got %d answers", opcode, frames);
    return a;
}

static answer_t empty(device_t *d, uint8_t opcode) { return request(d, opcode, NULL, 0); }

static int refused(answer_t a, tt_status_t status, uint32_t detail)
{
    return a.opcode == TT_OP_ERROR && a.status == status && a.detail == detail;
}

static int ok(answer_t a, uint8_t request_opcode) { return a.opcode == (uint8_t)(request_opcode | 0x80u); }

/* -- requests ------------------------------------------------------------------------------ */

static answer_t begin(device_t *d, const uint8_t *pkg, uint32_t len, uint32_t flags, const uint8_t *model)
{
    uint8_t p[TT_LOAD_BEGIN_BYTES];
    tt_put_u32(p + TT_LOAD_BEGIN_OFF_TOTAL_BYTES, len);
    tt_put_u32(p + TT_LOAD_BEGIN_OFF_CRC32, tt_crc32(pkg, len));
    tt_put_u32(p + TT_LOAD_BEGIN_OFF_FLAGS, flags);
    memcpy(p + TT_LOAD_BEGIN_OFF_MODEL_HASH, model, 32);
    return request(d, TT_OP_LOAD_BEGIN, p, sizeof p);
}

/* A whole transfer, resumed where the device stands; the answer to LOAD_END. */
static answer_t upload(device_t *d, const uint8_t *pkg, uint32_t len, uint32_t flags, const uint8_t *model)
{
    const answer_t started = begin(d, pkg, len, flags, model);
    CHECK(ok(started, TT_OP_LOAD_BEGIN), "LOAD_BEGIN");
    uint8_t p[TT_MAX_PAYLOAD];
    /* From where the device stands: the same package again resumes (or is complete). */
    for (uint32_t at = tt_get_u32(started.payload + TT_LOAD_PROGRESS_OFF_RECEIVED); at < len; at += 1000u) {
        const uint32_t n = len - at < 1000u ? len - at : 1000u;
        tt_put_u32(p, at);
        memcpy(p + TT_LOAD_CHUNK_BYTES, pkg + at, n);
        CHECK(ok(request(d, TT_OP_LOAD_CHUNK, p, TT_LOAD_CHUNK_BYTES + n), TT_OP_LOAD_CHUNK), "chunk at %u",
              (unsigned)at);
    }
    return empty(d, TT_OP_LOAD_END);
}

static const uint8_t *model_of(const uint8_t *pkg) { return pkg + TT_PLAN_HEADER_OFF_MODEL_HASH; }

static void make_sample(uint8_t *x, uint32_t seed)
{
    for (uint32_t i = 0; i < INPUT_BYTES; i++) {
        x[i] = (uint8_t)((i * 2654435761u + seed * 40503u) >> 24);
    }
}

static answer_t sample_data(device_t *d, uint32_t offset, const uint8_t *data, uint32_t len)
{
    uint8_t p[TT_MAX_PAYLOAD];
    tt_put_u32(p + TT_SAMPLE_DATA_OFF_OFFSET, offset);
    memcpy(p + TT_SAMPLE_DATA_BYTES, data, len);
    return request(d, TT_OP_SAMPLE_DATA, p, TT_SAMPLE_DATA_BYTES + len);
}

/* The sample in two chunks (the second one not word sized). */
static void send_sample(device_t *d, const uint8_t *x)
{
    answer_t a = sample_data(d, 0, x, 500);
    CHECK(ok(a, TT_OP_SAMPLE_DATA) && tt_get_u32(a.payload + TT_SAMPLE_PROGRESS_OFF_RECEIVED) == 500 &&
              tt_get_u32(a.payload + TT_SAMPLE_PROGRESS_OFF_INPUT_BYTES) == INPUT_BYTES,
          "first sample chunk");
    a = sample_data(d, 500, x + 500, INPUT_BYTES - 500);
    CHECK(ok(a, TT_OP_SAMPLE_DATA) && tt_get_u32(a.payload + TT_SAMPLE_PROGRESS_OFF_RECEIVED) == INPUT_BYTES,
          "second sample chunk");
}

static answer_t run(device_t *d, uint32_t step, uint32_t label, bool train)
{
    uint8_t p[TT_SAMPLE_RUN_BYTES];
    tt_put_u32(p + TT_SAMPLE_RUN_OFF_STEP, step);
    tt_put_u16(p + TT_SAMPLE_RUN_OFF_LABEL, (uint16_t)label);
    tt_put_u16(p + TT_SAMPLE_RUN_OFF_FLAGS, train ? (uint16_t)(TT_SAMPLE_FLAG_TRAIN | 0x8000u) : 0u);
    tt_put_u32(p + TT_SAMPLE_RUN_OFF_LR_SCALE, TT_SGD_SCALE_ONE);
    return request(d, TT_OP_SAMPLE_RUN, p, sizeof p);
}

static float get_f32(const uint8_t *p)
{
    const uint32_t bits = tt_get_u32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static answer_t pull(device_t *d, uint32_t offset, uint32_t length)
{
    uint8_t p[TT_PULL_BYTES];
    tt_put_u32(p + TT_PULL_OFF_OFFSET, offset);
    tt_put_u16(p + TT_PULL_OFF_LENGTH, (uint16_t)length);
    return request(d, TT_OP_PULL, p, sizeof p);
}

/* The whole parameter image, in uneven pieces; its size. */
static uint32_t pull_all(device_t *d, uint8_t *out, uint32_t cap)
{
    uint32_t got = 0, total = 1;
    while (got < total) {
        const answer_t a = pull(d, got, 333);
        if (!ok(a, TT_OP_PULL)) {
            CHECK(0, "PULL at %u refused: 0x%02x", (unsigned)got, a.status);
            return 0;
        }
        total = tt_get_u32(a.payload + TT_PULL_DATA_OFF_TOTAL);
        const uint32_t n = (uint32_t)(a.len - TT_PULL_DATA_BYTES);
        CHECK(tt_get_u32(a.payload + TT_PULL_DATA_OFF_OFFSET) == got && total <= cap && n > 0, "pull piece");
        if (n == 0 || got + n > cap) {
            return 0;
        }
        memcpy(out + got, a.payload + TT_PULL_DATA_BYTES, n);
        got += n;
    }
    return total;
}

static uint32_t stat_u32(device_t *d, uint32_t offset)
{
    const answer_t a = empty(d, TT_OP_STATS);
    CHECK(ok(a, TT_OP_STATS) && a.len == TT_STATS_BYTES, "STATS");
    return tt_get_u32(a.payload + offset);
}

/* -- the reference: the same package and samples on a plain executor ------------------------ */

static tt_executor_t ref;
static uint32_t ref_package_words[(PACKAGE_LEN + 3u) / 4u];

static void ref_load(void)
{
    memcpy(ref_package_words, package(), PACKAGE_LEN);
    uint32_t detail;
    CHECK(tt_executor_load(&ref, (const uint8_t *)ref_package_words, PACKAGE_LEN, (uint8_t *)ref_arena_words,
                           ARENA_BYTES, &detail) == TT_STATUS_OK,
          "reference load: check %u", (unsigned)detail);
}

static tt_step_result_t ref_step(const uint8_t *x, uint32_t label, bool train)
{
    CHECK(tt_executor_feed(&ref, 0, x, INPUT_BYTES) == TT_STATUS_OK, "reference sample");
    tt_step_result_t r;
    CHECK(tt_executor_step(&ref, label, train, TT_SGD_SCALE_ONE, &r) == TT_STATUS_OK, "reference step");
    return r;
}

/* Train sample @p s on the device and the reference; their answers must agree bit for bit. */
static void train_both(device_t *d, uint32_t s, uint32_t step)
{
    uint8_t x[INPUT_BYTES];
    make_sample(x, s);
    send_sample(d, x);
    const answer_t a = run(d, step, s % CLASSES, true);
    const tt_step_result_t want = ref_step(x, s % CLASSES, true);
    const float loss = get_f32(a.payload + TT_SAMPLE_RESULT_OFF_LOSS);
    CHECK(ok(a, TT_OP_SAMPLE_RUN) && memcmp(&loss, &want.loss, sizeof loss) == 0 &&
              tt_get_u16(a.payload + TT_SAMPLE_RESULT_OFF_PREDICTED) == (uint16_t)want.predicted &&
              a.payload[TT_SAMPLE_RESULT_OFF_CORRECT] == (want.correct ? 1u : 0u) &&
              tt_get_u32(a.payload + TT_SAMPLE_RESULT_OFF_TRAINED) == step + 1u &&
              a.payload[TT_SAMPLE_RESULT_OFF_FLAGS] == TT_SAMPLE_FLAG_TRAIN,
          "sample %u: loss %f want %f", (unsigned)s, (double)loss, (double)want.loss);
}

static uint8_t image_a[8192], image_b[8192], image_got[8192], factory[8192];

static uint32_t ref_image(uint8_t *out)
{
    const uint32_t n = tt_executor_params_bytes(&ref);
    tt_executor_params_read(&ref, 0, out, n);
    return n;
}

/* -- tests --------------------------------------------------------------------------------- */

static void fresh_device_has_no_plan(void)
{
    tt_host_flash_reset();
    device_t *d = boot(0);
    answer_t a = empty(d, TT_OP_HELLO);
    static const uint8_t zeros[64];
    CHECK(ok(a, TT_OP_HELLO) && memcmp(a.payload + TT_INFO_OFF_PLAN_HASH, zeros, 64) == 0, "no hashes");
    CHECK(refused(run(d, 0, 0, true), TT_STATUS_NO_PLAN, 0), "no plan: SAMPLE_RUN");
    CHECK(stat_u32(d, TT_STATS_OFF_ARENA_BYTES) == ARENA_BYTES && stat_u32(d, TT_STATS_OFF_ARENA_USED) == 0 &&
              stat_u32(d, TT_STATS_OFF_TICK_HZ) == 1000000u && stat_u32(d, TT_STATS_OFF_PARAMS_BYTES) == 0,
          "STATS without a plan");
    /* Garbage and half-written packages in the model area: the boot finds nothing to run. */
    uint32_t rng = 99;
    for (int round = 0; round < 50; round++) {
        tt_host_flash_reset();
        uint8_t *area = tt_host_flash() + MODEL_AREA;
        if (round % 2 == 0) {
            for (uint32_t i = 0; i < PACKAGE_LEN + 64u; i++) {
                rng = rng * 1103515245u + 12345u;
                area[i] = (uint8_t)(rng >> 16);
            }
            if (round % 4 == 0) { /* a plausible header with a random length */
                memcpy(area, tt_ev_plan, TT_PLAN_HEADER_BYTES);
            }
        } else {
            memcpy(area, package(), PACKAGE_LEN);
            area[(uint32_t)round * 97u % PACKAGE_LEN] ^= 0x10u;
        }
        d = boot(0);
        CHECK(tt_trainer_plan_hash(&d->trainer) == NULL, "round %d: garbage loaded", round);
    }
}

static void refusals_of_packages(void)
{
    tt_host_flash_reset();
    device_t *d = boot(0);
    static const uint8_t other_model[32] = {1, 2, 3};
    /* The transfer's CRC holds but the plan does not validate. */
    static uint32_t broken_words[(PACKAGE_LEN + 3u) / 4u];
    uint8_t *broken = (uint8_t *)broken_words;
    memcpy(broken, package(), PACKAGE_LEN);
    broken[PLAN_LEN - 9u] ^= 0x01u;
    CHECK(refused(upload(d, broken, PACKAGE_LEN, 0, model_of(broken)), TT_STATUS_BAD_PLAN, TT_PLAN_CHECK_BAD_CRC),
          "corrupt plan");
    CHECK(refused(empty(d, TT_OP_LOAD_END), TT_STATUS_BAD_PLAN, TT_PLAN_CHECK_BAD_CRC), "again: same refusal");
    CHECK(tt_trainer_plan_hash(&d->trainer) == NULL && refused(run(d, 0, 0, true), TT_STATUS_NO_PLAN, 0),
          "a refused package does not run");
    /* Announced for another model. */
    CHECK(refused(upload(d, package(), PACKAGE_LEN, 0, other_model), TT_STATUS_MODEL_MISMATCH, 0),
          "LOAD_END model mismatch");
    CHECK(tt_trainer_plan_hash(&d->trainer) == NULL, "mismatched package not loaded");
    /* The refused package is still the transfer's: announcing it rightly resumes at its end. */
    answer_t a = begin(d, package(), PACKAGE_LEN, 0, model_of(package()));
    CHECK(ok(a, TT_OP_LOAD_BEGIN) && tt_get_u32(a.payload + TT_LOAD_PROGRESS_OFF_RECEIVED) == PACKAGE_LEN,
          "resume after a refusal");
    CHECK(ok(empty(d, TT_OP_LOAD_END), TT_OP_LOAD_END), "valid package");
    /* Loaded: another model's package needs REPLACE_MODEL; a refused begin changes nothing. */
    CHECK(refused(begin(d, broken, 64, 0, other_model), TT_STATUS_MODEL_MISMATCH, 0), "LOAD_BEGIN mismatch");
    CHECK(tt_trainer_plan_hash(&d->trainer) != NULL, "the plan survives a refused begin");
    CHECK(ok(begin(d, broken, 64, TT_LOAD_FLAG_REPLACE_MODEL, other_model), TT_OP_LOAD_BEGIN), "replace");
    CHECK(tt_trainer_plan_hash(&d->trainer) == NULL, "a new transfer unloads the plan");
}

static void training_commit_reboot_rollback(void)
{
    tt_host_flash_reset();
    device_t *d = boot(0);
    CHECK(ok(upload(d, package(), PACKAGE_LEN, 0, model_of(package())), TT_OP_LOAD_END), "upload");
    answer_t a = empty(d, TT_OP_HELLO);
    CHECK(memcmp(a.payload + TT_INFO_OFF_PLAN_HASH, package() + TT_PLAN_HEADER_OFF_PLAN_HASH, 32) == 0 &&
              memcmp(a.payload + TT_INFO_OFF_MODEL_HASH, model_of(package()), 32) == 0,
          "INFO names the plan and its model");
    ref_load();
    const uint32_t pbytes = ref_image(factory);
    CHECK(pull_all(d, image_got, sizeof image_got) == pbytes && memcmp(image_got, factory, pbytes) == 0,
          "factory image");

    /* Refusals that change nothing (x has room for the overlong chunks). */
    uint8_t x[2u * INPUT_BYTES] = {0};
    make_sample(x, 1000);
    CHECK(refused(run(d, 0, 0, false), TT_STATUS_SAMPLE_SIZE, INPUT_BYTES), "run without a sample");
    CHECK(refused(sample_data(d, 0, x, INPUT_BYTES + 1u), TT_STATUS_SAMPLE_SIZE, INPUT_BYTES),
          "sample data past the input");
    CHECK(ok(sample_data(d, 0, x, 100), TT_OP_SAMPLE_DATA), "first 100 bytes");
    CHECK(refused(sample_data(d, 200, x + 200, 100), TT_STATUS_OUT_OF_ORDER, 100), "a gap");
    CHECK(refused(sample_data(d, 100, x + 100, INPUT_BYTES), TT_STATUS_SAMPLE_SIZE, INPUT_BYTES), "overrun");
    CHECK(refused(run(d, 0, 0, true), TT_STATUS_SAMPLE_SIZE, INPUT_BYTES), "run with part of a sample");
    CHECK(ok(sample_data(d, 100, x + 100, INPUT_BYTES - 100u), TT_OP_SAMPLE_DATA), "rest of the sample");
    CHECK(refused(run(d, 0, CLASSES, true), TT_STATUS_LABEL_RANGE, CLASSES), "label out of range");
    CHECK(refused(run(d, 1, 0, true), TT_STATUS_OUT_OF_ORDER, 0), "wrong step");
    CHECK(refused(pull(d, pbytes + 1u, 4), TT_STATUS_BAD_PAYLOAD, pbytes), "pull past the image");
    CHECK(refused(pull(d, 0, TT_MAX_PAYLOAD), TT_STATUS_BAD_PAYLOAD, TT_MAX_PAYLOAD - TT_PULL_DATA_BYTES),
          "pull more than an answer holds");
    a = pull(d, pbytes, 16);
    CHECK(ok(a, TT_OP_PULL) && a.len == TT_PULL_DATA_BYTES, "pull at the end: empty");
    CHECK(pull_all(d, image_got, sizeof image_got) == pbytes && memcmp(image_got, factory, pbytes) == 0,
          "refusals changed nothing");

    /* An evaluation (of the sample sent above), then training: answers as the reference's. */
    a = run(d, 12345, 2, false);
    const tt_step_result_t want = ref_step(x, 2, false);
    float eval_loss = get_f32(a.payload + TT_SAMPLE_RESULT_OFF_LOSS);
    CHECK(ok(a, TT_OP_SAMPLE_RUN) && memcmp(&eval_loss, &want.loss, 4) == 0 &&
              tt_get_u32(a.payload + TT_SAMPLE_RESULT_OFF_TRAINED) == 0 && a.payload[TT_SAMPLE_RESULT_OFF_FLAGS] == 0,
          "evaluation");
    CHECK(refused(run(d, 0, 0, false), TT_STATUS_SAMPLE_SIZE, INPUT_BYTES), "a run consumes the sample");
    float loss_sum = 0.0f;
    for (uint32_t s = 0; s < 4; s++) {
        train_both(d, s, s);
    }
    /* The loss sum in float32, in run order, as the device keeps it: replay on a reload. */
    {
        tt_executor_t again;
        static uint64_t again_arena[ARENA_BYTES / 8u];
        uint32_t detail;
        (void)tt_executor_load(&again, (const uint8_t *)ref_package_words, PACKAGE_LEN, (uint8_t *)again_arena,
                               ARENA_BYTES, &detail);
        for (uint32_t s = 0; s < 4; s++) {
            make_sample(x, s);
            (void)tt_executor_feed(&again, 0, x, INPUT_BYTES);
            tt_step_result_t r;
            (void)tt_executor_step(&again, s % CLASSES, true, TT_SGD_SCALE_ONE, &r);
            loss_sum += r.loss;
        }
    }
    a = empty(d, TT_OP_STATS);
    const uint8_t *st = a.payload;
    const float got_sum = get_f32(st + TT_STATS_OFF_TRAIN_LOSS_SUM);
    eval_loss = get_f32(st + TT_STATS_OFF_EVAL_LOSS_SUM);
    CHECK(tt_get_u32(st + TT_STATS_OFF_TRAINED) == 4 && tt_get_u32(st + TT_STATS_OFF_EVALUATED) == 1 &&
              memcmp(&got_sum, &loss_sum, 4) == 0 && memcmp(&eval_loss, &want.loss, 4) == 0 &&
              tt_get_u32(st + TT_STATS_OFF_EVAL_CORRECT) == (want.correct ? 1u : 0u) &&
              tt_get_u32(st + TT_STATS_OFF_ARENA_USED) == tt_executor_arena_used(&ref) &&
              tt_get_u32(st + TT_STATS_OFF_PARAMS_BYTES) == pbytes &&
              tt_get_u32(st + TT_STATS_OFF_COMMIT_SEQUENCE) == 0 && tt_get_u32(st + TT_STATS_OFF_STACK_BYTES) == 0,
          "STATS after 4 training runs and 1 evaluation");
    ref_image(image_a);
    CHECK(pull_all(d, image_got, sizeof image_got) == pbytes &&
              tt_test_bytes_equal("trained image", image_got, pbytes, image_a, pbytes),
          "PULL equals the reference image");
    CHECK(memcmp(image_a, factory, pbytes) != 0, "training changed nothing");

    /* COMMIT, then a reboot from the same flash: the image and the count come back. */
    a = empty(d, TT_OP_COMMIT);
    CHECK(ok(a, TT_OP_COMMIT) && tt_get_u32(a.payload + TT_COMMIT_OFF_SEQUENCE) == 1 &&
              tt_get_u32(a.payload + TT_COMMIT_OFF_BYTES) == 4u + pbytes,
          "COMMIT");
    device_t *d2 = boot(1);
    CHECK(pull_all(d2, image_got, sizeof image_got) == pbytes && memcmp(image_got, image_a, pbytes) == 0,
          "reboot restores the committed image");
    CHECK(stat_u32(d2, TT_STATS_OFF_TRAINED) == 4 && stat_u32(d2, TT_STATS_OFF_EVALUATED) == 0 &&
              stat_u32(d2, TT_STATS_OFF_COMMIT_SEQUENCE) == 1,
          "reboot restores the trained count");
    /* Training continues bit for bit as if no reboot had happened. */
    train_both(d2, 4, 4);
    ref_image(image_b);
    CHECK(pull_all(d2, image_got, sizeof image_got) == pbytes && memcmp(image_got, image_b, pbytes) == 0,
          "training after the restore");

    /* A power cut at every flash step of the next COMMIT: a reboot finds A or B, whole. */
    static uint8_t saved[TT_HOST_FLASH_BYTES];
    memcpy(saved, tt_host_flash(), sizeof saved);
    tt_host_flash_cut_after(-1);
    CHECK(ok(empty(d2, TT_OP_COMMIT), TT_OP_COMMIT), "uncut commit");
    const long total = tt_host_flash_steps();
    int saw_a = 0, saw_b = 0;
    for (long k = 0; k <= total; k++) {
        memcpy(tt_host_flash(), saved, sizeof saved);
        tt_host_flash_cut_after(k);
        a = empty(d2, TT_OP_COMMIT);
        tt_host_flash_cut_after(-1);
        CHECK(ok(a, TT_OP_COMMIT) || (a.status == TT_STATUS_FLASH_ERROR && k < total), "cut after %ld: 0x%02x", k,
              a.status);
        device_t *after = boot(0);
        const uint32_t n = pull_all(after, image_got, sizeof image_got);
        const uint32_t trained = stat_u32(after, TT_STATS_OFF_TRAINED);
        const int is_a = n == pbytes && memcmp(image_got, image_a, pbytes) == 0 && trained == 4;
        const int is_b = n == pbytes && memcmp(image_got, image_b, pbytes) == 0 && trained == 5;
        CHECK(is_a || is_b, "cut after %ld of %ld steps: neither state (trained %u)", k, total, (unsigned)trained);
        CHECK(!ok(a, TT_OP_COMMIT) || is_b, "cut after %ld: COMMITTED but the old state came back", k);
        saw_a += is_a;
        saw_b += is_b;
    }
    printf("COMMIT cut at each of its %ld flash steps: %d old, %d new\n", total, saw_a, saw_b);
    CHECK(saw_a > 0 && saw_b > 0 && total > 100, "both outcomes (A %d, B %d) of %ld steps", saw_a, saw_b, total);

    /* ROLLBACK: factory parameters at once and after a reboot. */
    const uint32_t seq = stat_u32(d2, TT_STATS_OFF_COMMIT_SEQUENCE);
    a = empty(d2, TT_OP_ROLLBACK);
    CHECK(ok(a, TT_OP_ROLLBACK) && tt_get_u32(a.payload + TT_COMMIT_OFF_SEQUENCE) == seq + 1u &&
              tt_get_u32(a.payload + TT_COMMIT_OFF_BYTES) == 0,
          "ROLLBACK");
    CHECK(pull_all(d2, image_got, sizeof image_got) == pbytes && memcmp(image_got, factory, pbytes) == 0 &&
              stat_u32(d2, TT_STATS_OFF_TRAINED) == 0,
          "rolled back at once");
    d = boot(0);
    CHECK(pull_all(d, image_got, sizeof image_got) == pbytes && memcmp(image_got, factory, pbytes) == 0 &&
              stat_u32(d, TT_STATS_OFF_TRAINED) == 0,
          "rolled back after a reboot");

    /* Only a commit for this plan, of this plan's image size, is restored. */
    static uint8_t payload[8192];
    uint8_t tag[TT_STORE_TAG_BYTES];
    memcpy(payload + 4, image_a, pbytes);
    tt_put_u32(payload, 4);
    memcpy(tag, package() + TT_PLAN_HEADER_OFF_PLAN_HASH, sizeof tag);
    tag[31] ^= 1u;
    CHECK(tt_store_commit(&d->trainer.store, payload, (4u + pbytes + 3u) & ~3u, tag) == TT_STORE_OK, "commit");
    d = boot(0);
    CHECK(pull_all(d, image_got, sizeof image_got) == pbytes && memcmp(image_got, factory, pbytes) == 0,
          "another plan's record is not restored");
    tag[31] ^= 1u;
    CHECK(tt_store_commit(&d->trainer.store, payload, (4u + pbytes + 4u + 3u) & ~3u, tag) == TT_STORE_OK, "commit");
    d = boot(0);
    CHECK(pull_all(d, image_got, sizeof image_got) == pbytes && memcmp(image_got, factory, pbytes) == 0 &&
              stat_u32(d, TT_STATS_OFF_TRAINED) == 0,
          "a record of another size is not restored");
}

static void reset_stops_reading(void)
{
    tt_host_flash_reset();
    device_t *d = boot(0);
    static uint8_t frames[64], frame[32];
    static device_t wire;
    wire.out_len = 0;
    size_t n = tt_frame_finish(frame, TT_OP_RESET, 7, 0);
    tt_frame_send(frame, n, wire_to, &wire);
    n = tt_frame_finish(frame, TT_OP_HELLO, 8, 0);
    tt_frame_send(frame, n, wire_to, &wire);
    memcpy(frames, wire.out, wire.out_len);
    d->out_len = 0;
    const size_t used = tt_proto_feed(&d->proto, frames, wire.out_len);
    CHECK(tt_proto_reset_requested(&d->proto), "reset requested");
    CHECK(used < wire.out_len, "bytes after RESET consumed (%zu of %zu)", used, wire.out_len);
    static uint8_t dec_buf[TT_MAX_FRAME_BYTES];
    tt_frame_decoder_t dec;
    tt_frame_decoder_init(&dec, dec_buf, sizeof dec_buf);
    int answers = 0;
    for (size_t i = 0; i < d->out_len; i++) {
        if (tt_frame_decoder_push(&dec, d->out[i]) == TT_FRAME_READY) {
            answers++;
            CHECK(tt_frame_header_read(dec_buf).opcode == TT_OP_RESETTING, "RESETTING");
        }
    }
    CHECK(answers == 1, "%d answers", answers);
}

static answer_t sample_packed(device_t *d, uint32_t offset, uint32_t decoded, uint8_t stride, const uint8_t *stream,
                              uint32_t len)
{
    uint8_t p[TT_MAX_PAYLOAD];
    tt_put_u32(p + TT_SAMPLE_PACKED_OFF_OFFSET, offset);
    tt_put_u16(p + TT_SAMPLE_PACKED_OFF_DECODED, (uint16_t)decoded);
    p[TT_SAMPLE_PACKED_OFF_STRIDE] = stride;
    p[TT_SAMPLE_PACKED_OFF_RESERVED] = 0;
    if (len != 0u) {
        memcpy(p + TT_SAMPLE_PACKED_BYTES, stream, len);
    }
    return request(d, TT_OP_SAMPLE_PACKED, p, TT_SAMPLE_PACKED_BYTES + len);
}

/* PackBits literal runs of @p x[0..n) (at most 128 a run); the stream's length. */
static uint32_t literals(const uint8_t *x, uint32_t n, uint8_t *stream)
{
    uint32_t out = 0;
    for (uint32_t at = 0; at < n; at += 128u) {
        const uint32_t k = n - at < 128u ? n - at : 128u;
        stream[out++] = (uint8_t)(k - 1u);
        memcpy(stream + out, x + at, k);
        out += k;
    }
    return out;
}

static float eval_loss(device_t *d)
{
    const answer_t a = run(d, 0, 1, false);
    CHECK(ok(a, TT_OP_SAMPLE_RUN), "evaluation");
    return get_f32(a.payload + TT_SAMPLE_RESULT_OFF_LOSS);
}

static void packed_samples(void)
{
    tt_host_flash_reset();
    device_t *d = boot(0);
    CHECK(ok(upload(d, package(), PACKAGE_LEN, 0, model_of(package())), TT_OP_LOAD_END), "load");
    uint8_t x[INPUT_BYTES], deltas[INPUT_BYTES], stream[TT_MAX_PAYLOAD];
    make_sample(x, 77);
    send_sample(d, x);
    const float raw = eval_loss(d);

    /* The same sample as left-neighbour deltas (stride 3: the channels), literal runs. */
    for (uint32_t i = 0; i < INPUT_BYTES; i++) {
        deltas[i] = (uint8_t)(x[i] - (i >= 3u ? x[i - 3u] : 0u));
    }
    uint32_t n = literals(deltas, INPUT_BYTES, stream);
    answer_t a = sample_packed(d, 0, INPUT_BYTES, 3, stream, n);
    CHECK(ok(a, TT_OP_SAMPLE_PACKED) && tt_get_u32(a.payload + TT_SAMPLE_PROGRESS_OFF_RECEIVED) == INPUT_BYTES,
          "packed sample accepted whole");
    float packed = eval_loss(d);
    CHECK(memcmp(&packed, &raw, sizeof raw) == 0, "packed sample evaluates as raw: %g vs %g", packed, raw);

    /* Refusals, each changing nothing: 100 raw bytes stay, then the rest arrives packed. */
    CHECK(ok(sample_data(d, 0, x, 100), TT_OP_SAMPLE_DATA), "first 100 bytes raw");
    n = literals(x + 100, INPUT_BYTES - 100u, stream);
    CHECK(refused(sample_packed(d, 100, INPUT_BYTES - 100u, 17, stream, n), TT_STATUS_BAD_PAYLOAD,
                  TT_PACKED_MAX_STRIDE), "stride above the limit");
    CHECK(refused(sample_packed(d, 100, INPUT_BYTES - 99u, 0, stream, n), TT_STATUS_SAMPLE_SIZE, INPUT_BYTES),
          "decodes past the input");
    CHECK(refused(sample_packed(d, 200, INPUT_BYTES - 200u, 0, stream, n), TT_STATUS_OUT_OF_ORDER, 100), "a gap");
    CHECK(refused(sample_packed(d, 100, INPUT_BYTES - 101u, 0, stream, n), TT_STATUS_BAD_PAYLOAD, n),
          "decodes to another length");
    CHECK(refused(sample_packed(d, 100, INPUT_BYTES - 100u, 0, stream, n - 1u), TT_STATUS_BAD_PAYLOAD, 645u),
          "last literal run cut short");
    const uint8_t invalid[] = {0x81u, 0x05u, 0x80u};
    CHECK(refused(sample_packed(d, 100, 128, 0, invalid, sizeof invalid), TT_STATUS_BAD_PAYLOAD, 2), "control 0x80");
    const uint8_t lone[] = {0x81u};
    CHECK(refused(sample_packed(d, 100, 128, 0, lone, sizeof lone), TT_STATUS_BAD_PAYLOAD, 0), "repeat without byte");
    CHECK(ok(sample_packed(d, 100, 0, 0, NULL, 0), TT_OP_SAMPLE_PACKED), "an empty stream: nothing to add");
    a = sample_packed(d, 100, INPUT_BYTES - 100u, 0, stream, n);
    CHECK(ok(a, TT_OP_SAMPLE_PACKED) && tt_get_u32(a.payload + TT_SAMPLE_PROGRESS_OFF_RECEIVED) == INPUT_BYTES,
          "the rest, packed");
    packed = eval_loss(d);
    CHECK(memcmp(&packed, &raw, sizeof raw) == 0, "refusals changed nothing: %g vs %g", packed, raw);

    /* Repeat runs: a constant sample (128 + 128 + ... copies). */
    uint32_t len = 0;
    for (uint32_t left = INPUT_BYTES; left > 0; left -= left < 128u ? left : 128u) {
        stream[len++] = (uint8_t)(257u - (left < 128u ? left : 128u));
        stream[len++] = 0x11u;
    }
    memset(x, 0x11, sizeof x);
    send_sample(d, x);
    const float constant = eval_loss(d);
    CHECK(ok(sample_packed(d, 0, INPUT_BYTES, 0, stream, len), TT_OP_SAMPLE_PACKED), "repeat runs");
    packed = eval_loss(d);
    CHECK(memcmp(&packed, &constant, sizeof constant) == 0, "repeat runs evaluate as raw");
}

static answer_t set_baud(device_t *d, uint32_t baud)
{
    uint8_t p[TT_SET_BAUD_BYTES];
    tt_put_u32(p + TT_SET_BAUD_OFF_BAUD, baud);
    return request(d, TT_OP_SET_BAUD, p, sizeof p);
}

static void baud_switch_and_fallback(void)
{
    tt_host_flash_reset();
    device_t *d = boot(0);
    answer_t a = set_baud(d, 921600u);
    CHECK(ok(a, TT_OP_SET_BAUD) && tt_get_u32(a.payload + TT_BAUD_OFF_BAUD) == 108000000u / 117u &&
              tt_get_u32(a.payload + TT_BAUD_OFF_CONFIRM_MS) == TT_BAUD_CONFIRM_MS,
          "BAUD_SET: the rate USART1 makes and the confirm window");
    CHECK(tt_host_uart_baud() == 921600u, "switched after the answer");
    tt_proto_poll(&d->proto);
    CHECK(tt_host_uart_baud() == 921600u, "still inside the window");
    tt_host_clock_advance(TT_BAUD_CONFIRM_MS * 1000u + 1000u);
    tt_proto_poll(&d->proto);
    CHECK(tt_host_uart_baud() == TT_DEFAULT_BAUD, "no frame confirmed it: back to the default");

    CHECK(ok(set_baud(d, 460800u), TT_OP_SET_BAUD), "switch again");
    CHECK(ok(empty(d, TT_OP_HELLO), TT_OP_HELLO), "a frame at the new rate");
    tt_host_clock_advance(10u * TT_BAUD_CONFIRM_MS * 1000u);
    tt_proto_poll(&d->proto);
    CHECK(tt_host_uart_baud() == 460800u, "confirmed: kept");
    a = set_baud(d, TT_DEFAULT_BAUD);
    CHECK(ok(a, TT_OP_SET_BAUD) && tt_get_u32(a.payload + TT_BAUD_OFF_CONFIRM_MS) == 0u, "back to the default");
    CHECK(refused(set_baud(d, 20000000u), TT_STATUS_BAD_PAYLOAD, 108000000u / 16u), "too fast: the highest");
    CHECK(tt_host_uart_baud() == TT_DEFAULT_BAUD, "a refusal changes nothing");
}

int main(void)
{
    memcpy(package(), tt_ev_plan, PLAN_LEN);
    memcpy(package() + PLAN_LEN, tt_ev_weights, sizeof tt_ev_weights);
    fresh_device_has_no_plan();
    refusals_of_packages();
    training_commit_reboot_rollback();
    reset_stops_reading();
    packed_samples();
    baud_switch_and_fallback();
    return tt_test_report("trainer");
}
