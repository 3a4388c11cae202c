"""Streams over a faulty cable: which fault rates a stream survives, and what they cost.

On the host twin, the demo model's stream + pull + commit (``tests/fault_session.py``: 5 camera
samples of 3 labels, 2 epochs, ``--timeout 0.3 --step-timeout 2``) runs through
``tests/faulty_link.py`` at each rate of a sweep, on a fresh twin per run, each way:

- ``all``: that share of frames dropped, corrupted, duplicated and reordered, 1/1000 of it per
  byte lost and as many flipped (no latency: it costs each frame its delay and nothing else);
- ``drop``: only that share of frames dropped.

For each run: whether all three commands completed (or the exit code and error they stopped
with), whether the pulled deltas are byte for byte the clean run's, the wall time against the
clean run's, the host's retransmissions (frames it sent beyond the clean run's: the request
sequence of a stream is fixed), and what the cable did. A run that did not complete is
rerun on a clean link, which must resume it to the clean run's deltas (``resumed_identical``).

Then the cable is cut once, on a fresh twin each time, after every ``--cut-every``-th answer
of a command's connection (``stream``, ``pull`` and ``commit`` each open one): the device has
executed the request whose answer is lost. The clean rerun must resume to the clean deltas.

    python bench/fault_link.py                 # table; writes bench/results/fault_link.json (+ .png)
    python bench/fault_link.py --seeds 1 --rates 0 0.01 --cut-every 0

Needs cmake and a C compiler (the host twin is built when missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
from pathlib import Path

from tt_host.paths import REPO_ROOT
from tt_host.tooling.boards import resolve
from tt_host.tooling.emulator import Emulator

sys.path.insert(0, str(REPO_ROOT / "tests"))  # the proxy and the session the fault tests use
from fault_session import Timeouts, sample_folder, train_pull_commit
from faulty_link import Faults, both

RESULTS = REPO_ROOT / "bench" / "results" / "fault_link.json"
RATES = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
TIMEOUTS = Timeouts(answer=0.3, step=2.0)


def faults(sweep: str, rate: float) -> dict[str, float]:
    """The faults of ``sweep`` at ``rate``, for each direction."""
    if sweep == "drop":
        return {"drop": rate}
    return {"drop": rate, "corrupt": rate, "duplicate": rate, "reorder": rate, "byte_loss": rate / 1000,
            "byte_flip": rate / 1000}


@dataclasses.dataclass
class Row:
    sweep: str
    rate: float
    seed: int
    completed: bool
    identical: bool  #: the deltas pulled are the clean run's
    exit_codes: list[int]
    error: str  #: the last line of the command that failed ("" when completed)
    wall_s: float
    slowdown: float  #: wall time over the clean run's
    retransmitted: int | None  #: host frames beyond the clean run's (None: did not complete)
    extra_s: float | None  #: wall time beyond the clean run's (None: did not complete)
    resumed_identical: bool | None  #: after a failed run, a clean rerun ends with the clean deltas
    counts: dict[str, dict[str, int]]


def run_one(folder: Path, work: Path, compiled: Path, sweep: str, rate: float, seed: int,
            clean: tuple[bytes, float, int]) -> Row:
    up, down = both(seed=seed, **faults(sweep, rate))
    with Emulator(resolve("host"), flash_image=work / "flash.img", log_path=work / "twin.log") as twin:
        run = train_pull_commit(twin.url, folder, work, up, down, timeouts=TIMEOUTS, compiled=compiled)
        resumed = None
        if not run.completed:
            again = train_pull_commit(twin.url, folder, work, timeouts=TIMEOUTS)
            resumed = again.completed and again.deltas == clean[0]
    lines = [line for line in run.outputs[-1].splitlines() if line.strip()]
    return Row(sweep, rate, seed, run.completed, run.deltas == clean[0], run.codes,
               "" if run.completed else (lines[-1] if lines else ""), round(run.wall_s, 2),
               round(run.wall_s / clean[1], 2), run.host_frames - clean[2] if run.completed else None,
               round(run.wall_s - clean[1], 2) if run.completed else None, resumed,
               run.counts)


def run_cut(folder: Path, work: Path, compiled: Path, cut_after: int, clean: tuple[bytes, float, int]
            ) -> dict[str, object]:
    """A cable cut as the device sends answer ``cut_after + 1``, then the same commands on a
    clean link."""
    with Emulator(resolve("host"), flash_image=work / "flash.img", log_path=work / "twin.log") as twin:
        run = train_pull_commit(twin.url, folder, work, down=Faults(cut_after=cut_after), timeouts=TIMEOUTS,
                                compiled=compiled)
        again = train_pull_commit(twin.url, folder, work, timeouts=TIMEOUTS)
    return {"cut_after": cut_after, "exit_codes": run.codes, "resumed_identical": again.completed
            and again.deltas == clean[0], "resume_exit_codes": again.codes}


def summary(rows: list[Row]) -> list[dict[str, object]]:
    """One line per (sweep, rate): runs completed with identical deltas, median slowdown and
    retransmissions of those, and whether every failed run resumed to the clean deltas."""
    out = []
    for key in dict.fromkeys((r.sweep, r.rate) for r in rows):
        group = [r for r in rows if (r.sweep, r.rate) == key]
        good = [r for r in group if r.completed and r.identical]
        failed = [r for r in group if not r.completed]
        out.append(dict(
            sweep=key[0], rate=key[1], runs=len(group), completed_identical=len(good),
            median_slowdown=statistics.median(r.slowdown for r in good) if good else None,
            median_retransmitted=statistics.median(r.retransmitted for r in good) if good else None,
            # What one retransmission costs: the wait for its timeout (or the line's quiet).
            s_per_retransmission=round(sum(r.extra_s for r in good) / retx, 3)
            if (retx := sum(r.retransmitted for r in good)) > 0 else None,
            failed_exit_codes=sorted({r.exit_codes[-1] for r in failed}),
            failed_resumed_identical=all(r.resumed_identical for r in failed) if failed else None,
        ))
    return out


def plot(lines: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for sweep in dict.fromkeys(str(line["sweep"]) for line in lines):
        mine = [line for line in lines if line["sweep"] == sweep]
        x = [100 * float(line["rate"]) for line in mine]
        ax1.plot(x, [line["completed_identical"] / line["runs"] for line in mine], "o-", label=sweep)
        done = [line for line in mine if line["median_slowdown"] is not None]
        ax2.plot([100 * float(line["rate"]) for line in done], [line["median_slowdown"] for line in done], "o-",
                 label=sweep)
    ax1.set(xlabel="fault rate each way (%)", ylabel="runs completed, deltas identical", ylim=(-0.05, 1.05))
    ax2.set(xlabel="fault rate each way (%)", ylabel="wall time / clean run")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("stream + pull + commit on the host twin over a faulty cable")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=RATES)
    parser.add_argument("--sweeps", nargs="+", default=["all", "drop"], choices=["all", "drop"])
    parser.add_argument("--seeds", type=int, default=2, help="runs per rate, each with its own faults")
    parser.add_argument("--cut-every", type=int, default=1, help="cut after every N-th answer (0: no cuts)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = sample_folder(root / "samples", per_label=5)
        # The first clean run compiles the plan; the reference is a second one that, like every
        # faulty run, starts with it compiled.
        with Emulator(resolve("host"), flash_image=root / "warm.img", log_path=root / "warm.log") as twin:
            warm = train_pull_commit(twin.url, folder, root / "warm", timeouts=TIMEOUTS)
        assert warm.completed, warm.outputs
        with Emulator(resolve("host"), flash_image=root / "clean.img", log_path=root / "clean.log") as twin:
            reference = train_pull_commit(twin.url, folder, root / "clean", timeouts=TIMEOUTS, compiled=root / "warm")
        assert reference.completed and reference.deltas == warm.deltas, reference.outputs
        clean = (reference.deltas, reference.wall_s, reference.host_frames)
        print(f"clean run: {reference.wall_s:.2f} s, {reference.host_frames} host frames", file=sys.stderr)
        rows = []
        for sweep in args.sweeps:
            for rate in args.rates:
                for seed in range(1, args.seeds + 1):
                    row = run_one(folder, root / f"{sweep}-{rate}-{seed}", root / "warm", sweep, rate, seed, clean)
                    rows.append(row)
                    print(f"{sweep:4} {100 * rate:5.1f}% seed {seed}: "
                          + (f"completed, identical={row.identical}, x{row.slowdown}, "
                             f"{row.retransmitted} retransmitted" if row.completed else
                             f"stopped (exit {row.exit_codes[-1]}: {row.error[:90]}), "
                             f"resumed identical={row.resumed_identical}"), file=sys.stderr)
        cuts = []
        for cut_after in range(1, clean[2], args.cut_every) if args.cut_every else ():
            cuts.append(run_cut(folder, root / f"cut-{cut_after}", root / "warm", cut_after, clean))
            print(f"cut after {cut_after} answers: {cuts[-1]}", file=sys.stderr)
    lines = summary(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(clean_s=round(clean[1], 2), clean_host_frames=clean[2],
                                        timeouts=dataclasses.asdict(TIMEOUTS), summary=lines,
                                        runs=[dataclasses.asdict(r) for r in rows], cuts=cuts), indent=1) + "\n")
    print(f"{'sweep':5} {'rate':>6} {'ok/runs':>8} {'slowdown':>9} {'retx':>6} {'s/retx':>7}  failed: exit, resumed")
    for line in lines:
        slow = f"x{line['median_slowdown']:.2f}" if line["median_slowdown"] is not None else "-"
        retx = f"{line['median_retransmitted']:g}" if line["median_retransmitted"] is not None else "-"
        cost = f"{line['s_per_retransmission']:.2f}" if line["s_per_retransmission"] is not None else "-"
        print(f"{line['sweep']:5} {100 * line['rate']:5.1f}% {line['completed_identical']:>3}/{line['runs']:<4} "
              f"{slow:>9} {retx:>6} {cost:>7}  " + (f"{line['failed_exit_codes']} {line['failed_resumed_identical']}"
                                          if line["failed_exit_codes"] else ""))
    if cuts:
        bad = [c["cut_after"] for c in cuts if not c["resumed_identical"]]
        print(f"cuts: {len(cuts)} (after 1, {1 + args.cut_every}, ... answers), resumed to the clean deltas: "
              f"{len(cuts) - len(bad)}" + (f"; not after {bad}" if bad else ""))
    try:
        plot(lines, args.out.with_suffix(".png"))
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)


if __name__ == "__main__":
    main()
