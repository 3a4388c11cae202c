/* libFuzzer harness: the frame decoder and the protocol dispatcher, fed arbitrary byte streams
 * through tt_proto_feed() exactly as the board's main loop feeds UART bytes, with the real
 * trainer, upload and store behind it over the host port's flash.
 *
 * Raw bytes alone rarely get past the CRC-32, so the input is a sequence of records, each
 * `kind (1 byte) | length (u16 LE) | body`, that let the fuzzer speak the protocol part of the
 * time:
 *   RAW      the body goes on the wire as it is (framing, COBS, CRC and resync paths)
 *   FRAME    the body is a frame's header and payload: the harness appends its CRC-32 and
 *            COBS-encodes it between delimiters (every check behind the CRC)
 *   PACKAGE  the body is a package: the harness seals its CRCs and uploads it with
 *            LOAD_BEGIN (replacing the model) / LOAD_CHUNK / LOAD_END frames, so a fuzzed plan
 *            reaches the validator and, once loaded, SAMPLE_DATA, SAMPLE_RUN, COMMIT...
 *   REBOOT   the device restarts on the same flash (boot-time restore of plan and store)
 *   CUT      the power fails after u16 more flash steps; the next REBOOT restores it
 *   KEY      from now on (reboots included) the device holds the harness's key (body byte 0
 *            odd: a damaged key record, which locks it); the harness then signs what it builds
 *            as the key holder would (FRAME records stay as the fuzzer wrote them, so forged,
 *            replayed and unsigned requests reach the refusals), SIGNED records included
 *   SIGNED   as FRAME, with a valid authentication trailer when the device holds a key
 * A RESET request answered by the device is a REBOOT too. Every response must be an intact
 * frame (fuzz_check_response()); ASan and UBSan catch the rest. */
#include <string.h>

#include "fuzz_common.h"
#include "host_port.h"
#include "tt/crc32.h"
#include "tt/plan_gen.h"
#include "tt/proto.h"

enum { KIND_RAW, KIND_FRAME, KIND_PACKAGE, KIND_REBOOT, KIND_CUT, KIND_KEY, KIND_SIGNED, KIND_COUNT };

static const tt_board_info_t board = {
    .name = "fuzz-board", .sram_bytes = 327680u, .flash_bytes = 1048576u, .core_clock_hz = 216000000u};

static uint64_t arena[TT_ARENA_BYTES / 8u]; /* 8-byte aligned like tt_arena() */
static uint8_t rx[TT_MAX_FRAME_BYTES];
static uint8_t tx[TT_MAX_FRAME_BYTES];
static tt_trainer_t trainer;
static tt_proto_t proto;
static uint16_t next_seq; /* sequence numbers of the frames the harness builds */

/* The device key (tt/auth.h) the harness provisions with KEY records: none, valid or damaged. */
enum { KEY_NONE, KEY_VALID, KEY_DAMAGED };
static int key_state;
static const uint8_t device_key[TT_AUTH_KEY_BYTES] = {0x6b, 0x65, 0x79, 0x21, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                                                      27, 28};

/* Write the key record an image provisioned by `tt-host flash --key` holds (auth.py KeyRecord). */
static void provision(void)
{
    static uint8_t record[TT_AUTH_KEY_RECORD_BYTES];
    if (key_state == KEY_NONE) {
        return;
    }
    memset(record, 0xFF, sizeof record);
    memcpy(record, TT_AUTH_KEY_MAGIC, 4);
    memcpy(record + 4, device_key, sizeof device_key);
    tt_put_u32(record + sizeof record - 4u, tt_crc32(record, sizeof record - 4u));
    if (key_state == KEY_DAMAGED) {
        record[7] ^= 0x10u;
    }
    tt_proto_set_key_record(&proto, record);
}

/* Power on: what main.c does before its loop. */
static void boot(void)
{
    fuzz_flash_note_steps();
    tt_host_flash_cut_after(-1); /* the power is back */
    tt_trainer_init(&trainer, (uint8_t *)arena, (uint32_t)sizeof arena, tt_port_flash_layout());
    tt_proto_init(&proto, rx, tx, fuzz_check_response, NULL, &board, &trainer);
    provision();
}

/* The UART hands the main loop bytes; a device that answered RESET restarts, losing the rest. */
static void wire(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    const size_t used = tt_proto_feed(&proto, data, len);
    FUZZ_REQUIRE(used <= len, "consumed %zu of %zu bytes", used, len);
    if (tt_proto_reset_requested(&proto)) {
        boot();
    }
}

/* Send header + payload (@p len bytes, at most a frame's worth) with its CRC, COBS-encoded. */
static void send_frame(const uint8_t *body, size_t len)
{
    static uint8_t frame[TT_MAX_FRAME_BYTES];
    memcpy(frame, body, len);
    tt_put_u32(frame + len, tt_crc32(frame, len));
    tt_frame_send(frame, len + TT_FRAME_CRC_BYTES, wire, NULL);
}

static void send_request(uint8_t opcode, const uint8_t *payload, size_t len);

/* What the key holder's tag on @p opcode covers beyond the payload: the digest of the package
 * the device stored, or of the sample it holds (the host knows both; the harness reads them). */
static const uint8_t *bound_for(uint8_t opcode, uint8_t digest[TT_SHA256_BYTES])
{
    if (opcode == TT_OP_LOAD_END) {
        tt_sha256(proto.upload.area, proto.upload.active ? proto.upload.received : 0u, digest);
        return digest;
    }
    if (opcode == TT_OP_SAMPLE_RUN) {
        tt_sha256_t sample = proto.input_digest;
        tt_sha256_final(&sample, digest);
        return digest;
    }
    return NULL;
}

/* Whether the key holder signs this request; if so, the device has issued a nonce when this
 * returns (asked for before the caller fills its frame buffer, which NONCE's request reuses). */
static bool signs(uint8_t opcode, const uint8_t *payload, size_t len)
{
    if (key_state != KEY_VALID || len + TT_AUTH_TRAILER_BYTES > TT_MAX_PAYLOAD ||
        !tt_auth_needed(opcode, payload, len)) {
        return false;
    }
    if (!proto.auth.have_nonce) {
        send_request(TT_OP_NONCE, NULL, 0);
    }
    return true;
}

/* Append the key holder's trailer to the request in @p body (header + @p len payload bytes,
 * room after them); the new payload length. */
static size_t sign(uint8_t *body, size_t len)
{
    const uint8_t opcode = body[1];
    uint8_t *payload = body + TT_FRAME_HEADER_BYTES;
    static const uint8_t domain[8] = {'t', 't', '-', 'a', 'u', 't', 'h', '1'};
    uint8_t *trailer = payload + len;
    tt_put_u32(trailer, proto.auth.counter + 1u);
    uint8_t digest[TT_SHA256_BYTES];
    const uint8_t *bound = bound_for(opcode, digest);
    tt_hmac_t h;
    tt_hmac_init(&h, device_key, sizeof device_key);
    tt_hmac_update(&h, domain, sizeof domain);
    tt_hmac_update(&h, proto.auth.nonce, TT_AUTH_NONCE_BYTES);
    tt_hmac_update(&h, trailer, 4);
    tt_hmac_update(&h, &opcode, 1);
    tt_hmac_update(&h, payload, len);
    if (bound != NULL) {
        tt_hmac_update(&h, bound, TT_SHA256_BYTES);
    }
    tt_hmac_final(&h, trailer + 4);
    tt_put_u16(body + 4, (uint16_t)(len + TT_AUTH_TRAILER_BYTES));
    return len + TT_AUTH_TRAILER_BYTES;
}

static void send_request(uint8_t opcode, const uint8_t *payload, size_t len)
{
    static uint8_t body[TT_FRAME_HEADER_BYTES + TT_MAX_PAYLOAD];
    const bool signed_ = signs(opcode, payload, len);
    body[0] = (uint8_t)TT_PROTOCOL_VERSION;
    body[1] = opcode;
    tt_put_u16(body + 2, next_seq++);
    tt_put_u16(body + 4, (uint16_t)len);
    if (len != 0u) {
        memcpy(body + TT_FRAME_HEADER_BYTES, payload, len);
    }
    if (signed_) {
        len = sign(body, len);
    }
    send_frame(body, TT_FRAME_HEADER_BYTES + len);
}

/* A SIGNED record: the fuzzer's frame with the key holder's trailer when it needs one. */
static void send_signed(const uint8_t *frame, size_t len)
{
    static uint8_t body[TT_FRAME_HEADER_BYTES + TT_MAX_PAYLOAD];
    size_t payload = len - TT_FRAME_HEADER_BYTES;
    const bool signed_ = signs(frame[1], frame + TT_FRAME_HEADER_BYTES, payload);
    memcpy(body, frame, len);
    if (signed_) {
        payload = sign(body, payload);
    }
    send_frame(body, TT_FRAME_HEADER_BYTES + payload);
}

/* Upload @p len bytes as the host's `tt-host load` would, after sealing them. */
static void upload(const uint8_t *data, size_t len)
{
    static uint8_t package[64u * 1024u];
    if (len > sizeof package) {
        len = sizeof package;
    }
    memcpy(package, data, len);
    fuzz_seal_package(package, (uint32_t)len);
    uint8_t begin[TT_LOAD_BEGIN_BYTES] = {0};
    tt_put_u32(begin + TT_LOAD_BEGIN_OFF_TOTAL_BYTES, (uint32_t)len);
    tt_put_u32(begin + TT_LOAD_BEGIN_OFF_CRC32, tt_crc32(package, len));
    tt_put_u32(begin + TT_LOAD_BEGIN_OFF_FLAGS, TT_LOAD_FLAG_REPLACE_MODEL);
    if (len >= TT_PLAN_HEADER_BYTES) {
        memcpy(begin + TT_LOAD_BEGIN_OFF_MODEL_HASH, package + TT_PLAN_HEADER_OFF_MODEL_HASH, 32u);
    }
    send_request(TT_OP_LOAD_BEGIN, begin, sizeof begin);
    /* Whole words per chunk, as the host sends them. */
    const size_t step = (TT_MAX_PAYLOAD - TT_LOAD_CHUNK_BYTES) & ~(size_t)3u;
    uint8_t chunk[TT_MAX_PAYLOAD];
    for (size_t at = 0; at < len; at += step) {
        const size_t n = len - at < step ? len - at : step;
        tt_put_u32(chunk + TT_LOAD_CHUNK_OFF_OFFSET, (uint32_t)at);
        memcpy(chunk + TT_LOAD_CHUNK_BYTES, package + at, n);
        send_request(TT_OP_LOAD_CHUNK, chunk, TT_LOAD_CHUNK_BYTES + n);
    }
    send_request(TT_OP_LOAD_END, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_flash_clean();
    fuzz_responses_reset();
    next_seq = 0;
    key_state = KEY_NONE;
    boot();
    while (size >= 3u) {
        const unsigned kind = data[0] % KIND_COUNT;
        size_t len = fuzz_u16(data + 1);
        data += 3;
        size -= 3;
        if (len > size) {
            len = size;
        }
        switch (kind) {
        case KIND_RAW:
            wire(NULL, data, len);
            break;
        case KIND_FRAME:
            if (len >= TT_FRAME_HEADER_BYTES && len <= TT_MAX_FRAME_BYTES - TT_FRAME_CRC_BYTES) {
                send_frame(data, len);
            }
            break;
        case KIND_PACKAGE:
            upload(data, len);
            break;
        case KIND_REBOOT:
            boot();
            break;
        case KIND_KEY:
            key_state = len >= 1u && (data[0] & 1u) ? KEY_DAMAGED : KEY_VALID;
            provision();
            break;
        case KIND_SIGNED:
            if (len >= TT_FRAME_HEADER_BYTES && len <= TT_FRAME_HEADER_BYTES + TT_MAX_PAYLOAD) {
                send_signed(data, len);
            }
            break;
        default: /* KIND_CUT */
            if (len >= 2u) {
                fuzz_flash_note_steps();
                tt_host_flash_cut_after((long)fuzz_u16(data));
            }
            break;
        }
        data += len;
        size -= len;
    }
    fuzz_flash_note_steps();
    return 0;
}
