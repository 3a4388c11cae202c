"""The STM32F746's embedded flash and its controller (RM0385 section 3, "Embedded Flash memory").

The 1 MB array is the machine's memory at 0x08000000 (and its ITCM alias at 0x00200000,
where the core boots); the model owns what may change it:

- FLASH_CR is locked after reset; KEY1 then KEY2 in FLASH_KEYR unlock it, any other
  sequence locks it until the next reset (a bus error on silicon).
- A sector erase is SER + SNB + STRT with the right PSIZE: the sector reads 0xFF after it.
- Programming is a store into the array while PG is set, of the size PSIZE names, aligned
  to it; it can only clear bits (a 1 over a 0 means the firmware skipped an erase).
- BSY stays up for a few status reads after each operation, the error flags are write-1-
  to-clear, and a store without PG or with the wrong size sets ERSERR / PGPERR / PGAERR.

The CPU's store reaches the array before the model can veto it, so the model remembers the
value the array must hold and puts it back at the next peripheral access or at the end of
the run slice (the firmware reads FLASH_SR right after every word it programs).
"""

from __future__ import annotations

from collections.abc import Callable

from .peripheral import Bus, Peripheral

FLASH_BASE = 0x0800_0000
ITCM_ALIAS = 0x0020_0000
FLASH_BYTES = 1024 * 1024
#: RM0385 3.3.1: 4 x 32 KB, 1 x 128 KB, 3 x 256 KB.
SECTORS = [(0x00000, 0x8000), (0x08000, 0x8000), (0x10000, 0x8000), (0x18000, 0x8000),
           (0x20000, 0x20000), (0x40000, 0x40000), (0x80000, 0x40000), (0xC0000, 0x40000)]

KEY1, KEY2 = 0x4567_0123, 0xCDEF_89AB
ACR, KEYR, SR, CR = 0x00, 0x04, 0x0C, 0x10
EOP, OPERR, WRPERR, PGAERR, PGPERR, ERSERR, BSY = 1 << 0, 1 << 1, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 16
PG, SER, MER, STRT, LOCK = 1 << 0, 1 << 1, 1 << 2, 1 << 16, 1 << 31
#: Status reads BSY stays set after an operation starts.
BUSY_POLLS = 2


class FlashController(Peripheral):
    name = "FLASH"

    def __init__(self, bus: Bus, read: Callable[[int, int], bytes], write: Callable[[int, bytes], None],
                 image_bytes: int, base: int = 0x40023C00) -> None:
        super().__init__(bus, base)
        self._read, self._write = read, write
        self._image_bytes = image_bytes
        self.regs.update({ACR: 0, SR: 0, CR: LOCK})
        self._key_step = 0
        self._key_broken = False
        self._busy_polls = 0
        self._pending: list[tuple[int, bytes]] = []
        #: Every completed operation, for the tests: ("erase", sector) or ("program", offset, bytes).
        self.log: list[tuple] = []

    def latency(self) -> int:
        return self.regs[ACR] & 0xF

    # -- the array ------------------------------------------------------------------------

    def store(self, address: int, size: int, value: int) -> None:
        """The CPU stores ``size`` bytes at ``address`` of the array (called before the store lands)."""
        offset = address - FLASH_BASE
        old = self._read(offset, size)
        keep = old  # what the array must hold afterwards
        cr = self.regs[CR]
        psize = 1 << ((cr >> 8) & 3)
        if cr & LOCK or not cr & PG or cr & (SER | MER):
            self._error(ERSERR, f"store of {size} B at 0x{address:08X} without a programming sequence")
        elif self._busy_polls:
            self._error(ERSERR, f"store at 0x{address:08X} while BSY")
        elif size != psize:
            self._error(PGPERR, f"store of {size} B with PSIZE = {psize} B")
        elif offset % size:
            self._error(PGAERR, f"unaligned store at 0x{address:08X}")
        else:
            new = value.to_bytes(size, "little")
            keep = bytes(a & b for a, b in zip(old, new))
            if keep != new:
                self.violation(f"programmed 1 bits over 0 bits at 0x{address:08X} (not erased)")
            if offset < self._image_bytes:
                self.violation(f"programmed the running image at 0x{address:08X}")
            self._busy_polls = BUSY_POLLS
            self.log.append(("program", offset, new))
        self._pending.append((offset, keep))

    def settle(self) -> None:
        """Put back what the array must hold after the CPU's latest stores."""
        for offset, data in self._pending:
            self._write(offset, data)
        self._pending.clear()

    def _error(self, flag: int, message: str) -> None:
        self.regs[SR] |= flag
        self.violation(message)

    # -- registers --------------------------------------------------------------------------

    def read32(self, offset: int) -> int:
        if offset == SR:
            if self._busy_polls:
                self._busy_polls -= 1
                return self.regs[SR] | BSY
            return self.regs[SR]
        return super().read32(offset)

    def write32(self, offset: int, value: int) -> None:
        if offset == KEYR:
            self._key(value)
        elif offset == SR:
            self.regs[SR] &= ~(value & 0xFF)
        elif offset == CR:
            self._control(value)
        elif offset == ACR:
            self.regs[ACR] = value & 0x0000_0B0F
        else:
            super().write32(offset, value)

    def _key(self, value: int) -> None:
        if self._key_broken or not self.regs[CR] & LOCK:
            self._key_broken = True
            self.violation("FLASH_KEYR written while unlocked or after a wrong key: locked until reset")
            return
        if self._key_step == 0 and value == KEY1:
            self._key_step = 1
        elif self._key_step == 1 and value == KEY2:
            self._key_step = 0
            self.regs[CR] &= ~LOCK
        else:
            self._key_broken = True
            self.violation(f"wrong FLASH_KEYR sequence (0x{value:08X}): locked until reset")

    def _control(self, value: int) -> None:
        cr = self.regs[CR]
        if cr & LOCK:
            self.violation(f"FLASH_CR written while locked (0x{value:08X})")
            return
        if self._busy_polls:
            self.violation("FLASH_CR written while BSY")
            return
        self.regs[CR] = value & ~STRT
        if value & STRT:
            self._start(value)

    def _start(self, cr: int) -> None:
        sector = (cr >> 3) & 0xF
        psize = (cr >> 8) & 3
        if cr & MER or not cr & SER or cr & PG or sector >= len(SECTORS):
            self._error(ERSERR, f"STRT without a valid sector erase (CR=0x{cr:08X})")
            return
        if psize != 2:
            # The firmware's supply (3.3 V) allows x32; anything else is a slower, unexpected choice.
            self.violation(f"sector erase with PSIZE={psize} (the board uses x32)")
        offset, size = SECTORS[sector]
        if offset < self._image_bytes:
            self.violation(f"erased sector {sector}, which holds the running image")
        self._write(offset, b"\xff" * size)
        self._busy_polls = BUSY_POLLS
        self.log.append(("erase", sector))
