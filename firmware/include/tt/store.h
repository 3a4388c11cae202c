/**
 * @file store.h
 * @brief Power-safe persistence of trained parameters in two flash slots (A/B).
 *
 * Each slot is one erasable flash sector (on whichever flash the board keeps it) holding at
 * most one record: a header (magic, sequence number, payload length and CRC, a 32-byte tag
 * naming what the payload belongs to, and the header's own CRC) followed by the payload. A commit erases the slot that
 * does not hold the newest valid record, programs the payload, and programs the header
 * last: the header is the commit point. A power cut at any instant therefore leaves
 * either the previous newest record or the new one as the newest valid record; a torn
 * slot fails its CRCs and is ignored.
 *
 * A payload need not exist in RAM: tt_store_write() asks a callback for it piece by piece
 * (a trained parameter image is read straight out of the arena), computing the CRC on the
 * way, so a commit costs a small stack buffer whatever its size.
 *
 * "Back to factory" is itself a record (flag TT_STORE_FACTORY, no payload) with a newer
 * sequence number, so a rollback is exactly as atomic as a commit.
 */
#ifndef TT_STORE_H
#define TT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TT_STORE_MAGIC 0x53575454u /**< "TTWS", little-endian */
#define TT_STORE_TAG_BYTES 32u
#define TT_STORE_FACTORY 0x1u /**< Record flag: use the factory parameters. */

/** On-flash record header (little-endian, 4-byte aligned; programmed last). */
typedef struct {
    uint32_t magic;       /**< TT_STORE_MAGIC */
    uint32_t sequence;    /**< Newer records have larger numbers (compared modulo 2^32). */
    uint32_t flags;       /**< TT_STORE_FACTORY or 0 */
    uint32_t length;      /**< Payload bytes following the header. */
    uint32_t payload_crc; /**< CRC-32 of the payload. */
    uint8_t tag[TT_STORE_TAG_BYTES]; /**< What the payload belongs to (e.g. the plan hash). */
    uint32_t header_crc;  /**< CRC-32 of all the fields above. */
} tt_store_header_t;

/** Result of tt_store_commit() and tt_store_rollback(). */
typedef enum {
    TT_STORE_OK = 0,
    TT_STORE_TOO_LARGE, /**< Header + payload exceed a slot. */
    TT_STORE_FLASH_ERROR, /**< The flash driver reported an erase or program failure. */
} tt_store_result_t;

/** The two slots; caller-owned. */
typedef struct {
    size_t sector[2]; /**< Flash sector index of slot A and slot B. */
} tt_store_t;

/** The newest valid record, as found by tt_store_newest(). */
typedef struct {
    bool valid;                 /**< false: no valid record in either slot (factory parameters). */
    uint32_t sequence;
    uint32_t flags;
    const uint8_t *payload;     /**< Memory-mapped flash; `length` bytes. */
    uint32_t length;
    const uint8_t *tag;         /**< TT_STORE_TAG_BYTES bytes. */
    int slot;                   /**< 0 (A) or 1 (B); -1 when !valid. */
} tt_store_record_t;

/**
 * Supplies bytes [offset, offset + len) of a payload being written (tt_store_write()); called
 * in order of increasing offset, each byte exactly once.
 */
typedef void (*tt_store_read_fn)(void *ctx, uint32_t offset, uint8_t *out, uint32_t len);

/** Where tt_store_write() wrote (or failed to). */
typedef struct {
    uint32_t sequence;     /**< Sequence number of the new record. */
    const uint8_t *flash_at; /**< Flash address of the slot written; on a flash error, of the failing step. */
} tt_store_written_t;

/** Use flash sectors @p sector_a and @p sector_b (distinct, equally sized or not) as the slots. */
void tt_store_init(tt_store_t *store, size_t sector_a, size_t sector_b);

/** Largest payload a commit accepts: the smaller slot minus the header. */
uint32_t tt_store_capacity(const tt_store_t *store);

/** The newest record whose header and payload CRCs both hold. */
tt_store_record_t tt_store_newest(const tt_store_t *store);

/**
 * Persist @p len bytes of @p payload (len a multiple of 4) tagged with @p tag.
 * On success the new record is the newest valid one.
 */
tt_store_result_t tt_store_commit(const tt_store_t *store, const uint8_t *payload, uint32_t len,
                                  const uint8_t tag[TT_STORE_TAG_BYTES]);

/** Record "factory parameters" as the newest state. */
tt_store_result_t tt_store_rollback(const tt_store_t *store);

/**
 * Persist a record of @p len payload bytes (any length) obtained from @p read, with
 * @p flags (0 or TT_STORE_FACTORY) and @p tag (NULL: zeros). The slot is erased, the payload
 * programmed in small pieces (a last partial word padded with the erased value 0xFF, outside
 * the record's length) and the header last. @p written (may be NULL) tells the sequence
 * number and the slot's flash address, or where the flash failed.
 * @return TT_STORE_OK; TT_STORE_TOO_LARGE (nothing written); TT_STORE_FLASH_ERROR
 */
tt_store_result_t tt_store_write(const tt_store_t *store, uint32_t flags, uint32_t len,
                                 const uint8_t tag[TT_STORE_TAG_BYTES], tt_store_read_fn read, void *ctx,
                                 tt_store_written_t *written);

#ifdef __cplusplus
}
#endif

#endif /* TT_STORE_H */
