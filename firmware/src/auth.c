/* Request authentication: the key record, nonces, trailers and package seals. The format is
 * protocol/tt_protocol/auth.py's; a Python test signs with it and the device checks here. */
#include "tt/auth.h"

#include <string.h>

#include "tt/crc32.h"
#include "tt/frame.h"
#include "tt/port.h"

#define ERASED_RECORD                                                                                     \
    0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu

/* Erased until provisioning patches the image (tt_host.tooling.keys). Volatile: the
 * compiler must read what the flash holds, not fold the erased initializer into the code. */
__attribute__((section(".tt_key"), used, aligned(4))) const volatile uint8_t
    tt_key_record[TT_AUTH_KEY_RECORD_BYTES] = {ERASED_RECORD, ERASED_RECORD, ERASED_RECORD, ERASED_RECORD};

/* Record layout (auth.py KeyRecord): magic, key, key id, reserved, CRC-32 of the rest. */
enum {
    RECORD_KEY = 4,
    RECORD_KEY_ID = RECORD_KEY + TT_AUTH_KEY_BYTES,
    RECORD_CRC = TT_AUTH_KEY_RECORD_BYTES - 4,
};

static const uint8_t request_domain[8] = {'t', 't', '-', 'a', 'u', 't', 'h', '1'};
static const uint8_t seal_domain[8] = {'t', 't', '-', 's', 'e', 'a', 'l', '1'};

const volatile uint8_t *tt_auth_image_record(void) { return tt_key_record; }

void tt_auth_init(tt_auth_t *auth, const volatile uint8_t *record)
{
    uint8_t copy[TT_AUTH_KEY_RECORD_BYTES];
    for (size_t i = 0; i < sizeof copy; i++) {
        copy[i] = record[i];
    }
    memset(auth, 0, sizeof *auth);
    if (memcmp(copy, TT_AUTH_KEY_MAGIC, 4) != 0) {
        auth->mode = TT_AUTH_MODE_OPEN;
        return;
    }
    if (tt_crc32(copy, RECORD_CRC) != tt_get_u32(copy + RECORD_CRC)) {
        auth->mode = TT_AUTH_MODE_LOCKED; /* a damaged key never opens the device */
        return;
    }
    auth->mode = TT_AUTH_MODE_REQUIRED;
    memcpy(auth->key, copy + RECORD_KEY, TT_AUTH_KEY_BYTES);
    memcpy(auth->key_id, copy + RECORD_KEY_ID, TT_AUTH_KEY_ID_BYTES);
    memset(copy, 0, sizeof copy);
}

tt_status_t tt_auth_issue_nonce(tt_auth_t *auth, uint8_t out[TT_AUTH_NONCE_BYTES])
{
    auth->have_nonce = false;
    if (tt_port_random(auth->nonce, TT_AUTH_NONCE_BYTES) != 0) {
        return TT_STATUS_INTERNAL;
    }
    auth->have_nonce = true;
    auth->counter = 0;
    memcpy(out, auth->nonce, TT_AUTH_NONCE_BYTES);
    return TT_STATUS_OK;
}

/* The payload size of an authenticated request without its trailer; -1 for a request that
 * is never authenticated. */
static int plain_bytes(uint8_t opcode)
{
    switch (opcode) {
    case TT_OP_LOAD_BEGIN:
        return (int)TT_LOAD_BEGIN_BYTES;
    case TT_OP_SAMPLE_RUN:
        return (int)TT_SAMPLE_RUN_BYTES;
    case TT_OP_LOAD_END:
    case TT_OP_COMMIT:
    case TT_OP_ROLLBACK:
    case TT_OP_REVERT:
        return 0;
    default:
        return -1;
    }
}

bool tt_auth_needed(uint8_t opcode, const uint8_t *payload, size_t len)
{
    if (opcode == TT_OP_SAMPLE_RUN) {
        /* Evaluation runs stay open: only a training run changes the parameters. */
        return len >= TT_SAMPLE_RUN_BYTES &&
               (tt_get_u16(payload + TT_SAMPLE_RUN_OFF_FLAGS) & TT_SAMPLE_FLAG_TRAIN) != 0u;
    }
    return plain_bytes(opcode) >= 0;
}

tt_status_t tt_auth_check(tt_auth_t *auth, uint8_t opcode, const uint8_t *payload, size_t *len,
                          const uint8_t bound[TT_SHA256_BYTES], uint32_t *detail)
{
    const int plain = plain_bytes(opcode);
    if (auth->mode == TT_AUTH_MODE_LOCKED) {
        *detail = TT_AUTH_FAILURE_LOCKED;
        return TT_STATUS_UNAUTHORIZED;
    }
    if (plain < 0 || *len != (size_t)plain + TT_AUTH_TRAILER_BYTES) {
        *detail = TT_AUTH_FAILURE_MISSING;
        return TT_STATUS_UNAUTHORIZED;
    }
    if (!auth->have_nonce) {
        *detail = TT_AUTH_FAILURE_NO_NONCE;
        return TT_STATUS_UNAUTHORIZED;
    }
    const uint8_t *trailer = payload + plain;
    const uint32_t counter = tt_get_u32(trailer);
    tt_hmac_t h;
    tt_hmac_init(&h, auth->key, TT_AUTH_KEY_BYTES);
    tt_hmac_update(&h, request_domain, sizeof request_domain);
    tt_hmac_update(&h, auth->nonce, TT_AUTH_NONCE_BYTES);
    tt_hmac_update(&h, trailer, 4);
    tt_hmac_update(&h, &opcode, 1);
    tt_hmac_update(&h, payload, (size_t)plain);
    if (bound != NULL) {
        tt_hmac_update(&h, bound, TT_SHA256_BYTES);
    }
    uint8_t tag[TT_SHA256_BYTES];
    tt_hmac_final(&h, tag);
    /* The tag first: a forged request learns nothing about the counter. */
    if (!tt_equal_ct(tag, trailer + 4, TT_AUTH_TAG_BYTES)) {
        *detail = TT_AUTH_FAILURE_BAD_TAG;
        return TT_STATUS_UNAUTHORIZED;
    }
    if (counter <= auth->counter) {
        *detail = TT_AUTH_FAILURE_REPLAYED;
        return TT_STATUS_UNAUTHORIZED;
    }
    auth->counter = counter;
    *len = (size_t)plain;
    return TT_STATUS_OK;
}

void tt_auth_seal(const tt_auth_t *auth, const uint8_t package_digest[TT_SHA256_BYTES],
                  uint8_t seal[TT_AUTH_SEAL_BYTES])
{
    tt_hmac_t h;
    tt_hmac_init(&h, auth->key, TT_AUTH_KEY_BYTES);
    tt_hmac_update(&h, seal_domain, sizeof seal_domain);
    tt_hmac_update(&h, package_digest, TT_SHA256_BYTES);
    tt_hmac_final(&h, seal);
}
