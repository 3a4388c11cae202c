"""A register-level harness that runs the real ``f746-disco`` firmware image on the ``unicorn``
CPU emulator: a Cortex-M7 core plus small Python models of the STM32F746 peripherals the
board's code touches (RCC, PWR, embedded flash, QUADSPI + N25Q128A, USART1, GPIO, RNG,
SysTick / NVIC / SCB). See machine.py for what is emulated and how; tests/test_unicorn_f746.py
drives it through ``tt_host``'s DeviceSession."""

from .board import Board, FlashChips, UnicornTransport
from .image import Image
from .machine import EmulationError, Machine

__all__ = ["Board", "EmulationError", "FlashChips", "Image", "Machine", "UnicornTransport"]
