"""Numpy reference and C kernels against TFLite Micro on randomly generated small models
(every tensor), covering what the shared models do not: SAME with stride 2, fused
RELU/RELU6, depth multiplier 2, arbitrary asymmetric PAD folded into a VALID depthwise,
padded non-global pooling, multipliers above one, a requantizing MEAN, max pooling, hard swish
and squeeze-excite MULs, standalone RELU / RELU6 / LEAKY_RELU, int8 -> int8 QUANTIZE, PADV2, SQUEEZE
and CONCATENATION."""

from __future__ import annotations

import numpy as np
import pytest

tflm_runtime = pytest.importorskip("tflite_micro", reason="needs the tflite-micro wheel (pip install tflite-micro)").runtime

from tt_host.reference import graph
from tt_host.tflite import load

from .tflite_builder import random_model


@pytest.mark.parametrize("seed", range(30))
def test_random_model_matches_tflm(seed, native):
    buf, shape = random_model(seed)
    model = load(buf)
    interp = tflm_runtime.Interpreter.from_bytes(buf, intrepreter_config=tflm_runtime.InterpreterConfig.kPreserveAllTensors)
    x = np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)
    interp.set_input(x, 0)
    interp.invoke()
    for kernels_name, kernels in (("numpy", None), ("C", native)):
        ours = graph.run(model, x) if kernels is None else graph.run(model, x, kernels=kernels)
        for i, got in ours.items():
            want = np.asarray(interp.GetTensor(i, 0)["tensor_data"]).reshape(got.shape)
            diff = np.argwhere(got != want)
            assert diff.size == 0, (
                f"seed {seed}, {kernels_name}: tensor {i} differs from TFLM at {len(diff)} elements, "
                f"first {diff[0].tolist()}"
            )
