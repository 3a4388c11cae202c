"""The F746's true random number generator (RM0385 section 22): RNGEN in CR starts it, DRDY in SR
says a 32-bit word is ready in DR. The words come from a seeded generator, so a run repeats;
reading DR with DRDY low (the generator off) reads zero and is recorded."""

from __future__ import annotations

import random

from .peripheral import Bus, Peripheral

CR, SR, DR = 0x00, 0x04, 0x08
RNGEN, DRDY = 1 << 2, 1 << 0


class Rng(Peripheral):
    name = "RNG"
    clock = (0x34, 1 << 6)  # RCC_AHB2ENR.RNGEN

    def __init__(self, bus: Bus, seed: int = 0, base: int = 0x5006_0800) -> None:
        super().__init__(bus, base)
        self._random = random.Random(seed)

    def read32(self, offset: int) -> int:
        on = bool(self.regs.get(CR, 0) & RNGEN)
        if offset == SR:
            return DRDY if on else 0
        if offset == DR:
            if not on:
                self.violation("DR read with the generator off (DRDY low)")
                return 0
            return self._random.getrandbits(32)
        return super().read32(offset)
