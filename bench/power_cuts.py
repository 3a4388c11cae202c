"""Power cuts of the emulated F746 at random instructions during COMMIT, ROLLBACK, LOAD of a plan
and model replacement; after each, the board boots again on the same flash and must hold the
old state or the new one, and lose no committed parameters.

A cut is a QEMU killed by a TCG plugin ``N`` guest instructions after the operation's firmware
entry point (:mod:`tt_host.tooling.power_cut`), ``N`` drawn uniformly over the operation's window
(measured once: entry point to its last answer). Every cut starts from a prepared flash image:

- ``commit``: plan P runs with 3 samples committed; the device trains the 4th, then COMMITs.
  Old = P's parameters after 3 samples (trained count 3), new = after 4 (count 4).
- ``rollback``: the same image, then ROLLBACK. Old = the committed 3, new = P's factory (0).
- ``load``: the same image, then an upload of plan Q of the same model. Old = P with its
  committed 3; new = Q at its factory parameters; ``empty`` = no plan (the model area holds one
  package, and the cut fell after its first erase and before the new package was whole).
- ``replace``: as ``load`` with plan R of another model (``LoadFlag.REPLACE_MODEL``).

Each kind alternates between two images whose newest record sits in slot A or in slot B, so
both slots are overwritten. After every load cut that does not leave P running, P is uploaded
again and must come back with its committed parameters (``lost`` otherwise).

    nice -n 10 python bench/power_cuts.py --cuts 1000 --seed 15   # writes bench/results/power_cuts.json

Needs qemu-system-arm, arm-none-eabi-gcc, cmake and a host C compiler (for the plugin).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tt_host.errors import LinkError, TtError
from tt_host.link.session import DeviceSession
from tt_host.paths import REPO_ROOT
from tt_host.recipe import LrSchedule
from tt_host.tooling import power_cut
from tt_host.tooling.boards import resolve
from tt_host.tooling.build import build
from tt_host.workflows import provision, samples
from tt_host.workflows import stream as S
from tt_host.workflows.cache import Cache

BOARD = resolve("f746-qemu")
DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
SHAPE = (32, 32, 3)
RESULTS = REPO_ROOT / "bench" / "results" / "power_cuts.json"
#: The operations, in the order cuts are spread over them.
OPERATIONS = ("commit", "rollback", "load", "replace")
#: Samples trained and committed in the prepared images; the commit's new state has one more.
COMMITTED = 3
#: Outcomes that keep the promise; anything else is a failure.
GOOD = {"old", "new", "empty"}
#: The firmware function whose first execution starts each operation's count.
ARM = {"commit": "tt_trainer_commit", "rollback": "tt_trainer_rollback",
       "load": "tt_upload_begin", "replace": "tt_upload_begin"}


@dataclasses.dataclass(frozen=True)
class State:
    """What a device runs: the plan (hash, None without one), its parameter image, trained count."""

    plan: str | None
    image: bytes = b""
    trained: int = 0


@dataclasses.dataclass
class Setup:
    """The plans, the reference states and the prepared flash images of a campaign."""

    work: Path
    packages: dict[str, bytes]  #: "P", "Q" (P's model), "R" (another model) -> package
    steps: list[tuple[bytes, int]]  #: the training samples: (input, class index)
    states: dict[str, State]  #: "committed", "trained" (one more sample), "factory", "Q", "R"
    images: list[Path]  #: flash images with P and 3 committed samples, newest record in slot A, B

    def train(self, session: DeviceSession, start: int, stop: int) -> None:
        rates = LrSchedule.for_steps(len(self.steps))
        for step in range(start, stop):
            data, label = self.steps[step]
            session.send_sample(data)
            session.run_sample(label, train=True, step=step, lr_scale=rates.scale_q16(step))


def _compile(cache: Cache, model: Path, found: samples.SampleFolder, scheme: str) -> tuple[bytes, S.Schedule]:
    head = provision.choose_head(provision.model_labels(model), 6, found.labels)
    schedule = S.build_schedule(found, head.class_of, SHAPE, 0.0, 1, 0)
    images, labels = S.training_arrays(schedule, SHAPE)
    setup = provision.TrainingSetup(scheme=scheme, lr=0.01)
    plan = provision.prepare(cache, model, head, images, labels, setup, provision.DeviceLimits(200 * 1024))
    return plan.package, schedule


def _read(session: DeviceSession) -> State:
    """The state the device holds: its plan, and with one its parameters and trained count."""
    plan = session.hello().plan_hash
    if plan is None:
        return State(None)
    return State(plan, session.pull(), session.stats().trained)


def prepare(work: Path) -> Setup:
    """Compile P, Q and R, then make the flash images and read the reference states on QEMU."""
    folder = work / "samples"
    for label in sorted(p.name for p in CAMERA.iterdir()):
        (folder / label).mkdir(parents=True)
        for f in sorted((CAMERA / label).iterdir())[:2]:
            shutil.copy(f, folder / label / f.name)
    found = samples.scan(folder)
    cache = Cache(work / "tt-home")
    other = work / "other-int8.tflite"  # another model: the demo's bytes and four more
    other.write_bytes(DEMO.read_bytes() + bytes(4))
    packages, schedules = {}, {}
    for name, model, scheme in (("P", DEMO, "last-layer"), ("Q", DEMO, "bias-only"), ("R", other, "last-layer")):
        packages[name], schedules[name] = _compile(cache, model, found, scheme)
    steps = [(item.data, item.class_index) for item in schedules["P"].steps()]  # only P trains
    setup = Setup(work, packages, steps, {}, [])
    build(BOARD, if_needed=True)
    cutter = power_cut.PowerCutter(BOARD, ARM["commit"], work)
    flash = work / "flash.img"
    emulator = cutter.boot(flash, log="prepare.log")
    try:
        with power_cut.session_on(emulator) as session:
            session.hello()
            session.upload(packages["P"], replace_model=True)
            setup.states["factory"] = _read(session)
            setup.train(session, 0, COMMITTED)
            for slot in "AB":  # the same record twice: the newest in slot A, then in slot B
                session.commit()
                image = work / f"committed-{slot}.img"
                shutil.copyfile(flash, image)
                setup.images.append(image)
            setup.states["committed"] = _read(session)
            setup.train(session, COMMITTED, COMMITTED + 1)
            setup.states["trained"] = _read(session)
            session.upload(packages["Q"])
            setup.states["Q"] = _read(session)
            session.upload(packages["R"], replace_model=True)
            setup.states["R"] = _read(session)
    finally:
        emulator.stop()
    assert setup.states["committed"].trained == COMMITTED and setup.states["trained"].trained == COMMITTED + 1
    return setup


@dataclasses.dataclass(frozen=True)
class Operation:
    """One kind of cut: what runs before (not counted), the operation, its old and new state."""

    name: str
    before: power_cut.Action
    action: power_cut.Action
    old: State
    new: State
    #: a load: the plan that was running, uploaded again after a cut that unloaded it
    reload: bytes | None = None


def operations(setup: Setup) -> dict[str, Operation]:
    st = setup.states
    committed, hello = st["committed"], (lambda s: s.hello())

    def train_one(session: DeviceSession) -> None:
        session.hello()
        setup.train(session, COMMITTED, COMMITTED + 1)

    return {
        "commit": Operation("commit", train_one, lambda s: s.commit(), committed, st["trained"]),
        "rollback": Operation("rollback", hello, lambda s: s.rollback(), committed, st["factory"]),
        "load": Operation("load", hello, lambda s: s.upload(setup.packages["Q"]), committed, st["Q"],
                          setup.packages["P"]),
        "replace": Operation("replace", hello, lambda s: s.upload(setup.packages["R"], replace_model=True),
                             committed, st["R"], setup.packages["P"]),
    }


def judge(op: Operation, session: DeviceSession) -> str:
    """The outcome of a cut, read from the device booted again: ``old``, ``new``, ``empty`` (a
    load left no plan), or a failure: ``mixed`` (a state that is neither), ``lost`` (the old plan,
    uploaded again, does not get its committed parameters back)."""
    state = _read(session)
    if state == op.old:
        return "old"
    if op.reload is None:
        return "new" if state == op.new else "mixed"
    outcome = "new" if state == op.new else "empty" if state.plan is None else "mixed"
    session.upload(op.reload, replace_model=True)
    return outcome if _read(session) == op.old else "lost"


def cut_once(setup: Setup, cutter: power_cut.PowerCutter, op: Operation, image: Path, instructions: int) -> dict:
    """Cut ``op`` after ``instructions`` on a copy of ``image``, boot again, judge. Besides
    :func:`judge`'s outcomes: ``fault`` (QEMU ended otherwise than by the cut), ``dead`` (no
    HELLO after the cut), ``error`` (a request refused or lost while judging)."""
    flash = setup.work / "cut.img"
    shutil.copyfile(image, flash)
    row = {"instructions": instructions, "cut": False, "outcome": "", "error": ""}
    try:
        result = cutter.cut_during(flash, op.before, op.action, instructions)
    except LinkError as exc:
        return {**row, "outcome": "fault", "error": str(exc)}
    row.update(cut=result.cut)
    emulator = cutter.boot(flash, log="after-cut.log")
    try:
        with power_cut.session_on(emulator) as session:
            try:
                session.hello()
            except TtError as exc:
                return {**row, "outcome": "dead", "error": str(exc)}
            try:
                return {**row, "outcome": judge(op, session)}
            except TtError as exc:
                return {**row, "outcome": "error", "error": str(exc)}
    finally:
        emulator.stop()


def campaign(setup: Setup, cuts: int, seed: int, ops: tuple[str, ...] = OPERATIONS,
             progress: Callable[[str, dict], None] | None = None, edges: bool = False) -> dict:
    """``cuts`` cuts spread evenly over ``ops`` at instants drawn with ``seed``; with ``edges``
    each operation's first four cuts fall on its windows' ends (before its first instruction,
    at its last answer, on each image). Returns the report: per operation the window, cuts and outcomes."""
    rng = random.Random(seed)
    report = {}
    all_ops = operations(setup)
    for k, name in enumerate(ops):
        op = all_ops[name]
        cutter = power_cut.PowerCutter(BOARD, ARM[name], setup.work)
        windows = []  # per image: the slot written decides the erase and program steps
        for image in setup.images:
            measured = setup.work / "measure.img"
            shutil.copyfile(image, measured)
            windows.append(cutter.measure(measured, op.before, op.action))
        n = cuts // len(ops) + (1 if k < cuts % len(ops) else 0)
        instants = [rng.randint(0, windows[i % 2]) for i in range(n)]
        if edges:
            instants[:4] = [0, 0, windows[0], windows[1]][:n]
        outcomes: Counter[str] = Counter()
        late = 0  # cuts drawn past the end of this run's operation (its count varies a little)
        spans: dict[str, list[int]] = {}  # outcome -> first and last instant that gave it
        failures = []
        t0 = time.perf_counter()
        for i, instructions in enumerate(instants):
            row = cut_once(setup, cutter, op, setup.images[i % 2], instructions)
            outcomes[row["outcome"]] += 1
            late += not row["cut"]
            if row["cut"]:
                span = spans.setdefault(row["outcome"], [instructions, instructions])
                span[:] = [min(span[0], instructions), max(span[1], instructions)]
            if row["outcome"] not in GOOD:
                failures.append(row)
            if progress is not None:
                progress(name, row)
        report[name] = {"window_instructions": windows, "cuts": n, "outcomes": dict(sorted(outcomes.items())),
                        "finished_before_the_cut": late, "instants": dict(sorted(spans.items())),
                        "failures": failures, "seconds": round(time.perf_counter() - t0, 1)}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuts", type=int, default=1000, help="cuts in all, spread over the operations")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--ops", default=",".join(OPERATIONS), help="comma-separated subset of " + ",".join(OPERATIONS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    ops = tuple(args.ops.split(","))
    with tempfile.TemporaryDirectory(prefix="power-cuts-") as tmp:
        t0 = time.perf_counter()
        setup = prepare(Path(tmp))
        done = Counter()

        def progress(name: str, row: dict) -> None:
            done[name] += 1
            if row["outcome"] not in GOOD or done[name] % 25 == 0:
                print(f"{name}: {done[name]} cuts, last at {row['instructions']}: {row['outcome']}", file=sys.stderr)

        report = campaign(setup, args.cuts, args.seed, ops, progress, edges=True)
        wall = time.perf_counter() - t0
    result = {"board": BOARD.name, "seed": args.seed, "cuts": sum(r["cuts"] for r in report.values()),
              "wall_s": round(wall, 1), "operations": report}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name, r in report.items():
        outcomes = ", ".join(f"{k} {v}" for k, v in r["outcomes"].items())
        window = "/".join(f"{w:,}" for w in r["window_instructions"])
        print(f"{name:9s} window {window:>21s} instructions  cuts {r['cuts']:4d}  {outcomes}")
    bad = sum(len(r["failures"]) for r in report.values())
    print(f"{result['cuts']} cuts in {wall:.0f} s; {bad} bad outcomes; {args.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
