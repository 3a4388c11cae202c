/* STM32F746G-DISCO: clocks, vector table, MPU and board identity. */
#include <string.h>

#include "cortex_m7.h"
#include "f746_disco.h"
#include "f746_flash.h"
#include "stm32f746.h"
#include "tt/port.h"

/* The Discovery board clocks the HSE from a 25 MHz crystal (UM1907, "HSE clock"). The PLL
 * makes 216 MHz: 25 MHz / M=25 = 1 MHz into the VCO, x N=432 = 432 MHz, / P=2 = 216 MHz
 * SYSCLK, and / Q=9 = 48 MHz for USB and SDMMC. AHB = 216 MHz, APB1 = /4 = 54 MHz (its
 * maximum), APB2 = /2 = 108 MHz (its maximum). */
#define HSI_HZ 16000000u
#define SYSCLK_HZ 216000000u
#define PLL_M 25u
#define PLL_N 432u
#define PLL_Q 9u
/* Polls of a ready flag before giving up on it: far longer than HSE start-up (~2 ms). */
#define READY_POLLS 2000000u

/* MPU regions; a higher number wins where they overlap. */
enum {
    REGION_FLASH,
    REGION_RAM,
    REGION_QSPI_BANK, /* the QUADSPI's 256 MB: no access, so nothing is read there speculatively */
    REGION_QSPI,      /* the 16 MB of the chip: read-only while memory-mapped (qspi.c) */
    REGION_STACK_GUARD,
    REGION_COUNT
};

#define U tt_cm7_fault_handler

/* The F746's 98 device interrupts; only USART1 (IRQ 37) is used. */
__attribute__((section(".vectors.irq"), used)) const tt_vector_t tt_disco_irq_vectors[STM32F746_IRQ_COUNT] = {
    U, U, U, U, U, U, U, U,                     /* 0-7 */
    U, U, U, U, U, U, U, U,                     /* 8-15 */
    U, U, U, U, U, U, U, U,                     /* 16-23 */
    U, U, U, U, U, U, U, U,                     /* 24-31 */
    U, U, U, U, U, tt_disco_usart1_irq, U, U,   /* 32-39: 37 = USART1 */
    U, U, U, U, U, U, U, U,                     /* 40-47 */
    U, U, U, U, U, U, U, U,                     /* 48-55 */
    U, U, U, U, U, U, U, U,                     /* 56-63 */
    U, U, U, U, U, U, U, U,                     /* 64-71 */
    U, U, U, U, U, U, U, U,                     /* 72-79 */
    U, U, U, U, U, U, U, U,                     /* 80-87 */
    U, U, U, U, U, U, U, U,                     /* 88-95 */
    U, U,                                       /* 96-97 */
};

static tt_board_info_t info = {.name = "f746-disco"};

static bool wait_for(volatile uint32_t *reg, uint32_t mask, uint32_t value)
{
    for (uint32_t i = 0; i < READY_POLLS; i++) {
        if ((*reg & mask) == value) {
            return true;
        }
    }
    return false;
}

/* Follows RM0385 4.1.4 "Entering Over-drive mode". Returns the SYSCLK it reached: 216 MHz,
 * or 16 MHz (HSI) when the crystal, the PLL or the regulator does not come up, so that
 * the UART still works and the host is told the real clock. */
static uint32_t clock_init(void)
{
    RCC_APB1ENR |= RCC_APB1ENR_PWREN;
    (void)RCC_APB1ENR; /* the clock must be running before PWR is written */
    PWR_CR1 |= PWR_CR1_VOS_SCALE1;

    /* Wait states for the fastest clock and dividers for the slowest buses first: both
     * are also valid at 16 MHz, so every step below can stop at HSI safely. */
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | FLASH_ACR_LATENCY_7WS | FLASH_ACR_PRFTEN | FLASH_ACR_ARTEN;
    if ((FLASH_ACR & FLASH_ACR_LATENCY_MASK) != FLASH_ACR_LATENCY_7WS) {
        return HSI_HZ;
    }
    RCC_CFGR = (RCC_CFGR & ~(RCC_CFGR_HPRE_MASK | RCC_CFGR_PPRE1_MASK | RCC_CFGR_PPRE2_MASK)) |
               RCC_CFGR_PPRE1_DIV4 | RCC_CFGR_PPRE2_DIV2;

    RCC_CR |= RCC_CR_HSEON;
    if (!wait_for(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY)) {
        return HSI_HZ;
    }
    RCC_PLLCFGR = (RCC_PLLCFGR & ~RCC_PLLCFGR_FIELDS) | RCC_PLLCFGR_PLLM(PLL_M) | RCC_PLLCFGR_PLLN(PLL_N) |
                  RCC_PLLCFGR_PLLP_DIV2 | RCC_PLLCFGR_PLLSRC_HSE | RCC_PLLCFGR_PLLQ(PLL_Q);
    RCC_CR |= RCC_CR_PLLON;

    /* Over-drive: the regulator mode that allows more than 180 MHz. */
    PWR_CR1 |= PWR_CR1_ODEN;
    if (!wait_for(&PWR_CSR1, PWR_CSR1_ODRDY, PWR_CSR1_ODRDY)) {
        return HSI_HZ;
    }
    PWR_CR1 |= PWR_CR1_ODSWEN;
    if (!wait_for(&PWR_CSR1, PWR_CSR1_ODSWRDY, PWR_CSR1_ODSWRDY) ||
        !wait_for(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) {
        return HSI_HZ;
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    if (!wait_for(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL)) {
        return HSI_HZ;
    }
    return SYSCLK_HZ;
}

static void mpu_setup(void)
{
    /* The default memory map stays as the background (peripherals, system memory); the
     * regions make flash read-only outside its driver, SRAM never executable, the QSPI
     * flash readable only while memory-mapped (ST AN4760: the Cortex-M7 may read Normal
     * memory speculatively, which would disturb the QUADSPI in indirect mode), and the
     * bottom of the stack a guard. */
    if (tt_cm7_mpu_regions() < REGION_COUNT ||
        !tt_cm7_mpu_cover(REGION_RAM, (uint32_t)(uintptr_t)__ram_start, (uint32_t)(__ram_end - __ram_start),
                          TT_MPU_AP_RW | TT_MPU_XN | TT_MPU_NORMAL_WB) ||
        !tt_cm7_mpu_cover(REGION_QSPI_BANK, QUADSPI_BANK_BASE, 256u * 1024u * 1024u,
                          TT_MPU_AP_NONE | TT_MPU_XN | TT_MPU_STRONGLY_ORDERED)) {
        return;
    }
    tt_disco_flash_window(false);
    tt_disco_qspi_window(false);
    tt_cm7_mpu_stack_guard(REGION_STACK_GUARD);
    tt_cm7_mpu_enable(true);
}

void tt_disco_flash_window(bool writable)
{
    (void)tt_cm7_mpu_cover(REGION_FLASH, (uint32_t)(uintptr_t)__flash_start, TT_F746_FLASH_BYTES,
                           (writable ? TT_MPU_AP_RW : TT_MPU_AP_RO) | TT_MPU_NORMAL_WT);
}

void tt_disco_qspi_window(bool readable)
{
    (void)tt_cm7_mpu_cover(REGION_QSPI, TT_DISCO_QSPI_BASE, TT_DISCO_QSPI_CHIP_BYTES,
                           (readable ? TT_MPU_AP_RO : TT_MPU_AP_NONE) | TT_MPU_XN | TT_MPU_NORMAL_WT);
    tt_cm7_dsb_isb(); /* no access under the old attributes after this */
}

void tt_board_early_init(void)
{
    info.core_clock_hz = clock_init();
    info.sram_bytes = (uint32_t)(__ram_end - __ram_start);
    info.flash_bytes = (uint32_t)(__flash_end - __flash_start);
    tt_cm7_caches_enable();
    mpu_setup();
}

void tt_port_init(void)
{
    tt_disco_uart_init(info.core_clock_hz / 2u); /* APB2 = SYSCLK / 2 */
    tt_cm7_systick_start(info.core_clock_hz);
    tt_disco_qspi_init(); /* its timeouts count ticks */
}

const tt_board_info_t *tt_port_board_info(void) { return &info; }

/* A report goes out on the virtual COM port between two frame delimiters, so a host
 * decoder drops it as one bad frame. Then the board halts in the debugger when one is
 * attached, and resets otherwise: a deployed board must come back on its own. */
__attribute__((noreturn)) void tt_board_exit(const char *report, int code)
{
    (void)code;
    if (report != NULL && tt_disco_uart_ready()) {
        static const uint8_t delimiter = 0;
        tt_port_uart_write(&delimiter, 1);
        tt_port_uart_write((const uint8_t *)report, strlen(report));
        tt_port_uart_write(&delimiter, 1);
        tt_port_uart_flush();
    }
    if (DHCSR & DHCSR_C_DEBUGEN) {
        __asm__ volatile("bkpt 0");
    }
    tt_port_reset();
    for (;;) {
    }
}
