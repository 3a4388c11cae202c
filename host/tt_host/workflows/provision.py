"""The plan a stream trains: the device's base model, the sample folder's labels, a scheme.

Everything here is deterministic: the same model, samples and settings give the same plan
bytes, hence the same plan hash, which is how ``tt-host stream`` recognises a device that
already runs the plan it would upload (and resumes instead of starting over).

**Labels.** A model's own class names come from a JSON file beside it holding a
``"classes"`` (or ``"labels"``) list: ``NAME.json`` for ``NAME.tflite``, or the same name
without an ``-int8`` suffix (``fmnist6-demo.json`` for ``fmnist6-demo-int8.tflite``).
When every label folder names one of those classes the model's head is kept and trained;
otherwise the head is replaced by a new one for the folder's labels (sorted), initialised
by imprinting from the training samples' features or with zeros. Either way the plan carries
the label names, so the device's predictions print as names.

**Budget.** ``--scheme auto`` chooses what trains within the SRAM a training step may use:
``--budget`` when given, never more than the device reports (its arena plus the firmware's
own RAM: the compiler's ``peak_sram_bytes`` counts both).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tt_host.workflows import rate

from tt_host import recipe
from tt_host.recipe import HEAD_INITS as INITS
from tt_host.workflows.cache import Cache, CachedPlan
from tt_host.errors import BudgetExceeded, UsageError
from tt_host.link.session import DeviceInfo

log = logging.getLogger(__name__)



@dataclasses.dataclass(frozen=True)
class TrainingSetup:
    """How a stream's plan is compiled (everything but the model and the samples)."""

    #: a preset (last-layer, bias-only, full), "paper" or "auto" (chosen under the budget), or a
    #: scheme JSON file; "paper" measured best (docs/LEARNING.md)
    scheme: str = "paper"
    budget: int | None = None  #: SRAM of a training step in bytes; None: what the device has
    macs_budget: int | None = None  #: with "paper" or "auto": most backward MACs per step
    init: str = "imprint"  #: new head: "imprint" (from the training samples) or "zero"
    #: SGD learning rate of the plan (the head's follows it: ``TrainParams``), or "auto": chosen
    #: by a short trial on this computer (:mod:`tt_host.workflows.rate`)
    lr: float | str = "auto"
    weight_step_max: float = recipe.WEIGHT_STEP_MAX  #: ``TrainParams.weight_step_max``
    bias_step_max: float = recipe.BIAS_STEP_MAX  #: ``TrainParams.bias_step_max``
    seed: int = 0  #: stochastic-rounding seed (the plan's); also orders and splits the samples

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise UsageError(f"the head initialisation must be one of {', '.join(INITS)}, not {self.init!r}")
        try:
            object.__setattr__(self, "lr", rate.parse(self.lr))
        except ValueError as exc:
            raise UsageError(str(exc)) from None


@dataclasses.dataclass(frozen=True)
class HeadChoice:
    """What happens to the model's classifier for a label set."""

    replaced: bool
    labels: tuple[str, ...]  #: the plan's class names, in class-index order

    def class_of(self, label: str) -> int:
        return self.labels.index(label)


def model_labels(model: str | Path) -> tuple[str, ...]:
    """The model's class names from the JSON file beside it (see the module docstring);
    empty when there is none."""
    model = Path(model)
    stem = model.name.removesuffix(".tflite")
    for name in dict.fromkeys((f"{stem}.json", f"{stem.removesuffix('-int8')}.json")):
        path = model.with_name(name)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        names = data.get("classes", data.get("labels")) if isinstance(data, dict) else None
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return tuple(names)
    return ()


def choose_head(own: Sequence[str], n_classes: int, folder_labels: Sequence[str]) -> HeadChoice:
    """Keep the head when the folder's labels are all the model's own classes (``own``,
    which must name all ``n_classes`` logits to count), else replace it for the folder's."""
    if len(own) == n_classes and set(folder_labels) <= set(own):
        return HeadChoice(False, tuple(own))
    return HeadChoice(True, tuple(sorted(folder_labels)))


def find_model(cache: Cache, info: DeviceInfo | None, model: str | Path | None) -> Path:
    """The base ``.tflite`` to compile from: ``model`` when given, else the device's own
    (found in the cache by the model hash the device reports)."""
    if model is not None:
        path = Path(model)
        if not path.is_file():
            raise UsageError(f"{path} is not a file: --model takes an int8 .tflite")
        return path
    if info is None or info.model_hash is None:
        raise UsageError("the device runs no model yet: give the one to train with --model FILE.tflite")
    found = cache.model(info.model_hash)
    if found is None:
        raise UsageError(
            f"the device runs model {info.model_hash[:16]}..., which this computer has not seen "
            f"(not in {cache.root / 'models'}): give it with --model FILE.tflite"
        )
    return found


@dataclasses.dataclass(frozen=True)
class DeviceLimits:
    """What the device can hold; a plan is compiled within them (None: not known, not checked)."""

    sram: int | None = None  #: bytes of SRAM a training step may use (``peak_sram_bytes``)
    #: the largest COMMIT record (``INFO.param_store_bytes``): the trained parameters must fit, or
    #: the stream could not keep its best epoch
    store: int | None = None
    model_area: int | None = None  #: the largest package, plan + weights (``INFO.model_area_bytes``)

    @classmethod
    def of(cls, info: DeviceInfo | None, firmware_sram: int, requested_sram: int | None = None) -> DeviceLimits:
        """The limits ``info`` reports, the SRAM lowered to ``requested_sram`` when given."""
        sram = effective_budget(requested_sram, device_budget(info, firmware_sram))
        if info is None:
            return cls(sram)
        return cls(sram, info.param_store_bytes, info.model_area_bytes)


def device_budget(info: DeviceInfo | None, firmware_sram: int) -> int | None:
    """SRAM a training step may use on the device: its arena plus the firmware's own RAM."""
    return info.arena_bytes + firmware_sram if info is not None and info.arena_bytes else None


def effective_budget(requested: int | None, device: int | None) -> int | None:
    if requested is not None and device is not None and requested > device:
        log.warning("--budget %d is more than the device has (%d bytes): using %d", requested, device, device)
        return device
    return requested if requested is not None else device


def compile_plan(
    model: str | Path,
    head: HeadChoice,
    images: np.ndarray,
    labels: np.ndarray,
    setup: TrainingSetup,
    limits: DeviceLimits | None,
    held_out: tuple[np.ndarray, np.ndarray] | None = None,
    cache: Cache | None = None,
) -> tuple[bytes, bytes, dict[str, Any]]:
    """``(plan, weights, report)`` for ``model`` with ``head``, trained per ``setup``;
    ``images``/``labels`` (class indices of ``head.labels``) are the training samples, for
    imprinting, the Fisher criterion and ``--lr auto``'s trial, which evaluates ``held_out``
    (without held-out samples it uses ``recipe.LR``); ``cache`` keeps trials' outcomes."""
    from tt_host.compiler import BUDGETED, TrainParams, compile_model, load_graph, serialize
    from tt_host.compiler import head as head_mod

    limits = limits or DeviceLimits()
    if setup.scheme in BUDGETED and limits.sram is None:
        raise UsageError(f"--scheme {setup.scheme} chooses what trains under a budget: give --budget (e.g. --budget 256K)")
    graph = load_graph(model)
    if head.replaced:
        graph = head_mod.replace_head(graph, len(head.labels), head.labels, setup.init, (images, labels))
        log.info("new %d-class head (%s) for %s", len(head.labels), setup.init, ", ".join(head.labels))
    else:
        graph = dataclasses.replace(graph, labels=head.labels)
    compiled = compile_model(graph, setup.scheme, limits.sram, samples=(images, labels),
                             macs_budget=setup.macs_budget, store_budget=limits.store)
    trainable = int(compiled.report["trainable_params"])

    def train_at(lr: float) -> TrainParams:
        return TrainParams(lr=lr, seed=setup.seed, weight_step_max=setup.weight_step_max,
                           bias_step_max=setup.bias_step_max)

    def blobs_at(lr: float):
        return serialize(compiled.schedule, compiled.plan, train_at(lr), compiled.scheme.name, trainable)

    _check_fits_model_area(blobs_at(recipe.LR), graph, limits.model_area)
    choice = None
    lr = setup.lr
    if lr == "auto":
        choice = _lr_trial(blobs_at, images, labels, held_out, setup.seed, cache)
        lr = choice.lr if choice is not None else recipe.LR
    train = train_at(lr)
    blobs = blobs_at(lr)
    report = {**compiled.report, "plan_bytes": len(blobs.plan), "weights_bytes": len(blobs.weights),
              "plan_hash": blobs.plan_hash.hex(), "model_hash": graph.model_hash.hex(),
              "labels": list(graph.labels), "head_replaced": graph.head_replaced,
              "train": {"lr": train.lr, "head_lr": train.head_rate, "weight_step_max": train.weight_step_max,
                        "bias_step_max": train.bias_step_max, "diverge_after": train.diverge_after, "seed": train.seed,
                        "lr_auto": choice.to_dict() if choice is not None else None}}
    report.pop("timeline", None)
    return blobs.plan, blobs.weights, report


def _check_fits_model_area(blobs, graph, model_area: int | None) -> None:
    """Refuse a package the device could not take before the learning-rate trial spends minutes
    on it (the device would answer NO_SPACE to its upload)."""
    size = len(blobs.plan) + len(blobs.weights)
    if model_area is not None and size > model_area:
        raise BudgetExceeded(
            f"the package for {graph.name} (plan {len(blobs.plan):,} B + weights {len(blobs.weights):,} B = "
            f"{size:,} B) is larger than the device's model area ({model_area:,} B): train less (--scheme "
            f"last-layer packs the smallest package) or use a smaller model (its int8 weights alone are "
            f"{graph.param_bytes:,} B)")


def _lr_trial(blobs_at, images: np.ndarray, labels: np.ndarray, held_out: tuple[np.ndarray, np.ndarray] | None,
              seed: int, cache: Cache | None) -> rate.Choice | None:
    """``--lr auto``: the trial of :mod:`tt_host.workflows.rate`, or its cached outcome; None without
    held-out samples to judge it by."""
    if held_out is None or len(held_out[1]) == 0:
        log.warning("--lr auto needs held-out samples to judge its trial: using %g", recipe.LR)
        return None
    base = blobs_at(recipe.LR)
    key = rate.key(base.plan_hash, images, labels, held_out, seed)
    found = cache.read_result("lr-trial", key) if cache is not None else None
    if found is not None:
        return rate.Choice.from_dict(found)
    choice = rate.choose(blobs_at, images, labels, held_out, seed)
    if cache is not None:
        cache.write_result("lr-trial", key, choice.to_dict())
    return choice


def prepare(cache: Cache, model: str | Path, head: HeadChoice, images: np.ndarray, labels: np.ndarray,
            setup: TrainingSetup, limits: DeviceLimits | None,
            held_out: tuple[np.ndarray, np.ndarray] | None = None) -> CachedPlan:
    """Compile the plan (see :func:`compile_plan`) and keep it and its model in ``cache``; the
    same inputs compiled by the same code find it there (compiling a 128x128 model's plan,
    its imprinted head and its learning-rate trial take minutes; a resumed stream needs the
    same plan again, not a new compile)."""
    model_hash = cache.add_model(model)
    key = _inputs_key(model_hash, head, images, labels, setup, limits, held_out)
    found = cache.read_result("compiled", key)
    cached = cache.plan(found["plan_hash"]) if found else None
    if cached is not None:
        log.info("plan %s found in the cache (same model, samples and settings)", cached.plan_hash[:16])
        return cached
    plan, weights, report = compile_plan(model, head, images, labels, setup, limits, held_out, cache)
    compiled = cache.add_plan(plan, weights, report)
    cache.write_result("compiled", key, {"plan_hash": compiled.plan_hash})
    return compiled


def _inputs_key(model_hash: str, head: HeadChoice, images: np.ndarray, labels: np.ndarray, setup: TrainingSetup,
                limits: DeviceLimits | None, held_out: tuple[np.ndarray, np.ndarray] | None) -> str:
    """Everything a compiled plan depends on, the compiler's own code included, as a digest."""
    h = hashlib.sha256(b"tt-compiled/1")
    limits_dict = dataclasses.asdict(limits or DeviceLimits())
    h.update(json.dumps({"model": model_hash, "head": [head.replaced, list(head.labels)], "limits": limits_dict,
                         "setup": dataclasses.asdict(setup)}, sort_keys=True).encode())
    for a in (images, labels, *(held_out or ())):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(_code_digest().encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """The host code a plan is compiled by (a new version of it compiles anew)."""
    import tt_protocol

    import tt_host

    h = hashlib.sha256()
    for root in (Path(tt_host.__file__).parent, Path(tt_protocol.__file__).parent):
        for path in sorted(root.rglob("*.py")):
            h.update(path.read_bytes())
    return h.hexdigest()
