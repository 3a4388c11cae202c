"""Accuracy of on-device training, measured through the device arithmetic.

Every number comes from the plan executor the firmware runs (``tt_host.native.Executor``, the
host build of ``firmware/src/executor.c``, bit-exact with the board): the compiled plan and
weights are packaged, loaded and trained sample by sample exactly as a ``tt-host stream``
would, divergence guard, step bounds and learning-rate schedule included.

Protocol:

* **Data.** Fashion-MNIST (Debian ``dataset-fashion-mnist``), 28x28 gray resized to the
  model's input (128x128, bilinear, PIL), replicated to 3 channels, int8 = pixel - 128.
  Per seed and class, a permutation of the train split gives ``--val-per-class`` (20)
  validation images and then ``--per-class`` (80; also 10) training images, so validation
  does not depend on ``--per-class`` and the 10-image set is part of the 80-image one;
  ``--test-per-class`` (100) test images come from the test split.
* **Models.** ``mbv2``, ``mcunet``, ``proxyless`` (``../shared/models``; skipped with a
  message when absent) and ``demo``: the project's 32x32 demo model on its own task, the
  four labels of ``examples/camera_samples`` (loaded as ``tt-host stream`` loads them, split
  80/20 by the seed as ``stream`` splits them; at most ``--per-class`` / ``--val-per-class``
  of each label), tested on Fashion-MNIST's test images of those four classes.
* **Head.** A new classifier for the task's classes, imprinted from the training images
  (``tt_host.compiler.head.imprint``).
* **Schemes.** ``last-layer``, ``bias-only``, ``published`` (the model's ~100 KB scheme in
  ``../shared/schemes``), ``auto-64K`` / ``auto-128K`` / ``auto-256K`` (the Fisher
  selection on the training images under that peak-SRAM budget), ``paper-64K`` / ``paper-128K`` /
  ``paper-256K`` (the 256 KB paper's contribution ranking under that budget, ``tt-host stream``'s
  default), ``auto-published`` / ``paper-published`` (either under the published scheme's own
  peak: the same-budget comparison) and ``full``. A scheme that
  does not compile (over budget, no published scheme) or that the executor refuses is
  listed under ``skipped`` with the reason.
* **Training.** The recipe (``tt_host.recipe``, ``TrainParams()``) with ``lr = recipe.LR x
  factor`` for each ``--lr-factors`` entry, the stochastic-rounding seed = the run's seed;
  batch 1, ``--epochs`` (10) passes, a seeded reshuffle per epoch, each step at
  ``LrSchedule.for_steps(total).scale_q16(step)``. A step answered DIVERGED (0x34: the
  device's guard stopped training) ends the run; the state it left is evaluated but never
  kept.
* **Evaluation.** Validation and test, before training and after every epoch. *Kept* is
  what ``tt-host stream`` ends with: the state with the best validation accuracy (ties: the
  lower validation loss, then the earlier state; the start counts).
* **Float reference** (optional, needs PyTorch: ``pip install -e .[bench]``):
  ``bench/float_reference.py`` trains the float32 twin of the same network, head, scheme,
  samples, order and schedule with plain SGD; its forward is checked against the int8
  forward on ``--compare-images`` images per setup (``forward_checks`` in the JSON).

Writes ``<out>/accuracy.json`` (every run, its curves and the settings),
``<out>/accuracy.md`` (a table per model, plus the learning-rate sweep when there are several
factors) and ``<out>/accuracy.png`` (kept test accuracy against peak SRAM, with matplotlib), both
drawn by ``bench/accuracy_report.py`` from the JSON;
``--quick`` (demo model, 1 epoch, a few samples) writes ``accuracy-quick.*`` instead.

    python bench/accuracy.py                                  # the full table (hours)
    python bench/accuracy.py --per-class 10 --lr-factors 0.3,1,3,10 --schemes published,auto-128K
    python bench/accuracy.py --quick                          # smoke run, a few seconds
    python bench/accuracy.py --merge --models mcunet --schemes published   # add rows to the table

The outputs are rewritten after every run, so an interrupted table keeps what it measured;
``--merge`` then measures the rest into the same files.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tt_protocol.plan import PlanHeader
from tt_protocol.status import Status

from tt_host import native, recipe

from tt_host.workflows import rate
from tt_host.cli.app import parse_size
from tt_host.compiler import (
    CompiledPlan,
    CompileError,
    Graph,
    PlanBudgetExceeded,
    TrainParams,
    compile_model,
    load_graph,
    serialize,
)
from tt_host.compiler import head as head_mod
from tt_host.compiler.blob import package
from tt_host.datasets import FASHION_MNIST_CLASSES, fashion_mnist
from tt_host.paths import REPO_ROOT, SHARED_DIR
from tt_host.recipe import LrSchedule
from tt_host.workflows.samples import _pixels_to_input, scan

RESULTS = Path(__file__).resolve().parent / "results"
DEMO_SAMPLES = REPO_ROOT / "examples" / "camera_samples"
SCHEMES = ("last-layer", "bias-only", "published", "auto-64K", "auto-128K", "auto-256K", "paper-64K", "paper-128K",
           "paper-256K", "auto-published", "paper-published", "full")
#: ``stream``'s default held-out share, which the demo task's validation split is.
DEMO_EVAL_SPLIT = 0.2


@dataclass(frozen=True)
class ModelSpec:
    name: str
    tflite: Path
    published: Path | None  #: the published ~100 KB sparse-update scheme, if the model has one
    task: str  #: "fashion-mnist" (10 classes) or "demo" (the camera samples' 4 classes)


MODELS = {
    "mbv2": ModelSpec("mbv2", SHARED_DIR / "models" / "mbv2-w0.35-int8.tflite",
                      SHARED_DIR / "schemes" / "mbv2-w0.35-99kb.json", "fashion-mnist"),
    "mcunet": ModelSpec("mcunet", SHARED_DIR / "models" / "mcunet-5fps-int8.tflite",
                        SHARED_DIR / "schemes" / "mcunet-5fps-99kb.json", "fashion-mnist"),
    "proxyless": ModelSpec("proxyless", SHARED_DIR / "models" / "proxyless-w0.3-int8.tflite",
                           SHARED_DIR / "schemes" / "proxyless-w0.3-98kb.json", "fashion-mnist"),
    "demo": ModelSpec("demo", REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite", None, "demo"),
}


@dataclass(frozen=True)
class Config:
    """One benchmark run's settings (the CLI's options)."""

    models: tuple[str, ...] = ("mbv2", "mcunet", "proxyless", "demo")
    schemes: tuple[str, ...] = SCHEMES
    per_class: tuple[int, ...] = (80,)
    val_per_class: int = 20
    test_per_class: int = 100
    seeds: tuple[int, ...] = (0,)
    lr_factors: tuple[float, ...] = (1.0,)
    epochs: int = 10
    float_reference: bool = True  #: when PyTorch is installed
    compare_images: int = 10  #: images per setup on which the float forward is checked
    out: Path = RESULTS
    name: str = "accuracy"  #: file stem of the outputs
    merge: bool = False  #: add to the results already in ``out`` instead of replacing them


#: ``--quick``: the demo model, one epoch, a few samples (a smoke run of every code path).
QUICK = Config(models=("demo",), schemes=("last-layer", "bias-only", "auto-64K", "full"), per_class=(8,),
               val_per_class=5, test_per_class=10, epochs=1, compare_images=4, name="accuracy-quick")


class Skip(Exception):
    """A model or scheme this run cannot measure; the message says why."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    images: np.ndarray  #: int8 [N, H, W, C], the model's input
    labels: np.ndarray  #: int64 [N], indices into the task's classes

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Task:
    description: str
    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split


def fashion_input(pixels: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """28x28 gray images -> int8 model inputs of ``shape`` (bilinear resize, gray replicated)."""
    h, w, c = shape
    out = np.empty((len(pixels), h, w, c), np.int8)
    for k, p in enumerate(pixels):
        out[k] = _pixels_to_input(np.asarray(Image.fromarray(p).resize((w, h), Image.BILINEAR)))[:, :, None]
    return out


def _per_class(labels: np.ndarray, classes: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """A random permutation of each class's indices, in ``classes`` order."""
    return [rng.permutation(np.flatnonzero(labels == c)) for c in classes]


def _split(x: np.ndarray, y: np.ndarray, picks: list[np.ndarray], shape: Sequence[int]) -> Split:
    index = np.concatenate(picks)
    labels = np.concatenate([np.full(len(p), k, np.int64) for k, p in enumerate(picks)])
    return Split(fashion_input(x[index], shape), labels)


def fashion_task(shape: Sequence[int], per_class: int, val_per_class: int, test_per_class: int, seed: int) -> Task:
    """Fashion-MNIST's 10 classes (see the module docstring for which images)."""
    classes = range(len(FASHION_MNIST_CLASSES))
    x, y = fashion_mnist("train")
    # One permutation per class serves validation (its head) and training (what follows), so
    # the validation set does not move with --per-class and smaller training sets are nested.
    # The test split draws from its own stream of the seed.
    perm = _per_class(y, classes, np.random.default_rng([seed, 0]))
    val = _split(x, y, [p[:val_per_class] for p in perm], shape)
    train = _split(x, y, [p[val_per_class:val_per_class + per_class] for p in perm], shape)
    xt, yt = fashion_mnist("test")
    test = _split(xt, yt, [p[:test_per_class] for p in _per_class(yt, classes, np.random.default_rng([seed, 1]))],
                  shape)
    return Task(f"Fashion-MNIST {shape[0]}x{shape[1]}", FASHION_MNIST_CLASSES, train, val, test)


def _first_of_each(indices: list[int], labels: np.ndarray, n: int) -> list[int]:
    """The first ``n`` of ``indices`` of every label, order kept."""
    seen: dict[int, int] = {}
    out = []
    for i in indices:
        seen[labels[i]] = seen.get(labels[i], 0) + 1
        if seen[labels[i]] <= n:
            out.append(i)
    return out


def demo_task(shape: Sequence[int], per_class: int, val_per_class: int, test_per_class: int, seed: int) -> Task:
    """The camera samples' labels: ``stream``'s seeded 80/20 split (validation = the held-out
    part), tested on Fashion-MNIST's test images of the same classes (the camera samples are
    train-split images, ``examples/make_camera_samples.py``, converted exactly as
    :func:`fashion_input` converts)."""
    images, labels, names = head_mod.load_samples(DEMO_SAMPLES, tuple(shape))
    folder = scan(DEMO_SAMPLES)
    position = {s.path: k for k, s in enumerate(folder.samples)}
    train_s, held_s = folder.split(DEMO_EVAL_SPLIT, seed)
    train = _first_of_each([position[s.path] for s in train_s], labels, per_class)
    val = _first_of_each([position[s.path] for s in held_s], labels, val_per_class)
    xt, yt = fashion_mnist("test")
    fmnist = [FASHION_MNIST_CLASSES.index(n) for n in names]
    picks = [p[:test_per_class] for p in _per_class(yt, fmnist, np.random.default_rng([seed, 1]))]
    return Task(f"camera_samples ({', '.join(names)}) {shape[0]}x{shape[1]}", tuple(names),
                Split(images[train], labels[train]), Split(images[val], labels[val]), _split(xt, yt, picks, shape))


def epoch_orders(n: int, epochs: int, seed: int) -> list[list[int]]:
    """The training samples' order in each epoch (a seeded reshuffle per epoch)."""
    orders = []
    for epoch in range(epochs):
        order = list(range(n))
        random.Random(f"tt-bench-accuracy/{seed}/{epoch}").shuffle(order)
        orders.append(order)
    return orders


# -- compiling ---------------------------------------------------------------------------------------


def compile_scheme(graph: Graph, spec: ModelSpec, scheme: str, train: Split) -> CompiledPlan:
    """The plan of ``scheme`` (one of :data:`SCHEMES`) for the imprinted ``graph``."""
    try:
        if scheme == "published":
            if spec.published is None or not spec.published.is_file():
                raise Skip(f"no published scheme for {spec.name}")
            return compile_model(graph, spec.published)
        method, _, budget = scheme.partition("-")
        if method in ("auto", "paper"):
            if budget == "published":  # the same peak SRAM as the published scheme
                budget_bytes = compile_scheme(graph, spec, "published", train).peak_sram_bytes
            else:
                budget_bytes = parse_size(budget)
            return compile_model(graph, method, budget_bytes, samples=(train.images, train.labels))
        return compile_model(graph, scheme)
    except (CompileError, PlanBudgetExceeded) as exc:
        raise Skip(f"does not compile: {exc}") from exc


def scheme_summary(compiled: CompiledPlan) -> dict:
    """What trains, compactly: bias convs and, per weight conv, how many input channels."""
    s = compiled.scheme
    return {"name": s.name, "bias_convs": sorted(s.bias),
            "weight_channels": {str(k): len(v) for k, v in sorted(s.weights.items())}}


# -- the int8 run ---------------------------------------------------------------------------------------


def load_executor(compiled: CompiledPlan, params: TrainParams) -> tuple[native.Executor, int]:
    """An executor holding the plan's package; ``(executor, package bytes)``."""
    blobs = serialize(compiled.schedule, compiled.plan, params, compiled.scheme.name,
                      int(compiled.report["trainable_params"]))
    pkg = package(blobs.plan, blobs.weights)
    ex = native.Executor(arena_bytes=PlanHeader.parse(blobs.plan).arena_bytes)
    status, detail = ex.load(pkg)
    if status != Status.OK:
        raise Skip(f"the executor refuses the package: {Status(status).name} (detail {detail})")
    return ex, len(pkg)


def evaluate(ex: native.Executor, split: Split) -> tuple[float, float]:
    """``(accuracy, mean loss)`` of the executor's current parameters (nothing trains)."""
    return rate.evaluate(ex, split.images, split.labels)


def train_int8(compiled: CompiledPlan, task: Task, orders: list[list[int]], params: TrainParams) -> dict:
    """Train the plan on the executor; the curve, divergence and timings."""
    t0 = time.perf_counter()
    ex, package_bytes = load_executor(compiled, params)
    wall = {"load": time.perf_counter() - t0, "train": 0.0, "eval": 0.0}

    def measure(point: dict) -> dict:
        t1 = time.perf_counter()
        for name, split in (("val", task.val), ("test", task.test)):
            point[f"{name}_accuracy"], point[f"{name}_loss"] = evaluate(ex, split)
        wall["eval"] += time.perf_counter() - t1
        return point

    schedule = LrSchedule.for_steps(sum(len(o) for o in orders))
    curve = [measure({"epoch": 0, "step": 0})]
    step, skipped, diverged_at = 0, 0, None
    for epoch, order in enumerate(orders, 1):
        t1 = time.perf_counter()
        loss_sum, hits, done = 0.0, 0, 0
        for i in order:
            status, r = ex.step(task.train.images[i], int(task.train.labels[i]), train=True,
                                lr_scale=schedule.scale_q16(step))
            if status == Status.DIVERGED:
                diverged_at = step
                break
            if status != Status.OK:
                raise RuntimeError(f"training step {step} answered {Status(status).name}")
            loss_sum, hits, done = loss_sum + r.loss, hits + int(r.correct), done + 1
            skipped += int(r.skipped)
            step += 1
        wall["train"] += time.perf_counter() - t1
        point = {"epoch": epoch, "step": step, "train_loss": loss_sum / max(done, 1),
                 "train_accuracy": hits / max(done, 1)}
        if diverged_at is not None:
            point["diverged"] = True
        curve.append(measure(point))
        if diverged_at is not None:
            break
    wall["total"] = time.perf_counter() - t0
    return {"curve": curve, "steps": step, "diverged_at_step": diverged_at, "skipped_steps": skipped,
            "package_bytes": package_bytes, "s_per_train_step": wall["train"] / max(step, 1), "wall_s": wall}


# -- kept / summary ----------------------------------------------------------------------------------------


def kept_index(curve: Sequence[dict]) -> int:
    """The state ``tt-host stream`` keeps: best validation accuracy, then lower validation loss,
    then the earlier state; a state the divergence guard left behind is never kept."""
    candidates = [k for k, p in enumerate(curve) if not p.get("diverged")]
    return max(candidates, key=lambda k: (curve[k]["val_accuracy"], -curve[k]["val_loss"], -k))


def summarize(result: dict) -> dict:
    """``result`` with ``before``, ``kept`` (its ``epoch`` says which) and ``last`` added."""
    curve = result["curve"]
    return {**result, "before": curve[0], "kept": curve[kept_index(curve)], "last": curve[-1]}


# -- the float reference -------------------------------------------------------------------------------------


def float_module():
    """``bench/float_reference.py`` when PyTorch is importable, else None."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    return load_sibling("float_reference")


def load_sibling(name: str):
    """A module of this folder by file (``bench/`` is not a package, and importing this script
    as a library must not depend on the working directory or ``sys.path``)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


# -- the benchmark ------------------------------------------------------------------------------------------


def _task(spec: ModelSpec, graph: Graph, cfg: Config, per_class: int, seed: int) -> Task:
    shape = graph.tensors[graph.input].shape
    make = demo_task if spec.task == "demo" else fashion_task
    return make(shape, per_class, cfg.val_per_class, cfg.test_per_class, seed)


def _run_record(base: dict, compiled: CompiledPlan, params: TrainParams, factor: float) -> dict:
    return {**base, "lr_factor": factor, "lr": params.lr, "head_lr": params.head_rate,
            "trainable_params": int(compiled.report["trainable_params"]),
            "peak_sram_bytes": int(compiled.report["peak_sram_bytes"]), "scheme_detail": scheme_summary(compiled)}


def run_setup(spec: ModelSpec, cfg: Config, per_class: int, seed: int, fref, out: dict,
              save: Callable[[], None]) -> None:
    """Every scheme and learning-rate factor of one model, sample count and seed; records into
    ``out["runs"]``, ``out["skipped"]`` and ``out["forward_checks"]`` and calls ``save`` after each
    run (an hours-long table survives an interruption)."""
    base_graph = load_graph(spec.tflite)
    task = _task(spec, base_graph, cfg, per_class, seed)
    tag = f"[{spec.name} {per_class}/class seed {seed}]"
    t0 = time.perf_counter()
    graph = head_mod.imprint(base_graph, task.train.images, task.train.labels, list(task.classes))
    log(f"{tag} {task.description}: {len(task.train)} train, {len(task.val)} val, {len(task.test)} test; "
        f"head imprinted in {time.perf_counter() - t0:.0f} s")
    base = {"model": spec.name, "task": task.description, "per_class": per_class, "seed": seed,
            "train_samples": len(task.train), "val_samples": len(task.val), "test_samples": len(task.test)}
    if fref is not None and cfg.compare_images:
        images = task.test.images[:: max(1, len(task.test) // cfg.compare_images)][: cfg.compare_images]
        check = fref.compare_forward(graph, images)
        record(out["forward_checks"], {**base, **check})
        log(f"{tag} float vs int8 forward: each layer within {check['max_layer_error_steps']:.2f} steps; "
            f"end to end argmax {check['argmax_agree']}/{check['images']}, "
            f"mean |logit diff| {check['mean_abs_logit_diff']:.3f} (max {check['max_abs_logit_diff']:.3f})")
    orders = epoch_orders(len(task.train), cfg.epochs, seed)
    for scheme in cfg.schemes:
        t1 = time.perf_counter()
        try:
            compiled = compile_scheme(graph, spec, scheme, task.train)
        except Skip as exc:
            record(out["skipped"], {**base, "scheme": scheme, "reason": str(exc)})
            log(f"{tag} {scheme}: skipped, {exc}")
            continue
        compile_s = time.perf_counter() - t1
        for factor in cfg.lr_factors:
            params = TrainParams(lr=recipe.LR * factor, seed=seed)
            run = {**_run_record({**base, "scheme": scheme}, compiled, params, factor), "compile_s": compile_s}
            try:
                run["int8"] = summarize(train_int8(compiled, task, orders, params))
            except Skip as exc:
                record(out["skipped"], {**base, "scheme": scheme, "lr_factor": factor, "reason": str(exc)})
                log(f"{tag} {scheme} x{factor:g}: skipped, {exc}")
                continue
            run["float"] = None
            if fref is not None:
                eval_sets = {"val": (task.val.images, task.val.labels), "test": (task.test.images, task.test.labels)}
                run["float"] = summarize(fref.train(graph, compiled.scheme, (task.train.images, task.train.labels),
                                                       eval_sets, orders, params))
            record(out["runs"], run)
            log(f"{tag} {_run_line(run)}")
            save()


def _run_line(r: dict) -> str:
    pct = report().pct
    i8 = r["int8"]
    line = (f"{r['scheme']} x{r['lr_factor']:g}: {r['trainable_params']:,} params, {r['peak_sram_bytes']:,} B; "
            f"test {pct(i8['before']['test_accuracy'])} -> kept {pct(i8['kept']['test_accuracy'])} "
            f"(epoch {i8['kept']['epoch']}), last {pct(i8['last']['test_accuracy'])}")
    if i8["diverged_at_step"] is not None:
        line += f", DIVERGED at step {i8['diverged_at_step']}"
    line += f"; {1e3 * i8['s_per_train_step']:.1f} ms/step, {i8['wall_s']['total']:.0f} s"
    if r["float"]:
        line += f"; float kept {pct(r['float']['kept']['test_accuracy'])} ({r['float']['wall_s']['total']:.0f} s)"
    return line


def settings(cfg: Config, fref) -> dict:
    torch_version = None
    if fref is not None:
        import torch

        torch_version = torch.__version__
    return {**{k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()},
            "recipe": {"lr": recipe.LR, "head_lr_ratio": recipe.HEAD_LR_RATIO,
                       "weight_step_max": recipe.WEIGHT_STEP_MAX, "bias_step_max": recipe.BIAS_STEP_MAX,
                       "diverge_after": recipe.DIVERGE_AFTER, "warmup_fraction": recipe.WARMUP_FRACTION,
                       "warmup_max_steps": recipe.WARMUP_MAX_STEPS, "final_scale": recipe.FINAL_SCALE},
            "batch": 1, "demo_eval_split": DEMO_EVAL_SPLIT, "torch": torch_version}


def run(cfg: Config) -> dict:
    """The library entry point: measure every setup of ``cfg``, write the JSON, markdown and
    plot under ``cfg.out``, return the JSON's contents."""
    fref = float_module() if cfg.float_reference else None
    if cfg.float_reference and fref is None:
        log("PyTorch is not installed: no float reference column (pip install -e .[bench])")
    out: dict = {"benchmark": "accuracy", "settings": settings(cfg, fref), "models": {}, "runs": [], "skipped": [],
                 "forward_checks": []}
    if cfg.merge:
        out = merged_into(previous_results(cfg), out)
    unknown = [m for m in cfg.models if m not in MODELS] + [s for s in cfg.schemes if s not in SCHEMES]
    if unknown:
        raise ValueError(f"unknown model or scheme {', '.join(unknown)}: models are {', '.join(MODELS)}, "
                         f"schemes {', '.join(SCHEMES)}")
    for factor in cfg.lr_factors:
        TrainParams(lr=recipe.LR * factor)  # a rate the plan cannot carry fails here, not hours in
    t0 = time.perf_counter()
    for name in cfg.models:
        spec = MODELS[name]
        if not spec.tflite.is_file():
            log(f"[{name}] skipped: {spec.tflite} is absent")
            out["skipped"].append({"model": name, "reason": f"{spec.tflite} is absent"})
            continue
        out["models"][name] = {"tflite": str(spec.tflite), "published_scheme": spec.published and str(spec.published)}
        for per_class in cfg.per_class:
            for seed in cfg.seeds:
                run_setup(spec, cfg, per_class, seed, fref, out, save=lambda: write_outputs(out, cfg, quiet=True))
    out["wall_s"] = out.get("wall_s", 0.0) + time.perf_counter() - t0
    write_outputs(out, cfg)
    return out


#: The settings that make two runs comparable; ``--merge`` refuses results measured otherwise.
PROTOCOL_SETTINGS = ("val_per_class", "test_per_class", "epochs", "recipe", "batch", "demo_eval_split")
#: The settings that say what was measured; merged results list the union.
COVERAGE_SETTINGS = ("models", "schemes", "per_class", "seeds", "lr_factors")


def previous_results(cfg: Config) -> dict | None:
    path = (cfg.out / cfg.name).with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else None


def _run_key(entry: dict) -> tuple:
    return tuple(entry.get(k) for k in ("model", "per_class", "seed", "scheme", "lr_factor"))


def merged_into(previous: dict | None, out: dict) -> dict:
    """``out`` (a run about to start) carrying ``previous``'s measurements, so that a long table is
    measured in several sittings; what this run measures again replaces the earlier entry (see
    ``record``). Results measured under another protocol (epochs, split sizes, recipe) are refused
    rather than mixed into one table."""
    if previous is None:
        return out
    new, old = out["settings"], previous["settings"]
    differ = [k for k in PROTOCOL_SETTINGS if json.dumps(new.get(k)) != json.dumps(old.get(k))]
    if differ:
        raise ValueError(f"--merge: the results in {new['out']} were measured with other {', '.join(differ)} "
                         f"({', '.join(f'{k}={old.get(k)}' for k in differ)}); use another --out or drop --merge")
    for k in COVERAGE_SETTINGS:
        new[k] = list(dict.fromkeys([*old[k], *new[k]]))
    new["torch"] = new["torch"] or old.get("torch")
    return {**out, "models": {**previous["models"]}, "runs": previous["runs"], "skipped": previous["skipped"],
            "forward_checks": previous["forward_checks"], "wall_s": previous.get("wall_s", 0.0)}


def record(entries: list[dict], entry: dict) -> None:
    """Append ``entry`` to ``entries``, replacing an earlier measurement of the same model, sample
    count, seed, scheme and learning-rate factor (a merged run measuring it again)."""
    entries[:] = [e for e in entries if _run_key(e) != _run_key(entry)] + [entry]


def report():
    """``bench/accuracy_report.py``: the markdown and the plot."""
    return load_sibling("accuracy_report")


def write_outputs(out: dict, cfg: Config, quiet: bool = False) -> None:
    cfg.out.mkdir(parents=True, exist_ok=True)
    stem = cfg.out / cfg.name
    stem.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    stem.with_suffix(".md").write_text(report().markdown(out) + "\n")
    written = [stem.with_suffix(".json"), stem.with_suffix(".md")]
    if report().plot(out, stem.with_suffix(".png")):
        written.append(stem.with_suffix(".png"))
    if not quiet:
        log("wrote " + ", ".join(str(p) for p in written))


# -- command line ------------------------------------------------------------------------------------------------


def _csv(kind: type) -> Callable[[str], tuple]:
    return lambda text: tuple(kind(v) for v in text.split(",") if v.strip())


def parse_args(argv: Sequence[str] | None = None) -> Config:
    d = Config()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=_csv(str), default=d.models, help=f"of {', '.join(MODELS)}")
    ap.add_argument("--schemes", type=_csv(str), default=d.schemes, help=f"of {', '.join(SCHEMES)}")
    ap.add_argument("--per-class", type=_csv(int), default=d.per_class, help="training images per class (list)")
    ap.add_argument("--val-per-class", type=int, default=d.val_per_class)
    ap.add_argument("--test-per-class", type=int, default=d.test_per_class)
    ap.add_argument("--seeds", type=_csv(int), default=d.seeds)
    ap.add_argument("--lr-factors", type=_csv(float), default=d.lr_factors, help="multiples of recipe.LR (list)")
    ap.add_argument("--epochs", type=int, default=d.epochs)
    ap.add_argument("--no-float", dest="float_reference", action="store_false", help="skip the float32 reference")
    ap.add_argument("--compare-images", type=int, default=d.compare_images)
    ap.add_argument("--out", type=Path, default=d.out, help="output folder")
    ap.add_argument("--merge", action="store_true",
                    help="add to the results already in --out (same epochs, splits and recipe) instead of replacing them")
    ap.add_argument("--quick", action="store_true", help="smoke run: demo model, 1 epoch, a few samples")
    args = ap.parse_args(argv)
    for given, known, what in ((args.models, MODELS, "model"), (args.schemes, SCHEMES, "scheme")):
        unknown = [v for v in given if v not in known]
        if unknown:
            ap.error(f"unknown {what}(s) {', '.join(unknown)}: choose from {', '.join(known)}")
    if any(not 0 < recipe.LR * f < 1 for f in args.lr_factors):
        ap.error(f"--lr-factors must keep recipe.LR x factor in (0, 1) (recipe.LR = {recipe.LR:g})")
    if args.quick:
        return dataclasses.replace(QUICK, float_reference=args.float_reference, out=args.out, merge=args.merge)
    fields = {f.name for f in dataclasses.fields(Config)} - {"name"}
    return Config(**{k: v for k, v in vars(args).items() if k in fields})


def main(argv: Sequence[str] | None = None) -> int:
    out = run(parse_args(argv))
    print(report().markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
