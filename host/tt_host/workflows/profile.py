"""Where a device's training step spends its time, op by op (``tt-host profile``).

The device times every plan op it runs (``PROFILE``: runs and ticks per op since the plan was
loaded or the profile last reset); the plan's compile report, found in the host's cache by the
plan hash the device reports, names each op's layer and its MACs. Joined, they say what
TensorFlow Lite Micro's profiler says for inference, for a whole training step: the operators
that take the time, their MACs per instruction, and the step split into phases (forward,
recompute, loss, backward input, weight gradient, update).

Time units: on the emulated F746 (QEMU ``-icount shift=0``, one instruction per emulated
nanosecond) the ticks count instructions exactly; on a board they are its clock's, and
instructions are not known (cycles at one per instruction would be an upper bound).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from tt_protocol import plan as P

from tt_host.link.session import DeviceProfile, DeviceSession
from tt_host.workflows.cache import Cache, CachedPlan
from tt_host.workflows.pull import device_plan

#: The phases of a training step, in the order they run.
PHASES = ("forward", "recompute", "loss", "backward input", "weight gradient", "update")

_WEIGHT_GRADIENT = {P.OpKind.BIAS_GRAD, P.OpKind.WEIGHT_GRAD, P.OpKind.BIAS_GRAD_UPDATE, P.OpKind.WEIGHT_GRAD_UPDATE}
_UPDATE = {P.OpKind.BIAS_UPDATE, P.OpKind.WEIGHT_UPDATE}
_BACKWARD_INPUT = {k for k in P.OpKind if P.OpKind.MASK_BWD <= k <= P.OpKind.GRAD_CROP} | {
    P.OpKind.LOGISTIC_BWD_INPUT}


def phase_of(kind: int, phase: int) -> str:
    """The step phase an op belongs to: a forward kernel in the backward phase is a
    recomputation (a block's masks rebuilt from the input it kept); the fused gradient-and-update
    kernels count as weight gradient."""
    if kind in (P.OpKind.LOAD_WEIGHTS, P.OpKind.LOAD_BIAS):
        return "load"
    if kind == P.OpKind.LOSS:
        return "loss"
    if kind in _WEIGHT_GRADIENT:
        return "weight gradient"
    if kind in _UPDATE:
        return "update"
    if kind in _BACKWARD_INPUT:
        return "backward input"
    return "recompute" if phase == P.Phase.BACKWARD else "forward"


def _kind_name(kind: int) -> str:
    try:
        return P.OpKind(kind).name.lower()
    except ValueError:
        return f"op 0x{kind:02x}"


@dataclasses.dataclass(frozen=True)
class OpRow:
    """One op of the plan with its measured share."""

    index: int  #: in the plan's op table
    kind: str  #: ``plan.OpKind`` name, lower case
    phase: str  #: one of :data:`PHASES` (or "load")
    layer: str | None  #: the model layer it computes, from the compile report
    runs: int
    macs: int  #: multiply-accumulates of one run (0: element-wise or bookkeeping)
    ticks: int  #: all runs together

    @property
    def ticks_per_run(self) -> float:
        return self.ticks / self.runs if self.runs else 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Profile:
    """A device's profile joined with its plan's report."""

    board: str
    tick_hz: int
    trained: int
    evaluated: int
    train_ticks: int
    eval_ticks: int
    ops: tuple[OpRow, ...]

    @property
    def counts_instructions(self) -> bool:
        """Ticks convert to instructions exactly (QEMU's ``-icount``)."""
        return self.board.endswith("-qemu")

    def instructions(self, ticks: int) -> float:
        """Instructions in ``ticks`` (emulated board), or nanoseconds elsewhere."""
        return ticks * 1e9 / self.tick_hz if self.tick_hz else 0.0

    @property
    def steps(self) -> int:
        return self.trained + self.evaluated

    def by_phase(self) -> dict[str, dict[str, float]]:
        """One step, phase by phase (those that ran): the ticks and MACs of one run of each of
        its ops, summed, and the phase's share of the step's ops."""
        out: dict[str, dict[str, float]] = {}
        for name in PHASES:
            rows = [r for r in self.ops if r.phase == name and r.runs]
            if rows:
                out[name] = {"ticks": sum(r.ticks_per_run for r in rows), "macs": sum(r.macs for r in rows)}
        step = sum(p["ticks"] for p in out.values()) or 1.0
        for p in out.values():
            p["share"] = p["ticks"] / step
        return out

    def top(self, n: int) -> list[OpRow]:
        """The ``n`` ops that took the most ticks."""
        return sorted((r for r in self.ops if r.ticks), key=lambda r: -r.ticks)[:n]

    def to_dict(self) -> dict[str, Any]:
        return {"board": self.board, "tick_hz": self.tick_hz, "counts_instructions": self.counts_instructions,
                "trained": self.trained, "evaluated": self.evaluated, "train_ticks": self.train_ticks,
                "eval_ticks": self.eval_ticks, "phases": self.by_phase(), "ops": [r.to_dict() for r in self.ops]}


def join(device: DeviceProfile, board: str, report: dict[str, Any] | None) -> Profile:
    """The device's per-op counters with each op's layer and MACs from the plan's compile report
    (its ``ops``); without a report that lists the plan's ops, kinds and phases only."""
    steps = (report or {}).get("ops") or []
    if len(steps) != len(device.ops):
        steps = [{}] * len(device.ops)
    return Profile(board, device.tick_hz, device.trained, device.evaluated, device.train_ticks, device.eval_ticks,
                   tuple(OpRow(op.index, _kind_name(op.kind), phase_of(op.kind, op.phase), step.get("layer"),
                               op.runs, int(step.get("macs", 0)), op.ticks) for op, step in zip(device.ops, steps)))


def read_profile(session: DeviceSession, cache: Cache, plan_folder: str | Path | None = None,
                 reset: bool = False) -> Profile:
    """The device's profile of what it ran since its plan was loaded (or the last reset),
    joined with the plan's report from ``plan_folder`` (``tt-host compile --out``) or the cache."""
    plan: CachedPlan = device_plan(session, cache, plan_folder)  # says HELLO
    return join(session.profile(reset=reset), session.info.board, plan.report)


def plot_profile(profile: Profile, path: str | Path, top: int = 15) -> None:
    """Draw one step's phases and the ``top`` slowest ops to ``path`` (PNG); needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from tt_host.errors import ToolMissing

        raise ToolMissing("--plot needs matplotlib: pip install 'tt-host[plot]' (or pip install matplotlib)") from exc
    unit = "M instructions" if profile.counts_instructions else "ms"
    scale = profile.instructions(1) / 1e6 if profile.counts_instructions else 1e3 / profile.tick_hz
    phases = profile.by_phase()
    slowest = profile.top(top)[::-1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 2]})
    left.barh(list(phases)[::-1], [p["ticks"] * scale for p in phases.values()][::-1])
    left.set_xlabel(f"{unit} per step")
    left.set_title("phases of one step")
    right.barh([f"{r.index} {r.kind} {r.layer or ''}" for r in slowest], [r.ticks_per_run * scale for r in slowest])
    right.set_xlabel(f"{unit} per run")
    right.set_title(f"the {len(slowest)} slowest ops")
    right.tick_params(axis="y", labelsize=7)
    fig.suptitle(f"{profile.board}: {profile.trained} training and {profile.evaluated} evaluation runs")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
