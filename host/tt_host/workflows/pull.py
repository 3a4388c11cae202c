"""Pulling what a device learned: its trained parameters as a deltas file.

The device sends its parameter image (PULL); against the factory parameters of its plan's
weight blob, found in the host's cache by the plan hash the device reports, it becomes a
deltas file (``tt_protocol.plan`` deltas) that ``tt-host export`` merges into a new .tflite.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from tt_protocol import plan as P

from tt_host.workflows.cache import Cache, CachedPlan, load_plan_folder
from tt_host.compiler import deltas as deltas_mod
from tt_host.errors import ProtocolError, UsageError
from tt_host.link.session import DeviceSession


@dataclasses.dataclass(frozen=True)
class Pulled:
    """A deltas file and where it came from."""

    deltas: bytes
    plan: CachedPlan
    trained: int  #: samples the parameters were trained on
    model: Path | None  #: the cached base model, for ``tt-host export``

    def summary(self) -> dict[str, object]:
        parsed = P.parse_deltas(self.deltas)
        return {"plan_hash": self.plan.plan_hash, "model_hash": self.plan.model_hash, "samples": self.trained,
                "bytes": len(self.deltas), "records": len(parsed.records), "scheme": parsed.scheme_name,
                "head_replaced": parsed.head is not None, "labels": list(parsed.head.labels) if parsed.head else [],
                "base_model": str(self.model) if self.model else None}


def device_plan(session: DeviceSession, cache: Cache, plan_folder: str | Path | None = None) -> CachedPlan:
    """The plan the device runs: from ``plan_folder`` (``tt-host compile --out``) or the cache."""
    info = session.hello()  # afresh: an upload in this session changed the plan
    if info.plan_hash is None:
        raise UsageError("the device runs no plan: nothing was trained (stream samples first)")
    if plan_folder is not None:
        plan = load_plan_folder(plan_folder)
        if plan is None:
            raise UsageError(f"{plan_folder} holds no valid plan.bin and weights.bin")
        if plan.plan_hash != info.plan_hash:
            raise UsageError(f"{plan_folder} holds plan {plan.plan_hash[:16]}..., the device runs "
                             f"{info.plan_hash[:16]}...")
        return plan
    plan = cache.plan(info.plan_hash)
    if plan is None:
        raise UsageError(
            f"the device runs plan {info.plan_hash[:16]}..., which this computer has not uploaded "
            f"(not in {cache.root / 'plans'}): give its folder with --plan DIR"
        )
    return plan


def pull_deltas(session: DeviceSession, cache: Cache, plan_folder: str | Path | None = None,
                progress: Callable[[int, int], None] | None = None) -> Pulled:
    """The device's trained parameters as a deltas file against its plan's factory weights."""
    plan = device_plan(session, cache, plan_folder)
    image = session.pull(progress)
    trained = session.stats().trained
    try:
        parameters = deltas_mod.parameters_from_image(plan.plan, image)
    except ValueError as exc:
        raise ProtocolError(f"the device's parameter image does not fit its plan: {exc}") from exc
    blob = deltas_mod.build(plan.plan, plan.weights, parameters, samples=trained)
    return Pulled(blob, plan, trained, cache.model(plan.model_hash))
