#include "tt/uart_rate.h"

uint32_t tt_uart_divider(uint32_t clock_hz, uint32_t baud)
{
    if (baud == 0u) {
        return TT_UART_DIV_MAX;
    }
    const uint32_t div = (uint32_t)(((uint64_t)clock_hz + baud / 2u) / baud);
    return div < TT_UART_DIV_MIN ? TT_UART_DIV_MIN : div > TT_UART_DIV_MAX ? TT_UART_DIV_MAX : div;
}

uint32_t tt_uart_rate(uint32_t clock_hz, uint32_t baud, uint32_t *nearest)
{
    const uint32_t made = clock_hz / tt_uart_divider(clock_hz, baud);
    *nearest = made;
    const uint64_t error = made > baud ? made - baud : baud - made;
    /* error / baud <= tolerance / 100, in integers */
    return baud != 0u && error * 100u <= (uint64_t)baud * TT_BAUD_TOLERANCE_PERCENT ? made : 0u;
}
