"""``--lr auto``: the learning rate chosen by a short trial of the plan on this computer.

The right rate depends on what trains: the recipe's 0.003 suits the published ~100 KB schemes
of the shared models (lr 0.001 to 0.01 all converge there, `docs/LEARNING.md`), but updating
every layer of MobileNetV2 at that rate collapses in a few dozen steps, in int8 and in float
alike. Instead of a formula, the host measures: the plan's training step runs bit for bit as on
the device in the host build of the executor (``tt_host.native``), so each candidate rate
(:data:`CANDIDATES` times ``recipe.LR``) trains the first :data:`TRIAL_STEPS` samples of one
seeded pass, with the recipe's warm-up, and the held-out samples are evaluated after it. The
rate kept is the one with the lowest held-out loss (ties: the lower rate); a candidate that
leaves the held-out loss above where it started, or trips the device's divergence guard, is
out, and when every one is, the lowest rate is used.

The trial depends only on the plan, the samples and the seed (not on the number of epochs), so
the same stream compiles the same plan again and resumes; its result is cached by those inputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging

import numpy as np
from tt_protocol.status import Status

from tt_host import recipe
from tt_host.errors import TtError

log = logging.getLogger(__name__)

#: Multiples of ``recipe.LR`` tried, highest first.
CANDIDATES = (3.0, 1.0, 1 / 3, 1 / 10)
#: Training steps of one trial (fewer when there are fewer training samples).
TRIAL_STEPS = 200


@dataclasses.dataclass(frozen=True)
class Trial:
    """One candidate rate's trial: the held-out loss and accuracy after it."""

    lr: float
    loss: float
    accuracy: float
    diverged: bool = False

    def to_dict(self) -> dict[str, float | bool]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Choice:
    lr: float
    start_loss: float  #: the held-out loss before any training
    trials: tuple[Trial, ...]

    def to_dict(self) -> dict[str, object]:
        return {"lr": self.lr, "start_loss": self.start_loss, "trials": [t.to_dict() for t in self.trials]}

    @classmethod
    def from_dict(cls, data: dict) -> Choice:
        return cls(data["lr"], data["start_loss"], tuple(Trial(**t) for t in data["trials"]))


def key(plan_hash: bytes, images: np.ndarray, labels: np.ndarray, held_out: tuple[np.ndarray, np.ndarray],
        seed: int) -> str:
    """What a trial's outcome depends on, as a hex digest (the cache key)."""
    h = hashlib.sha256(b"tt-lr-trial/1")
    h.update(plan_hash)
    for a in (images, labels, *held_out):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(f"{seed}/{CANDIDATES}/{TRIAL_STEPS}/{recipe.LR}".encode())
    return h.hexdigest()


def choose(blobs_for, images: np.ndarray, labels: np.ndarray, held_out: tuple[np.ndarray, np.ndarray],
           seed: int) -> Choice:
    """The rate for a plan: ``blobs_for(lr)`` gives the plan compiled at rate ``lr`` (an object
    with ``.plan`` and ``.weights``: ``tt_host.compiler.Blobs``); ``images``/``labels`` are the
    training samples, ``held_out`` the evaluation ones (see the module docstring)."""
    from tt_host import native
    from tt_host.compiler.blob import package

    order = np.random.default_rng(seed).permutation(len(labels))[:TRIAL_STEPS]
    rates = recipe.LrSchedule.for_steps(len(labels))
    start_loss, trials = None, []
    for factor in CANDIDATES:
        lr = recipe.LR * factor
        blobs = blobs_for(lr)
        ex = native.Executor(_arena_bytes(blobs.plan))
        status, detail = ex.load(package(blobs.plan, blobs.weights))
        if status != Status.OK:
            raise TtError(f"the host executor refused the plan it was given (status {status}, check {detail})")
        if start_loss is None:
            _, start_loss = evaluate(ex, *held_out)
        diverged = False
        for step, i in enumerate(order):
            status, _ = ex.step(images[i], int(labels[i]), train=True, lr_scale=rates.scale_q16(step))
            if status == Status.DIVERGED:
                diverged = True
                break
        accuracy, loss = evaluate(ex, *held_out)
        trials.append(Trial(lr, loss, accuracy, diverged))
        log.info("lr trial %.5g: held-out loss %.4f (start %.4f), accuracy %.1f%%%s", lr, loss, start_loss,
                 100 * accuracy, ", diverged" if diverged else "")
    usable = [t for t in trials if not t.diverged and t.loss <= start_loss]
    best = min(usable, key=lambda t: (t.loss, t.lr)) if usable else min(trials, key=lambda t: t.lr)
    return Choice(best.lr, start_loss, tuple(trials))


def _arena_bytes(plan: bytes) -> int:
    from tt_protocol import plan as P

    return P.PlanHeader.parse(plan).arena_bytes


def evaluate(ex, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """``(accuracy, mean loss)`` of a host executor's current parameters on the samples
    (nothing trains)."""
    losses, correct = [], 0
    for x, y in zip(images, labels):
        status, r = ex.step(x, int(y), train=False)
        if status != Status.OK:
            raise TtError(f"the host executor refused an evaluation (status {status})")
        losses.append(r.loss)
        correct += bool(r.correct)
    return correct / len(labels), float(np.mean(losses))


def parse(value: str | float) -> float | str:
    """``--lr``: ``auto`` or a rate in (0, 1)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        rate = float(value)
    except ValueError as exc:
        raise ValueError(f"--lr takes 'auto' or a learning rate such as 0.003, not {value!r}") from exc
    if not 0 < rate < 1:
        raise ValueError(f"the learning rate must be in (0, 1), not {rate}")
    return rate


def describe(choice: Choice | None, lr: float) -> str:
    """One line for a summary: the rate and how it was chosen."""
    if choice is None:
        return f"{lr:g}"
    tried = ", ".join(f"{t.lr:.2g}: {t.loss:.3f}{' (diverged)' if t.diverged else ''}" for t in choice.trials)
    return f"{lr:.3g} (auto: held-out loss after {TRIAL_STEPS} steps {tried}; start {choice.start_loss:.3f})"

