/**
 * @file port.h
 * @brief The port API: everything the portable runtime needs from a board.
 *
 * The runtime in firmware/ never touches a register. A board (boards/<name>/) implements
 * these functions once; the host build implements them over memory for tests. All
 * functions are called from thread mode only, never from an interrupt handler.
 */
#ifndef TT_PORT_H
#define TT_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Identity and budgets of a board, reported to the host in INFO. */
typedef struct {
    const char *name;       /**< Board name as the host knows it, e.g. "f746-qemu" (<= 15 chars). */
    uint32_t sram_bytes;    /**< Total SRAM of the part (327680 on the STM32F746). */
    uint32_t flash_bytes;   /**< Total flash of the part (1048576 on the STM32F746). */
    uint32_t core_clock_hz; /**< Core clock configured by tt_port_init(). */
} tt_board_info_t;

/**
 * One erasable flash sector. A board may have more than one flash (the F746 boards keep
 * the model area in the MCU's own flash and the parameter store in an external QSPI NOR
 * flash); each sector says where its bytes read, so the runtime never needs to know which
 * flash a sector is on.
 */
typedef struct {
    const uint8_t *address; /**< Where the sector's bytes read: memory-mapped, by plain loads. */
    uint32_t size;          /**< Sector size in bytes: what tt_port_flash_erase() erases at once. */
} tt_flash_sector_t;

/**
 * How a board divides its flash: two slots for trained parameters (tt_store_t) and a model
 * area for an uploaded package (plan and weights), which the executor reads in place every
 * step. Sector indices refer to tt_port_flash_sector(). The model area's sectors follow one
 * another in the address space (the package is read as one span); the two slots may be on
 * another flash than the model area.
 */
typedef struct {
    size_t slot_a;       /**< Sector of parameter slot A. */
    size_t slot_b;       /**< Sector of parameter slot B. */
    size_t model_first;  /**< First sector of the model area. */
    size_t model_count;  /**< Number of contiguous sectors in the model area. */
} tt_flash_layout_t;

/** Bring up clocks, the UART (interrupt-driven receive) and the tick counter. */
void tt_port_init(void);

/** The board's identity and budgets; the pointer stays valid forever. */
const tt_board_info_t *tt_port_board_info(void);

/**
 * Move up to @p cap received bytes into @p buf without blocking.
 * @return the number of bytes copied; 0 when nothing is pending.
 * Bytes that arrive while the receive ring is full are dropped (and counted by the
 * board); the framing layer recovers at the next delimiter.
 */
size_t tt_port_uart_read(uint8_t *buf, size_t cap);

/** Transmit @p len bytes; returns when all of them are handed to the UART. */
void tt_port_uart_write(const uint8_t *buf, size_t len);

/**
 * Return once every byte handed to tt_port_uart_write() has left the UART (the shift
 * register included), e.g. before a reset that would cut the last answer short.
 */
void tt_port_uart_flush(void);

/**
 * The rate the UART runs at for a request of @p baud (SET_BAUD; the number is untrusted).
 * Boards accept the rates the real board's UART makes within TT_BAUD_TOLERANCE_PERCENT
 * (tt_uart_rate() over its clock), the twins the same ones, so that a negotiation goes the
 * same way on all of them.
 * @param nearest receives the closest rate the UART makes (what a refusal reports)
 * @return the rate it makes for @p baud; 0 when it cannot make @p baud closely enough
 */
uint32_t tt_port_uart_rate(uint32_t baud, uint32_t *nearest);

/**
 * Run the UART at @p baud (a rate tt_port_uart_rate() accepted) from now on. A byte still
 * being sent or received is cut short: call tt_port_uart_flush() first. tt_port_init() and a
 * reset start at TT_DEFAULT_BAUD.
 */
void tt_port_uart_set_baud(uint32_t baud);

/**
 * Sleep until an interrupt may have delivered a byte, or until the board's periodic wake-up
 * (at most about a second apart: the SysTick wrap on the Cortex-M boards, a poll timeout on
 * the host twin), so that deadlines the caller keeps (tt_proto_poll()) pass without traffic.
 * Implementations check for pending receive data with interrupts masked before
 * sleeping, so a byte that arrives between the caller's last read and the sleep
 * cannot be missed.
 */
void tt_port_wait_for_rx(void);

/** Monotonic tick counter (SysTick); under QEMU -icount it counts instructions / 40. */
uint32_t tt_port_ticks(void);

/** Ticks per second of tt_port_ticks(). */
uint32_t tt_port_tick_hz(void);

/**
 * The main stack: @p reserved receives the bytes the image reserves for it (guard
 * included), @p peak the deepest use since boot, measured from its top. Boards paint the
 * stack with a pattern at boot and find the lowest word that no longer holds it, so the
 * peak is a high-water mark that a call can only raise. Both are 0 where unknown (host).
 */
void tt_port_stack_usage(uint32_t *reserved, uint32_t *peak);

/** The board's flash partition; the pointer stays valid forever. */
const tt_flash_layout_t *tt_port_flash_layout(void);

/** Number of erasable sectors, over all of the board's flashes. */
size_t tt_port_flash_sector_count(void);

/** Geometry of sector @p index (< tt_port_flash_sector_count()); {NULL, 0} past the end. */
tt_flash_sector_t tt_port_flash_sector(size_t index);

/**
 * Erase sector @p index to 0xFF.
 * @return 0 on success, non-zero when the hardware reported an error, @p index is out of
 *         range, or the sector holds part of the running firmware image (never erased).
 */
int tt_port_flash_erase(size_t index);

/**
 * Program @p len bytes at @p at, the address the bytes read at (inside the sectors of
 * tt_port_flash_sector(); a span may run on into the next sector of the same flash).
 * Programming can only clear bits (the target must be erased); @p at and @p len must be
 * multiples of 4. When it returns, reads at @p at see the new bytes.
 * @return 0 on success, non-zero on a hardware error, misalignment, a span outside one
 *         flash's sectors, or a span overlapping the running firmware image.
 */
int tt_port_flash_program(const uint8_t *at, const uint8_t *data, size_t len);

/**
 * Fill @p out with @p len unpredictable bytes (authentication nonces): the F746's true random
 * number generator, the host's entropy on the twins.
 * @return 0 on success, non-zero when the source failed (then @p out must not be used)
 */
int tt_port_random(uint8_t *out, size_t len);

/** Reset the microcontroller; does not return. */
__attribute__((noreturn)) void tt_port_reset(void);

#ifdef __cplusplus
}
#endif

#endif /* TT_PORT_H */
