"""``tt-host check``: the command a user runs first on their own model (tt_host.workflows.check).

Corpus models as a user has them: a classic CNN (int8 in and out) and a DS-CNN with float input
pass every check and report what they need on the F746; a model with unsupported operators is
refused with them named (exit 2); a model too large for the board is exit 8 with ``--board``; a
forward that stops matching TFLite Micro fails the check (exit 1).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tt_host.cli.app import app
from tt_host.paths import REPO_ROOT
from tt_host.tooling import boards
from tt_host.workflows import check

pytest.importorskip("tflite_micro", reason="needs the tflite-micro wheel (pip install tflite-micro)")

CORPUS = REPO_ROOT / "examples" / "models"
runner = CliRunner()


def _json(result) -> dict:
    return json.loads(result.stdout[result.stdout.index("{"):])


@pytest.mark.parametrize("name", ["cnn", "ds_cnn-float"])
def test_a_supported_model_passes_every_check(name):
    result = runner.invoke(app, ["check", str(CORPUS / f"{name}.tflite"), "--classes", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = _json(result)
    assert report["ok"]
    assert [v["name"] for v in report["verdicts"]] == ["operators", "forward equals TFLite Micro", "a training step"]
    assert all(v["ok"] for v in report["verdicts"]), report["verdicts"]
    assert all(op["status"] in ("runs", "folded", "edge") for op in report["operators"])
    disco = boards.resolve("f746-disco")
    rows = {r["scheme"]: r for r in report["schemes"] if r["board"] == disco.name}
    assert set(rows) == set(check.SCHEMES)
    for row in rows.values():
        assert row["fits"] == (row["arena_bytes"] <= disco.arena_bytes
                               and row["package_bytes"] <= disco.model_area_bytes)
    assert rows["last-layer"]["trainable_params"] < rows["paper"]["trainable_params"]


def test_a_model_with_unsupported_operators_is_refused_naming_them(tmp_path):
    """A TANH (no kernel) and a depthwise convolution with depth multiplier 2 on 128 channels (a
    supported operator used beyond what the compiler expands): both named with their indices, exit 2."""
    from kernels.tflite_builder import ModelBuilder
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

    mb = ModelBuilder(np.random.default_rng(0))
    x = mb.activation((1, 8, 8, 128), np.float32(0.02), 0)
    y = mb.conv(x, 0, 3, 1, "SAME", depthwise=True, mult=2)
    t = mb.activation(mb.shapes[y], np.float32(1 / 128), 0)
    mb.op(S.BuiltinOperator.TANH, [y], [t])
    path = tmp_path / "tanh.tflite"
    path.write_bytes(mb.finish([x], [mb.fc(t, 3)]))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "DEPTHWISE_CONV_2D x1 (operator 0): depth multiplier 2 runs as a convolution of 294,912 weights" in text
    assert "TANH x1 (operator 1): no kernel" in text


def test_a_model_too_large_for_the_board_is_exit_8(tmp_path):
    """A 1 MB fully connected layer: supported and bit-exact, but no package fits the F746's
    896 KB model area."""
    from kernels.tflite_builder import ModelBuilder

    mb = ModelBuilder(np.random.default_rng(0))
    x = mb.activation((1, 1000), np.float32(0.02), 3)
    y = mb.fc(mb.fc(x, 1000), 4)
    path = tmp_path / "big_mlp.tflite"
    path.write_bytes(mb.finish([x], [y]))
    result = runner.invoke(app, ["check", str(path), "--board", "f746", "--json"])
    assert result.exit_code == 8, result.output
    report = _json(result)
    assert report["ok"] and not any(r["fits"] for r in report["schemes"])
    assert "does not train on f746-disco" in result.output


def test_a_forward_that_differs_from_tflm_fails_the_check(monkeypatch):
    """The check compares what the device computes: corrupt one activation of the C forward and
    the verdict names the tensor (exit 1, a tt bug)."""
    from tt_host.compiler import auto

    real = auto.forward_int8

    def off_by_one(graph, image, kernels=None):
        tensors = real(graph, image, kernels)
        last = graph.layers[-1].output
        tensors[last] = (tensors[last].astype(np.int16) + 1).clip(-128, 127).astype(np.int8)
        return tensors

    monkeypatch.setattr(auto, "forward_int8", off_by_one)
    result = runner.invoke(app, ["check", str(CORPUS / "fully_connected.tflite")])
    assert result.exit_code == 1
    assert "differs from TFLM" in " ".join(result.output.split())
