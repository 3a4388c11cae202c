"""``tt-host``: the command line, a thin layer over the ``tt_host`` library.

Results go to stdout, logs and progress to stderr. Every :class:`TtError` ends the
command with its message and its exit code (see :mod:`tt_host.errors`); a traceback is
shown only with ``-vv``.
"""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.logging import RichHandler
from rich.table import Table

from tt_host import __version__, recipe
from tt_host.cli import board as _board_commands  # noqa: F401  (registers build, emulate, flash, size, ports, keygen)
from tt_host.cli.common import (
    BaudOpt,
    BoardOpt,
    JsonOpt,
    PortOpt,
    State,
    TimeoutOpt,
    app,
    build_firmware,
    connected,
    parse_size,
    stderr,
    stdout,
)
from tt_host.errors import DeviceTimeout, LinkError, TtError, UsageError
from tt_host.link.session import DeviceInfo
from tt_host.link.transport import DEFAULT_BAUD
from tt_host.tooling import boards as boards_mod
from tt_host.tooling.emulator import Emulator
from tt_host.workflows import samples as samples_mod

log = logging.getLogger("tt_host")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tt-host {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="-v: progress logs; -vv: debug and tracebacks.")
    ] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    link_baud: Annotated[
        str, typer.Option("--link-baud", envvar="TT_LINK_BAUD", help="After HELLO, switch the UART to the fastest "
                          "rate the link carries: auto (the board's [uart] rates, falling back down the list), a "
                          "rate (that one, then the board's lower ones), or off (stay at --baud).")
    ] = "auto",
    key: Annotated[
        Path | None, typer.Option("--key", envvar="TT_KEY", dir_okay=False, help="Key file for a board provisioned "
                                  "with a key (default: the one `tt-host keygen` keeps for it in $TT_HOME/keys).")
    ] = None,
) -> None:
    if link_baud not in ("auto", "off") and not link_baud.isdigit():
        raise typer.BadParameter(f"{link_baud!r}: expected auto, off or a rate in baud", param_hint="--link-baud")
    ctx.obj = State(verbosity=verbose, link_baud=link_baud, key_file=key)
    handler = RichHandler(console=stderr(), show_time=False, show_path=False)
    log.handlers[:] = [handler]  # replaced, not added: main() may run more than once per process
    log.setLevel(logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG)
    log.propagate = False


@app.command()
def info(
    ctx: typer.Context,
    port: PortOpt = None, baud: BaudOpt = DEFAULT_BAUD, timeout: TimeoutOpt = 1.0, as_json: JsonOpt = False
) -> None:
    """Say HELLO and show the device's identity and memory budgets, and the link's rate."""
    with connected(ctx, port, baud, timeout) as session:
        device = session.hello()
        fields = {**device.to_dict(), "link_baud": session.baud}
    if as_json:
        typer.echo(json.dumps(fields, indent=2))
        return
    stdout().print(_info_table(fields))


def _info_table(fields: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None)
    for field, value in fields.items():
        if field.endswith("_bytes") and isinstance(value, int):
            value = f"{value} ({value / 1024:g} KiB)"
        elif field == "core_clock_hz" and isinstance(value, int):
            value = f"{value / 1e6:g} MHz" if value else "unknown"  # the host twin has none
        table.add_row(field, "none" if value is None else str(value))
    return table


@app.command()
def demo(
    ctx: typer.Context,
    board: BoardOpt = "f746",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for deltas.bin and adapted.tflite (default: $TT_HOME/demo).")] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the training samples.")] = 2,
    as_json: JsonOpt = False,
) -> None:
    """The whole loop on the emulated F746: train the demo model on new classes, pull the deltas.

    Boots the emulated board, uploads the demo model's plan for the labels of
    examples/camera_samples, evaluates the held-out samples, trains on the rest on the
    device evaluating after every epoch, keeps the best state, pulls the deltas and merges
    them into an adapted .tflite.
    """
    from tt_host.cli.render import StreamProgress, stream_table
    from tt_host.workflows import demo as demo_mod
    from tt_host.workflows.cache import Cache

    target = boards_mod.resolve(board)
    build_firmware(ctx, boards_mod.emulated_twin(target), if_needed=True)
    cache = Cache()
    err = stderr()

    def booted(emulator: Emulator, device: DeviceInfo) -> None:
        typer.echo(f"booted {emulator.target.name} in {emulator.backend}; UART at {emulator.url}", err=True)
        typer.echo(f"training {demo_mod.DEMO_MODEL.name} on {demo_mod.DEMO_SAMPLES} ({epochs} epoch{'s' if epochs > 1 else ''})", err=True)

    with StreamProgress(err) as progress:
        result = demo_mod.run_demo(target, out or cache.root / "demo", cache, epochs=epochs, progress=progress,
                                   on_boot=booted)
    if as_json:
        typer.echo(json.dumps({**result.report.to_dict(), "deltas": str(result.deltas_path),
                               "adapted_model": str(result.adapted_model), "boot_s": result.boot_s,
                               "total_s": result.total_s}, indent=1))
        return
    stdout().print(stream_table(result.report))
    typer.echo(f"deltas ({result.pulled.summary()['records']} tensors, {len(result.pulled.deltas):,} B): "
               f"{result.deltas_path}")
    typer.echo(f"adapted model: {result.adapted_model}")
    typer.echo(f"whole loop in {result.total_s:.1f} s", err=True)


@app.command()
def ping(
    ctx: typer.Context,
    port: PortOpt = None,
    baud: BaudOpt = DEFAULT_BAUD,
    timeout: TimeoutOpt = 1.0,
    count: Annotated[int, typer.Option("--count", "-c", min=1, help="Number of pings.")] = 4,
    size: Annotated[int, typer.Option("--size", "-s", min=0, help="Payload bytes per ping.")] = 32,
    as_json: JsonOpt = False,
) -> None:
    """Round-trip payloads through the device and report the times."""
    payload = bytes(i & 0xFF for i in range(size))
    rtts = []
    with connected(ctx, port, baud, timeout) as session:
        session.hello()
        rate = session.baud
        for i in range(count):
            rtts.append(session.ping(payload))
            if not as_json:
                typer.echo(f"{size} bytes: seq {i}: {rtts[-1] * 1e3:.2f} ms")
    if as_json:
        typer.echo(json.dumps({"size": size, "rtt_s": rtts, "link_baud": rate}))
        return
    typer.echo(
        f"{count} pings at {rate:,} baud: min {min(rtts) * 1e3:.2f} ms, "
        f"mean {statistics.fmean(rtts) * 1e3:.2f} ms, max {max(rtts) * 1e3:.2f} ms"
    )


def _parse_count(text: str) -> int:
    """``5M``, ``250k``, ``1.5G`` or a plain integer (decimal multipliers: MACs are counts)."""
    t = text.strip().upper()
    mult = {"K": 10**3, "M": 10**6, "G": 10**9}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise UsageError(f"cannot read {text!r} as a count (e.g. 5M, 250k, 1200000)") from None
    if value <= 0:
        raise UsageError(f"a MACs budget must be positive, not {text!r}")
    return int(value)


@app.command("compile")
def compile_cmd(
    model: Annotated[Path, typer.Argument(help="The int8 .tflite model to train.", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for plan.bin, weights.bin and report.json.")],
    budget: Annotated[str | None, typer.Option("--budget", help="SRAM budget of a training step, e.g. 256K.")] = None,
    scheme: Annotated[str, typer.Option("--scheme", help="last-layer, bias-only, full, auto (under --budget, Fisher on --samples), paper (under --budget, the 256 KB paper's ranking), or a scheme JSON file.")] = "last-layer",
    macs_budget: Annotated[str | None, typer.Option("--macs-budget", help="With --scheme paper or auto: most backward MACs per step, e.g. 5M.")] = None,
    classes: Annotated[int | None, typer.Option("--classes", min=1, help="Replace the classifier for N new classes.")] = None,
    samples: Annotated[Path | None, typer.Option("--samples", help="Folder of <label>/ image folders: new head for those labels (and, with --scheme auto, the Fisher criterion).")] = None,
    init: Annotated[str, typer.Option("--init", help="New head initialisation: imprint (from --samples) or zero.")] = "imprint",
    fuse_blocks: Annotated[str, typer.Option("--fuse-blocks", help="Fuse frozen inverted bottlenecks: off, auto, all.")] = "auto",
    inplace: Annotated[bool, typer.Option("--inplace/--no-inplace", help="In-place depthwise/pointwise kernels, where the step's peak needs them (they are slower).")] = True,
    streamed: Annotated[bool, typer.Option("--streamed-updates/--no-streamed-updates", help="Fused gradient+update kernels (no int32 weight gradient).")] = True,
    fuse_stem: Annotated[bool, typer.Option("--fuse-stem/--no-fuse-stem", help="Let a fused block's expansion be the stem convolution (its output never exists).")] = True,
    stream_input: Annotated[bool, typer.Option("--stream-input/--no-stream-input", help="Run the first fused block as the sample's rows arrive (the sample never sits in SRAM whole).")] = True,
    recompute_masks: Annotated[bool, typer.Option("--recompute-masks/--no-recompute-masks", help="Rebuild blocks' masks in the backward from the input it keeps, where the step's peak needs it (costs a second forward of those layers).")] = True,
    speed_within_budget: Annotated[bool, typer.Option("--fastest/--smallest", help="With --budget: undo the in-place kernels and recomputed masks the budget has room for (fastest plan within it), or keep the smallest plan.")] = True,
    lr: Annotated[str, typer.Option("--lr", help="SGD learning rate (the classifier's follows it), or auto: the best of a short trial of the plan on this computer (needs --samples; a fifth of them judge it).")] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the stochastic rounding.")] = 0,
    as_json: JsonOpt = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Draw the arena over the schedule to this PNG (matplotlib).")] = None,
) -> None:
    """Compile a model and a sparse-update scheme into a training plan for the device."""
    import time

    from tt_host.compiler import (
        PlanOptions,
        TrainParams,
        compile_model,
        load_graph,
        write_outputs,
    )
    from tt_host.compiler import head as head_mod
    from tt_host.compiler import report as report_mod

    if scheme in ("auto", "paper") and not budget:
        raise UsageError(f"--scheme {scheme} chooses what trains under a budget: give --budget (e.g. --budget 256K)")
    if macs_budget is not None and scheme not in ("auto", "paper"):
        raise UsageError("--macs-budget applies to --scheme auto and paper only")
    if init not in head_mod.INITS:
        raise UsageError(f"--init must be one of {', '.join(head_mod.INITS)}, not {init!r}")
    t0 = time.perf_counter()
    graph = load_graph(model)
    fisher_samples = None
    if samples is not None:
        sample = graph.tensors[graph.input]
        images, labels, names = head_mod.load_samples(samples, sample.shape, (sample.scale, sample.zero_point))
        fisher_samples = (images, labels)
        if classes is not None and classes != len(names):
            raise UsageError(f"--classes {classes} but {samples} has {len(names)} label folders")
        graph = head_mod.replace_head(graph, len(names), names, init, fisher_samples)
        log.info("new %d-class head (%s) from %d samples", len(names), init, len(images))
    elif classes is not None:
        if init == "imprint":
            log.info("no --samples: the new head is zero-initialised")
        graph = head_mod.replace_head(graph, classes, init=init)
    options = PlanOptions(fuse_blocks=fuse_blocks, inplace_kernels=inplace, streamed_updates=streamed, fuse_stem=fuse_stem,
                          stream_input=stream_input, recompute_masks=recompute_masks,
                          speed_within_budget=speed_within_budget)
    compiled = compile_model(graph, scheme, parse_size(budget) if budget else None, options, samples=fisher_samples,
                             macs_budget=_parse_count(macs_budget) if macs_budget else None)
    if scheme in ("auto", "paper"):
        sel = compiled.scheme.info
        log.info("auto (%s, %d samples): %d trainable parameters, %d candidates scheduled, %d placed",
                 sel.get("method"), sel.get("samples", 0), compiled.report["trainable_params"],
                 sel.get("candidates_scheduled", 0), sel.get("candidates_placed", 0))
    rate_value, choice = _parse_lr(lr), None
    if rate_value == "auto":
        choice = _auto_lr(compiled, fisher_samples, seed)
        rate_value = choice.lr if choice is not None else recipe.LR
    report = write_outputs(compiled, out, TrainParams(lr=rate_value, seed=seed),
                           choice.to_dict() if choice is not None else None)
    elapsed = time.perf_counter() - t0
    if plot is not None:
        report_mod.plot_timeline(report, plot)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in report.items() if k != "timeline"}, indent=1, sort_keys=True))
    else:
        console = stdout()
        console.print(report_mod.layer_table(report))
        for line in report_mod.summary_lines(report) + report_mod.timeline_text(report):
            console.print(line, markup=False)
    typer.echo(f"wrote {out}/plan.bin, weights.bin, report.json in {elapsed:.2f} s", err=True)


def _parse_lr(value: str) -> float | str:
    from tt_host.workflows.rate import parse

    try:
        return parse(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _auto_lr(compiled, samples, seed: int):
    """``tt-host compile --lr auto``: the trial of :mod:`tt_host.workflows.rate` on the ``--samples`` (a
    seeded fifth of them held out to judge it), a ``rate.Choice``; None without samples."""
    import numpy as np

    from tt_host.compiler import TrainParams, serialize
    from tt_host.workflows.rate import choose, describe

    if samples is None:
        log.info("--lr auto without --samples: the recipe's rate %g", recipe.LR)
        return None
    images, labels = samples
    order = np.random.default_rng(seed).permutation(len(labels))
    held = order[: max(1, len(order) // 5)]
    train = order[len(held):]
    trainable = int(compiled.report["trainable_params"])

    def blobs_at(lr: float):
        return serialize(compiled.schedule, compiled.plan, TrainParams(lr=lr, seed=seed), compiled.scheme.name, trainable)

    choice = choose(blobs_at, images[train], labels[train], (images[held], labels[held]), seed)
    log.info("learning rate %s", describe(choice, choice.lr))
    return choice


@app.command("check")
def check_cmd(
    model: Annotated[Path, typer.Argument(help="The int8 .tflite model to check.", exists=True, dir_okay=False)],
    classes: Annotated[int | None, typer.Option("--classes", min=1, help="Train a new classifier for N classes.")] = None,
    board: Annotated[str | None, typer.Option("--board", "-b", help="Also require that it trains on this board (exit 8 if not); default: report every board.")] = None,
    inputs: Annotated[int, typer.Option("--inputs", min=1, help="Seeded inputs the forward is compared on.")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Check a model before anything else: its operators, its forward against TFLite Micro, a
    training step, and what it needs on each board (exit 0 only when it is supported, bit-exact
    and trains)."""
    from tt_host.cli import render
    from tt_host.workflows import check as check_mod

    target = boards_mod.resolve(board) if board else None
    report = check_mod.check_model(model, classes, inputs, [target] if target else None)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=1))
    else:
        console = stdout()
        for table in render.check_tables(report):
            console.print(table)
    check_mod.raise_for(report, target.name if target else None)


@app.command("export")
def export_cmd(
    base: Annotated[Path, typer.Argument(help="The base .tflite the plan was compiled from.", exists=True, dir_okay=False)],
    deltas: Annotated[Path, typer.Option("--deltas", help="Deltas file pulled from the device.", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The adapted .tflite to write.")],
) -> None:
    """Merge trained deltas into the base model: a standard int8 .tflite for the fleet."""
    from tt_host.tflite.export import export_file

    typer.echo(export_file(base, deltas, out))


# -- training on the device ------------------------------------------------------------------

SlowTimeoutOpt = Annotated[
    float, typer.Option("--step-timeout", help="Seconds to wait for a training step, a flash write or a plan check.")
]


def _resume_hint(exc: TtError) -> TtError:
    """The same error, telling the user that running the command again resumes."""
    exc.args = (f"{exc}; the device keeps every step it trained: run the same command again to resume",)
    return exc


def _check_samples(found, model: Path | None) -> None:
    """Bad samples (and, with ``model``, a bad model) stop the command before the port opens."""
    shape = None
    if model is not None:
        from tt_host.compiler import load_graph

        graph = load_graph(model)
        shape = graph.tensors[graph.input].shape
    samples_mod.check_readable([s.path for s in found], shape)


@app.command()
def stream(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="Sample folder: one subfolder per label of PNG/JPEG images or .npy arrays.")],
    port: PortOpt = None,
    baud: BaudOpt = DEFAULT_BAUD,
    timeout: TimeoutOpt = 1.0,
    step_timeout: SlowTimeoutOpt = 30.0,
    model: Annotated[Path | None, typer.Option("--model", help="The base int8 .tflite (default: the device's, from the cache).")] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the training samples.")] = 1,
    eval_split: Annotated[float, typer.Option("--eval-split", help="Share of each label held out for evaluation.")] = 0.2,
    scheme: Annotated[str, typer.Option("--scheme", help="auto (Fisher on the samples), paper (the 256 KB paper's ranking), last-layer, bias-only, full, or a scheme JSON file; auto and paper fill the budget.")] = "paper",
    budget: Annotated[str | None, typer.Option("--budget", help="SRAM of a training step, e.g. 256K (default: what the device has).")] = None,
    macs_budget: Annotated[str | None, typer.Option("--macs-budget", help="With --scheme paper or auto: most backward MACs per step, e.g. 5M.")] = None,
    init: Annotated[str, typer.Option("--init", help="A new head (labels the model does not have): imprint or zero.")] = "imprint",
    lr: Annotated[str, typer.Option("--lr", help="SGD learning rate (the classifier's follows it), or auto: the best of a short trial of the plan on this computer, judged on the held-out samples.")] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split, the sample order and the stochastic rounding.")] = 0,
    replace_model: Annotated[bool, typer.Option("--replace-model", help="Allow a plan for another model than the device's.")] = False,
    keep_last: Annotated[bool, typer.Option("--keep-last", help="End with the last epoch's parameters even when an earlier state (or the start) scored better on the held-out samples.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train the device on a sample folder: evaluate, train epoch by epoch evaluating each, and
    end with the best evaluated parameters (never worse than the start); resumable."""
    from tt_host.cli.render import StreamProgress, stream_table
    from tt_host.workflows.cache import Cache
    from tt_host.workflows.provision import TrainingSetup
    from tt_host.workflows.stream import stream_folder

    setup = TrainingSetup(scheme=scheme, budget=parse_size(budget) if budget else None,
                          macs_budget=_parse_count(macs_budget) if macs_budget else None, init=init, lr=lr, seed=seed)
    _check_samples(samples_mod.scan(folder).samples, model)
    with connected(ctx, port, baud, timeout, step_timeout) as session:
        session.hello()
        try:
            with StreamProgress(stderr()) as progress:
                report = stream_folder(session, folder, Cache(), setup, model, eval_split, epochs, replace_model,
                                       progress, keep_last)
        except (LinkError, DeviceTimeout) as exc:
            raise _resume_hint(exc) from exc
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=1))
    else:
        stdout().print(stream_table(report))


@app.command()
def pull(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="The deltas file to write.")],
    port: PortOpt = None,
    baud: BaudOpt = DEFAULT_BAUD,
    timeout: TimeoutOpt = 1.0,
    plan: Annotated[Path | None, typer.Option("--plan", help="Folder of the device's plan.bin and weights.bin (default: the cache).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the device's trained parameters as deltas against its factory model."""
    from tt_host.workflows.cache import Cache
    from tt_host.workflows.pull import pull_deltas

    with connected(ctx, port, baud, timeout) as session:
        pulled = pull_deltas(session, Cache(), plan)
    out.write_bytes(pulled.deltas)
    summary = {**pulled.summary(), "out": str(out)}
    if as_json:
        typer.echo(json.dumps(summary, indent=1))
        return
    typer.echo(f"{out}: {summary['records']} tensors trained on {summary['samples']} samples ({len(pulled.deltas):,} B)")
    if pulled.model is not None:
        typer.echo(f"merge with: tt-host export {pulled.model} --deltas {out} --out adapted.tflite", err=True)


@app.command()
def predict(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Sample files, or folders of them (a label folder's name is the expected label).")],
    port: PortOpt = None,
    baud: BaudOpt = DEFAULT_BAUD,
    timeout: TimeoutOpt = 1.0,
    step_timeout: SlowTimeoutOpt = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Show what the device predicts for samples, by label name (nothing is trained)."""
    from tt_host.workflows.cache import Cache
    from tt_host.workflows.predict import files_of
    from tt_host.workflows.predict import predict as run_predictions

    samples_mod.check_readable(files_of(paths))
    with connected(ctx, port, baud, timeout, step_timeout) as session:
        results = run_predictions(session, Cache(), paths)
    if as_json:
        typer.echo(json.dumps([{"path": str(r.path), "predicted": r.predicted, "expected": r.expected,
                                "correct": r.correct, "loss": r.loss} for r in results], indent=1))
        return
    for r in results:
        mark = "" if r.correct is None else ("  ok" if r.correct else f"  (expected {r.expected})")
        typer.echo(f"{r.path}: {r.predicted}{mark}")
    judged = [r for r in results if r.correct is not None]
    if judged:
        typer.echo(f"{sum(r.correct for r in judged)}/{len(judged)} correct", err=True)


@app.command()
def commit(
    ctx: typer.Context,
    port: PortOpt = None, baud: BaudOpt = DEFAULT_BAUD, timeout: TimeoutOpt = 1.0, step_timeout: SlowTimeoutOpt = 30.0,
    force: Annotated[bool, typer.Option("--force", help="Commit even parameters that scored worse on the held-out samples than the committed ones.")] = False,
) -> None:
    """Persist the trained parameters in the device's flash (they survive a reset); refused
    when the last evaluation found them worse than the committed ones (exit code 10)."""
    from tt_host.errors import WorseParameters
    from tt_host.workflows.cache import Cache
    from tt_host.workflows.stream import commit_refusal

    with connected(ctx, port, baud, timeout, step_timeout) as session:
        info = session.hello()
        if info.plan_hash is not None and not force:
            device = session.stats()
            refusal = commit_refusal(Cache(), info.plan_hash, device.trained, device.commit_sequence)
            if refusal is not None:
                raise WorseParameters(refusal)
        sequence, size = session.commit()
    typer.echo(f"committed {size:,} B of parameters (record {sequence})")


@app.command()
def rollback(
    ctx: typer.Context,
    port: PortOpt = None, baud: BaudOpt = DEFAULT_BAUD, timeout: TimeoutOpt = 1.0, step_timeout: SlowTimeoutOpt = 30.0
) -> None:
    """Return the device to its plan's factory parameters, now and after a reset."""
    with connected(ctx, port, baud, timeout, step_timeout) as session:
        session.hello()
        sequence = session.rollback()
    typer.echo(f"rolled back to the factory parameters (record {sequence})")


@app.command()
def profile(
    ctx: typer.Context,
    port: PortOpt = None,
    baud: BaudOpt = DEFAULT_BAUD,
    timeout: TimeoutOpt = 1.0,
    plan: Annotated[Path | None, typer.Option("--plan", help="Folder of the device's plan.bin, weights.bin and report.json (default: the cache).")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many of the slowest ops to list.")] = 15,
    reset: Annotated[bool, typer.Option("--reset", help="Start the profile afresh after reading it.")] = False,
    as_json: JsonOpt = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Draw the phases and the slowest ops to this PNG (matplotlib).")] = None,
) -> None:
    """Show where the device's steps spent their time since its plan was loaded (or the last
    --reset), phase by phase and op by op, with MACs per instruction on the emulated board."""
    from tt_host.cli.render import profile_tables
    from tt_host.workflows.cache import Cache
    from tt_host.workflows.profile import plot_profile, read_profile

    with connected(ctx, port, baud, timeout) as session:
        measured = read_profile(session, Cache(), plan, reset=reset)
    if plot is not None:
        plot_profile(measured, plot, top)
    if as_json:
        typer.echo(json.dumps(measured.to_dict(), indent=1))
        return
    if not measured.steps:
        typer.echo("nothing has run since the profile began: stream, evaluate or predict samples first", err=True)
        return
    for table in profile_tables(measured, top):
        stdout().print(table)


@app.command()
def stats(
    ctx: typer.Context,
    port: PortOpt = None, baud: BaudOpt = DEFAULT_BAUD, timeout: TimeoutOpt = 1.0, as_json: JsonOpt = False
) -> None:
    """Show the device's training counters, timing and memory use."""
    from tt_host.cli.render import stats_table

    with connected(ctx, port, baud, timeout) as session:
        device = session.hello()
        device_stats = session.stats()
    if as_json:
        typer.echo(json.dumps({**device_stats.to_dict(), "instructions_per_step": device_stats.instructions_per_step},
                              indent=1))
        return
    stdout().print(stats_table(device_stats, device.board, device.core_clock_hz))


def main() -> None:
    """Entry point of the ``tt-host`` console script."""
    app(prog_name="tt-host")
