#include "tt/upload.h"

#include <string.h>

#include "tt/crc32.h"

void tt_upload_init(tt_upload_t *up, const tt_flash_layout_t *layout)
{
    memset(up, 0, sizeof *up);
    up->first_sector = layout->model_first;
    up->sector_count = layout->model_count;
    up->area = tt_port_flash_sector(layout->model_first).address;
    for (size_t i = 0; i < layout->model_count; i++) {
        up->capacity += tt_port_flash_sector(layout->model_first + i).size;
    }
}

bool tt_upload_resumes(const tt_upload_t *up, uint32_t total, uint32_t crc)
{
    return up->active && up->total == total && up->crc == crc;
}

tt_status_t tt_upload_begin(tt_upload_t *up, uint32_t total, uint32_t crc, uint32_t *detail)
{
    if (total == 0u) {
        *detail = TT_LOAD_BEGIN_BYTES;
        return TT_STATUS_BAD_PAYLOAD;
    }
    if (total > up->capacity) {
        *detail = up->capacity;
        return TT_STATUS_NO_SPACE;
    }
    if (tt_upload_resumes(up, total, crc)) {
        return TT_STATUS_OK; /* the same package again: resume where it stopped */
    }
    up->total = total;
    up->crc = crc;
    up->received = 0;
    up->erased_end = 0;
    up->active = true;
    up->complete = false;
    return TT_STATUS_OK;
}

/* A FLASH_ERROR's detail: the failing byte's address, which on the device is its bus address. */
static uint32_t flash_address(const uint8_t *at) { return (uint32_t)(uintptr_t)at; }

/* Erase the area's sectors up to @p end (an area offset), in order, each exactly once. */
static bool erase_through(tt_upload_t *up, uint32_t end)
{
    for (size_t i = 0; i < up->sector_count && up->erased_end < end; i++) {
        const tt_flash_sector_t sector = tt_port_flash_sector(up->first_sector + i);
        const uint32_t start = (uint32_t)(sector.address - up->area);
        if (start < up->erased_end) {
            continue;
        }
        if (tt_port_flash_erase(up->first_sector + i) != 0) {
            return false;
        }
        up->erased_end = start + sector.size;
    }
    return true;
}

tt_status_t tt_upload_chunk(tt_upload_t *up, uint32_t offset, const uint8_t *data, uint32_t len, uint32_t *detail)
{
    if (!up->active) {
        *detail = 0;
        return TT_STATUS_NO_TRANSFER;
    }
    if (offset != up->received) {
        *detail = up->received;
        return TT_STATUS_OUT_OF_ORDER;
    }
    const uint32_t left = up->total - up->received;
    /* Flash takes whole words: only the package's last chunk may end mid-word. */
    if (len > left || (len % 4u != 0u && len != left)) {
        *detail = left;
        return TT_STATUS_BAD_PAYLOAD;
    }
    const uint8_t *const at = up->area + up->received;
    const uint32_t words = len & ~3u;
    if (!erase_through(up, up->received + len) || (words != 0u && tt_port_flash_program(at, data, words) != 0)) {
        *detail = flash_address(at);
        return TT_STATUS_FLASH_ERROR;
    }
    if (words != len) {
        uint8_t tail[4] = {0xFF, 0xFF, 0xFF, 0xFF};
        memcpy(tail, data + words, len - words);
        if (tt_port_flash_program(at + words, tail, sizeof tail) != 0) {
            *detail = flash_address(at + words);
            return TT_STATUS_FLASH_ERROR;
        }
    }
    up->received += len;
    up->complete = false;
    return TT_STATUS_OK;
}

tt_status_t tt_upload_end(tt_upload_t *up, uint32_t *detail)
{
    if (!up->active) {
        *detail = 0;
        return TT_STATUS_NO_TRANSFER;
    }
    if (up->received != up->total) {
        *detail = up->received;
        return TT_STATUS_OUT_OF_ORDER;
    }
    const uint32_t crc = tt_crc32(up->area, up->total);
    if (crc != up->crc) {
        up->active = false; /* what flash holds is not the package: start over */
        *detail = crc;
        return TT_STATUS_BLOB_CORRUPT;
    }
    up->complete = true;
    return TT_STATUS_OK;
}

tt_status_t tt_upload_append(tt_upload_t *up, const uint8_t *data, uint32_t len, uint32_t *detail)
{
    if (!up->complete) {
        *detail = 0;
        return TT_STATUS_NO_TRANSFER;
    }
    const uint32_t at = (up->total + 3u) & ~3u;
    if (at > up->capacity || len > up->capacity - at) {
        *detail = up->capacity;
        return TT_STATUS_NO_SPACE;
    }
    if (!erase_through(up, at + len) || tt_port_flash_program(up->area + at, data, len) != 0) {
        *detail = flash_address(up->area + at);
        return TT_STATUS_FLASH_ERROR;
    }
    return TT_STATUS_OK;
}

const uint8_t *tt_upload_package(const tt_upload_t *up)
{
    return up->complete ? up->area : NULL;
}
