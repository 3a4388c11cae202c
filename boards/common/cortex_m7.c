/* Cortex-M7 core support shared by every board: the core half of the vector table, the
 * reset handler, fault reports, SysTick ticks, MPU, caches and reset. Register addresses
 * are architectural (ARMv7-M ARM, ARM DDI 0403E); see cortex_m7.h. */
#include "cortex_m7.h"

#include <errno.h>

#include "tt/port.h"

/* SysTick, B3.3.2. */
#define SYST_CSR TT_REG32(0xE000E010u)
#define SYST_RVR TT_REG32(0xE000E014u)
#define SYST_CVR TT_REG32(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)
#define SYST_RELOAD 0x00FFFFFFu /* a wrap every 2^24 clocks */
#define SCB_SHPR3 TT_REG32(0xE000ED20u)

/* NVIC, B3.4.2: set-enable, set-pending, and one priority byte per interrupt. */
#define NVIC_ISER(n) TT_REG32(0xE000E100u + 4u * (n))
#define NVIC_ISPR(n) TT_REG32(0xE000E200u + 4u * (n))
#define NVIC_IPR8(n) (*(volatile uint8_t *)(uintptr_t)(0xE000E400u + (n)))

/* MPU, B3.5.4. */
#define MPU_TYPE TT_REG32(0xE000ED90u)
#define MPU_CTRL TT_REG32(0xE000ED94u)
#define MPU_RNR TT_REG32(0xE000ED98u)
#define MPU_RBAR TT_REG32(0xE000ED9Cu)
#define MPU_RASR TT_REG32(0xE000EDA0u)
#define MPU_CTRL_ENABLE (1u << 0)
#define MPU_CTRL_PRIVDEFENA (1u << 2)

/* Cache identification and maintenance, B2.2.7 / B4.8 and the Cortex-M7 TRM 4.1. */
#define SCB_CCSIDR TT_REG32(0xE000ED80u)
#define SCB_CSSELR TT_REG32(0xE000ED84u)
#define SCB_ICIALLU TT_REG32(0xE000EF50u)
#define SCB_DCIMVAC TT_REG32(0xE000EF5Cu)
#define SCB_DCISW TT_REG32(0xE000EF60u)
#define DCACHE_LINE 32u

/* Exceptions are reported (and the program ends) unless a board takes them over; the
 * handler is one routine for every vector, see tt_cm7_fault_handler(). */
int main(void);
void Reset_Handler(void);
void __libc_init_array(void);
void *_sbrk(ptrdiff_t incr);
__attribute__((noreturn)) void tt_cm7_fault_report(const uint32_t *frame, uint32_t exception);
static void systick_handler(void);

extern uint8_t __heap_start[], __heap_end[];

__attribute__((section(".vectors.core"), used)) const tt_vector_t tt_cm7_core_vectors[16] = {
    (tt_vector_t)(uintptr_t)__stack_top, /* initial main stack pointer */
    Reset_Handler,
    tt_cm7_fault_handler, /* NMI */
    tt_cm7_fault_handler, /* HardFault */
    tt_cm7_fault_handler, /* MemManage */
    tt_cm7_fault_handler, /* BusFault */
    tt_cm7_fault_handler, /* UsageFault */
    0,
    0,
    0,
    0,
    tt_cm7_fault_handler, /* SVCall */
    tt_cm7_fault_handler, /* DebugMonitor */
    0,
    tt_cm7_fault_handler, /* PendSV */
    systick_handler,
};

/* --- Stack high-water mark ------------------------------------------------------------- */

/* What the unused stack holds: a word that real frames rarely contain. */
#define STACK_PAINT 0x5AC3A55Au

/* Fill the stack below the caller's frame, from the guard's end up to this function's own
 * stack pointer, with STACK_PAINT. Word stores through a volatile pointer: a memset() here
 * would run on the very stack it fills. */
__attribute__((noinline)) static void stack_paint(void)
{
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (volatile uint32_t *w = (volatile uint32_t *)(void *)__stack_guard_end; w < (volatile uint32_t *)sp; w++) {
        *w = STACK_PAINT;
    }
}

void tt_port_stack_usage(uint32_t *reserved, uint32_t *peak)
{
    const uint32_t *w = (const uint32_t *)(const void *)__stack_guard_end;
    while (w < (const uint32_t *)(const void *)__stack_top && *w == STACK_PAINT) {
        w++;
    }
    *reserved = (uint32_t)(__stack_top - __stack_bottom);
    *peak = (uint32_t)((uintptr_t)__stack_top - (uintptr_t)w);
}

__attribute__((noreturn)) void Reset_Handler(void)
{
    /* The FPU first: compiled code may touch it anywhere from here on (CP10/CP11 full access). */
    TT_SCB_CPACR |= 0xFu << 20;
    tt_cm7_dsb_isb();
    /* Before anything runs deep: STATS reports the stack's high-water mark from this paint. */
    stack_paint();
    TT_SCB_VTOR = (uint32_t)(uintptr_t)tt_cm7_core_vectors;

    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }

    /* Faults get their own handlers instead of all escalating to HardFault, and an integer
     * division by zero traps instead of quietly yielding 0. */
    TT_SCB_SHCSR |= TT_SHCSR_MEMFAULTENA | TT_SHCSR_BUSFAULTENA | TT_SHCSR_USGFAULTENA;
    TT_SCB_CCR |= TT_CCR_DIV_0_TRP;
    tt_cm7_dsb_isb();

    __libc_init_array();
    tt_board_early_init();
    tt_board_exit(NULL, main());
}

/* --- Fault reports ----------------------------------------------------------------------- */

/* Every fault and unexpected exception lands here. It finds the stacked frame (where the
 * exception left the stack pointer), and when that is too close to the stack guard to
 * run the reporter (a stack overflow), it restarts the stack at the top: the program is
 * ending, only the report matters. Then it hands over to tt_cm7_fault_report(frame, IPSR). */
__attribute__((naked)) void tt_cm7_fault_handler(void)
{
    __asm__ volatile("tst lr, #4\n\t"
                     "ite eq\n\t"
                     "mrseq r0, msp\n\t"
                     "mrsne r0, psp\n\t"
                     "mrs r1, ipsr\n\t"
                     "ldr r3, =__stack_guard_end\n\t"
                     "add r3, r3, #512\n\t"
                     "cmp sp, r3\n\t"
                     "bhs 1f\n\t"
                     "ldr r3, =__stack_top\n\t"
                     "mov sp, r3\n\t"
                     "1:\n\t"
                     "b tt_cm7_fault_report\n\t"
                     ".ltorg");
}

typedef struct {
    char text[640];
    size_t len;
} report_t;

static report_t report;

static void put(const char *s)
{
    while (*s && report.len + 1 < sizeof report.text) {
        report.text[report.len++] = *s++;
    }
    report.text[report.len] = '\0';
}

static void put_hex(uint32_t v)
{
    char digits[11] = "0x";
    for (int i = 0; i < 8; i++) {
        digits[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xFu];
    }
    digits[10] = '\0';
    put(digits);
}

static void put_dec(uint32_t v)
{
    char digits[11];
    int i = (int)sizeof digits - 1;
    digits[i] = '\0';
    do {
        digits[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u && i > 0);
    put(&digits[i]);
}

static const char *exception_name(uint32_t exception)
{
    switch (exception) {
    case 2: return "NMI";
    case 3: return "HardFault";
    case 4: return "MemManage";
    case 5: return "BusFault";
    case 6: return "UsageFault";
    case 11: return "SVCall";
    case 12: return "DebugMonitor";
    case 14: return "PendSV";
    case 15: return "SysTick";
    default: return exception >= 16u ? "unexpected interrupt" : "reserved exception";
    }
}

typedef struct {
    uint8_t bit;
    const char *name;
} flag_name_t;

static const flag_name_t cfsr_flags[] = {
    {0, "IACCVIOL"},    {1, "DACCVIOL"},   {3, "MUNSTKERR"},  {4, "MSTKERR"},  {5, "MLSPERR"},
    {7, "MMARVALID"},   {8, "IBUSERR"},    {9, "PRECISERR"},  {10, "IMPRECISERR"},
    {11, "UNSTKERR"},   {12, "STKERR"},    {13, "LSPERR"},    {15, "BFARVALID"},
    {16, "UNDEFINSTR"}, {17, "INVSTATE"},  {18, "INVPC"},     {19, "NOCP"},
    {24, "UNALIGNED"},  {25, "DIVBYZERO"},
};

static const flag_name_t hfsr_flags[] = {{1, "VECTTBL"}, {30, "FORCED"}, {31, "DEBUGEVT"}};

static void put_flags(uint32_t value, const flag_name_t *flags, size_t count)
{
    bool any = false;
    for (size_t i = 0; i < count; i++) {
        if (value & (1u << flags[i].bit)) {
            put(any ? " " : " (");
            put(flags[i].name);
            any = true;
        }
    }
    if (any) {
        put(")");
    }
}

__attribute__((noreturn)) void tt_cm7_fault_report(const uint32_t *frame, uint32_t exception)
{
    exception &= 0x1FFu;
    const uint32_t cfsr = TT_SCB_CFSR;
    const uint32_t hfsr = TT_SCB_HFSR;
    const uint32_t mmfar = TT_SCB_MMFAR;
    const uint32_t bfar = TT_SCB_BFAR;

    /* The frame is trusted only if it was stacked completely inside the stack, above its
     * guard (reading the guard would fault again). */
    const uintptr_t f = (uintptr_t)frame;
    const bool overflow = f < (uintptr_t)__stack_guard_end;
    const bool frame_ok = !overflow && (f & 3u) == 0 && f + 32u <= (uintptr_t)__stack_top &&
                          (cfsr & (TT_CFSR_MSTKERR | TT_CFSR_STKERR)) == 0;

    report.len = 0;
    put("tt: fault: ");
    put(exception_name(exception));
    put(" (exception ");
    put_dec(exception);
    if (exception >= 16u) {
        put(", IRQ ");
        put_dec(exception - 16u);
    }
    put(")\ntt:   CFSR=");
    put_hex(cfsr);
    put_flags(cfsr, cfsr_flags, sizeof cfsr_flags / sizeof cfsr_flags[0]);
    put(" HFSR=");
    put_hex(hfsr);
    put_flags(hfsr, hfsr_flags, sizeof hfsr_flags / sizeof hfsr_flags[0]);
    if (cfsr & TT_CFSR_MMARVALID) {
        put("\ntt:   MMFAR=");
        put_hex(mmfar);
    }
    if (cfsr & TT_CFSR_BFARVALID) {
        put("\ntt:   BFAR=");
        put_hex(bfar);
    }
    if (frame_ok) {
        put("\ntt:   PC=");
        put_hex(frame[6]);
        put(" LR=");
        put_hex(frame[5]);
        put(" xPSR=");
        put_hex(frame[7]);
    }
    put("\ntt:   SP=");
    put_hex((uint32_t)f);
    if (overflow) {
        put(": stack overflow (its guard is ");
        put_hex((uint32_t)(uintptr_t)__stack_bottom);
        put("..");
        put_hex((uint32_t)(uintptr_t)__stack_guard_end - 1u);
        put(")");
    } else if (!frame_ok) {
        put(" (no stacked frame: the fault hit exception entry)");
    }
    put("\n");
    tt_board_exit(report.text, TT_FAULT_EXIT_BASE + (int)exception);
}

/* --- SysTick ------------------------------------------------------------------------------ */

static volatile uint32_t systick_wraps;
static uint32_t systick_hz;

static void systick_handler(void) { systick_wraps = systick_wraps + 1u; }

void tt_cm7_systick_start(uint32_t clock_hz)
{
    systick_hz = clock_hz;
    SCB_SHPR3 |= 0xFFu << 24; /* lowest priority: it only counts */
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

uint32_t tt_port_ticks(void)
{
    const uint32_t primask = tt_cm7_irq_save();
    uint32_t wraps = systick_wraps;
    uint32_t count = SYST_CVR;
    /* A wrap that happened but is not yet counted shows as a pending SysTick; the counter
     * is then read again so that it is certainly past that wrap. */
    if (TT_SCB_ICSR & TT_ICSR_PENDSTSET) {
        count = SYST_CVR;
        wraps++;
    }
    tt_cm7_irq_restore(primask);
    /* The counter runs RELOAD..1, then 0, then reloads; the wrap is counted on the step
     * to 0, one tick before the reload, so a 0 is the last tick of the period that just
     * ended. (The first reading, from the 0 written at start, is thus -1: differences of
     * tick values are right modulo 2^32 from the very first one.) */
    return count == 0u ? (wraps << 24) - 1u : (wraps << 24) + (SYST_RELOAD - count);
}

uint32_t tt_port_tick_hz(void) { return systick_hz; }

/* --- Interrupts, sleep, reset -------------------------------------------------------------- */

void tt_cm7_irq_enable(uint32_t irq, uint8_t prio)
{
    NVIC_IPR8(irq) = prio;
    NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}

void tt_cm7_irq_pend(uint32_t irq) { NVIC_ISPR(irq / 32u) = 1u << (irq % 32u); }

void tt_cm7_wait_unless(bool (*has_data)(void))
{
    const uint32_t primask = tt_cm7_irq_save();
    if (!has_data()) {
        __asm__ volatile("dsb 0xF\n\twfi" ::: "memory");
    }
    tt_cm7_irq_restore(primask);
}

void tt_port_reset(void)
{
    __asm__ volatile("dsb 0xF" ::: "memory");
    TT_SCB_AIRCR = TT_AIRCR_VECTKEY | (TT_SCB_AIRCR & TT_AIRCR_PRIGROUP_MASK) | TT_AIRCR_SYSRESETREQ;
    __asm__ volatile("dsb 0xF" ::: "memory");
    for (;;) {
        __asm__ volatile("wfi");
    }
}

/* --- MPU ----------------------------------------------------------------------------------- */

uint32_t tt_cm7_mpu_regions(void) { return (MPU_TYPE >> 8) & 0xFFu; }

void tt_cm7_mpu_set(uint32_t index, uint32_t base, uint32_t rasr)
{
    MPU_RNR = index;
    MPU_RBAR = base;
    MPU_RASR = rasr;
    tt_cm7_dsb_isb();
}

bool tt_cm7_mpu_cover(uint32_t index, uint32_t base, uint32_t bytes, uint32_t attrs)
{
    if (bytes < 32u || bytes > 0x80000000u) {
        return false;
    }
    const uint32_t log2 = 32u - (uint32_t)__builtin_clz(bytes - 1u);
    const uint32_t size = 1u << log2;
    uint32_t srd = 0;
    if ((base & (size - 1u)) != 0u) {
        return false;
    }
    if (size != bytes) {
        const uint32_t eighth = size / 8u;
        if (log2 < 8u || bytes % eighth != 0u) {
            return false;
        }
        srd = (0xFFu << (bytes / eighth)) & 0xFFu;
    }
    tt_cm7_mpu_set(index, base, TT_MPU_SIZE(log2) | TT_MPU_SRD(srd) | attrs);
    return true;
}

void tt_cm7_mpu_enable(bool background)
{
    MPU_CTRL = MPU_CTRL_ENABLE | (background ? MPU_CTRL_PRIVDEFENA : 0u);
    tt_cm7_dsb_isb();
}

void tt_cm7_mpu_stack_guard(uint32_t index)
{
    const uint32_t bytes = (uint32_t)((uintptr_t)__stack_guard_end - (uintptr_t)__stack_bottom);
    tt_cm7_mpu_set(index, (uint32_t)(uintptr_t)__stack_bottom,
                   TT_MPU_SIZE((uint32_t)__builtin_ctz(bytes)) | TT_MPU_AP_NONE | TT_MPU_XN | TT_MPU_NORMAL_WB);
}

/* --- Caches -------------------------------------------------------------------------------- */

void tt_cm7_caches_enable(void)
{
    tt_cm7_dsb_isb();
    SCB_ICIALLU = 0;
    tt_cm7_dsb_isb();
    TT_SCB_CCR |= TT_CCR_IC;
    tt_cm7_dsb_isb();

    /* Invalidate the whole L1 data cache by set and way before turning it on: its
     * contents are undefined after reset. */
    SCB_CSSELR = 0; /* level 1, data */
    tt_cm7_dsb_isb();
    const uint32_t ccsidr = SCB_CCSIDR;
    const uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    const uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    const uint32_t set_shift = (ccsidr & 7u) + 4u;
    const uint32_t way_shift = ways > 1u ? (uint32_t)__builtin_clz(ways - 1u) : 0u;
    for (uint32_t set = 0; set < sets; set++) {
        for (uint32_t way = 0; way < ways; way++) {
            SCB_DCISW = (way << way_shift) | (set << set_shift);
        }
    }
    tt_cm7_dsb_isb();
    TT_SCB_CCR |= TT_CCR_DC;
    tt_cm7_dsb_isb();
}

void tt_cm7_dcache_invalidate(const void *addr, size_t len)
{
    uintptr_t line = (uintptr_t)addr & ~(uintptr_t)(DCACHE_LINE - 1u);
    const uintptr_t end = (uintptr_t)addr + len;
    __asm__ volatile("dsb 0xF" ::: "memory");
    for (; line < end; line += DCACHE_LINE) {
        SCB_DCIMVAC = (uint32_t)line;
    }
    tt_cm7_dsb_isb();
}

/* --- C library ----------------------------------------------------------------------------- */

/* The heap is the (normally empty) .heap reservation of sections.ld: malloc fails cleanly
 * instead of growing into the arena or the stack. */
void *_sbrk(ptrdiff_t incr)
{
    static uint8_t *brk = __heap_start;
    if (incr < 0 ? (uintptr_t)(brk - __heap_start) < (uintptr_t)-incr
                 : (uintptr_t)(__heap_end - brk) < (uintptr_t)incr) {
        errno = ENOMEM;
        return (void *)-1;
    }
    uint8_t *const prev = brk;
    brk += incr;
    return prev;
}
