/* libFuzzer harness: the A/B store's boot-time restore (store.c, through tt_trainer_init() as
 * main.c boots) from an arbitrary image of the two parameter slots.
 *
 * Input: `flags (1 byte) | a_len (u16 LE) | slot A's first a_len bytes | slot B's first bytes`;
 * the rest of each slot reads erased. Flags help the fuzzer past the CRCs and tags:
 *   bit 0 / bit 1  seal slot A / B: magic, payload and header CRCs made to hold
 *   bit 2          tag both records with the running plan's hash (before sealing)
 *   bit 3          give both records the length a commit of that plan has
 *   bit 4          the model area holds a package (firmware/tests/executor_vectors.h's plan),
 *                  so a valid record is restored into its parameters; else it is erased
 *   bit 5          after the boot, train one sample on the restored parameters
 *   bit 6          then COMMIT, and boot again: the commit must be the newest record and
 *                  restore exactly the parameters it saved
 *   bit 7          then ROLLBACK: the newest record must be the factory one
 * Whatever the slots hold, the boot must not crash, the newest record must lie inside its
 * slot, and a restored record must be exactly the parameters the trainer runs with. */
#include <stdbool.h>
#include <string.h>

#include "fuzz_common.h"
#include "host_port.h"
#include "tt/crc32.h"
#include "tt/frame.h"
#include "tt/plan_gen.h"
#include "tt/kernels/sgd.h"
#include "tt/trainer.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-const-variable" /* the corruption cases are not used here */
#include "executor_vectors.h"
#pragma GCC diagnostic pop

#define FLAG_SEAL_A 0x01u
#define FLAG_SEAL_B 0x02u
#define FLAG_TAG 0x04u
#define FLAG_LENGTH 0x08u
#define FLAG_PACKAGE 0x10u
#define FLAG_TRAIN 0x20u
#define FLAG_COMMIT 0x40u
#define FLAG_ROLLBACK 0x80u
#define COUNT_BYTES 4u /* a commit's payload: the trained count, then the parameter image */

static uint64_t arena[TT_ARENA_BYTES / 8u];
static tt_trainer_t trainer;
static uint8_t plan_hash[TT_STORE_TAG_BYTES];
static uint32_t commit_bytes; /* COUNT_BYTES + the package's parameter image */
static uint8_t image[64u * 1024u];

static tt_flash_sector_t slot(int which)
{
    const tt_flash_layout_t *layout = tt_port_flash_layout();
    return tt_port_flash_sector(which == 0 ? layout->slot_a : layout->slot_b);
}

static void boot(void)
{
    tt_trainer_init(&trainer, (uint8_t *)arena, (uint32_t)sizeof arena, tt_port_flash_layout());
}

static uint8_t *slot_bytes(int which)
{
    const tt_flash_layout_t *layout = tt_port_flash_layout();
    return tt_host_flash_sector(which == 0 ? layout->slot_a : layout->slot_b);
}

/* Erase the slots, and put the package in the model area or erase its start. */
static void prepare_flash(bool package)
{
    memset(slot_bytes(0), 0xFF, slot(0).size);
    memset(slot_bytes(1), 0xFF, slot(1).size);
    uint8_t *area = tt_host_flash_sector(tt_port_flash_layout()->model_first);
    if (package) {
        memcpy(area, tt_ev_plan, sizeof tt_ev_plan);
        memcpy(area + sizeof tt_ev_plan, tt_ev_weights, sizeof tt_ev_weights);
    } else {
        memset(area, 0xFF, sizeof tt_ev_plan + sizeof tt_ev_weights);
    }
}

/* The package's plan hash and commit size, which the flags write into records. */
static void learn_package(void)
{
    prepare_flash(true);
    boot();
    FUZZ_REQUIRE(tt_trainer_plan_hash(&trainer) != NULL, "the vectors' package does not load");
    memcpy(plan_hash, tt_trainer_plan_hash(&trainer), sizeof plan_hash);
    commit_bytes = COUNT_BYTES + tt_executor_params_bytes(&trainer.ex);
}

/* Write @p len bytes of the input into slot @p s, then apply the flags. */
static void write_slot(int s, const uint8_t *data, size_t len, uint8_t flags)
{
    const tt_flash_sector_t sector = slot(s);
    uint8_t *at = slot_bytes(s);
    memcpy(at, data, len < sector.size ? len : sector.size);
    if (flags & FLAG_TAG) {
        memcpy(at + offsetof(tt_store_header_t, tag), plan_hash, sizeof plan_hash);
    }
    if (flags & FLAG_LENGTH) {
        tt_put_u32(at + offsetof(tt_store_header_t, length), commit_bytes);
    }
    if (flags & (s == 0 ? FLAG_SEAL_A : FLAG_SEAL_B)) {
        tt_put_u32(at + offsetof(tt_store_header_t, magic), TT_STORE_MAGIC);
        const uint32_t room = sector.size - (uint32_t)sizeof(tt_store_header_t);
        uint32_t length = tt_get_u32(at + offsetof(tt_store_header_t, length));
        if (length > room) {
            length = room;
            tt_put_u32(at + offsetof(tt_store_header_t, length), length);
        }
        tt_put_u32(at + offsetof(tt_store_header_t, payload_crc), tt_crc32(at + sizeof(tt_store_header_t), length));
        tt_put_u32(at + offsetof(tt_store_header_t, header_crc),
                   tt_crc32(at, offsetof(tt_store_header_t, header_crc)));
    }
}

/* The newest record lies inside its slot; restored parameters are the record's. */
static void check_boot(void)
{
    const tt_store_record_t r = tt_store_newest(&trainer.store);
    if (r.valid) {
        FUZZ_REQUIRE(r.slot == 0 || r.slot == 1, "slot %d", r.slot);
        const tt_flash_sector_t sector = slot(r.slot);
        FUZZ_REQUIRE(r.payload == sector.address + sizeof(tt_store_header_t) &&
                         r.length <= sector.size - sizeof(tt_store_header_t),
                     "a %u-byte record outside its slot", r.length);
    }
    if (trainer.restored_sequence == 0u) {
        return;
    }
    FUZZ_REQUIRE(r.valid && r.sequence == trainer.restored_sequence && r.length == commit_bytes &&
                     memcmp(r.tag, plan_hash, sizeof plan_hash) == 0 && (r.flags & TT_STORE_FACTORY) == 0u,
                 "restored sequence %u is not the newest record's", trainer.restored_sequence);
    const uint32_t n = commit_bytes - COUNT_BYTES;
    FUZZ_REQUIRE(n <= sizeof image, "parameter image of %u bytes", n);
    tt_executor_params_read(&trainer.ex, 0, image, n);
    FUZZ_REQUIRE(memcmp(image, r.payload + COUNT_BYTES, n) == 0, "the running parameters are not the record's");
    FUZZ_REQUIRE(trainer.counters.trained == tt_get_u32(r.payload), "trained count not restored");
}

static void train_one(uint8_t seed)
{
    const uint32_t input = tt_trainer_input_bytes(&trainer);
    static uint8_t sample[64u * 1024u];
    uint32_t detail;
    FUZZ_REQUIRE(input <= sizeof sample, "sample of %u bytes", input);
    memset(sample, seed, input);
    FUZZ_REQUIRE(tt_trainer_sample_data(&trainer, 0, sample, input, &detail) == TT_STATUS_OK, "SAMPLE_DATA");
    tt_trainer_result_t result;
    const tt_status_t status = tt_trainer_sample_run(&trainer, trainer.counters.trained, seed % 3u, true,
                                                     TT_SGD_SCALE_ONE, &result, &detail);
    FUZZ_REQUIRE(status == TT_STATUS_OK || status == TT_STATUS_DIVERGED, "SAMPLE_RUN answered %d", (int)status);
}

static void commit_and_reboot(void)
{
    const tt_store_record_t before = tt_store_newest(&trainer.store);
    uint32_t sequence, bytes, detail;
    FUZZ_REQUIRE(tt_trainer_commit(&trainer, &sequence, &bytes, &detail) == TT_STATUS_OK, "COMMIT failed");
    FUZZ_REQUIRE(sequence == (before.valid ? before.sequence + 1u : 1u), "commit sequence %u after %u", sequence,
                 before.valid ? before.sequence : 0u);
    static uint8_t saved[64u * 1024u];
    tt_executor_params_read(&trainer.ex, 0, saved, commit_bytes - COUNT_BYTES);
    const uint32_t trained = trainer.counters.trained;
    boot();
    check_boot();
    FUZZ_REQUIRE(trainer.restored_sequence == sequence, "boot restored %u, not the commit %u",
                 trainer.restored_sequence, sequence);
    tt_executor_params_read(&trainer.ex, 0, image, commit_bytes - COUNT_BYTES);
    FUZZ_REQUIRE(memcmp(image, saved, commit_bytes - COUNT_BYTES) == 0 && trainer.counters.trained == trained,
                 "the commit did not restore what it saved");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3u) {
        return 0;
    }
    const uint8_t flags = data[0];
    size_t a_len = fuzz_u16(data + 1);
    data += 3;
    size -= 3;
    if (a_len > size) {
        a_len = size;
    }
    if (commit_bytes == 0u) {
        learn_package();
    }
    prepare_flash((flags & FLAG_PACKAGE) != 0u);
    write_slot(0, data, a_len, flags);
    write_slot(1, data + a_len, size - a_len, flags);
    boot();
    check_boot();
    if (tt_trainer_plan_hash(&trainer) == NULL) {
        return 0;
    }
    if (flags & FLAG_TRAIN) {
        train_one(flags);
    }
    if (flags & FLAG_COMMIT) {
        commit_and_reboot();
    }
    if (flags & FLAG_ROLLBACK) {
        uint32_t sequence, detail;
        FUZZ_REQUIRE(tt_trainer_rollback(&trainer, &sequence, &detail) == TT_STATUS_OK, "ROLLBACK failed");
        const tt_store_record_t r = tt_store_newest(&trainer.store);
        FUZZ_REQUIRE(r.valid && r.sequence == sequence && (r.flags & TT_STORE_FACTORY) != 0u && r.length == 0u,
                     "the rollback is not the newest record");
        FUZZ_REQUIRE(trainer.restored_sequence == 0u, "parameters restored after a rollback");
    }
    return 0;
}
