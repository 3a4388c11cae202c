"""The host's cache of models and plans, so that a device's hashes lead back to files.

A device reports the hashes of what it runs (INFO: ``plan_hash``, ``model_hash``), never the
files. ``tt-host stream`` keeps here every plan it uploads and every base model it compiles
from, so later commands (``stream`` resuming, ``pull``, ``export``) find them by hash::

    $TT_HOME (default ~/.cache/tt)
      models/<model_hash>.tflite       the base model, byte for byte (model_hash = its SHA-256)
      plans/<plan_hash>/plan.bin        the plan blob
      plans/<plan_hash>/weights.bin     its weight blob (the factory parameters)
      plans/<plan_hash>/report.json     the compile report
      plans/<plan_hash>/stream.json     the stream that trains it (see tt_host.workflows.stream)
      lr-trial/<key>.json               a --lr auto trial's outcome (see tt_host.workflows.rate)
      compiled/<key>.json               the plan compiled from a set of inputs (tt_host.workflows.provision)

Entries are checked against their hash when read: a damaged entry is reported missing, never
used. Writes go to a temporary name first and are renamed into place, so an interrupted write
leaves no half entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tt_protocol import plan as P


def default_root() -> Path:
    """``$TT_HOME``, else ``$XDG_CACHE_HOME/tt``, else ``~/.cache/tt``."""
    if os.environ.get("TT_HOME"):
        return Path(os.environ["TT_HOME"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tt"


@dataclasses.dataclass(frozen=True)
class CachedPlan:
    """A plan blob and its weight blob, as uploaded to a device."""

    plan: bytes
    weights: bytes
    report: dict[str, Any]
    folder: Path

    @property
    def plan_hash(self) -> str:
        return P.PlanHeader.parse(self.plan).plan_hash.hex()

    @property
    def model_hash(self) -> str:
        return P.PlanHeader.parse(self.plan).model_hash.hex()

    @property
    def input_channels(self) -> int:
        """The channels of the plan's input: a sample byte's left neighbour is this far back."""
        return P.PlanHeader.parse(self.plan).input_c

    @property
    def scheme_name(self) -> str:
        return bytes(P.PlanHeader.parse(self.plan).scheme_name).rstrip(b"\0").decode("ascii", "replace")

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(P.validate(self.plan).labels)

    @property
    def package(self) -> bytes:
        """The bytes a device loads: the plan, then its weights."""
        return self.plan + self.weights


class Cache:
    """Models and plans by hash under ``root`` (default: :func:`default_root`)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    # -- models ---------------------------------------------------------------------------

    def add_model(self, path: str | Path) -> str:
        """Keep a copy of the ``.tflite`` at ``path``; return its hash (hex SHA-256)."""
        raw = Path(path).read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        target = self.root / "models" / f"{digest}.tflite"
        if self.model(digest) is None:
            _write_atomic(target, raw)
        return digest

    def model(self, model_hash: str) -> Path | None:
        """The cached model whose SHA-256 is ``model_hash``, or None."""
        path = self.root / "models" / f"{model_hash}.tflite"
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == model_hash:
            return path
        return None

    # -- plans ----------------------------------------------------------------------------

    def add_plan(self, plan: bytes, weights: bytes, report: dict[str, Any] | None = None) -> CachedPlan:
        """Keep a plan and its weights under their plan hash (the one the plan header states,
        checked against the blobs)."""
        digest = P.plan_hash(plan, weights)
        if P.PlanHeader.parse(plan).plan_hash != digest:
            raise ValueError("the plan's header states another plan hash than its blobs have")
        folder = self.root / "plans" / digest.hex()
        if self.plan(digest.hex()) is None:
            _write_atomic(folder / "weights.bin", weights)
            _write_atomic(folder / "report.json", (json.dumps(report or {}, indent=1, sort_keys=True) + "\n").encode())
            _write_atomic(folder / "plan.bin", plan)  # last: a plan.bin means a complete entry
        return CachedPlan(bytes(plan), bytes(weights), report or {}, folder)

    def plan(self, plan_hash: str) -> CachedPlan | None:
        """The cached plan with hash ``plan_hash`` (hex), or None."""
        folder = self.root / "plans" / plan_hash
        return load_plan_folder(folder, plan_hash)

    def plan_file(self, plan_hash: str, name: str) -> Path:
        """A file of the plan's cache folder (e.g. ``stream.json``); may not exist yet."""
        return self.root / "plans" / plan_hash / name

    def read_json(self, plan_hash: str, name: str) -> dict[str, Any] | None:
        path = self.plan_file(plan_hash, name)
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def write_json(self, plan_hash: str, name: str, data: dict[str, Any]) -> None:
        _write_atomic(self.plan_file(plan_hash, name), (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())

    # -- results computed from inputs (e.g. the learning-rate trial) --------------------------

    def read_result(self, kind: str, key: str) -> dict[str, Any] | None:
        """What :meth:`write_result` kept under ``kind/key``, or None."""
        try:
            return json.loads((self.root / kind / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None

    def write_result(self, kind: str, key: str, data: dict[str, Any]) -> None:
        _write_atomic(self.root / kind / f"{key}.json", (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def load_plan_folder(folder: str | Path, plan_hash: str | None = None) -> CachedPlan | None:
    """``plan.bin`` + ``weights.bin`` (+ ``report.json``) of a folder (the cache's, or one
    ``tt-host compile --out`` wrote), or None when missing, invalid or not ``plan_hash``."""
    folder = Path(folder)
    try:
        plan = (folder / "plan.bin").read_bytes()
        weights = (folder / "weights.bin").read_bytes()
    except OSError:
        return None
    try:
        P.validate(plan, weights)
    except (P.PlanInvalid, ValueError):
        return None
    digest = P.plan_hash(plan, weights).hex()
    if plan_hash is not None and digest != plan_hash:
        return None
    try:
        report = json.loads((folder / "report.json").read_text())
    except (OSError, ValueError):
        report = {}
    return CachedPlan(plan, weights, report, folder)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
