/* libFuzzer harness: the package upload state machine (upload.c) against a model of what it
 * promises, over the host port's flash with power cuts.
 *
 * Input: a sequence of operations, each an opcode byte and its arguments:
 *   BEGIN  total u32, crc u32     LOAD_BEGIN (a same total+crc resumes the transfer)
 *   CHUNK  offset u32, len u16, data   LOAD_CHUNK
 *   END                           LOAD_END
 *   CUT    steps u16              the power fails after that many more flash steps
 *   REBOOT                        the device restarts: transfer state lost, flash kept
 * Invariants checked after every operation: the bytes stored so far are the bytes the chunks
 * it accepted carried, in order, unless a flash step failed since the transfer began (a chunk
 * cut half-programmed and then resent with other bytes leaves their AND, which LOAD_END's CRC
 * refuses); a refused chunk changes nothing it reports; `received` never
 * passes `total`; a package exists only after an END that answered OK, and it is what the
 * CRC announced. */
#include <stdbool.h>
#include <string.h>

#include "fuzz_common.h"
#include "host_port.h"
#include "tt/crc32.h"
#include "tt/upload.h"

enum { OP_BEGIN, OP_CHUNK, OP_END, OP_CUT, OP_REBOOT, OP_COUNT };

static tt_upload_t up;
static uint8_t accepted[1024u * 1024u]; /* the bytes the accepted chunks carried, at their offsets */
static bool torn;                       /* a flash step failed during this transfer */

static void check(void)
{
    FUZZ_REQUIRE(up.received <= up.total || !up.active, "received %u of %u", up.received, up.total);
    FUZZ_REQUIRE(up.received <= up.capacity, "received %u past the area's %u", up.received, up.capacity);
    if (up.active && !torn) {
        FUZZ_REQUIRE(memcmp(up.area, accepted, up.received) == 0, "flash differs from the %u accepted bytes",
                     up.received);
    }
    const uint8_t *package = tt_upload_package(&up);
    if (package != NULL) {
        FUZZ_REQUIRE(up.complete && up.received == up.total, "a package before the transfer ended");
        FUZZ_REQUIRE(tt_crc32(package, up.total) == up.crc, "the package is not what its CRC announced");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_flash_clean();
    tt_upload_init(&up, tt_port_flash_layout());
    torn = false;
    const uint8_t *const end = data + size;
    while (data < end) {
        const unsigned op = *data++ % OP_COUNT;
        const size_t left = (size_t)(end - data);
        uint32_t detail = 0;
        tt_status_t status = TT_STATUS_OK;
        switch (op) {
        case OP_BEGIN:
            if (left < 8u) {
                return 0;
            }
        {
            const bool resumes = tt_upload_resumes(&up, fuzz_u32(data), fuzz_u32(data + 4));
            status = tt_upload_begin(&up, fuzz_u32(data), fuzz_u32(data + 4), &detail);
            if (status == TT_STATUS_OK && !resumes) {
                torn = false; /* a new transfer: its sectors are erased before use */
            }
        }
            FUZZ_REQUIRE(status == TT_STATUS_OK || status == TT_STATUS_BAD_PAYLOAD || status == TT_STATUS_NO_SPACE,
                         "BEGIN answered %d", (int)status);
            data += 8;
            break;
        case OP_CHUNK: {
            if (left < 6u) {
                return 0;
            }
            const uint32_t offset = fuzz_u32(data);
            uint32_t len = fuzz_u16(data + 4);
            data += 6;
            if (len > (size_t)(end - data)) {
                len = (uint32_t)(end - data);
            }
            const uint32_t before = up.received;
            const bool was_active = up.active;
            status = tt_upload_chunk(&up, offset, data, len, &detail);
            if (status == TT_STATUS_OK) {
                FUZZ_REQUIRE(was_active && offset == before && up.received == before + len, "chunk at %u of %u bytes",
                             offset, len);
                memcpy(accepted + before, data, len);
            } else {
                FUZZ_REQUIRE(up.received == before, "a refused chunk (status %d) moved received", (int)status);
                torn = torn || status == TT_STATUS_FLASH_ERROR;
            }
            data += len;
            break;
        }
        case OP_END:
            status = tt_upload_end(&up, &detail);
            FUZZ_REQUIRE(status != TT_STATUS_OK || tt_upload_package(&up) != NULL, "END OK without a package");
            break;
        case OP_CUT:
            if (left < 2u) {
                return 0;
            }
            fuzz_flash_note_steps();
            tt_host_flash_cut_after((long)fuzz_u16(data));
            data += 2;
            break;
        default: /* OP_REBOOT */
            fuzz_flash_note_steps();
            tt_host_flash_cut_after(-1);
            tt_upload_init(&up, tt_port_flash_layout());
            torn = false;
            break;
        }
        check();
    }
    fuzz_flash_note_steps();
    return 0;
}
