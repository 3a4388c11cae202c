/* Uploads into the model area: a package crossing the sector boundary lands intact, each
 * sector is erased once just before it is needed, and a flash failure is reported. */
#include "host_port.h"
#include "tt/crc32.h"
#include "tt/upload.h"
#include "tt_test.h"

#define AREA 0x20000u /* sector 4 */
#define TOTAL (200u * 1024u + 6u) /* past the 128 KB of sector 4, ending mid-word */
#define CHUNK 1020u

static uint8_t package[TOTAL];

static tt_status_t send(tt_upload_t *up, uint32_t from, uint32_t to)
{
    for (uint32_t at = from; at < to; at += CHUNK) {
        uint32_t detail;
        const uint32_t n = to - at < CHUNK ? to - at : CHUNK;
        const tt_status_t status = tt_upload_chunk(up, at, package + at, n, &detail);
        if (status != TT_STATUS_OK) {
            return status;
        }
    }
    return TT_STATUS_OK;
}

static void crosses_sectors_and_erases_lazily(void)
{
    tt_host_flash_reset();
    memset(tt_host_flash() + AREA, 0x00, 896u * 1024u); /* stale contents to be erased */
    tt_upload_t up;
    tt_upload_init(&up, tt_port_flash_layout());
    CHECK(up.capacity == 896u * 1024u && up.area == tt_host_flash() + AREA, "model area geometry");
    uint32_t detail;
    CHECK(tt_upload_begin(&up, TOTAL, tt_crc32(package, TOTAL), &detail) == TT_STATUS_OK, "begin");
    CHECK(send(&up, 0, 4080) == TT_STATUS_OK, "first chunks");
    CHECK(tt_host_flash()[AREA + 128u * 1024u] == 0x00, "sector 5 must not be erased before it is reached");
    CHECK(send(&up, 4080, TOTAL) == TT_STATUS_OK, "remaining chunks");
    CHECK(tt_upload_end(&up, &detail) == TT_STATUS_OK, "end: CRC 0x%08x", (unsigned)detail);
    CHECK(tt_upload_package(&up) == tt_host_flash() + AREA, "package location");
    CHECK(tt_test_bytes_equal("stored package", tt_host_flash() + AREA, TOTAL, package, TOTAL), "contents");
    CHECK(tt_host_flash()[AREA + TOTAL] == 0xFF && tt_host_flash()[AREA + TOTAL + 1] == 0xFF, "tail padding erased");
}

static void flash_failure_is_reported(void)
{
    tt_host_flash_reset();
    tt_upload_t up;
    tt_upload_init(&up, tt_port_flash_layout());
    uint32_t detail;
    CHECK(tt_upload_begin(&up, TOTAL, tt_crc32(package, TOTAL), &detail) == TT_STATUS_OK, "begin");
    tt_host_flash_cut_after(300); /* dies programming sector 4, after its 128 one-KiB erase steps */
    const tt_status_t status = send(&up, 0, TOTAL);
    tt_host_flash_cut_after(-1);
    CHECK(status == TT_STATUS_FLASH_ERROR, "status %d", status);
    CHECK(up.received < TOTAL, "a failed chunk is not counted as received");
}

int main(void)
{
    for (uint32_t i = 0; i < TOTAL; i++) {
        package[i] = (uint8_t)(i * 2654435761u >> 24);
    }
    crosses_sectors_and_erases_lazily();
    flash_failure_is_reported();
    return tt_test_report("upload");
}
