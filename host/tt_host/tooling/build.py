"""Building the firmware for a board with its CMake preset.

A host twin (``boards/host``) is built by the system C compiler instead of the Arm
toolchain, and only its ``cmake_target`` of the preset (the ``host`` preset also builds the
runtime library and the C unit tests, which the twin does not need).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tt_host.tooling.boards import Board
from tt_host.errors import BuildError, ToolMissing

log = logging.getLogger(__name__)

INSTALL_HINT = "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi cmake"
HOST_INSTALL_HINT = "sudo apt-get install cmake gcc"

#: Lines of build output quoted in a BuildError when the build was quiet.
_TAIL_LINES = 40


def check_tools(board: Board | None = None) -> None:
    """Raise :class:`ToolMissing` unless CMake and the compiler ``board`` needs are on PATH
    (the Arm GCC toolchain; for a host twin, the system's C compiler)."""
    if board is not None and board.native:
        missing = [tool for tool in ("cmake",) if shutil.which(tool) is None]
        if not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
            missing.append("a C compiler (cc)")
        hint = HOST_INSTALL_HINT
    else:
        missing = [tool for tool in ("cmake", "arm-none-eabi-gcc") if shutil.which(tool) is None]
        hint = INSTALL_HINT
    if missing:
        raise ToolMissing(f"{' and '.join(missing)} not found on PATH; install with: {hint}")


def _sources(board: Board) -> Iterator[Path]:
    """Every file whose change calls for a rebuild of ``board``'s image."""
    root = board.root
    for folder in (root / "firmware", board.path, root / "boards" / "common", root / "cmake"):
        if folder.is_dir():
            yield from (p for p in folder.rglob("*") if p.is_file())
    for name in ("CMakeLists.txt", "CMakePresets.json"):
        if (root / name).is_file():
            yield root / name


def is_up_to_date(board: Board) -> bool:
    """True when the board's ELF exists and is newer than every source it is built from."""
    elf = board.elf_path
    if not elf.is_file():
        return False
    built = elf.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in _sources(board))


def _run(cmd: list[str], cwd: Path, verbose: bool) -> None:
    log.info("$ %s", " ".join(cmd))
    if verbose:
        # Progress goes to stderr with everything else that is not a result.
        proc = subprocess.run(cmd, check=False, cwd=cwd, stdout=sys.stderr, stderr=subprocess.STDOUT, text=True)
        output = ""
    else:
        proc = subprocess.run(cmd, check=False, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = proc.stdout
    if proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-_TAIL_LINES:])
        detail = f"\n{tail}" if tail else " (output above)"
        raise BuildError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode}{detail}")


def build(board: Board, *, verbose: bool = False, if_needed: bool = False) -> Path:
    """Configure and build ``board``'s firmware; return the ELF path.

    With ``if_needed`` nothing runs when :func:`is_up_to_date` holds. Output is shown
    (on stderr) only with ``verbose``; a failed build quotes its tail in the BuildError.
    """
    if if_needed and is_up_to_date(board):
        log.info("%s is up to date", board.elf_path)
        return board.elf_path
    check_tools(board)
    target = ["--target", board.cmake_target] if board.cmake_target else []
    # The build folder is named on the command line: an installed SDK builds outside itself.
    _run(["cmake", "--preset", board.cmake_preset, "-B", str(board.build_dir)], board.root, verbose)
    _run(["cmake", "--build", str(board.build_dir), *target], board.root, verbose)
    if not board.elf_path.is_file():
        raise BuildError(f"the build succeeded but did not produce {board.elf_path}")
    return board.elf_path
