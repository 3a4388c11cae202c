/* SHA-256 against the FIPS 180-2 example messages (NIST's published digests), HMAC-SHA256
 * against RFC 4231's test cases 1-7; each also fed in uneven pieces, as the device hashes a
 * sample chunk by chunk. */
#include <stdio.h>

#include "tt/sha256.h"
#include "tt_test.h"

static void from_hex(const char *hex, uint8_t *out, size_t *len)
{
    *len = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned byte;
        sscanf(hex, "%2x", &byte);
        out[(*len)++] = (uint8_t)byte;
    }
}

static void check_sha256(const char *name, const uint8_t *msg, size_t len, const char *want_hex)
{
    uint8_t want[32], got[32];
    size_t want_len;
    from_hex(want_hex, want, &want_len);
    tt_sha256(msg, len, got);
    CHECK(tt_test_bytes_equal(name, got, 32, want, want_len), "SHA-256 %s, one piece", name);
    tt_sha256_t s;
    tt_sha256_init(&s);
    for (size_t at = 0, step = 1; at < len; at += step, step = step * 3 % 97 + 1) {
        tt_sha256_update(&s, msg + at, at + step <= len ? step : len - at);
    }
    tt_sha256_final(&s, got);
    CHECK(tt_test_bytes_equal(name, got, 32, want, want_len), "SHA-256 %s, uneven pieces", name);
}

static void check_hmac(const char *name, const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
                       const char *want_hex)
{
    uint8_t want[32], got[32];
    size_t want_len;
    from_hex(want_hex, want, &want_len); /* case 5 gives only the first 128 bits */
    tt_hmac_t h;
    tt_hmac_init(&h, key, key_len);
    for (size_t at = 0, step = 7; at < len; at += step) {
        tt_hmac_update(&h, msg + at, at + step <= len ? step : len - at);
    }
    tt_hmac_final(&h, got);
    CHECK(tt_test_bytes_equal(name, got, want_len, want, want_len), "HMAC-SHA256 %s", name);
}

static void fill(uint8_t *buf, uint8_t value, size_t len) { memset(buf, value, len); }

int main(void)
{
    static uint8_t million[1000000];
    fill(million, 'a', sizeof million);
    const char *two_block = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha256("abc", (const uint8_t *)"abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_sha256("empty", (const uint8_t *)"", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha256("two blocks", (const uint8_t *)two_block, strlen(two_block),
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check_sha256("a million a", million, sizeof million,
                 "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    uint8_t key[131], data[152];
    fill(key, 0x0b, 20);
    check_hmac("rfc4231-1", key, 20, (const uint8_t *)"Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    const char *jefe = "what do ya want for nothing?";
    check_hmac("rfc4231-2", (const uint8_t *)"Jefe", 4, (const uint8_t *)jefe, strlen(jefe),
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    fill(key, 0xaa, 20);
    fill(data, 0xdd, 50);
    check_hmac("rfc4231-3", key, 20, data, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (unsigned i = 0; i < 25; i++) {
        key[i] = (uint8_t)(i + 1);
    }
    fill(data, 0xcd, 50);
    check_hmac("rfc4231-4", key, 25, data, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    fill(key, 0x0c, 20);
    check_hmac("rfc4231-5", key, 20, (const uint8_t *)"Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b");
    fill(key, 0xaa, 131);
    const char *big_key = "Test Using Larger Than Block-Size Key - Hash Key First";
    check_hmac("rfc4231-6", key, 131, (const uint8_t *)big_key, strlen(big_key),
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const char *big_data = "This is a test using a larger than block-size key and a larger than block-size data. "
                           "The key needs to be hashed before being used by the HMAC algorithm.";
    check_hmac("rfc4231-7", key, 131, (const uint8_t *)big_data, strlen(big_data),
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");

    const uint8_t a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 5};
    CHECK(tt_equal_ct(a, a, 4) && !tt_equal_ct(a, b, 4), "constant-time compare");
    return tt_test_report("sha256");
}
