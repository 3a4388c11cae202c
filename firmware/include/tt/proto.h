/**
 * @file proto.h
 * @brief The device side of the protocol: bytes in, validated requests dispatched,
 *        response frames out.
 *
 * Everything that arrives over the UART is untrusted and passes through tt_proto_feed()
 * first. Every frame the decoder completes is answered with exactly one frame: the
 * response, or ERROR with the status that names what was wrong. Nothing a host sends
 * can make it abort, block or read outside its buffers.
 *
 * A request that repeats the previous one byte for byte (same sequence number and CRC)
 * is a host retransmission: the previous response is sent again and the request is not
 * executed twice.
 *
 * This file dispatches; the state the requests act on lives in tt_upload_t (the package
 * transfer) and tt_trainer_t (the running plan, samples, counters, the weight store).
 * SET_BAUD is answered at the old rate; the switch follows once the answer has left the UART
 * (tt_port_uart_flush(), tt_port_uart_set_baud()), and tt_proto_poll() undoes it when no valid
 * frame confirms it in time.
 * RESET is answered here, but the reset itself is the caller's: tt_proto_feed() stops at
 * the RESET request and tt_proto_reset_requested() turns true, so the board can drain the
 * UART and reset (main.c) while host tests just look.
 */
#ifndef TT_PROTO_H
#define TT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/auth.h"
#include "tt/frame.h"
#include "tt/port.h"
#include "tt/trainer.h"
#include "tt/upload.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How long a switched UART rate waits for a valid frame before it returns to TT_DEFAULT_BAUD. */
#define TT_BAUD_CONFIRM_MS 1000u

/** Size of an ERROR frame (header, ErrorPayload, CRC). */
#define TT_ERROR_FRAME_BYTES (TT_FRAME_HEADER_BYTES + TT_ERROR_BYTES + TT_FRAME_CRC_BYTES)

/** Protocol endpoint state; the rx/tx buffers are owned by the caller. */
typedef struct {
    tt_frame_decoder_t decoder;
    uint8_t *tx;      /**< Response buffer, TT_MAX_FRAME_BYTES. */
    size_t tx_len;    /**< Length of the last response (kept for retransmissions). */
    bool have_last;   /**< Whether last_seq/last_crc describe an executed request. */
    uint16_t last_seq;
    uint32_t last_crc;
    uint8_t framing_error[TT_ERROR_FRAME_BYTES]; /**< Answers to frames that failed to decode. */
    tt_write_fn write;
    void *write_ctx;
    const tt_board_info_t *board;
    tt_trainer_t *trainer; /**< The training state the requests act on. */
    tt_upload_t upload; /**< Package transfer into the model area (LOAD_*). */
    uint8_t announced_model[32]; /**< model_hash of the last accepted LOAD_BEGIN. */
    bool reset_requested; /**< A RESET was answered: nothing more is read until the reset. */
    uint32_t switch_to;   /**< A SET_BAUD being answered: the rate to switch to once the answer is out. */
    bool baud_unconfirmed; /**< Switched, and no valid frame has arrived at the new rate yet. */
    uint32_t baud_since;  /**< tt_port_ticks() at that switch. */
    tt_auth_t auth;       /**< The key and nonce that state-changing requests are checked against. */
    tt_sha256_t input_digest; /**< The current sample's digest (kept only while a key is provisioned). */
    uint8_t bound[TT_SHA256_BYTES]; /**< What the request being executed was authenticated over. */
} tt_proto_t;

/**
 * Set up an endpoint.
 * @param rx, tx  caller-owned buffers of TT_MAX_FRAME_BYTES each.
 * @param write   where response bytes go (the UART on a board).
 * @param board   identity reported by HELLO.
 * @param trainer the training state (tt_trainer_init() done: it may hold a plan from flash);
 *                its arena size is what HELLO reports.
 */
void tt_proto_init(tt_proto_t *proto, uint8_t *rx, uint8_t *tx, tt_write_fn write, void *write_ctx,
                   const tt_board_info_t *board, tt_trainer_t *trainer);

/**
 * Take the key record @p record (TT_AUTH_KEY_RECORD_BYTES; tt_proto_init() takes the image's).
 * With a key, a running package without a valid seal is unloaded: a device provisioned with
 * a key runs only packages its key holder approved.
 */
void tt_proto_set_key_record(tt_proto_t *proto, const volatile uint8_t *record);

/**
 * Feed received bytes; complete frames are handled and answered before it returns. After a
 * SET_BAUD answer the UART switches and the rest of @p data is dropped (it arrived before the
 * switch).
 * @return the bytes consumed: all of @p len, unless a RESET was answered, after which the
 *         rest is left unread (the device resets; the host resends what it still wants).
 */
size_t tt_proto_feed(tt_proto_t *proto, const uint8_t *data, size_t len);

/**
 * Keep the link's deadlines: call whenever the main loop wakes (tt_port_wait_for_rx() returns
 * at least about once a second). A rate switched to by SET_BAUD that no valid frame has
 * confirmed within TT_BAUD_CONFIRM_MS is given up: the UART returns to TT_DEFAULT_BAUD, so a
 * host whose cable cannot carry the rate finds the device where it started.
 */
void tt_proto_poll(tt_proto_t *proto);

/** Whether a RESET has been answered: the caller should flush the UART and reset. */
bool tt_proto_reset_requested(const tt_proto_t *proto);

#ifdef __cplusplus
}
#endif

#endif /* TT_PROTO_H */
