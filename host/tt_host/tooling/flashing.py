"""Writing a firmware image to a physical board through its ST-LINK probe.

pyOCD is preferred when both it and OpenOCD are installed: it is a pip install away
and reports a missing probe plainly.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
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


def flash_command(board: Board, elf: Path) -> list[str]:
    """The command that flashes ``elf`` to ``board`` with the best tool on PATH."""
    if board.emulated:
        raise UsageError(f"{board.name} is emulated: run it with `tt-host emulate` or `tt-host flash --emulate`")
    if board.pyocd_target and shutil.which("pyocd"):
        return ["pyocd", "flash", "-t", board.pyocd_target, str(elf)]
    if board.openocd_config and shutil.which("openocd"):
        # OpenOCD's Tcl parser needs forward slashes and braces around paths.
        return ["openocd", "-f", board.openocd_config, "-c", f"program {{{elf.as_posix()}}} verify reset exit"]
    raise ToolMissing(
        "neither pyocd nor openocd is on PATH; install one with `pip install pyocd` "
        f"or `sudo apt-get install openocd`, then {CONNECT_HINT}"
    )


def flash(board: Board, elf: Path) -> str:
    """Program ``elf`` into ``board``'s flash, verify and reset; return the tool used.

    Raises :class:`LinkError` with the tool's own message when it fails (most often: no
    probe connected).
    """
    if not elf.is_file():
        raise UsageError(f"{elf} does not exist: run `tt-host build --board {board.name}`")
    cmd = flash_command(board, elf)
    log.info("$ %s", " ".join(cmd))
    proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.strip()
    log.debug("%s", output)
    if proc.returncode != 0:
        if _NO_PROBE.search(output):
            raise LinkError(f"{cmd[0]} found no debug probe: {CONNECT_HINT}\n{output}")
        raise LinkError(f"{cmd[0]} failed with exit code {proc.returncode}:\n{output}")
    return cmd[0]
