"""The emulated twins' flash files, written as a debug probe writes the board's flash.

A real F746 is provisioned through its ST-LINK (:mod:`tt_host.tooling.flashing`); an emulated
twin keeps its flash in a file (``Emulator(flash_image=...)``), so provisioning it means
writing that file the way the firmware would find the probe's work: the internal flash
formatted (erased, 0xFF) when the file is new, the package in the model area, the model area's
other bytes erased, everything else (a committed parameter store) kept. Layouts:

- ``host``: the internal flash's 1 MB, then the QSPI flash's 512 KB (``boards/host/flash.c``);
- ``f746-qemu``: QEMU's 16 MB of PSRAM, the internal flash in its first MB, a format marker
  right after it, the QSPI flash's part at 2 MB (``boards/f746-qemu/flash.c``,
  ``f746_qemu.h``). Without the marker the firmware formats the file at boot, which would
  erase the package, so a new file gets the marker the firmware writes.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tt_host.errors import UsageError
from tt_host.tooling.boards import Board

_MB = 1024 * 1024
#: ``f746-qemu``: the PSRAM file's size, the marker ("ttFL", format 2) and the QSPI part's place.
_QEMU_FILE_BYTES = 16 * _MB
_QEMU_MARKER_AT = 1 * _MB
_QEMU_MARKER = struct.pack("<II", 0x4C467474, 2)
_QEMU_QSPI_AT = 2 * _MB


def _layout(board: Board) -> tuple[int, list[tuple[int, int]]]:
    """The file's size and the erased regions a new file starts with."""
    internal = (0, board.flash_bytes)
    qspi = board.store_area_bytes
    if board.native:
        return board.flash_bytes + qspi, [internal, (board.flash_bytes, qspi)]
    if board.qemu_machine:
        return _QEMU_FILE_BYTES, [internal, (_QEMU_QSPI_AT, qspi)]
    raise UsageError(f"{board.name} is not an emulated twin: flash it through its probe")


def write_package(board: Board, image: Path, package: bytes) -> None:
    """Put ``package`` in the model area of ``board``'s flash file ``image`` (created when
    missing); the twin booted on the file runs it, with whatever the store there holds."""
    if len(package) > board.model_area_bytes:
        raise UsageError(f"the package is {len(package):,} bytes, over {board.name}'s model area of "
                         f"{board.model_area_bytes:,}")
    size, erased = _layout(board)
    image.parent.mkdir(parents=True, exist_ok=True)
    new = not image.exists() or image.stat().st_size == 0
    if not new and image.stat().st_size != size:
        raise UsageError(f"{image} is {image.stat().st_size:,} bytes, not a {board.name} flash file ({size:,})")
    if not new and board.qemu_machine:
        with image.open("rb") as f:
            f.seek(_QEMU_MARKER_AT)
            new = f.read(len(_QEMU_MARKER)) != _QEMU_MARKER  # the firmware would format it: so do we
    with image.open("r+b" if not new else "w+b") as f:
        if new:
            f.truncate(size)
            for at, n in erased:
                f.seek(at)
                f.write(b"\xff" * n)
            if board.qemu_machine:
                f.seek(_QEMU_MARKER_AT)
                f.write(_QEMU_MARKER)
        f.seek(board.model_area_offset)
        f.write(package + b"\xff" * (board.model_area_bytes - len(package)))
