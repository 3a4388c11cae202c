"""Write int8 ``.tflite`` models: the exporter for networks trained in float on the host.

Two layers:

- :class:`GraphWriter` is the flatbuffer mechanics (tensors, constant buffers, operators,
  operator codes) over the schema bindings the ``tflite-micro`` wheel ships;
- :class:`Int8CnnWriter` quantizes a float CNN layer by layer with TFLite's int8 scheme:
  symmetric per-output-channel int8 weights, int32 biases at ``s_x * s_w``, per-tensor
  affine activations whose ranges come from calibration. ReLU6 layers get the output
  range [0, max] (zero point -128), as in the shared models, and the fused activation
  RELU6 so TFLite clamps where the float network did.

The result runs in TFLite Micro and imports into tt like any other model.
"""

from __future__ import annotations

from dataclasses import dataclass

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

_INT8, _INT32 = S.TensorType.INT8, S.TensorType.INT32


class GraphWriter:
    """One subgraph under construction; :meth:`finish` serialises the model."""

    def __init__(self) -> None:
        self.buffers = [S.BufferT()]  # buffer 0 is the empty sentinel TFLite expects
        self.tensors: list = []
        self.operators: list = []
        self._opcodes: dict[int, int] = {}

    def tensor(self, name: str, shape, dtype: int, scale=None, zero_point=None, data=None, axis: int = 0) -> int:
        """Add a tensor (constant when ``data`` is given); returns its index."""
        t = S.TensorT()
        t.name, t.shape, t.type, t.buffer = name, [int(d) for d in shape], dtype, 0
        if data is not None:
            buffer = S.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
            self.buffers.append(buffer)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            q = S.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            q.zeroPoint = [int(z) for z in np.atleast_1d(zero_point)]
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code: int, inputs, outputs, options_type: int = 0, options=None) -> None:
        o = S.OperatorT()
        o.opcodeIndex = self._opcodes.setdefault(code, len(self._opcodes))
        o.inputs, o.outputs = list(inputs), list(outputs)
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.operators.append(o)

    def finish(self, inputs, outputs, description: str) -> bytes:
        graph = S.SubGraphT()
        graph.tensors, graph.operators = self.tensors, self.operators
        graph.inputs, graph.outputs = list(inputs), list(outputs)
        model = S.ModelT()
        model.version, model.subgraphs, model.buffers, model.description = 3, [graph], self.buffers, description
        model.operatorCodes = []
        for code in sorted(self._opcodes, key=self._opcodes.get):
            oc = S.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
            model.operatorCodes.append(oc)
        builder = flatbuffers.Builder(1 << 16)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


@dataclass(frozen=True)
class Activation:
    """An int8 activation tensor: its index, NHWC (or N,C) shape and affine quantization."""

    index: int
    shape: tuple[int, ...]
    scale: float
    zero_point: int


def affine_quant(lo: float, hi: float) -> tuple[float, int]:
    """Scale and zero point covering [lo, hi] (widened to include 0) with int8."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    zero_point = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return float(np.float32(scale)), zero_point


def symmetric_weights(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel symmetric int8 weights in [-127, 127] and their float32 scales."""
    other = tuple(d for d in range(w.ndim) if d != axis)
    scale = np.maximum(np.abs(w).max(axis=other), 1e-8) / 127.0
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


class Int8CnnWriter:
    """Quantize and write a float CNN; each layer method returns its output :class:`Activation`."""

    def __init__(self) -> None:
        self.graph = GraphWriter()
        self._names: dict[str, int] = {}

    def _name(self, base: str) -> str:
        n = self._names.get(base, 0)
        self._names[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def _activation(self, name: str, shape, quant: tuple[float, int]) -> Activation:
        scale, zp = quant
        index = self.graph.tensor(self._name(name), shape, _INT8, np.float32(scale), zp)
        return Activation(index, tuple(shape), scale, zp)

    def input(self, shape, scale: float, zero_point: int, name: str = "input") -> Activation:
        return self._activation(name, shape, (scale, zero_point))

    def _weights_and_bias(self, name: str, x: Activation, w, b, axis: int) -> tuple[int, int]:
        wq, ws = symmetric_weights(np.asarray(w, np.float64), axis)
        bias_scale = (np.float32(x.scale) * ws).astype(np.float32)
        bq = np.round(np.asarray(b, np.float64) / bias_scale.astype(np.float64)).astype(np.int32)
        n = ws.size
        wt = self.graph.tensor(self._name(f"{name}/weights"), wq.shape, _INT8, ws, np.zeros(n, np.int64), wq, axis)
        bt = self.graph.tensor(self._name(f"{name}/bias"), (n,), _INT32, bias_scale, np.zeros(n, np.int64), bq)
        return wt, bt

    @staticmethod
    def _out_quant(out_range: tuple[float, float], relu6: bool) -> tuple[float, int]:
        lo, hi = out_range
        return affine_quant(0.0, min(hi, 6.0)) if relu6 else affine_quant(lo, hi)

    def conv2d(self, name: str, x: Activation, w, b, stride: int, out_range, relu6: bool,
               depthwise: bool = False) -> Activation:
        """``w``: OHWI (regular) or 1HWC (depthwise); TFLite SAME padding."""
        w = np.asarray(w)
        wt, bt = self._weights_and_bias(name, x, w, b, axis=3 if depthwise else 0)
        _, h, width, c = x.shape
        out_c = w.shape[3] if depthwise else w.shape[0]
        shape = (1, -(-h // stride), -(-width // stride), out_c)
        y = self._activation(name, shape, self._out_quant(out_range, relu6))
        if depthwise:
            opt = S.DepthwiseConv2DOptionsT()
            opt.depthMultiplier = out_c // c
            code, opt_type = S.BuiltinOperator.DEPTHWISE_CONV_2D, S.BuiltinOptions.DepthwiseConv2DOptions
        else:
            opt = S.Conv2DOptionsT()
            code, opt_type = S.BuiltinOperator.CONV_2D, S.BuiltinOptions.Conv2DOptions
        opt.padding, opt.strideH, opt.strideW = S.Padding.SAME, stride, stride
        opt.dilationHFactor = opt.dilationWFactor = 1
        opt.fusedActivationFunction = S.ActivationFunctionType.RELU6 if relu6 else S.ActivationFunctionType.NONE
        self.graph.op(code, [x.index, wt, bt], [y.index], opt_type, opt)
        return y

    def add(self, name: str, a: Activation, b: Activation, out_range) -> Activation:
        y = self._activation(name, a.shape, affine_quant(*out_range))
        opt = S.AddOptionsT()
        opt.fusedActivationFunction = S.ActivationFunctionType.NONE
        self.graph.op(S.BuiltinOperator.ADD, [a.index, b.index], [y.index], S.BuiltinOptions.AddOptions, opt)
        return y

    def global_avgpool(self, name: str, x: Activation) -> Activation:
        """Average over H and W; TFLite's int8 pooling keeps the input's quantization."""
        _, h, w, c = x.shape
        y = self._activation(name, (1, 1, 1, c), (x.scale, x.zero_point))
        opt = S.Pool2DOptionsT()
        opt.padding, opt.strideH, opt.strideW, opt.filterHeight, opt.filterWidth = S.Padding.VALID, 1, 1, h, w
        opt.fusedActivationFunction = S.ActivationFunctionType.NONE
        self.graph.op(S.BuiltinOperator.AVERAGE_POOL_2D, [x.index], [y.index], S.BuiltinOptions.Pool2DOptions, opt)
        return y

    def fully_connected(self, name: str, x: Activation, w, b, out_range) -> Activation:
        """``w``: (out, in); per-channel weight scales, as the shared models' classifiers."""
        w = np.asarray(w)
        wt, bt = self._weights_and_bias(name, x, w, b, axis=0)
        y = self._activation(name, (1, w.shape[0]), affine_quant(*out_range))
        opt = S.FullyConnectedOptionsT()
        opt.fusedActivationFunction = S.ActivationFunctionType.NONE
        self.graph.op(S.BuiltinOperator.FULLY_CONNECTED, [x.index, wt, bt], [y.index],
                      S.BuiltinOptions.FullyConnectedOptions, opt)
        return y

    def finish(self, x: Activation, y: Activation, description: str) -> bytes:
        return self.graph.finish([x.index], [y.index], description)
