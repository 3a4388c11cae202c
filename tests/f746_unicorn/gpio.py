"""GPIO ports A-E of the F746 (RM0385 section 6.4): plain registers with their reset values,
and what the tests ask of them: the mode and alternate function each pin was given."""

from __future__ import annotations

from .peripheral import Bus, Peripheral

MODER, OTYPER, OSPEEDR, PUPDR, IDR, ODR, BSRR, LCKR, AFRL, AFRH = range(0, 0x28, 4)
#: Ports the board uses: name, base, RCC_AHB1ENR bit.
PORTS = {"A": (0x4002_0000, 0), "B": (0x4002_0400, 1), "C": (0x4002_0800, 2), "D": (0x4002_0C00, 3),
         "E": (0x4002_1000, 4)}
#: Reset values that differ from 0 (debug pins on PA13-15 and PB3-4, RM0385 6.4.1-6.4.4).
_RESET = {"A": {MODER: 0xA800_0000, OSPEEDR: 0x0C00_0000, PUPDR: 0x6400_0000},
          "B": {MODER: 0x0000_0280, OSPEEDR: 0x0000_00C0, PUPDR: 0x0000_0100}}


class Gpio(Peripheral):
    def __init__(self, bus: Bus, port: str) -> None:
        base, bit = PORTS[port]
        super().__init__(bus, base)
        self.name = f"GPIO{port}"
        self.clock = (0x30, 1 << bit)  # RCC_AHB1ENR
        self.regs.update(_RESET.get(port, {}))

    def mode(self, pin: int) -> int:
        return (self.regs.get(MODER, 0) >> (2 * pin)) & 3

    def alternate(self, pin: int) -> int:
        reg = AFRL if pin < 8 else AFRH
        return (self.regs.get(reg, 0) >> (4 * (pin % 8))) & 0xF

    def write32(self, offset: int, value: int) -> None:
        if offset == BSRR:
            odr = self.regs.get(ODR, 0)
            self.regs[ODR] = (odr | (value & 0xFFFF)) & ~(value >> 16)
        else:
            super().write32(offset, value)
