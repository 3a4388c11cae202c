#include "tt/packbits.h"

#include <stdbool.h>
#include <string.h>

#define REPEAT_BASE 257u /* a repeat control byte n stands for 257 - n copies */
#define INVALID 0x80u

/* Length of the run led by src[i] (its control byte and data) and the bytes it decodes to;
 * false when the run is malformed or cut short by @p len. */
static bool run_at(const uint8_t *src, uint32_t len, uint32_t i, uint32_t *run_bytes, uint32_t *out_bytes)
{
    const uint32_t n = src[i];
    if (n == INVALID) {
        return false;
    }
    *run_bytes = n < INVALID ? n + 2u : 2u;
    *out_bytes = n < INVALID ? n + 1u : REPEAT_BASE - n;
    return *run_bytes <= len - i;
}

tt_status_t tt_packbits_check(const uint8_t *src, uint32_t len, uint32_t *decoded, uint32_t *bad_at)
{
    uint32_t total = 0;
    for (uint32_t i = 0; i < len;) {
        uint32_t run_bytes, out_bytes;
        if (!run_at(src, len, i, &run_bytes, &out_bytes)) {
            *bad_at = i;
            return TT_STATUS_BAD_PAYLOAD;
        }
        total += out_bytes; /* at most 128 per 2 stream bytes: no overflow for any uint32_t len */
        i += run_bytes;
    }
    *decoded = total;
    return TT_STATUS_OK;
}

/* The output side: a buffer flushed to the sink when full, and the delta's history (the last
 * stride output bytes, as a ring). */
typedef struct {
    uint8_t *buf;
    uint32_t cap;
    uint32_t fill;
    uint32_t total;
    uint32_t stride;
    uint32_t h; /* ring position of the byte stride back */
    uint8_t history[TT_PACKED_MAX_STRIDE];
    tt_packbits_sink_fn sink;
    void *ctx;
} out_t;

static void put(out_t *o, uint8_t v)
{
    if (o->stride != 0u) {
        v = (uint8_t)(v + o->history[o->h]);
        o->history[o->h] = v;
        o->h = o->h + 1u == o->stride ? 0u : o->h + 1u;
    }
    o->buf[o->fill++] = v;
    if (o->fill == o->cap) {
        o->sink(o->ctx, o->buf, o->fill);
        o->total += o->fill;
        o->fill = 0;
    }
}

uint32_t tt_packbits_unpack(const uint8_t *src, uint32_t len, uint32_t stride, uint8_t *buf, uint32_t cap,
                            tt_packbits_sink_fn sink, void *ctx)
{
    if (stride > TT_PACKED_MAX_STRIDE || cap == 0u) {
        return 0;
    }
    out_t o = {.buf = buf, .cap = cap, .fill = 0, .total = 0, .stride = stride, .h = 0, .sink = sink, .ctx = ctx};
    memset(o.history, 0, sizeof o.history);
    for (uint32_t i = 0; i < len;) {
        uint32_t run_bytes, out_bytes;
        if (!run_at(src, len, i, &run_bytes, &out_bytes)) {
            break;
        }
        const bool literal = src[i] < INVALID;
        for (uint32_t k = 0; k < out_bytes; k++) {
            put(&o, literal ? src[i + 1u + k] : src[i + 1u]);
        }
        i += run_bytes;
    }
    if (o.fill != 0u) {
        sink(ctx, buf, o.fill);
        o.total += o.fill;
    }
    return o.total;
}
