"""The emulated board's own guarantees: the F746 budgets are enforced by the MPU at run
time, faults are reported and end the emulator with a code, and the emulated flashes
behave like the F746's and the Discovery's QSPI NOR flash (erase to 0xFF, programming only
clears bits, the running image is protected, both read-only outside their driver). Each
case boots tt-fault-test once; see boards/f746-qemu/fault_test.c."""

from __future__ import annotations


import pytest

from tt_host.tooling.boards import resolve
from tt_host.tooling.build import build
from tt_host.tooling.emulator import Emulator

pytestmark = pytest.mark.qemu  # skipped, naming the tool, when one is missing (conftest.py)

MEMMANAGE, USAGE_FAULT = 128 + 4, 128 + 6


@pytest.fixture(scope="module")
def fault_test_elf():
    board = resolve("f746-qemu")
    build(board, if_needed=True)
    return board.elf_path.with_name("tt-fault-test.elf")


def _boot(elf, case: str, tmp_path) -> tuple[int, str]:
    emulator = Emulator(resolve("f746-qemu"), elf=elf, extra_args=["-append", case], log_path=tmp_path / "log")
    with emulator:
        code = emulator.wait(timeout=60)
        return code, emulator.log_text()


@pytest.mark.parametrize(
    "case, needle",
    [
        ("ram-end", "MMFAR=0x20050000"),  # first byte past the F746's 320 KB of SRAM
        ("flash-end", "MemManage"),  # first byte past 1 MB of flash
        ("psram-outside-flash", "MemManage"),  # emulated-flash backing store beyond 1 MB
        ("flash-store", "MemManage"),  # flash is read-only to ordinary stores
        ("flash-window-store", "MemManage"),  # even the writable sectors, outside the driver
        ("qspi-window-store", "MMFAR=0x60200000"),  # the emulated QSPI flash (parameter store) too
        ("psram-past-qspi", "MMFAR=0x60280000"),  # PSRAM past the QSPI flash's exposed 512 KB
        ("exec-ram", "IACCVIOL"),  # SRAM is never executable
        ("stack-overflow", "stack overflow"),  # the guard region below the stack
    ],
)
def test_out_of_budget_access_faults_with_a_report(fault_test_elf, tmp_path, case, needle):
    code, log = _boot(fault_test_elf, case, tmp_path)
    assert code == MEMMANAGE, log
    assert needle in log, log


def test_usage_fault_is_reported(fault_test_elf, tmp_path):
    code, log = _boot(fault_test_elf, "div-zero", tmp_path)
    assert code == USAGE_FAULT, log
    assert "DIVBYZERO" in log or "UsageFault" in log, log


@pytest.mark.parametrize("case", ["flash", "ticks", "reset"])
def test_board_self_checks_pass(fault_test_elf, tmp_path, case):
    code, log = _boot(fault_test_elf, case, tmp_path)
    assert code == 0, log


def test_flash_image_survives_emulator_restarts(fault_test_elf, tmp_path):
    """With a flash image file, the boot counter the reset case keeps in flash goes on
    counting in the next run of the emulator: 1-3, then 4-6."""
    image = tmp_path / "flash.img"
    for run, last_boot in ((1, 3), (2, 6)):
        emulator = Emulator(resolve("f746-qemu"), elf=fault_test_elf, extra_args=["-append", "reset"],
                            flash_image=image, log_path=tmp_path / f"log{run}")
        with emulator:
            assert emulator.wait(timeout=60) == 0, emulator.log_text()
            assert f"boot {last_boot}\n" in emulator.log_text(), emulator.log_text()
