"""The F746's QUADSPI controller (RM0385 section 14) and the Discovery board's N25Q128A NOR
flash behind it (Micron "N25Q128A 3V, 128Mb serial NOR flash" datasheet).

Controller: indirect write / read, automatic status polling (with APMS: stops at the first
match) and memory-mapped mode. A command starts when CCR is written, or AR when it has an
address phase; an indirect write ends when DLR + 1 bytes went through DR; ABORT stops
anything, memory-mapped mode included. CCR, DLR and AR written while BUSY are ignored, as
on silicon (RM0385 14.5: "can be modified only when BUSY = 0").

Chip: the commands the board sends (reset enable + reset, READ ID, WRITE ENABLE, READ
STATUS / FLAG STATUS, CLEAR FLAG STATUS, volatile configuration read / write, 64 KB sector
and 4 KB subsector erase, page program, quad I/O fast read). Erase and program need the
write-enable latch, keep the chip busy (WIP) for a few status reads, and only then change
the array; a page program wraps inside its 256-byte page and can only clear bits.

The array is the memory the machine maps read-only at 0x90000000; every CPU read there is
checked: it must happen in memory-mapped mode, with CCR's dummy cycles equal to the chip's
(volatile configuration), while the chip is not busy.
"""

from __future__ import annotations

from collections import deque

from .peripheral import Bus, Peripheral

CHIP_BYTES = 16 * 1024 * 1024
JEDEC_ID = bytes([0x20, 0xBA, 0x18, 0x10])
PAGE, SUBSECTOR, SECTOR = 256, 4096, 65536
#: Status reads the chip stays busy (WIP) after an erase or a program.
BUSY_POLLS = 3
FIFO_BYTES = 32

CR, DCR, SR, FCR, DLR, CCR, AR, DR, PSMKR, PSMAR, PIR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x20, 0x24, 0x28, 0x2C
EN, ABORT, APMS = 1 << 0, 1 << 1, 1 << 22
TEF, TCF, FTF, SMF, BUSY = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 5
FMODE_WRITE, FMODE_READ, FMODE_POLL, FMODE_MAPPED = 0, 1, 2, 3

WIP, WEL = 0x01, 0x02
FLAG_READY = 0x80
VCR_DEFAULT = 0xFB


class N25Q128A:
    """The NOR chip: commands arrive as (instruction, address, data) from the controller."""

    def __init__(self, array: memoryview, violation) -> None:
        self.array = array
        self._violation = violation
        self.vcr = VCR_DEFAULT
        self.wel = False
        self.busy_polls = 0
        self.flags = 0
        self._reset_enabled = False
        #: Completed array operations, for the tests: ("erase", offset, size) / ("program", offset, bytes).
        self.log: list[tuple] = []

    def dummy_cycles(self) -> int:
        """Quad I/O fast read's dummy cycles from the volatile configuration (0 or 15: the default, 10)."""
        field = self.vcr >> 4
        return 10 if field in (0, 15) else field

    def status(self) -> int:
        """One status read: also how time passes for a program or an erase in progress."""
        if self.busy_polls:
            self.busy_polls -= 1
        return (WIP if self.busy_polls else 0) | (WEL if self.wel else 0)

    def flag_status(self) -> int:
        return (0 if self.busy_polls else FLAG_READY) | self.flags

    def read(self, instruction: int, n: int) -> bytes:
        """Data answered to a read command without address."""
        if instruction == 0x05:
            return bytes(self.status() for _ in range(n))
        if instruction == 0x70:
            return bytes([self.flag_status()] * n)
        if instruction == 0x85:
            return bytes([self.vcr] * n)
        if instruction == 0x9F:
            return (JEDEC_ID + bytes(16))[:n].ljust(n, b"\0")
        self._violation(f"read command 0x{instruction:02X} is not modelled")
        return bytes(n)

    def execute(self, instruction: int, address: int | None, data: bytes) -> None:
        """A write-direction command (instruction, optional address, data) completed."""
        reset_enabled, self._reset_enabled = self._reset_enabled, False
        if self.busy_polls and instruction not in (0x05, 0x70):
            self._violation(f"command 0x{instruction:02X} while the chip is busy (ignored)")
            return
        if instruction == 0x66:
            self._reset_enabled = True
        elif instruction == 0x99:
            if reset_enabled:
                self.vcr, self.wel, self.flags = VCR_DEFAULT, False, 0
        elif instruction == 0x06:
            self.wel = True
        elif instruction == 0x04:
            self.wel = False
        elif instruction == 0x50:
            self.flags = 0
        elif instruction == 0x81:
            if self._needs_wel("WRITE VOLATILE CONFIGURATION") and data:
                self.vcr = data[0]
        elif instruction in (0xD8, 0x20):
            size = SECTOR if instruction == 0xD8 else SUBSECTOR
            if self._needs_wel("erase"):
                start = (address or 0) & ~(size - 1)
                self.array[start:start + size] = b"\xff" * size
                self._busy("erase", start, size)
        elif instruction == 0x02:
            if self._needs_wel("PAGE PROGRAM"):
                self._program(address or 0, data)
        else:
            self._violation(f"command 0x{instruction:02X} is not modelled")

    def _needs_wel(self, what: str) -> bool:
        if not self.wel:
            self._violation(f"{what} without WRITE ENABLE: the chip ignores it")
            return False
        return True

    def _busy(self, *entry) -> None:
        self.wel = False
        self.busy_polls = BUSY_POLLS
        self.log.append(entry)

    def _program(self, address: int, data: bytes) -> None:
        page = address & ~(PAGE - 1)
        if len(data) > PAGE:
            self._violation(f"page program of {len(data)} B: only the last 256 are kept")
        for i, byte in enumerate(data):
            at = page + (address + i) % PAGE
            old = self.array[at]
            if old & byte != byte:
                self._violation(f"programmed 1 bits over 0 bits at QSPI 0x{at:06X} (not erased)")
            self.array[at] = old & byte
        self._busy("program", address, bytes(data))


class QuadSpi(Peripheral):
    name = "QUADSPI"
    clock = (0x38, 1 << 1)  # RCC_AHB3ENR.QSPIEN

    def __init__(self, bus: Bus, chip: N25Q128A, base: int = 0xA000_1000) -> None:
        super().__init__(bus, base)
        self.chip = chip
        self.regs.update({CR: 0, DCR: 0, DLR: 0, CCR: 0, AR: 0, PSMKR: 0, PSMAR: 0, PIR: 0})
        self._flags = 0  # TEF TCF SMF
        self._busy = False
        self._fifo: deque[int] = deque()
        self._write_data: bytearray | None = None
        self._write_target: tuple[int, int | None, int] = (0, None, 0)
        self._instruction_pending: tuple[int, int | None] | None = None
        self._polling = False
        #: Whether the controller is in memory-mapped mode (the window at 0x90000000 reads the chip).
        self.mapped = False

    # -- the CCR fields ----------------------------------------------------------------------

    def _ccr(self, name: str) -> int:
        ccr = self.regs[CCR]
        return {"instruction": ccr & 0xFF, "imode": (ccr >> 8) & 3, "admode": (ccr >> 10) & 3,
                "adsize": (ccr >> 12) & 3, "dcyc": (ccr >> 18) & 0x1F, "dmode": (ccr >> 24) & 3,
                "fmode": (ccr >> 26) & 3}[name]

    # -- the CPU's window ----------------------------------------------------------------------

    def window_read(self, address: int) -> None:
        """The CPU reads the memory-mapped window at ``address``: check it may."""
        if not self.mapped:
            self.violation(f"read of 0x{address:08X} outside memory-mapped mode")
        elif self._ccr("dcyc") != self.chip.dummy_cycles():
            self.violation(f"memory-mapped read with {self._ccr('dcyc')} dummy cycles, the chip expects "
                           f"{self.chip.dummy_cycles()}: the data would be shifted")
        elif self.chip.busy_polls:
            self.violation(f"memory-mapped read of 0x{address:08X} while the chip programs or erases")
        self._busy = True  # prefetching keeps the controller busy until an abort (RM0385 14.5.3)

    # -- registers ---------------------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        if offset == DR:
            return self._read_dr(size)
        return super().read(offset, size)

    def read32(self, offset: int) -> int:
        if offset == SR:
            if self._polling:
                self._poll_once()
            level = min(len(self._fifo), FIFO_BYTES)
            threshold = ((self.regs[CR] >> 8) & 0x1F) + 1
            ftf = FTF if level >= threshold or (self._write_data is not None) else 0
            return self._flags | ftf | (BUSY if self._busy else 0) | (level << 8)
        if offset == CR:
            return self.regs[CR] & ~ABORT
        return super().read32(offset)

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == DR:
            self._write_dr(size, value)
        else:
            super().write(offset, size, value)

    def write32(self, offset: int, value: int) -> None:
        if offset == CR:
            self.regs[CR] = value & ~ABORT
            if value & ABORT:
                self._abort()
        elif offset == FCR:
            self._flags &= ~(value & (TEF | TCF | SMF))
        elif offset in (CCR, DLR, AR) and self._busy:
            self.violation(f"register 0x{offset:02X} written while BUSY (ignored)")
        elif offset == CCR:
            self.regs[CCR] = value
            self._ccr_written()
        elif offset == AR:
            self.regs[AR] = value
            if self._instruction_pending is not None:
                self._start(self._instruction_pending[0], value & 0xFFFFFF)
        else:
            super().write32(offset, value)

    # -- transfers ---------------------------------------------------------------------------

    def _ccr_written(self) -> None:
        if not self.regs[CR] & EN:
            self.violation("CCR written with the QUADSPI disabled")
            return
        if self._ccr("imode") != 1:
            self.violation(f"instruction on {self._ccr('imode')} lines: the chip is in extended SPI mode (1 line)")
        fmode = self._ccr("fmode")
        if fmode == FMODE_MAPPED:
            if self._ccr("instruction") != 0xEB or self._ccr("admode") != 3 or self._ccr("dmode") != 3:
                self.violation("memory-mapped mode with another command than quad I/O fast read")
            self.mapped = True
            return
        if fmode == FMODE_POLL:
            self._busy, self._polling = True, True
            return
        if self._ccr("admode"):
            self._instruction_pending = (self._ccr("instruction"), None)
        else:
            self._start(self._ccr("instruction"), None)

    def _start(self, instruction: int, address: int | None) -> None:
        self._instruction_pending = None
        if address is not None and self._ccr("adsize") != 2:
            self.violation("address phase not 24 bits")
        n = (self.regs[DLR] & 0xFFFF_FFFF) + 1
        if self._ccr("fmode") == FMODE_READ:
            self._busy = True
            data = self.chip.read(instruction, n)
            self._fifo.extend(data)
            self._flags |= TCF  # the whole answer fits the FIFO: the transfer on the wire is done
            return
        if self._ccr("dmode") == 0:
            self.chip.execute(instruction, address, b"")
            self._flags |= TCF
            return
        self._busy = True
        self._write_data = bytearray()
        self._write_target = (instruction, address, n)

    def _write_dr(self, size: int, value: int) -> None:
        if self._write_data is None:
            self.violation("DR written outside an indirect write")
            return
        instruction, address, n = self._write_target
        self._write_data += value.to_bytes(size, "little")
        if len(self._write_data) >= n:
            self.chip.execute(instruction, address, bytes(self._write_data[:n]))
            self._write_data = None
            self._busy = False
            self._flags |= TCF

    def _read_dr(self, size: int) -> int:
        if self._polling or not self._fifo:
            if not self._polling:
                self.violation("DR read with the FIFO empty")
            return 0
        data = bytes(self._fifo.popleft() for _ in range(min(size, len(self._fifo))))
        if not self._fifo:
            self._busy = False
        return int.from_bytes(data, "little")

    def _poll_once(self) -> None:
        """One automatic status read; a match sets SMF and, with APMS, ends the polling."""
        if self.regs[DLR] != 0:
            self.violation("automatic polling of more than one status byte")
        status = self.chip.read(self._ccr("instruction"), 1)[0]
        mask, match = self.regs[PSMKR] & 0xFF, self.regs[PSMAR] & 0xFF
        if status & mask == match & mask:
            self._flags |= SMF
            if self.regs[CR] & APMS:
                self._polling = self._busy = False
            else:
                self.violation("automatic polling without APMS never ends on its own")

    def _abort(self) -> None:
        self._busy = self._polling = self.mapped = False
        self._fifo.clear()
        self._write_data = None
        self._instruction_pending = None
