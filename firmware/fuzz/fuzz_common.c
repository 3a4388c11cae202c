#include "fuzz_common.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "host_port.h"
#include "tt/crc32.h"
#include "tt/frame.h"
#include "tt/plan_gen.h"

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "fuzz: invariant broken at %s:%d: %s: ", file, line, cond);
    va_list args;
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    abort();
}

/* Seal one blob whose header starts like PlanHeader's (magic, version, header_bytes,
 * total_bytes, crc32); returns its CRC. */
static uint32_t seal_blob(uint8_t *blob, uint32_t len)
{
    tt_put_u32(blob + TT_PLAN_HEADER_OFF_TOTAL_BYTES, len);
    const uint32_t crc = tt_crc32(blob + TT_PLAN_CRC_START, len - TT_PLAN_CRC_START);
    tt_put_u32(blob + TT_PLAN_HEADER_OFF_CRC32, crc);
    return crc;
}

void fuzz_seal_package(uint8_t *package, uint32_t len)
{
    if (len < TT_PLAN_HEADER_BYTES) {
        return;
    }
    uint32_t plan = tt_get_u32(package + TT_PLAN_HEADER_OFF_TOTAL_BYTES);
    if (plan < TT_PLAN_HEADER_BYTES || plan > len) {
        plan = len;
    }
    const uint32_t weights = len - plan;
    if (weights >= TT_WEIGHTS_HEADER_BYTES) {
        const uint32_t crc = seal_blob(package + plan, weights);
        tt_put_u32(package + TT_PLAN_HEADER_OFF_WEIGHTS_BYTES, weights);
        tt_put_u32(package + TT_PLAN_HEADER_OFF_WEIGHTS_CRC32, crc);
    }
    seal_blob(package, plan);
}

static uint8_t response_buf[TT_MAX_FRAME_BYTES];
static tt_frame_decoder_t response_decoder;
static unsigned long response_count;
static bool trace;

void fuzz_responses_reset(void)
{
    trace = getenv("TT_FUZZ_TRACE") != NULL;
    tt_frame_decoder_init(&response_decoder, response_buf, sizeof response_buf);
    response_count = 0;
}

void fuzz_check_response(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        const tt_frame_event_t event = tt_frame_decoder_push(&response_decoder, data[i]);
        if (event == TT_FRAME_PENDING) {
            continue;
        }
        FUZZ_REQUIRE(event == TT_FRAME_READY, "the device sent a broken frame (decoder event %d)", (int)event);
        const tt_frame_header_t h = tt_frame_header_read(response_buf);
        FUZZ_REQUIRE(h.version == TT_PROTOCOL_VERSION, "response version %u", h.version);
        FUZZ_REQUIRE((size_t)h.length + TT_FRAME_HEADER_BYTES + TT_FRAME_CRC_BYTES == response_decoder.len,
                     "response to opcode 0x%02x announces %u payload bytes in a %zu-byte frame", h.opcode, h.length,
                     response_decoder.len);
        FUZZ_REQUIRE(h.opcode & 0x80u, "response opcode 0x%02x is a request's", h.opcode);
        if (trace) { /* TT_FUZZ_TRACE=1: what the device answered, to see how deep an input gets */
            const uint8_t *p = response_buf + TT_FRAME_HEADER_BYTES;
            if (h.opcode == TT_OP_ERROR) {
                fprintf(stderr, "seq %u: ERROR status 0x%02x to opcode 0x%02x, detail %u\n", h.seq,
                        p[TT_ERROR_OFF_STATUS], p[TT_ERROR_OFF_OPCODE], tt_get_u32(p + TT_ERROR_OFF_DETAIL));
            } else {
                fprintf(stderr, "seq %u: 0x%02x\n", h.seq, h.opcode);
            }
        }
        response_count++;
    }
}

unsigned long fuzz_responses(void) { return response_count; }

static bool flash_dirty = true; /* the first input starts from a fresh erase */

void fuzz_flash_note_steps(void)
{
    if (tt_host_flash_steps() != 0) {
        flash_dirty = true;
    }
}

void fuzz_flash_clean(void)
{
    fuzz_flash_note_steps();
    if (flash_dirty) {
        tt_host_flash_reset();
        flash_dirty = false;
    }
    tt_host_flash_cut_after(-1);
}
