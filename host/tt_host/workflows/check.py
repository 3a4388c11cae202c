"""``tt-host check MODEL.tflite``: what a user runs first on a model of their own.

Four questions, each answered by running the code the device runs (the host build of the
firmware's executor and kernels, bit for bit):

1. **Operators.** Which of the model's operators run on the device, which the compiler folds
   away or drops at the edges, and which have no kernel (:func:`tt_host.compiler.ir.operator_support`).
2. **Forward.** On a few seeded inputs, every activation the compiled graph computes (C kernels,
   layer by layer) equals TensorFlow Lite Micro's tensor of the same index, and the compiled
   plan's own forward (the executor, the model's own classifier) predicts and scores the
   sample exactly as TFLM's logits do. Needs the ``tflite-micro`` wheel; without it the check
   says so and is not counted.
3. **Training.** One training step of the ``last-layer`` plan (for ``classes`` new classes, or
   the model's own) runs on the executor with a finite loss.
4. **Memory.** For each physical board: trainable parameters, peak SRAM and package size of
   ``last-layer``, ``bias-only`` and ``paper`` (the paper's ranking filled to the board's
   budget: what ``tt-host stream`` trains by default), against the board's arena and model
   area.

The verdict (:attr:`CheckReport.ok`) is the first three; the memory rows say where the model
trains, and ``tt-host check --board NAME`` turns "does not fit NAME" into exit code 8.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tt_host.compiler.errors import CompileError
from tt_host.errors import BudgetExceeded, TtError

#: Schemes whose memory the check reports, in order; ``paper`` is compiled under each board's budget.
SCHEMES = ("last-layer", "bias-only", "paper")


@dataclass(frozen=True)
class Verdict:
    """One answered question: ``ok`` is None where it could not be asked (and ``detail`` says why)."""

    name: str
    ok: bool | None
    detail: str


@dataclass(frozen=True)
class SchemeRow:
    """What one scheme costs on one board."""

    board: str
    scheme: str
    trainable_params: int | None = None
    peak_sram_bytes: int | None = None
    arena_bytes: int | None = None
    package_bytes: int | None = None
    commit_bytes: int | None = None  #: a COMMIT record of its trained parameters
    fits_arena: bool = False
    fits_model_area: bool = False
    fits_store: bool = False
    error: str = ""  #: why it did not compile (e.g. over the board's budget)

    @property
    def fits(self) -> bool:
        return self.fits_arena and self.fits_model_area and self.fits_store


@dataclass
class CheckReport:
    model: str
    operators: list[tuple[int, str, str]]
    verdicts: list[Verdict] = field(default_factory=list)
    schemes: list[SchemeRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(v.ok is not False for v in self.verdicts)

    def fits(self, board: str) -> bool:
        """The smallest plan (``last-layer``) fits the board's arena and model area."""
        return any(r.fits for r in self.schemes if r.board == board and r.scheme == "last-layer")

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "ok": self.ok,
                "operators": [{"index": i, "op": op, "status": s} for i, op, s in self.operators],
                "verdicts": [asdict(v) for v in self.verdicts],
                "schemes": [{**asdict(r), "fits": r.fits} for r in self.schemes]}


def raise_for(report: CheckReport, board: str | None = None) -> None:
    """Exit codes of ``tt-host check``: 2 for a model the compiler refuses (an unsupported
    operator), 1 for a forward or training step that fails (a tt bug: please report it), 8
    when ``board`` is given and the smallest plan does not fit it."""
    failed = [v for v in report.verdicts if v.ok is False]
    if failed:
        message = "; ".join(f"{v.name}: {v.detail}" for v in failed)
        if failed[0].name == "operators":
            raise CompileError(f"{report.model}: {message}")
        raise TtError(f"{report.model}: {message}")
    if board is not None and not report.fits(board):
        row = next((r for r in report.schemes if r.board == board and r.scheme == "last-layer"), None)
        if row is None:
            why = "no plan was compiled for it"
        elif row.error:
            why = row.error
        else:
            why = f"the last-layer plan needs an arena of {row.arena_bytes:,} B and a package of {row.package_bytes:,} B"
        raise BudgetExceeded(f"{report.model} does not train on {board}: {why}")


def check_model(path: Path, classes: int | None = None, inputs: int = 3, boards: list | None = None) -> CheckReport:
    """Answer the module docstring's questions for the model at ``path``."""
    from tt_host.compiler import load_graph
    from tt_host.compiler.ir import operator_support
    from tt_host.tflite import load

    raw = path.read_bytes()
    model = load(raw, origin=path)
    report = CheckReport(path.name, operator_support(model))
    unsupported: dict[tuple[str, str], list[int]] = {}
    for i, op, status in report.operators:
        if status.startswith("unsupported"):
            unsupported.setdefault((op, status.removeprefix("unsupported: ")), []).append(i)
    if unsupported:
        listed = "; ".join(f"{op} x{len(at)} (operator{'s' * (len(at) > 1)} {', '.join(map(str, at[:6]))}"
                           f"{' ...' if len(at) > 6 else ''}): {why}" for (op, why), at in unsupported.items())
        report.verdicts.append(Verdict("operators", False, f"unsupported: {listed}"))
        return report
    try:
        graph = load_graph(path)
    except CompileError as exc:
        report.verdicts.append(Verdict("operators", False, str(exc)))
        return report
    report.verdicts.append(Verdict("operators", True, f"all {len(report.operators)} supported"))
    report.verdicts.append(_check_forward(raw, graph, inputs))
    report.verdicts.append(_check_training(graph, classes))
    report.schemes = _memory_rows(graph, classes, boards)
    return report


def _tflm_runtime():
    try:
        from tflite_micro import runtime
    except ImportError:
        return None
    return runtime


def _check_forward(raw: bytes, graph, inputs: int) -> Verdict:
    from tt_host import native
    from tt_host.compiler import compile_model
    from tt_host.compiler.auto import forward_int8
    from tt_host.reference import loss as L

    name = "forward equals TFLite Micro"
    tflm = _tflm_runtime()
    if tflm is None:
        return Verdict(name, None, "not checked: needs the tflite-micro wheel (pip install tflite-micro)")
    executor = _loaded_executor(compile_model(graph, "last-layer"))
    logits = graph.tensors[graph.logits]
    interp = tflm.Interpreter.from_bytes(raw, intrepreter_config=tflm.InterpreterConfig.kPreserveAllTensors)
    source = interp.get_input_details(0)
    compared = 0
    for seed in range(inputs):
        rng = np.random.default_rng(seed)
        if np.dtype(source["dtype"]) == np.int8:
            x = rng.integers(-128, 128, source["shape"]).astype(np.int8)
        else:  # a float model: its QUANTIZE output is the int8 sample the device receives
            x = rng.uniform(-1, 1, source["shape"]).astype(source["dtype"])
        interp.set_input(x, 0)
        interp.invoke()
        image = _tflm_tensor(interp, graph.input).reshape(graph.tensors[graph.input].shape)
        for index, ours in forward_int8(graph, image, native).items():
            want = _tflm_tensor(interp, index).reshape(ours.shape)
            if not np.array_equal(ours, want):
                bad = int(np.count_nonzero(ours != want))
                return Verdict(name, False, f"input {seed}: tensor {index} ({graph.tensors[index].name}) differs "
                                            f"from TFLM at {bad} of {ours.size} elements")
            compared += 1
        want_logits = _tflm_tensor(interp, graph.logits).reshape(-1)
        predicted, loss, _, _ = L.softmax_xent_s8(want_logits, logits.scale, logits.zero_point, 0)
        status, got = executor.step(image, 0, train=False)
        if status or (got.predicted, got.loss) != (predicted, np.float32(loss)):
            return Verdict(name, False, f"input {seed}: the plan's executor predicted {got.predicted} with loss "
                                        f"{got.loss} (status {status}), TFLM's logits give {predicted} and {loss}")
    return Verdict(name, True, f"{compared} tensors over {inputs} inputs, and the plan's prediction and loss")


def _tflm_tensor(interp, index: int) -> np.ndarray:
    return np.asarray(interp.GetTensor(index, 0)["tensor_data"])


def _loaded_executor(compiled):
    from tt_host import native
    from tt_host.compiler import TrainParams, serialize
    from tt_host.compiler.blob import package

    blobs = serialize(compiled.schedule, compiled.plan, TrainParams(), "check")
    executor = native.Executor(compiled.report["arena_bytes"])
    status, detail = executor.load(package(blobs.plan, blobs.weights))
    if status:
        raise TtError(f"the host build of the executor refused the plan it was compiled for (status {status}, "
                      f"detail {detail}): a compiler bug, please report it")
    return executor


def _check_training(graph, classes: int | None) -> Verdict:
    from tt_host.compiler import compile_model

    name = "a training step"
    compiled = compile_model(graph, "last-layer", classes=classes)
    executor = _loaded_executor(compiled)
    sample = graph.tensors[graph.input]
    image = np.random.default_rng(0).integers(-128, 128, sample.shape).astype(np.int8)
    status, result = executor.step(image, 0)
    if status or not math.isfinite(result.loss):
        return Verdict(name, False, f"status {status}, loss {result.loss}")
    return Verdict(name, True, f"last-layer, {compiled.graph.n_classes} classes: loss {result.loss:.3f}")


def _memory_rows(graph, classes: int | None, boards: list | None) -> list[SchemeRow]:
    from tt_host.compiler import TrainParams, compile_model, serialize
    from tt_host.compiler.blob import package
    from tt_host.compiler.report import firmware_footprint
    from tt_host.tooling import boards as boards_mod

    if boards is None:
        boards = [b for b in boards_mod.load_boards().values() if not b.emulated]
    rows = []
    for board in boards:
        firmware = firmware_footprint(board.name)
        budget = board.arena_bytes + firmware.sram
        for scheme in SCHEMES:
            try:
                budgets = dict(budget=budget, store_budget=board.param_store_bytes) if scheme == "paper" else {}
                compiled = compile_model(graph, scheme, classes=classes, firmware=firmware, **budgets)
            except TtError as exc:
                rows.append(SchemeRow(board.name, scheme, error=str(exc)))
                continue
            blobs = serialize(compiled.schedule, compiled.plan, TrainParams(), "check")
            size = len(package(blobs.plan, blobs.weights))
            arena = compiled.report["arena_bytes"]
            stored = compiled.report["commit_bytes"]
            rows.append(SchemeRow(board.name, scheme, compiled.report["trainable_params"],
                                  compiled.peak_sram_bytes, arena, size, stored, arena <= board.arena_bytes,
                                  size <= board.model_area_bytes, stored <= board.param_store_bytes))
    return rows
