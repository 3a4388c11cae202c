#include "tt/frame.h"

#include "tt/crc32.h"

void tt_frame_decoder_init(tt_frame_decoder_t *dec, uint8_t *buf, size_t cap)
{
    dec->buf = buf;
    dec->cap = cap;
    dec->len = 0;
    dec->block_left = 0;
    dec->block_code = 0;
    dec->overflow = 0;
}

static void append(tt_frame_decoder_t *dec, uint8_t byte)
{
    /* Once full, the rest of the frame is dropped as it arrives: the decoder keeps
     * counting blocks so it still finds the end, but never writes past cap. */
    if (dec->len == dec->cap) {
        dec->overflow = 1;
    }
    if (!dec->overflow) {
        dec->buf[dec->len++] = byte;
    }
}

static tt_frame_event_t finish(tt_frame_decoder_t *dec)
{
    const int started = dec->block_code != 0;
    const int overflow = dec->overflow;
    const int block_left = dec->block_left;
    dec->block_code = 0;
    dec->block_left = 0;
    dec->overflow = 0;

    if (overflow) {
        return TT_FRAME_TOO_LARGE;
    }
    if (!started) {
        return TT_FRAME_PENDING; /* empty frame: a delimiter used to resynchronise */
    }
    if (block_left != 0) {
        return TT_FRAME_BAD_COBS;
    }
    if (dec->len < TT_MIN_FRAME_BYTES) {
        return TT_FRAME_TRUNCATED;
    }
    const size_t body = dec->len - TT_FRAME_CRC_BYTES;
    if (tt_crc32(dec->buf, body) != tt_get_u32(dec->buf + body)) {
        return TT_FRAME_BAD_CRC;
    }
    return TT_FRAME_READY;
}

tt_frame_event_t tt_frame_decoder_push(tt_frame_decoder_t *dec, uint8_t byte)
{
    if (byte == 0) {
        return finish(dec);
    }
    if (dec->block_code == 0) { /* first code byte of a new frame */
        dec->len = 0;
    } else if (dec->block_left != 0) {
        append(dec, byte);
        dec->block_left--;
        return TT_FRAME_PENDING;
    } else if (dec->block_code != 0xFF) {
        append(dec, 0); /* the zero this block boundary stands for */
    }
    dec->block_code = byte;
    dec->block_left = (uint8_t)(byte - 1);
    return TT_FRAME_PENDING;
}

tt_frame_header_t tt_frame_header_read(const uint8_t *frame)
{
    tt_frame_header_t h;
    h.version = frame[0];
    h.opcode = frame[1];
    h.seq = tt_get_u16(frame + 2);
    h.length = tt_get_u16(frame + 4);
    return h;
}

size_t tt_frame_finish(uint8_t *frame, uint8_t opcode, uint16_t seq, size_t payload_len)
{
    frame[0] = (uint8_t)TT_PROTOCOL_VERSION;
    frame[1] = opcode;
    tt_put_u16(frame + 2, seq);
    tt_put_u16(frame + 4, (uint16_t)payload_len);
    const size_t body = TT_FRAME_HEADER_BYTES + payload_len;
    tt_put_u32(frame + body, tt_crc32(frame, body));
    return body + TT_FRAME_CRC_BYTES;
}

void tt_frame_send(const uint8_t *frame, size_t len, tt_write_fn write, void *ctx)
{
    static const uint8_t delimiter = 0;
    static const uint8_t full_block = 0xFF;
    write(ctx, &delimiter, 1);
    /* One COBS block per run of non-zero bytes, written straight from the frame (no
     * encoded copy): a run ended by a zero implies that zero; a full run of 254 bytes
     * implies nothing. The last block is always written, even when empty. */
    size_t start = 0;
    for (;;) {
        size_t end = start;
        while (end < len && frame[end] != 0 && end - start < 254) {
            end++;
        }
        if (end - start == 254) {
            write(ctx, &full_block, 1);
            write(ctx, frame + start, 254);
            start = end;
            continue;
        }
        const uint8_t code = (uint8_t)(end - start + 1);
        write(ctx, &code, 1);
        write(ctx, frame + start, end - start);
        if (end == len) {
            break;
        }
        start = end + 1; /* skip the zero the block implied */
    }
    write(ctx, &delimiter, 1);
}
