"""The peripheral bus of the emulated STM32F746: register blocks and the address decoder.

Every model here is a :class:`Peripheral`: a block of registers at a base address that
answers reads and writes of 1, 2 or 4 bytes. The :class:`Bus` routes each access the CPU
makes into the mapped I/O windows to the block that owns the address, checks that the
block's clock is on in the RCC (RM0385 5.3: a peripheral whose clock is off ignores
writes and reads as zero), and keeps the log of what a real chip would not accept
(``violations``) and of addresses no model answers (``unmodelled``). A test asserts both
empty: an access the models do not know is an access nobody checked.
"""

from __future__ import annotations

from collections.abc import Callable


class Peripheral:
    """A register block. Subclasses override :meth:`read` / :meth:`write` (``offset`` from
    ``base``); the default keeps 32-bit registers in ``regs`` and merges narrower writes."""

    #: Human name used in violation messages.
    name = "peripheral"
    #: Bytes the block decodes (a multiple of 1 KB, the bus's routing granule).
    size = 0x400
    #: ``(RCC enable register offset, bit)`` that gates the block's clock; None: always on.
    clock: tuple[int, int] | None = None

    def __init__(self, bus: Bus, base: int) -> None:
        self.bus = bus
        self.base = base
        self.regs: dict[int, int] = {}

    def violation(self, message: str) -> None:
        """Record something the real peripheral would not do as the firmware expects."""
        self.bus.violation(f"{self.name}: {message}")

    def read(self, offset: int, size: int) -> int:
        word = self.read32(offset & ~3)
        return (word >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        if size != 4:
            shift = 8 * (offset & 3)
            mask = ((1 << (8 * size)) - 1) << shift
            value = (self.read32(offset & ~3) & ~mask) | ((value << shift) & mask)
        self.write32(offset & ~3, value)

    def read32(self, offset: int) -> int:
        return self.regs.get(offset, 0)

    def write32(self, offset: int, value: int) -> None:
        self.regs[offset] = value & 0xFFFFFFFF


class Bus:
    """Routes accesses to the blocks; 1 KB granules, as the F746's peripheral map is laid out."""

    GRANULE = 0x400

    def __init__(self, clock_enabled: Callable[[int, int], bool] | None = None) -> None:
        self._blocks: dict[int, Peripheral] = {}
        self._clock_enabled = clock_enabled
        #: What a real F746 would have refused, ignored or flagged; in the order it happened.
        self.violations: list[str] = []
        #: Addresses the firmware touched that no model decodes (read as zero, writes dropped).
        self.unmodelled: set[int] = set()
        #: Called before every access: lets the machine settle work the CPU left pending.
        self.before_access: Callable[[], None] = lambda: None
        #: The address of the access before the current one (a model can tell a polling loop).
        self.previous: int | None = None
        self._latest: int | None = None

    def attach(self, block: Peripheral) -> Peripheral:
        for at in range(block.base, block.base + block.size, self.GRANULE):
            self._blocks[at] = block
        return block

    def gate(self, clock_enabled: Callable[[int, int], bool]) -> None:
        """Check each gated block's clock with ``clock_enabled(register offset, bit)`` (the RCC)."""
        self._clock_enabled = clock_enabled

    def violation(self, message: str) -> None:
        self.violations.append(message)

    def _route(self, address: int, write: bool) -> Peripheral | None:
        self.previous, self._latest = self._latest, address
        block = self._blocks.get(address & ~(self.GRANULE - 1))
        if block is None:
            self.unmodelled.add(address)
            return None
        if block.clock is not None and self._clock_enabled is not None and not self._clock_enabled(*block.clock):
            self.violation(f"{block.name}: {'write to' if write else 'read of'} 0x{address:08X} with its clock off")
            return None
        return block

    def read(self, address: int, size: int) -> int:
        self.before_access()
        block = self._route(address, False)
        return 0 if block is None else block.read(address - block.base, size)

    def write(self, address: int, size: int, value: int) -> None:
        self.before_access()
        block = self._route(address, True)
        if block is not None:
            block.write(address - block.base, size, value)
