"""USART1 of the F746 (RM0385 section 31, "USART registers") and the cable to the host.

The :class:`Line` is the ST-LINK virtual COM port: bytes the host wrote and not yet on the
device's pin, bytes the device sent and the host has not read, and the host end's rate.
Received bytes arrive one 10-bit character time apart (8N1 at the host's rate, in core
cycles), each into RDR with RXNE; a byte that finds RXNE still set is lost with ORE, as
on silicon. The receive interrupt line is RXNEIE and (RXNE or ORE). When the rate the
device's BRR makes (USART1 kernel clock / BRR, oversampling by 16) and the host's differ
by more than 2.5 %, each byte arrives garbled with FE, both ways, and is counted: a test
then knows the firmware set its divider wrongly.

Transmission takes time too: a byte written to TDR moves to the shift register (TXE rises
again) and reaches the host one character time later at the device's own rate, when TC
rises if nothing follows. Disabling the USART (or the transmitter) or resetting the chip
while a byte is on its way loses it, which is recorded: the firmware must wait for TC first
(tt_port_uart_flush). A driver that polls ISR twice in a row with TXE or TC still low is
busy-waiting: the USART tells the machine, which lets time run to the byte's end at once
instead of emulating the spin.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from .clocks import Rcc
from .peripheral import Bus, Peripheral

CR1, CR2, CR3, BRR, RQR, ISR, ICR, RDR, TDR = 0x00, 0x04, 0x08, 0x0C, 0x18, 0x1C, 0x20, 0x24, 0x28
UE, RE, TE, RXNEIE, TCIE, TXEIE = 1 << 0, 1 << 2, 1 << 3, 1 << 5, 1 << 6, 1 << 7
PE, FE, NF, ORE, RXNE, TC, TXE = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 5, 1 << 6, 1 << 7
#: A UART receiver tolerates a few per cent between the two ends' rates; beyond this, garbage.
RATE_TOLERANCE = 0.025
BITS_PER_BYTE = 10  # start, 8 data, stop


class Line:
    """The cable between the host and USART1."""

    def __init__(self, baud: int = 115_200) -> None:
        #: The host end's rate (bits per second).
        self.host_baud = baud
        self.to_device: deque[int] = deque()
        self.to_host = bytearray()
        #: Bytes garbled by a rate mismatch, both ways.
        self.garbled = 0

    def host_write(self, data: bytes) -> None:
        self.to_device.extend(data)

    def host_read(self) -> bytes:
        data = bytes(self.to_host)
        self.to_host.clear()
        return data


class Usart(Peripheral):
    name = "USART1"
    clock = (0x44, 1 << 4)  # RCC_APB2ENR.USART1EN

    def __init__(self, bus: Bus, rcc: Rcc, line: Line, now: Callable[[], int], spinning: Callable[[], None],
                 base: int = 0x4001_1000) -> None:
        super().__init__(bus, base)
        self._rcc, self.line = rcc, line
        self._now, self._spinning = now, spinning
        self.regs.update({CR1: 0, BRR: 0})
        self._isr = TC  # TXE is computed: TDR empty
        self._rdr = 0
        self._tdr: int | None = None  # the byte waiting in TDR
        self._shift: int | None = None  # the byte on the wire
        #: Core cycle at which the byte on the wire reaches the host; None: the transmitter is idle.
        self.tx_done_at: int | None = None
        #: Core cycle at which the next byte on the wire is complete; None: nothing in flight.
        self.next_rx_at: int | None = None
        #: Bytes lost because RXNE was still set (the driver's interrupt came too late).
        self.overruns = 0

    # -- rates -----------------------------------------------------------------------------

    def device_baud(self) -> float | None:
        brr = self.regs[BRR] & 0xFFFF
        return None if brr < 16 else self._rcc.usart1_hz() / brr

    def rates_match(self) -> bool:
        baud = self.device_baud()
        return baud is not None and abs(baud - self.line.host_baud) <= RATE_TOLERANCE * self.line.host_baud

    def byte_cycles(self, baud: float) -> int:
        return max(1, int(BITS_PER_BYTE * self._rcc.sysclk_hz() // baud))

    def transmitting(self) -> bool:
        return self._shift is not None

    # -- the wire --------------------------------------------------------------------------

    def schedule(self, now: int) -> None:
        """The host may have written: start the next byte's clock if none is running."""
        if self.next_rx_at is None and self.line.to_device:
            self.next_rx_at = now + self.byte_cycles(self.line.host_baud)

    def receive(self, now: int) -> None:
        """The byte on the wire is complete at ``now``."""
        self.next_rx_at = None
        byte = self.line.to_device.popleft()
        cr1 = self.regs[CR1]
        if cr1 & (UE | RE) == UE | RE:
            if not self.rates_match():
                self.line.garbled += 1
                byte ^= 0xFF
                self._isr |= FE
            if self._isr & RXNE:
                self._isr |= ORE
                self.overruns += 1
            else:
                self._rdr, self._isr = byte, self._isr | RXNE
        self.schedule(now)

    def irq(self) -> bool:
        """The USART1 interrupt line."""
        cr1, isr = self.regs[CR1], self._status()
        return bool(cr1 & RXNEIE and isr & (RXNE | ORE)) or bool(cr1 & TXEIE and isr & TXE) or bool(
            cr1 & TCIE and isr & TC)

    def transmitted(self, at: int) -> None:
        """The byte on the wire is complete at ``at`` (its ``tx_done_at``): the host has it."""
        byte, self._shift, self.tx_done_at = self._shift, None, None
        if not self.rates_match():
            self.line.garbled += 1
            byte ^= 0xFF
        self.line.to_host.append(byte)
        if self._tdr is not None:
            self._start(self._tdr, self.tx_done_at_from(at))
            self._tdr = None
        else:
            self._isr |= TC

    def tx_done_at_from(self, now: int) -> int:
        baud = self.device_baud()
        return now + self.byte_cycles(baud if baud else self.line.host_baud)

    def _start(self, byte: int, done_at: int) -> None:
        self._shift, self.tx_done_at = byte, done_at

    def _status(self) -> int:
        return self._isr | (TXE if self._tdr is None else 0)

    # -- registers ---------------------------------------------------------------------------

    def read32(self, offset: int) -> int:
        if offset == ISR:
            isr = self._status()
            if self.transmitting() and isr & (TXE | TC) != TXE | TC and self.bus.previous == self.base + ISR:
                self._spinning()
            return isr
        if offset == RDR:
            self._isr &= ~RXNE
            return self._rdr
        return super().read32(offset)

    def write32(self, offset: int, value: int) -> None:
        if offset == BRR and self.regs[CR1] & UE:
            self.violation("BRR written while UE = 1 (RM0385: only while the USART is disabled)")
        elif offset == ICR:
            self._isr &= ~(value & (PE | FE | NF | ORE | TC))  # TCCF is TC's bit
        elif offset == RQR:
            if value & (1 << 3):  # RXFRQ: flush RDR
                self._isr &= ~RXNE
        elif offset == TDR:
            self._transmit(value & 0xFF)
        elif offset == CR1:
            if value & (UE | TE) != UE | TE and (self._shift is not None or self._tdr is not None):
                self.violation("transmitter disabled with a byte still on its way (wait for TC first): lost")
                self._shift = self._tdr = self.tx_done_at = None
                self._isr |= TC
            super().write32(offset, value)
        else:
            super().write32(offset, value)

    def _transmit(self, byte: int) -> None:
        if self.regs[CR1] & (UE | TE) != UE | TE:
            self.violation("TDR written with the transmitter disabled")
            return
        self._isr &= ~TC
        if self._shift is None:
            self._start(byte, self.tx_done_at_from(self._now()))
        elif self._tdr is None:
            self._tdr = byte
        else:
            self.violation("TDR written with TXE low: the byte before is overwritten")
            self._tdr = byte
