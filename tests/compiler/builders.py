"""Small ``.tflite`` models for the compiler tests, built on the kernel tests' builder.

``inverted_bottleneck_model`` is a miniature of the shared models (first conv, one inverted
bottleneck with a residual, global pooling, classifier) with the edge and view operators the
compiler must accept: QUANTIZE on the input, MEAN or AVERAGE_POOL_2D, RESHAPE, SOFTMAX and
DEQUANTIZE on the output. ``extra_op`` inserts an operator the compiler must refuse.
"""

from __future__ import annotations

import numpy as np
from kernels.tflite_builder import ModelBuilder
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

_F32, _I32 = S.TensorType.FLOAT32, S.TensorType.INT32


def _quantize(mb: ModelBuilder, x_float: int, scale: float, zp: int) -> int:
    y = mb.activation(mb.shapes[x_float], scale, zp)
    mb.op(S.BuiltinOperator.QUANTIZE, [x_float], [y], S.BuiltinOptions.QuantizeOptions, S.QuantizeOptionsT())
    return y


def _reshape(mb: ModelBuilder, x: int, shape: tuple[int, ...]) -> int:
    q = mb.tensors[x].quantization
    st = mb.tensor((len(shape),), _I32, data=np.array(shape, np.int32))
    y = mb.activation(shape, q.scale[0], q.zeroPoint[0])
    opt = S.ReshapeOptionsT()
    opt.newShape = list(shape)
    mb.op(S.BuiltinOperator.RESHAPE, [x, st], [y], S.BuiltinOptions.ReshapeOptions, opt)
    return y


def _mean(mb: ModelBuilder, x: int, axes=(1, 2)) -> int:
    q = mb.tensors[x].quantization
    at = mb.tensor((len(axes),), _I32, data=np.array(axes, np.int32))
    c = mb.shapes[x][3]
    y = mb.activation((1, 1, 1, c), q.scale[0], q.zeroPoint[0])
    opt = S.ReducerOptionsT()
    opt.keepDims = True
    mb.op(S.BuiltinOperator.MEAN, [x, at], [y], S.BuiltinOptions.ReducerOptions, opt)
    return y


def _softmax(mb: ModelBuilder, x: int) -> int:
    y = mb.activation(mb.shapes[x], 1 / 256, -128)
    opt = S.SoftmaxOptionsT()
    opt.beta = 1.0
    mb.op(S.BuiltinOperator.SOFTMAX, [x], [y], S.BuiltinOptions.SoftmaxOptions, opt)
    return y


def _dequantize(mb: ModelBuilder, x: int) -> int:
    y = mb.tensor(mb.shapes[x], _F32)
    mb.op(S.BuiltinOperator.DEQUANTIZE, [x], [y], S.BuiltinOptions.DequantizeOptions, S.DequantizeOptionsT())
    return y


def _tanh(mb: ModelBuilder, x: int) -> int:
    y = mb.activation(mb.shapes[x], 1 / 128, 0)
    mb.op(S.BuiltinOperator.TANH, [x], [y])
    return y


def inverted_bottleneck_model(seed: int = 0, edges: bool = True, pool: str = "avgpool", extra_op: str | None = None,
                              size: int = 16, classes: int = 5, stem_block: bool = False) -> bytes:
    """conv3x3(8, ReLU) -> pw1(24, ReLU) -> dw3x3(ReLU) -> pw2(8) -> ADD -> pool -> FC.

    Conv indices: 0 first conv, 1 pw1, 2 dw, 3 pw2; the FC is the classifier. ``stem_block``
    puts a block without expansion after the first conv, as in the shared models
    (dw3x3(ReLU) -> pw(8), conv indices 1 and 2; the others move up by two).
    """
    mb = ModelBuilder(np.random.default_rng(seed))
    if edges:
        inp = mb.tensor((1, size, size, 3), _F32)
        x = _quantize(mb, inp, 1 / 127.5, 0)
    else:
        inp = x = mb.activation((1, size, size, 3), 1 / 127.5, 0)
    c0 = mb.conv(x, 8, 3, 2, "SAME", "RELU")
    if extra_op == "TANH":
        c0 = _tanh(mb, c0)
    if stem_block:
        c0 = mb.conv(mb.conv(c0, 0, 3, 1, "SAME", "RELU", depthwise=True), 8, 1, 1, "VALID")
    e = mb.conv(c0, 24, 1, 1, "VALID", "RELU6")
    d = mb.conv(e, 0, 3, 1, "SAME", "RELU6", depthwise=True)
    p = mb.conv(d, 8, 1, 1, "VALID")
    r = mb.add(c0, p)
    g = _mean(mb, r) if pool == "mean" else mb.pool(r, mb.shapes[r][1], 1, "VALID")
    flat = _reshape(mb, g, (1, 8))
    logits = mb.fc(flat, classes)
    out = logits
    if edges:
        out = _dequantize(mb, _softmax(mb, logits))
    return mb.finish([inp], [out])


def softmax_inside_model(seed: int = 0) -> bytes:
    """A SOFTMAX that is not at the output (feeds a classifier): must be refused."""
    mb = ModelBuilder(np.random.default_rng(seed))
    x = mb.activation((1, 8, 8, 3), 1 / 127.5, 0)
    c = mb.conv(x, 4, 3, 1, "SAME", "RELU")
    pooled = mb.pool(c, 8, 1, "VALID")
    flat = _reshape(mb, pooled, (1, 4))
    s = _softmax(mb, flat)
    logits = mb.fc(s, 3)
    return mb.finish([x], [logits])
