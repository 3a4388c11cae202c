"""What every ``tt-host`` command shares: the app object with its error mapping, the global
state, the consoles, the common options, building a board's image and opening a session."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from tt_host.errors import TtError, UsageError
from tt_host.link import ports
from tt_host.link.session import DeviceSession
from tt_host.link.transport import open_transport
from tt_host.tooling import boards as boards_mod
from tt_host.tooling import build as build_mod

log = logging.getLogger("tt_host")


@dataclasses.dataclass
class State:
    verbosity: int = 0
    link_baud: str = "auto"  #: --link-baud
    key_file: Path | None = None  #: --key: the key for a board provisioned with one


def stdout() -> Console:
    # Created per use so that the console follows sys.stdout (swapped by CliRunner).
    return Console(highlight=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def verbosity(ctx: typer.Context | None) -> int:
    state = ctx.find_object(State) if ctx else None
    return state.verbosity if state else 0


class _Group(TyperGroup):
    """Maps exceptions to messages and exit codes, for ``main`` and CliRunner alike."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # typer's Context is the one passed
        try:
            return super().invoke(ctx)
        except TtError as exc:
            _report(ctx, exc, f"error: {exc}")
            raise typer.Exit(exc.exit_code) from exc
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own: usage errors, --help
            raise
        except Exception as exc:  # a bug: say so, keep the traceback for -vv
            _report(ctx, exc, f"internal error: {type(exc).__name__}: {exc}")
            raise typer.Exit(1) from exc


def _report(ctx: typer.Context, exc: BaseException, message: str) -> None:
    # Plain output, not rich: a message or a traceback must not be re-wrapped.
    if verbosity(ctx) >= 2:
        typer.echo("".join(traceback.format_exception(exc)), err=True, nl=False)
    typer.secho(message, err=True, fg="red")
    if verbosity(ctx) < 2 and not isinstance(exc, TtError):
        typer.echo("run with -vv for the traceback", err=True)


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Train int8 CNNs on a tt board: build, flash or emulate its firmware, stream samples, pull the deltas.",
)

BoardOpt = Annotated[
    str, typer.Option("--board", "-b", envvar="TT_BOARD", help="Board name or alias (see boards/*/board.toml).")
]
PortOpt = Annotated[
    str | None,
    typer.Option(
        "--port",
        "-p",
        envvar="TT_PORT",
        help="Serial port or pyserial URL (socket://127.0.0.1:PORT for an emulator); default: the one ST-LINK port.",
    ),
]
BaudOpt = Annotated[int, typer.Option("--baud", help="UART baud rate.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds to wait for each answer before retransmitting.")]
KeyOpt = Annotated[Path | None, typer.Option(
    "--key", help="Provision the board with this key file (from `tt-host keygen`): its state-changing commands "
    "then need the key.", exists=True, dir_okay=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def build_firmware(ctx: typer.Context, board: boards_mod.Board, if_needed: bool) -> Path:
    verbose = verbosity(ctx) >= 1
    if if_needed and build_mod.is_up_to_date(board):
        return board.elf_path
    if verbose:
        return build_mod.build(board, verbose=True)
    with stderr().status(f"building firmware for {board.name}"):
        return build_mod.build(board)


def link_rates(ctx: typer.Context) -> tuple[int, ...]:
    """The rates HELLO negotiates (``--link-baud``): the physical board's ``[uart] rates``
    (its twins list the same ones), up to the one asked for."""
    state = ctx.find_object(State)
    choice = state.link_baud if state is not None else "auto"
    if choice == "off":
        return ()
    rates = boards_mod.resolve("f746-disco").rates
    if choice == "auto":
        return rates
    wanted = int(choice)
    return (wanted, *(r for r in rates if r < wanted))


@contextlib.contextmanager
def connected(ctx: typer.Context, port: str | None, baud: int, timeout: float, slow_timeout: float | None = None,
               ) -> Iterator[DeviceSession]:
    """A session on ``port``, or on the one ST-LINK port; it still has to say HELLO (which
    negotiates the link's rate). The link goes back to 115,200 baud when the command ends."""
    url = ports.resolve_port(port)
    log.info("opening %s", url)
    state = ctx.find_object(State)
    with open_transport(url, baud) as transport:
        session = DeviceSession(transport, timeout=timeout, slow_timeout=slow_timeout, link_rates=link_rates(ctx),
                                key_file=state.key_file if state is not None else None)
        try:
            yield session
        finally:
            try:
                session.restore_baud()
            except TtError as exc:  # the link is gone: the device's own fallback is all there is
                log.warning("could not return the link to 115,200 baud: %s", exc)


def parse_size(text: str) -> int:
    """``256K``, ``256KB``, ``0.25M``, ``262144`` -> bytes (K = 1024)."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1024, "M": 1024 * 1024}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if mult > 1 else t)
    except ValueError:
        raise UsageError(f"cannot read {text!r} as a size (e.g. 256K, 262144)") from None
    if value <= 0:
        raise UsageError(f"a size must be positive, not {text!r}")
    return int(value * mult)
