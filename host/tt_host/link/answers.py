"""The device's answers as typed values: what HELLO, SAMPLE_RUN, STATS and PROFILE report."""

from __future__ import annotations

import dataclasses

from tt_protocol import auth
from tt_protocol.frame import INFO_BASE_BYTES, InfoPayload, SampleFlag, SampleResultPayload, StatsPayload

from tt_host.errors import ProtocolError


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """A device's identity and budgets, from its answer to ``HELLO``."""

    board: str
    sram_bytes: int
    flash_bytes: int
    arena_bytes: int
    core_clock_hz: int
    max_payload: int
    protocol_version: int
    firmware_version: str  #: "major.minor.patch"
    plan_hash: str | None  #: hex digest of the loaded training plan; None when no plan
    model_hash: str | None = None  #: hex SHA-256 of the loaded plan's base .tflite; None when none
    model_area_bytes: int | None = None  #: the largest package it takes; None: not reported (older firmware)
    param_store_bytes: int | None = None  #: the largest COMMIT record it stores; None: not reported
    auth: str = "open"  #: "open", "required" (state-changing requests are signed) or "locked"
    key_id: str | None = None  #: hex id of the key it was provisioned with; None when open

    @classmethod
    def from_payload(cls, payload: bytes) -> DeviceInfo:
        """Parse an ``INFO`` payload; longer payloads (newer firmware) are accepted, and so are
        older firmware's, without the limits added after the model hash."""
        if len(payload) < INFO_BASE_BYTES:
            raise ProtocolError(f"INFO payload of {len(payload)} bytes, expected {InfoPayload.sizeof()}")
        info = InfoPayload.parse(bytes(payload).ljust(InfoPayload.sizeof(), b"\0"))
        fw = info.firmware_version
        return cls(
            board=info.board.rstrip(b"\0").decode("ascii", errors="replace"),
            sram_bytes=info.sram_bytes,
            flash_bytes=info.flash_bytes,
            arena_bytes=info.arena_bytes,
            core_clock_hz=info.core_clock_hz,
            max_payload=info.max_payload,
            protocol_version=info.protocol_version,
            firmware_version=f"{fw.major}.{fw.minor}.{fw.patch}",
            plan_hash=_hex_or_none(info.plan_hash),
            model_hash=_hex_or_none(info.model_hash),
            model_area_bytes=info.model_area_bytes or None,
            param_store_bytes=info.param_store_bytes or None,
            auth=auth.AuthMode(info.auth).name.lower() if info.auth in set(auth.AuthMode) else f"mode {info.auth}",
            key_id=info.key_id.hex() if info.auth != auth.AuthMode.OPEN else None,
        )

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of every field."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SampleResult:
    """The device's answer to one SAMPLE_RUN."""

    trained: int  #: samples trained since the plan was loaded, this one included if it trained
    loss: float  #: softmax cross-entropy before any update (natural log)
    predicted: int  #: class index with the largest logit
    correct: bool
    trained_on: bool  #: the run trained (``SampleFlag.TRAIN``); otherwise it only evaluated
    ticks: int  #: device ticks the step took (``DeviceStats.tick_hz`` per second)
    skipped: bool = False  #: a training run whose logits were all saturated: nothing was applied

    @classmethod
    def from_payload(cls, payload: bytes) -> SampleResult:
        r = parse_answer(SampleResultPayload, payload, "SAMPLE_RESULT")
        return cls(r.trained, r.loss, r.predicted, bool(r.correct), bool(r.flags & SampleFlag.TRAIN), r.ticks,
                   bool(r.flags & SampleFlag.SKIPPED))


@dataclasses.dataclass(frozen=True)
class DeviceStats:
    """Counters, timing and memory of the device since its plan was loaded (``STATS``)."""

    trained: int
    train_correct: int
    train_loss_sum: float
    evaluated: int
    eval_correct: int
    eval_loss_sum: float
    train_ticks: int
    eval_ticks: int
    tick_hz: int
    arena_bytes: int
    arena_used: int
    stack_bytes: int
    stack_peak: int
    params_bytes: int
    commit_sequence: int
    skipped: int = 0  #: training runs whose logits were all saturated (nothing applied)
    diverged: bool = False  #: the divergence guard has stopped training

    @classmethod
    def from_payload(cls, payload: bytes) -> DeviceStats:
        s = parse_answer(StatsPayload, payload, "STATS")
        values = {f.name: s[f.name] for f in dataclasses.fields(cls)}
        return cls(**{**values, "diverged": bool(values["diverged"])})

    @property
    def seconds_per_step(self) -> float | None:
        """Device time of one training step, or None before the first."""
        return self.train_ticks / self.trained / self.tick_hz if self.trained and self.tick_hz else None

    @property
    def instructions_per_step(self) -> float | None:
        """Instructions of one training step, exact under QEMU ``-icount shift=0`` (one
        instruction per emulated nanosecond); on a board, the cycles of a step instead."""
        seconds = self.seconds_per_step
        return seconds * 1e9 if seconds is not None else None

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class OpProfile:
    """One plan op's share of the profiled runs (``PROFILE``)."""

    index: int  #: its place in the plan's op table
    kind: int  #: ``plan.OpKind`` (kept raw: newer firmware may run kinds this host does not know)
    phase: int  #: ``plan.Phase``
    layer: int | None  #: its IR layer, None if none
    runs: int
    ticks: int


@dataclasses.dataclass(frozen=True)
class DeviceProfile:
    """Where the device's time went, op by op, since the profile began (the plan's load or
    the last reset): ``PROFILE``, every chunk."""

    tick_hz: int
    trained: int  #: training runs profiled
    evaluated: int  #: evaluation runs profiled
    train_ticks: int  #: ticks of those training runs, the ops' and the step's own work
    eval_ticks: int
    ops: tuple[OpProfile, ...]


def _hex_or_none(digest: bytes) -> str | None:
    return digest.hex() if any(digest) else None


def parse_answer(struct, payload: bytes, what: str):
    """``struct.parse(payload)``; a payload shorter than ``struct`` is a :class:`ProtocolError`
    (a longer one is a newer firmware's, and accepted)."""
    if len(payload) < struct.sizeof():
        raise ProtocolError(f"{what} payload of {len(payload)} bytes, expected {struct.sizeof()}")
    return struct.parse(payload)
