"""The board commands of ``tt-host``: build, emulate, flash, size, ports and keygen."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from tt_protocol import auth

from tt_host import keys
from tt_host.cli.common import (
    BoardOpt,
    JsonOpt,
    KeyOpt,
    app,
    build_firmware,
    parse_size,
    stderr,
    stdout,
)
from tt_host.errors import UsageError
from tt_host.link import ports
from tt_host.tooling import boards as boards_mod
from tt_host.tooling import flashing
from tt_host.tooling import size as size_mod
from tt_host.tooling.emulator import Emulator
from tt_host.tooling.keyed_image import keyed_copy

log = logging.getLogger("tt_host")


def run_emulator(ctx: typer.Context, board: boards_mod.Board, flash_image: Path | None = None,
                 key: bytes | None = None) -> None:
    """Boot ``board``'s emulated twin (its flash in ``flash_image`` when given; provisioned with
    ``key`` when given), print its URL and serve until Ctrl-C."""
    emulator = Emulator(board, build_if_needed=False, flash_image=flash_image, key=key)
    build_firmware(ctx, emulator.target, if_needed=True)  # here, for the progress display
    # `kill` must stop QEMU too: SystemExit unwinds through the `with` below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with emulator:
        typer.echo(emulator.url)
        # Plain echo, not rich: paths and URLs must stay on one line to be copied.
        typer.echo(f"{emulator.backend} running {emulator.target.name}; log: {emulator.log_path}", err=True)
        typer.echo(f"connect with: tt-host info --port {emulator.url}   (Ctrl-C to stop)", err=True)
        try:
            code = emulator.wait()
        except KeyboardInterrupt:
            return
    typer.echo(f"emulator exited with code {code}; last lines of {emulator.log_path}:", err=True)
    typer.echo(emulator.log_tail(), err=True)
    if code != 0:
        raise typer.Exit(code)


@app.command()
def build(ctx: typer.Context, board: BoardOpt = "f746") -> None:
    """Build the firmware for a board and print the ELF path."""
    typer.echo(build_firmware(ctx, boards_mod.resolve(board), if_needed=False))


FlashImageOpt = Annotated[Path | None, typer.Option(
    "--flash-image", help="An emulated board's flash file (kept across runs; created when missing).")]


@app.command()
def emulate(ctx: typer.Context, board: BoardOpt = "f746", flash_image: FlashImageOpt = None,
            key: KeyOpt = None) -> None:
    """Run the board's firmware in an emulator (--board host: as a process of this computer, much faster); print its socket:// URL; stop with Ctrl-C."""
    run_emulator(ctx, boards_mod.resolve(board), flash_image, keys.load(key) if key is not None else None)


@app.command()
def keygen(
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="Where to write the key (default: "
                                             "$TT_HOME/keys/<key id>.key, where every command finds it).")] = None,
) -> None:
    """Make a new device key (32 random bytes, owner-only file); provision a board with it using
    `tt-host flash --key FILE`, after which its state-changing commands need it."""
    path, key = keys.generate(out)
    typer.echo(path)
    typer.echo(f"key id {auth.key_id(key).hex()}: keep the file secret; provision a board with "
               f"`tt-host flash --key {path}`", err=True)


@app.command()
def flash(
    ctx: typer.Context,
    board: BoardOpt = "f746",
    emulate: Annotated[bool, typer.Option("--emulate", help="Boot the emulator instead of flashing a board.")] = False,
    elf: Annotated[Path | None, typer.Option("--elf", help="Image to flash (default: build the board's).")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="Also write this int8 .tflite's training plan for --samples into the model area.", exists=True, dir_okay=False)] = None,
    samples: Annotated[Path | None, typer.Option("--samples", help="With --model: the sample folder a stream will train on (its labels make the head).")] = None,
    scheme: Annotated[str, typer.Option("--scheme", help="With --model: as tt-host stream's --scheme.")] = "paper",
    budget: Annotated[str | None, typer.Option("--budget", help="With --model: as tt-host stream's --budget.")] = None,
    lr: Annotated[str, typer.Option("--lr", help="With --model: as tt-host stream's --lr.")] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="With --model: as tt-host stream's --seed.")] = 0,
    eval_split: Annotated[float, typer.Option("--eval-split", help="With --model: as tt-host stream's --eval-split.")] = 0.2,
    flash_image: FlashImageOpt = None,
    key: KeyOpt = None,
) -> None:
    """Flash the firmware to a board through its ST-LINK (built first if needed); with --model,
    the training plan a stream of --samples would upload goes into its model area too, so the
    board leaves the bench ready to train (an emulated board: into its --flash-image). With --key,
    the image is provisioned with that key and the package sealed with it; without, the board
    accepts every command from anyone with its UART."""
    from tt_host.tooling import twin_flash
    from tt_host.workflows.cache import Cache
    from tt_host.workflows.factory import board_plan
    from tt_host.workflows.provision import TrainingSetup

    target = boards_mod.resolve(board)
    device_key = keys.load(key) if key is not None else None
    plan = None
    if model is not None:
        if samples is None:
            raise UsageError("--model needs --samples DIR: the folder a stream will train on (its labels make the head)")
        setup = TrainingSetup(scheme=scheme, budget=parse_size(budget) if budget else None, lr=lr, seed=seed)
        with stderr().status(f"compiling the plan of {model.name} for {samples}"):
            plan = board_plan(target, model, samples, Cache(), setup, eval_split)
        typer.echo(f"plan {plan.plan_hash[:16]}: {plan.scheme_name}, {len(plan.package):,} B package")
    # A board with a key runs only packages sealed with it (tt_protocol.auth).
    package = None if plan is None else plan.package if device_key is None else auth.sealed(device_key, plan.package)
    if target.emulated and plan is not None:
        if flash_image is None:
            raise UsageError(f"{target.name} keeps its flash in a file: give it with --flash-image FILE "
                             f"(then `tt-host emulate --board {target.name} --flash-image FILE`)")
        twin_flash.write_package(target, flash_image, package)
        typer.echo(f"wrote the package into the model area of {flash_image}"
                   + ("" if device_key is None else f" (sealed with key {auth.key_id(device_key).hex()}; "
                                                     f"boot it with `tt-host emulate --key {key}`)"))
        if emulate:
            run_emulator(ctx, target, flash_image, device_key)
        return
    if emulate:
        run_emulator(ctx, target, flash_image, device_key)
        return
    image = elf or build_firmware(ctx, target, if_needed=True)
    if device_key is not None:
        image = keyed_copy(image, device_key)
    else:
        log.warning("flashing without --key: the board accepts every command from anyone with its UART")
    with stderr().status(f"flashing {target.name}"):
        tool = flashing.flash(target, image, package)
    typer.echo(f"flashed {image}{' and the package' if plan is not None else ''} to {target.name} with {tool}")


@app.command("ports")
def ports_cmd() -> None:
    """List the ST-LINK serial ports plugged into this computer."""
    found = ports.list_stlink_ports()
    for port in found:
        typer.echo(ports.describe(port))
    if not found:
        stderr().print("no ST-LINK serial port found")


@app.command("size")
def size_cmd(
    ctx: typer.Context,
    board: BoardOpt = "f746",
    elf: Annotated[Path | None, typer.Option("--elf", help="Image to measure (default: build the board's).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the image's flash and SRAM use against the board's budget (exit 8 if over)."""
    target = boards_mod.resolve(board)
    report = size_mod.size_report(target, elf or build_firmware(ctx, target, if_needed=True))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        from tt_host.cli.render import size_table

        stdout().print(size_table(report))
    report.check()
