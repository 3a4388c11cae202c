/**
 * @file stm32f746.h
 * @brief The STM32F746 registers this board uses, from ST's reference manual RM0385
 *        ("STM32F75xxx and STM32F74xxx advanced Arm-based 32-bit MCUs").
 *
 * Only what the drivers touch is named; base addresses are from the memory map in
 * RM0385 section 2.2.2, offsets and bits from each peripheral's register section.
 */
#ifndef TT_STM32F746_H
#define TT_STM32F746_H

#include "cortex_m7.h"

/* --- Base addresses (RM0385 2.2.2 "Memory map and register boundary addresses") ------ */
#define PWR_BASE 0x40007000u
#define USART1_BASE 0x40011000u
#define GPIOA_BASE 0x40020000u
#define GPIOB_BASE 0x40020400u
#define GPIOD_BASE 0x40020C00u
#define GPIOE_BASE 0x40021000u
#define RCC_BASE 0x40023800u
#define FLASH_R_BASE 0x40023C00u
#define QUADSPI_R_BASE 0xA0001000u
#define RNG_BASE 0x50060800u
#define QUADSPI_BANK_BASE 0x90000000u /* memory-mapped mode: 256 MB reserved for the external flash */

/* --- RCC (RM0385 5.3 "RCC registers") ----------------------------------------------- */
#define RCC_CR TT_REG32(RCC_BASE + 0x00u)
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)

#define RCC_PLLCFGR TT_REG32(RCC_BASE + 0x04u)
#define RCC_PLLCFGR_PLLM(m) ((uint32_t)(m) << 0)  /* 2..63: VCO input = source / M */
#define RCC_PLLCFGR_PLLN(n) ((uint32_t)(n) << 6)  /* 50..432: VCO = input * N */
#define RCC_PLLCFGR_PLLP_DIV2 (0u << 16)          /* SYSCLK = VCO / 2 */
#define RCC_PLLCFGR_PLLSRC_HSE (1u << 22)
#define RCC_PLLCFGR_PLLQ(q) ((uint32_t)(q) << 24) /* 2..15: 48 MHz domain = VCO / Q */
#define RCC_PLLCFGR_FIELDS 0x0F437FFFu            /* M, N, P, SRC, Q; bits 31:28 reserved */

#define RCC_CFGR TT_REG32(RCC_BASE + 0x08u)
#define RCC_CFGR_SW_MASK (3u << 0)
#define RCC_CFGR_SW_PLL (2u << 0)
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)            /* 0xxx: AHB = SYSCLK */
#define RCC_CFGR_PPRE1_MASK (7u << 10)
#define RCC_CFGR_PPRE1_DIV4 (5u << 10)
#define RCC_CFGR_PPRE2_MASK (7u << 13)
#define RCC_CFGR_PPRE2_DIV2 (4u << 13)

#define RCC_AHB1ENR TT_REG32(RCC_BASE + 0x30u)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)
#define RCC_AHB1ENR_GPIOBEN (1u << 1)
#define RCC_AHB1ENR_GPIODEN (1u << 3)
#define RCC_AHB1ENR_GPIOEEN (1u << 4)
#define RCC_AHB2ENR TT_REG32(RCC_BASE + 0x34u)
#define RCC_AHB2ENR_RNGEN (1u << 6)
#define RCC_AHB3ENR TT_REG32(RCC_BASE + 0x38u)
#define RCC_AHB3ENR_QSPIEN (1u << 1)
#define RCC_APB1ENR TT_REG32(RCC_BASE + 0x40u)
#define RCC_APB1ENR_PWREN (1u << 28)
#define RCC_APB2ENR TT_REG32(RCC_BASE + 0x44u)
#define RCC_APB2ENR_USART1EN (1u << 4)
#define RCC_DCKCFGR2 TT_REG32(RCC_BASE + 0x90u)
#define RCC_DCKCFGR2_USART1SEL_MASK (3u << 0)     /* 00: USART1 kernel clock = PCLK2 */

/* --- PWR (RM0385 4.4 "PWR registers") ------------------------------------------------- */
#define PWR_CR1 TT_REG32(PWR_BASE + 0x00u)
#define PWR_CR1_VOS_SCALE1 (3u << 14)
#define PWR_CR1_ODEN (1u << 16)
#define PWR_CR1_ODSWEN (1u << 17)
#define PWR_CSR1 TT_REG32(PWR_BASE + 0x04u)
#define PWR_CSR1_ODRDY (1u << 16)
#define PWR_CSR1_ODSWRDY (1u << 17)

/* --- Embedded flash interface (RM0385 3.7 "Flash interface registers") --------------- */
#define FLASH_ACR TT_REG32(FLASH_R_BASE + 0x00u)
#define FLASH_ACR_LATENCY_MASK (0xFu << 0)
#define FLASH_ACR_LATENCY_7WS (7u << 0) /* 210-216 MHz at 2.7-3.6 V (RM0385 3.3.2 "Read access latency") */
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ARTEN (1u << 9)
#define FLASH_KEYR TT_REG32(FLASH_R_BASE + 0x04u)
#define FLASH_KEY1 0x45670123u /* unlock sequence (RM0385 3.3 "Unlocking the Flash control register") */
#define FLASH_KEY2 0xCDEF89ABu
#define FLASH_SR TT_REG32(FLASH_R_BASE + 0x0Cu)
#define FLASH_SR_EOP (1u << 0)
#define FLASH_SR_OPERR (1u << 1)
#define FLASH_SR_WRPERR (1u << 4)
#define FLASH_SR_PGAERR (1u << 5)
#define FLASH_SR_PGPERR (1u << 6)
#define FLASH_SR_ERSERR (1u << 7)
#define FLASH_SR_BSY (1u << 16)
#define FLASH_SR_ERRORS (FLASH_SR_OPERR | FLASH_SR_WRPERR | FLASH_SR_PGAERR | FLASH_SR_PGPERR | FLASH_SR_ERSERR)
#define FLASH_CR TT_REG32(FLASH_R_BASE + 0x10u)
#define FLASH_CR_PG (1u << 0)
#define FLASH_CR_SER (1u << 1)
#define FLASH_CR_SNB(n) ((uint32_t)(n) << 3) /* sector number, bits 6:3 */
#define FLASH_CR_SNB_MASK (0xFu << 3)
#define FLASH_CR_PSIZE_X32 (2u << 8)         /* 32-bit parallelism: needs VDD 2.7-3.6 V */
#define FLASH_CR_PSIZE_MASK (3u << 8)
#define FLASH_CR_STRT (1u << 16)
#define FLASH_CR_LOCK (1u << 31)

/* --- GPIO (RM0385 6.4 "GPIO registers") ----------------------------------------------- */
#define GPIO_MODER(base) TT_REG32((base) + 0x00u)
#define GPIO_OSPEEDR(base) TT_REG32((base) + 0x08u)
#define GPIO_PUPDR(base) TT_REG32((base) + 0x0Cu)
#define GPIO_AFRL(base) TT_REG32((base) + 0x20u)
#define GPIO_AFRH(base) TT_REG32((base) + 0x24u)
#define GPIO_MODE_AF 2u
#define GPIO_SPEED_HIGH 2u
#define GPIO_SPEED_VERY_HIGH 3u
#define GPIO_PULL_UP 1u
#define GPIO_AF7_USART1 7u /* PA9 = USART1_TX, PB7 = USART1_RX (STM32F746xx datasheet, "Alternate function mapping") */
#define GPIO_AF9_QUADSPI 9u   /* PB2 = CLK, PD11/PD12/PE2/PD13 = BK1_IO0..3 (same table) */
#define GPIO_AF10_QUADSPI 10u /* PB6 = BK1_NCS */

/* --- QUADSPI (RM0385 section 14, "Quad-SPI interface (QUADSPI)") ------------------------ */
#define QUADSPI_CR TT_REG32(QUADSPI_R_BASE + 0x00u)
#define QUADSPI_CR_EN (1u << 0)
#define QUADSPI_CR_ABORT (1u << 1)
#define QUADSPI_CR_SSHIFT (1u << 4)               /* sample half a clock later: margin at 108 MHz */
#define QUADSPI_CR_FTHRES(n) ((uint32_t)(n) << 8) /* FIFO threshold: FTF at n + 1 bytes */
#define QUADSPI_CR_APMS (1u << 22)                /* automatic polling stops at a match */
#define QUADSPI_CR_PRESCALER(n) ((uint32_t)(n) << 24) /* CLK = HCLK / (n + 1) */
#define QUADSPI_DCR TT_REG32(QUADSPI_R_BASE + 0x04u)
#define QUADSPI_DCR_CSHT(n) ((uint32_t)(n) << 8)  /* nCS high for at least n + 1 cycles between commands */
#define QUADSPI_DCR_FSIZE(n) ((uint32_t)(n) << 16) /* flash bytes = 2^(n + 1) */
#define QUADSPI_SR TT_REG32(QUADSPI_R_BASE + 0x08u)
#define QUADSPI_SR_TEF (1u << 0)
#define QUADSPI_SR_TCF (1u << 1)
#define QUADSPI_SR_FTF (1u << 2)
#define QUADSPI_SR_SMF (1u << 3)
#define QUADSPI_SR_BUSY (1u << 5)
#define QUADSPI_SR_FLEVEL(sr) (((sr) >> 8) & 0x3Fu) /* bytes in the FIFO */
#define QUADSPI_FIFO_BYTES 32u
#define QUADSPI_FCR TT_REG32(QUADSPI_R_BASE + 0x0Cu)
#define QUADSPI_FCR_ALL 0x1Bu /* CTOF | CSMF | CTCF | CTEF */
#define QUADSPI_DLR TT_REG32(QUADSPI_R_BASE + 0x10u)
#define QUADSPI_CCR TT_REG32(QUADSPI_R_BASE + 0x14u)
#define QUADSPI_CCR_INSTRUCTION(i) ((uint32_t)(i) << 0)
#define QUADSPI_CCR_IMODE_1 (1u << 8)  /* instruction on one line */
#define QUADSPI_CCR_ADMODE_1 (1u << 10) /* address on one line */
#define QUADSPI_CCR_ADMODE_4 (3u << 10) /* ... on four */
#define QUADSPI_CCR_ADSIZE_24 (2u << 12)
#define QUADSPI_CCR_DCYC(n) ((uint32_t)(n) << 18) /* dummy cycles */
#define QUADSPI_CCR_DMODE_1 (1u << 24) /* data on one line */
#define QUADSPI_CCR_DMODE_4 (3u << 24) /* ... on four */
#define QUADSPI_CCR_FMODE_WRITE (0u << 26)  /* indirect write */
#define QUADSPI_CCR_FMODE_READ (1u << 26)   /* indirect read */
#define QUADSPI_CCR_FMODE_POLL (2u << 26)   /* automatic status polling */
#define QUADSPI_CCR_FMODE_MAPPED (3u << 26) /* memory-mapped */
#define QUADSPI_AR TT_REG32(QUADSPI_R_BASE + 0x18u)
#define QUADSPI_DR TT_REG32(QUADSPI_R_BASE + 0x20u)
#define QUADSPI_DR_BYTE (*(volatile uint8_t *)(uintptr_t)(QUADSPI_R_BASE + 0x20u)) /* one byte per access */
#define QUADSPI_PSMKR TT_REG32(QUADSPI_R_BASE + 0x24u)
#define QUADSPI_PSMAR TT_REG32(QUADSPI_R_BASE + 0x28u)
#define QUADSPI_PIR TT_REG32(QUADSPI_R_BASE + 0x2Cu)

/* --- USART1 (RM0385, USART chapter, section "USART registers") ------------------------ */
#define USART1_CR1 TT_REG32(USART1_BASE + 0x00u)
#define USART_CR1_UE (1u << 0)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART1_BRR TT_REG32(USART1_BASE + 0x0Cu)
#define USART1_ISR TT_REG32(USART1_BASE + 0x1Cu)
#define USART_ISR_PE (1u << 0)
#define USART_ISR_FE (1u << 1)
#define USART_ISR_NF (1u << 2)
#define USART_ISR_ORE (1u << 3)
#define USART_ISR_RXNE (1u << 5)
#define USART_ISR_TC (1u << 6)
#define USART_ISR_TXE (1u << 7)
#define USART1_ICR TT_REG32(USART1_BASE + 0x20u)
#define USART_ICR_PECF (1u << 0)
#define USART_ICR_FECF (1u << 1)
#define USART_ICR_NCF (1u << 2)
#define USART_ICR_ORECF (1u << 3)
#define USART1_RDR TT_REG32(USART1_BASE + 0x24u)
#define USART1_TDR TT_REG32(USART1_BASE + 0x28u)

/* --- Interrupts (RM0385 NVIC chapter, "Interrupt and exception vectors") ------------- */
#define STM32F746_IRQ_COUNT 98u
#define USART1_IRQN 37u

/* --- Debug (ARMv7-M ARM C1.6.2): a debugger is attached when C_DEBUGEN is set -------- */
#define DHCSR TT_REG32(0xE000EDF0u)
#define DHCSR_C_DEBUGEN (1u << 0)

/* --- RNG (RM0385 22.8 "RNG registers") ------------------------------------------------ */
#define RNG_CR TT_REG32(RNG_BASE + 0x00u)
#define RNG_CR_RNGEN (1u << 2)
#define RNG_SR TT_REG32(RNG_BASE + 0x04u)
#define RNG_SR_DRDY (1u << 0)
#define RNG_SR_CECS (1u << 1) /* clock error: the RNG clock is too slow */
#define RNG_SR_SECS (1u << 2) /* seed error: the noise source failed its health test */
#define RNG_DR TT_REG32(RNG_BASE + 0x08u)

#endif /* TT_STM32F746_H */
