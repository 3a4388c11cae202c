/* Host implementation of the port API the runtime library needs; see host_port.h for the
 * flashes. Ticks are microseconds of the monotonic clock; there is no stack to measure. */
#define _POSIX_C_SOURCE 199309L
#include "host_port.h"

#include <string.h>
#include <time.h>

#include "tt/port.h"
#include "tt/uart_rate.h"

#define KB 1024u
#define EXTERNAL TT_HOST_INTERNAL_FLASH_BYTES /* where the external flash starts in the array */

/* Where each sector starts in the array, and its size. */
static const struct {
    uint32_t offset;
    uint32_t size;
} sectors[] = {
    {0x00000u, 32u * KB},  {0x08000u, 32u * KB},  {0x10000u, 32u * KB},  {0x18000u, 32u * KB},
    {0x20000u, 128u * KB}, {0x40000u, 256u * KB}, {0x80000u, 256u * KB}, {0xC0000u, 256u * KB},
    {EXTERNAL, 256u * KB}, {EXTERNAL + 256u * KB, 512u * KB},
};
#define SECTOR_COUNT (sizeof sectors / sizeof sectors[0])
#define ERASE_STEP 1024u

/* Model area in internal sectors 4-7, the parameter slots on the external flash. */
static const tt_flash_layout_t layout = {.slot_a = 8u, .slot_b = 9u, .model_first = 4u, .model_count = 4u};

static uint8_t flash[TT_HOST_FLASH_BYTES];
static long steps_done;
static long steps_left = -1; /* -1: no cut armed */

uint8_t *tt_host_flash(void) { return flash; }

void tt_host_flash_reset(void)
{
    memset(flash, 0xFF, sizeof flash);
    tt_host_flash_cut_after(-1);
}

void tt_host_flash_cut_after(long steps)
{
    steps_left = steps;
    steps_done = 0;
}

long tt_host_flash_steps(void) { return steps_done; }

/* One unit of flash work; false once the power is gone. */
static int step(void)
{
    if (steps_left == 0) {
        return 0;
    }
    if (steps_left > 0) {
        steps_left--;
    }
    steps_done++;
    return 1;
}

uint8_t *tt_host_flash_sector(size_t index) { return index < SECTOR_COUNT ? flash + sectors[index].offset : NULL; }

const tt_flash_layout_t *tt_port_flash_layout(void) { return &layout; }

size_t tt_port_flash_sector_count(void) { return SECTOR_COUNT; }

tt_flash_sector_t tt_port_flash_sector(size_t index)
{
    const tt_flash_sector_t none = {NULL, 0u};
    if (index >= SECTOR_COUNT) {
        return none;
    }
    const tt_flash_sector_t sector = {flash + sectors[index].offset, sectors[index].size};
    return sector;
}

int tt_port_flash_erase(size_t index)
{
    if (index >= SECTOR_COUNT) {
        return -1;
    }
    for (uint32_t done = 0; done < sectors[index].size; done += ERASE_STEP) {
        if (!step()) {
            return -1;
        }
        memset(flash + sectors[index].offset + done, 0xFF, ERASE_STEP);
    }
    return 0;
}

/* [offset, offset + len) lies inside one of the two flashes. */
static int inside_one_flash(uintptr_t offset, size_t len)
{
    const uintptr_t end = offset < EXTERNAL ? EXTERNAL : TT_HOST_FLASH_BYTES;
    return offset < end && len <= end - offset;
}

int tt_port_flash_program(const uint8_t *at, const uint8_t *data, size_t len)
{
    const uintptr_t offset = (uintptr_t)at - (uintptr_t)flash; /* wraps far out for an address below */
    if (offset % 4u != 0u || len % 4u != 0u || !inside_one_flash(offset, len)) {
        return -1;
    }
    for (size_t i = 0; i < len; i += 4u) {
        if (!step()) {
            return -1;
        }
        for (size_t b = 0; b < 4u; b++) {
            flash[offset + i + b] &= data[i + b]; /* programming only clears bits */
        }
    }
    return 0;
}

static uint32_t clock_skip; /* microseconds tests moved the clock on */
static uint32_t uart_baud = TT_DEFAULT_BAUD;

uint32_t tt_port_ticks(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint32_t)((uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u) + clock_skip;
}

void tt_host_clock_advance(uint32_t us) { clock_skip += us; }

/* The Discovery board's USART1 clock (PCLK2 = 108 MHz): the rates the vectors expect. */
uint32_t tt_port_uart_rate(uint32_t baud, uint32_t *nearest) { return tt_uart_rate(108000000u, baud, nearest); }

void tt_port_uart_set_baud(uint32_t baud) { uart_baud = baud; }

void tt_port_uart_flush(void) {}

uint32_t tt_host_uart_baud(void) { return uart_baud; }

uint32_t tt_port_tick_hz(void) { return 1000000u; }

void tt_port_stack_usage(uint32_t *reserved, uint32_t *peak)
{
    *reserved = 0;
    *peak = 0;
}

int tt_port_random(uint8_t *out, size_t len)
{
    /* A fixed sequence (xorshift32) rather than entropy: the tests and fuzzers that drive
     * this port replay exactly. The twins and the boards draw real randomness. */
    static uint32_t state = 0x2545F491u;
    for (size_t i = 0; i < len; i++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out[i] = (uint8_t)state;
    }
    return 0;
}
