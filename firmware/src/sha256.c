/* SHA-256 as FIPS 180-4 defines it, HMAC as RFC 2104 does. Written for size over speed: one
 * rolled loop (about 2 KB of code on the M7); it hashes a sample or a package once per
 * authenticated request, never inside a training step. */
#include "tt/sha256.h"

#include <string.h>

/* The first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t round_constants[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32u - n)); }

static void compress(uint32_t state[8], const uint8_t block[TT_SHA256_BLOCK_BYTES])
{
    uint32_t w[64];
    for (unsigned i = 0; i < 16; i++) {
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8 |
               (uint32_t)block[4 * i + 3];
    }
    for (unsigned i = 16; i < 64; i++) {
        const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (unsigned i = 0; i < 64; i++) {
        const uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + round_constants[i] + w[i];
        const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

void tt_sha256_init(tt_sha256_t *s)
{
    /* The first 32 bits of the fractional parts of the square roots of the first 8 primes. */
    static const uint32_t initial[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                        0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    memcpy(s->state, initial, sizeof initial);
    s->length = 0;
    s->used = 0;
}

void tt_sha256_update(tt_sha256_t *s, const uint8_t *data, size_t len)
{
    s->length += len;
    while (len > 0) {
        const size_t take = len < TT_SHA256_BLOCK_BYTES - s->used ? len : TT_SHA256_BLOCK_BYTES - s->used;
        memcpy(s->block + s->used, data, take);
        s->used += (uint32_t)take;
        data += take;
        len -= take;
        if (s->used == TT_SHA256_BLOCK_BYTES) {
            compress(s->state, s->block);
            s->used = 0;
        }
    }
}

void tt_sha256_final(tt_sha256_t *s, uint8_t digest[TT_SHA256_BYTES])
{
    const uint64_t bits = s->length * 8u;
    /* Padding: 0x80, zeros up to 56 bytes into a block, the message length in bits. */
    s->block[s->used++] = 0x80u;
    if (s->used > TT_SHA256_BLOCK_BYTES - 8u) {
        memset(s->block + s->used, 0, TT_SHA256_BLOCK_BYTES - s->used);
        compress(s->state, s->block);
        s->used = 0;
    }
    memset(s->block + s->used, 0, TT_SHA256_BLOCK_BYTES - 8u - s->used);
    for (unsigned i = 0; i < 8; i++) {
        s->block[TT_SHA256_BLOCK_BYTES - 1u - i] = (uint8_t)(bits >> (8u * i));
    }
    compress(s->state, s->block);
    for (unsigned i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(s->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(s->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(s->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)s->state[i];
    }
}

void tt_sha256(const uint8_t *data, size_t len, uint8_t digest[TT_SHA256_BYTES])
{
    tt_sha256_t s;
    tt_sha256_init(&s);
    tt_sha256_update(&s, data, len);
    tt_sha256_final(&s, digest);
}

void tt_hmac_init(tt_hmac_t *h, const uint8_t *key, size_t key_len)
{
    uint8_t block_key[TT_SHA256_BLOCK_BYTES] = {0};
    if (key_len > TT_SHA256_BLOCK_BYTES) {
        tt_sha256(key, key_len, block_key);
    } else {
        memcpy(block_key, key, key_len);
    }
    uint8_t inner_pad[TT_SHA256_BLOCK_BYTES];
    for (unsigned i = 0; i < TT_SHA256_BLOCK_BYTES; i++) {
        inner_pad[i] = block_key[i] ^ 0x36u;
        h->outer_pad[i] = block_key[i] ^ 0x5cu;
    }
    tt_sha256_init(&h->inner);
    tt_sha256_update(&h->inner, inner_pad, sizeof inner_pad);
}

void tt_hmac_update(tt_hmac_t *h, const uint8_t *data, size_t len) { tt_sha256_update(&h->inner, data, len); }

void tt_hmac_final(tt_hmac_t *h, uint8_t mac[TT_SHA256_BYTES])
{
    uint8_t inner[TT_SHA256_BYTES];
    tt_sha256_final(&h->inner, inner);
    tt_sha256_t outer;
    tt_sha256_init(&outer);
    tt_sha256_update(&outer, h->outer_pad, sizeof h->outer_pad);
    tt_sha256_update(&outer, inner, sizeof inner);
    tt_sha256_final(&outer, mac);
}

int tt_equal_ct(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++) {
        diff |= (uint8_t)(a[i] ^ b[i]);
    }
    return diff == 0u;
}
