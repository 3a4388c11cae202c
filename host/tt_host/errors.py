"""The one exception tree of ``tt_host``, and the exit codes of ``tt-host``.

Every failure the library reports is a :class:`TtError`; the CLI prints its message on
stderr (a traceback only with ``-vv``) and exits with its ``exit_code``, so a script can
tell "no board plugged in" from "the device rejected the request" without parsing text.

=========  ========================  ====================================================
exit code  exception                 meaning
=========  ========================  ====================================================
0          --                        success
1          --                        unexpected error (a bug: please report it with -vv),
                                     also :class:`~tt_host.compiler.PlanError` (the
                                     planner broke its own invariant)
2          :class:`UsageError`       bad command line: unknown board, bad option value;
                                     also ``tt_protocol.plan.PlanInvalid`` (a plan file a
                                     loader must refuse)
3          :class:`LinkError`        cannot open the port, connection lost, probe or
                                     emulator failed
4          :class:`DeviceTimeout`    no valid answer from the device after all retries
5          :class:`PortSelectionError`  no ST-LINK port, or several: pass ``--port``
6          :class:`ToolMissing`      an external tool is not installed (cmake,
                                     arm-none-eabi-gcc, qemu-system-arm, pyocd/openocd)
7          :class:`BuildError`       the firmware build failed
8          :class:`BudgetExceeded`   the image, a plan or its trained parameters do not
                                     fit the board's SRAM, flash, model area or parameter store
9          :class:`ProtocolError`    the device answered something malformed or unexpected;
                                     also ``tt_protocol``'s ``FrameError`` and ``CobsError``
10         :class:`WorseParameters`  ``tt-host commit`` without ``--force``: the device's
                                     parameters scored worse on the held-out samples than
                                     the committed ones
11         :class:`KeyMissing`       the board requires authentication and this host has
                                     no key for it (``tt-host flash --key``, ``--key FILE``)
64-127     :class:`DeviceError`      the device answered ``ERROR`` with status *s*:
                                     the exit code is 64 + *s*
                                     (``tt_protocol.status.exit_code``)
130        --                        interrupted (Ctrl-C)
=========  ========================  ====================================================
"""

from __future__ import annotations

# The root of the tree, shared with tt_protocol (whose CobsError / FrameError exit 9 and
# PlanInvalid exits 2): every error either package raises on purpose is a TtError.
from tt_protocol.errors import TtError  # noqa: F401  (re-exported)
from tt_protocol.frame import Opcode
from tt_protocol.status import Status, exit_code


class UsageError(TtError):
    """The caller asked for something that cannot exist (unknown board, bad value)."""

    exit_code = 2


class LinkError(TtError):
    """The byte link failed: the port cannot be opened, the connection dropped, the
    debug probe is absent or the emulator died."""

    exit_code = 3


class DeviceTimeout(TtError):
    """No valid answer to a request, after every retransmission."""

    exit_code = 4


class PortSelectionError(TtError):
    """No serial port was given and there is not exactly one ST-LINK port to pick."""

    exit_code = 5


class ToolMissing(TtError):
    """An external program is not installed; the message says how to install it."""

    exit_code = 6


class BuildError(TtError):
    """The firmware build (CMake configure or compile) failed."""

    exit_code = 7


class BudgetExceeded(TtError):
    """The firmware image needs more SRAM or flash than the board has."""

    exit_code = 8


class ProtocolError(TtError):
    """The device sent a frame that is valid on the wire but wrong for the request:
    unexpected opcode, payload of the wrong size, foreign protocol version."""

    exit_code = 9


class WorseParameters(TtError):
    """A commit that would replace the committed parameters with ones the last evaluation
    found worse (``tt-host commit --force`` stores them anyway)."""

    exit_code = 10


class KeyMissing(TtError):
    """The board was provisioned with a key (its state-changing requests must be signed) and
    this host has none for it, or ``--key`` names another key."""

    exit_code = 11


class DeviceError(TtError):
    """The device answered ``ERROR`` with the request's sequence number.

    ``status`` is a :class:`Status`, or the raw byte when this host does not know it
    (a newer firmware); ``detail`` is the status-specific number from ``ErrorPayload``
    and ``opcode`` the request it refused; ``meaning`` says what that was, where the caller
    knows.
    """

    def __init__(self, status: Status | int, detail: int = 0, opcode: int = 0, meaning: str = "") -> None:
        self.status = status
        self.detail = detail
        self.opcode = opcode
        name = status.name if isinstance(status, Status) else f"unknown status 0x{status:02X}"
        request = Opcode(opcode).name if opcode in set(Opcode) else f"opcode 0x{opcode:02X}"
        super().__init__(f"device answered {name} to {request} (detail {detail})" + (f": {meaning}" if meaning else ""))
        # Per instance, not per class: each status has its own exit code. A status this
        # host does not know still lands in the device range (64..127).
        self.exit_code = exit_code(status) if isinstance(status, Status) else min(64 + status, 127)
