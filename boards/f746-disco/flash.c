/* The Discovery board's two flashes behind the port API (sectors and checks:
 * boards/common/f746_flash.c): the STM32F746's embedded flash here, the QSPI NOR flash in
 * qspi.c.
 *
 * Embedded flash (RM0385 3.3 "Flash program and erase operations"): unlock with the key
 * sequence, erase one sector (SER + SNB + STRT) or program 32-bit words (PG, PSIZE = x32,
 * which the Discovery board's 3.3 V supply allows), wait while BSY, check the error flags,
 * lock again.
 *
 * The code runs from the same flash bank: the core stalls on instruction fetches while
 * an operation is in progress (a 256 KB sector erase takes 1-2 s), and so do interrupt
 * handlers, so UART bytes that arrive meanwhile overrun. The host must not stream while
 * the device writes the model area (an upload). */
#include <string.h>

#include "cortex_m7.h"
#include "f746_disco.h"
#include "f746_flash.h"
#include "stm32f746.h"
#include "tt/port.h"

static uint8_t *flash_at(uint32_t offset) { return (uint8_t *)(uintptr_t)__flash_start + offset; }

static void wait_idle(void)
{
    while (FLASH_SR & FLASH_SR_BSY) {
    }
}

static void unlock(void)
{
    wait_idle();
    if (FLASH_CR & FLASH_CR_LOCK) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
    }
    FLASH_SR = FLASH_SR_EOP | FLASH_SR_ERRORS; /* write 1 to clear what a past operation left */
}

/* Ends an operation: the error flags it raised, if any, decide the result. */
static int finish(uint32_t span_offset, uint32_t span_len)
{
    wait_idle();
    const uint32_t errors = FLASH_SR & FLASH_SR_ERRORS;
    FLASH_CR &= ~(FLASH_CR_PG | FLASH_CR_SER | FLASH_CR_SNB_MASK);
    FLASH_CR |= FLASH_CR_LOCK;
    tt_disco_flash_window(false);
    /* The flash changed behind the data cache. */
    tt_cm7_dcache_invalidate(flash_at(span_offset), span_len);
    return errors ? -1 : 0;
}

uint32_t tt_f746_flash_image_bytes(void) { return tt_cm7_image_bytes(); }

const uint8_t *tt_f746_flash_mapped(tt_f746_flash_t flash)
{
    return flash == TT_F746_INTERNAL ? flash_at(0) : (const uint8_t *)(uintptr_t)TT_DISCO_QSPI_BASE;
}

/* Internal sector @p index (RM0385's SNB). */
static int erase_internal(size_t index, tt_f746_place_t sector)
{
    unlock();
    FLASH_CR = (FLASH_CR & ~(FLASH_CR_PSIZE_MASK | FLASH_CR_SNB_MASK | FLASH_CR_PG)) | FLASH_CR_PSIZE_X32 |
               FLASH_CR_SER | FLASH_CR_SNB(index);
    FLASH_CR |= FLASH_CR_STRT;
    __asm__ volatile("dsb 0xF" ::: "memory");
    return finish(sector.offset, sector.size);
}

static int program_internal(uint32_t offset, const uint8_t *data, size_t len)
{
    unlock();
    tt_disco_flash_window(true);
    FLASH_CR = (FLASH_CR & ~(FLASH_CR_PSIZE_MASK | FLASH_CR_SER | FLASH_CR_SNB_MASK)) | FLASH_CR_PSIZE_X32 |
               FLASH_CR_PG;
    volatile uint32_t *dst = (volatile uint32_t *)(uintptr_t)flash_at(offset);
    for (size_t i = 0; i < len; i += 4u) {
        uint32_t word;
        memcpy(&word, data + i, sizeof word); /* data may be unaligned */
        *dst++ = word;
        __asm__ volatile("dsb 0xF" ::: "memory"); /* the write must reach the flash before BSY is read */
        wait_idle();
        if (FLASH_SR & FLASH_SR_ERRORS) {
            break;
        }
    }
    return finish(offset, (uint32_t)len);
}

int tt_port_flash_erase(size_t index)
{
    tt_f746_place_t sector;
    if (!tt_f746_flash_erase_at(index, &sector)) {
        return -1;
    }
    return sector.flash == TT_F746_INTERNAL ? erase_internal(index, sector)
                                            : tt_disco_qspi_erase(sector.offset, sector.size);
}

int tt_port_flash_program(const uint8_t *at, const uint8_t *data, size_t len)
{
    tt_f746_place_t span;
    if (!tt_f746_flash_program_at(at, len, &span)) {
        return -1;
    }
    return span.flash == TT_F746_INTERNAL ? program_internal(span.offset, data, len)
                                          : tt_disco_qspi_program(span.offset, data, len);
}
