/**
 * @file packbits.h
 * @brief Decoder of SAMPLE_PACKED's compression: PackBits runs, optionally over left-neighbour
 *        deltas (the format: protocol/tt_protocol/packbits.py).
 *
 * The stream is untrusted (it comes from the UART): tt_packbits_check() walks it without
 * writing anything, so a malformed chunk is refused before any of it reaches the sample;
 * tt_packbits_unpack() then decodes through a small caller buffer straight into a sink (the
 * executor's feed), so a sample is never copied whole. Neither reads outside @p src nor
 * writes outside @p buf, whatever the bytes.
 */
#ifndef TT_PACKBITS_H
#define TT_PACKBITS_H

#include <stdint.h>

#include "tt/protocol_gen.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Receives decoded bytes, in order, @p len (1..cap) at a time. */
typedef void (*tt_packbits_sink_fn)(void *ctx, const uint8_t *data, uint32_t len);

/**
 * Walk the stream @p src[0..len) without decoding it.
 * @param decoded receives the bytes it decodes to (when valid)
 * @param bad_at  receives the stream offset of the first malformed run (when not)
 * @return TT_STATUS_OK, or TT_STATUS_BAD_PAYLOAD for a control byte 0x80 or a run cut short
 *         by the end of the stream
 */
tt_status_t tt_packbits_check(const uint8_t *src, uint32_t len, uint32_t *decoded, uint32_t *bad_at);

/**
 * Decode @p src[0..len) through @p buf (@p cap >= 1 bytes), handing @p sink every full buffer
 * and the last part. With @p stride in 1..TT_PACKED_MAX_STRIDE each decoded byte is a
 * difference to the output byte @p stride before it (mod 256; bytes before the stream count
 * as 0); 0 means plain bytes. Decoding stops at a malformed run (check first), and does
 * nothing for a stride above TT_PACKED_MAX_STRIDE.
 * @return the bytes handed to @p sink
 */
uint32_t tt_packbits_unpack(const uint8_t *src, uint32_t len, uint32_t stride, uint8_t *buf, uint32_t cap,
                            tt_packbits_sink_fn sink, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* TT_PACKBITS_H */
