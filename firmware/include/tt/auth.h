/**
 * @file auth.h
 * @brief Authentication of the requests that change what the device runs or stores.
 *
 * The key lives in the image's `.tt_key` section (tt_auth_image_record()): 64 bytes, erased
 * (all 0xFF) until `tt-host flash --key` writes a record there. Erased: the device is open and
 * accepts every request. A valid record: requests that need it (tt_auth_needed(): LOAD_BEGIN,
 * LOAD_END, COMMIT, ROLLBACK, REVERT, a training SAMPLE_RUN) must end with a trailer (counter,
 * HMAC-SHA256 tag) bound to a nonce the device issued (NONCE). A damaged record locks the
 * device: those requests are all refused. The format and the tag's message are defined in
 * protocol/tt_protocol/auth.py.
 */
#ifndef TT_AUTH_H
#define TT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/protocol_gen.h"
#include "tt/sha256.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Authentication state of an endpoint; treat as opaque. */
typedef struct {
    uint8_t mode;                          /**< TT_AUTH_MODE_*. */
    uint8_t key[TT_AUTH_KEY_BYTES];
    uint8_t key_id[TT_AUTH_KEY_ID_BYTES];  /**< As the record names it (INFO). */
    bool have_nonce;                       /**< A nonce was issued since boot. */
    uint8_t nonce[TT_AUTH_NONCE_BYTES];
    uint32_t counter;                      /**< The last counter accepted under the nonce. */
} tt_auth_t;

/** The image's key record (TT_AUTH_KEY_RECORD_BYTES; may be erased). */
const volatile uint8_t *tt_auth_image_record(void);

/** Set up from a key record (TT_AUTH_KEY_RECORD_BYTES): open, required or locked. */
void tt_auth_init(tt_auth_t *auth, const volatile uint8_t *record);

/** Whether @p auth asks anything of requests (not TT_AUTH_MODE_OPEN). */
static inline bool tt_auth_active(const tt_auth_t *auth) { return auth->mode != TT_AUTH_MODE_OPEN; }

/**
 * Issue a fresh nonce from tt_port_random() into @p out; the counter starts over.
 * @return TT_STATUS_OK, or TT_STATUS_INTERNAL when the board's random source failed.
 */
tt_status_t tt_auth_issue_nonce(tt_auth_t *auth, uint8_t out[TT_AUTH_NONCE_BYTES]);

/** Whether a request (opcode, payload of @p len bytes with any trailer) needs authentication. */
bool tt_auth_needed(uint8_t opcode, const uint8_t *payload, size_t len);

/**
 * Check the trailer of a request that needs it and strip it from @p len.
 * @param bound  SHA-256 of what the request commits to beyond its payload, or NULL
 * @param detail receives a TT_AUTH_FAILURE_* when refused
 * @return TT_STATUS_OK (the counter is consumed), or TT_STATUS_UNAUTHORIZED with nothing changed
 */
tt_status_t tt_auth_check(tt_auth_t *auth, uint8_t opcode, const uint8_t *payload, size_t *len,
                          const uint8_t bound[TT_SHA256_BYTES], uint32_t *detail);

/** The seal of a package whose SHA-256 is @p package_digest (see auth.py: package_seal). */
void tt_auth_seal(const tt_auth_t *auth, const uint8_t package_digest[TT_SHA256_BYTES],
                  uint8_t seal[TT_AUTH_SEAL_BYTES]);

/** Where a package of @p len bytes keeps its seal: the next word-aligned offset. */
static inline uint32_t tt_auth_seal_offset(uint32_t len) { return (len + 3u) & ~3u; }

#ifdef __cplusplus
}
#endif

#endif /* TT_AUTH_H */
