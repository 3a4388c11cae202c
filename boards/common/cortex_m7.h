/**
 * @file cortex_m7.h
 * @brief What the boards share about the Cortex-M7 core: system registers, startup,
 *        SysTick ticks, MPU, caches, fault reports, and the hooks a board implements.
 *
 * Only core (Armv7-M architectural) registers live here; anything behind a vendor's
 * bus belongs to the board. Register addresses cite the Armv7-M Architecture Reference
 * Manual (ARM DDI 0403E, section B3 "System Address Map").
 */
#ifndef TT_BOARDS_CORTEX_M7_H
#define TT_BOARDS_CORTEX_M7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TT_REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* System control block, ARMv7-M ARM B3.2.2. */
#define TT_SCB_ICSR TT_REG32(0xE000ED04u)
#define TT_SCB_VTOR TT_REG32(0xE000ED08u)
#define TT_SCB_AIRCR TT_REG32(0xE000ED0Cu)
#define TT_SCB_CCR TT_REG32(0xE000ED14u)
#define TT_SCB_SHCSR TT_REG32(0xE000ED24u)
#define TT_SCB_CFSR TT_REG32(0xE000ED28u)
#define TT_SCB_HFSR TT_REG32(0xE000ED2Cu)
#define TT_SCB_MMFAR TT_REG32(0xE000ED34u)
#define TT_SCB_BFAR TT_REG32(0xE000ED38u)
#define TT_SCB_CPACR TT_REG32(0xE000ED88u)

#define TT_ICSR_PENDSTSET (1u << 26)
#define TT_AIRCR_VECTKEY (0x05FAu << 16)
#define TT_AIRCR_PRIGROUP_MASK (7u << 8)
#define TT_AIRCR_SYSRESETREQ (1u << 2)
#define TT_CCR_DIV_0_TRP (1u << 4)
#define TT_CCR_DC (1u << 16)
#define TT_CCR_IC (1u << 17)
#define TT_SHCSR_MEMFAULTENA (1u << 16)
#define TT_SHCSR_BUSFAULTENA (1u << 17)
#define TT_SHCSR_USGFAULTENA (1u << 18)

/* CFSR fields (B3.2.15): MMFSR in bits 7:0, BFSR in 15:8, UFSR in 31:16. */
#define TT_CFSR_MSTKERR (1u << 4)
#define TT_CFSR_MMARVALID (1u << 7)
#define TT_CFSR_STKERR (1u << 12)
#define TT_CFSR_BFARVALID (1u << 15)

typedef void (*tt_vector_t)(void);

/* --- Symbols of boards/common/sections.ld ------------------------------------------- */

extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];
extern uint8_t __flash_start[], __flash_end[], __flash_image_end[];
extern uint8_t __ram_start[], __ram_end[];
extern uint8_t __stack_bottom[], __stack_guard_end[], __stack_top[];

/** Bytes of flash the image occupies from the start of flash (code, constants, .data values). */
static inline uint32_t tt_cm7_image_bytes(void)
{
    return (uint32_t)((uintptr_t)__flash_image_end - (uintptr_t)__flash_start);
}

/* --- Hooks each board implements ----------------------------------------------------- */

/** Called by the reset handler after .data and .bss are ready, before main(). */
void tt_board_early_init(void);

/**
 * Stop the program: print @p report (NULL for none) where the board can, then end with
 * @p code. Emulated boards exit the emulator with @p code; real hardware resets.
 */
__attribute__((noreturn)) void tt_board_exit(const char *report, int code);

/**
 * The handler of every fault and of every vector a board does not use: it reports the
 * exception and ends the program through tt_board_exit() (see TT_FAULT_EXIT_BASE).
 */
void tt_cm7_fault_handler(void);

/* --- Services of cortex_m7.c ---------------------------------------------------------- */

/**
 * Exit code of a fault report: 128 + the exception number, so HardFault = 131,
 * MemManage = 132, BusFault = 133, UsageFault = 134; an unexpected interrupt IRQ n
 * gives 144 + n. main() returning gives its own return value.
 */
#define TT_FAULT_EXIT_BASE 128

/** Count SysTick at @p clock_hz (24-bit wraps extend it to the 32-bit tt_port_ticks()). */
void tt_cm7_systick_start(uint32_t clock_hz);

/** Enable device interrupt @p irq at priority @p prio (0 = highest; upper bits used). */
void tt_cm7_irq_enable(uint32_t irq, uint8_t prio);

/** Mark device interrupt @p irq pending, as if the peripheral had raised it. */
void tt_cm7_irq_pend(uint32_t irq);

/** Mask interrupts; returns the previous PRIMASK for tt_cm7_irq_restore(). */
static inline uint32_t tt_cm7_irq_save(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}

static inline void tt_cm7_irq_restore(uint32_t primask)
{
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
}

static inline void tt_cm7_dsb_isb(void) { __asm__ volatile("dsb 0xF\n\tisb 0xF" ::: "memory"); }

/**
 * Sleep until an interrupt is pending unless @p has_data reports data already there.
 * The check runs with interrupts masked: an interrupt that lands after it still ends
 * the WFI (a pending interrupt wakes the core even while PRIMASK masks it) and is taken
 * as soon as the mask is lifted.
 */
void tt_cm7_wait_unless(bool (*has_data)(void));

/* MPU (ARMv7-M PMSA, B3.5). Regions are powers of two >= 32 bytes, aligned to their size;
 * a higher region number wins where regions overlap. */
#define TT_MPU_AP_NONE (0u << 24)
#define TT_MPU_AP_RW (3u << 24)
#define TT_MPU_AP_RO (6u << 24)
#define TT_MPU_XN (1u << 28)
#define TT_MPU_NORMAL_WT (1u << 17)                           /* TEX=0 C=1 B=0 */
#define TT_MPU_NORMAL_WB (1u << 19 | 1u << 17 | 1u << 16)     /* TEX=1 C=1 B=1: WBWA */
#define TT_MPU_DEVICE (1u << 18 | 1u << 16)                   /* TEX=0 C=0 B=1, shareable */
#define TT_MPU_STRONGLY_ORDERED 0u                            /* TEX=0 C=0 B=0 */
#define TT_MPU_SRD(mask) ((uint32_t)(mask) << 8)             /* disable 1/8th subregions */
#define TT_MPU_SIZE(log2_bytes) ((((uint32_t)(log2_bytes)-1u) << 1) | 1u) /* also sets ENABLE */

/** Number of MPU regions the core implements (MPU_TYPE.DREGION). */
uint32_t tt_cm7_mpu_regions(void);

/** Program region @p index: @p base aligned to its size, @p rasr from the TT_MPU_* bits. */
void tt_cm7_mpu_set(uint32_t index, uint32_t base, uint32_t rasr);

/**
 * Turn the MPU on. With @p background false, every access outside the regions faults
 * (MemManage); with it true the default memory map covers the rest. HardFault and NMI
 * run with the MPU off (HFNMIENA = 0), so a fault report can always be written.
 */
void tt_cm7_mpu_enable(bool background);

/**
 * Cover exactly [base, base + bytes) with region @p index: the next power of two up, with
 * the unused eighths disabled as subregions. @return false when that cannot be exact
 * (misaligned base, or bytes not a whole number of eighths); nothing is programmed then.
 */
bool tt_cm7_mpu_cover(uint32_t index, uint32_t base, uint32_t bytes, uint32_t attrs);

/** The no-access guard at the bottom of the stack (sections.ld), as MPU region @p index. */
void tt_cm7_mpu_stack_guard(uint32_t index);

/** Invalidate and enable the L1 instruction and data caches. */
void tt_cm7_caches_enable(void);

/** Drop D-cache lines over [addr, addr+len) after memory changed behind the core (flash). */
void tt_cm7_dcache_invalidate(const void *addr, size_t len);

#endif /* TT_BOARDS_CORTEX_M7_H */
