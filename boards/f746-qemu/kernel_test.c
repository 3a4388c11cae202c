/* C stdio for the kernel test and benchmark images on the emulated board.
 *
 * Each firmware/tests/kernels/test_*.c is compiled unchanged into its own image
 * (tt-<stem>.elf, see CMakeLists.txt): the golden-vector runner that the host build runs
 * under ASan/UBSan runs here on the Cortex-M7, where the kernels take their DSP paths.
 * This file sends newlib's stdout and stderr through semihosting (QEMU prints both on its
 * stderr); stdio's buffers come from the board's bounded _sbrk over the small .heap the
 * image reserves. tt-bench-kernels (bench_kernels.c) prints its rows the same way.
 * main()'s return value becomes the emulator's exit status
 * (cortex_m7.c), so an image exits 0 only when every vector matches. */

#include "semihost.h"

int _write(int fd, const char *buf, int len);

int _write(int fd, const char *buf, int len)
{
    /* SYS_WRITE0 prints NUL-terminated text, so the bytes go out in terminated chunks. */
    char chunk[65];
    (void)fd;
    for (int done = 0; done < len;) {
        int n = len - done < (int)sizeof chunk - 1 ? len - done : (int)sizeof chunk - 1;
        for (int i = 0; i < n; i++) {
            chunk[i] = buf[done + i];
        }
        chunk[n] = '\0';
        tt_semihost_write0(chunk);
        done += n;
    }
    return len;
}
