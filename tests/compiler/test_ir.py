"""Model import: the three shared models, edge/view operators, and refused operators."""

from __future__ import annotations

import numpy as np
import pytest
from tt_host.compiler import CompileError, UnsupportedOperator, import_model
from tt_host.compiler.ir import SUPPORTED_OPS
from tt_host.tflite import load

from .builders import inverted_bottleneck_model, softmax_inside_model
from .conftest import MODEL_NAMES

# From ../shared/models/README.md: convolutions (regular + depthwise, classifier excluded),
# forward MACs, and parameters (int8 weights + int32 biases).
EXPECTED = {
    "mcunet-5fps": (28 + 14, 22_613_504, 630_224),
    "mbv2-w0.35": (34 + 17, 16_758_912, 357_448),
    "proxyless-w0.3": (40 + 20, 18_715_904, 423_232),
}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shared_models_import(shared_graphs, name):
    g = shared_graphs[name]
    n_convs, macs, params = EXPECTED[name]
    assert len(g.convs()) == n_convs
    assert [c.conv_index for c in g.convs()] == list(range(n_convs))
    assert g.macs == macs
    assert sum(layer.weight_count() + layer.out_channels for layer in g.layers if layer.has_params) == params
    assert g.classifier.kind == "fc" and g.classifier.output == g.logits and g.classifier.conv_index is None
    assert g.tensors[g.input].shape == (128, 128, 3)
    assert not any(layer.kind == "pad" for layer in g.layers), "every PAD folds into its convolution"
    # ReLU6 lives in the output range: first conv, pw1 and depthwise layers clamp at real 0.
    assert g.convs()[0].relu and not g.conv(2).relu  # b0.pw2 (or b0 projection) is linear


def test_mbv2_scheme_numbering(shared_graphs):
    """The published numbering: depthwise convs count, e.g. MbV2 conv 27 is b9.pw1."""
    g = shared_graphs["mbv2-w0.35"]
    assert g.conv(0).name == "first_conv"
    assert g.conv(1).name == "b0.dw"
    assert g.conv(27).name == "b9.pw1"
    assert g.conv(50).name == "b16.pw2"
    with pytest.raises(CompileError, match="no convolution 51"):
        g.conv(51)


@pytest.mark.parametrize("pool", ["avgpool", "mean"])
def test_edges_and_views(pool):
    g = import_model(load(inverted_bottleneck_model(pool=pool)), "tiny")
    assert set(g.stripped) == {"QUANTIZE", "SOFTMAX", "DEQUANTIZE"}
    assert [layer.kind for layer in g.layers] == ["conv2d", "pw_conv2d", "dw_conv2d", "pw_conv2d", "add", pool, "reshape", "fc"]
    assert g.tensors[g.input].shape == (8 * 2, 8 * 2, 3)
    assert g.n_classes == 5 and g.classifier.index == len(g.layers) - 1
    assert [layer.conv_index for layer in g.layers] == [0, 1, 2, 3, None, None, None, None]


def test_unsupported_operator_names_op_index_and_set():
    with pytest.raises(UnsupportedOperator) as info:
        import_model(load(inverted_bottleneck_model(extra_op="TANH")), "bad")
    err = info.value
    assert err.op == "TANH" and err.index == 2
    message = str(err)
    assert "operator 2 is TANH" in message
    for op in SUPPORTED_OPS:
        assert op in message
    assert err.exit_code == 2


def test_softmax_inside_the_graph_is_refused():
    with pytest.raises(UnsupportedOperator, match="SOFTMAX.*only at the edges"):
        import_model(load(softmax_inside_model()), "bad")


def test_with_classes_replaces_only_the_head(tiny_graph):
    g = tiny_graph.with_classes(3)
    assert g.n_classes == 3 and g.classifier.out_channels == 3
    assert not g.classifier.weights.any() and not g.classifier.step.bias.any()
    assert g.classifier.macs == 3 * 8
    assert [layer.kind for layer in g.layers] == [layer.kind for layer in tiny_graph.layers]
    assert g.layers[:-1] == tiny_graph.layers[:-1]
    with pytest.raises(CompileError):
        tiny_graph.with_classes(0)


def test_mean_over_channels_is_refused():
    from .builders import ModelBuilder, _mean

    mb = ModelBuilder(np.random.default_rng(1))
    x = mb.activation((1, 4, 4, 3), 1 / 127.5, 0)
    c = mb.conv(x, 4, 1, 1, "VALID")
    m = _mean(mb, c, axes=(3,))
    mb.shapes[m] = (1, 4, 4, 1)
    logits = mb.fc(m, 2)
    with pytest.raises(UnsupportedOperator, match="MEAN"):
        import_model(load(mb.finish([x], [logits])), "bad")


def _sigmoid_classifier(inside: bool, inside_zp: int = -128) -> bytes:
    """conv -> FC(1) -> LOGISTIC: a binary classifier with a sigmoid output (``inside``: a
    LOGISTIC between the conv and the FC instead, its output at zero point ``inside_zp``)."""
    from kernels.tflite_builder import ModelBuilder
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

    mb = ModelBuilder(np.random.default_rng(0))
    x = mb.activation((1, 8, 8, 3), np.float32(0.02), 0)
    y = mb.conv(x, 4, 3, 1, "SAME", "RELU")
    if inside:
        z = mb.activation(mb.shapes[y], np.float32(1 / 256), inside_zp)
        mb.op(S.BuiltinOperator.LOGISTIC, [y], [z])
        y = z
    y = mb.fc(y, 1)
    if not inside:
        z = mb.activation((1, 1), np.float32(1 / 256), -128)
        mb.op(S.BuiltinOperator.LOGISTIC, [y], [z])
        y = z
    return mb.finish([x], [y])


def test_a_sigmoid_output_is_an_edge_and_elsewhere_a_layer():
    graph = import_model(load(_sigmoid_classifier(inside=False)), "sigmoid")
    assert graph.stripped == ("LOGISTIC",) and graph.n_classes == 1 and graph.classifier.kind == "fc"
    inside = import_model(load(_sigmoid_classifier(inside=True)), "inside")
    assert inside.stripped == () and [layer.kind for layer in inside.layers][:2] == ["conv2d", "logistic"]
    with pytest.raises(UnsupportedOperator, match=r"operator 1 is LOGISTIC \(an output quantized as \(0.00390625, 0\)"):
        import_model(load(_sigmoid_classifier(inside=True, inside_zp=0)), "off")
