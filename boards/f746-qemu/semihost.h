/**
 * @file semihost.h
 * @brief Arm semihosting calls, answered by QEMU (-semihosting-config enable=on,target=native).
 *
 * Only the emulated board uses them: on real hardware without a debugger attached the
 * BKPT instruction behind every call would fault.
 */
#ifndef TT_F746_QEMU_SEMIHOST_H
#define TT_F746_QEMU_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/** Print a NUL-terminated string on the emulator's console (QEMU: its stderr). */
void tt_semihost_write0(const char *text);

/**
 * The emulator's command line for the program (QEMU: the -kernel path, then the words
 * of -append), NUL-terminated in @p buf. @return its length, 0 when unavailable.
 */
size_t tt_semihost_cmdline(char *buf, size_t cap);

/**
 * Read the first @p len bytes of the host file @p path (@p path_len characters) into @p out.
 * @return 0 when all of them arrived, -1 otherwise (no such file, a short read).
 */
int tt_semihost_read_file(const char *path, size_t path_len, uint8_t *out, size_t len);

/** End the emulation; the emulator's exit status is @p code (0..255). */
__attribute__((noreturn)) void tt_semihost_exit(int code);

#endif /* TT_F746_QEMU_SEMIHOST_H */
