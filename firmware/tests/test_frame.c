/* Encoder/decoder round trips over every payload length and every content class that
 * stresses COBS: all zeros, no zeros (0xFF-block runs), and mixed. */
#include "tt/frame.h"
#include "tt_test.h"

static uint8_t wire[2 * TT_MAX_FRAME_BYTES];
static size_t wire_len;

static void capture(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    memcpy(wire + wire_len, data, len);
    wire_len += len;
}

static void round_trip(size_t payload_len, int pattern)
{
    static uint8_t frame[TT_MAX_FRAME_BYTES];
    static uint8_t rx[TT_MAX_FRAME_BYTES];
    for (size_t i = 0; i < payload_len; i++) {
        const uint8_t mixed = (uint8_t)(i * 7 % 5 == 0 ? 0 : i);
        frame[TT_FRAME_HEADER_BYTES + i] = pattern == 0 ? 0 : pattern == 1 ? (uint8_t)(i % 255 + 1) : mixed;
    }
    const size_t len = tt_frame_finish(frame, TT_OP_PING, (uint16_t)payload_len, payload_len);
    wire_len = 0;
    tt_frame_send(frame, len, capture, NULL);
    for (size_t i = 1; i + 1 < wire_len; i++) {
        CHECK(wire[i] != 0, "zero inside encoded frame (payload %zu, pattern %d)", payload_len, pattern);
    }
    tt_frame_decoder_t dec;
    tt_frame_decoder_init(&dec, rx, sizeof rx);
    int ready = 0;
    for (size_t i = 0; i < wire_len; i++) {
        const tt_frame_event_t ev = tt_frame_decoder_push(&dec, wire[i]);
        CHECK(ev == TT_FRAME_PENDING || ev == TT_FRAME_READY, "event %d at byte %zu", ev, i);
        ready += ev == TT_FRAME_READY;
    }
    CHECK(ready == 1, "%d frames decoded (payload %zu, pattern %d)", ready, payload_len, pattern);
    CHECK(tt_test_bytes_equal("round trip", rx, dec.len, frame, len), "payload %zu pattern %d", payload_len,
          pattern);
    const tt_frame_header_t h = tt_frame_header_read(rx);
    CHECK(h.length == payload_len && h.seq == (uint16_t)payload_len && h.opcode == TT_OP_PING, "header");
}

/* A buffer smaller than the frame must report TOO_LARGE and never write past its end. */
static void overflow_is_contained(void)
{
    static uint8_t frame[TT_MAX_FRAME_BYTES];
    uint8_t small[32 + 1];
    memset(frame + TT_FRAME_HEADER_BYTES, 0xAB, 100);
    const size_t len = tt_frame_finish(frame, TT_OP_PING, 1, 100);
    wire_len = 0;
    tt_frame_send(frame, len, capture, NULL);
    small[32] = 0x5C; /* canary */
    tt_frame_decoder_t dec;
    tt_frame_decoder_init(&dec, small, 32);
    tt_frame_event_t last = TT_FRAME_PENDING;
    for (size_t i = 0; i < wire_len; i++) {
        const tt_frame_event_t ev = tt_frame_decoder_push(&dec, wire[i]);
        if (ev != TT_FRAME_PENDING) {
            last = ev;
        }
    }
    CHECK(last == TT_FRAME_TOO_LARGE, "got event %d", last);
    CHECK(small[32] == 0x5C, "canary overwritten");
}

int main(void)
{
    for (size_t n = 0; n <= TT_MAX_PAYLOAD; n++) {
        for (int pattern = 0; pattern < 3; pattern++) {
            round_trip(n, pattern);
        }
    }
    overflow_is_contained();
    return tt_test_report("frame");
}
