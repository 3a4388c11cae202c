#include "tt/store.h"

#include <string.h>

#include "tt/crc32.h"
#include "tt/port.h"

#define HEADER_CRC_SPAN offsetof(tt_store_header_t, header_crc)

/* The header is programmed as whole words and read back by layout: no padding allowed. */
typedef char header_has_no_padding[(sizeof(tt_store_header_t) == 5 * 4 + TT_STORE_TAG_BYTES + 4) ? 1 : -1];

void tt_store_init(tt_store_t *store, size_t sector_a, size_t sector_b)
{
    store->sector[0] = sector_a;
    store->sector[1] = sector_b;
}

static tt_flash_sector_t slot_sector(const tt_store_t *store, int slot)
{
    return tt_port_flash_sector(store->sector[slot]);
}

uint32_t tt_store_capacity(const tt_store_t *store)
{
    const uint32_t a = slot_sector(store, 0).size;
    const uint32_t b = slot_sector(store, 1).size;
    const uint32_t smaller = a < b ? a : b;
    return smaller > sizeof(tt_store_header_t) ? smaller - (uint32_t)sizeof(tt_store_header_t) : 0u;
}

/* The slot's record if both CRCs hold. The header is copied out of flash because flash
 * contents are untrusted until checked: nothing is dereferenced past the slot. */
static bool read_slot(const tt_store_t *store, int slot, tt_store_header_t *header, const uint8_t **payload)
{
    const tt_flash_sector_t sector = slot_sector(store, slot);
    if (sector.size < sizeof(tt_store_header_t)) {
        return false;
    }
    const uint8_t *base = sector.address;
    memcpy(header, base, sizeof *header);
    if (header->magic != TT_STORE_MAGIC || tt_crc32((const uint8_t *)header, HEADER_CRC_SPAN) != header->header_crc ||
        header->length > sector.size - sizeof(tt_store_header_t)) {
        return false;
    }
    *payload = base + sizeof(tt_store_header_t);
    return tt_crc32(*payload, header->length) == header->payload_crc;
}

/* Serial-number comparison: robust to the sequence wrapping after 2^32 commits. */
static bool newer(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

tt_store_record_t tt_store_newest(const tt_store_t *store)
{
    tt_store_record_t best = {.valid = false, .slot = -1};
    for (int slot = 0; slot < 2; slot++) {
        tt_store_header_t header;
        const uint8_t *payload;
        if (!read_slot(store, slot, &header, &payload) || (best.valid && !newer(header.sequence, best.sequence))) {
            continue;
        }
        best.valid = true;
        best.sequence = header.sequence;
        best.flags = header.flags;
        best.payload = payload;
        best.length = header.length;
        best.tag = slot_sector(store, slot).address + offsetof(tt_store_header_t, tag);
        best.slot = slot;
    }
    return best;
}

/* Bytes programmed per piece of a streamed payload: small enough for any stack, a multiple of
 * the flash word. */
#define PIECE_BYTES 256u

tt_store_result_t tt_store_write(const tt_store_t *store, uint32_t flags, uint32_t len,
                                 const uint8_t tag[TT_STORE_TAG_BYTES], tt_store_read_fn read, void *ctx,
                                 tt_store_written_t *written)
{
    tt_store_written_t where = {0u, NULL};
    if (len > tt_store_capacity(store)) {
        if (written != NULL) {
            *written = where;
        }
        return TT_STORE_TOO_LARGE;
    }
    const tt_store_record_t newest = tt_store_newest(store);
    /* Write over the slot that does not hold the newest record: that one must survive. */
    const int slot = newest.slot == 0 ? 1 : 0;
    const uint8_t *const slot_at = slot_sector(store, slot).address;
    tt_store_header_t header;
    memset(&header, 0, sizeof header);
    header.magic = TT_STORE_MAGIC;
    header.sequence = newest.valid ? newest.sequence + 1u : 1u;
    header.flags = flags;
    header.length = len;
    if (tag != NULL) {
        memcpy(header.tag, tag, TT_STORE_TAG_BYTES);
    }
    where.sequence = header.sequence;
    where.flash_at = slot_at;

    tt_store_result_t result = TT_STORE_OK;
    if (tt_port_flash_erase(store->sector[slot]) != 0) {
        result = TT_STORE_FLASH_ERROR;
    }
    uint32_t crc = TT_CRC32_INIT;
    for (uint32_t done = 0; result == TT_STORE_OK && done < len;) {
        uint8_t piece[PIECE_BYTES];
        const uint32_t n = len - done < PIECE_BYTES ? len - done : PIECE_BYTES;
        read(ctx, done, piece, n);
        crc = tt_crc32_update(crc, piece, n);
        const uint32_t words = (n + 3u) & ~3u;
        memset(piece + n, 0xFF, words - n); /* erased value: programs nothing */
        const uint8_t *const at = slot_at + sizeof header + done;
        if (tt_port_flash_program(at, piece, words) != 0) {
            where.flash_at = at;
            result = TT_STORE_FLASH_ERROR;
        }
        done += n;
    }
    if (result == TT_STORE_OK) {
        /* The commit point: until the header is there, the slot fails its checks. */
        header.payload_crc = crc;
        header.header_crc = tt_crc32((const uint8_t *)&header, HEADER_CRC_SPAN);
        if (tt_port_flash_program(slot_at, (const uint8_t *)&header, sizeof header) != 0) {
            result = TT_STORE_FLASH_ERROR;
        }
    }
    if (written != NULL) {
        *written = where;
    }
    return result;
}

static void read_memory(void *ctx, uint32_t offset, uint8_t *out, uint32_t len)
{
    memcpy(out, (const uint8_t *)ctx + offset, len);
}

tt_store_result_t tt_store_commit(const tt_store_t *store, const uint8_t *payload, uint32_t len,
                                  const uint8_t tag[TT_STORE_TAG_BYTES])
{
    if (len % 4u != 0u) {
        return TT_STORE_TOO_LARGE;
    }
    return tt_store_write(store, 0u, len, tag, read_memory, (void *)(uintptr_t)payload, NULL);
}

tt_store_result_t tt_store_rollback(const tt_store_t *store)
{
    return tt_store_write(store, TT_STORE_FACTORY, 0u, NULL, read_memory, NULL, NULL);
}
