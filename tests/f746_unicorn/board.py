"""The board on the bench: its two flash chips (which outlive every power-on), the cable, the
machine of the current power-on, and a :class:`~tt_host.link.transport.Transport` so that
``tt_host``'s own :class:`~tt_host.link.session.DeviceSession` talks to it."""

from __future__ import annotations

import ctypes
import time

from tt_host.errors import LinkError
from tt_host.link.transport import Transport

from .flash import FLASH_BASE, FLASH_BYTES
from .image import Image
from .machine import Machine
from .qspi import CHIP_BYTES
from .usart import Line


class FlashChips:
    """The MCU's 1 MB flash and the 16 MB QSPI NOR flash, erased (0xFF) when new; the machine
    maps these very buffers, so what the firmware writes is here after it stops."""

    def __init__(self) -> None:
        self._internal = (ctypes.c_ubyte * FLASH_BYTES)()
        self._qspi = (ctypes.c_ubyte * CHIP_BYTES)()
        ctypes.memset(self._internal, 0xFF, FLASH_BYTES)
        ctypes.memset(self._qspi, 0xFF, CHIP_BYTES)
        self.internal = memoryview(self._internal).cast("B")
        self.qspi = memoryview(self._qspi).cast("B")

    @classmethod
    def flashed(cls, image: Image) -> FlashChips:
        """New chips with ``image`` programmed into the internal flash (what a debug probe does)."""
        chips = cls()
        for address, data in image.segments:
            chips.internal[address - FLASH_BASE:address - FLASH_BASE + len(data)] = data
        return chips

    def copy(self) -> FlashChips:
        twin = FlashChips()
        twin.internal[:] = self.internal
        twin.qspi[:] = self.qspi
        return twin

    def addresses(self) -> tuple[int, int]:
        return ctypes.addressof(self._internal), ctypes.addressof(self._qspi)


class Board:
    """An STM32F746G-DISCO running ``image`` from ``chips`` (fresh ones flashed with it by default);
    ``crystal=False`` is a board whose 25 MHz HSE crystal does not start."""

    def __init__(self, image: Image, chips: FlashChips | None = None, seed: int = 0, crystal: bool = True) -> None:
        self.image = image
        self.crystal = crystal
        self.chips = chips if chips is not None else FlashChips.flashed(image)
        self.line = Line()
        self.seed = seed
        self.boots = 0
        #: Violations and unmodelled addresses of the power-ons before the current one.
        self._past_violations: list[str] = []
        self._past_unmodelled: set[int] = set()
        self.machine = self._power_on()

    def _power_on(self) -> Machine:
        self.boots += 1
        internal, qspi = self.chips.addresses()
        return Machine(self.image, self.chips.internal, internal, self.chips.qspi, qspi, self.line,
                       seed=self.seed * 1000 + self.boots, crystal=self.crystal)

    @property
    def violations(self) -> list[str]:
        return self._past_violations + self.machine.violations

    @property
    def unmodelled(self) -> set[int]:
        return self._past_unmodelled | self.machine.bus.unmodelled

    def send(self, data: bytes) -> None:
        """The host writes ``data`` to the cable."""
        self.line.host_write(data)
        self.machine.usart.schedule(self.machine.cycles)

    def run(self, max_cycles: int) -> str:
        """Run the firmware (through any reset it asks for) until it is idle or ``max_cycles``
        pass; see :meth:`Machine.run`."""
        while True:
            why = self.machine.run(max_cycles)
            if why != "reset":
                return why
            if self.machine.usart.transmitting():
                self.machine.bus.violation("USART1: reset with a byte still on the wire (wait for TC first): cut")
            self._past_violations += self.machine.violations
            self._past_unmodelled |= self.machine.bus.unmodelled
            self.machine = self._power_on()
            self.machine.usart.schedule(0)


class UnicornTransport(Transport):
    """A link to a :class:`Board`: what the host writes goes on the cable; a read runs the
    firmware until it has answered and sleeps again, for at most the read's timeout in core
    time (the board's clock), so a hung firmware times out as a board would."""

    def __init__(self, board: Board) -> None:
        super().__init__()
        self.board = board
        self._closed = False

    def set_baud(self, baud: int) -> None:
        super().set_baud(baud)
        self.board.line.host_baud = baud

    def write(self, data: bytes) -> None:
        self._check_open()
        self.board.send(bytes(data))

    def _check_open(self) -> None:
        if self._closed:
            raise LinkError("the unicorn board's transport is closed")

    def _receive(self, timeout: float) -> bytes:
        self._check_open()
        data = self.board.line.host_read()
        if data:
            return data
        why = self.board.run(max(1, int(timeout * self.board.machine.rcc.sysclk_hz())))
        data = self.board.line.host_read()
        if not data and why == "idle":
            time.sleep(min(timeout, 0.01))  # the board has nothing to say: let the caller's clock run
        return data

    def _discard_input(self) -> None:
        self.board.line.host_read()

    def close(self) -> None:
        self._closed = True
