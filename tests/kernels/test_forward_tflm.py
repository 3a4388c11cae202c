"""Forward pass of the three shared models: numpy reference and C kernels against TFLite Micro
on every intermediate tensor.

The reference runs each model with every PAD folded into the following convolution's
asymmetric padding (what the firmware executes), so a folded convolution's output is
compared with TFLM's output of the materialised PAD + VALID convolution. A second numpy run
with PAD materialised also checks the PAD tensors themselves.
"""

from __future__ import annotations

import numpy as np
import pytest
from tt_host.reference import graph

from .conftest import MODEL_NAMES

pytestmark = pytest.mark.models

tflm_runtime = pytest.importorskip("tflite_micro", reason="needs the tflite-micro wheel (pip install tflite-micro)").runtime


def _inputs() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(1234)
    noise = rng.integers(-128, 128, size=(1, 128, 128, 3), dtype=np.int8)
    # A smooth image with edges (the statistics of a photo rather than of white noise).
    yy, xx = np.mgrid[0:128, 0:128] / 128.0
    chans = [np.sin(6 * xx + 2 * yy), np.cos(5 * yy - 3 * xx * yy), (xx > 0.4) * 1.6 - 0.8 + 0.2 * np.sin(20 * yy)]
    img = np.clip(np.round(np.stack(chans, axis=-1) * 120 + rng.normal(0, 6, (128, 128, 3))), -128, 127)
    return [("noise", noise), ("smooth", img.astype(np.int8)[None])]


@pytest.fixture(scope="module", params=MODEL_NAMES)
def model_case(request, models_dir):
    from tt_host.tflite import load

    path = models_dir / f"{request.param}-int8.tflite"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    interp = tflm_runtime.Interpreter.from_file(
        str(path), intrepreter_config=tflm_runtime.InterpreterConfig.kPreserveAllTensors
    )
    return request.param, load(path), interp


def _tflm_tensors(interp, x: np.ndarray, indices) -> dict[int, np.ndarray]:
    interp.set_input(x, 0)
    interp.invoke()
    return {i: np.asarray(interp.GetTensor(i, 0)["tensor_data"]) for i in indices}


def _compare(name: str, model, ours: dict[int, np.ndarray], tflm: dict[int, np.ndarray]) -> None:
    bad = []
    for i, got in ours.items():
        want = tflm[i].reshape(got.shape)
        if not np.array_equal(got, want):
            diff = np.abs(got.astype(np.int32) - want)
            bad.append(f"tensor {i} ({model.tensors[i].name}): {np.count_nonzero(diff)} elements differ, max {diff.max()}")
    assert not bad, f"{name}:\n" + "\n".join(bad)


def test_numpy_matches_tflm_on_every_tensor(model_case):
    name, model, interp = model_case
    activations = {o for op in model.operators for o in op.outputs}
    pad_outputs = {op.outputs[0] for op in model.operators if op.op == "PAD"}
    for label, x in _inputs():
        tflm = _tflm_tensors(interp, x, activations | set(model.inputs))
        folded = graph.run(model, x, fold_pad=True)
        # Folding removes exactly the PAD tensors; everything else is computed and compared.
        assert activations - set(folded) == pad_outputs
        _compare(f"{name}/{label} (PAD folded)", model, folded, tflm)
        materialised = graph.run(model, x, fold_pad=False)
        assert activations <= set(materialised)
        _compare(f"{name}/{label} (PAD materialised)", model, materialised, tflm)


def test_c_kernels_match_tflm_on_every_tensor(model_case, native):
    name, model, interp = model_case
    steps = graph.lower(model, fold_pad=True)
    kinds = {s.kind for s in steps}
    assert kinds == {"conv2d", "pw_conv2d", "dw_conv2d", "add", "avgpool", "fc"}
    activations = {o for op in model.operators for o in op.outputs}
    _, x = _inputs()[1]
    tflm = _tflm_tensors(interp, x, activations | set(model.inputs))
    ours = graph.run(model, x, steps=steps, kernels=native)
    assert len(ours) == len(steps) + 1
    _compare(f"{name} (C kernels, PAD folded)", model, ours, tflm)
