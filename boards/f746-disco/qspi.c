/* The Discovery board's QSPI NOR flash: a Micron N25Q128A (16 MB) on the QUADSPI's bank 1
 * (UM1907 "QSPI NOR Flash memory"; pins PB2 = CLK, PB6 = NCS, PD11/PD12/PE2/PD13 = IO0-3).
 *
 * The flash sits in memory-mapped mode (quad I/O fast read, 0xEB) at 0x90000000, so the
 * parameter store reads it like memory. Erase and program switch the QUADSPI to indirect
 * mode for the duration (RM0385 14.3 "QUADSPI functional description"): write enable, the
 * command, then automatic polling of the status register until the write is done, and the
 * flag status register says whether it failed. While in indirect mode the window is made
 * inaccessible, because a speculative read by the core there would stall the QUADSPI (ST
 * AN4760, "Quad-SPI interface on STM32 microcontrollers").
 *
 * Unlike the internal flash, programming here does not stall instruction fetches: the UART
 * keeps receiving while a commit writes.
 *
 * Command set and timings are the N25Q128A datasheet's (Micron, "N25Q128A 3V, 128Mb
 * serial NOR flash"). Later board revisions may carry another part: the JEDEC ID is checked
 * at start-up, and a chip that is not an N25Q128A is never written. */
#include "cortex_m7.h"
#include "f746_disco.h"
#include "stm32f746.h"
#include "tt/port.h"

/* N25Q128A commands. */
#define CMD_RESET_ENABLE 0x66u
#define CMD_RESET_MEMORY 0x99u
#define CMD_READ_ID 0x9Fu
#define CMD_WRITE_ENABLE 0x06u
#define CMD_READ_STATUS 0x05u
#define CMD_READ_FLAG_STATUS 0x70u
#define CMD_CLEAR_FLAG_STATUS 0x50u
#define CMD_READ_VOLATILE_CONFIG 0x85u
#define CMD_WRITE_VOLATILE_CONFIG 0x81u
#define CMD_SECTOR_ERASE 0xD8u /* 64 KB */
#define CMD_PAGE_PROGRAM 0x02u /* up to 256 B inside one page */
#define CMD_QUAD_IO_READ 0xEBu

#define STATUS_WIP 0x01u /* write in progress */
#define STATUS_WEL 0x02u /* write enable latch */
#define FLAG_ERRORS 0x32u /* erase (bit 5), program (bit 4), protection (bit 1) */
#define JEDEC_ID 0x18BA20u /* Micron, N25Q 3 V, 128 Mbit: bytes 0x20 0xBA 0x18 */

#define SECTOR_BYTES (64u * 1024u)
#define PAGE_BYTES 256u

/* Quad I/O fast read at 108 MHz needs 10 dummy cycles (datasheet, "Supported clock
 * frequencies"); the volatile configuration register holds them in bits 7:4. */
#define READ_DUMMY_CYCLES 10u
#define VCR_DUMMY_MASK 0xF0u

/* QUADSPI set-up: CLK = 216 MHz / 2 = 108 MHz, the chip's maximum for quad I/O reads; nCS
 * high for 6 cycles (56 ns) between commands, more than the chip's 50 ns after a write;
 * FSIZE = log2(16 MB) - 1. */
#define PRESCALER 1u
#define CS_HIGH_CYCLES 6u
#define FSIZE 23u
#define POLL_INTERVAL_CYCLES 16u

/* Worst cases from the datasheet, with margin: page program 5 ms, 64 KB sector erase 3 s. */
#define TIMEOUT_COMMAND_MS 10u
#define TIMEOUT_PROGRAM_MS 10u
#define TIMEOUT_ERASE_MS 4000u

static bool ready; /* the chip answered as an N25Q128A and is configured */

/* -- QUADSPI primitives ------------------------------------------------------------------ */

static bool elapsed(uint32_t start, uint32_t ms)
{
    return tt_port_ticks() - start > ms * (tt_port_tick_hz() / 1000u);
}

static void abort_transfer(void)
{
    QUADSPI_CR |= QUADSPI_CR_ABORT;
    while ((QUADSPI_CR & QUADSPI_CR_ABORT) != 0u) {
    }
    QUADSPI_FCR = QUADSPI_FCR_ALL;
}

/* Wait until @p done says so, at most @p ms; a timeout or a transfer error aborts the
 * transfer, so that the next one starts from an idle QUADSPI. */
static bool wait_until(bool (*done)(void), uint32_t ms)
{
    const uint32_t start = tt_port_ticks();
    while (!done()) {
        if ((QUADSPI_SR & QUADSPI_SR_TEF) != 0u || elapsed(start, ms)) {
            abort_transfer();
            return false;
        }
    }
    return true;
}

static bool transfer_complete(void) { return (QUADSPI_SR & QUADSPI_SR_TCF) != 0u; }
static bool status_matched(void) { return (QUADSPI_SR & QUADSPI_SR_SMF) != 0u; }
static bool fifo_has_data(void) { return QUADSPI_SR_FLEVEL(QUADSPI_SR) != 0u; }
static bool fifo_has_room(void) { return QUADSPI_SR_FLEVEL(QUADSPI_SR) < QUADSPI_FIFO_BYTES; }

/* Wait for the end of the transfer and clear its flag. */
static bool finish(uint32_t ms)
{
    if (!wait_until(transfer_complete, ms)) {
        return false;
    }
    QUADSPI_FCR = QUADSPI_SR_TCF; /* CTCF is TCF's bit */
    return true;
}

/* Start a transfer: DLR and CCR may only be written while the QUADSPI is idle. */
static void begin(uint32_t data_bytes, uint32_t ccr)
{
    while ((QUADSPI_SR & QUADSPI_SR_BUSY) != 0u) {
    }
    if (data_bytes != 0u) {
        QUADSPI_DLR = data_bytes - 1u;
    }
    QUADSPI_CCR = ccr;
}

#define ONE_LINE_ADDRESS (QUADSPI_CCR_ADMODE_1 | QUADSPI_CCR_ADSIZE_24)

/* A command without data; with @p address when @p has_address. CCR starts it (AR when an
 * address is due). */
static bool command(uint8_t instruction, bool has_address, uint32_t address)
{
    begin(0u, QUADSPI_CCR_FMODE_WRITE | QUADSPI_CCR_IMODE_1 | QUADSPI_CCR_INSTRUCTION(instruction) |
                  (has_address ? ONE_LINE_ADDRESS : 0u));
    if (has_address) {
        QUADSPI_AR = address;
    }
    return finish(TIMEOUT_COMMAND_MS);
}

/* Read the @p len bytes answered to @p instruction (no address) on one line. */
static bool read_register(uint8_t instruction, uint8_t *out, size_t len)
{
    begin((uint32_t)len, QUADSPI_CCR_FMODE_READ | QUADSPI_CCR_IMODE_1 | QUADSPI_CCR_DMODE_1 |
                             QUADSPI_CCR_INSTRUCTION(instruction));
    for (size_t i = 0; i < len; i++) {
        if (!wait_until(fifo_has_data, TIMEOUT_COMMAND_MS)) {
            return false;
        }
        out[i] = QUADSPI_DR_BYTE;
    }
    return finish(TIMEOUT_COMMAND_MS);
}

/* Send @p len bytes after @p instruction (and @p address when @p has_address) on one line. */
static bool write_data(uint8_t instruction, bool has_address, uint32_t address, const uint8_t *data, size_t len)
{
    begin((uint32_t)len, QUADSPI_CCR_FMODE_WRITE | QUADSPI_CCR_IMODE_1 | QUADSPI_CCR_DMODE_1 |
                             QUADSPI_CCR_INSTRUCTION(instruction) | (has_address ? ONE_LINE_ADDRESS : 0u));
    if (has_address) {
        QUADSPI_AR = address;
    }
    for (size_t i = 0; i < len; i++) {
        if (!wait_until(fifo_has_room, TIMEOUT_COMMAND_MS)) {
            return false;
        }
        QUADSPI_DR_BYTE = data[i];
    }
    return finish(TIMEOUT_COMMAND_MS);
}

/* Poll the status register until (status & mask) == match, at most @p ms. */
static bool poll_status(uint8_t mask, uint8_t match, uint32_t ms)
{
    while ((QUADSPI_SR & QUADSPI_SR_BUSY) != 0u) {
    }
    QUADSPI_PSMKR = mask;
    QUADSPI_PSMAR = match;
    QUADSPI_PIR = POLL_INTERVAL_CYCLES;
    QUADSPI_CR |= QUADSPI_CR_APMS;
    begin(1u, QUADSPI_CCR_FMODE_POLL | QUADSPI_CCR_IMODE_1 | QUADSPI_CCR_DMODE_1 |
                  QUADSPI_CCR_INSTRUCTION(CMD_READ_STATUS));
    if (!wait_until(status_matched, ms)) {
        return false;
    }
    QUADSPI_FCR = QUADSPI_SR_SMF; /* CSMF is SMF's bit */
    return true;
}

static void enter_memory_mapped(void)
{
    begin(0u, QUADSPI_CCR_FMODE_MAPPED | QUADSPI_CCR_IMODE_1 | QUADSPI_CCR_ADMODE_4 | QUADSPI_CCR_ADSIZE_24 |
                  QUADSPI_CCR_DCYC(READ_DUMMY_CYCLES) | QUADSPI_CCR_DMODE_4 | QUADSPI_CCR_INSTRUCTION(CMD_QUAD_IO_READ));
    tt_disco_qspi_window(true);
}

static void leave_memory_mapped(void)
{
    tt_disco_qspi_window(false);
    abort_transfer(); /* the only way out of memory-mapped mode */
}

/* -- N25Q128A operations ------------------------------------------------------------------ */

static bool write_enable(void)
{
    return command(CMD_WRITE_ENABLE, false, 0u) && poll_status(STATUS_WEL, STATUS_WEL, TIMEOUT_COMMAND_MS);
}

/* Wait for the write in progress to end, then ask the flag status register how it went. */
static bool write_done(uint32_t ms)
{
    uint8_t flags = 0u;
    if (!poll_status(STATUS_WIP, 0u, ms) || !read_register(CMD_READ_FLAG_STATUS, &flags, 1u)) {
        return false;
    }
    if ((flags & FLAG_ERRORS) != 0u) {
        (void)command(CMD_CLEAR_FLAG_STATUS, false, 0u);
        return false;
    }
    return true;
}

static bool reset_chip(void)
{
    return command(CMD_RESET_ENABLE, false, 0u) && command(CMD_RESET_MEMORY, false, 0u) &&
           poll_status(STATUS_WIP, 0u, TIMEOUT_COMMAND_MS);
}

static bool is_n25q128a(void)
{
    uint8_t id[3];
    return read_register(CMD_READ_ID, id, sizeof id) &&
           ((uint32_t)id[0] | (uint32_t)id[1] << 8 | (uint32_t)id[2] << 16) == JEDEC_ID;
}

/* Set the dummy cycles of quad I/O reads, keeping the other volatile settings (XIP stays off). */
static bool configure_reads(void)
{
    uint8_t vcr;
    if (!read_register(CMD_READ_VOLATILE_CONFIG, &vcr, 1u)) {
        return false;
    }
    vcr = (uint8_t)((vcr & ~VCR_DUMMY_MASK) | (READ_DUMMY_CYCLES << 4));
    return write_enable() && write_data(CMD_WRITE_VOLATILE_CONFIG, false, 0u, &vcr, 1u) &&
           poll_status(STATUS_WIP, 0u, TIMEOUT_COMMAND_MS);
}

void tt_disco_qspi_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOBEN | RCC_AHB1ENR_GPIODEN | RCC_AHB1ENR_GPIOEEN;
    RCC_AHB3ENR |= RCC_AHB3ENR_QSPIEN;
    (void)RCC_AHB3ENR; /* the clocks must be running before the peripherals are written */

    tt_disco_pin_af(GPIOB_BASE, 2u, GPIO_AF9_QUADSPI, GPIO_SPEED_VERY_HIGH, 0u);  /* CLK */
    tt_disco_pin_af(GPIOB_BASE, 6u, GPIO_AF10_QUADSPI, GPIO_SPEED_VERY_HIGH, GPIO_PULL_UP); /* NCS: idle deselected */
    tt_disco_pin_af(GPIOD_BASE, 11u, GPIO_AF9_QUADSPI, GPIO_SPEED_VERY_HIGH, 0u); /* IO0 */
    tt_disco_pin_af(GPIOD_BASE, 12u, GPIO_AF9_QUADSPI, GPIO_SPEED_VERY_HIGH, 0u); /* IO1 */
    tt_disco_pin_af(GPIOE_BASE, 2u, GPIO_AF9_QUADSPI, GPIO_SPEED_VERY_HIGH, 0u);  /* IO2 */
    tt_disco_pin_af(GPIOD_BASE, 13u, GPIO_AF9_QUADSPI, GPIO_SPEED_VERY_HIGH, 0u); /* IO3 */

    QUADSPI_CR = QUADSPI_CR_PRESCALER(PRESCALER) | QUADSPI_CR_FTHRES(0u) | QUADSPI_CR_SSHIFT;
    QUADSPI_DCR = QUADSPI_DCR_FSIZE(FSIZE) | QUADSPI_DCR_CSHT(CS_HIGH_CYCLES - 1u);
    QUADSPI_CR |= QUADSPI_CR_EN;

    /* A reset first: a debugger or an earlier image may have left the chip mid-command. */
    ready = reset_chip() && is_n25q128a() && configure_reads();
    enter_memory_mapped();
}

int tt_disco_qspi_erase(uint32_t offset, uint32_t size)
{
    if (!ready || offset % SECTOR_BYTES != 0u || size % SECTOR_BYTES != 0u || offset > TT_DISCO_QSPI_CHIP_BYTES ||
        size > TT_DISCO_QSPI_CHIP_BYTES - offset) {
        return -1;
    }
    leave_memory_mapped();
    bool ok = true;
    /* Lowest sector first: a slot's header goes with the first erase, so a slot whose erase
     * is cut short already fails its checks. */
    for (uint32_t at = offset; ok && at < offset + size; at += SECTOR_BYTES) {
        ok = write_enable() && command(CMD_SECTOR_ERASE, true, at) && write_done(TIMEOUT_ERASE_MS);
    }
    enter_memory_mapped();
    tt_cm7_dcache_invalidate((const void *)(uintptr_t)(TT_DISCO_QSPI_BASE + offset), size);
    return ok ? 0 : -1;
}

int tt_disco_qspi_program(uint32_t offset, const uint8_t *data, size_t len)
{
    if (!ready || offset > TT_DISCO_QSPI_CHIP_BYTES || len > TT_DISCO_QSPI_CHIP_BYTES - offset) {
        return -1;
    }
    leave_memory_mapped();
    bool ok = true;
    /* A page program wraps inside its 256-byte page: split the span at page boundaries. */
    for (size_t done = 0; ok && done < len;) {
        const uint32_t at = offset + (uint32_t)done;
        const size_t room = PAGE_BYTES - at % PAGE_BYTES;
        const size_t n = len - done < room ? len - done : room;
        ok = write_enable() && write_data(CMD_PAGE_PROGRAM, true, at, data + done, n) &&
             write_done(TIMEOUT_PROGRAM_MS);
        done += n;
    }
    enter_memory_mapped();
    tt_cm7_dcache_invalidate((const void *)(uintptr_t)(TT_DISCO_QSPI_BASE + offset), len);
    return ok ? 0 : -1;
}
