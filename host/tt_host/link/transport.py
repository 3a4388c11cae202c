"""Byte transports between the host and a device.

A :class:`Transport` moves raw bytes; framing, sequence numbers and retries live one
layer up, in :mod:`tt_host.link.session`. Semantics shared by every transport:

- :meth:`Transport.write` hands all of ``data`` to the link before returning.
- :meth:`Transport.read_available` waits at most ``timeout`` seconds for the first byte,
  then returns every byte already received without waiting further; ``b""`` means the
  timeout elapsed with nothing received. This is what a frame reader wants: no byte is
  held back waiting for a count the reader cannot know in advance.
- :meth:`Transport.read` returns exactly ``n`` bytes, or fewer (possibly none) only when
  ``timeout`` seconds elapsed first. It never raises on a timeout: the caller decides
  whether a short read is an error.
- A link that breaks (port unplugged, emulator gone) raises :class:`LinkError` from any
  call.
- :meth:`Transport.set_baud` changes the host end's rate (``baud``); ``paced`` says whether
  the rate limits the bytes at all (a serial port) or is only recorded (an emulator's socket,
  a loopback).

:func:`open_transport` turns a URL into a transport; the CLI opens every link through it.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Self

import serial

from tt_host.errors import LinkError

DEFAULT_BAUD = 115200

#: Largest chunk taken from the OS in one read once the first byte has arrived.
_CHUNK = 4096


class Transport(ABC):
    """A bidirectional byte link; use it as a context manager to close it reliably."""

    def __init__(self, baud: int = DEFAULT_BAUD) -> None:
        # Bytes received but not yet returned: read(n) may receive more than n.
        self._pending = bytearray()
        #: The host end's rate, bits per second.
        self.baud = baud

    #: Whether ``baud`` paces the bytes (a UART); False where it is only recorded.
    paced = False

    def set_baud(self, baud: int) -> None:
        """Run the host end at ``baud`` from the next byte on."""
        self.baud = baud

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send all of ``data``."""

    @abstractmethod
    def _receive(self, timeout: float) -> bytes:
        """Wait at most ``timeout`` s for a byte, then return all bytes available."""

    @abstractmethod
    def _discard_input(self) -> None:
        """Drop whatever the link has received but nobody has read."""

    @abstractmethod
    def close(self) -> None:
        """Release the link; closing twice is harmless."""

    def read_available(self, timeout: float) -> bytes:
        """Wait at most ``timeout`` s for data; return all that has arrived (``b""`` at timeout)."""
        if self._pending:
            data = bytes(self._pending)
            self._pending.clear()
            return data
        return self._receive(max(timeout, 0.0))

    def read(self, n: int, timeout: float) -> bytes:
        """Return exactly ``n`` bytes, or fewer when ``timeout`` s elapse first."""
        deadline = time.monotonic() + timeout
        while len(self._pending) < n:
            left = deadline - time.monotonic()
            self._pending += self._receive(max(left, 0.0))
            if left <= 0:
                break
        data = bytes(self._pending[:n])
        del self._pending[:n]
        return data

    def reset_input(self) -> None:
        """Discard every byte received so far and not yet read."""
        self._pending.clear()
        self._discard_input()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SerialTransport(Transport):
    """A pyserial link: a tty (``/dev/ttyACM0``, ``COM3``) or any pyserial URL
    (``socket://127.0.0.1:PORT`` for an emulator, ``loop://`` for tests)."""

    def __init__(self, url: str, baud: int = DEFAULT_BAUD) -> None:
        super().__init__(baud)
        self.url = url
        # pyserial's URL handlers (socket://, loop://...) accept a rate and ignore it.
        self.paced = "://" not in url
        try:
            self._serial = serial.serial_for_url(url, baudrate=baud, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            message = str(exc) if url in str(exc) else f"cannot open {url}: {exc}"
            raise LinkError(message) from exc

    def set_baud(self, baud: int) -> None:
        try:
            self._serial.baudrate = baud
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"{self.url} cannot run at {baud} baud: {exc}") from exc
        super().set_baud(baud)

    def _set_timeout(self, timeout: float) -> None:
        # Changing the timeout reconfigures a real tty (tcsetattr): only when needed.
        if self._serial.timeout != timeout:
            self._serial.timeout = timeout

    def write(self, data: bytes) -> None:
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"write to {self.url} failed: {exc}") from exc

    def _receive(self, timeout: float) -> bytes:
        try:
            self._set_timeout(timeout)
            first = self._serial.read(1)
            if not first:
                return b""
            # With a zero timeout every pyserial backend returns what it holds, at once.
            self._set_timeout(0)
            return first + self._serial.read(_CHUNK)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"read from {self.url} failed: {exc}") from exc

    def _discard_input(self) -> None:
        try:
            self._serial.reset_input_buffer()
            # A socket has no input buffer to reset: drain what the OS already holds.
            while self._receive(0):
                pass
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"{self.url}: {exc}") from exc

    def close(self) -> None:
        self._serial.close()


class LoopbackTransport(Transport):
    """An in-process link to a device model.

    ``device`` receives each chunk the host writes and returns the bytes the device
    sends back, which become readable (e.g. ``tt_protocol.responder.Responder().feed``).
    :meth:`inject` adds unsolicited device bytes, from any thread.
    """

    def __init__(self, device: Callable[[bytes], bytes]) -> None:
        super().__init__()
        self._device = device
        self._inbound = bytearray()
        self._ready = threading.Condition()
        self._closed = False

    def write(self, data: bytes) -> None:
        if self._closed:
            raise LinkError("loopback transport is closed")
        self.inject(self._device(bytes(data)))

    def inject(self, data: bytes) -> None:
        """Make ``data`` readable as if the device had sent it."""
        with self._ready:
            self._inbound += data
            self._ready.notify_all()

    def _receive(self, timeout: float) -> bytes:
        with self._ready:
            if self._closed:
                raise LinkError("loopback transport is closed")
            self._ready.wait_for(lambda: self._inbound or self._closed, timeout)
            data = bytes(self._inbound)
            self._inbound.clear()
            return data

    def _discard_input(self) -> None:
        with self._ready:
            self._inbound.clear()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()


def open_transport(url: str, baud: int = DEFAULT_BAUD) -> Transport:
    """Open the link named by ``url``: a serial device path or a pyserial URL.

    The CLI opens every link here, so tests can substitute a loopback device.
    """
    return SerialTransport(url, baud)
