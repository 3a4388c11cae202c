"""Transports: the documented read/write semantics, on every kind of link."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tt_host.errors import LinkError
from tt_host.link.transport import LoopbackTransport, SerialTransport, Transport, open_transport


@pytest.fixture
def echo_server() -> Iterator[tuple[int, threading.Event]]:
    """A TCP peer that echoes everything; set the event to make it hang up."""
    listener = socket.create_server(("127.0.0.1", 0))
    hang_up = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.settimeout(0.02)
        with conn:
            while not hang_up.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                if not data:
                    return
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], hang_up
    hang_up.set()
    thread.join(2)
    listener.close()


@pytest.fixture(params=["loop", "socket", "loopback"])
def echo_link(request: pytest.FixtureRequest) -> Iterator[Transport]:
    """An open link whose far end echoes what it receives: each kind of transport."""
    if request.param == "socket":
        port, _ = request.getfixturevalue("echo_server")
        link: Transport = SerialTransport(f"socket://127.0.0.1:{port}")
    elif request.param == "loop":
        link = SerialTransport("loop://")
    else:
        link = LoopbackTransport(lambda b: b)
    with link:
        yield link


def test_read_semantics(echo_link: Transport) -> None:
    link = echo_link
    link.write(b"hello world")
    # Exactly n, the rest stays buffered for the next read.
    assert link.read(5, timeout=1.0) == b"hello"
    assert link.read(6, timeout=1.0) == b" world"
    # Short only at timeout, and it takes about the timeout.
    link.write(b"ab")
    start = time.monotonic()
    assert link.read(4, timeout=0.1) == b"ab"
    assert 0.08 <= time.monotonic() - start < 1.0
    # read_available returns the whole burst at once, not byte by byte.
    link.write(bytes(range(1, 200)))
    got = b""
    while len(got) < 199:
        chunk = link.read_available(timeout=1.0)
        assert chunk
        got += chunk
    assert got == bytes(range(1, 200))
    # Nothing to read: empty after the timeout.
    start = time.monotonic()
    assert link.read_available(timeout=0.05) == b""
    assert time.monotonic() - start >= 0.04


def test_reset_input_discards_unread_bytes(echo_link: Transport) -> None:
    link = echo_link
    link.write(b"old bytes")
    assert link.read(3, timeout=1.0) == b"old"  # the rest is now held by the transport
    time.sleep(0.05)  # let the echo reach the OS buffer too
    link.reset_input()
    link.write(b"new")
    assert link.read(3, timeout=1.0) == b"new"


def test_read_available_serves_buffered_bytes_first() -> None:
    link = LoopbackTransport(lambda b: b)
    link.write(b"abcdef")
    assert link.read(2, timeout=0.1) == b"ab"
    assert link.read_available(timeout=0.1) == b"abcdef"[2:]


def test_loopback_inject_wakes_a_waiting_reader() -> None:
    link = LoopbackTransport(lambda b: b"")
    threading.Timer(0.05, link.inject, args=(b"late",)).start()
    start = time.monotonic()
    assert link.read_available(timeout=2.0) == b"late"
    assert time.monotonic() - start < 1.0


def test_loopback_passes_writes_to_the_device() -> None:
    seen: list[bytes] = []
    link = LoopbackTransport(lambda b: seen.append(b) or b[::-1])
    link.write(b"\x00abc")
    assert seen == [b"\x00abc"]
    assert link.read(4, timeout=0.1) == b"cba\x00"


def test_closed_links_raise_link_error() -> None:
    for link in (SerialTransport("loop://"), LoopbackTransport(lambda b: b)):
        link.close()
        link.close()  # harmless twice
        with pytest.raises(LinkError):
            link.write(b"x")
        with pytest.raises(LinkError):
            link.read_available(timeout=0.01)


def test_peer_hang_up_is_a_link_error(echo_server: tuple[int, threading.Event]) -> None:
    port, hang_up = echo_server
    with SerialTransport(f"socket://127.0.0.1:{port}") as link:
        hang_up.set()
        with pytest.raises(LinkError, match="disconnected"):
            for _ in range(100):
                link.read_available(timeout=0.05)


@pytest.mark.parametrize("url", ["socket://127.0.0.1:1", "nonsense://x", "/dev/tt-no-such-port"])
def test_unopenable_port_is_a_link_error(url: str) -> None:
    with pytest.raises(LinkError, match="x|1|no-such"):
        open_transport(url)


def test_set_baud_reconfigures_serial_links_and_records_on_the_others() -> None:
    with SerialTransport("loop://") as link:
        assert (link.baud, link.paced) == (115_200, False)  # a URL handler: the rate is only recorded
        link.set_baud(921_600)
        assert link.baud == link._serial.baudrate == 921_600
        link.write(b"still\x00")
        assert link.read(6, timeout=1.0) == b"still\x00"
    loopback = LoopbackTransport(lambda data: b"")
    loopback.set_baud(460_800)
    assert (loopback.baud, loopback.paced) == (460_800, False)
