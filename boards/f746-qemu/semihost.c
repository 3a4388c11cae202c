/* Arm semihosting ("Semihosting for AArch32 and AArch64", Arm IHI 0069): on M-profile a
 * call is BKPT 0xAB with the operation in r0 and its parameter in r1; the result comes
 * back in r0. */
#include "semihost.h"

#include <stdint.h>

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_WRITE0 0x04u
#define SYS_READ 0x06u
#define SYS_GET_CMDLINE 0x15u
#define SYS_EXIT 0x18u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUN_TIME_ERROR 0x20023u

static uint32_t semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void tt_semihost_write0(const char *text) { (void)semihost_call(SYS_WRITE0, text); }

size_t tt_semihost_cmdline(char *buf, size_t cap)
{
    if (cap == 0) {
        return 0;
    }
    uint32_t block[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)cap};
    if (semihost_call(SYS_GET_CMDLINE, block) != 0) {
        buf[0] = '\0';
        return 0;
    }
    return block[1];
}

int tt_semihost_read_file(const char *path, size_t path_len, uint8_t *out, size_t len)
{
    const uint32_t open_block[3] = {(uint32_t)(uintptr_t)path, 1u /* "rb" */, (uint32_t)path_len};
    const uint32_t handle = semihost_call(SYS_OPEN, open_block);
    if (handle == UINT32_MAX) {
        return -1;
    }
    const uint32_t read_block[3] = {handle, (uint32_t)(uintptr_t)out, (uint32_t)len};
    const uint32_t missing = semihost_call(SYS_READ, read_block); /* bytes NOT read */
    (void)semihost_call(SYS_CLOSE, &handle);
    return missing == 0u ? 0 : -1;
}

void tt_semihost_exit(int code)
{
    /* SYS_EXIT_EXTENDED carries the exit code; plain SYS_EXIT (for hosts without the
     * extension) can only tell success from failure. */
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    (void)semihost_call(SYS_EXIT_EXTENDED, block);
    (void)semihost_call(SYS_EXIT, (const void *)(uintptr_t)(code == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                                        : ADP_STOPPED_RUN_TIME_ERROR));
    for (;;) {
        __asm__ volatile("wfi");
    }
}
