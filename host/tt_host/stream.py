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

from . import provision
from . import samples as samples_mod
from .cache import Cache, CachedPlan
from .errors import DeviceError, UsageError
from .session import DeviceSession, DeviceStats

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
) -> Schedule:
    """Load and convert every sample of ``folder`` for an input of ``shape`` (h, w, c),
    split off ``eval_split`` of each label, and order ``epochs`` passes over the rest."""
    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1, not {epochs}")
    train, held_out = folder.split(eval_split, seed)
    if not train:
        raise samples_mod.SampleError(f"{folder.root}: no samples left to train on after the {eval_split:g} split")

    def items(chosen: list[samples_mod.Sample]) -> tuple[Item, ...]:
        return tuple(Item(s.path, s.label, class_of(s.label), samples_mod.load_input(s.path, shape).tobytes())
                     for s in chosen)

    return Schedule(items(train), items(held_out), epochs, seed)


def training_arrays(schedule: Schedule, shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct training samples: ``(int8 images [N, H, W, C], class indices [N])``."""
    images = np.stack([np.frombuffer(i.data, np.int8).reshape(tuple(shape)) for i in schedule.train])
    return images, np.array([i.class_index for i in schedule.train], np.int64)


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
        }


# -- progress ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Tick:
    """One unit of progress: ``done`` of ``total`` in ``phase``; in training, the running
    loss and accuracy of this run's steps."""

    phase: str  #: "upload" (bytes), "before", "train", "after" (samples)
    done: int
    total: int
    loss: float | None = None
    accuracy: float | None = None


Progress = Callable[[Tick], None]


def _quiet(tick: Tick) -> None:
    pass


# -- the run -----------------------------------------------------------------------------------


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
          progress: Progress = _quiet) -> None:
    """Apply training steps ``start`` .. ``schedule.total - 1``; counts into ``report``."""
    t0 = time.perf_counter()
    progress(Tick("train", start, schedule.total))
    for step, item in enumerate(schedule.steps(start), start):
        session.send_sample(item.data)
        try:
            r = session.run_sample(item.class_index, train=True, step=step)
        except DeviceError as exc:
            if exc.status == Status.OUT_OF_ORDER and exc.detail == step + 1:
                # Applied by an attempt whose answer was lost with a previous connection.
                log.info("step %d was already applied", step)
                report.trained += 1
                continue
            if exc.status == Status.OUT_OF_ORDER:
                raise StreamConflict(f"the device has trained {exc.detail} samples, this stream expected {step}: "
                                     "another host is training it; run the command again to resume") from exc
            raise
        report.trained += 1
        report.train_loss_sum += r.loss
        report.train_correct += int(r.correct)
        report.train_s = time.perf_counter() - t0
        progress(Tick("train", step + 1, schedule.total, report.train_loss_sum / report.trained,
                      report.train_correct / report.trained))
    report.train_s = time.perf_counter() - t0


def stream(
    session: DeviceSession,
    plan: CachedPlan,
    schedule: Schedule,
    cache: Cache | None = None,
    progress: Progress = _quiet,
    replace_model: bool = False,
    firmware_static: int = 0,
) -> StreamReport:
    """The whole run (see the module docstring)."""
    info = session.hello()  # afresh: what the device runs decides everything below
    header_labels = plan.labels
    report = StreamReport(
        plan_hash=plan.plan_hash, model_hash=plan.model_hash, labels=tuple(header_labels),
        head_replaced=bool(plan.report.get("head_replaced", False)), scheme=plan.scheme_name,
        trainable_params=int(plan.report.get("trainable_params", 0)), total=schedule.total, start=0,
        firmware_static=firmware_static, board=info.board, core_clock_hz=info.core_clock_hz,
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
    start = session.stats().trained
    if start > schedule.total:
        raise StreamConflict(
            f"the device has trained {start} samples with this plan, more than this stream's {schedule.total}: "
            "nothing to resume (`tt-host rollback` starts over; --epochs trains more)"
        )
    report.start = start

    journal = cache.read_json(plan.plan_hash, "stream.json") if cache else None
    if start > 0 and journal and journal.get("schedule") == schedule.digest and journal.get("before"):
        report.before = Evaluation.from_dict(header_labels, journal["before"])
        report.before_resumed = True
    else:
        if start > 0:
            log.warning("resuming at step %d of %d; no record of this stream's first evaluation", start, schedule.total)
        report.before = evaluate(session, schedule.held_out, header_labels, "before", progress)
        if cache is not None and start == 0:
            cache.write_json(plan.plan_hash, "stream.json",
                             {"schedule": schedule.digest, "total": schedule.total, "before": report.before.to_dict()})
    train(session, schedule, start, report, progress)
    report.after = evaluate(session, schedule.held_out, header_labels, "after", progress)
    report.stats = session.stats()
    return report


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
) -> StreamReport:
    """``tt-host stream``: the plan for ``folder`` on the device's model (or ``model``),
    compiled (or found: same inputs, same plan) and streamed as :func:`stream` does."""
    from .compiler import load_graph
    from .compiler.report import firmware_footprint

    setup = setup or provision.TrainingSetup()
    info = session.info or session.hello()
    model_path = provision.find_model(cache, info, model)
    found = samples_mod.scan(folder)
    graph = load_graph(model_path)
    shape = graph.tensors[graph.input].shape
    head = provision.choose_head(provision.model_labels(model_path), graph.n_classes, found.labels)
    schedule = build_schedule(found, head.class_of, shape, eval_split, epochs, setup.seed)
    firmware = firmware_footprint()
    budget = provision.effective_budget(setup.budget, provision.device_budget(info, firmware.sram))
    images, labels = training_arrays(schedule, shape)
    plan = provision.prepare(cache, model_path, head, images, labels, setup, budget)
    log.info("plan %s: scheme %s, %d trainable parameters, %d-class head (%s)", plan.plan_hash[:16],
             plan.scheme_name, plan.report.get("trainable_params", 0), len(head.labels),
             "replaced" if head.replaced else "kept")
    return stream(session, plan, schedule, cache, progress, replace_model, firmware.sram_static)
