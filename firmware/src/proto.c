#include "tt/proto.h"

#include <string.h>

#include "tt/version.h"

void tt_proto_init(tt_proto_t *proto, uint8_t *rx, uint8_t *tx, tt_write_fn write, void *write_ctx,
                   const tt_board_info_t *board, uint32_t arena_bytes)
{
    tt_frame_decoder_init(&proto->decoder, rx, TT_MAX_FRAME_BYTES);
    proto->tx = tx;
    proto->tx_len = 0;
    proto->have_last = false;
    proto->last_seq = 0;
    proto->last_crc = 0;
    proto->write = write;
    proto->write_ctx = write_ctx;
    proto->board = board;
    proto->arena_bytes = arena_bytes;
    tt_upload_init(&proto->upload, tt_port_flash_layout());
}

static uint8_t *payload_out(tt_proto_t *proto) { return proto->tx + TT_FRAME_HEADER_BYTES; }

/* Build an ERROR frame into @p frame (room for TT_ERROR_FRAME_BYTES); returns its length. */
static size_t build_error(uint8_t *frame, tt_status_t status, uint16_t seq, uint8_t opcode, uint32_t detail)
{
    uint8_t *p = frame + TT_FRAME_HEADER_BYTES;
    p[TT_ERROR_OFF_STATUS] = (uint8_t)status;
    p[TT_ERROR_OFF_OPCODE] = opcode;
    tt_put_u32(p + TT_ERROR_OFF_DETAIL, detail);
    return tt_frame_finish(frame, TT_OP_ERROR, seq, TT_ERROR_BYTES);
}

static void reply_error(tt_proto_t *proto, tt_status_t status, uint16_t seq, uint8_t opcode, uint32_t detail)
{
    proto->tx_len = build_error(proto->tx, status, seq, opcode, detail);
}

static void reply_info(tt_proto_t *proto, uint16_t seq)
{
    uint8_t *p = payload_out(proto);
    memset(p, 0, TT_INFO_BYTES); /* board name padding and "no plan" hash are zeros */
    p[TT_INFO_OFF_PROTOCOL_VERSION] = (uint8_t)TT_PROTOCOL_VERSION;
    p[TT_INFO_OFF_FIRMWARE_VERSION + 0] = TT_VERSION_MAJOR;
    p[TT_INFO_OFF_FIRMWARE_VERSION + 1] = TT_VERSION_MINOR;
    p[TT_INFO_OFF_FIRMWARE_VERSION + 2] = TT_VERSION_PATCH;
    const size_t name_cap = TT_INFO_OFF_SRAM_BYTES - TT_INFO_OFF_BOARD;
    const size_t name_len = strlen(proto->board->name);
    memcpy(p + TT_INFO_OFF_BOARD, proto->board->name, name_len < name_cap ? name_len : name_cap);
    tt_put_u32(p + TT_INFO_OFF_SRAM_BYTES, proto->board->sram_bytes);
    tt_put_u32(p + TT_INFO_OFF_FLASH_BYTES, proto->board->flash_bytes);
    tt_put_u32(p + TT_INFO_OFF_ARENA_BYTES, proto->arena_bytes);
    tt_put_u32(p + TT_INFO_OFF_CORE_CLOCK_HZ, proto->board->core_clock_hz);
    tt_put_u16(p + TT_INFO_OFF_MAX_PAYLOAD, (uint16_t)TT_MAX_PAYLOAD);
    proto->tx_len = tt_frame_finish(proto->tx, TT_OP_INFO, seq, TT_INFO_BYTES);
}

/* Answer a LOAD_* request: its response on success, else ERROR with the status's detail. */
static void reply_load(tt_proto_t *proto, tt_status_t status, uint32_t detail, const tt_frame_header_t *h)
{
    if (status != TT_STATUS_OK) {
        reply_error(proto, status, h->seq, h->opcode, detail);
        return;
    }
    const tt_upload_t *up = &proto->upload;
    uint8_t *p = payload_out(proto);
    if (h->opcode == TT_OP_LOAD_END) {
        tt_put_u32(p + TT_LOAD_DONE_OFF_TOTAL_BYTES, up->total);
        tt_put_u32(p + TT_LOAD_DONE_OFF_CRC32, up->crc);
        proto->tx_len = tt_frame_finish(proto->tx, TT_OP_LOAD_DONE, h->seq, TT_LOAD_DONE_BYTES);
        return;
    }
    tt_put_u32(p + TT_LOAD_PROGRESS_OFF_RECEIVED, up->received);
    tt_put_u32(p + TT_LOAD_PROGRESS_OFF_CAPACITY, up->capacity);
    proto->tx_len = tt_frame_finish(proto->tx, (uint8_t)(h->opcode | 0x80u), h->seq, TT_LOAD_PROGRESS_BYTES);
}

static void execute_load(tt_proto_t *proto, const tt_frame_header_t *h, const uint8_t *payload, size_t len)
{
    uint32_t detail = 0;
    tt_status_t status;
    switch (h->opcode) {
    case TT_OP_LOAD_BEGIN:
        if (len != TT_LOAD_BEGIN_BYTES) {
            status = TT_STATUS_BAD_PAYLOAD;
            detail = TT_LOAD_BEGIN_BYTES;
        } else {
            status = tt_upload_begin(&proto->upload, tt_get_u32(payload + TT_LOAD_BEGIN_OFF_TOTAL_BYTES),
                                     tt_get_u32(payload + TT_LOAD_BEGIN_OFF_CRC32), &detail);
        }
        break;
    case TT_OP_LOAD_CHUNK:
        if (len < TT_LOAD_CHUNK_BYTES) {
            status = TT_STATUS_BAD_PAYLOAD;
            detail = TT_LOAD_CHUNK_BYTES;
        } else {
            status = tt_upload_chunk(&proto->upload, tt_get_u32(payload + TT_LOAD_CHUNK_OFF_OFFSET),
                                     payload + TT_LOAD_CHUNK_BYTES, (uint32_t)(len - TT_LOAD_CHUNK_BYTES), &detail);
        }
        break;
    default: /* TT_OP_LOAD_END */
        if (len != 0) {
            status = TT_STATUS_BAD_PAYLOAD;
        } else {
            status = tt_upload_end(&proto->upload, &detail);
        }
        break;
    }
    reply_load(proto, status, detail, h);
}

/* Run one request whose frame passed the CRC. Only its header fields are trusted so far. */
static void execute(tt_proto_t *proto, const uint8_t *frame, size_t frame_len)
{
    const tt_frame_header_t h = tt_frame_header_read(frame);
    const size_t payload_len = frame_len - TT_FRAME_HEADER_BYTES - TT_FRAME_CRC_BYTES;
    const uint8_t *payload = frame + TT_FRAME_HEADER_BYTES;

    if (h.version != TT_PROTOCOL_VERSION) {
        reply_error(proto, TT_STATUS_BAD_VERSION, h.seq, h.opcode, TT_PROTOCOL_VERSION);
        return;
    }
    if (h.length != payload_len) {
        reply_error(proto, TT_STATUS_TRUNCATED, h.seq, h.opcode, (uint32_t)payload_len);
        return;
    }
    switch (h.opcode) {
    case TT_OP_HELLO:
        if (payload_len != 0) {
            reply_error(proto, TT_STATUS_BAD_PAYLOAD, h.seq, h.opcode, 0);
        } else {
            reply_info(proto, h.seq);
        }
        return;
    case TT_OP_PING:
        /* rx and tx are distinct buffers of the same size, so the echo always fits. */
        memcpy(payload_out(proto), payload, payload_len);
        proto->tx_len = tt_frame_finish(proto->tx, TT_OP_PONG, h.seq, payload_len);
        return;
    case TT_OP_LOAD_BEGIN:
    case TT_OP_LOAD_CHUNK:
    case TT_OP_LOAD_END:
        execute_load(proto, &h, payload, payload_len);
        return;
    default:
        reply_error(proto, TT_STATUS_UNKNOWN_OPCODE, h.seq, h.opcode, 0);
        return;
    }
}

static tt_status_t framing_status(tt_frame_event_t event)
{
    switch (event) {
    case TT_FRAME_TOO_LARGE:
        return TT_STATUS_TOO_LARGE;
    case TT_FRAME_BAD_CRC:
        return TT_STATUS_BAD_CRC;
    case TT_FRAME_TRUNCATED:
        return TT_STATUS_TRUNCATED;
    case TT_FRAME_BAD_COBS:
        return TT_STATUS_BAD_FRAMING;
    default:
        return TT_STATUS_INTERNAL;
    }
}

static void handle_event(tt_proto_t *proto, tt_frame_event_t event)
{
    if (event != TT_FRAME_READY) {
        /* Nothing in the header can be trusted: answer with the unknown sequence number
         * so the host retransmits whatever it was waiting for. The answer is built in its
         * own small buffer, keeping the last response for that retransmission. */
        const uint32_t detail = event == TT_FRAME_TOO_LARGE ? TT_MAX_FRAME_BYTES : 0;
        const size_t len = build_error(proto->framing_error, framing_status(event), TT_SEQ_UNKNOWN, 0, detail);
        tt_frame_send(proto->framing_error, len, proto->write, proto->write_ctx);
        return;
    }
    const uint8_t *frame = proto->decoder.buf;
    const size_t len = proto->decoder.len;
    const tt_frame_header_t h = tt_frame_header_read(frame);
    const uint32_t crc = tt_get_u32(frame + len - TT_FRAME_CRC_BYTES);
    const bool repeat = proto->have_last && proto->last_seq == h.seq && proto->last_crc == crc;
    if (!repeat) {
        execute(proto, frame, len);
        proto->have_last = true;
        proto->last_seq = h.seq;
        proto->last_crc = crc;
    }
    tt_frame_send(proto->tx, proto->tx_len, proto->write, proto->write_ctx);
}

void tt_proto_feed(tt_proto_t *proto, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        const tt_frame_event_t event = tt_frame_decoder_push(&proto->decoder, data[i]);
        if (event != TT_FRAME_PENDING) {
            handle_event(proto, event);
        }
    }
}
