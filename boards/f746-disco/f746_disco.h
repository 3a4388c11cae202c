/**
 * @file f746_disco.h
 * @brief Internals of the STM32F746G-DISCO board: the pieces its files share.
 */
#ifndef TT_F746_DISCO_H
#define TT_F746_DISCO_H

#include <stdbool.h>
#include <stdint.h>

/** USART1 on PA9/PB7 (the ST-LINK virtual COM port), 8N1, receive interrupt on. */
void tt_disco_uart_init(uint32_t pclk2_hz);
void tt_disco_usart1_irq(void);

/** Whether tt_disco_uart_init() ran (a fault report can only be sent after it). */
bool tt_disco_uart_ready(void);

/** Open or close the MPU's write access to the flash (driver use only). */
void tt_disco_flash_window(bool writable);

#endif /* TT_F746_DISCO_H */
