/**
 * @file sha256.h
 * @brief SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), incremental, portable C.
 *
 * Used to authenticate state-changing requests (tt/auth.h): a few hundred bytes of state,
 * no tables in RAM. Not constant-time with respect to message length (lengths are public);
 * the compression itself has no secret-dependent branches or indices.
 */
#ifndef TT_SHA256_H
#define TT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TT_SHA256_BYTES 32u       /**< Digest size. */
#define TT_SHA256_BLOCK_BYTES 64u /**< Block size (HMAC pads keys to it). */

/** A running SHA-256; treat as opaque. */
typedef struct {
    uint32_t state[8];
    uint64_t length;                      /**< Bytes absorbed so far. */
    uint8_t block[TT_SHA256_BLOCK_BYTES]; /**< The partial block. */
    uint32_t used;                        /**< Its bytes. */
} tt_sha256_t;

void tt_sha256_init(tt_sha256_t *s);
void tt_sha256_update(tt_sha256_t *s, const uint8_t *data, size_t len);
/** Finish into @p digest (TT_SHA256_BYTES); @p s must be initialised again before reuse. */
void tt_sha256_final(tt_sha256_t *s, uint8_t digest[TT_SHA256_BYTES]);
/** SHA-256 of one buffer. */
void tt_sha256(const uint8_t *data, size_t len, uint8_t digest[TT_SHA256_BYTES]);

/** A running HMAC-SHA256: the inner hash and the key's outer pad. */
typedef struct {
    tt_sha256_t inner;
    uint8_t outer_pad[TT_SHA256_BLOCK_BYTES];
} tt_hmac_t;

/** Start an HMAC under @p key (any length; keys over a block are hashed first). */
void tt_hmac_init(tt_hmac_t *h, const uint8_t *key, size_t key_len);
void tt_hmac_update(tt_hmac_t *h, const uint8_t *data, size_t len);
void tt_hmac_final(tt_hmac_t *h, uint8_t mac[TT_SHA256_BYTES]);

/** Whether @p a and @p b (@p len bytes) are equal, in time independent of where they differ. */
int tt_equal_ct(const uint8_t *a, const uint8_t *b, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* TT_SHA256_H */
