"""Dilated convolutions and depthwise convolutions with a depth multiplier run as plain kernels
on expanded weights (zeros between dilated taps; a dense convolution whose output channel o
reads input o // m): every tensor equals TFLite Micro's, the layer's bias trains bit-exact on
the executors, and its weights, whose added zeros must stay zero, are never chosen for
training (an explicit request is refused naming the layer)."""

from __future__ import annotations

import numpy as np
import pytest
from executors import assert_executors_agree

from tt_host import native
from tt_host.compiler import SchemeError, TrainParams, compile_model
from tt_host.compiler.errors import UnsupportedOperator
from tt_host.compiler.ir import MAX_EXPANDED_WEIGHTS, import_model
from tt_host.reference import graph as ref_graph
from tt_host.tflite import load

tflm = pytest.importorskip("tflite_micro", reason="needs the tflite-micro wheel (pip install tflite-micro)").runtime


def _model(conv_dilation: int, padding: str, mult: int, dw_dilation: int) -> bytes:
    """conv 3x3 (dilated) -> depthwise 3x3 stride 2 (multiplier, dilated) -> mean -> FC."""
    from kernels.tflite_builder import ModelBuilder

    mb = ModelBuilder(np.random.default_rng(7))
    x = mb.activation((1, 14, 13, 2), np.float32(0.02), 5)
    y = mb.conv(x, 3, 3, 1, padding, "RELU", dilation=conv_dilation)
    y = mb.conv(y, 0, 3, 2, "SAME", "RELU6", depthwise=True, mult=mult, dilation=dw_dilation)
    return mb.finish([x], [mb.fc(mb.mean(y, keep_dims=False), 4)])


CASES = [(2, "SAME", 1, 1), (2, "VALID", 1, 1), (1, "SAME", 3, 1), (1, "SAME", 1, 2), (3, "SAME", 2, 2)]


@pytest.mark.parametrize("conv_dilation, padding, mult, dw_dilation", CASES)
def test_expanded_convolutions_match_tflm_and_train_their_biases(conv_dilation, padding, mult, dw_dilation):
    buf = _model(conv_dilation, padding, mult, dw_dilation)
    model = load(buf)
    interp = tflm.Interpreter.from_bytes(buf, intrepreter_config=tflm.InterpreterConfig.kPreserveAllTensors)
    x = np.random.default_rng(1).integers(-128, 128, (1, 14, 13, 2)).astype(np.int8)
    interp.set_input(x, 0)
    interp.invoke()
    for kernels in (None, native.load() and native):
        ours = ref_graph.run(model, x) if kernels is None else ref_graph.run(model, x, kernels=kernels)
        for i, got in ours.items():
            np.testing.assert_array_equal(got, np.asarray(interp.GetTensor(i, 0)["tensor_data"]).reshape(got.shape),
                                          err_msg=f"tensor {i}")
    graph = import_model(model, "expanded")
    expanded = [layer for layer in graph.layers if layer.expanded]
    assert expanded and all(layer.has_params for layer in expanded)
    compiled = compile_model(graph, "full", classes=3)
    assert not set(compiled.scheme.weights) & {layer.conv_index for layer in expanded}
    assert {layer.conv_index for layer in expanded} <= compiled.scheme.bias
    rng = np.random.default_rng(2)
    samples = [(rng.integers(-128, 128, (14, 13, 2)).astype(np.int8), step % 3) for step in range(3)]
    assert_executors_agree(compiled, TrainParams(seed=3), samples)
    first = expanded[0]
    with pytest.raises(SchemeError, match=rf"conv {first.conv_index} \(.*\) runs as an expanded convolution"):
        compile_model(graph, {"n_bias_update": 0, "manual_weight_idx": [first.conv_index], "weight_update_ratio": [1]},
                      classes=3)


def test_an_expansion_past_the_limit_is_refused_naming_the_operator():
    """A depth multiplier on many channels would store mostly zeros: refused at import (exit 2)."""
    from kernels.tflite_builder import ModelBuilder

    mb = ModelBuilder(np.random.default_rng(0))
    x = mb.activation((1, 6, 6, 128), np.float32(0.02), 0)
    y = mb.conv(x, 0, 3, 1, "SAME", depthwise=True, mult=2)
    assert 128 * 2 * 9 * 128 > MAX_EXPANDED_WEIGHTS
    with pytest.raises(UnsupportedOperator, match=r"operator 0 is DEPTHWISE_CONV_2D \(depth multiplier 2 runs as a "
                                                  r"convolution of 294,912 weights") as err:
        import_model(load(mb.finish([x], [mb.fc(mb.mean(y, keep_dims=False), 2)])), "big")
    assert err.value.exit_code == 2
