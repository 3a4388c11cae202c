/**
 * @file f746_disco.h
 * @brief Internals of the STM32F746G-DISCO board: the pieces its files share.
 */
#ifndef TT_F746_DISCO_H
#define TT_F746_DISCO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** USART1 on PA9/PB7 (the ST-LINK virtual COM port), 8N1, receive interrupt on. */
void tt_disco_uart_init(uint32_t pclk2_hz);
void tt_disco_usart1_irq(void);

/** Whether tt_disco_uart_init() ran (a fault report can only be sent after it). */
bool tt_disco_uart_ready(void);

/** Open or close the MPU's write access to the flash (driver use only). */
void tt_disco_flash_window(bool writable);

/** Put pin @p pin of GPIO port @p port (a GPIOx_BASE) on alternate function @p af, with
 *  output speed @p speed (GPIO_SPEED_*) and pull @p pull (0 none, GPIO_PULL_UP). */
void tt_disco_pin_af(uint32_t port, uint32_t pin, uint32_t af, uint32_t speed, uint32_t pull);

/** Where the QSPI NOR flash reads in memory-mapped mode (RM0385 2.2.2: the QUADSPI bank). */
#define TT_DISCO_QSPI_BASE 0x90000000u
/** The QSPI flash chip's bytes (Micron N25Q128A: 128 Mbit). */
#define TT_DISCO_QSPI_CHIP_BYTES (16u * 1024u * 1024u)

/**
 * Bring up the QUADSPI and the N25Q128A (boards/f746-disco/qspi.c), ending in memory-mapped
 * mode. Needs the tick counter (timeouts). When the chip does not answer as an N25Q128A the
 * window still reads (whatever the lines carry: a store finds no record), and every erase
 * and program fails.
 */
void tt_disco_qspi_init(void);

/** Erase [offset, offset + size) of the QSPI flash, whole 64 KB sectors; 0 on success. */
int tt_disco_qspi_erase(uint32_t offset, uint32_t size);

/** Program @p len bytes at @p offset of the QSPI flash (erased beforehand); 0 on success. */
int tt_disco_qspi_program(uint32_t offset, const uint8_t *data, size_t len);

/** Make the QSPI window readable (memory-mapped mode) or inaccessible (indirect mode, when a
 *  speculative read by the core would disturb the QUADSPI); driver use only. */
void tt_disco_qspi_window(bool readable);

#endif /* TT_F746_DISCO_H */
