"""USART1 of the F746 (RM0385 section 31, "USART registers") and the cable to the host.

The :class:`Line` is the ST-LINK virtual COM port: bytes the host wrote and not yet on the
device's pin, bytes the device sent and the host has not read, and the host end's rate.
Received bytes arrive one 10-bit character time apart (8N1 at the host's rate, in core
cycles), each into RDR with RXNE; a byte that finds RXNE still set is lost with ORE, as
on silicon. The receive interrupt line is RXNEIE and (RXNE or ORE). When the rate the
device's BRR makes (USART1 kernel clock / BRR, oversampling by 16) and the host's differ
by more than 2.5 %, each byte arrives garbled with FE, both ways, and is counted: a test
then knows the firmware set its divider wrongly. Transmission takes no time: TXE and TC
are always set once the transmitter is enabled.
"""

from __future__ import annotations

from collections import deque

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

    def __init__(self, bus: Bus, rcc: Rcc, line: Line, base: int = 0x4001_1000) -> None:
        super().__init__(bus, base)
        self._rcc, self.line = rcc, line
        self.regs.update({CR1: 0, BRR: 0})
        self._isr = TXE | TC
        self._rdr = 0
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

    def byte_cycles(self) -> int:
        return max(1, BITS_PER_BYTE * self._rcc.sysclk_hz() // self.line.host_baud)

    # -- the wire --------------------------------------------------------------------------

    def schedule(self, now: int) -> None:
        """The host may have written: start the next byte's clock if none is running."""
        if self.next_rx_at is None and self.line.to_device:
            self.next_rx_at = now + self.byte_cycles()

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
        cr1 = self.regs[CR1]
        return bool(cr1 & RXNEIE and self._isr & (RXNE | ORE)) or bool(cr1 & TXEIE and self._isr & TXE) or bool(
            cr1 & TCIE and self._isr & TC)

    # -- registers ---------------------------------------------------------------------------

    def read32(self, offset: int) -> int:
        if offset == ISR:
            return self._isr
        if offset == RDR:
            self._isr &= ~RXNE
            return self._rdr
        return super().read32(offset)

    def write32(self, offset: int, value: int) -> None:
        if offset == BRR and self.regs[CR1] & UE:
            self.violation("BRR written while UE = 1 (RM0385: only while the USART is disabled)")
        elif offset == ICR:
            self._isr &= ~(value & (PE | FE | NF | ORE))
        elif offset == RQR:
            if value & (1 << 3):  # RXFRQ: flush RDR
                self._isr &= ~RXNE
        elif offset == TDR:
            self._transmit(value & 0xFF)
        else:
            super().write32(offset, value)

    def _transmit(self, byte: int) -> None:
        if self.regs[CR1] & (UE | TE) != UE | TE:
            self.violation("TDR written with the transmitter disabled")
            return
        if not self.rates_match():
            self.line.garbled += 1
            byte ^= 0xFF
        self.line.to_host.append(byte)
