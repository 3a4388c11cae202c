"""One power-on of the STM32F746G-DISCO: the unicorn Cortex-M7 core, its memory map, the
peripheral models, and what unicorn leaves to us: exceptions, sleep and time.

**Memory.** Flash at 0x08000000 and its ITCM alias at 0x00200000 (where the core boots with
BOOT0 low), the 320 KB SRAM, the QSPI window at 0x90000000 (read-only), and I/O windows over
the APB/AHB1 peripherals, the RNG, the QUADSPI registers and the system control space, which
the :class:`~.peripheral.Bus` routes to the models. Hooks watch only the two flash arrays
(stores into the internal one, reads of the QSPI window: each also checked against the MPU's
regions) and the WFI instructions, so code runs at unicorn's full speed elsewhere.

**Time** is counted in instructions, one core cycle each, slice by slice: the machine runs
the core for as many instructions as there are until the next event (a byte completing on
the wire or leaving it, a SysTick wrap; at most ``MAX_SLICE``) and then delivers the event. A slice cut
short has an unknown length: by WFI, or by a peripheral that saw the core busy-wait on it,
it lasts until the next event (the core sleeps or spins until then) unless an exception is
already pending; by an exception return or a reset, ``SHORT_SLICE_CYCLES``. Peripherals read during a slice see its start.

**Exceptions.** Unicorn does not take Cortex-M exceptions, so the machine does, between
slices: when an enabled exception is pending, none is active, PRIMASK is clear and no IT
block is open, it pushes the 8-word frame (r0-r3, r12, lr, return address, xPSR, with the
stack aligned to 8 bytes as STKALIGN asks), loads lr with EXC_RETURN 0xFFFFFFF9 and jumps
to the vector VTOR names. When the handler branches to 0xFFFFFFF9, unicorn stops with an
exception at that address, and the machine pops the frame. While an interrupt is pending
behind PRIMASK the core runs one instruction at a time, so it is taken at the instruction
that unmasks it, as on silicon. Handlers do not nest and the frame has no FP part (the
board's handlers use no FP registers).

**Sleep.** WFI stops the core until an exception is pending, even behind PRIMASK. When
nothing will ever become pending without the host (no byte on the wire), :meth:`run`
returns ``"idle"``: it is the host's turn, and time stands still until it writes.
"""

from __future__ import annotations

import collections
import struct

from unicorn import (UC_ARCH_ARM, UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MODE_MCLASS,
                     UC_MODE_THUMB, UC_PROT_ALL, UC_PROT_EXEC, UC_PROT_READ, Uc, UcError)
from unicorn import arm_const as A

from .clocks import Pwr, Rcc
from .flash import FLASH_BASE, FLASH_BYTES, ITCM_ALIAS, FlashController
from .gpio import PORTS, Gpio
from .image import Image
from .peripheral import Bus
from .qspi import CHIP_BYTES, N25Q128A, QuadSpi
from .rng import Rng
from .scs import SystemControl
from .usart import Line, Usart

RAM_BASE, RAM_BYTES = 0x2000_0000, 320 * 1024
QSPI_BASE = 0x9000_0000
#: I/O windows the bus answers: APB1 + APB2 + AHB1, the RNG's page, QUADSPI registers, the PPB.
IO_WINDOWS = ((0x4000_0000, 0x8_0000), (0x5006_0000, 0x1000), (0xA000_1000, 0x1000), (0xE000_0000, 0x10_0000))
USART1_IRQ = 37
EXC_RETURN_THREAD_MSP = 0xFFFF_FFF9
MAX_SLICE = 200_000
SHORT_SLICE_CYCLES = 32
#: Entry and return each cost 12 cycles on a Cortex-M7 (zero wait state memory).
EXCEPTION_CYCLES = 12
#: Single steps while an interrupt waits behind PRIMASK before giving up on taking it at once.
MASKED_STEPS = 256
_FRAME = struct.Struct("<8I")
_STACKED = (A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2, A.UC_ARM_REG_R3, A.UC_ARM_REG_R12, A.UC_ARM_REG_LR)


class EmulationError(RuntimeError):
    """The core stopped on something the firmware should never do (a bad access, an
    undefined instruction), or on something this machine does not model."""


class Machine:
    def __init__(self, image: Image, internal: memoryview, internal_address: int, qspi: memoryview,
                 qspi_address: int, line: Line, seed: int = 0, crystal: bool = True) -> None:
        self.image = image
        self.cycles = 0
        self.sleeping = False
        self.reset_requested = False
        #: Exceptions taken, by exception number.
        self.exceptions: collections.Counter[int] = collections.Counter()
        self._masked_steps = 0
        self._wfi_hit = False
        self._spinning = False

        uc = self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(A.UC_CPU_ARM_CORTEX_M7)
        self.bus = bus = Bus()
        self.rcc = rcc = bus.attach(Rcc(bus, crystal))
        self.pwr = rcc.pwr = bus.attach(Pwr(bus, rcc))
        self.flash = bus.attach(FlashController(
            bus, lambda offset, n: bytes(internal[offset:offset + n]),
            lambda offset, data: uc.mem_write(FLASH_BASE + offset, data),
            image.symbol("__flash_image_end") - FLASH_BASE))
        rcc.flash_latency = self.flash.latency
        self.usart = bus.attach(Usart(bus, rcc, line, lambda: self.cycles, self._spin))
        self.gpio = {port: bus.attach(Gpio(bus, port)) for port in PORTS}
        self.qspi = bus.attach(QuadSpi(bus, N25Q128A(qspi, bus.violation)))
        self.rng = bus.attach(Rng(bus, seed))
        self.scs = bus.attach(SystemControl(bus, lambda: self.cycles, self._request_reset))
        bus.gate(rcc.clock_on)
        bus.before_access = self.flash.settle

        uc.mem_map_ptr(FLASH_BASE, FLASH_BYTES, UC_PROT_ALL, internal_address)
        uc.mem_map_ptr(ITCM_ALIAS, FLASH_BYTES, UC_PROT_READ | UC_PROT_EXEC, internal_address)
        uc.mem_map(RAM_BASE, RAM_BYTES)
        uc.mem_map_ptr(QSPI_BASE, CHIP_BYTES, UC_PROT_READ, qspi_address)
        for base, size in IO_WINDOWS:
            uc.mmio_map(base, size, self._io_read, base, self._io_write, base)
        uc.hook_add(UC_HOOK_MEM_WRITE, self._flash_store, None, FLASH_BASE, FLASH_BASE + FLASH_BYTES - 1)
        uc.hook_add(UC_HOOK_MEM_READ, self._qspi_read, None, QSPI_BASE, QSPI_BASE + CHIP_BYTES - 1)
        for address in image.wfi:
            uc.hook_add(UC_HOOK_CODE, self._wfi, None, address, address)

        # Reset (ARMv7-M B1.5.5): SP and PC from the vector table at the boot address.
        sp, pc = struct.unpack("<2I", uc.mem_read(self.scs.vtor, 8))
        uc.reg_write(A.UC_ARM_REG_SP, sp)
        uc.reg_write(A.UC_ARM_REG_PC, pc)

    # -- hooks -----------------------------------------------------------------------------------

    def _io_read(self, uc: Uc, offset: int, size: int, base: int) -> int:
        return self.bus.read(base + offset, size)

    def _io_write(self, uc: Uc, offset: int, size: int, value: int, base: int) -> None:
        self.bus.write(base + offset, size, value)

    def _flash_store(self, uc: Uc, access: int, address: int, size: int, value: int, data: object) -> None:
        if not self.scs.mpu_allows(address, write=True):
            self.bus.violation(f"MPU: store to flash at 0x{address:08X} while its region is read-only (MemManage)")
        self.flash.store(address, size, value & ((1 << (8 * size)) - 1))

    def _qspi_read(self, uc: Uc, access: int, address: int, size: int, value: int, data: object) -> None:
        if not self.scs.mpu_allows(address, write=False):
            self.bus.violation(f"MPU: read of 0x{address:08X} while the QSPI window is closed (MemManage)")
        self.qspi.window_read(address)

    def _wfi(self, uc: Uc, address: int, size: int, data: object) -> None:
        self._wfi_hit = True

    def _spin(self) -> None:
        """A peripheral saw the core busy-wait on a flag only time will change."""
        self._spinning = True
        self.uc.emu_stop()

    def _request_reset(self) -> None:
        self.reset_requested = True
        self.uc.emu_stop()

    # -- state -----------------------------------------------------------------------------------

    @property
    def violations(self) -> list[str]:
        return self.bus.violations

    def word(self, address: int) -> int:
        return int.from_bytes(self.uc.mem_read(address, 4), "little")

    # -- running ---------------------------------------------------------------------------------

    def run(self, max_cycles: int) -> str:
        """Run until the firmware sleeps with nothing on the way ("idle"), requests a reset
        ("reset"), or ``max_cycles`` have passed ("budget")."""
        limit = self.cycles + max_cycles
        while True:
            self._deliver_events()
            if self.reset_requested:
                return "reset"
            if self.sleeping:
                if self.scs.next_exception() is not None:
                    self.sleeping = False
                elif self.usart.next_rx_at is None and self.usart.tx_done_at is None:
                    return "idle"
                else:
                    self.cycles = max(self.cycles, self._next_event())
                    continue
            if self.cycles >= limit:
                return "budget"
            taken = self._take_exception()
            if taken is None:  # an interrupt waits behind PRIMASK or an IT block: step
                self._execute(1)
            else:
                self._execute(min(self._next_event() - self.cycles, MAX_SLICE, limit - self.cycles))

    def _next_event(self) -> int:
        times = [t for t in (self.usart.next_rx_at, self.usart.tx_done_at, self.scs.next_wrap) if t is not None]
        return max(min(times), self.cycles + 1) if times else self.cycles + MAX_SLICE

    def _deliver_events(self) -> None:
        while True:
            due = [(t, n) for n, t in (("rx", self.usart.next_rx_at), ("tx", self.usart.tx_done_at),
                                        ("tick", self.scs.next_wrap)) if t is not None and t <= self.cycles]
            if not due:
                break
            at, name = min(due)
            if name == "rx":
                self.usart.receive(at)
            elif name == "tx":
                self.usart.transmitted(at)
            else:
                self.scs.systick_wrap()
        # The NVIC latches a level-sensitive line as pending unless its handler is running.
        if self.usart.irq() and self.scs.active != 16 + USART1_IRQ:
            self.scs.pend_irq(USART1_IRQ)

    def _take_exception(self) -> bool | None:
        """Enter the pending exception if the core may take it now: True when taken, False
        when there is none to take, None while one waits behind PRIMASK or an IT block (after
        ``MASKED_STEPS`` such answers, False: it is then taken at the end of a slice)."""
        exc = self.scs.next_exception()
        if exc is None or self.scs.active is not None:
            return False
        xpsr = self.uc.reg_read(A.UC_ARM_REG_XPSR)
        masked = self.uc.reg_read(A.UC_ARM_REG_PRIMASK) & 1 or (xpsr >> 25) & 3 or (xpsr >> 10) & 0x3F
        if masked:
            self._masked_steps += 1
            return None if self._masked_steps <= MASKED_STEPS else False
        self._masked_steps = 0
        self._enter(exc, xpsr)
        return True

    def _enter(self, exc: int, xpsr: int) -> None:
        uc = self.uc
        if uc.reg_read(A.UC_ARM_REG_CONTROL) & 2:
            raise EmulationError("exception entry from the process stack is not modelled")
        sp = uc.reg_read(A.UC_ARM_REG_SP)
        align = sp & 4
        frame = (sp - _FRAME.size) & ~align
        values = [uc.reg_read(r) for r in _STACKED] + [uc.reg_read(A.UC_ARM_REG_PC), xpsr | (1 << 9 if align else 0)]
        uc.mem_write(frame, _FRAME.pack(*values))
        vector = self.word(self.scs.vtor + 4 * exc)
        if not vector & 1:
            raise EmulationError(f"vector {exc} at VTOR 0x{self.scs.vtor:08X} is 0x{vector:08X}: not Thumb code")
        uc.reg_write(A.UC_ARM_REG_SP, frame)
        uc.reg_write(A.UC_ARM_REG_LR, EXC_RETURN_THREAD_MSP)
        uc.reg_write(A.UC_ARM_REG_PC, vector)
        self.scs.pending.discard(exc)
        self.scs.active = exc
        self.exceptions[exc] += 1
        self.cycles += EXCEPTION_CYCLES

    def _return(self, exc_return: int) -> None:
        uc = self.uc
        if exc_return != EXC_RETURN_THREAD_MSP:
            raise EmulationError(f"EXC_RETURN 0x{exc_return:08X} is not modelled (thread mode, main stack only)")
        sp = uc.reg_read(A.UC_ARM_REG_SP)
        values = _FRAME.unpack(uc.mem_read(sp, _FRAME.size))
        for reg, value in zip(_STACKED, values):
            uc.reg_write(reg, value)
        xpsr = values[7]
        uc.reg_write(A.UC_ARM_REG_SP, sp + _FRAME.size + (4 if xpsr & (1 << 9) else 0))
        uc.reg_write(A.UC_ARM_REG_XPSR, xpsr & ~(1 << 9))
        uc.reg_write(A.UC_ARM_REG_PC, values[6])
        self.scs.active = None
        self.cycles += EXCEPTION_CYCLES

    def _execute(self, budget: int) -> None:
        uc = self.uc
        self._wfi_hit = self._spinning = False
        try:
            uc.emu_start(uc.reg_read(A.UC_ARM_REG_PC) | 1, 0, count=budget)
        except UcError as exc:
            pc = uc.reg_read(A.UC_ARM_REG_PC)
            if self.scs.active is not None and pc >= 0xFFFF_FFF0:
                self._return(pc | 1)
                return
            raise EmulationError(self._describe(f"the core stopped: {exc}")) from exc
        finally:
            self.flash.settle()
        if self._wfi_hit or self._spinning:
            # Asleep or spinning, the core waits for the next event (one the slice itself may
            # have started, a byte put on the wire); with an exception pending it goes on at once.
            self.sleeping = self._wfi_hit
            start = self.cycles
            self.cycles += SHORT_SLICE_CYCLES
            if self.scs.next_exception() is None:
                self.cycles = max(self.cycles, min(self._next_event(), start + budget))
        elif self.reset_requested:
            self.cycles += SHORT_SLICE_CYCLES
        else:
            self.cycles += budget

    def _describe(self, what: str) -> str:
        uc = self.uc
        regs = " ".join(f"r{i}=0x{uc.reg_read(getattr(A, f'UC_ARM_REG_R{i}')):08X}" for i in range(13))
        return (f"{what} at pc=0x{uc.reg_read(A.UC_ARM_REG_PC):08X} lr=0x{uc.reg_read(A.UC_ARM_REG_LR):08X} "
                f"sp=0x{uc.reg_read(A.UC_ARM_REG_SP):08X} after {self.cycles} cycles; {regs}")
