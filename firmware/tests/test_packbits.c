/* The PackBits decoder on arbitrary bytes (it reads the UART's): for every stream, stride and
 * buffer size it never writes outside its buffer (guard bytes around it stay intact; run under
 * ASan by the host-asan preset too), hands the sink whole buffers, and agrees with the check:
 * a valid stream decodes to exactly the length tt_packbits_check() reported, with the delta
 * undone. Deterministic pseudo-random cases; tests/test_packbits.py adds hypothesis's. */
#include "tt/packbits.h"
#include "tt_test.h"

#define GUARD 16u
#define MAX_CAP 64u
#define MAX_STREAM 300u

static uint8_t got[MAX_STREAM * 128u];
static uint32_t got_len;
static uint32_t calls_wrong_size;
static uint32_t sink_cap;

static void sink(void *ctx, const uint8_t *data, uint32_t len)
{
    (void)ctx;
    if (len == 0u || len > sink_cap) {
        calls_wrong_size++;
        return;
    }
    memcpy(got + got_len, data, len);
    got_len += len;
}

static uint32_t rng = 12345u;
static uint32_t next(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

/* The reference: the same format decoded into a flat array (no buffer, no sink). */
static uint32_t reference(const uint8_t *src, uint32_t len, uint32_t stride, uint8_t *out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < len;) {
        const uint32_t c = src[i];
        if (c < 0x80u && i + c + 2u <= len) {
            memcpy(out + n, src + i + 1u, c + 1u);
            n += c + 1u;
            i += c + 2u;
        } else if (c > 0x80u && i + 2u <= len) {
            memset(out + n, src[i + 1u], 257u - c);
            n += 257u - c;
            i += 2u;
        } else {
            break;
        }
    }
    for (uint32_t k = stride; stride != 0u && k < n; k++) {
        out[k] = (uint8_t)(out[k] + out[k - stride]);
    }
    return n;
}

int main(void)
{
    static uint8_t src[MAX_STREAM], want[MAX_STREAM * 128u];
    uint8_t buf[GUARD + MAX_CAP + GUARD];
    for (int trial = 0; trial < 20000; trial++) {
        const uint32_t len = next() % MAX_STREAM;
        for (uint32_t i = 0; i < len; i++) {
            /* Mostly well-formed runs, sometimes anything (0x80, cut runs). */
            src[i] = (uint8_t)(trial % 3 == 0 ? next() : (next() % 4 == 0 ? 0x80u + next() % 128u : next() % 8u));
        }
        const uint32_t stride = next() % (TT_PACKED_MAX_STRIDE + 4u);
        sink_cap = 1u + next() % MAX_CAP;
        memset(buf, 0xA5, sizeof buf);
        got_len = 0;
        calls_wrong_size = 0;
        const uint32_t total = tt_packbits_unpack(src, len, stride, buf + GUARD, sink_cap, sink, NULL);
        int guards_ok = 1;
        for (uint32_t g = 0; g < GUARD; g++) {
            guards_ok &= buf[g] == 0xA5u && buf[GUARD + sink_cap + g] == 0xA5u;
        }
        for (uint32_t g = GUARD + sink_cap; g < sizeof buf; g++) {
            guards_ok &= buf[g] == 0xA5u;
        }
        CHECK(guards_ok, "trial %d: wrote outside its buffer of %u", trial, (unsigned)sink_cap);
        CHECK(calls_wrong_size == 0 && total == got_len, "trial %d: sink calls", trial);
        if (stride > TT_PACKED_MAX_STRIDE) {
            CHECK(total == 0u, "trial %d: a stride above the limit decodes nothing", trial);
            continue;
        }
        const uint32_t n = reference(src, len, stride, want);
        CHECK(total == n && memcmp(got, want, n) == 0, "trial %d: %u bytes, reference %u", trial, (unsigned)total,
              (unsigned)n);
        uint32_t decoded = 0, bad_at = 0;
        if (tt_packbits_check(src, len, &decoded, &bad_at) == TT_STATUS_OK) {
            CHECK(decoded == n, "trial %d: check says %u, decoded %u", trial, (unsigned)decoded, (unsigned)n);
        } else {
            CHECK(bad_at < len, "trial %d: bad_at %u of %u", trial, (unsigned)bad_at, (unsigned)len);
        }
    }
    return tt_test_report("packbits");
}
