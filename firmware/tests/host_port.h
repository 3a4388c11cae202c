/* The port API on the host, for tests: two RAM-backed flashes and a simulated power cut;
 * no UART. Linked into libtt.so and the C unit tests.
 *
 * The flashes are one array: an internal flash with the F746's eight sectors (model area in
 * sectors 4-7, 896 KB, as on the F746 boards), then an external flash of two sectors (256 KB
 * and 512 KB: the parameter slots, on another flash than the model area as on the F746 boards;
 * unequal, so the smaller one bounds a record as the store promises). Those sizes
 * are the ones the protocol's golden vectors carry (protocol/tt_protocol/responder.py:
 * MODEL_AREA_BYTES, STORE_CAPACITY_BYTES), which test_protocol.c replays byte for byte. */
#ifndef TT_HOST_PORT_H
#define TT_HOST_PORT_H

#include <stddef.h>
#include <stdint.h>

#define TT_HOST_INTERNAL_FLASH_BYTES (1024u * 1024u)
#define TT_HOST_EXTERNAL_FLASH_BYTES (768u * 1024u)
/** Both flashes: the internal one from offset 0, the external one right after it. */
#define TT_HOST_FLASH_BYTES (TT_HOST_INTERNAL_FLASH_BYTES + TT_HOST_EXTERNAL_FLASH_BYTES)

/** The emulated flash contents (erased state 0xFF); tests may read and write it directly. */
uint8_t *tt_host_flash(void);

/** Sector @p index's bytes in tt_host_flash(), writable (tests tamper with flash directly). */
uint8_t *tt_host_flash_sector(size_t index);

/** Erase the whole flash and disarm any power cut. */
void tt_host_flash_reset(void);

/**
 * Cut the power after @p steps more flash steps (one step = one programmed word or one
 * erased KiB); -1 disarms. After the cut every erase and program changes nothing and
 * fails, as if the CPU had stopped; tt_host_flash_steps() tells how many steps ran.
 */
void tt_host_flash_cut_after(long steps);

/** Move tt_port_ticks() on by @p us microseconds (time-outs without waiting). */
void tt_host_clock_advance(uint32_t us);

/** The rate the last tt_port_uart_set_baud() chose (TT_DEFAULT_BAUD before any). */
uint32_t tt_host_uart_baud(void);

/** Flash steps performed since the last tt_host_flash_cut_after() or reset. */
long tt_host_flash_steps(void);

#endif /* TT_HOST_PORT_H */
