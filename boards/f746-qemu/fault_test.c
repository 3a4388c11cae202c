/* tt-fault-test: self-tests of the emulated board, one per boot. The case is the last word
 * of the emulator's command line (qemu ... -kernel tt-fault-test.elf -append CASE).
 *
 * Cases that must fault end with the fault report on stderr and exit status
 * 128 + exception (cortex_m7.h); the others exit 0 when every check passes, else 1 after
 * naming the failed check. Without a case the list is printed and the status is 2. */
#include <string.h>

#include "cortex_m7.h"
#include "f746_flash.h"
#include "f746_qemu.h"
#include "semihost.h"
#include "tt/port.h"

int main(void);

static void say(const char *text) { tt_semihost_write0(text); }

static void say_u32(uint32_t v)
{
    char digits[11];
    int i = (int)sizeof digits - 1;
    digits[i] = '\0';
    do {
        digits[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u && i > 0);
    say(&digits[i]);
}

static int check(bool ok, const char *what)
{
    if (!ok) {
        say("tt-fault-test: FAILED: ");
        say(what);
        say("\n");
    }
    return ok ? 0 : 1;
}

static uint32_t read_word(uintptr_t addr) { return *(volatile const uint32_t *)addr; }

/* --- Cases that must fault (MemManage unless noted) ---------------------------------------- */

static int ram_end(void) { return (int)read_word((uintptr_t)__ram_end); }

static int flash_end(void) { return (int)read_word((uintptr_t)__flash_end); }

static int psram_outside_flash(void) { return (int)read_word(TT_QEMU_PSRAM_BASE + TT_F746_FLASH_BYTES); }

static int flash_store(void)
{
    *(volatile uint32_t *)(uintptr_t)__flash_start = 0;
    return 0;
}

static int flash_window_store(void)
{
    *(volatile uint32_t *)(uintptr_t)tt_port_flash_sector(tt_port_flash_layout()->model_first).address = 0;
    return 0;
}

static int qspi_window_store(void)
{
    *(volatile uint32_t *)(uintptr_t)tt_port_flash_sector(tt_port_flash_layout()->slot_a).address = 0;
    return 0;
}

static int psram_past_qspi(void) { return (int)read_word(TT_QEMU_QSPI_BASE + TT_F746_QSPI_BYTES); }

static int exec_ram(void)
{
    static uint16_t code[2] = {0x4770u, 0x4770u}; /* bx lr */
    void (*fn)(void) = (void (*)(void))((uintptr_t)code | 1u);
    fn();
    return 0;
}

static uint32_t recurse(volatile uint8_t *frame, uint32_t depth)
{
    volatile uint8_t local[64];
    local[0] = (uint8_t)(frame[0] + 1u);
    if (depth == 0xFFFFFFFFu) {
        return local[0];
    }
    return recurse(local, depth + 1u) + local[1];
}

static int stack_overflow(void)
{
    volatile uint8_t seed[1] = {0};
    return (int)recurse(seed, 0);
}

static int divide_by_zero(void) /* UsageFault: DIV_0_TRP is on */
{
    volatile uint32_t zero = 0;
    return (int)(100u / zero);
}

/* --- Cases that must pass ---------------------------------------------------------------- */

/* The sectors [first, first + count) follow one another from @p base. */
static bool contiguous(size_t first, size_t count, const uint8_t *base, uint32_t bytes)
{
    const uint8_t *next = base;
    for (size_t i = first; i < first + count; i++) {
        const tt_flash_sector_t s = tt_port_flash_sector(i);
        if (s.address != next) {
            return false;
        }
        next += s.size;
    }
    return next == base + bytes;
}

/* NOR rules on sector @p index: erase reads 0xFF, programming only clears bits, spans are
 * word aligned and end inside the flash they start in. */
static int nor_rules(size_t index, const uint8_t *flash_end)
{
    const tt_flash_sector_t sector = tt_port_flash_sector(index);
    const uint8_t *const at = sector.address;
    int failed = check(tt_port_flash_erase(index) == 0, "erase a sector");
    bool erased = true;
    for (uint32_t i = 0; i < sector.size; i++) {
        erased = erased && at[i] == 0xFFu;
    }
    failed |= check(erased, "an erased sector reads 0xFF");

    const uint8_t first[8] = {0x0F, 0xF0, 0xAA, 0x55, 1, 2, 3, 4};
    const uint8_t second[8] = {0xF0, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00};
    const uint8_t both[8] = {0x00, 0x00, 0xAA, 0x55, 1, 2, 3, 0};
    failed |= check(tt_port_flash_program(at, first, 8) == 0, "program 8 bytes");
    failed |= check(memcmp(at, first, 8) == 0, "programmed bytes read back");
    failed |= check(tt_port_flash_program(at, second, 8) == 0, "program over programmed bytes");
    failed |= check(memcmp(at, both, 8) == 0, "programming only clears bits");
    failed |= check(tt_port_flash_program(at + 1u, first, 4) != 0, "misaligned address refused");
    failed |= check(tt_port_flash_program(at, first, 3) != 0, "partial word refused");
    failed |= check(tt_port_flash_program(flash_end - 4u, first, 8) != 0, "span past the flash's end refused");
    return failed;
}

static int flash_emulation(void)
{
    const uint8_t *const internal = (const uint8_t *)(uintptr_t)TT_QEMU_FLASH_BASE;
    const uint8_t *const qspi = (const uint8_t *)(uintptr_t)TT_QEMU_QSPI_BASE;
    const tt_flash_layout_t *const layout = tt_port_flash_layout();
    const uint8_t first[4] = {1, 2, 3, 4};
    int failed = 0;

    failed |= check(tt_port_flash_sector_count() == TT_F746_SECTORS, "10 sectors");
    failed |= check(contiguous(0, TT_F746_FLASH_SECTORS, internal, TT_F746_FLASH_BYTES), "8 internal sectors, 1 MB");
    failed |= check(contiguous(TT_F746_FLASH_SECTORS, TT_F746_QSPI_SECTORS, qspi, TT_F746_QSPI_BYTES),
                    "2 QSPI sectors, 512 KB");
    failed |= check(layout->model_first == 4u && layout->model_count == 4u, "model area: sectors 4-7");
    failed |= check(layout->slot_a == 8u && layout->slot_b == 9u, "parameter slots: the QSPI sectors");
    failed |= check(memcmp(internal, __flash_start, tt_cm7_image_bytes()) == 0, "the image is in flash");
    failed |= check(tt_port_flash_erase(0) != 0, "the image's sector cannot be erased");
    failed |= check(tt_port_flash_erase(TT_F746_SECTORS) != 0, "sector 10 does not exist");
    failed |= nor_rules(7, internal + TT_F746_FLASH_BYTES);
    failed |= nor_rules(9, qspi + TT_F746_QSPI_BYTES);
    failed |= check(tt_port_flash_program((const uint8_t *)(uintptr_t)0xFFFFFFFCu, first, 8) != 0,
                    "wrapping span refused");
    failed |= check(tt_port_flash_program(internal, first, 4) != 0, "the image cannot be programmed");
    failed |= check(tt_port_flash_program(qspi - 4u, first, 8) != 0, "a span into a flash from outside refused");
    if (!failed) {
        say("tt-fault-test: flash emulation ok\n");
    }
    return failed;
}

/* Counts boots in the QSPI flash's last sector by clearing one bit per boot, then resets
 * until the count is 3: proves tt_port_reset() and that the emulated flash survives a
 * reset (and, with a file-backed PSRAM, a restart of QEMU: the count then goes on from the
 * last run). */
static int reset_and_count(void)
{
    const size_t counter = TT_F746_SECTORS - 1u;
    const uint8_t *const at = tt_port_flash_sector(counter).address;
    uint32_t word;
    memcpy(&word, at, 4);
    uint32_t boots = 0;
    while (boots < 32u && (word & (1u << boots)) == 0u) {
        boots++;
    }
    if (boots == 32u) {
        (void)tt_port_flash_erase(counter);
        boots = 0;
        word = 0xFFFFFFFFu;
    }
    word &= ~(1u << boots);
    if (tt_port_flash_program(at, (const uint8_t *)&word, 4) != 0) {
        return check(false, "program the boot counter");
    }
    boots++;
    say("tt-fault-test: boot ");
    say_u32(boots);
    say("\n");
    if (boots % 3u != 0u) {
        tt_port_reset();
    }
    return 0;
}

/* Busy-loops a known number of iterations and prints the ticks it took. */
static int ticks(void)
{
    const uint32_t start = tt_port_ticks();
    for (volatile uint32_t i = 0; i < 1000000u; i++) {
    }
    const uint32_t elapsed = tt_port_ticks() - start;
    say("tt-fault-test: 1e6 loop iterations took ");
    say_u32(elapsed);
    say(" ticks at ");
    say_u32(tt_port_tick_hz());
    say(" Hz\n");
    return check(elapsed > 0u && tt_port_ticks() - start >= elapsed, "ticks advance");
}

typedef struct {
    const char *name;
    int (*run)(void);
    const char *expect;
} test_case_t;

static const test_case_t cases[] = {
    {"ram-end", ram_end, "MemManage: read just past the 320 KB of SRAM"},
    {"flash-end", flash_end, "MemManage: read just past the 1 MB of flash"},
    {"psram-outside-flash", psram_outside_flash, "MemManage: read PSRAM past the emulated flash"},
    {"flash-store", flash_store, "MemManage: store to the image"},
    {"flash-window-store", flash_window_store, "MemManage: store to emulated flash outside its driver"},
    {"qspi-window-store", qspi_window_store, "MemManage: store to emulated QSPI flash outside its driver"},
    {"psram-past-qspi", psram_past_qspi, "MemManage: read PSRAM past the emulated QSPI flash"},
    {"exec-ram", exec_ram, "MemManage: execute from SRAM"},
    {"stack-overflow", stack_overflow, "MemManage: recursion into the stack guard"},
    {"div-zero", divide_by_zero, "UsageFault: integer division by zero"},
    {"flash", flash_emulation, "exit 0: the flash emulation follows the F746's and the QSPI flash's rules"},
    {"reset", reset_and_count, "exit 0 after 3 boots: tt_port_reset() keeps the flash"},
    {"ticks", ticks, "exit 0: SysTick ticks advance"},
};

int main(void)
{
    tt_port_init();
    char cmdline[160];
    const size_t len = tt_semihost_cmdline(cmdline, sizeof cmdline);
    const char *name = cmdline;
    for (size_t i = 0; i < len; i++) {
        if (cmdline[i] == ' ') {
            name = &cmdline[i + 1];
        }
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (name != cmdline && strcmp(name, cases[i].name) == 0) {
            return cases[i].run();
        }
    }
    say("usage: qemu-system-arm ... -kernel tt-fault-test.elf -append CASE\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        say("  ");
        say(cases[i].name);
        say(": ");
        say(cases[i].expect);
        say("\n");
    }
    return 2;
}
