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
#define RCC_BASE 0x40023800u
#define FLASH_R_BASE 0x40023C00u

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
#define GPIO_PULL_UP 1u
#define GPIO_AF7_USART1 7u /* PA9 = USART1_TX, PB7 = USART1_RX (STM32F746xx datasheet, "Alternate function mapping") */

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

#endif /* TT_STM32F746_H */
