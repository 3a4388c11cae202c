/* The host twin's UART: a TCP socket on the loopback interface, one client at a time.
 *
 * The laptop's cable is a TCP connection. While none is open the board listens; bytes it
 * transmits meanwhile go nowhere, as they would from a UART with nothing plugged in. When
 * the client hangs up (EOF or a reset connection), the board goes back to listening, so a
 * second `tt-host` command connects to the same running board, as to a real one that
 * stays powered when its laptop unplugs. A second client that connects while one is
 * served waits in the listen backlog, as with QEMU's socket chardev.
 *
 * Receive never blocks (tt_port_uart_read() takes what the socket holds); blocking is
 * tt_port_wait_for_rx()'s, in poll(). TCP's flow control is the back-pressure a full
 * receive ring gives on the QEMU twin: nothing is ever dropped. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_twin.h"
#include "tt/port.h"
#include "tt/uart_rate.h"

/* The real board's USART1 clock (PCLK2, boards/f746-disco/board.c): the twin accepts exactly
 * the rates the Discovery board makes, so a negotiation ends where it would on hardware. */
#define F746_PCLK2_HZ 108000000u
/* How long tt_port_wait_for_rx() sleeps at most: the Cortex-M boards' SysTick wake-up. */
#define WAKE_MS 100

static int listener = -1;
static int client = -1;

static void set_blocking(int fd, bool blocking)
{
    const int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) {
        (void)fcntl(fd, F_SETFL, blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK));
    }
}

void tt_host_uart_init(int listen_fd, int client_fd)
{
    listener = listen_fd;
    client = client_fd;
    /* accept() must not block when the client that woke poll() has gone again. */
    set_blocking(listener, false);
}

int tt_host_uart_client(void) { return client; }

static void hang_up(void)
{
    close(client);
    client = -1;
}

/* Take the next waiting client, if any. */
static void accept_client(void)
{
    const int fd = accept(listener, NULL, NULL);
    if (fd < 0) {
        return;
    }
    /* Whether accept() passes O_NONBLOCK on differs between systems: writes block here. */
    set_blocking(fd, true);
    /* Frames are small and answered one at a time: send each at once (QEMU: nodelay=on). */
    const int on = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    client = fd;
}

size_t tt_port_uart_read(uint8_t *buf, size_t cap)
{
    if (client < 0) {
        accept_client();
        if (client < 0) {
            return 0;
        }
    }
    ssize_t n;
    do {
        n = recv(client, buf, cap, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        return (size_t)n;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        hang_up(); /* EOF or a broken connection: the laptop is gone */
    }
    return 0;
}

void tt_port_uart_write(const uint8_t *buf, size_t len)
{
    while (len > 0 && client >= 0) {
        const ssize_t n = send(client, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            hang_up(); /* the rest goes nowhere, as on a UART with the cable pulled */
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void tt_port_uart_flush(void)
{
    /* send() returned only once the kernel held every byte; it delivers them even across
     * the exec of a reset, which keeps the socket open. */
}

uint32_t tt_port_uart_rate(uint32_t wanted, uint32_t *nearest) { return tt_uart_rate(F746_PCLK2_HZ, wanted, nearest); }

void tt_port_uart_set_baud(uint32_t rate)
{
    /* A socket has no rate: the switch is recorded in the log, where tests and users see it. */
    fprintf(stderr, "tt-firmware: UART at %lu baud\n", (unsigned long)rate);
}

void tt_port_wait_for_rx(void)
{
    /* Whatever wakes poll() (data, a hang-up, a new client, the time-out) is for the next read
     * to handle. */
    struct pollfd fd = {.fd = client >= 0 ? client : listener, .events = POLLIN, .revents = 0};
    while (poll(&fd, 1, WAKE_MS) < 0 && errno == EINTR) {
    }
}
