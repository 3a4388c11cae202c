/**
 * @file frame.h
 * @brief Frame decoding and encoding: COBS between 0x00 delimiters, CRC-32 trailer.
 *
 * The wire format is specified in protocol/tt_protocol/frame.py. The decoder is a
 * byte-at-a-time state machine over a caller-owned buffer, so the receive path needs
 * exactly one frame of RAM and never blocks. It tells "no frame yet" apart from each way
 * a frame can be bad; after any event other than TT_FRAME_PENDING it is ready for the
 * next frame, and the buffer keeps the last frame until the next byte is pushed.
 */
#ifndef TT_FRAME_H
#define TT_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tt/protocol_gen.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What one pushed byte completed. */
typedef enum {
    TT_FRAME_PENDING = 0, /**< No complete frame yet (also: empty frames are skipped). */
    TT_FRAME_READY,       /**< A frame with a valid CRC is in the buffer. */
    TT_FRAME_TOO_LARGE,   /**< The frame overflowed the buffer; its bytes were discarded. */
    TT_FRAME_BAD_CRC,     /**< The frame's CRC-32 did not match. */
    TT_FRAME_TRUNCATED,   /**< Shorter than a header plus CRC. */
    TT_FRAME_BAD_COBS,    /**< A COBS block ended early (a delimiter inside a block). */
} tt_frame_event_t;

/** Decoder state; treat as opaque. */
typedef struct {
    uint8_t *buf;       /**< Caller-owned buffer receiving the decoded frame. */
    size_t cap;         /**< Capacity of @c buf (TT_MAX_FRAME_BYTES for a full frame). */
    size_t len;         /**< Decoded bytes so far; the frame length after READY. */
    uint8_t block_left; /**< Data bytes still due in the current COBS block. */
    uint8_t block_code; /**< Code byte of the current block; 0 before the first block. */
    uint8_t overflow;   /**< Non-zero once the frame exceeded @c cap. */
} tt_frame_decoder_t;

/** Start decoding into @p buf of @p cap bytes. */
void tt_frame_decoder_init(tt_frame_decoder_t *dec, uint8_t *buf, size_t cap);

/** Feed one received byte; see tt_frame_event_t for what comes back. */
tt_frame_event_t tt_frame_decoder_push(tt_frame_decoder_t *dec, uint8_t byte);

/** Decoded header of a frame. */
typedef struct {
    uint8_t version;
    uint8_t opcode;
    uint16_t seq;
    uint16_t length; /**< Payload length announced by the header. */
} tt_frame_header_t;

/** Read the header of a decoded frame of at least TT_FRAME_HEADER_BYTES. */
tt_frame_header_t tt_frame_header_read(const uint8_t *frame);

/**
 * Complete a frame in place: @p frame holds @p payload_len payload bytes at offset
 * TT_FRAME_HEADER_BYTES; writes the header before them and the CRC after them.
 * @return the frame's total decoded length.
 */
size_t tt_frame_finish(uint8_t *frame, uint8_t opcode, uint16_t seq, size_t payload_len);

/** Byte sink used by tt_frame_send(). */
typedef void (*tt_write_fn)(void *ctx, const uint8_t *data, size_t len);

/** Send a decoded frame on the wire: 0x00, its COBS encoding, 0x00. */
void tt_frame_send(const uint8_t *frame, size_t len, tt_write_fn write, void *ctx);

/** Little-endian field access, shared by every payload codec. */
static inline uint16_t tt_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t tt_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void tt_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void tt_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void tt_put_u64(uint8_t *p, uint64_t v)
{
    tt_put_u32(p, (uint32_t)v);
    tt_put_u32(p + 4, (uint32_t)(v >> 32));
}
/** IEEE-754 binary32 bits, little-endian. */
static inline void tt_put_f32(uint8_t *p, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    tt_put_u32(p, bits);
}

#ifdef __cplusplus
}
#endif

#endif /* TT_FRAME_H */
