/**
 * @file uart_rate.h
 * @brief Which baud rates a UART with an integer clock divider makes, and how well.
 *
 * Shared by the boards' tt_port_uart_rate(): the STM32F746's USART1 (oversampling by 16,
 * BRR = f_ck / baud, RM0385 "USART baud rate generation") and the twins, which accept exactly
 * the rates the real board accepts so that a negotiation behaves the same on all three.
 */
#ifndef TT_UART_RATE_H
#define TT_UART_RATE_H

#include <stdint.h>

#include "tt/protocol_gen.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Smallest divider with oversampling by 16 (RM0385: BRR must be >= 16). */
#define TT_UART_DIV_MIN 16u
/** Largest divider: the 16-bit BRR. */
#define TT_UART_DIV_MAX 0xFFFFu

/**
 * The divider for @p baud from a clock of @p clock_hz: the nearest integer, held to
 * [TT_UART_DIV_MIN, TT_UART_DIV_MAX].
 */
uint32_t tt_uart_divider(uint32_t clock_hz, uint32_t baud);

/**
 * The rate the UART makes for @p baud: clock_hz over tt_uart_divider(), when that is within
 * TT_BAUD_TOLERANCE_PERCENT of @p baud; 0 otherwise (including @p baud 0).
 * @param nearest receives the rate the divider makes either way (the highest rate for a
 *                request above it, the lowest for one below it).
 */
uint32_t tt_uart_rate(uint32_t clock_hz, uint32_t baud, uint32_t *nearest);

#ifdef __cplusplus
}
#endif

#endif /* TT_UART_RATE_H */
