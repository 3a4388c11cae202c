/* Firmware entry point shared by every board: bring the board up, restore the plan and the
 * committed training state from flash, then serve the host. */
#include "tt/arena.h"
#include "tt/port.h"
#include "tt/proto.h"
#include "tt/trainer.h"

/* One frame in each direction: receive is decoded in place, responses are built in place
 * and COBS-encoded on the way out, so these two buffers are the whole I/O memory. */
static uint8_t rx_frame[TT_MAX_FRAME_BYTES];
static uint8_t tx_frame[TT_MAX_FRAME_BYTES];
static tt_trainer_t trainer;
static tt_proto_t proto;

static void uart_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    tt_port_uart_write(data, len);
}

int main(void)
{
    tt_port_init();
    tt_trainer_init(&trainer, tt_arena(), tt_arena_bytes(), tt_port_flash_layout());
    tt_proto_init(&proto, rx_frame, tx_frame, uart_write, NULL, tt_port_board_info(), &trainer);
    for (;;) {
        uint8_t chunk[64];
        const size_t n = tt_port_uart_read(chunk, sizeof chunk);
        tt_proto_poll(&proto); /* an unconfirmed baud rate times out, with or without traffic */
        if (n == 0) {
            tt_port_wait_for_rx();
            continue;
        }
        tt_proto_feed(&proto, chunk, n);
        if (tt_proto_reset_requested(&proto)) {
            /* RESETTING is on its way out; a reset now would cut it short. */
            tt_port_uart_flush();
            tt_port_reset();
        }
    }
}
