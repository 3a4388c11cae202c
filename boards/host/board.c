/* The host twin's identity, clock and reset. It reports the F746's budgets, as the QEMU
 * twin does, so that the host plans the same training step for it; the speed it runs at is
 * the host's, and nothing here pretends otherwise: ticks are microseconds of the monotonic
 * clock, and there is no core clock or stack to report (0, the port API's "unknown"). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "f746_flash.h"
#include "host_twin.h"
#include "tt/port.h"

static const tt_board_info_t info = {
    .name = "host",
    .sram_bytes = TT_HOST_SRAM_BYTES, /* from board.toml (CMakeLists.txt) */
    .flash_bytes = TT_F746_FLASH_BYTES,
    .core_clock_hz = 0u, /* the host's CPU is not the F746's: no clock to report */
};

static tt_host_boot_t boot;

void tt_host_board_init(const tt_host_boot_t *b) { boot = *b; }

void tt_port_init(void)
{
    /* A client that hangs up in the middle of an answer must not kill the board: the
     * UART sees EPIPE instead (uart.c), as a real UART would not notice at all. */
    struct sigaction ignore;
    ignore.sa_handler = SIG_IGN;
    ignore.sa_flags = 0;
    sigemptyset(&ignore.sa_mask);
    (void)sigaction(SIGPIPE, &ignore, NULL);
}

const tt_board_info_t *tt_port_board_info(void) { return &info; }

uint32_t tt_port_ticks(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint32_t)((uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u);
}

uint32_t tt_port_tick_hz(void) { return 1000000u; }

void tt_port_stack_usage(uint32_t *reserved, uint32_t *peak)
{
    /* The process's stack is the host's, with frames of another ISA: its depth says
     * nothing about the F746's (the QEMU twin measures that). */
    *reserved = 0u;
    *peak = 0u;
}

int tt_port_random(uint8_t *out, size_t len)
{
    while (len > 0) {
        const ssize_t got = getrandom(out, len, 0);
        if (got <= 0) {
            return -1;
        }
        out += got;
        len -= (size_t)got;
    }
    return 0;
}

__attribute__((noreturn)) void tt_port_reset(void)
{
    /* Start the process over, as the core would restart the image: every static of the
     * runtime is zeroed or initialised again. The descriptors survive exec (none is
     * close-on-exec), so the connected laptop, the listening socket and the flash file
     * are the same afterwards; the pid too, so a launcher keeps its handle. */
    char listen_fd[16], client_fd[16], flash_fd[16];
    snprintf(listen_fd, sizeof listen_fd, "%d", boot.listen_fd);
    snprintf(client_fd, sizeof client_fd, "%d", tt_host_uart_client());
    snprintf(flash_fd, sizeof flash_fd, "%d", boot.flash_fd);
    char *argv[8] = {(char *)boot.argv0, "--listen-fd", listen_fd, "--flash-fd", flash_fd, NULL, NULL, NULL};
    if (tt_host_uart_client() >= 0) {
        argv[5] = "--client-fd";
        argv[6] = client_fd;
    }
    fflush(NULL);
    execv("/proc/self/exe", argv);
    execvp(boot.argv0, argv); /* no /proc (not Linux): the name the process was started by */
    perror("tt-firmware: reset: exec");
    _exit(1);
}
