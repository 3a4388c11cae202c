"""The F746's reset and clock control (RCC) and power controller (PWR), as far as the board's
clock_init() and its peripherals' clock enables go (RM0385 sections 4 and 5).

Ready flags come up a few polls after their enable, so that the firmware's wait loops run
at least once; the PLL only locks on a configuration inside the datasheet's ranges, and the
switch of SYSCLK to the PLL is checked against what 216 MHz needs on a real chip: the
over-drive regulator on, 7 flash wait states, APB1 <= 54 MHz and APB2 <= 108 MHz. A switch
that breaks one of these is recorded as a violation (on silicon it would hang or corrupt).
"""

from __future__ import annotations

from .peripheral import Bus, Peripheral

HSI_HZ = 16_000_000
#: The Discovery board's crystal (UM1907, "HSE clock").
HSE_HZ = 25_000_000
#: Status reads a ready flag stays low after its enable (the loop body runs at least once).
READY_AFTER_POLLS = 2

# RCC register offsets (RM0385 5.3).
CR, PLLCFGR, CFGR = 0x00, 0x04, 0x08
AHB1ENR, AHB2ENR, AHB3ENR, APB1ENR, APB2ENR = 0x30, 0x34, 0x38, 0x40, 0x44
DCKCFGR2 = 0x90

HSEON, HSERDY, PLLON, PLLRDY = 1 << 16, 1 << 17, 1 << 24, 1 << 25
PWREN = 1 << 28
_AHB_DIV = {8: 2, 9: 4, 10: 8, 11: 16, 12: 64, 13: 128, 14: 256, 15: 512}
_APB_DIV = {4: 2, 5: 4, 6: 8, 7: 16}


class _Delayed:
    """A ready flag that rises ``READY_AFTER_POLLS`` reads after it was asked for."""

    def __init__(self) -> None:
        self.polls_left: int | None = None

    def request(self) -> None:
        if self.polls_left is None:
            self.polls_left = READY_AFTER_POLLS

    def cancel(self) -> None:
        self.polls_left = None

    def poll(self) -> bool:
        if self.polls_left is None:
            return False
        if self.polls_left > 0:
            self.polls_left -= 1
            return False
        return True


class Rcc(Peripheral):
    name = "RCC"

    def __init__(self, bus: Bus, crystal: bool = True, base: int = 0x40023800) -> None:
        super().__init__(bus, base)
        #: Whether the 25 MHz crystal oscillates (False: HSERDY never comes up).
        self.crystal = crystal
        # Reset values (RM0385 5.3): HSI on and ready; PLLCFGR's documented default.
        self.regs.update({CR: 0x0000_0083, PLLCFGR: 0x2400_3010, CFGR: 0})
        self._hse, self._pll = _Delayed(), _Delayed()
        self.pwr: Pwr | None = None  # wired by the machine: the over-drive check reads it
        self.flash_latency = lambda: 0  # wired by the machine: FLASH_ACR's wait states

    def clock_on(self, register: int, bit: int) -> bool:
        return bool(self.regs.get(register, 0) & bit)

    # -- the clock tree ---------------------------------------------------------------------

    def pll_hz(self) -> int | None:
        """The PLL's P output for the current configuration; None outside the datasheet ranges
        (VCO input 1-2 MHz, VCO output 100-432 MHz, M 2..63, N 50..432)."""
        cfg = self.regs[PLLCFGR]
        m, n, p = cfg & 0x3F, (cfg >> 6) & 0x1FF, 2 * (((cfg >> 16) & 3) + 1)
        source = HSE_HZ if cfg & (1 << 22) else HSI_HZ
        if not (2 <= m <= 63 and 50 <= n <= 432):
            return None
        vco_in = source / m
        vco = vco_in * n
        if not (1e6 <= vco_in <= 2e6 and 100e6 <= vco <= 432e6):
            return None
        return int(vco // p)

    def pll_q_hz(self) -> int | None:
        cfg, p_hz = self.regs[PLLCFGR], self.pll_hz()
        q = (cfg >> 24) & 0xF
        return None if p_hz is None or q < 2 else int(p_hz * (2 * (((cfg >> 16) & 3) + 1)) // q)

    def sysclk_hz(self) -> int:
        sws = (self.regs[CFGR] >> 2) & 3
        if sws == 1:
            return HSE_HZ
        if sws == 2:
            return self.pll_hz() or HSI_HZ
        return HSI_HZ

    def hclk_hz(self) -> int:
        return self.sysclk_hz() // _AHB_DIV.get((self.regs[CFGR] >> 4) & 0xF, 1)

    def pclk1_hz(self) -> int:
        return self.hclk_hz() // _APB_DIV.get((self.regs[CFGR] >> 10) & 7, 1)

    def pclk2_hz(self) -> int:
        return self.hclk_hz() // _APB_DIV.get((self.regs[CFGR] >> 13) & 7, 1)

    def usart1_hz(self) -> int:
        """USART1's kernel clock (DCKCFGR2.USART1SEL: 0 = PCLK2, 1 = SYSCLK, 2 = HSI)."""
        sel = self.regs.get(DCKCFGR2, 0) & 3
        return {0: self.pclk2_hz(), 1: self.sysclk_hz(), 2: HSI_HZ}.get(sel, self.pclk2_hz())

    # -- registers --------------------------------------------------------------------------

    def read32(self, offset: int) -> int:
        value = self.regs.get(offset, 0)
        if offset == CR:
            value &= ~(HSERDY | PLLRDY)
            if value & HSEON and self.crystal and self._hse.poll():
                value |= HSERDY
            if value & PLLON and self._pll_can_lock() and self._pll.poll():
                value |= PLLRDY
        return value

    def _pll_can_lock(self) -> bool:
        cfg = self.regs[PLLCFGR]
        source_ready = bool(self.read32_flag(HSERDY)) if cfg & (1 << 22) else True
        return source_ready and self.pll_hz() is not None

    def read32_flag(self, flag: int) -> int:
        """A ready flag's current value without counting it as a poll."""
        if flag == HSERDY:
            return HSERDY if self.crystal and self._hse.polls_left == 0 else 0
        return PLLRDY if self._pll.polls_left == 0 else 0

    def write32(self, offset: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if offset == CR:
            (self._hse.request if value & HSEON else self._hse.cancel)()
            (self._pll.request if value & PLLON else self._pll.cancel)()
        elif offset == PLLCFGR and self.regs[CR] & PLLON:
            self.violation("PLLCFGR written while the PLL is on (RM0385: only while PLLON = 0)")
            return
        elif offset == CFGR:
            value = self._switch(value)
        self.regs[offset] = value

    def _switch(self, value: int) -> int:
        """SW selects SYSCLK; SWS follows when the source is ready."""
        sw = value & 3
        sws = (self.regs[CFGR] >> 2) & 3
        if sw == 0:
            sws = 0
        elif sw == 1 and self.read32_flag(HSERDY):
            sws = 1
        elif sw == 2 and self.regs[CR] & PLLON and self.read32_flag(PLLRDY):
            sws = 2
        new = (value & ~(3 << 2)) | (sws << 2)
        if sws == 2 and (self.regs[CFGR] >> 2) & 3 != 2:
            self._check_216(new)
        return new

    def _check_216(self, cfgr: int) -> None:
        old = self.regs[CFGR]
        self.regs[CFGR] = cfgr
        try:
            sysclk, pclk1, pclk2 = self.sysclk_hz(), self.pclk1_hz(), self.pclk2_hz()
        finally:
            self.regs[CFGR] = old
        if sysclk > 180_000_000 and not (self.pwr and self.pwr.overdrive()):
            self.violation(f"SYSCLK switched to {sysclk} Hz without the over-drive mode (max 180 MHz)")
        if sysclk > 210_000_000 and self.flash_latency() < 7:
            self.violation(f"SYSCLK {sysclk} Hz with {self.flash_latency()} flash wait states (RM0385 3.3.2: 7)")
        if pclk1 > 54_000_000 or pclk2 > 108_000_000:
            self.violation(f"APB clocks {pclk1}/{pclk2} Hz above their maxima (54/108 MHz)")


class Pwr(Peripheral):
    """PWR_CR1 / PWR_CSR1: the voltage scale and the over-drive handshake (RM0385 4.1.4)."""

    name = "PWR"
    clock = (APB1ENR, PWREN)

    CR1, CSR1 = 0x00, 0x04
    VOS_SCALE1, ODEN, ODSWEN = 3 << 14, 1 << 16, 1 << 17
    ODRDY, ODSWRDY = 1 << 16, 1 << 17

    def __init__(self, bus: Bus, rcc: Rcc, base: int = 0x40007000) -> None:
        super().__init__(bus, base)
        self.regs[self.CR1] = 0x0000_C000  # reset: scale 1
        self._rcc = rcc
        self._od, self._odsw = _Delayed(), _Delayed()

    def overdrive(self) -> bool:
        return self._odsw.polls_left == 0

    def read32(self, offset: int) -> int:
        if offset != self.CSR1:
            return super().read32(offset)
        value = 0
        if self._od.poll():
            value |= self.ODRDY
        if self._odsw.poll():
            value |= self.ODSWRDY
        return value

    def write32(self, offset: int, value: int) -> None:
        super().write32(offset, value)
        if offset != self.CR1:
            return
        if value & self.ODEN:
            # RM0385 4.1.4: the PLL is configured and on before ODEN; scale 1 for over-drive.
            if not self._rcc.regs[CR] & PLLON or (value & self.VOS_SCALE1) != self.VOS_SCALE1:
                self.violation("ODEN set before the PLL is on at voltage scale 1")
            self._od.request()
        if value & self.ODSWEN:
            if self._od.polls_left != 0:
                self.violation("ODSWEN set before ODRDY")
            self._odsw.request()
