/* The port API on the host, for tests: a RAM-backed flash with the F746's sector layout
 * and a simulated power cut; no UART. Linked into libtt.so and the C unit tests. */
#ifndef TT_HOST_PORT_H
#define TT_HOST_PORT_H

#include <stddef.h>
#include <stdint.h>

#define TT_HOST_FLASH_BYTES (1024u * 1024u)

/** The emulated flash contents (erased state 0xFF); tests may read and write it directly. */
uint8_t *tt_host_flash(void);

/** Erase the whole flash and disarm any power cut. */
void tt_host_flash_reset(void);

/**
 * Cut the power after @p steps more flash steps (one step = one programmed word or one
 * erased KiB); -1 disarms. After the cut every erase and program changes nothing and
 * fails, as if the CPU had stopped; tt_host_flash_steps() tells how many steps ran.
 */
void tt_host_flash_cut_after(long steps);

/** Flash steps performed since the last tt_host_flash_cut_after() or reset. */
long tt_host_flash_steps(void);

#endif /* TT_HOST_PORT_H */
