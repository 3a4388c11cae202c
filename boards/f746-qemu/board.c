/* The emulated F746: QEMU's mps2-an500 (a Cortex-M7 with FPU) held to the STM32F746's
 * budgets. The linker script caps flash and SRAM; the MPU enforces the same caps at run
 * time, so an access the real part could not make faults here too. */
#include "cortex_m7.h"
#include "f746_flash.h"
#include "f746_qemu.h"
#include "semihost.h"
#include "tt/port.h"

/* MPU regions; a higher number wins where they overlap (the stack guard inside RAM). */
enum {
    REGION_FLASH,      /* the image: read-only, executable */
    REGION_RAM,        /* the F746's 320 KB: read-write, never executed */
    REGION_APB,        /* peripherals (UART0) */
    REGION_FLASH_EMU,  /* the emulated internal flash in PSRAM: read-only except inside its driver */
    REGION_QSPI_EMU,   /* the emulated QSPI flash in PSRAM: the same */
    REGION_STACK_GUARD,
    REGION_COUNT
};

#define U tt_cm7_fault_handler

/* The AN500's 32 device interrupts (QEMU hw/arm/mps2.c sets num-irq = 32). */
__attribute__((section(".vectors.irq"), used)) const tt_vector_t tt_qemu_irq_vectors[32] = {
    tt_qemu_uart0_rx_irq, U, U, U, U, U, U, U, /* 0-7: UART0 RX, UART0 TX, UART1 RX/TX, UART2 RX/TX, ... */
    U, U, U, U, U, U, U, U,                    /* 8-15 */
    U, U, U, U, U, U, U, U,                    /* 16-23 */
    U, U, U, U, U, U, U, U,                    /* 24-31 */
};

static tt_board_info_t info = {
    .name = "f746-qemu",
    /* As on the real board; QEMU's own clock is instruction-counted (see tt_port_tick_hz). */
    .core_clock_hz = 216000000u,
};

__attribute__((noreturn)) void tt_board_exit(const char *report, int code)
{
    if (report != NULL) {
        tt_semihost_write0(report);
    }
    tt_semihost_exit(code);
}

static void mpu_setup(void)
{
    const uint32_t flash_bytes = (uint32_t)(__flash_end - __flash_start);
    const uint32_t ram_bytes = (uint32_t)(__ram_end - __ram_start);
    if (tt_cm7_mpu_regions() < REGION_COUNT) {
        tt_board_exit("tt: f746-qemu: the core has too few MPU regions to enforce the F746 budgets\n", 1);
    }
    const bool ok =
        tt_cm7_mpu_cover(REGION_FLASH, (uint32_t)(uintptr_t)__flash_start, flash_bytes,
                         TT_MPU_AP_RO | TT_MPU_NORMAL_WT) &&
        tt_cm7_mpu_cover(REGION_RAM, (uint32_t)(uintptr_t)__ram_start, ram_bytes,
                         TT_MPU_AP_RW | TT_MPU_XN | TT_MPU_NORMAL_WB) &&
        tt_cm7_mpu_cover(REGION_APB, TT_QEMU_APB_BASE, 1u << TT_QEMU_APB_LOG2,
                         TT_MPU_AP_RW | TT_MPU_XN | TT_MPU_DEVICE);
    if (!ok) {
        tt_board_exit("tt: f746-qemu: memory.ld regions cannot be expressed as MPU regions\n", 1);
    }
    tt_qemu_flash_window(TT_F746_INTERNAL, false);
    tt_qemu_flash_window(TT_F746_QSPI, false);
    tt_cm7_mpu_stack_guard(REGION_STACK_GUARD);
    /* No background region: any address outside the regions above faults. */
    tt_cm7_mpu_enable(false);
}

void tt_qemu_flash_window(tt_f746_flash_t flash, bool writable)
{
    const uint32_t access = (writable ? TT_MPU_AP_RW : TT_MPU_AP_RO) | TT_MPU_XN | TT_MPU_NORMAL_WT;
    if (flash == TT_F746_INTERNAL) {
        (void)tt_cm7_mpu_cover(REGION_FLASH_EMU, TT_QEMU_FLASH_BASE, TT_F746_FLASH_BYTES, access);
    } else {
        (void)tt_cm7_mpu_cover(REGION_QSPI_EMU, TT_QEMU_QSPI_BASE, TT_F746_QSPI_BYTES, access);
    }
}

void tt_board_early_init(void)
{
    info.sram_bytes = (uint32_t)(__ram_end - __ram_start);
    info.flash_bytes = (uint32_t)(__flash_end - __flash_start);
    /* Before the MPU closes PSRAM outside the flash windows (the format marker lives there). */
    tt_qemu_flash_init();
    mpu_setup();
}

void tt_port_init(void)
{
    tt_qemu_uart_init();
    /* SysTick runs from the 25 MHz SYSCLK in QEMU's virtual time; under -icount shift=0
     * one instruction takes 1 ns, so a tick is 40 instructions. */
    tt_cm7_systick_start(TT_QEMU_SYSCLK_HZ);
}

const tt_board_info_t *tt_port_board_info(void) { return &info; }

int tt_port_random(uint8_t *out, size_t len)
{
    /* mps2-an500 has no random number generator: the emulator's host lends its entropy. */
    static const char source[] = "/dev/urandom";
    return tt_semihost_read_file(source, sizeof source - 1u, out, len);
}
