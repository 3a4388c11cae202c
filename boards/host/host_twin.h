/* The host twin's parts (startup.c, board.c, uart.c, flash.c) as they see each other.
 *
 * The process is the board: startup.c is its reset handler (command line, then the
 * firmware's main()), uart.c its UART (a TCP socket), flash.c its flashes (a file with the
 * F746's sectors and the QSPI flash's), board.c the rest of the port API. A reset re-executes the process with
 * the descriptors it holds (listening socket, connected client, flash file), so the
 * runtime starts from zeroed static memory as after a real reset, while the laptop stays
 * connected and the flash keeps its contents. */
#ifndef TT_HOST_TWIN_H
#define TT_HOST_TWIN_H

#include <stdbool.h>

/** The firmware's main() (firmware/src/main.c, renamed by firmware_main.h). */
int tt_host_firmware_main(void);

/** What a reset needs to start the process again. */
typedef struct {
    const char *argv0; /**< How the process was started (the fallback when /proc/self/exe is missing). */
    int listen_fd;     /**< The UART's listening socket. */
    int flash_fd;      /**< The flash file, open read-write. */
} tt_host_boot_t;

/** Remember how to boot again; startup.c calls it once the descriptors are open. */
void tt_host_board_init(const tt_host_boot_t *boot);

/**
 * Serve the UART on @p listen_fd, a listening TCP socket; @p client_fd is a client the
 * previous boot had accepted (-1: none yet). Clients are accepted one at a time.
 */
void tt_host_uart_init(int listen_fd, int client_fd);

/** The connected client's socket, -1 when none (a reset hands it to the next boot). */
int tt_host_uart_client(void);

/**
 * Open the flash file @p path (created, erased, when missing or empty) and lock it against
 * a second twin. @return its descriptor, or -1 after printing why on stderr.
 */
int tt_host_flash_open(const char *path);

/** An erased flash that lives as long as the process and its resets (no file named). */
int tt_host_flash_anonymous(void);

/** Map the flash file @p fd; @return false after printing why on stderr. */
bool tt_host_flash_map(int fd);

#endif /* TT_HOST_TWIN_H */
