"""Writing a firmware image, and a training package, to a physical board through its ST-LINK.

pyOCD is preferred when both it and OpenOCD are installed: it is a pip install away
and reports a missing probe plainly. A package (plan + weights, ``tt_host.compiler.blob``)
goes to the board's model area (``model_area_offset`` in its board.toml) as a raw binary, where
the firmware finds and validates it at boot as if it had been uploaded over the UART.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tt_host.tooling.boards import Board
from tt_host.errors import LinkError, ToolMissing, UsageError

log = logging.getLogger(__name__)

CONNECT_HINT = "connect the board's ST-LINK USB connector (CN14, next to the Ethernet jack) to this computer"

#: What pyOCD and OpenOCD print when no debug probe answers.
_NO_PROBE = re.compile(
    r"no (connected|available) debug probes|no probe|open failed|unable to find|"
    r"couldn't find|no device found|libusb_open\(\) failed",
    re.IGNORECASE,
)


def flash_commands(board: Board, elf: Path, package: Path | None = None) -> list[list[str]]:
    """The commands that flash ``elf`` (and ``package`` into the model area) to ``board`` with
    the best tool on PATH."""
    if board.emulated:
        raise UsageError(f"{board.name} is emulated: run it with `tt-host emulate` or `tt-host flash --emulate`")
    area = f"0x{board.flash_base + board.model_area_offset:08X}"
    if board.pyocd_target and shutil.which("pyocd"):
        commands = [["pyocd", "flash", "-t", board.pyocd_target, str(elf)]]
        if package is not None:
            commands.append(["pyocd", "flash", "-t", board.pyocd_target, "--base-address", area, str(package)])
        return commands
    if board.openocd_config and shutil.which("openocd"):
        # OpenOCD's Tcl parser needs forward slashes and braces around paths.
        program = [f"program {{{elf.as_posix()}}} verify reset exit"]
        if package is not None:
            program = [f"program {{{elf.as_posix()}}} verify", f"program {{{package.as_posix()}}} verify reset exit {area}"]
        return [["openocd", "-f", board.openocd_config, *(arg for p in program for arg in ("-c", p))]]
    raise ToolMissing(
        "neither pyocd nor openocd is on PATH; install one with `pip install pyocd` "
        f"or `sudo apt-get install openocd`, then {CONNECT_HINT}"
    )


def flash(board: Board, elf: Path, package: bytes | None = None) -> str:
    """Program ``elf`` (and ``package`` into the model area) into ``board``'s flash, verify
    and reset; return the tool used.

    Raises :class:`LinkError` with the tool's own message when it fails (most often: no
    probe connected).
    """
    if not elf.is_file():
        raise UsageError(f"{elf} does not exist: run `tt-host build --board {board.name}`")
    with tempfile.TemporaryDirectory() as tmp:
        binary = None
        if package is not None:
            binary = Path(tmp) / "package.bin"  # the tools take a file
            binary.write_bytes(package)
        commands = flash_commands(board, elf, binary)
        for cmd in commands:
            _run(cmd)
    return commands[0][0]


def _run(cmd: list[str]) -> None:
    log.info("$ %s", " ".join(cmd))
    proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.strip()
    log.debug("%s", output)
    if proc.returncode != 0:
        if _NO_PROBE.search(output):
            raise LinkError(f"{cmd[0]} found no debug probe: {CONNECT_HINT}\n{output}")
        raise LinkError(f"{cmd[0]} failed with exit code {proc.returncode}:\n{output}")
