/* The STM32F746's embedded flash (RM0385 3.3 "Flash program and erase operations"):
 * unlock with the key sequence, erase one sector (SER + SNB + STRT) or program 32-bit
 * words (PG, PSIZE = x32, which the Discovery board's 3.3 V supply allows), wait while
 * BSY, check the error flags, lock again.
 *
 * The code runs from the same flash bank: the core stalls on instruction fetches while
 * an operation is in progress (a 256 KB sector erase takes 1-2 s), and so do interrupt
 * handlers, so UART bytes that arrive meanwhile overrun. The host must not stream while
 * the device writes flash. */
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

const uint8_t *tt_port_flash_base(void) { return flash_at(0); }

int tt_port_flash_erase(size_t index)
{
    if (!tt_f746_flash_erase_ok(index)) {
        return -1;
    }
    const tt_flash_sector_t sector = tt_port_flash_sector(index);
    unlock();
    FLASH_CR = (FLASH_CR & ~(FLASH_CR_PSIZE_MASK | FLASH_CR_SNB_MASK | FLASH_CR_PG)) | FLASH_CR_PSIZE_X32 |
               FLASH_CR_SER | FLASH_CR_SNB(index);
    FLASH_CR |= FLASH_CR_STRT;
    __asm__ volatile("dsb 0xF" ::: "memory");
    return finish(sector.offset, sector.size);
}

int tt_port_flash_program(uint32_t offset, const uint8_t *data, size_t len)
{
    if (!tt_f746_flash_program_ok(offset, len)) {
        return -1;
    }
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
