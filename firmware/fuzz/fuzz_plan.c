/* libFuzzer harness: the plan and weight validator (plan_check.c, executor_check.c) behind
 * tt_executor_load(), and what a loaded plan then runs.
 *
 * Input: `flags (1 byte) | package`. Flag bit 0 seals the package first (its CRCs made to
 * hold: fuzz_seal_package()) so that mutations reach the checks behind the CRCs; without it
 * the CRC checks themselves are fuzzed. The load must answer OK or BAD_PLAN. A package it
 * accepts is trusted from then on ("validate once, trust in the step loop"), so the harness
 * holds it to that: it feeds a sample (bytes from the flags), runs a step (bit 1: training,
 * bits 4-7: the label), and reads back and rewrites the parameter image; ASan/UBSan and the
 * kernels' debug checks must stay silent. */
#include <string.h>

#include "fuzz_common.h"
#include "tt/executor.h"
#include "tt/kernels/sgd.h"

#define FLAG_SEAL 0x1u
#define FLAG_TRAIN 0x2u

static uint64_t arena[TT_ARENA_BYTES / 8u];
static uint64_t package_words[(256u * 1024u) / 8u]; /* 4-byte aligned, as the model area is */
static uint8_t sample[64u * 1024u];
static uint8_t params[64u * 1024u];
static tt_executor_t ex;

/* Run one sample through a plan the loader accepted. */
static void exercise(uint8_t flags)
{
    const uint32_t input = tt_executor_input_bytes(&ex);
    FUZZ_REQUIRE(tt_executor_arena_used(&ex) <= sizeof arena, "plan uses %u arena bytes", tt_executor_arena_used(&ex));
    FUZZ_REQUIRE(tt_executor_classes(&ex) > 0u, "a loaded plan has no classes");
    if (input > sizeof sample) {
        return; /* larger than any seed's; the load's checks were the point */
    }
    memset(sample, flags, input);
    /* Two pieces, as SAMPLE_DATA frames bring them (a streamed plan computes as rows arrive). */
    const uint32_t half = input / 2u;
    FUZZ_REQUIRE(tt_executor_feed(&ex, 0, sample, half) == TT_STATUS_OK, "first half of a %u-byte sample", input);
    FUZZ_REQUIRE(tt_executor_feed(&ex, half, sample + half, input - half) == TT_STATUS_OK, "second half");
    const uint32_t label = (uint32_t)(flags >> 4) % tt_executor_classes(&ex);
    tt_step_result_t r;
    const tt_status_t status = tt_executor_step(&ex, label, (flags & FLAG_TRAIN) != 0u, TT_SGD_SCALE_ONE, &r);
    FUZZ_REQUIRE(status == TT_STATUS_OK || status == TT_STATUS_DIVERGED, "step answered %d", (int)status);
    FUZZ_REQUIRE(status != TT_STATUS_OK || (r.predicted >= 0 && (uint32_t)r.predicted < tt_executor_classes(&ex)),
                 "predicted class %d", (int)r.predicted);
    const uint32_t image = tt_executor_params_bytes(&ex);
    if (image <= sizeof params) {
        tt_executor_params_read(&ex, 0, params, image);
        FUZZ_REQUIRE(tt_executor_params_write(&ex, params, image) == TT_STATUS_OK,
                     "the image just read (%u bytes) is refused", image);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1u || size - 1u > sizeof package_words) {
        return 0;
    }
    const uint8_t flags = data[0];
    uint8_t *package = (uint8_t *)package_words;
    const uint32_t len = (uint32_t)(size - 1u);
    memcpy(package, data + 1, len);
    if (flags & FLAG_SEAL) {
        fuzz_seal_package(package, len);
    }
    uint32_t detail = 0;
    const tt_status_t status = tt_executor_load(&ex, package, len, (uint8_t *)arena, (uint32_t)sizeof arena, &detail);
    FUZZ_REQUIRE(status == TT_STATUS_OK || status == TT_STATUS_BAD_PLAN, "load answered %d", (int)status);
    if (status == TT_STATUS_OK) {
        exercise(flags);
    } else {
        FUZZ_REQUIRE(detail != 0u, "a refused plan names no check");
    }
    tt_executor_unload(&ex);
    return 0;
}
