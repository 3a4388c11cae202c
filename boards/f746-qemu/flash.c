/* The F746's flash, emulated in QEMU's PSRAM with the same sectors and the same rules:
 * erase sets a whole sector to 0xFF, programming can only clear bits (the new contents
 * are old AND data), spans are word aligned, and the sectors holding the image are
 * refused. Outside this driver the MPU makes the window read-only, as flash is to stores.
 *
 * PSRAM is QEMU's machine RAM, so it survives a guest reset, and backing it with a file
 * (-object memory-backend-file,id=psram,size=16M,mem-path=FILE,share=on
 *  -machine memory-backend=psram) makes it survive the emulator too. A marker just past
 * the 1 MB window tells formatted flash from fresh (all-zero) PSRAM. */
#include <string.h>

#include "cortex_m7.h"
#include "f746_flash.h"
#include "f746_qemu.h"
#include "tt/port.h"

#define FORMAT_MARKER_ADDR (TT_QEMU_FLASH_BASE + TT_F746_FLASH_BYTES)
#define FORMAT_MAGIC 0x4C467474u /* "ttFL" */
#define FORMAT_VERSION 1u

static uint8_t *window(void) { return (uint8_t *)(uintptr_t)TT_QEMU_FLASH_BASE; }

void tt_qemu_flash_init(void)
{
    volatile uint32_t *const marker = (volatile uint32_t *)(uintptr_t)FORMAT_MARKER_ADDR;
    if (marker[0] != FORMAT_MAGIC || marker[1] != FORMAT_VERSION) {
        memset(window(), 0xFF, TT_F746_FLASH_BYTES);
        marker[0] = FORMAT_MAGIC;
        marker[1] = FORMAT_VERSION;
    }
    /* Booting a new image is flashing it: like a debug probe, erase the sectors the image
     * spans and program it there; every later sector keeps its contents. */
    memset(window(), 0xFF, tt_f746_flash_free_offset());
    memcpy(window(), __flash_start, tt_cm7_image_bytes());
}

uint32_t tt_f746_flash_image_bytes(void) { return tt_cm7_image_bytes(); }

const uint8_t *tt_port_flash_base(void) { return window(); }

int tt_port_flash_erase(size_t index)
{
    if (!tt_f746_flash_erase_ok(index)) {
        return -1;
    }
    const tt_flash_sector_t sector = tt_port_flash_sector(index);
    tt_qemu_flash_window(true);
    memset(window() + sector.offset, 0xFF, sector.size);
    tt_qemu_flash_window(false);
    return 0;
}

int tt_port_flash_program(uint32_t offset, const uint8_t *data, size_t len)
{
    if (!tt_f746_flash_program_ok(offset, len)) {
        return -1;
    }
    uint8_t *const dst = window() + offset;
    tt_qemu_flash_window(true);
    for (size_t i = 0; i < len; i++) {
        dst[i] &= data[i];
    }
    tt_qemu_flash_window(false);
    return 0;
}
