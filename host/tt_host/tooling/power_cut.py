"""Power cuts of the emulated board at an exact guest instruction.

The ``f746-qemu`` board keeps its flashes in QEMU's PSRAM, mapped from a file with
``share=on`` (:meth:`Emulator._flash_args`): a QEMU that dies leaves the file exactly as the
guest's stores left it, which is what a power cut leaves in flash. ``qemu_cut_plugin.c`` (a TCG
plugin, built here on demand with the host's C compiler) makes QEMU die at a chosen instant:
``N`` instructions after the first execution of a firmware function (the *arm* point, e.g.
``tt_trainer_commit``). Under ``-icount shift=0`` an operation of one request (COMMIT, ROLLBACK)
runs the same instructions every time, so a count names the same instant on every run and
computer. One of many requests (an upload) also runs the receive interrupt as often as the
host's bytes happen to arrive apart: its count varies from run to run by about 1 %.

:func:`measure` runs an operation once with the plugin counting, to learn its window: the
instructions from the arm point to the last answer the firmware built (``tt_frame_finish``).
:func:`cut_during` runs it again and cuts at a given count inside that window.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from tt_host.errors import LinkError, ToolMissing, TtError, UsageError
from tt_host.link.session import DeviceSession
from tt_host.link.transport import SerialTransport
from tt_host.paths import build_root
from tt_host.tooling.boards import Board
from tt_host.tooling.emulator import Emulator

PLUGIN_SOURCE = Path(__file__).with_name("qemu_cut_plugin.c")
#: QEMU's exit status when the plugin cut it (``CUT_EXIT_STATUS`` in the plugin).
CUT_EXIT_STATUS = 86
#: Where a measurement's window ends: the function that finishes every answer frame.
ANSWER_SYMBOL = "tt_frame_finish"
#: Seconds a session waits for an answer; a cut shows as the link closing, long before.
_TIMEOUT_S = 2.0
_SLOW_TIMEOUT_S = 30.0

#: What an operation does with the device: it talks through the session it is given.
Action = Callable[[DeviceSession], object]


def plugin(build: Path | None = None) -> Path:
    """The plugin's shared object under ``$TT_BUILD/power-cut``, compiled when missing or older
    than its source. Raises :class:`ToolMissing` without a host C compiler."""
    out = (build or build_root()) / "power-cut" / "qemu_cut_plugin.so"
    if out.is_file() and out.stat().st_mtime >= PLUGIN_SOURCE.stat().st_mtime:
        return out
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise ToolMissing("no host C compiler (cc or gcc) to build the QEMU power-cut plugin; "
                          "install with: sudo apt-get install gcc")
    if not PLUGIN_SOURCE.is_file():
        raise UsageError(f"{PLUGIN_SOURCE} is missing: power cuts need a checkout of tt")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.so")  # renamed into place: a concurrent reader never sees half a file
    proc = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror",
                           "-o", str(tmp), str(PLUGIN_SOURCE)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise UsageError(f"building {PLUGIN_SOURCE.name} failed:\n{proc.stderr[-2000:]}")
    tmp.replace(out)
    return out


def symbol_address(elf: Path, name: str) -> int:
    """The address of function ``name`` in ``elf`` as the CPU executes it (Thumb bit cleared)."""
    with elf.open("rb") as f:
        for section in ELFFile(f).iter_sections():
            if isinstance(section, SymbolTableSection):
                for symbol in section.get_symbol_by_name(name) or ():
                    if symbol["st_info"]["type"] == "STT_FUNC":
                        return symbol["st_value"] & ~1
    raise UsageError(f"{elf} has no function {name!r}")


@dataclasses.dataclass(frozen=True)
class CutResult:
    """How a cut run ended."""

    cut: bool  #: QEMU died by the plugin, inside the operation
    error: str  #: what the host saw (the lost link), empty when the operation completed


class PowerCutter:
    """Boots ``board``'s image (an emulated twin under QEMU) on a flash image file, with the
    plugin armed at ``arm`` (a firmware function): :meth:`measure` and :meth:`cut_during`."""

    def __init__(self, board: Board, arm: str, work: Path) -> None:
        self.board = board
        self.work = work
        self.plugin = plugin()
        self.elf = board.elf_path
        if not self.elf.is_file():
            raise UsageError(f"{self.elf} does not exist: run `tt-host build --board {board.name}`")
        self.arm_at = symbol_address(self.elf, arm)
        self.mark_at = symbol_address(self.elf, ANSWER_SYMBOL)

    def boot(self, flash: Path, plugin_args: str = "", log: str = "boot.log") -> Emulator:
        """Start the emulator on ``flash`` (with the plugin when ``plugin_args``); the caller stops it."""
        extra = ["-plugin", f"{self.plugin},{plugin_args}"] if plugin_args else []
        emulator = Emulator(self.board, elf=self.elf, flash_image=flash, extra_args=extra,
                            log_path=self.work / log)
        emulator.start()
        return emulator

    def measure(self, flash: Path, before: Action, action: Action) -> int:
        """Instructions from the arm point to the last answer of ``action`` (``before`` runs
        first, in the same session, and must not reach the arm point)."""
        out = self.work / "measured.txt"
        out.unlink(missing_ok=True)
        emulator = self.boot(flash, f"arm={self.arm_at:#x},mark={self.mark_at:#x},out={out}", "measure.log")
        try:
            with session_on(emulator) as session:
                before(session)
                action(session)
        finally:
            emulator.stop()
        if not out.is_file():
            raise UsageError(f"the firmware never reached {self.arm_at:#x} during the measured operation")
        return int(out.read_text())

    def cut_during(self, flash: Path, before: Action, action: Action, instructions: int) -> CutResult:
        """Run ``before`` then ``action``; the power goes ``instructions`` after the arm point.
        The flash image is left as the cut left it."""
        emulator = self.boot(flash, f"arm={self.arm_at:#x},cut={instructions}", "cut.log")
        try:
            error = ""
            try:
                with session_on(emulator) as session:
                    before(session)
                    action(session)
            except TtError as exc:  # the link closes as QEMU dies
                error = str(exc)
            if not error:
                return CutResult(False, "")  # done before the instant: stop() below ends it
            try:
                status = emulator.wait(10)
            except subprocess.TimeoutExpired as exc:
                raise LinkError(f"the link failed but QEMU runs on: {error}") from exc
            if status != CUT_EXIT_STATUS:
                raise LinkError(f"QEMU ended with status {status}, not by the cut: {error}\n{emulator.log_tail()}")
            return CutResult(True, error)
        finally:
            emulator.stop()


@contextmanager
def session_on(emulator: Emulator) -> Iterator[DeviceSession]:
    """A session with ``emulator``'s UART (no HELLO said); the transport closes after."""
    with SerialTransport(emulator.url) as transport:
        yield DeviceSession(transport, timeout=_TIMEOUT_S, slow_timeout=_SLOW_TIMEOUT_S)
