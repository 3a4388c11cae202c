/* The F746's flashes, emulated in QEMU's PSRAM with the same sectors and the same rules: the
 * internal flash's 1 MB at its start, the part of the Discovery's QSPI NOR flash that the
 * port exposes (the parameter store) at 2 MB. Both are NOR flash: erase sets a whole sector
 * to 0xFF, programming can only clear bits (the new contents are old AND data), spans are
 * word aligned, and the sectors holding the image are refused. Outside this driver the MPU
 * makes both windows read-only, as flash is to stores.
 *
 * PSRAM is QEMU's machine RAM, so it survives a guest reset, and backing it with a file
 * (-object memory-backend-file,id=psram,size=16M,mem-path=FILE,share=on
 *  -machine memory-backend=psram) makes it survive the emulator too. A marker just past
 * the internal window tells formatted flash from fresh (all-zero) PSRAM, and flash of an
 * older layout from the current one. */
#include <string.h>

#include "cortex_m7.h"
#include "f746_flash.h"
#include "f746_qemu.h"
#include "tt/port.h"

#define FORMAT_MAGIC 0x4C467474u /* "ttFL" */
/* 2: the parameter store moved from internal sectors 4-5 to the QSPI flash. */
#define FORMAT_VERSION 2u

const uint8_t *tt_f746_flash_mapped(tt_f746_flash_t flash)
{
    return (const uint8_t *)(uintptr_t)(flash == TT_F746_INTERNAL ? TT_QEMU_FLASH_BASE : TT_QEMU_QSPI_BASE);
}

static uint8_t *writable_at(tt_f746_place_t place)
{
    return (uint8_t *)(uintptr_t)(tt_f746_flash_mapped(place.flash) + place.offset);
}

void tt_qemu_flash_init(void)
{
    volatile uint32_t *const marker = (volatile uint32_t *)(uintptr_t)TT_QEMU_FLASH_MARKER;
    uint8_t *const internal = (uint8_t *)(uintptr_t)TT_QEMU_FLASH_BASE;
    if (marker[0] != FORMAT_MAGIC || marker[1] != FORMAT_VERSION) {
        memset(internal, 0xFF, TT_F746_FLASH_BYTES);
        memset((uint8_t *)(uintptr_t)TT_QEMU_QSPI_BASE, 0xFF, TT_F746_QSPI_BYTES);
        marker[0] = FORMAT_MAGIC;
        marker[1] = FORMAT_VERSION;
    }
    /* Booting a new image is flashing it: like a debug probe, erase the sectors the image
     * spans and program it there; every later sector keeps its contents. */
    memset(internal, 0xFF, tt_f746_flash_free_offset());
    memcpy(internal, __flash_start, tt_cm7_image_bytes());
}

uint32_t tt_f746_flash_image_bytes(void) { return tt_cm7_image_bytes(); }

int tt_port_flash_erase(size_t index)
{
    tt_f746_place_t sector;
    if (!tt_f746_flash_erase_at(index, &sector)) {
        return -1;
    }
    tt_qemu_flash_window(sector.flash, true);
    memset(writable_at(sector), 0xFF, sector.size);
    tt_qemu_flash_window(sector.flash, false);
    return 0;
}

int tt_port_flash_program(const uint8_t *at, const uint8_t *data, size_t len)
{
    tt_f746_place_t span;
    if (!tt_f746_flash_program_at(at, len, &span)) {
        return -1;
    }
    uint8_t *const dst = writable_at(span);
    tt_qemu_flash_window(span.flash, true);
    for (size_t i = 0; i < len; i++) {
        dst[i] &= data[i];
    }
    tt_qemu_flash_window(span.flash, false);
    return 0;
}
