/* USART1 of the STM32F746 on the Discovery board's ST-LINK virtual COM port (PA9 = TX,
 * PB7 = RX, alternate function 7), 8N1 at TT_DEFAULT_BAUD until SET_BAUD switches it. Receive is interrupt driven into a ring;
 * transmit polls TXE. The USART has no receive FIFO, so a byte that arrives while the
 * ring is full is dropped (and counted) and the frame layer recovers at the next
 * delimiter; an overrun (a byte lost in the USART itself) is counted too. */
#include "cortex_m7.h"
#include "f746_disco.h"
#include "ring.h"
#include "stm32f746.h"
#include "tt/port.h"
#include "tt/uart_rate.h"

#define UART_IRQ_PRIORITY 0x40u
#define PIN_TX 9u /* PA9 */
#define PIN_RX 7u /* PB7 */

static tt_ring_t rx_ring;
static bool ready;
static uint32_t usart_clock_hz; /* PCLK2: what BRR divides */
/* Diagnostics, readable with a debugger. */
static volatile uint32_t rx_dropped;
static volatile uint32_t rx_overruns;

void tt_disco_uart_init(uint32_t pclk2_hz)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN | RCC_AHB1ENR_GPIOBEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR; /* the clocks must be running before the peripherals are written */
    RCC_DCKCFGR2 &= ~RCC_DCKCFGR2_USART1SEL_MASK;

    tt_disco_pin_af(GPIOA_BASE, PIN_TX, GPIO_AF7_USART1, GPIO_SPEED_HIGH, 0u);
    tt_disco_pin_af(GPIOB_BASE, PIN_RX, GPIO_AF7_USART1, GPIO_SPEED_HIGH, GPIO_PULL_UP); /* idle high if the VCP is absent */

    usart_clock_hz = pclk2_hz;
    USART1_CR1 = 0;
    USART1_BRR = tt_uart_divider(pclk2_hz, TT_DEFAULT_BAUD); /* oversampling by 16: BRR = f_ck / baud */
    USART1_ICR = USART_ICR_PECF | USART_ICR_FECF | USART_ICR_NCF | USART_ICR_ORECF;
    USART1_CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;
    tt_cm7_irq_enable(USART1_IRQN, UART_IRQ_PRIORITY);
    ready = true;
}

bool tt_disco_uart_ready(void) { return ready; }

void tt_disco_usart1_irq(void)
{
    const uint32_t isr = USART1_ISR;
    /* Error flags keep the interrupt asserted (ORE with RXNEIE) until cleared. */
    if (isr & (USART_ISR_PE | USART_ISR_FE | USART_ISR_NF | USART_ISR_ORE)) {
        USART1_ICR = USART_ICR_PECF | USART_ICR_FECF | USART_ICR_NCF | USART_ICR_ORECF;
        if (isr & USART_ISR_ORE) {
            rx_overruns = rx_overruns + 1u;
        }
    }
    if (isr & USART_ISR_RXNE) {
        if (!tt_ring_put(&rx_ring, (uint8_t)USART1_RDR)) {
            rx_dropped = rx_dropped + 1u;
        }
    }
}

size_t tt_port_uart_read(uint8_t *buf, size_t cap) { return tt_ring_get(&rx_ring, buf, cap); }

void tt_port_uart_write(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while ((USART1_ISR & USART_ISR_TXE) == 0u) {
        }
        USART1_TDR = buf[i];
    }
}

void tt_port_uart_flush(void)
{
    while ((USART1_ISR & USART_ISR_TC) == 0u) {
    }
}

/* Oversampling by 16 reaches PCLK2 / 16 = 6.75 Mbaud at 108 MHz, three times what the ST-LINK's
 * virtual COM port carries, so the OVER8 mode (and its receiver's lower noise margin) is not
 * needed. */
uint32_t tt_port_uart_rate(uint32_t baud, uint32_t *nearest) { return tt_uart_rate(usart_clock_hz, baud, nearest); }

void tt_port_uart_set_baud(uint32_t baud)
{
    /* BRR is written with the USART disabled (RM0385: "can only be written when the USART is
     * disabled"); the receive interrupt stays enabled in CR1. */
    const uint32_t cr1 = USART1_CR1;
    USART1_CR1 = 0;
    USART1_BRR = tt_uart_divider(usart_clock_hz, baud);
    USART1_ICR = USART_ICR_PECF | USART_ICR_FECF | USART_ICR_NCF | USART_ICR_ORECF;
    USART1_CR1 = cr1;
}

static bool rx_pending(void) { return !tt_ring_empty(&rx_ring); }

void tt_port_wait_for_rx(void) { tt_cm7_wait_unless(rx_pending); }
