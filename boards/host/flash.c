/* The host twin's flashes: one file, mapped into the process, holding the F746's 1 MB of
 * internal flash and after it the 512 KB of QSPI flash that the port exposes (the parameter
 * store), with the sectors and rules of boards/common/f746_flash.c: erase sets a whole
 * sector to 0xFF, programming can only clear bits (the new contents are old AND data), spans
 * are word aligned, and the sectors the F746 reserves for the image are refused.
 *
 * The mapping is shared with the file, so every completed write is in the file at once:
 * a killed process leaves exactly what the firmware had written, as a power cut leaves
 * the real flash, and the next process boots from it. Outside erase and program the
 * mapping is read-only, so a stray store into flash faults here as the MPU makes it fault
 * on the QEMU twin. A write lock on the file keeps a second twin away from it. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "f746_flash.h"
#include "host_twin.h"
#include "tt/port.h"

/* The file: the internal flash, then the QSPI flash's exposed part. */
#define FILE_BYTES (TT_F746_FLASH_BYTES + TT_F746_QSPI_BYTES)

static uint8_t *flash = NULL;

/* Fill a new (empty) file with erased flash. */
static bool format(int fd)
{
    uint8_t block[4096];
    memset(block, 0xFF, sizeof block);
    for (uint32_t at = 0; at < FILE_BYTES; at += (uint32_t)sizeof block) {
        if (pwrite(fd, block, sizeof block, (off_t)at) != (ssize_t)sizeof block) {
            return false;
        }
    }
    return true;
}

static int prepare(int fd, const char *name)
{
    struct flock lock;
    memset(&lock, 0, sizeof lock);
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET; /* l_start = l_len = 0: the whole file */
    if (fcntl(fd, F_SETLK, &lock) != 0) {
        fprintf(stderr, "tt-firmware: flash file %s is in use by another process\n", name);
        close(fd);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "tt-firmware: flash file %s: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_size == 0 && !format(fd)) {
        fprintf(stderr, "tt-firmware: cannot write the flash file %s: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_size != 0 && st.st_size != (off_t)FILE_BYTES) {
        /* Not ours (a QEMU twin's 16 MB PSRAM image, or a twin's of the older 1 MB layout):
         * never reformat someone's file. */
        fprintf(stderr,
                "tt-firmware: flash file %s holds %lld bytes, not the F746's %u (its 1 MB flash and the "
                "512 KB of QSPI flash holding the parameter store)\n",
                name, (long long)st.st_size, FILE_BYTES);
        close(fd);
        return -1;
    }
    return fd;
}

int tt_host_flash_open(const char *path)
{
    const int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        fprintf(stderr, "tt-firmware: cannot open the flash file %s: %s\n", path, strerror(errno));
        return -1;
    }
    return prepare(fd, path);
}

int tt_host_flash_anonymous(void)
{
    /* A file without a name: it lasts through resets (the descriptor is handed on) and
     * disappears with the process, as the QEMU twin's flash does without an image file. */
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tt-flash-XXXXXX", dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    const int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "tt-firmware: cannot create a flash file in %s: %s\n", path, strerror(errno));
        return -1;
    }
    (void)unlink(path);
    return prepare(fd, "(temporary)");
}

bool tt_host_flash_map(int fd)
{
    void *map = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        fprintf(stderr, "tt-firmware: cannot map the flash file: %s\n", strerror(errno));
        return false;
    }
    flash = map;
    return true;
}

/* The image is a host executable, not in flash; the twin still keeps the runtime out of
 * the sectors the F746 gives the image (all before the model area), so the runtime sees
 * the flash it would see on the board. */
uint32_t tt_f746_flash_image_bytes(void)
{
    return (uint32_t)(tt_port_flash_sector(tt_port_flash_layout()->model_first).address - flash);
}

/* Where each flash starts in the file. */
static uint32_t file_offset(tt_f746_flash_t which) { return which == TT_F746_INTERNAL ? 0u : TT_F746_FLASH_BYTES; }

const uint8_t *tt_f746_flash_mapped(tt_f746_flash_t which) { return flash + file_offset(which); }

static uint8_t *writable_at(tt_f746_place_t place) { return flash + file_offset(place.flash) + place.offset; }

/* Open the mapping for writing only while the driver writes. */
static void writable(bool on)
{
    if (mprotect(flash, FILE_BYTES, on ? PROT_READ | PROT_WRITE : PROT_READ) != 0) {
        perror("tt-firmware: flash: mprotect");
        abort();
    }
}

int tt_port_flash_erase(size_t index)
{
    tt_f746_place_t sector;
    if (!tt_f746_flash_erase_at(index, &sector)) {
        return -1;
    }
    writable(true);
    memset(writable_at(sector), 0xFF, sector.size);
    writable(false);
    return 0;
}

int tt_port_flash_program(const uint8_t *at, const uint8_t *data, size_t len)
{
    tt_f746_place_t span;
    if (!tt_f746_flash_program_at(at, len, &span)) {
        return -1;
    }
    uint8_t *const dst = writable_at(span);
    writable(true);
    for (size_t i = 0; i < len; i++) {
        dst[i] &= data[i];
    }
    writable(false);
    return 0;
}
