/**
 * @file f746_qemu.h
 * @brief Internals of the emulated F746 board (QEMU mps2-an500): the pieces its files share.
 *
 * Memory map facts are from QEMU 7.2's hw/arm/mps2.c: ZBT SSRAM1 (4 MB) at 0x0, where the
 * image is loaded and boots; ZBT SSRAM2/3 (4 MB) at 0x20000000; the machine RAM
 * ("mps.ram", 16 MB of PSRAM) at 0x60000000 on the AN500 (0x21000000 is an unimplemented
 * hole on this image); CMSDK APB UART0 at 0x40004000 with its receive interrupt on IRQ 0
 * and transmit on IRQ 1 (the AN385/AN386/AN500 UART table, uartirq[] = {0, 2, 4, 18, 20}).
 */
#ifndef TT_F746_QEMU_H
#define TT_F746_QEMU_H

#include <stdbool.h>

#include "f746_flash.h"

/** PSRAM: QEMU's machine RAM, which -machine memory-backend= can back with a file. */
#define TT_QEMU_PSRAM_BASE 0x60000000u
#define TT_QEMU_PSRAM_BYTES (16u * 1024u * 1024u)

/** The emulated internal flash: the first 1 MB of PSRAM, with the F746's sector layout. */
#define TT_QEMU_FLASH_BASE TT_QEMU_PSRAM_BASE

/** The format marker (two words) just past the internal flash. */
#define TT_QEMU_FLASH_MARKER (TT_QEMU_PSRAM_BASE + TT_F746_FLASH_BYTES)

/** The emulated QSPI NOR flash (the part the port exposes, the parameter store) at 2 MB into
 *  PSRAM, where the MPU can cover it exactly (its base aligned to its size). */
#define TT_QEMU_QSPI_BASE (TT_QEMU_PSRAM_BASE + 2u * 1024u * 1024u)

/** The APB peripherals (timers, UARTs, watchdog) of the AN500. */
#define TT_QEMU_APB_BASE 0x40000000u
#define TT_QEMU_APB_LOG2 16u

#define TT_QEMU_UART0_RX_IRQ 0u
#define TT_QEMU_UART0_TX_IRQ 1u

/** The APB clock of the MPS2 FPGA images (SYSCLK, 25 MHz); it also drives SysTick. */
#define TT_QEMU_SYSCLK_HZ 25000000u

void tt_qemu_uart_init(void);
void tt_qemu_uart0_rx_irq(void);

/** Prepare the emulated flashes (format on first use, then "flash" the image into it). */
void tt_qemu_flash_init(void);

/** Open or close the MPU's write access to emulated flash @p flash (driver use only). */
void tt_qemu_flash_window(tt_f746_flash_t flash, bool writable);

#endif /* TT_F746_QEMU_H */
