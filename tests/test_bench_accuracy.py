"""``bench/accuracy.py --quick`` runs through its library entry point and writes sane results.

A smoke test of the benchmark, not of learning: the demo model on a few camera samples, one
epoch, every code path (compiling each scheme, the executor's training and evaluation, the
kept-on-validation rule, the float reference when PyTorch is installed, the outputs).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from tt_host.datasets import FASHION_MNIST_DIR, fashion_mnist_available

pytestmark = [
    pytest.mark.skipif(not shutil.which("cmake") or not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")),
                       reason="needs cmake and a C compiler for the host executor (scripts/setup.sh installs them)"),
    pytest.mark.skipif(not fashion_mnist_available(),
                       reason=f"Fashion-MNIST not in {FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)"),
]

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "accuracy.py"


def _load_script():
    if "bench_accuracy" in sys.modules:
        return sys.modules["bench_accuracy"]
    spec = importlib.util.spec_from_file_location("bench_accuracy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_accuracy"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict, Path]:
    bench = _load_script()
    out = tmp_path_factory.mktemp("bench-accuracy")
    result = bench.run(dataclasses.replace(bench.QUICK, out=out))
    return bench, result, out


def _accuracies(point: dict) -> list[float]:
    return [point[k] for k in point if k.endswith("_accuracy")]


def test_quick_writes_json_and_markdown(quick) -> None:
    bench, result, out = quick
    on_disk = json.loads((out / "accuracy-quick.json").read_text())
    assert on_disk["runs"] == json.loads(json.dumps(result["runs"]))
    assert {"benchmark", "settings", "models", "runs", "skipped", "forward_checks"} <= on_disk.keys()
    assert on_disk["settings"]["epochs"] == 1 and on_disk["settings"]["models"] == ["demo"]
    markdown = (out / "accuracy-quick.md").read_text()
    assert "## demo" in markdown and "| last-layer |" in markdown


def test_every_scheme_ran_or_says_why_not(quick) -> None:
    bench, result, _ = quick
    ran = {r["scheme"] for r in result["runs"]}
    skipped = {s["scheme"]: s["reason"] for s in result["skipped"]}
    assert ran | set(skipped) == set(bench.QUICK.schemes)
    assert "last-layer" in ran and all(skipped.values())


def test_runs_are_sane(quick) -> None:
    bench, result, _ = quick
    torch_present = importlib.util.find_spec("torch") is not None
    for run in result["runs"]:
        assert run["trainable_params"] > 0 and run["peak_sram_bytes"] > 0
        assert run["lr"] == pytest.approx(0.003 * run["lr_factor"])
        parts = [run["int8"]] + ([run["float"]] if torch_present else [])
        assert (run["float"] is not None) == torch_present
        for part in parts:
            curve = part["curve"]
            assert [p["epoch"] for p in curve] == [0, 1]
            assert curve[-1]["step"] == part["steps"] == run["train_samples"]
            assert all(0.0 <= a <= 1.0 for p in curve for a in _accuracies(p))
            assert all(p["val_loss"] >= 0 and p["test_loss"] >= 0 for p in curve)
            assert part["before"] == curve[0] and part["last"] == curve[-1]
            assert part["kept"] in curve
            assert part["kept"]["val_accuracy"] >= part["before"]["val_accuracy"], "kept on validation, start counts"
        assert run["int8"]["diverged_at_step"] is None
        assert 0 <= run["int8"]["skipped_steps"] <= run["int8"]["steps"]


def test_float_forward_matches_int8(quick) -> None:
    _, result, _ = quick
    if importlib.util.find_spec("torch") is None:
        assert result["forward_checks"] == []
        return
    (check,) = result["forward_checks"]
    assert check["max_layer_error_steps"] < 0.6  # each layer: rounding only
    assert check["argmax_agree"] >= check["images"] - 1


def test_kept_follows_the_stream_rule() -> None:
    bench = _load_script()
    curve = [{"val_accuracy": 0.5, "val_loss": 1.0}, {"val_accuracy": 0.6, "val_loss": 0.9},
             {"val_accuracy": 0.6, "val_loss": 0.8}, {"val_accuracy": 0.6, "val_loss": 0.8},
             {"val_accuracy": 0.9, "val_loss": 0.1, "diverged": True}]
    assert bench.kept_index(curve) == 2  # best accuracy, then lower loss, then earlier; never a diverged state
    assert bench.kept_index(curve[:1]) == 0


def test_a_run_the_guard_stops_ends_there_and_is_not_kept() -> None:
    """The demo's full update at 100x the recipe's rate with the step bounds lifted (the setting
    ``tests/test_safe_learning.py`` collapses) makes the device answer DIVERGED within the epoch."""
    from tt_host.compiler import TrainParams, load_graph
    from tt_host.compiler import head as head_mod

    bench = _load_script()
    spec = bench.MODELS["demo"]
    graph = load_graph(spec.tflite)
    task = bench.demo_task(graph.tensors[graph.input].shape, 30, 5, 5, seed=0)
    graph = head_mod.imprint(graph, task.train.images, task.train.labels, list(task.classes))
    compiled = bench.compile_scheme(graph, spec, "full", task.train)
    collapsing = TrainParams(lr=0.3, weight_step_max=127.0, bias_step_max=32768.0)
    result = bench.summarize(bench.train_int8(compiled, task, bench.epoch_orders(len(task.train), 2, 0), collapsing))
    assert result["diverged_at_step"] is not None and result["steps"] == result["diverged_at_step"]
    assert result["curve"][-1]["diverged"] and len(result["curve"]) == 2
    assert not result["kept"].get("diverged")
