"""Streaming a sample folder to a device: evaluate, train, evaluate.

**The schedule.** A stream is a deterministic sequence of training steps: the folder's
samples minus the held-out split (a share of each label, chosen by the seed), one seeded
permutation per epoch. Training step *k* is the *k*-th sample of that sequence, and the
device counts the samples it has trained since its plan was loaded (``STATS.trained``), so a
stream that stopped (connection lost, host killed, board reset after a COMMIT) continues at
exactly the step the device stands at: run the same command again. A training request
carries its step and the device refuses one it has already applied (OUT_OF_ORDER), so no
sample is ever applied twice, not even when an answer is lost on the way back.

**A run** (:func:`stream`): upload the plan unless the device already runs it, evaluate the
held-out samples (before), train from the device's step to the end of the schedule, evaluate
again (after), read the device's STATS. The first evaluation of a stream is kept in the
cache (``stream.json``), so a resumed stream still reports the accuracy it started from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tt_protocol.status import Status

from tt_host.workflows import provision, rate
from tt_host.workflows import samples as samples_mod
from tt_host.workflows.cache import Cache, CachedPlan
from tt_host.errors import DeviceError, UsageError
from tt_host.recipe import LrSchedule
from tt_host.link.session import DeviceSession, DeviceStats

log = logging.getLogger(__name__)


class StreamConflict(UsageError):
    """The device's state does not belong to this stream (it trained further, or elsewhere)."""


@dataclasses.dataclass(frozen=True)
class Item:
    """One sample as the device receives it."""

    path: Path
    label: str
    class_index: int
    data: bytes  #: the int8 input tensor, NHWC


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The training steps and held-out samples of a stream (see the module docstring)."""

    train: tuple[Item, ...]
    held_out: tuple[Item, ...]
    epochs: int
    seed: int

    @property
    def total(self) -> int:
        """Training steps of the whole stream."""
        return len(self.train) * self.epochs

    def order(self, epoch: int) -> list[int]:
        """Indices into :attr:`train` of epoch ``epoch``'s steps."""
        order = list(range(len(self.train)))
        random.Random(f"tt-stream/{self.seed}/{epoch}").shuffle(order)
        return order

    def steps(self, start: int = 0) -> list[Item]:
        """The items of training steps ``start`` .. ``total - 1``."""
        n = len(self.train)
        out: list[Item] = []
        for epoch in range(start // n if n else 0, self.epochs):
            order = self.order(epoch)
            first = max(start - epoch * n, 0)
            out += [self.train[i] for i in order[first:]]
        return out

    @property
    def digest(self) -> str:
        """Identity of the schedule: its samples, their labels and bytes, the seed (hex)."""
        h = hashlib.sha256(f"{self.seed}/{len(self.train)}/{len(self.held_out)}".encode())
        for item in self.train + self.held_out:
            h.update(f"{item.label}/{item.class_index}/{item.path.name}".encode())
            h.update(hashlib.sha256(item.data).digest())
        return h.hexdigest()


def build_schedule(
    folder: samples_mod.SampleFolder,
    class_of: Callable[[str], int],
    shape: Sequence[int],
    eval_split: float = 0.2,
    epochs: int = 1,
    seed: int = 0,
    quant: tuple[float, int] | None = None,
) -> Schedule:
    """Load and convert every sample of ``folder`` for an input of ``shape`` (quantization
    ``quant``: scale, zero point, for float sensor arrays), split off ``eval_split`` of each
    label, and order ``epochs`` passes over the rest."""
    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1, not {epochs}")
    train, held_out = folder.split(eval_split, seed)
    if not train:
        raise samples_mod.SampleError(f"{folder.root}: no samples left to train on after the {eval_split:g} split")

    def items(chosen: list[samples_mod.Sample]) -> tuple[Item, ...]:
        return tuple(Item(s.path, s.label, class_of(s.label), samples_mod.load_input(s.path, shape, quant).tobytes())
                     for s in chosen)

    return Schedule(items(train), items(held_out), epochs, seed)


def training_arrays(schedule: Schedule, shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct training samples: ``(int8 images [N, H, W, C], class indices [N])``."""
    return _arrays(schedule.train, shape)


def held_out_arrays(schedule: Schedule, shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The held-out samples, as :func:`training_arrays` gives the training ones."""
    return _arrays(schedule.held_out, shape)


def _arrays(items: Sequence[Item], shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    if not items:
        return np.zeros((0, *shape), np.int8), np.zeros(0, np.int64)
    images = np.stack([np.frombuffer(i.data, np.int8).reshape(tuple(shape)) for i in items])
    return images, np.array([i.class_index for i in items], np.int64)


# -- results -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Evaluation:
    """Held-out results: per label, samples and correct predictions."""

    labels: tuple[str, ...]
    counts: dict[str, list[int]] = dataclasses.field(default_factory=dict)  #: label -> [n, correct]
    loss_sum: float = 0.0

    def add(self, label: str, correct: bool, loss: float) -> None:
        n_correct = self.counts.setdefault(label, [0, 0])
        n_correct[0] += 1
        n_correct[1] += int(correct)
        self.loss_sum += loss

    @property
    def n(self) -> int:
        return sum(n for n, _ in self.counts.values())

    @property
    def correct(self) -> int:
        return sum(c for _, c in self.counts.values())

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def loss(self) -> float | None:
        return self.loss_sum / self.n if self.n else None

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.n, "correct": self.correct, "accuracy": self.accuracy, "loss": self.loss,
                "per_label": {k: {"samples": n, "correct": c} for k, (n, c) in sorted(self.counts.items())}}

    @classmethod
    def from_dict(cls, labels: Sequence[str], data: dict[str, Any]) -> Evaluation:
        e = cls(tuple(labels))
        e.counts = {k: [int(v["samples"]), int(v["correct"])] for k, v in data.get("per_label", {}).items()}
        e.loss_sum = float(data.get("loss") or 0.0) * e.n
        return e


@dataclasses.dataclass
class StreamReport:
    """What a run of :func:`stream` did and measured."""

    plan_hash: str
    model_hash: str
    labels: tuple[str, ...]
    head_replaced: bool
    scheme: str
    trainable_params: int
    total: int  #: training steps of the whole schedule
    start: int  #: the device's step when this run began (> 0: resumed)
    trained: int = 0  #: training steps this run applied
    uploaded: bool = False
    upload_bytes: int = 0
    upload_s: float = 0.0
    before: Evaluation | None = None
    before_resumed: bool = False  #: ``before`` is the stream's first evaluation, kept in the cache
    after: Evaluation | None = None
    train_loss_sum: float = 0.0
    train_correct: int = 0
    train_s: float = 0.0  #: host wall time of the training steps (link included)
    stats: DeviceStats | None = None
    firmware_static: int = 0  #: the firmware's .data + .bss outside the arena
    board: str = ""  #: the device's board name (INFO)
    core_clock_hz: int = 0
    keep_last: bool = False  #: ``--keep-last``: end with the last state, evaluated or not
    learning_rate: str = ""  #: the plan's rate and, for ``--lr auto``, how it was chosen
    #: every evaluated state of the stream: ``(name, trained, evaluation, committed)``; name
    #: "start", "epoch N" or "diverged"
    epochs: list = dataclasses.field(default_factory=list)
    kept: str = ""  #: which of them the device holds at the end
    kept_reason: str = ""
    diverged_at: int | None = None  #: the device's divergence guard stopped training at this step
    skipped: int = 0  #: training steps the device skipped (saturated logits: nothing applied)
    link_bytes: int = 0  #: bytes this run put on the wire, both ways (upload included)
    device_s: float = 0.0  #: device time of this run's steps (emulated seconds on QEMU: instructions x 1 ns)
    baud: int = 115_200  #: the link's rate after HELLO's negotiation, for the projection
    #: how ``baud`` was reached: "negotiated" on a serial port; "negotiated, not paced" with an
    #: emulator, whose twin accepts the real board's rates but passes bytes at any speed (the
    #: rate the board's link would reach); "" when not negotiated
    baud_source: str = ""

    @property
    def projected_link_s(self) -> float:
        """This run's bytes at the link's negotiated rate (8N1: 10 bits a byte; requests and
        answers take turns)."""
        return self.link_bytes * 10 / self.baud

    @property
    def projected_compute_s(self) -> float | None:
        """This run's device time on the real board: QEMU's instructions at its core clock, one
        per cycle; a board's own time; None for the host twin (its time is this computer's)."""
        if self.board.endswith("-qemu"):
            return self.device_s * 1e9 / self.core_clock_hz if self.core_clock_hz else None
        return None if self.board == "host" else self.device_s

    @property
    def samples_per_s(self) -> float | None:
        return self.trained / self.train_s if self.trained and self.train_s > 0 else None

    @property
    def peak_sram(self) -> int | None:
        """Arena in use + deepest stack + the firmware's static RAM."""
        if self.stats is None:
            return None
        return self.stats.arena_used + self.stats.stack_peak + self.firmware_static

    def to_dict(self) -> dict[str, Any]:
        stats = self.stats
        return {
            "board": self.board, "plan_hash": self.plan_hash, "model_hash": self.model_hash, "labels": list(self.labels),
            "head_replaced": self.head_replaced, "scheme": self.scheme, "trainable_params": self.trainable_params,
            "total_steps": self.total, "resumed_from": self.start, "trained_now": self.trained,
            "uploaded": self.uploaded, "upload_bytes": self.upload_bytes, "upload_s": self.upload_s,
            "before": self.before.to_dict() if self.before else None, "before_resumed": self.before_resumed,
            "after": self.after.to_dict() if self.after else None,
            "train_loss": self.train_loss_sum / self.trained if self.trained else None,
            "train_accuracy": self.train_correct / self.trained if self.trained else None,
            "train_s": self.train_s, "samples_per_s": self.samples_per_s,
            "instructions_per_step": stats.instructions_per_step if stats else None,
            "device_s_per_step": stats.seconds_per_step if stats else None,
            "peak_sram_bytes": self.peak_sram, "firmware_static_bytes": self.firmware_static,
            "stats": stats.to_dict() if stats else None,
            "evaluations": [{"name": name, "trained": trained, "committed": committed, **e.to_dict()}
                            for name, trained, e, committed in self.epochs],
            "kept": self.kept, "kept_reason": self.kept_reason, "keep_last": self.keep_last,
            "learning_rate": self.learning_rate,
            "diverged_at": self.diverged_at, "skipped": self.skipped,
            "link_bytes": self.link_bytes, "baud": self.baud, "baud_source": self.baud_source,
            "projected_link_s": self.projected_link_s,
            "projected_compute_s": self.projected_compute_s,
        }


# -- progress ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Tick:
    """One unit of progress: ``done`` of ``total`` in ``phase``; in training, the running
    loss and accuracy of this run's steps."""

    phase: str  #: "upload" (bytes), "before", "train", "epoch N" (its evaluation), "after" (samples)
    done: int
    total: int
    loss: float | None = None
    accuracy: float | None = None


Progress = Callable[[Tick], None]


def _quiet(tick: Tick) -> None:
    pass


# -- the run -----------------------------------------------------------------------------------


class _Diverged(Exception):
    """The device's divergence guard refused a training step."""

    def __init__(self, trained: int) -> None:
        super().__init__(f"the device stopped training after {trained} steps: divergence")
        self.trained = trained


def better(a: Evaluation, b: Evaluation) -> bool:
    """``a`` beats ``b`` on the held-out samples: more correct, or as many at a lower loss."""
    return (a.correct, -(a.loss or 0.0)) > (b.correct, -(b.loss or 0.0))


def evaluate(session: DeviceSession, items: Sequence[Item], labels: Sequence[str], phase: str = "evaluate",
             progress: Progress = _quiet) -> Evaluation:
    """Run every item without training; nothing on the device changes but its counters."""
    result = Evaluation(tuple(labels))
    progress(Tick(phase, 0, len(items)))
    for i, item in enumerate(items):
        session.send_sample(item.data)
        r = session.run_sample(item.class_index, train=False)
        result.add(item.label, r.correct, r.loss)
        progress(Tick(phase, i + 1, len(items), result.loss, result.accuracy))
    return result


def train(session: DeviceSession, schedule: Schedule, start: int, report: StreamReport,
          progress: Progress = _quiet, stop: int | None = None) -> None:
    """Apply training steps ``start`` .. ``stop - 1`` (the end of the schedule by default),
    each at the recipe's learning-rate scale for its step (:class:`~tt_host.recipe.LrSchedule`
    over the whole schedule); counts into ``report``. Raises :class:`_Diverged` when the
    device's divergence guard refuses a step."""
    stop = schedule.total if stop is None else stop
    rates = LrSchedule.for_steps(schedule.total)
    t0 = time.perf_counter() - report.train_s
    progress(Tick("train", start, schedule.total))
    for step, item in enumerate(schedule.steps(start)[: stop - start], start):
        session.send_sample(item.data)
        try:
            r = session.run_sample(item.class_index, train=True, step=step, lr_scale=rates.scale_q16(step))
        except DeviceError as exc:
            if exc.status == Status.OUT_OF_ORDER and exc.detail == step + 1:
                # Applied by an attempt whose answer was lost with a previous connection.
                log.info("step %d was already applied", step)
                report.trained += 1
                continue
            if exc.status == Status.OUT_OF_ORDER:
                raise StreamConflict(f"the device has trained {exc.detail} samples, this stream expected {step}: "
                                     "another host is training it; run the command again to resume") from exc
            if exc.status == Status.DIVERGED:
                raise _Diverged(exc.detail) from exc
            raise
        report.trained += 1
        report.skipped += int(r.skipped)
        report.train_loss_sum += r.loss
        report.train_correct += int(r.correct)
        report.train_s = time.perf_counter() - t0
        progress(Tick("train", step + 1, schedule.total, report.train_loss_sum / report.trained,
                      report.train_correct / report.trained))
    report.train_s = time.perf_counter() - t0


class _Journal:
    """What the cache keeps of a stream (``stream.json`` beside its plan): its evaluations,
    which state the device commits as the best so far, what the run kept. A resumed run reads
    it, so it knows the accuracy it started from and which state to keep; ``tt-host commit``
    reads it to refuse storing parameters evaluated worse than the committed ones."""

    def __init__(self, cache: Cache | None, plan_hash: str, schedule: Schedule, labels: Sequence[str]) -> None:
        self.cache, self.plan_hash, self.labels = cache, plan_hash, tuple(labels)
        data = cache.read_json(plan_hash, "stream.json") if cache else None
        self.data: dict[str, Any] = data if data and data.get("schedule") == schedule.digest else {}
        self.data.setdefault("schedule", schedule.digest)
        self.data["total"] = schedule.total
        self.data["labels"] = list(self.labels)

    def evaluation(self, entry: dict[str, Any]) -> Evaluation:
        return Evaluation.from_dict(self.labels, entry["evaluation"])

    @property
    def states(self) -> list[dict[str, Any]]:
        """Evaluated states: ``{"name", "trained", "evaluation", "sequence"}`` in order, the
        starting state first (``sequence``: the store record holding it, None when none)."""
        return self.data.setdefault("states", [])

    def add(self, name: str, trained: int, evaluation: Evaluation, sequence: int | None) -> dict[str, Any]:
        self.data["states"] = [s for s in self.states if s["name"] != name]
        entry = {"name": name, "trained": trained, "evaluation": evaluation.to_dict(), "sequence": sequence}
        self.states.append(entry)
        self.save()
        return entry

    def find(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.states if s["name"] == name), None)

    def save(self) -> None:
        if self.cache is not None:
            self.cache.write_json(self.plan_hash, "stream.json", self.data)


def _device_seconds(stats: DeviceStats) -> float:
    return (stats.train_ticks + stats.eval_ticks) / stats.tick_hz if stats.tick_hz else 0.0


def _baud_source(session: DeviceSession) -> str:
    """StreamReport.baud_source for the session's rate."""
    if not session.link_rates:
        return ""
    return "negotiated" if session.transport.paced else "negotiated, not paced"


def stream(
    session: DeviceSession,
    plan: CachedPlan,
    schedule: Schedule,
    cache: Cache | None = None,
    progress: Progress = _quiet,
    replace_model: bool = False,
    firmware_static: int = 0,
    keep_last: bool = False,
) -> StreamReport:
    """The whole run (see the module docstring)."""
    info = session.hello()  # afresh: what the device runs decides everything below
    session.sample_stride = plan.input_channels
    wire_at_start = session.wire_bytes
    header_labels = plan.labels
    report = StreamReport(
        plan_hash=plan.plan_hash, model_hash=plan.model_hash, labels=tuple(header_labels),
        head_replaced=bool(plan.report.get("head_replaced", False)), scheme=plan.scheme_name,
        trainable_params=int(plan.report.get("trainable_params", 0)), total=schedule.total, start=0,
        firmware_static=firmware_static, board=info.board, core_clock_hz=info.core_clock_hz, keep_last=keep_last,
        learning_rate=_rate_text(plan.report.get("train", {})), baud=session.baud,
        baud_source=_baud_source(session),
    )
    if info.plan_hash != plan.plan_hash:
        if info.model_hash not in (None, plan.model_hash) and not replace_model:
            raise UsageError(
                f"the device runs another model ({info.model_hash[:16]}...) than this plan's "
                f"({plan.model_hash[:16]}...): pass --replace-model to re-provision it"
            )
        package = plan.package
        t0 = time.perf_counter()
        progress(Tick("upload", 0, len(package)))
        session.upload(package, lambda sent, total: progress(Tick("upload", sent, total)),
                       replace_model=replace_model)
        report.uploaded, report.upload_bytes, report.upload_s = True, len(package), time.perf_counter() - t0
    device = session.stats()
    start = device.trained
    if start > schedule.total:
        raise StreamConflict(
            f"the device has trained {start} samples with this plan, more than this stream's {schedule.total}: "
            "nothing to resume (`tt-host rollback` starts over; --epochs trains more)"
        )
    report.start = start
    journal = _Journal(cache, plan.plan_hash, schedule, header_labels)

    first = journal.find("start")
    finished = journal.data.get("kept")
    done = finished is not None and finished["trained"] == start and finished["total"] == schedule.total
    if first is not None and (start > 0 or done):
        report.before = journal.evaluation(first)
        report.before_resumed = True
        if not done:  # states past the device's step belong to a run it no longer holds
            journal.data["states"] = [s for s in journal.states if s["trained"] <= start]
    else:
        if start > 0:
            log.warning("resuming at step %d of %d; no record of this stream's first evaluation", start, schedule.total)
        report.before = evaluate(session, schedule.held_out, header_labels, "before", progress)
        journal.data["states"] = []
        # Until a better state is committed, the newest record (or the factory parameters) is
        # what a REVERT restores: this very state, since nothing has trained since the load.
        first = journal.add("start", start, report.before, device.commit_sequence or None)
    if done:
        # This stream ran to its end and the device holds the state it kept: nothing to do.
        report.after = journal.evaluation(journal.find(finished["name"]))
        report.kept, report.kept_reason = finished["name"], "kept by the earlier run of this stream"
        report.epochs = _epochs(journal)
        report.stats = session.stats()
        report.link_bytes = session.wire_bytes - wire_at_start
        return report

    # This run commits a state only when it beats every one before: the newest committed is the
    # best; the device's own state is the newest evaluated at its step, if any.
    best = next((s for s in reversed(journal.states) if s is not first and s["sequence"] is not None), first)
    last = next((s for s in reversed(journal.states) if s["trained"] == start), None)
    n = len(schedule.train)
    # A run cut off after an epoch's last step, before its evaluation, first evaluates (and, if
    # best, commits) that epoch, as the uninterrupted run did: its kept state is the same.
    unevaluated = last is None and start > 0 and start % n == 0
    try:
        for epoch in range(start // n - unevaluated, schedule.epochs):
            stop = (epoch + 1) * n
            train(session, schedule, start + report.trained, report, progress, stop)
            name = f"epoch {epoch + 1}"
            evaluation = evaluate(session, schedule.held_out, header_labels, name, progress)
            sequence = None
            if not keep_last and better(evaluation, journal.evaluation(best)):
                sequence, _ = session.commit()
            last = journal.add(name, stop, evaluation, sequence)
            if sequence is not None:
                best = last
    except _Diverged as exc:
        report.diverged_at = exc.trained
        evaluation = evaluate(session, schedule.held_out, header_labels, "after divergence", progress)
        last = journal.add("diverged", exc.trained, evaluation, None)
    report.epochs = _epochs(journal)
    report.stats = session.stats()  # what this run measured (a revert zeroes the counters)
    report.device_s = _device_seconds(report.stats) - _device_seconds(device)
    kept = last
    if keep_last:
        report.kept_reason = "--keep-last"
    elif last is not best:
        sequence, _ = session.revert()
        restored = session.stats().trained
        # The start is whatever the device loads (a record, or the factory parameters); an
        # epoch is the record this run committed.
        if restored != best["trained"] or (best is not first and sequence != best["sequence"]):
            raise StreamConflict(f"reverting to {best['name']} restored record {sequence} at step {restored}, "
                                 f"expected record {best['sequence']} at step {best['trained']}: the device's store "
                                 "changed during the stream")
        kept = best
        report.kept_reason = ("diverged: " if report.diverged_at is not None else "") + (
            f"{best['name']} scored best on the held-out samples" if best is not first
            else "no epoch beat the starting parameters")
    else:
        report.kept_reason = "the last state scored best on the held-out samples"
    report.kept = kept["name"]
    report.after = journal.evaluation(kept)
    journal.data["kept"] = {"name": kept["name"], "trained": kept["trained"], "total": schedule.total}
    journal.save()
    report.link_bytes = session.wire_bytes - wire_at_start
    return report


def commit_refusal(cache: Cache, plan_hash: str, trained: int, commit_sequence: int) -> str | None:
    """Why ``tt-host commit`` should not store the device's parameters (``trained`` steps of
    plan ``plan_hash``) over its newest record (``commit_sequence``), or None: the stream's
    journal holds an evaluation of both states and the committed one scored better on the
    held-out samples. None too when either state was never evaluated."""
    data = cache.read_json(plan_hash, "stream.json") or {}
    states = data.get("states", [])
    current = next((s for s in reversed(states) if s["trained"] == trained), None)
    committed = next((s for s in states if (s["sequence"] or 0) == commit_sequence
                      and (s["sequence"] is not None or s["name"] == "start")), None)
    if current is None or committed is None or current is committed:
        return None
    labels = tuple(data.get("labels", ()))
    now, then = Evaluation.from_dict(labels, current["evaluation"]), Evaluation.from_dict(labels, committed["evaluation"])
    if not better(then, now):
        return None
    return (f"the device's parameters ({current['name']}, {trained} steps) scored {100 * (now.accuracy or 0):.1f}% "
            f"on the held-out samples, the committed ones ({committed['name']}) {100 * (then.accuracy or 0):.1f}%: "
            "not committed (--force stores them anyway)")


def _rate_text(train: dict[str, Any]) -> str:
    if "lr" not in train:
        return ""
    auto = train.get("lr_auto")
    return rate.describe(rate.Choice.from_dict(auto) if auto else None, train["lr"])


def _epochs(journal: _Journal) -> list[tuple[str, int, Evaluation, bool]]:
    """``(name, trained, evaluation, committed)`` of every evaluated state, in order."""
    return [(s["name"], s["trained"], journal.evaluation(s), s["sequence"] is not None) for s in journal.states]


def stream_folder(
    session: DeviceSession,
    folder: str | Path,
    cache: Cache,
    setup: provision.TrainingSetup | None = None,
    model: str | Path | None = None,
    eval_split: float = 0.2,
    epochs: int = 1,
    replace_model: bool = False,
    progress: Progress = _quiet,
    keep_last: bool = False,
) -> StreamReport:
    """``tt-host stream``: the plan for ``folder`` on the device's model (or ``model``),
    compiled (or found: same inputs, same plan) and streamed as :func:`stream` does."""
    from tt_host.compiler.report import firmware_footprint

    setup = setup or provision.TrainingSetup()
    info = session.info or session.hello()
    model_path = provision.find_model(cache, info, model)
    firmware = firmware_footprint()
    limits = provision.DeviceLimits.of(info, firmware.sram, setup.budget)
    plan, schedule = folder_plan(folder, cache, model_path, setup, limits, eval_split, epochs)
    return stream(session, plan, schedule, cache, progress, replace_model, firmware.sram_static, keep_last)


def folder_plan(folder: str | Path, cache: Cache, model: str | Path, setup: provision.TrainingSetup,
                limits: provision.DeviceLimits, eval_split: float = 0.2,
                epochs: int = 1) -> tuple[CachedPlan, Schedule]:
    """The plan that trains ``model`` on ``folder`` within ``limits`` (compiled, or found in
    ``cache``: the same inputs give the same plan), and the folder's schedule. A board flashed
    with this plan (``tt-host flash --model``) is streamed the same folder without an upload."""
    from tt_host.compiler import load_graph

    found = samples_mod.scan(folder)
    graph = load_graph(model)
    sample = graph.tensors[graph.input]
    shape = sample.shape
    head = provision.choose_head(provision.model_labels(model), graph.n_classes, found.labels)
    schedule = build_schedule(found, head.class_of, shape, eval_split, epochs, setup.seed,
                              (sample.scale, sample.zero_point))
    images, labels = training_arrays(schedule, shape)
    plan = provision.prepare(cache, model, head, images, labels, setup, limits, held_out_arrays(schedule, shape))
    log.info("plan %s: scheme %s, %d trainable parameters, %d-class head (%s)", plan.plan_hash[:16],
             plan.scheme_name, plan.report.get("trainable_params", 0), len(head.labels),
             "replaced" if head.replaced else "kept")
    return plan, schedule
