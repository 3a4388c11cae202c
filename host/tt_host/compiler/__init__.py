"""The training compiler: an int8 ``.tflite`` and a sparse-update scheme to a planned step.

Pipeline (one module per stage): :mod:`.ir` imports the model into a small graph IR,
:mod:`.scheme` resolves which biases/weights/channels train (:mod:`.auto` chooses them under
a budget), :mod:`.schedule` derives the
forward, the pruned and reordered backward and the in-place updates, :mod:`.memory` gives
every buffer a fixed arena offset (:mod:`.recompute` and :mod:`.inplace` then keep the
recomputed masks and the slower in-place kernels only where the peak needs them, and
:mod:`.speed` undoes those the budget has room for), :mod:`.report` says what it costs. :func:`compile_model`
runs them all; the ``tt-host compile`` command and the plan blob are built on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tt_host.compiler import inplace, recompute, speed
from tt_host.compiler.blob import Blobs, serialize
from tt_host.compiler.errors import (
    CompileError,
    PlanBudgetExceeded,
    PlanError,
    SchemeError,
    StoreBudgetExceeded,
    UnsupportedOperator,
)
from tt_host.compiler.ir import Graph, import_model, load_graph
from tt_host.compiler.lowering import TrainParams
from tt_host.compiler.memory import Plan, plan_schedule
from tt_host.compiler.report import FirmwareFootprint, build_report, firmware_footprint
from tt_host.compiler.schedule import PlanOptions, Schedule, build_schedule
from tt_host.compiler.scheme import PRESETS, Scheme, load_scheme

__all__ = [
    "BUDGETED", "PRESETS", "Blobs", "CompileError", "CompiledPlan", "Graph", "Plan", "PlanBudgetExceeded", "PlanError",
    "PlanOptions", "Schedule", "Scheme", "SchemeError", "StoreBudgetExceeded", "TrainParams", "UnsupportedOperator",
    "compile_model", "import_model", "load_graph", "load_scheme", "serialize", "write_outputs",
]


#: Schemes chosen under the SRAM budget (:mod:`.auto`): by the Fisher criterion on the samples,
#: or by the paper's ranking of what contributes most (the first pointwise convolutions of the
#: last blocks, biases from the output back), which needs no samples.
BUDGETED = ("auto", "paper")


@dataclass(frozen=True)
class CompiledPlan:
    """A training step ready to be serialised: graph, scheme, op order, offsets, report."""

    graph: Graph
    scheme: Scheme
    schedule: Schedule
    plan: Plan
    report: dict[str, Any]

    @property
    def peak_sram_bytes(self) -> int:
        return int(self.report["peak_sram_bytes"])


def compile_model(model: str | Path | Graph, scheme: str | Path | Mapping[str, Any] | Scheme = "last-layer",
                  budget: int | None = None, options: PlanOptions | None = None, classes: int | None = None,
                  firmware: FirmwareFootprint | None = None, samples: tuple[Any, Any] | None = None,
                  macs_budget: int | None = None, store_budget: int | None = None) -> CompiledPlan:
    """Compile ``model`` for ``scheme`` (a preset, ``"auto"``, ``"paper"``, a published-format
    file or dict, or a :class:`Scheme`); ``classes`` replaces the classifier (zero-initialised)
    for that many classes. ``"auto"`` chooses under ``budget`` (and ``macs_budget`` backward
    MACs), by the Fisher criterion when ``samples`` (int8 images, class indices) are given
    (:mod:`.auto`); ``"paper"`` by the 256 KB paper's contribution ranking whatever the samples.
    Raises :class:`PlanBudgetExceeded` when ``peak_sram_bytes`` is over ``budget``, and
    :class:`StoreBudgetExceeded` when a COMMIT of the trained parameters (``commit_bytes``) is
    over ``store_budget`` (the device's parameter store; ``auto`` and ``paper`` choose within it)."""
    graph = model if isinstance(model, Graph) else load_graph(model)
    if classes is not None:
        graph = graph.with_classes(classes)
    fw = firmware or firmware_footprint()
    if isinstance(scheme, str) and scheme in BUDGETED:
        from tt_host.compiler.auto import auto_scheme

        ranked_by = samples if scheme == "auto" else None
        resolved = auto_scheme(graph, budget, ranked_by, macs_budget, options, fw, name=scheme,
                               store_budget=store_budget)
    else:
        resolved = scheme if isinstance(scheme, Scheme) else load_scheme(scheme, graph)
    options = options or PlanOptions()
    schedule = build_schedule(graph, resolved, options)
    plan = plan_schedule(schedule)
    if options.recompute_masks:
        schedule, plan = recompute.keep_needed(schedule, plan)
    if options.inplace_kernels and options.inplace_where_needed:
        schedule, plan = inplace.keep_needed(schedule, plan)
    if options.speed_within_budget and budget is not None:
        schedule, plan = speed.within_budget(schedule, plan, speed.arena_fits(budget, fw.sram))
    report = build_report(schedule, plan, fw)
    compiled = CompiledPlan(graph, resolved, schedule, plan, report)
    if macs_budget is not None and compiled.schedule.macs("backward") > macs_budget:
        need = compiled.schedule.macs("backward")
        raise PlanBudgetExceeded(f"{graph.name} with scheme {resolved.name}: the backward takes {need:,} MACs, over "
                                 f"the MACs budget of {macs_budget:,}")
    stored = int(compiled.report["commit_bytes"])
    if store_budget is not None and stored > store_budget:
        raise StoreBudgetExceeded(
            f"{graph.name} with scheme {resolved.name}: its trained parameters make a {stored:,}-byte COMMIT record, "
            f"over the {store_budget:,} bytes the device's parameter store holds; train fewer parameters "
            f"(--scheme paper or auto choose within the store)")
    if budget is not None and compiled.peak_sram_bytes > budget:
        need = compiled.peak_sram_bytes
        raise PlanBudgetExceeded(
            f"{graph.name} with scheme {resolved.name}: a training step needs {need} bytes of SRAM "
            f"({need / 1024:.1f} KiB), over the budget of {budget} by {need - budget}; the smallest feasible "
            f"budget for this scheme and these options is {need} bytes (--budget {-(-need // 1024)}K)")
    return compiled


def write_outputs(compiled: CompiledPlan, out: str | Path, train: TrainParams | None = None,
                  lr_auto: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write ``plan.bin``, ``weights.bin``, ``scheme.json`` and ``report.json`` into ``out``; return the report
    with the blob sizes and the plan hash added (everything deterministic: no timestamps); ``lr_auto``
    is how ``--lr auto`` chose the rate (``tt_host.workflows.rate.Choice.to_dict()``)."""
    blobs = serialize(compiled.schedule, compiled.plan, train, compiled.scheme.name,
                      int(compiled.report["trainable_params"]))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.bin").write_bytes(blobs.plan)
    (out / "weights.bin").write_bytes(blobs.weights)
    # The scheme in the published format (explicit channels): ``--scheme FILE`` reproduces it.
    scheme_json = json.dumps(compiled.scheme.to_published(compiled.graph), indent=1, sort_keys=True) + "\n"
    (out / "scheme.json").write_text(scheme_json)
    train = train or TrainParams()
    report = {**compiled.report, "plan_bytes": len(blobs.plan), "weights_bytes": len(blobs.weights),
              "plan_hash": blobs.plan_hash.hex(), "model_hash": compiled.graph.model_hash.hex(),
              "labels": list(compiled.graph.labels), "head_replaced": compiled.graph.head_replaced,
              "train": {"lr": train.lr, "head_lr": train.head_rate, "weight_step_max": train.weight_step_max,
                        "bias_step_max": train.bias_step_max, "diverge_after": train.diverge_after, "seed": train.seed,
                        "lr_auto": dict(lr_auto) if lr_auto is not None else None}}
    (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report
