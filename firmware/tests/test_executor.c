/* The plan executor's loader and step on the host (run under ASan/UBSan by the host-asan
 * preset): the corruption corpus of tt_protocol.plan.corruptions() is refused with the
 * expected check; truncated, bit-flipped and re-sealed mutated packages never crash and the
 * unsealed ones are refused; a valid package trains, and its parameter image restores the
 * trained state exactly. Bit-exactness against the numpy reference: tests/test_executor.py. */
#include <math.h>

#include "executor_vectors.h"
#include "tt/crc32.h"
#include "tt/executor.h"
#include "tt/plan_gen.h"
#include "tt_test.h"

#define ARENA_BYTES (64u * 1024u)
#define PLAN_LEN ((uint32_t)sizeof tt_ev_plan)
#define WEIGHTS_LEN ((uint32_t)sizeof tt_ev_weights)
#define PACKAGE_LEN (PLAN_LEN + WEIGHTS_LEN)

static uint64_t arena_words[ARENA_BYTES / 8u];
static uint32_t plan_words[(PLAN_LEN + 3u) / 4u];
static uint32_t weights_words[(WEIGHTS_LEN + 3u) / 4u];
static uint32_t package_words[(PACKAGE_LEN + 3u) / 4u];

static uint8_t *arena(void) { return (uint8_t *)arena_words; }
static uint8_t *plan_buf(void) { return (uint8_t *)plan_words; }
static uint8_t *weights_buf(void) { return (uint8_t *)weights_words; }
static uint8_t *package(void) { return (uint8_t *)package_words; }

static uint32_t rng_state = 0x12345678u;
static uint32_t rand32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void reset_package(void)
{
    memcpy(package(), tt_ev_plan, PLAN_LEN);
    memcpy(package() + PLAN_LEN, tt_ev_weights, WEIGHTS_LEN);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void reseal(uint8_t *blob, uint32_t len)
{
    put_u32(blob + 12, tt_crc32(blob + TT_PLAN_CRC_START, len - TT_PLAN_CRC_START));
}

static void corpus_is_refused_with_the_expected_check(void)
{
    const uint32_t n = (uint32_t)(sizeof tt_ev_cases / sizeof tt_ev_cases[0]);
    CHECK(n >= 26, "corpus of %u cases", (unsigned)n);
    for (uint32_t i = 0; i < n; i++) {
        const tt_ev_case_t *c = &tt_ev_cases[i];
        memcpy(plan_buf(), tt_ev_plan, PLAN_LEN);
        memcpy(weights_buf(), tt_ev_weights, WEIGHTS_LEN);
        for (uint32_t j = 0; j < c->n_patches; j++) {
            const tt_ev_patch_t *p = &c->patches[j];
            memcpy((p->blob ? weights_buf() : plan_buf()) + p->offset, p->bytes, p->len);
        }
        tt_executor_t ex;
        uint32_t detail = 0xFFFFu;
        const tt_status_t st = tt_executor_load_blobs(&ex, plan_buf(), c->plan_len, weights_buf(), c->weights_len, arena(),
                                                      c->arena_limit ? c->arena_limit : ARENA_BYTES, &detail);
        CHECK(st == TT_STATUS_BAD_PLAN && detail == c->expected, "%s: status 0x%02x detail %u, want check %u", c->name,
              (unsigned)st, (unsigned)detail, (unsigned)c->expected);
        CHECK(!ex.loaded, "%s: left loaded", c->name);
    }
}

static tt_status_t load_package(tt_executor_t *ex, uint32_t len, uint32_t *detail)
{
    return tt_executor_load(ex, package(), len, arena(), ARENA_BYTES, detail);
}

static void fill_input(tt_executor_t *ex, uint32_t seed)
{
    static uint8_t x[16u * 16u * 3u];
    const uint32_t len = tt_executor_input_bytes(ex);
    CHECK(len <= sizeof x, "sample of %u bytes", (unsigned)len);
    for (uint32_t i = 0; i < len; i++) {
        x[i] = (uint8_t)((i * 2654435761u + seed * 40503u) >> 24);
    }
    CHECK(tt_executor_feed(ex, 0, x, len) == TT_STATUS_OK, "feed the sample");
}

static void valid_package_trains_and_restores(void)
{
    reset_package();
    tt_executor_t ex;
    uint32_t detail = 0xFFu;
    CHECK(load_package(&ex, PACKAGE_LEN, &detail) == TT_STATUS_OK && detail == 0, "valid package: detail %u",
          (unsigned)detail);
    CHECK(tt_executor_classes(&ex) == 3, "classes %u", (unsigned)tt_executor_classes(&ex));
    CHECK(tt_executor_arena_used(&ex) <= ARENA_BYTES && tt_executor_arena_used(&ex) > 0, "arena used %u",
          (unsigned)tt_executor_arena_used(&ex));
    CHECK(tt_executor_input_bytes(&ex) == 16u * 16u * 3u, "input of %u bytes", (unsigned)tt_executor_input_bytes(&ex));
    static const uint8_t piece[8];
    CHECK(tt_executor_feed(&ex, 16u * 16u * 3u - 4u, piece, 8) == TT_STATUS_SAMPLE_SIZE, "feed past the sample");
    CHECK(tt_executor_feed(&ex, 8, piece, 8) == TT_STATUS_OUT_OF_ORDER, "feed out of order");
    tt_step_result_t r;
    CHECK(tt_executor_step(&ex, 3, true, TT_SGD_SCALE_ONE, &r) == TT_STATUS_LABEL_RANGE, "label 3 of 3 classes");
    const uint32_t pbytes = tt_executor_params_bytes(&ex);
    static uint8_t before[4096], saved[4096], a[4096], b[4096];
    CHECK(pbytes > 4 && pbytes <= sizeof before, "params image of %u bytes", (unsigned)pbytes);
    tt_executor_params_read(&ex, 0, before, pbytes);
    CHECK(before[pbytes - 4] == 0 && before[pbytes - 3] == 0, "PRNG counter starts at 0");

    /* Evaluation changes nothing; training moves parameters and the PRNG. */
    fill_input(&ex, 1);
    CHECK(tt_executor_step(&ex, 1, false, TT_SGD_SCALE_ONE, &r) == TT_STATUS_OK && isfinite(r.loss) && r.loss >= 0.0f, "eval loss %f",
          (double)r.loss);
    CHECK(r.correct == (r.predicted == 1) && r.predicted >= 0 && r.predicted < 3, "prediction %d", (int)r.predicted);
    tt_executor_params_read(&ex, 0, a, pbytes);
    CHECK(memcmp(a, before, pbytes) == 0, "an evaluation step changed the parameters");
    for (uint32_t s = 0; s < 3; s++) {
        fill_input(&ex, s);
        CHECK(tt_executor_step(&ex, s % 3u, true, TT_SGD_SCALE_ONE, &r) == TT_STATUS_OK && isfinite(r.loss), "train step %u", (unsigned)s);
    }
    tt_executor_params_read(&ex, 0, saved, pbytes);
    CHECK(memcmp(saved, before, pbytes) != 0, "three training steps changed nothing");
    for (uint32_t s = 3; s < 6; s++) {
        fill_input(&ex, s);
        (void)tt_executor_step(&ex, s % 3u, true, TT_SGD_SCALE_ONE, &r);
    }
    tt_executor_params_read(&ex, 0, a, pbytes);

    /* Reload (factory state), restore the image saved after 3 steps, train the same 3 more. */
    CHECK(load_package(&ex, PACKAGE_LEN, &detail) == TT_STATUS_OK, "reload");
    tt_executor_params_read(&ex, 0, b, pbytes);
    CHECK(memcmp(b, before, pbytes) == 0, "reload restores the factory parameters");
    CHECK(tt_executor_params_write(&ex, saved, pbytes - 1) == TT_STATUS_BAD_PAYLOAD, "short image refused");
    CHECK(tt_executor_params_write(&ex, saved, pbytes) == TT_STATUS_OK, "restore");
    for (uint32_t s = 3; s < 6; s++) {
        fill_input(&ex, s);
        (void)tt_executor_step(&ex, s % 3u, true, TT_SGD_SCALE_ONE, &r);
    }
    tt_executor_params_read(&ex, 0, b, pbytes);
    CHECK(tt_test_bytes_equal("restored training", b, pbytes, a, pbytes), "restore + 3 steps != 6 steps");

    /* A sample fed in part is refused, and so is a step that reuses the last one's bytes. */
    uint8_t c[4096];
    tt_executor_params_read(&ex, 0, a, pbytes);
    CHECK(tt_executor_feed(&ex, 0, piece, 8) == TT_STATUS_OK, "a piece of a sample");
    CHECK(tt_executor_step(&ex, 0, true, TT_SGD_SCALE_ONE, &r) == TT_STATUS_SAMPLE_SIZE, "step on a partial sample");
    CHECK(tt_executor_step(&ex, 0, false, TT_SGD_SCALE_ONE, &r) == TT_STATUS_SAMPLE_SIZE, "eval of a partial sample");
    fill_input(&ex, 7);
    CHECK(tt_executor_step(&ex, 0, true, TT_SGD_SCALE_ONE + 1u, &r) == TT_STATUS_BAD_PAYLOAD, "scale above one");
    CHECK(tt_executor_step(&ex, 0, true, TT_SGD_SCALE_ONE, &r) == TT_STATUS_OK, "step on the whole sample");
    CHECK(tt_executor_step(&ex, 0, true, TT_SGD_SCALE_ONE, &r) == TT_STATUS_SAMPLE_SIZE, "step on a consumed sample");
    /* A scale of 0 moves nothing but the PRNG (every element still draws). */
    tt_executor_params_read(&ex, 0, a, pbytes);
    fill_input(&ex, 8);
    CHECK(tt_executor_step(&ex, 1, true, 0u, &r) == TT_STATUS_OK, "step at scale 0");
    tt_executor_params_read(&ex, 0, c, pbytes);
    CHECK(memcmp(a, c, pbytes - 4u) == 0 && memcmp(a + pbytes - 4u, c + pbytes - 4u, 4u) != 0,
          "scale 0 changed parameters or drew nothing");
    tt_executor_params_read(&ex, 0, a, pbytes);

    /* A window past the end is clipped. */
    uint8_t tail[8];
    memset(tail, 0xA5, sizeof tail);
    tt_executor_params_read(&ex, pbytes - 4, tail, sizeof tail);
    CHECK(memcmp(tail, a + pbytes - 4, 4) == 0 && tail[4] == 0xA5, "window over the end");

    tt_executor_unload(&ex);
    CHECK(tt_executor_step(&ex, 0, true, TT_SGD_SCALE_ONE, &r) == TT_STATUS_NO_PLAN, "step without a plan");
    CHECK(tt_executor_input_bytes(&ex) == 0 && tt_executor_feed(&ex, 0, piece, 8) == TT_STATUS_NO_PLAN,
          "input without a plan");
    CHECK(tt_executor_params_bytes(&ex) == 0, "params without a plan");
}

static void truncations_and_flips_are_refused(void)
{
    tt_executor_t ex;
    uint32_t detail;
    for (uint32_t len = 0; len < PACKAGE_LEN; len += 1u + len / 64u) {
        reset_package();
        CHECK(load_package(&ex, len, &detail) == TT_STATUS_BAD_PLAN, "truncated to %u bytes", (unsigned)len);
    }
    for (uint32_t i = 0; i < 3000; i++) {
        reset_package();
        const uint32_t flips = 1u + rand32() % 3u;
        for (uint32_t f = 0; f < flips; f++) {
            package()[rand32() % PACKAGE_LEN] ^= (uint8_t)(1u + rand32() % 255u);
        }
        CHECK(load_package(&ex, PACKAGE_LEN, &detail) == TT_STATUS_BAD_PLAN, "flip %u loaded", (unsigned)i);
    }
}

/* Mutations that pass the CRCs reach every deeper check; whatever loads must also step. */
static void resealed_mutations_never_crash(void)
{
    tt_executor_t ex;
    uint32_t detail, loaded = 0, refused[32] = {0};
    for (uint32_t i = 0; i < 6000; i++) {
        reset_package();
        uint8_t *plan = package(), *weights = package() + PLAN_LEN;
        const uint32_t edits = 1u + rand32() % 3u;
        for (uint32_t e = 0; e < edits; e++) {
            const uint32_t r = rand32();
            if (r % 8u == 0) {
                /* A byte of the weight blob's header or tensor table (re-sealed below, its CRC
                 * recorded in the plan). Not the tensor data: extreme int32 biases overflow the
                 * kernels' int32 accumulators, a kernel contract (see the report), not the loader's. */
                const uint32_t data = weights[TT_WEIGHTS_HEADER_OFF_DATA_OFFSET] |
                                      (uint32_t)weights[TT_WEIGHTS_HEADER_OFF_DATA_OFFSET + 1] << 8;
                weights[TT_PLAN_CRC_START + rand32() % (data - TT_PLAN_CRC_START)] ^= (uint8_t)(1u + r % 255u);
            } else if (r % 8u < 4u) { /* a small value near a table entry */
                const uint32_t at = TT_PLAN_CRC_START + (rand32() % (PLAN_LEN - TT_PLAN_CRC_START - 4u));
                put_u32(plan + (at & ~3u), rand32() % 16u == 0 ? 0xFFFFFFFFu : rand32() % 300u);
            } else {
                plan[TT_PLAN_CRC_START + rand32() % (PLAN_LEN - TT_PLAN_CRC_START)] ^= (uint8_t)(1u + r % 255u);
            }
        }
        reseal(weights, WEIGHTS_LEN);
        memcpy(plan + TT_PLAN_HEADER_OFF_WEIGHTS_CRC32, weights + 12, 4);
        reseal(plan, PLAN_LEN);
        const tt_status_t st = load_package(&ex, PACKAGE_LEN, &detail);
        if (st == TT_STATUS_OK) {
            loaded++;
            tt_step_result_t r;
            for (uint32_t s = 0; s < 2; s++) {
                fill_input(&ex, s);
                CHECK(tt_executor_step(&ex, s % tt_executor_classes(&ex), true, TT_SGD_SCALE_ONE, &r) == TT_STATUS_OK, "mutant step");
            }
        } else {
            CHECK(st == TT_STATUS_BAD_PLAN && detail > 0 && detail < 32, "status 0x%02x detail %u", (unsigned)st,
                  (unsigned)detail);
            refused[detail & 31u]++;
        }
    }
    printf("resealed mutations: %u loaded and stepped; refused by check:", (unsigned)loaded);
    for (uint32_t c = 0; c < 32; c++) {
        if (refused[c]) {
            printf(" %u:%u", (unsigned)c, (unsigned)refused[c]);
        }
    }
    printf("\n");
}

int main(void)
{
    corpus_is_refused_with_the_expected_check();
    valid_package_trains_and_restores();
    truncations_and_flips_are_refused();
    resealed_mutations_never_crash();
    return tt_test_report("test_executor");
}
