/**
 * @file crc32.h
 * @brief CRC-32/ISO-HDLC (the zlib / Ethernet CRC) used by frames and blobs.
 */
#ifndef TT_CRC32_H
#define TT_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Initial value for an incremental CRC; pass it as @p crc to the first tt_crc32_update(). */
#define TT_CRC32_INIT 0u

/**
 * Continue a CRC over @p len more bytes. Start with TT_CRC32_INIT; the value returned
 * after the last call is the finished CRC (equal to Python's zlib.crc32 over all bytes).
 */
uint32_t tt_crc32_update(uint32_t crc, const uint8_t *data, size_t len);

/** CRC-32 of one buffer. */
static inline uint32_t tt_crc32(const uint8_t *data, size_t len)
{
    return tt_crc32_update(TT_CRC32_INIT, data, len);
}

#ifdef __cplusplus
}
#endif

#endif /* TT_CRC32_H */
