"""The Cortex-M7's system control space at 0xE000E000 (ARMv7-M ARM, ARM DDI 0403E, B3.2-B3.5):
SysTick, the NVIC, the system control block, the MPU, cache maintenance and the debug
halting status register.

SysTick counts core cycles (CLKSOURCE = processor clock); the machine asks it when it next
wraps and tells it when that time comes, which pends exception 15 with TICKINT. The NVIC keeps
enable, pending and priority per interrupt; the machine picks what to take from here
(:meth:`SystemControl.next_exception`). The MPU's regions are kept so that
the machine can check the accesses it watches anyway (the flash arrays: a store or read the
MPU forbids would be a MemManage fault on silicon); caches are recorded, not modelled. A write of SYSRESETREQ to AIRCR (with its key) asks the
machine for a reset.
"""

from __future__ import annotations

from collections.abc import Callable

from .peripheral import Bus, Peripheral

SYSTICK = 15
#: The F746's boot address with BOOT0 low (option byte BOOT_ADD0 = 0x0080: flash on ITCM).
BOOT_VTOR = 0x0020_0000
#: CCSIDR of the F746's 4 KB, 4-way, 32-byte-line L1 data cache.
CCSIDR_DCACHE = (31 << 13) | (3 << 3) | 1
#: Registers that are plain storage here: (offset, reset value).
_STORED = {0x008: 0, 0xD10: 0, 0xD14: 0x200, 0xD18: 0, 0xD1C: 0, 0xD24: 0, 0xD28: 0, 0xD2C: 0, 0xD34: 0,
           0xD38: 0, 0xD84: 0, 0xD88: 0, 0xDFC: 0, 0x004: 2}
#: Cache maintenance operations (write-only): ICIALLU .. DCCISW.
_CACHE_OPS = range(0xF50, 0xF7C, 4)


class SystemControl(Peripheral):
    name = "SCS"
    size = 0x1000

    def __init__(self, bus: Bus, now: Callable[[], int], request_reset: Callable[[], None],
                 base: int = 0xE000_E000) -> None:
        super().__init__(bus, base)
        self._now, self._request_reset = now, request_reset
        self.regs.update(_STORED)
        self.vtor = BOOT_VTOR
        self.prigroup = 0
        self.enabled: set[int] = set()  # device interrupts
        self.pending: set[int] = set()  # exception numbers
        self.priority: dict[int, int] = {}  # exception number -> priority byte
        #: The exception being handled, if any (this model does not nest them).
        self.active: int | None = None
        self.mpu_ctrl = 0
        self.mpu_rnr = 0
        self.mpu_regions: dict[int, tuple[int, int]] = {}
        self.cache_ops = 0
        # SysTick: control, reload, and the (cycle, value) its counter was last set at.
        self.syst_csr = 0
        self.syst_rvr = 0
        self._anchor = (0, 0)
        self.next_wrap: int | None = None

    # -- SysTick -----------------------------------------------------------------------------

    def _systick_value(self) -> int:
        if not self.syst_csr & 1:
            return self._anchor[1]
        t0, c0 = self._anchor
        n = self._now() - t0
        if n <= c0:
            return c0 - n
        return self.syst_rvr - (n - c0 - 1) % (self.syst_rvr + 1)

    def _systick_restart(self, value: int) -> None:
        now = self._now()
        self._anchor = (now, value)
        if self.syst_csr & 1 and self.syst_rvr:
            self.next_wrap = now + (value if value else self.syst_rvr + 1)
        else:
            self.next_wrap = None

    def systick_wrap(self) -> None:
        """The counter reached 0 at ``next_wrap``."""
        self.syst_csr |= 1 << 16  # COUNTFLAG
        if self.syst_csr & 2:
            self.pending.add(SYSTICK)
        self.next_wrap = None if self.next_wrap is None else self.next_wrap + self.syst_rvr + 1

    # -- MPU ------------------------------------------------------------------------------------

    def mpu_allows(self, address: int, write: bool) -> bool:
        """Whether a privileged access to ``address`` passes the MPU (ARMv7-M B3.5): the
        highest-numbered enabled region that covers it (minus disabled subregions) decides;
        outside every region, the default map does when PRIVDEFENA is set."""
        if not self.mpu_ctrl & 1:
            return True
        for _, (base, rasr) in sorted(self.mpu_regions.items(), reverse=True):
            size = 1 << (((rasr >> 1) & 0x1F) + 1)
            if not rasr & 1 or not base <= address < base + size:
                continue
            if size >= 256 and (rasr >> 8) >> ((address - base) // (size // 8)) & 1:
                continue  # a disabled subregion: the next region down decides
            ap = (rasr >> 24) & 7
            return ap in (1, 2, 3) if write else ap not in (0, 4)
        return bool(self.mpu_ctrl & 4)

    # -- exceptions ------------------------------------------------------------------------------

    def pend_irq(self, irq: int) -> None:
        self.pending.add(16 + irq)

    def next_exception(self) -> int | None:
        """The pending exception that would be taken now (enabled, highest priority), if any."""
        ready = [e for e in self.pending if e == SYSTICK or (e - 16) in self.enabled]
        return min(ready, key=lambda e: (self.priority.get(e, 0), e)) if ready else None

    # -- registers -------------------------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        if 0x400 <= offset < 0x4F0:
            return int.from_bytes(bytes(self.priority.get(16 + offset + i - 0x400, 0) for i in range(size)), "little")
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if 0x400 <= offset < 0x4F0:
            for i in range(size):
                self.priority[16 + offset + i - 0x400] = (value >> (8 * i)) & 0xF0  # 4 priority bits
            return
        super().write(offset, size, value)

    def read32(self, offset: int) -> int:
        if offset == 0x010:
            value = self.syst_csr
            self.syst_csr &= ~(1 << 16)
            return value
        if offset == 0x014:
            return self.syst_rvr
        if offset == 0x018:
            return self._systick_value()
        if offset == 0x01C:
            return 1 << 31  # CALIB: no reference clock
        if 0x100 <= offset < 0x120 or 0x180 <= offset < 0x1A0:
            return self._bits(self.enabled, (offset & 0x1F) // 4, 0)
        if 0x200 <= offset < 0x220 or 0x280 <= offset < 0x2A0:
            return self._bits(self.pending, (offset & 0x1F) // 4, 16)
        if 0x300 <= offset < 0x320:
            return self._bits({self.active} if self.active else set(), (offset & 0x1F) // 4, 16)
        if offset == 0xD00:
            return 0x411F_C270  # CPUID: Cortex-M7 r1p0
        if offset == 0xD04:
            pend = self.next_exception() or 0
            return ((1 << 26) if SYSTICK in self.pending else 0) | (pend << 12) | (self.active or 0)
        if offset == 0xD08:
            return self.vtor
        if offset == 0xD0C:
            return 0xFA05_0000 | (self.prigroup << 8)
        if offset == 0xD20:
            return (self.priority.get(SYSTICK, 0) << 24) | (self.priority.get(14, 0) << 16)
        if offset == 0xD80:
            return CCSIDR_DCACHE
        if offset == 0xD90:
            return 8 << 8  # MPU_TYPE: 8 regions
        if offset == 0xD94:
            return self.mpu_ctrl
        if offset == 0xD98:
            return self.mpu_rnr
        if offset == 0xD9C:
            return self.mpu_regions.get(self.mpu_rnr, (0, 0))[0] | self.mpu_rnr
        if offset == 0xDA0:
            return self.mpu_regions.get(self.mpu_rnr, (0, 0))[1]
        if offset == 0xDF0:
            return 0  # DHCSR: no debugger attached
        if offset in self.regs:
            return self.regs[offset]
        self.bus.unmodelled.add(self.base + offset)
        return 0

    @staticmethod
    def _bits(numbers: set[int], word: int, first: int) -> int:
        return sum(1 << (n - first - 32 * word) for n in numbers if 0 <= n - first - 32 * word < 32)

    def write32(self, offset: int, value: int) -> None:
        if offset == 0x010:
            was_on = self.syst_csr & 1
            self.syst_csr = value & 0x7
            if value & 1 and not was_on:
                self._systick_restart(self._anchor[1])
            elif not value & 1:
                self.next_wrap = None
        elif offset == 0x014:
            self.syst_rvr = value & 0x00FF_FFFF
        elif offset == 0x018:
            self.syst_csr &= ~(1 << 16)
            self._systick_restart(0)
        elif 0x100 <= offset < 0x120:
            self.enabled |= {32 * ((offset & 0x1F) // 4) + b for b in range(32) if value >> b & 1}
        elif 0x180 <= offset < 0x1A0:
            self.enabled -= {32 * ((offset & 0x1F) // 4) + b for b in range(32) if value >> b & 1}
        elif 0x200 <= offset < 0x220:
            self.pending |= {16 + 32 * ((offset & 0x1F) // 4) + b for b in range(32) if value >> b & 1}
        elif 0x280 <= offset < 0x2A0:
            self.pending -= {16 + 32 * ((offset & 0x1F) // 4) + b for b in range(32) if value >> b & 1}
        elif offset == 0xD04:
            if value & (1 << 26):
                self.pending.add(SYSTICK)
            if value & (1 << 25):
                self.pending.discard(SYSTICK)
        elif offset == 0xD08:
            self.vtor = value & 0xFFFF_FF80
        elif offset == 0xD0C:
            self._aircr(value)
        elif offset == 0xD20:
            self.priority[SYSTICK] = (value >> 24) & 0xF0
            self.priority[14] = (value >> 16) & 0xF0
        elif offset == 0xD94:
            self.mpu_ctrl = value & 7
        elif offset == 0xD98:
            self.mpu_rnr = value & 0xFF
        elif offset == 0xD9C:
            if value & (1 << 4):
                self.mpu_rnr = value & 0xF
            self.mpu_regions[self.mpu_rnr] = (value & ~0x1F, self.mpu_regions.get(self.mpu_rnr, (0, 0))[1])
        elif offset == 0xDA0:
            self.mpu_regions[self.mpu_rnr] = (self.mpu_regions.get(self.mpu_rnr, (0, 0))[0], value)
        elif offset in _CACHE_OPS:
            self.cache_ops += 1
        elif offset in self.regs:
            self.regs[offset] = value
        else:
            self.bus.unmodelled.add(self.base + offset)

    def _aircr(self, value: int) -> None:
        if value >> 16 != 0x05FA:
            self.violation(f"AIRCR written without its key (0x{value:08X}): ignored")
            return
        self.prigroup = (value >> 8) & 7
        if value & (1 << 2):
            self._request_reset()
