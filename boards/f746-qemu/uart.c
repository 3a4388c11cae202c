/* CMSDK APB UART0 of the mps2-an500 (Arm DDI 0479C, Cortex-M System Design Kit TRM,
 * section 4.3 "UART"), as QEMU 7.2 models it in hw/char/cmsdk-apb-uart.c.
 *
 * Receive is interrupt driven into a ring. The UART holds one byte, and QEMU hands it the
 * next byte from the socket only once that one is read, so nothing is ever lost: when the
 * ring is full the handler leaves the byte in the UART and QEMU holds the rest back
 * (back-pressure on the TCP socket) until tt_port_uart_read() makes room. */
#include <stdbool.h>

#include "cortex_m7.h"
#include "f746_qemu.h"
#include "ring.h"
#include "tt/port.h"
#include "tt/uart_rate.h"

#define UART0_BASE 0x40004000u
#define UART_DATA TT_REG32(UART0_BASE + 0x000u)
#define UART_STATE TT_REG32(UART0_BASE + 0x004u)
#define UART_CTRL TT_REG32(UART0_BASE + 0x008u)
#define UART_INTSTATUS TT_REG32(UART0_BASE + 0x00Cu) /* reads status, write 1 to clear */
#define UART_BAUDDIV TT_REG32(UART0_BASE + 0x010u)

#define STATE_TX_FULL (1u << 0)
#define STATE_RX_FULL (1u << 1)
#define CTRL_TX_EN (1u << 0)
#define CTRL_RX_EN (1u << 1)
#define CTRL_RX_INTEN (1u << 3)
#define INT_RX (1u << 1)

/* The real board's USART1 clock (PCLK2, boards/f746-disco/board.c): the twin accepts exactly
 * the rates the Discovery board makes, so a negotiation ends where it would on hardware. */
#define F746_PCLK2_HZ 108000000u
#define UART_IRQ_PRIORITY 0x40u

static tt_ring_t rx_ring;
/* Set by the handler when it left a byte in the UART because the ring was full. */
static volatile bool rx_held;

void tt_qemu_uart_init(void)
{
    tt_port_uart_set_baud(TT_DEFAULT_BAUD);
    UART_INTSTATUS = INT_RX;
    UART_CTRL = CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INTEN;
    tt_cm7_irq_enable(TT_QEMU_UART0_RX_IRQ, UART_IRQ_PRIORITY);
}

void tt_qemu_uart0_rx_irq(void)
{
    /* Clear first: a byte that lands after this raises the interrupt again. Clearing
     * after draining could swallow that byte's interrupt and stall receive for good. */
    UART_INTSTATUS = INT_RX;
    while (UART_STATE & STATE_RX_FULL) {
        if (tt_ring_full(&rx_ring)) {
            rx_held = true;
            return;
        }
        (void)tt_ring_put(&rx_ring, (uint8_t)UART_DATA);
    }
}

size_t tt_port_uart_read(uint8_t *buf, size_t cap)
{
    const size_t n = tt_ring_get(&rx_ring, buf, cap);
    if (rx_held) {
        /* There is room now: run the handler again to take the held byte. */
        rx_held = false;
        tt_cm7_irq_pend(TT_QEMU_UART0_RX_IRQ);
    }
    return n;
}

void tt_port_uart_write(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (UART_STATE & STATE_TX_FULL) {
        }
        UART_DATA = buf[i];
    }
}

void tt_port_uart_flush(void)
{
    /* QEMU's CMSDK UART holds one byte until the character backend takes it. */
    while (UART_STATE & STATE_TX_FULL) {
    }
}

uint32_t tt_port_uart_rate(uint32_t baud, uint32_t *nearest) { return tt_uart_rate(F746_PCLK2_HZ, baud, nearest); }

void tt_port_uart_set_baud(uint32_t baud)
{
    /* QEMU does not pace bytes on a socket at any rate, but a divider below 16 leaves the UART
     * unconfigured (and a 25 MHz clock over 16 tops out at 1.56 Mbaud). */
    UART_BAUDDIV = tt_uart_divider(TT_QEMU_SYSCLK_HZ, baud);
}

static bool rx_pending(void) { return !tt_ring_empty(&rx_ring); }

void tt_port_wait_for_rx(void) { tt_cm7_wait_unless(rx_pending); }
