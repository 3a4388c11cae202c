#include "tt/crc32.h"
#include "tt_test.h"

int main(void)
{
    static const uint8_t check[] = "123456789";
    CHECK(tt_crc32(check, 9) == 0xCBF43926u, "check value 0x%08x", (unsigned)tt_crc32(check, 9));
    CHECK(tt_crc32(check, 0) == 0u, "empty input");
    /* Incremental updates give the same CRC as one pass. */
    uint32_t crc = TT_CRC32_INIT;
    for (int i = 0; i < 9; i++) {
        crc = tt_crc32_update(crc, check + i, 1);
    }
    CHECK(crc == 0xCBF43926u, "incremental 0x%08x", (unsigned)crc);
    return tt_test_report("crc32");
}
