"""The kernels' golden vectors inside the emulated F746.

Every C golden-vector test under firmware/tests/kernels (test_*.c) is also built, unchanged,
into an f746-qemu image (tt-<stem>.elf, boards/f746-qemu/CMakeLists.txt). There the kernels
take their Cortex-M7 DSP paths, so this proves those paths bit-identical to the numpy
reference, as the host build proves the portable paths. An image exits 0 only when every
vector matches; otherwise it prints the mismatching indices, quoted in the failure."""

from __future__ import annotations


import pytest

from tt_host.tooling.boards import resolve
from tt_host.tooling.build import build
from tt_host.tooling.emulator import Emulator
from tt_host.paths import REPO_ROOT

pytestmark = pytest.mark.qemu  # skipped, naming the tool, when one is missing (conftest.py)

_TESTS = sorted(p.stem for p in (REPO_ROOT / "firmware" / "tests" / "kernels").glob("test_*.c"))


@pytest.fixture(scope="module")
def image_dir():
    board = resolve("f746-qemu")
    build(board, if_needed=True)
    return board.elf_path.parent


@pytest.mark.parametrize("test_name", _TESTS)
def test_kernel_vectors_match_on_the_cortex_m7(image_dir, tmp_path, test_name):
    elf = image_dir / f"tt-{test_name}.elf"
    assert elf.is_file(), f"{elf} was not built"
    with Emulator(resolve("f746-qemu"), elf=elf, log_path=tmp_path / "log") as emulator:
        code = emulator.wait(timeout=120)
        log = emulator.log_text()
    assert code == 0, f"tt-{test_name} exited {code}:\n{log}"
    assert "0 failed" in log, log
