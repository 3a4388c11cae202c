/* The A/B weight store: commits, rollbacks, and a power cut at every single flash step of
 * a commit, after which the newest valid record must be the old one or the new one. All of
 * it on two pairs of slots: two equal sectors of the internal flash, and the port layout's
 * slots, unequal sectors of the external flash (host_port.h). */
#include "host_port.h"
#include "tt/port.h"
#include "tt/store.h"
#include "tt_test.h"

static uint8_t old_payload[4096];
static uint8_t new_payload[4096];
static uint8_t tag_old[TT_STORE_TAG_BYTES] = {1};
static uint8_t tag_new[TT_STORE_TAG_BYTES] = {2};
static uint8_t saved[TT_HOST_FLASH_BYTES];

static int is_record(tt_store_record_t r, const uint8_t *payload, uint32_t len, const uint8_t *tag)
{
    return r.valid && r.flags == 0 && r.length == len && memcmp(r.payload, payload, len) == 0 &&
           memcmp(r.tag, tag, TT_STORE_TAG_BYTES) == 0;
}

static void fill(uint8_t *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
}

static void empty_flash_has_no_record(tt_store_t *store)
{
    tt_host_flash_reset();
    CHECK(!tt_store_newest(store).valid, "erased flash must hold no record");
    tt_host_flash_sector(store->sector[0])[0] = 0x00; /* garbage in slot A is not a record */
    CHECK(!tt_store_newest(store).valid, "garbage must not parse as a record");
}

static void commits_alternate_slots(tt_store_t *store)
{
    tt_host_flash_reset();
    for (unsigned i = 1; i <= 5; i++) {
        fill(new_payload, sizeof new_payload, i);
        CHECK(tt_store_commit(store, new_payload, sizeof new_payload, tag_new) == TT_STORE_OK, "commit %u", i);
        const tt_store_record_t r = tt_store_newest(store);
        CHECK(is_record(r, new_payload, sizeof new_payload, tag_new), "commit %u readable", i);
        CHECK(r.sequence == i && r.slot == (int)((i - 1) % 2), "commit %u: sequence %u slot %d", i,
              (unsigned)r.sequence, r.slot);
    }
    CHECK(tt_store_rollback(store) == TT_STORE_OK, "rollback");
    const tt_store_record_t r = tt_store_newest(store);
    CHECK(r.valid && (r.flags & TT_STORE_FACTORY) && r.length == 0 && r.sequence == 6, "rollback record");
}

static void rejects_what_does_not_fit(tt_store_t *store)
{
    tt_host_flash_reset();
    CHECK(tt_store_commit(store, new_payload, tt_store_capacity(store) + 4, tag_new) == TT_STORE_TOO_LARGE,
          "over capacity");
    CHECK(tt_store_commit(store, new_payload, 6, tag_new) == TT_STORE_TOO_LARGE, "unaligned length");
    CHECK(!tt_store_newest(store).valid, "a refused commit writes nothing");
}

static void read_pattern(void *ctx, uint32_t offset, uint8_t *out, uint32_t len)
{
    CHECK(offset == *(uint32_t *)ctx, "pieces in order: %u, want %u", (unsigned)offset, (unsigned)*(uint32_t *)ctx);
    *(uint32_t *)ctx = offset + len;
    memcpy(out, new_payload + offset, len);
}

/* A streamed payload of any length: pieces asked for in order, the record reads back whole. */
static void streamed_write_of_odd_length(tt_store_t *store)
{
    tt_host_flash_reset();
    fill(new_payload, sizeof new_payload, 300);
    uint32_t next = 0;
    tt_store_written_t w;
    CHECK(tt_store_write(store, 0u, 1001u, tag_new, read_pattern, &next, &w) == TT_STORE_OK && next == 1001u,
          "streamed write");
    CHECK(is_record(tt_store_newest(store), new_payload, 1001u, tag_new) && w.sequence == 1 &&
              w.flash_at == tt_port_flash_sector(store->sector[0]).address,
          "streamed record");
    next = 0;
    CHECK(tt_store_write(store, 0u, tt_store_capacity(store) + 1u, tag_new, read_pattern, &next, &w) ==
              TT_STORE_TOO_LARGE && next == 0,
          "over capacity: nothing read");
    tt_host_flash_cut_after(10);
    next = 0;
    CHECK(tt_store_write(store, 0u, 1001u, tag_new, read_pattern, &next, &w) == TT_STORE_FLASH_ERROR &&
              w.flash_at == tt_port_flash_sector(store->sector[1]).address,
          "flash error names the slot");
    tt_host_flash_cut_after(-1);
}

/* Cut the power after k steps of a commit, for every k; the state must be old or new. */
static void power_cut_at_every_step(tt_store_t *store, int second_commit)
{
    tt_host_flash_reset();
    fill(old_payload, sizeof old_payload, 100);
    fill(new_payload, sizeof new_payload, 200);
    CHECK(tt_store_commit(store, old_payload, sizeof old_payload, tag_old) == TT_STORE_OK, "old commit");
    if (second_commit) { /* both slots hold a record: the older one gets overwritten */
        CHECK(tt_store_commit(store, old_payload, sizeof old_payload, tag_old) == TT_STORE_OK, "old commit 2");
    }
    memcpy(saved, tt_host_flash(), sizeof saved);

    tt_host_flash_cut_after(-1);
    CHECK(tt_store_commit(store, new_payload, sizeof new_payload, tag_new) == TT_STORE_OK, "uncut commit");
    const long total = tt_host_flash_steps();
    int saw_old = 0, saw_new = 0;
    for (long k = 0; k <= total; k++) {
        memcpy(tt_host_flash(), saved, sizeof saved);
        tt_host_flash_cut_after(k);
        const tt_store_result_t result = tt_store_commit(store, new_payload, sizeof new_payload, tag_new);
        tt_host_flash_cut_after(-1); /* power back on: reboot and look */
        const tt_store_record_t r = tt_store_newest(store);
        const int is_old = is_record(r, old_payload, sizeof old_payload, tag_old);
        const int is_new = is_record(r, new_payload, sizeof new_payload, tag_new);
        CHECK(is_old || is_new, "cut after %ld of %ld steps: neither old nor new record", k, total);
        CHECK(k < total || (result == TT_STORE_OK && is_new), "uncut commit must land");
        CHECK(result == TT_STORE_OK || !is_new || k == total, "a failed commit reported success");
        saw_old += is_old;
        saw_new += is_new;
    }
    CHECK(saw_old > 0 && saw_new > 0, "cuts must produce both outcomes (old %d, new %d)", saw_old, saw_new);
}

static void run_all(size_t slot_a, size_t slot_b, uint32_t capacity)
{
    tt_store_t store;
    tt_store_init(&store, slot_a, slot_b);
    CHECK(tt_store_capacity(&store) == capacity - sizeof(tt_store_header_t), "capacity of slots %zu, %zu", slot_a,
          slot_b);
    empty_flash_has_no_record(&store);
    commits_alternate_slots(&store);
    rejects_what_does_not_fit(&store);
    streamed_write_of_odd_length(&store);
    power_cut_at_every_step(&store, 0);
    power_cut_at_every_step(&store, 1);
}

int main(void)
{
    run_all(6u, 7u, 256u * 1024u);
    const tt_flash_layout_t *layout = tt_port_flash_layout();
    run_all(layout->slot_a, layout->slot_b, 256u * 1024u); /* the smaller slot bounds a record */
    return tt_test_report("store");
}
