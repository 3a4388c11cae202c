"""Build small random int8 ``.tflite`` models in memory (test helper).

The models use the same op set and conventions as the shared models (per-channel symmetric
weights, int32 biases, PAD before a VALID convolution) but also what those models do not
exercise: SAME with stride 2, fused RELU/RELU6, depth multiplier 2, dilation 2, arbitrary asymmetric PAD
amounts, non-global pooling with padding, multipliers above one, a requantizing MEAN, max pooling,
hard swish and squeeze-excite MULs (gated by a LOGISTIC or a scaled RELU6), standalone RELU / RELU6 /
LEAKY_RELU and int8 -> int8 QUANTIZE, PADV2, SQUEEZE, CONCATENATION.
"""

from __future__ import annotations

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

from tt_host.tflite.writer import GraphWriter

_INT8, _INT32 = S.TensorType.INT8, S.TensorType.INT32
_ACT = {"NONE": S.ActivationFunctionType.NONE, "RELU": S.ActivationFunctionType.RELU,
        "RELU6": S.ActivationFunctionType.RELU6}
_PAD = {"SAME": S.Padding.SAME, "VALID": S.Padding.VALID}


class ModelBuilder:
    """Random layers over :class:`GraphWriter`, which does the flatbuffer mechanics."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.graph = GraphWriter()
        self.shapes: list[tuple[int, ...]] = []
        self.scales: list[float] = []

    @property
    def tensors(self) -> list:
        return self.graph.tensors

    def tensor(self, shape, ttype=_INT8, scale=None, zp=None, data=None, axis=0) -> int:
        index = self.graph.tensor(f"t{len(self.shapes)}", shape, ttype, scale, zp, data, axis)
        self.shapes.append(tuple(shape))
        self.scales.append(float(np.atleast_1d(scale)[0]) if scale is not None else 0.0)
        return index

    def activation(self, shape, scale, zp) -> int:
        return self.tensor(shape, _INT8, np.float32(scale), zp)

    def op(self, code: int, inputs, outputs, opt_type: int = 0, options=None) -> None:
        self.graph.op(code, inputs, outputs, opt_type, options)

    # -- layers -----------------------------------------------------------------------------

    def _out_quant(self, x: int, k_elems: int):
        """An output scale that keeps most outputs inside int8 for random weights."""
        out_scale = self.scales[x] * 0.01 * np.sqrt(k_elems) * 40 * self.rng.uniform(0.3, 3.0)
        return np.float32(out_scale), int(self.rng.integers(-128, 128))

    def conv(self, x, out_c, k, stride, padding, act="NONE", depthwise=False, mult=1, like: int | None = None,
             dilation: int = 1) -> int:
        """A convolution; ``like``: quantize its output as that tensor (a concatenation's inputs)."""
        h, w, c = self.shapes[x][1:]
        span = (k - 1) * dilation + 1  # the dilated kernel's extent
        if padding == "VALID" and min(h, w) < span:
            padding = "SAME"
        oc = c * mult if depthwise else out_c
        wshape = (1, k, k, oc) if depthwise else (oc, k, k, c)
        wdata = self.rng.integers(-127, 128, wshape, dtype=np.int8)
        wscale = (0.01 * self.rng.uniform(0.2, 2.0, oc)).astype(np.float32)
        wt = self.tensor(wshape, _INT8, wscale, np.zeros(oc, np.int64), wdata, axis=3 if depthwise else 0)
        k_elems = k * k * (1 if depthwise else c)
        bscale = (np.float32(self.scales[x]) * wscale).astype(np.float32)
        bias = self.rng.integers(-3000, 3000, oc).astype(np.int32) * int(np.sqrt(k_elems) + 1)
        bt = self.tensor((oc,), _INT32, bscale, np.zeros(oc, np.int64), bias)
        if padding == "SAME":
            oh, ow = -(-h // stride), -(-w // stride)
        else:
            oh, ow = (h - span) // stride + 1, (w - span) // stride + 1
        scale, zp = self._out_quant(x, k_elems)
        if act != "NONE":
            zp = -128
        if like is not None:
            scale, zp = self.tensors[like].quantization.scale[0], self.tensors[like].quantization.zeroPoint[0]
        y = self.activation((1, oh, ow, oc), scale, zp)
        if depthwise:
            opt = S.DepthwiseConv2DOptionsT()
            opt.depthMultiplier = mult
            code, otype = S.BuiltinOperator.DEPTHWISE_CONV_2D, S.BuiltinOptions.DepthwiseConv2DOptions
        else:
            opt = S.Conv2DOptionsT()
            code, otype = S.BuiltinOperator.CONV_2D, S.BuiltinOptions.Conv2DOptions
        opt.padding, opt.strideH, opt.strideW = _PAD[padding], stride, stride
        opt.fusedActivationFunction = _ACT[act]
        opt.dilationHFactor = opt.dilationWFactor = dilation
        self.op(code, [x, wt, bt], [y], otype, opt)
        return y

    def pad(self, x, top, left, bottom, right, v2: bool = False, fill: int | None = None) -> int:
        """PAD, or PADV2 with an explicit fill (the zero point, what a converter writes, by default)."""
        h, w, c = self.shapes[x][1:]
        pt = self.tensor((4, 2), _INT32, data=np.array([[0, 0], [top, bottom], [left, right], [0, 0]], np.int32))
        q = self.tensors[x].quantization
        y = self.activation((1, h + top + bottom, w + left + right, c), q.scale[0], q.zeroPoint[0])
        if v2:
            value = q.zeroPoint[0] if fill is None else fill
            ft = self.tensor((), _INT8, q.scale[0], q.zeroPoint[0], np.array(value, np.int8))
            self.op(S.BuiltinOperator.PADV2, [x, pt, ft], [y], S.BuiltinOptions.PadV2Options, S.PadV2OptionsT())
        else:
            self.op(S.BuiltinOperator.PAD, [x, pt], [y], S.BuiltinOptions.PadOptions, S.PadOptionsT())
        return y

    def concat(self, inputs, axis: int = 3) -> int:
        """CONCATENATION of inputs quantized alike (as the converter leaves them)."""
        shape = list(self.shapes[inputs[0]])
        shape[axis] = sum(self.shapes[t][axis] for t in inputs)
        q = self.tensors[inputs[0]].quantization
        y = self.activation(tuple(shape), q.scale[0], q.zeroPoint[0])
        opt = S.ConcatenationOptionsT()
        opt.axis = axis
        self.op(S.BuiltinOperator.CONCATENATION, list(inputs), [y], S.BuiltinOptions.ConcatenationOptions, opt)
        return y

    def squeeze(self, x) -> int:
        """SQUEEZE the unit axes of a (1, 1, 1, C) tensor to (1, C)."""
        q = self.tensors[x].quantization
        y = self.activation((1, self.shapes[x][-1]), q.scale[0], q.zeroPoint[0])
        opt = S.SqueezeOptionsT()
        opt.squeezeDims = [1, 2]
        self.op(S.BuiltinOperator.SQUEEZE, [x], [y], S.BuiltinOptions.SqueezeOptions, opt)
        return y

    def add(self, a, b, act="NONE") -> int:
        scale = np.float32(max(self.scales[a], self.scales[b]) * self.rng.uniform(0.8, 2.5))
        y = self.activation(self.shapes[a], scale, -128 if act != "NONE" else int(self.rng.integers(-20, 20)))
        opt = S.AddOptionsT()
        opt.fusedActivationFunction = _ACT[act]
        self.op(S.BuiltinOperator.ADD, [a, b], [y], S.BuiltinOptions.AddOptions, opt)
        return y

    def pool(self, x, k, stride, padding, op=S.BuiltinOperator.AVERAGE_POOL_2D) -> int:
        h, w, c = self.shapes[x][1:]
        if padding == "VALID" and min(h, w) < k:
            padding = "SAME"
        if padding == "SAME":
            oh, ow = -(-h // stride), -(-w // stride)
        else:
            oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
        q = self.tensors[x].quantization
        y = self.activation((1, oh, ow, c), q.scale[0], q.zeroPoint[0])
        opt = S.Pool2DOptionsT()
        opt.padding, opt.strideH, opt.strideW, opt.filterHeight, opt.filterWidth = _PAD[padding], stride, stride, k, k
        self.op(op, [x], [y], S.BuiltinOptions.Pool2DOptions, opt)
        return y

    def mean(self, x, keep_dims: bool) -> int:
        """MEAN over H and W into its own (random) quantization, as Keras' GlobalAveragePooling2D."""
        c = self.shapes[x][3]
        scale = np.float32(self.scales[x] * self.rng.uniform(0.1, 2.0))
        y = self.activation((1, 1, 1, c) if keep_dims else (1, c), scale, int(self.rng.integers(-128, 128)))
        axes = self.tensor((2,), _INT32, data=np.array([1, 2], np.int32))
        opt = S.ReducerOptionsT()
        opt.keepDims = keep_dims
        self.op(S.BuiltinOperator.MEAN, [x, axes], [y], S.BuiltinOptions.ReducerOptions, opt)
        return y

    def standalone(self, x, op: str) -> int:
        """A standalone RELU / RELU6 / LEAKY_RELU (not fused into the layer before) or an int8 ->
        int8 QUANTIZE: all but RELU6 requantize to a new scale, RELU6 keeps the input's (TFLM
        clamps only)."""
        q = self.tensors[x].quantization
        if op == "RELU6":
            scale, zp = q.scale[0], q.zeroPoint[0]
        else:
            scale, zp = np.float32(self.scales[x] * self.rng.uniform(0.3, 2.0)), int(self.rng.integers(-128, 128))
        y = self.activation(self.shapes[x], scale, zp)
        if op == "LEAKY_RELU":
            opt = S.LeakyReluOptionsT()
            opt.alpha = float(self.rng.choice([0.01, 0.1, 0.3]))
            self.op(S.BuiltinOperator.LEAKY_RELU, [x], [y], S.BuiltinOptions.LeakyReluOptions, opt)
        else:
            self.op(getattr(S.BuiltinOperator, op), [x], [y])
        return y

    def hard_swish(self, x) -> int:
        """HARD_SWISH into a scale ~ the input's (its output spans about the input's positive range)."""
        y = self.activation(self.shapes[x], np.float32(self.scales[x] * self.rng.uniform(0.4, 1.2)),
                            int(self.rng.integers(-128, -90)))
        self.op(S.BuiltinOperator.HARD_SWISH, [x], [y])
        return y

    def logistic(self, x) -> int:
        """LOGISTIC into TFLite's fixed int8 output quantization (1/256, -128)."""
        y = self.activation(self.shapes[x], np.float32(1 / 256), -128)
        self.op(S.BuiltinOperator.LOGISTIC, [x], [y])
        return y

    def mul(self, a, b=None, constant: int | None = None) -> int:
        """MUL by another activation (broadcast as given) or by a constant int8 scalar."""
        if b is None:
            b = self.tensor((), _INT8, np.float32(self.rng.uniform(0.002, 0.02)), int(self.rng.integers(-20, 20)),
                            np.array(constant, np.int8))
        scale = np.float32(self.scales[a] * self.scales[b] * 127 * self.rng.uniform(0.3, 1.0))
        shape = max(self.shapes[a], self.shapes[b], key=lambda s: int(np.prod(s)))  # the broadcast shape
        y = self.activation(shape, scale, int(self.rng.integers(-128, 128)))
        opt = S.MulOptionsT()
        self.op(S.BuiltinOperator.MUL, [a, b], [y], S.BuiltinOptions.MulOptions, opt)
        return y

    def fc(self, x, out_c) -> int:
        in_c = int(np.prod(self.shapes[x][1:]))
        wdata = self.rng.integers(-127, 128, (out_c, in_c), dtype=np.int8)
        wscale = (0.01 * self.rng.uniform(0.2, 2.0, out_c)).astype(np.float32)
        wt = self.tensor((out_c, in_c), _INT8, wscale, np.zeros(out_c, np.int64), wdata, axis=0)
        bt = self.tensor((out_c,), _INT32, (np.float32(self.scales[x]) * wscale).astype(np.float32),
                         np.zeros(out_c, np.int64), self.rng.integers(-20000, 20000, out_c).astype(np.int32))
        scale, zp = self._out_quant(x, in_c)
        y = self.activation((1, out_c), scale, zp)
        opt = S.FullyConnectedOptionsT()
        self.op(S.BuiltinOperator.FULLY_CONNECTED, [x, wt, bt], [y], S.BuiltinOptions.FullyConnectedOptions, opt)
        return y

    def finish(self, inputs, outputs) -> bytes:
        return self.graph.finish(inputs, outputs, "tt random test model")


def random_model(seed: int) -> tuple[bytes, tuple[int, ...]]:
    """A random small CNN using every supported op (seeds 5 mod 6 concatenate two or three
    branches instead of the residual ADD; after the first convolution: a standalone LEAKY_RELU,
    RELU, RELU6 or int8 QUANTIZE for seeds 1, 2, 3, 4 mod 5; the first convolution dilated for
    seeds 4 mod 7, the depthwise for 5 mod 7; after the residual ADD: a hard swish for seeds
    1 mod 4, a squeeze-excite gate with MULs for 3 mod 4 (through a LOGISTIC for 3 mod 8), a max
    pool for odd seeds; every third seed averages with a MEAN instead of an AVERAGE_POOL_2D; seeds
    1 mod 4 pad before the max pool, with a PAD no convolution absorbs; even seeds pad the
    depthwise with PADV2 (6 mod 8 with a fill of 50, which it cannot absorb either), and every
    third seed SQUEEZEs a 1x1 map before the classifier); returns (flatbuffer, input shape)."""
    rng = np.random.default_rng(seed)
    mb = ModelBuilder(rng)
    pick = lambda seq: seq[int(rng.integers(len(seq)))]
    h, w, c = int(rng.integers(5, 14)), int(rng.integers(5, 14)), int(rng.integers(1, 5))
    x = mb.activation((1, h, w, c), np.float32(1 / 127.5 * rng.uniform(0.5, 2)), int(rng.integers(-128, 128)))
    inp = x
    y = mb.conv(x, int(rng.integers(2, 9)), pick([1, 3]), pick([1, 2]), pick(["SAME", "VALID"]), pick(["NONE", "RELU", "RELU6"]),
                dilation=2 if seed % 7 == 4 else 1)
    if seed % 5 in (1, 2, 3, 4):
        y = mb.standalone(y, {1: "LEAKY_RELU", 2: "RELU", 3: "RELU6", 4: "QUANTIZE"}[seed % 5])
    y = mb.conv(y, 0, pick([3, 5]), pick([1, 2]), pick(["SAME", "VALID"]), pick(["NONE", "RELU6"]), depthwise=True, mult=pick([1, 1, 2]),
                dilation=2 if seed % 7 == 5 else 1)
    k = pick([3, 5])
    pads = [int(rng.integers(0, k)) for _ in range(4)]
    hh, ww = mb.shapes[y][1] + pads[0] + pads[2], mb.shapes[y][2] + pads[1] + pads[3]
    if hh >= k and ww >= k:
        fill = 50 if seed % 8 == 6 else None  # not real 0: the convolution cannot absorb it
        y = mb.conv(mb.pad(y, *pads, v2=seed % 2 == 0, fill=fill), 0, k, pick([1, 2]), "VALID", "RELU6", depthwise=True)
    c2 = int(rng.integers(2, 9))
    a = mb.conv(y, c2, 1, 1, "VALID")
    if seed % 6 == 5:  # a fire module's expand: 1x1 and 3x3 branches concatenated (on channels or, rarely, width)
        axis = pick([3, 3, 2])
        b = mb.conv(y, int(rng.integers(1, 6)) if axis == 3 else c2, 3, 1, "SAME", like=a)
        y = mb.concat([a, b, a][:int(rng.integers(2, 4))], axis=axis)
    else:
        b = mb.conv(y, c2, 1, 1, "VALID", pick(["NONE", "RELU6"]))
        y = mb.add(a, b, pick(["NONE", "NONE", "RELU"]))
    if seed % 4 == 1:
        y = mb.hard_swish(y)
    if seed % 4 == 3:  # a squeeze-excite gate: pool, 1x1 conv, a sigmoid or a scalar factor, then MUL (either order)
        if seed % 8 == 3:
            gate = mb.logistic(mb.conv(mb.mean(y, keep_dims=True), mb.shapes[y][-1], 1, 1, "VALID"))
        else:
            gate = mb.conv(mb.mean(y, keep_dims=True), mb.shapes[y][-1], 1, 1, "VALID", "RELU6")
            gate = mb.mul(gate, constant=int(rng.integers(20, 127)))
        y = mb.mul(y, gate) if rng.integers(2) else mb.mul(gate, y)
    if seed % 2:  # a max pool as Keras' MaxPooling2D converts it (2x2 stride 2) or overlapping
        k, s = pick([(2, 2), (3, 2), (3, 1)])
        if seed % 4 == 1:  # ZeroPadding2D first (a ResNet stem): a PAD no convolution absorbs
            y = mb.pad(y, 1, 1, 1, 1)
        y = mb.pool(y, min(k, *mb.shapes[y][1:3]), s, pick(["SAME", "VALID"]), S.BuiltinOperator.MAX_POOL_2D)
    if seed % 3 == 2:  # global average pooling as Keras converts it: a requantizing MEAN
        y = mb.mean(y, keep_dims=bool(rng.integers(2)))
    else:
        hp, wp = mb.shapes[y][1:3]
        kp = int(rng.integers(1, min(hp, wp) + 1))
        y = mb.pool(y, kp, pick([1, 2]), pick(["SAME", "VALID"]))
    if mb.shapes[y][1:3] == (1, 1) and seed % 3 == 0:
        y = mb.squeeze(y)
    y = mb.fc(y, int(rng.integers(2, 12)))
    return mb.finish([inp], [y]), mb.shapes[inp]
