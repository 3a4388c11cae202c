/* STM32F746 flash geometry and argument checks shared by the F746 boards; see f746_flash.h. */
#include "f746_flash.h"

#include "tt/port.h"

static const tt_flash_sector_t sectors[TT_F746_FLASH_SECTORS] = {
    {0x00000u, 32u * 1024u},  {0x08000u, 32u * 1024u},  {0x10000u, 32u * 1024u},
    {0x18000u, 32u * 1024u},  {0x20000u, 128u * 1024u}, {0x40000u, 256u * 1024u},
    {0x80000u, 256u * 1024u}, {0xC0000u, 256u * 1024u},
};

/* Image in sectors 0-3 (128 KB), parameter slots in sectors 4 (128 KB) and 5 (256 KB), the
 * model area in sectors 6-7 (512 KB: room for a MobileNet-class backbone's int8 weights). */
static const tt_flash_layout_t layout = {.slot_a = 4u, .slot_b = 5u, .model_first = 6u, .model_count = 2u};

const tt_flash_layout_t *tt_port_flash_layout(void) { return &layout; }

size_t tt_port_flash_sector_count(void) { return TT_F746_FLASH_SECTORS; }

tt_flash_sector_t tt_port_flash_sector(size_t index)
{
    const tt_flash_sector_t none = {0u, 0u};
    return index < TT_F746_FLASH_SECTORS ? sectors[index] : none;
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

bool tt_f746_flash_erase_ok(size_t index)
{
    return index < TT_F746_FLASH_SECTORS && sectors[index].offset >= tt_f746_flash_free_offset();
}

bool tt_f746_flash_program_ok(uint32_t offset, size_t len)
{
    return (offset % 4u) == 0u && (len % 4u) == 0u && offset >= tt_f746_flash_free_offset() &&
           offset <= TT_F746_FLASH_BYTES && len <= TT_F746_FLASH_BYTES - offset;
}
