"""What the training commands show: progress bars on stderr, summary tables on stdout."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from rich import box
from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from tt_host.link.session import DeviceStats
from tt_host.tooling import size as size_mod
from tt_host.workflows.profile import Profile
from tt_host.workflows.stream import Evaluation, StreamReport, Tick

_PHASES = {"upload": "upload plan", "before": "evaluate (before)", "train": "train", "after": "evaluate (after)",
           "after divergence": "evaluate (diverged)"}


class StreamProgress:
    """A :data:`tt_host.workflows.stream.Progress` callback drawing one rich bar per phase."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._progress.stop()

    def __call__(self, tick: Tick) -> None:
        task = self._tasks.get(tick.phase)
        if task is None:
            name = _PHASES.get(tick.phase, f"evaluate ({tick.phase})")
            task = self._progress.add_task(name, total=tick.total, metrics="")
            self._tasks[tick.phase] = task
        metrics = ""
        if tick.loss is not None:
            metrics = f"loss {tick.loss:.3f}  acc {100 * (tick.accuracy or 0):.1f}%"
        self._progress.update(task, completed=tick.done, total=tick.total, metrics=metrics)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _evaluation_cell(e: Evaluation | None, label: str | None = None) -> str:
    if e is None:
        return "-"
    if label is None:
        return f"{_pct(e.accuracy)} ({e.correct}/{e.n})"
    n, c = e.counts.get(label, [0, 0])
    return f"{_pct(c / n if n else None)} ({c}/{n})"


def stream_table(report: StreamReport) -> Group:
    """Accuracy before/after (overall and per label), then what the run measured."""
    accuracy = Table(title="held-out accuracy", title_justify="left")
    accuracy.add_column("label")
    accuracy.add_column("before", justify="right")
    accuracy.add_column("after", justify="right")
    for label in report.labels:
        if report.after is not None and label in report.after.counts:
            accuracy.add_row(label, _evaluation_cell(report.before, label), _evaluation_cell(report.after, label))
    accuracy.add_section()
    accuracy.add_row("all", _evaluation_cell(report.before), _evaluation_cell(report.after))
    if report.before is not None and report.after is not None:
        accuracy.add_row("loss", f"{report.before.loss or 0:.3f}", f"{report.after.loss or 0:.3f}")
    run = Table(title="run", title_justify="left", show_header=False)
    run.add_column(style="bold")
    run.add_column()
    for name, value in run_rows(report):
        run.add_row(name, value)
    return Group(accuracy, evaluations_table(report), run)


def evaluations_table(report: StreamReport) -> Table:
    """Every evaluated state of the stream; which one the device holds at the end."""
    table = Table(title="held-out accuracy per epoch", title_justify="left")
    for name, justify in (("state", "left"), ("steps", "right"), ("accuracy", "right"), ("loss", "right"),
                          ("", "left")):
        table.add_column(name, justify=justify)
    for name, trained, e, committed in report.epochs:
        notes = [n for n, on in (("committed", committed), ("kept", name == report.kept)) if on]
        table.add_row(name, f"{trained:,}", _evaluation_cell(e), f"{e.loss or 0:.3f}", ", ".join(notes))
    return table


def run_rows(report: StreamReport) -> list[tuple[str, str]]:
    """The cost side of the summary as (name, value) rows."""
    rows = []
    steps = f"{report.trained} now, {report.start + report.trained} of {report.total}"
    if report.start:
        steps += f" (resumed at {report.start})"
    rows.append(("training steps", steps))
    if report.trained:
        rows.append(("train loss / accuracy", f"{report.train_loss_sum / report.trained:.3f} / "
                                              f"{_pct(report.train_correct / report.trained)}"))
    if report.kept:
        rows.append(("kept", f"{report.kept} ({report.kept_reason})"))
    if report.learning_rate:
        rows.append(("learning rate", report.learning_rate))
    if report.diverged_at is not None:
        rows.append(("diverged", f"the device stopped training at step {report.diverged_at} (identical logits "
                                 "for every sample: collapsed); the parameters kept are an earlier, evaluated state"))
    if report.skipped:
        rows.append(("skipped steps", f"{report.skipped} (saturated logits: nothing applied)"))
    if report.samples_per_s:
        rows.append(("samples/s (host, link incl.)", f"{report.samples_per_s:.1f}"))
    stats = report.stats
    if stats is not None:
        rows += _stats_rows(stats, report.board, report.core_clock_hz)
    if report.peak_sram is not None:
        rows.append(("peak SRAM", f"{report.peak_sram:,} B ({report.peak_sram / 1024:.1f} KiB) = arena "
                                  f"{stats.arena_used:,} + stack {stats.stack_peak:,} + static "
                                  f"{report.firmware_static:,}"))
    rows.append(("plan", f"{report.plan_hash[:16]} ({report.scheme}, {report.trainable_params:,} trainable "
                         f"parameters, head {'replaced' if report.head_replaced else 'kept'})"))
    if report.uploaded:
        rows.append(("upload", f"{report.upload_bytes:,} B in {report.upload_s:.2f} s"))
    else:
        rows.append(("upload", "skipped: the device runs this plan"))
    if report.link_bytes:
        rows.append(("on the real board (projected)", _projection(report)))
    return rows


def _projection(report: StreamReport) -> str:
    """This run's time on the board: its bytes at the UART rate, plus its compute."""
    link = report.projected_link_s
    source = {"negotiated": " (negotiated)",
              "negotiated, not paced": " (negotiated with the twin, which takes the board's rates but does not pace "
                                       "bytes: the rate the board's link reaches)"}.get(report.baud_source, "")
    text = f"{report.link_bytes:,} B on the wire: {link:.1f} s at {report.baud:,} baud{source}"
    compute = report.projected_compute_s
    if compute is None:
        return text + " + compute (not projected from the host twin's time)"
    clock = f" at {report.core_clock_hz / 1e6:g} MHz" if report.board.endswith("-qemu") else ""
    total = link + compute
    return text + f" + {compute:.1f} s compute{clock} = {total:.1f} s ({100 * link / total:.0f} % link)"


def _stats_rows(stats: DeviceStats, board: str = "", clock_hz: int = 0) -> list[tuple[str, str]]:
    """Time per step: on QEMU (``-icount shift=0``: one instruction per emulated ns) the
    instruction count, and what it would take at the board's clock; on a board, its time."""
    if stats.seconds_per_step is None:
        return []
    if board.endswith("-qemu"):
        text = f"{stats.instructions_per_step / 1e6:.2f} M"
        if clock_hz:
            text += f" (~{stats.instructions_per_step / clock_hz * 1e3:.0f} ms at {clock_hz / 1e6:g} MHz, 1 per cycle)"
        return [("instructions per step", text)]
    return [("device time per step", f"{stats.seconds_per_step * 1e3:.1f} ms")]


def stats_table(stats: DeviceStats, board: str = "", clock_hz: int = 0) -> Table:
    """``tt-host stats``: every counter, with derived figures."""
    table = Table(show_header=False, box=None)
    for name, value in stats.to_dict().items():
        table.add_row(name, f"{value:,}" if isinstance(value, int) else f"{value:.4g}")
    for name, value in _stats_rows(stats, board, clock_hz):
        table.add_row(name, value)
    return table


def check_tables(report) -> list[Table]:
    """``tt-host check``'s output: operators by kind and status, the verdicts, the memory rows."""
    from collections import defaultdict

    ops = Table(title=f"{report.model}: operators")
    for column in ("operator", "count", "status", "indices"):
        ops.add_column(column, justify="right" if column == "count" else "left")
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, op, status in report.operators:
        groups[(op, status)].append(index)
    for (op, status), indices in groups.items():
        shown = ", ".join(map(str, indices[:8])) + (" ..." if len(indices) > 8 else "")
        colour = "red" if status.startswith("unsupported") else "default"
        ops.add_row(op, str(len(indices)), f"[{colour}]{status}[/{colour}]", shown)
    verdicts = Table(title="checks")
    for column in ("check", "result", "detail"):
        verdicts.add_column(column)
    marks = {True: "[green]pass[/green]", False: "[red]FAIL[/red]", None: "[yellow]not run[/yellow]"}
    for v in report.verdicts:
        verdicts.add_row(v.name, marks[v.ok], v.detail)
    tables = [ops, verdicts]
    if report.schemes:
        memory = Table(title="what training needs (arena, package and trained parameters against each board's)")
        for column in ("board", "scheme", "trainable", "peak SRAM", "arena", "package", "commit", "fits"):
            memory.add_column(column, justify="left" if column in ("board", "scheme", "fits") else "right")
        for r in report.schemes:
            if r.error:
                memory.add_row(r.board, r.scheme, "", "", "", "", "", f"[red]no[/red]: {r.error}")
                continue
            why = [name for name, ok in (("arena", r.fits_arena), ("model area", r.fits_model_area),
                                         ("parameter store", r.fits_store)) if not ok]
            fits = "yes" if r.fits else f"[red]no[/red] ({', '.join(why)})"
            memory.add_row(r.board, r.scheme, f"{r.trainable_params:,}", f"{r.peak_sram_bytes:,}", f"{r.arena_bytes:,}",
                           f"{r.package_bytes:,}", f"{r.commit_bytes:,}", fits)
        tables.append(memory)
    return tables



def profile_tables(profile: Profile, top: int = 15) -> list[Table]:
    """``tt-host profile``: one step's phases, then the ops that take the most time. On the
    emulated board times are instructions (QEMU ``-icount``), elsewhere microseconds."""
    instr = profile.counts_instructions
    unit, scale = ("instr", profile.instructions(1)) if instr else ("us", 1e6 / profile.tick_hz)

    def amount(ticks: float) -> str:
        return f"{ticks * scale / 1e6:.2f} M" if instr else f"{ticks * scale:,.0f}"

    def rate(macs: float, ticks: float) -> str:
        return f"{macs / (ticks * scale):.2f}" if instr and macs and ticks else ""

    phases = Table(title=f"one step on {profile.board}, averaged over {profile.trained} training and "
                         f"{profile.evaluated} evaluation runs", box=box.SIMPLE)
    for column in ("phase", f"{unit}/run", "share", "MACs/run", "MAC/instr"):
        phases.add_column(column, justify="left" if column == "phase" else "right")
    for name, p in profile.by_phase().items():
        phases.add_row(name, amount(p["ticks"]), f"{p['share']:.0%}", f"{p['macs']:,}" if p["macs"] else "",
                       rate(p["macs"], p["ticks"]))
    if profile.trained:
        phases.add_row("training step (measured)", amount(profile.train_ticks / profile.trained), "", "", "")
    if profile.evaluated:
        phases.add_row("evaluation step (measured)", amount(profile.eval_ticks / profile.evaluated), "", "", "")
    ops = Table(title=f"the {top} ops that take the most time", box=box.SIMPLE)
    for column in ("op", "kind", "layer", f"{unit}/run", "share", "MACs/run", "MAC/instr"):
        ops.add_column(column, justify="left" if column in ("kind", "layer") else "right", no_wrap=True)
    total = sum(r.ticks for r in profile.ops) or 1
    for r in profile.top(top):
        ops.add_row(str(r.index), r.kind, r.layer or "", amount(r.ticks_per_run), f"{r.ticks / total:.1%}",
                    f"{r.macs:,}" if r.macs else "", rate(r.macs, r.ticks_per_run))
    return [phases, ops]


def size_table(report: size_mod.SizeReport) -> Table:
    table = Table(title=f"{report.elf.name} on {report.board}")
    for column in ("section", "address", "load address", "size", "flash", "sram"):
        table.add_column(column, justify="left" if column == "section" else "right")
    for u in report.sections:
        s = u.section
        load = f"0x{s.load_address:08x}" if s.stored else ""  # NOBITS: nothing is loaded
        table.add_row(s.name, f"0x{s.address:08x}", load, str(s.size), str(u.flash or ""), str(u.sram or ""))
    table.add_section()
    table.add_row("used", "", "", "", str(report.flash_used), str(report.sram_used))
    table.add_row("budget", "", "", "", str(report.flash.size), str(report.sram.size))
    table.add_row(
        "use", "", "", "", percent(report.flash_used, report.flash.size), percent(report.sram_used, report.sram.size)
    )
    if report.model_area_bytes:  # the flash's other tenants: the uploaded package, the A/B store
        table.add_section()
        table.add_row("model area", "", "", "", str(report.model_area_bytes), "")
        table.add_row("image + model area", "", "", "", str(report.flash_reserved), "")
        table.add_row("use", "", "", "", percent(report.flash_reserved, report.flash.size), "")
    if report.external_flash is not None:
        ext = report.external_flash
        table.add_section()
        table.add_row("parameter store", f"0x{ext.base:08x}" if ext.base else "", "", str(report.store_area_bytes), "", "")
        table.add_row(ext.name, "", "", str(ext.size), "", "")
        table.add_row("use", "", "", percent(report.store_area_bytes, ext.size), "", "")
    return table


def percent(used: int, budget: int) -> str:
    text = f"{100 * used / budget:.1f}%" if budget else "-"
    return f"[red]{text}[/red]" if used > budget else text
