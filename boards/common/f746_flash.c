/* The F746 boards' flash sectors, layout and argument checks; see f746_flash.h. */
#include "f746_flash.h"

#include "tt/port.h"

#define KB 1024u

static const tt_f746_place_t sectors[TT_F746_SECTORS] = {
    {TT_F746_INTERNAL, 0x00000u, 32u * KB},  {TT_F746_INTERNAL, 0x08000u, 32u * KB},
    {TT_F746_INTERNAL, 0x10000u, 32u * KB},  {TT_F746_INTERNAL, 0x18000u, 32u * KB},
    {TT_F746_INTERNAL, 0x20000u, 128u * KB}, {TT_F746_INTERNAL, 0x40000u, 256u * KB},
    {TT_F746_INTERNAL, 0x80000u, 256u * KB}, {TT_F746_INTERNAL, 0xC0000u, 256u * KB},
    {TT_F746_QSPI, 0u, TT_F746_QSPI_SECTOR_BYTES}, {TT_F746_QSPI, TT_F746_QSPI_SECTOR_BYTES, TT_F746_QSPI_SECTOR_BYTES},
};

/* Image in internal sectors 0-3 (128 KB), the model area in sectors 4-7 (896 KB: room for
 * MCUNet-5fps's 628 KB package), the parameter slots in the QSPI flash (2 x 256 KB: a
 * record as large as the whole training arena fits). */
static const tt_flash_layout_t layout = {.slot_a = 8u, .slot_b = 9u, .model_first = 4u, .model_count = 4u};

/* Bytes of each flash that the sectors above cover. */
static uint32_t exposed_bytes(tt_f746_flash_t flash)
{
    return flash == TT_F746_INTERNAL ? TT_F746_FLASH_BYTES : TT_F746_QSPI_BYTES;
}

const tt_flash_layout_t *tt_port_flash_layout(void) { return &layout; }

size_t tt_port_flash_sector_count(void) { return TT_F746_SECTORS; }

tt_flash_sector_t tt_port_flash_sector(size_t index)
{
    const tt_flash_sector_t none = {NULL, 0u};
    if (index >= TT_F746_SECTORS) {
        return none;
    }
    const tt_flash_sector_t sector = {tt_f746_flash_mapped(sectors[index].flash) + sectors[index].offset,
                                      sectors[index].size};
    return sector;
}

uint32_t tt_f746_flash_free_offset(void)
{
    const uint32_t image = tt_f746_flash_image_bytes();
    for (size_t i = 0; i < TT_F746_FLASH_SECTORS; i++) {
        if (sectors[i].offset >= image) {
            return sectors[i].offset;
        }
    }
    return TT_F746_FLASH_BYTES;
}

/* The image lives in the internal flash only. */
static uint32_t first_writable(tt_f746_flash_t flash)
{
    return flash == TT_F746_INTERNAL ? tt_f746_flash_free_offset() : 0u;
}

bool tt_f746_flash_erase_at(size_t index, tt_f746_place_t *place)
{
    if (index >= TT_F746_SECTORS || sectors[index].offset < first_writable(sectors[index].flash)) {
        return false;
    }
    *place = sectors[index];
    return true;
}

bool tt_f746_flash_program_at(const uint8_t *at, size_t len, tt_f746_place_t *place)
{
    if (((uintptr_t)at % 4u) != 0u || (len % 4u) != 0u) {
        return false;
    }
    static const tt_f746_flash_t flashes[] = {TT_F746_INTERNAL, TT_F746_QSPI};
    for (size_t i = 0; i < sizeof flashes / sizeof flashes[0]; i++) {
        const uintptr_t base = (uintptr_t)tt_f746_flash_mapped(flashes[i]);
        const uint32_t bytes = exposed_bytes(flashes[i]);
        /* Unsigned differences: an address below the window wraps far past its end. */
        const uintptr_t offset = (uintptr_t)at - base;
        if (offset < bytes && len <= bytes - offset) {
            if (offset < first_writable(flashes[i])) {
                return false;
            }
            place->flash = flashes[i];
            place->offset = (uint32_t)offset;
            place->size = (uint32_t)len;
            return true;
        }
    }
    return false;
}
