"""Which UART rates a device makes: the Python twin of ``firmware/src/uart_rate.c``.

A UART divides its clock by an integer (the STM32F746's USART1 with oversampling by 16:
BRR = f_ck / baud, at least 16, at most 0xFFFF; RM0385 "USART baud rate generation"), so it
makes only clock / n. A rate is accepted when the nearest such rate is within
``BAUD_TOLERANCE_PERCENT`` of it.
"""

from __future__ import annotations

from .frame import BAUD_TOLERANCE_PERCENT

#: The Discovery board's USART1 clock: PCLK2 = SYSCLK 216 MHz / 2 (boards/f746-disco/board.c).
F746_USART_CLOCK_HZ = 108_000_000
DIV_MIN = 16
DIV_MAX = 0xFFFF


def divider(clock_hz: int, baud: int) -> int:
    """``tt_uart_divider``: the nearest divider, held to [DIV_MIN, DIV_MAX]."""
    if baud == 0:
        return DIV_MAX
    return min(max((clock_hz + baud // 2) // baud, DIV_MIN), DIV_MAX)


def uart_rate(clock_hz: int, baud: int) -> tuple[int, int]:
    """``tt_uart_rate``: ``(rate made for baud or 0 when refused, nearest rate made)``."""
    made = clock_hz // divider(clock_hz, baud)
    ok = baud != 0 and abs(made - baud) * 100 <= baud * BAUD_TOLERANCE_PERCENT
    return (made if ok else 0), made
