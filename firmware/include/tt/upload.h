/**
 * @file upload.h
 * @brief Receiving a package (plan and weights) over the UART into the flash model area.
 *
 * The host streams the package in chunks (LOAD_BEGIN, LOAD_CHUNK..., LOAD_END; see
 * protocol/tt_protocol/frame.py). Chunks must arrive in order; the device says how many
 * bytes it holds, so a host that lost its connection resumes where the device stopped by
 * beginning the same package again. Sectors are erased just before the first chunk that
 * reaches them, which spreads the erase time over the transfer. Nothing here interprets
 * the package: LOAD_END only proves that flash holds exactly the announced bytes.
 */
#ifndef TT_UPLOAD_H
#define TT_UPLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "tt/port.h"
#include "tt/protocol_gen.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Transfer state; treat as opaque. */
typedef struct {
    size_t first_sector;  /**< Model area: first sector ... */
    size_t sector_count;  /**< ... and how many. */
    const uint8_t *area;  /**< The model area, where it reads. */
    uint32_t capacity;    /**< Bytes in the model area. */
    uint32_t total;       /**< Announced package size. */
    uint32_t crc;         /**< Announced package CRC-32. */
    uint32_t received;    /**< Bytes stored so far. */
    uint32_t erased_end;  /**< Area bytes erased for this transfer (a sector boundary). */
    bool active;          /**< A transfer was begun and not abandoned. */
    bool complete;        /**< LOAD_END verified the package. */
} tt_upload_t;

/** Use the model area of @p layout. */
void tt_upload_init(tt_upload_t *up, const tt_flash_layout_t *layout);

/**
 * LOAD_BEGIN: start a transfer of @p total bytes with CRC @p crc, or resume the transfer
 * of that same package. On failure *detail says what was expected (the capacity for
 * TT_STATUS_NO_SPACE); a refused begin changes nothing.
 */
tt_status_t tt_upload_begin(tt_upload_t *up, uint32_t total, uint32_t crc, uint32_t *detail);

/** Whether LOAD_BEGIN of @p total bytes with CRC @p crc would resume the current transfer
 *  (rather than start a new one, which overwrites the package in the model area). */
bool tt_upload_resumes(const tt_upload_t *up, uint32_t total, uint32_t crc);

/** LOAD_CHUNK: store @p len bytes at package offset @p offset (which must equal received). */
tt_status_t tt_upload_chunk(tt_upload_t *up, uint32_t offset, const uint8_t *data, uint32_t len, uint32_t *detail);

/** LOAD_END: verify the stored package against the announced CRC. */
tt_status_t tt_upload_end(tt_upload_t *up, uint32_t *detail);

/**
 * Program @p len bytes (a multiple of 4) right after the verified package, at its next
 * word-aligned offset (a package seal, tt/auth.h), erasing the sector they reach if needed.
 * TT_STATUS_NO_SPACE (detail: the capacity) when they do not fit, FLASH_ERROR (the address).
 */
tt_status_t tt_upload_append(tt_upload_t *up, const uint8_t *data, uint32_t len, uint32_t *detail);

/** The verified package in (memory-mapped) flash, or NULL while none is complete. */
const uint8_t *tt_upload_package(const tt_upload_t *up);

#ifdef __cplusplus
}
#endif

#endif /* TT_UPLOAD_H */
