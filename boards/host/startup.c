/* The host twin's process entry: what a reset handler is on the board. It reads the
 * command line, opens the UART's socket and the flash file, then runs the firmware's
 * main() (firmware/src/main.c), which never returns. See usage() for the options; a reset
 * (board.c) starts the process again with the descriptors it already holds. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_twin.h"

static void usage(FILE *out, const char *argv0)
{
    fprintf(out,
            "usage: %s [--port PORT | --listen-fd FD] [--flash FILE]\n"
            "The tt firmware of the F746 as a host process: its UART is a TCP socket, its flash a file.\n"
            "  --port PORT     serve the UART on 127.0.0.1:PORT (0, the default: a free port) and\n"
            "                  print its URL, socket://127.0.0.1:PORT, as the first line on stdout\n"
            "  --listen-fd FD  serve the UART on FD, a listening TCP socket (how tt-host starts it)\n"
            "  --flash FILE    keep the flash in FILE: the F746's 1 MB and the QSPI flash's 512 KB of\n"
            "                  parameter store, 1.5 MB (created erased when missing or empty);\n"
            "                  default: an erased flash for this process only\n"
            "One client at a time; when it disconnects the next one is accepted. A RESET request\n"
            "restarts the process with its socket, client and flash (--client-fd, --flash-fd).\n",
            argv0);
}

/* A descriptor or port number from the command line; -1 when it is not one. */
static long parse_number(const char *text, long max)
{
    char *end = NULL;
    errno = 0;
    const long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0 || value > max) {
        return -1;
    }
    return value;
}

static int listen_on(long port)
{
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("tt-firmware: socket");
        return -1;
    }
    const int on = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* a board's UART is local to its laptop */
    addr.sin_port = htons((uint16_t)port);
    socklen_t len = sizeof addr;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        fprintf(stderr, "tt-firmware: cannot listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
        close(fd);
        return -1;
    }
    /* The URL first, flushed: a launcher reads this line to know where to connect. */
    printf("socket://127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv)
{
    long port = 0, listen_fd = -1, client_fd = -1, flash_fd = -1;
    const char *flash_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr, argv[0]);
            return 2;
        }
        const char *value = argv[++i];
        long *number = strcmp(opt, "--port") == 0        ? &port
                       : strcmp(opt, "--listen-fd") == 0 ? &listen_fd
                       : strcmp(opt, "--client-fd") == 0 ? &client_fd
                       : strcmp(opt, "--flash-fd") == 0  ? &flash_fd
                                                         : NULL;
        if (strcmp(opt, "--flash") == 0) {
            flash_path = value;
        } else if (number == NULL || (*number = parse_number(value, number == &port ? 65535 : INT_MAX)) < 0) {
            fprintf(stderr, "tt-firmware: bad option %s %s\n", opt, value);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (listen_fd < 0) {
        listen_fd = listen_on(port);
    }
    if (flash_fd < 0) {
        flash_fd = flash_path != NULL ? tt_host_flash_open(flash_path) : tt_host_flash_anonymous();
    }
    if (listen_fd < 0 || flash_fd < 0 || !tt_host_flash_map((int)flash_fd)) {
        return 1;
    }
    const tt_host_boot_t boot = {.argv0 = argv[0], .listen_fd = (int)listen_fd, .flash_fd = (int)flash_fd};
    tt_host_board_init(&boot);
    tt_host_uart_init((int)listen_fd, (int)client_fd);
    return tt_host_firmware_main();
}
