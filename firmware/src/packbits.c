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

/* The output side: a buffer handed to the sink when full, and the delta's history (the last
 * stride output bytes, oldest first). Runs are copied or filled into the buffer whole and the
 * delta is undone a buffer at a time, so a byte costs a store and, with a delta, one add. */
typedef struct {
    uint8_t *buf;
    uint32_t cap;
    uint32_t fill;
    uint32_t total;
    uint32_t stride;
    uint8_t history[TT_PACKED_MAX_STRIDE];
    tt_packbits_sink_fn sink;
    void *ctx;
} out_t;

/* Undo the delta over the buffer, keep its last bytes as the history, hand it on. */
static void flush(out_t *o)
{
    uint8_t *p = o->buf;
    const uint32_t n = o->fill, s = o->stride;
    if (s != 0u) {
        const uint32_t head = n < s ? n : s;
        for (uint32_t i = 0; i < head; i++) {
            p[i] = (uint8_t)(p[i] + o->history[i]);
        }
        for (uint32_t i = s; i < n; i++) {
            p[i] = (uint8_t)(p[i] + p[i - s]);
        }
        if (n >= s) {
            memcpy(o->history, p + n - s, s);
        } else {
            memmove(o->history, o->history + n, s - n);
            memcpy(o->history + s - n, p, n);
        }
    }
    o->sink(o->ctx, p, n);
    o->total += n;
    o->fill = 0;
}

/* Append @p n bytes: a copy of @p src, or @p n copies of @p fill_byte when @p src is NULL. */
static void append(out_t *o, const uint8_t *src, uint8_t fill_byte, uint32_t n)
{
    while (n > 0u) {
        const uint32_t k = o->cap - o->fill < n ? o->cap - o->fill : n;
        if (src != NULL) {
            memcpy(o->buf + o->fill, src, k);
            src += k;
        } else {
            memset(o->buf + o->fill, fill_byte, k);
        }
        o->fill += k;
        n -= k;
        if (o->fill == o->cap) {
            flush(o);
        }
    }
}

uint32_t tt_packbits_unpack(const uint8_t *src, uint32_t len, uint32_t stride, uint8_t *buf, uint32_t cap,
                            tt_packbits_sink_fn sink, void *ctx)
{
    if (stride > TT_PACKED_MAX_STRIDE || cap == 0u) {
        return 0;
    }
    out_t o = {.buf = buf, .cap = cap, .fill = 0, .total = 0, .stride = stride, .sink = sink, .ctx = ctx};
    memset(o.history, 0, sizeof o.history);
    for (uint32_t i = 0; i < len;) {
        uint32_t run_bytes, out_bytes;
        if (!run_at(src, len, i, &run_bytes, &out_bytes)) {
            break;
        }
        append(&o, src[i] < INVALID ? src + i + 1u : NULL, src[i + 1u], out_bytes);
        i += run_bytes;
    }
    if (o.fill != 0u) {
        flush(&o);
    }
    return o.total;
}
