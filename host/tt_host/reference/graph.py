"""Run a ``.tflite`` int8 CNN through the reference kernels, one tensor at a time.

``lower`` turns the model's operators into kernel steps with their integer parameters
(derived exactly as TFLM derives them). With ``fold_pad=True`` every PAD whose only consumer
is a VALID convolution disappears and its amounts become that convolution's asymmetric
padding, which is what the firmware executes; the PAD's output tensor is then never
produced. ``run`` executes the steps and returns every tensor it computed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from tt_host.reference import forward
from tt_host.reference.params import (
    AddQuant,
    ConcatGeom,
    ConvGeom,
    ConvQuant,
    HardSwishQuant,
    LogisticQuant,
    MeanQuant,
    MulQuant,
    PoolQuant,
    RequantizeQuant,
    activation_range,
)
from tt_host.tflite import Model

SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN",
             "PAD", "PADV2", "MUL", "HARD_SWISH", "LOGISTIC", "RELU", "RELU6", "LEAKY_RELU", "QUANTIZE",
             "CONCATENATION")
#: Operators that only change a tensor's shape (the compiler's views).
VIEWS = ("RESHAPE", "SQUEEZE")


@dataclass(frozen=True)
class Step:
    """One kernel invocation: ``kind`` is the kernel's op name (``"pw_conv2d"``, ``"add"``, ...)."""

    kind: str
    op_index: int  #: index of the TFLite operator it implements
    inputs: tuple[int, ...]  #: activation tensor indices read
    output: int  #: tensor index written
    geom: ConvGeom | None = None
    quant: ConvQuant | AddQuant | PoolQuant | None = None
    weights: np.ndarray | None = field(default=None, repr=False)
    bias: np.ndarray | None = field(default=None, repr=False)
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)  #: for ``kind == "pad"``: top, left, bottom, right
    pad_value: int = 0  #: for ``kind == "pad"``: the fill (the zero point, or PADV2's constant)
    constant: int | None = None  #: for ``kind == "mul"``: a constant scalar second operand
    constant_scale: float = 0.0  #: its scale (the gradient of the other operand needs it)
    alpha: float = 0.0  #: for ``kind == "leaky_relu"``: the negative side's slope
    #: why ``weights`` are an expansion of the model's (:func:`dilated_kernel`,
    #: :func:`dense_from_depthwise`) whose zeros must stay zero: they cannot train ("" otherwise)
    expanded: str = ""


def dilated_kernel(weights: np.ndarray, dilation_h: int, dilation_w: int) -> np.ndarray:
    """A convolution's ``[O, KH, KW, I]`` (or depthwise ``[1, KH, KW, C]``) weights dilated: the
    taps spread ``dilation`` apart with zeros between, a ``(K - 1) * d + 1`` kernel. A zero tap adds
    nothing to the int32 accumulator, and TFLite pads a dilated convolution for that effective
    kernel, so the plain kernels compute it exactly."""
    o, kh, kw, i = weights.shape
    out = np.zeros((o, (kh - 1) * dilation_h + 1, (kw - 1) * dilation_w + 1, i), weights.dtype)
    out[:, ::dilation_h, ::dilation_w, :] = weights
    return out


def dense_from_depthwise(weights: np.ndarray, in_c: int) -> np.ndarray:
    """Depthwise ``[1, KH, KW, C * m]`` weights with depth multiplier ``m`` as the ``[C * m, KH,
    KW, C]`` weights of the equivalent convolution: output channel o reads only input o // m."""
    _, kh, kw, out_c = weights.shape
    dense = np.zeros((out_c, kh, kw, in_c), weights.dtype)
    o = np.arange(out_c)
    dense[o, :, :, o // (out_c // in_c)] = np.moveaxis(weights[0], -1, 0)
    return dense


def dilation_of(op, kernel_h: int, kernel_w: int) -> tuple[int, int]:
    """A convolution's dilation factors, 1 along a dimension its kernel does not span."""
    dh, dw = op.options.get("dilation_h_factor", 1) or 1, op.options.get("dilation_w_factor", 1) or 1
    return (dh if kernel_h > 1 else 1), (dw if kernel_w > 1 else 1)


def _exact_weights(op, weights: np.ndarray, in_c: int) -> tuple[np.ndarray, str]:
    """The weights the kernels run for a CONV_2D / DEPTHWISE_CONV_2D, and why they are an
    expansion of the model's ("" when they are the model's own)."""
    why = []
    out_c = weights.shape[3] if op.op == "DEPTHWISE_CONV_2D" else weights.shape[0]
    if op.op == "DEPTHWISE_CONV_2D" and out_c != in_c:
        if out_c % in_c:
            raise ValueError(f"operator {op.index}: {out_c} depthwise outputs for {in_c} input channels")
        weights = dense_from_depthwise(weights, in_c)
        why.append(f"depth multiplier {out_c // in_c}")
    dh, dw = dilation_of(op, weights.shape[1], weights.shape[2])
    if (dh, dw) != (1, 1):
        weights = dilated_kernel(weights, dh, dw)
        why.append(f"dilation {dh}x{dw}")
    return weights, ", ".join(why)


def _hwc(shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 4 or shape[0] != 1:
        raise ValueError(f"expected an NHWC tensor with batch 1, got shape {shape}")
    return shape[1], shape[2], shape[3]


def _qparams(model: Model, index: int) -> tuple[float, int]:
    q = model.tensors[index].quant
    if q is None or q.per_channel:
        raise ValueError(f"tensor {index} needs per-tensor quantization")
    return float(q.scale[0]), int(q.zero_point[0])


def lower(model: Model, fold_pad: bool = True, passthrough: Collection[str] = (),
          skip: Collection[int] = ()) -> list[Step]:
    """The kernel steps of ``model`` in execution order.

    RESHAPE and SQUEEZE become ``"reshape"`` steps (views: ``run`` reshapes), and operators named
    in ``passthrough`` (which the training compiler handles itself) parameterless steps of kind
    ``op.lower()`` whose inputs are the operator's non-constant tensors, which ``run`` does not
    execute. Operators whose index is in ``skip`` are left out.
    """
    consumers: dict[int, list[int]] = {}
    for op in model.operators:
        for t in op.inputs:
            consumers.setdefault(t, []).append(op.index)

    folded: dict[int, tuple[int, tuple[int, int, int, int]]] = {}  # pad output -> (pad input, pads)
    steps: list[Step] = []
    for op in model.operators:
        if op.index in skip:
            continue
        if op.op in passthrough or op.op in VIEWS:
            acts = tuple(t for t in op.inputs if t >= 0 and model.tensors[t].data is None)
            if op.op in VIEWS:
                acts = acts[:1]
            steps.append(Step("reshape" if op.op in VIEWS else op.op.lower(), op.index, acts, op.outputs[0]))
            continue
        if op.op not in SUPPORTED:
            raise ValueError(f"operator {op.index}: {op.op} is not supported")
        o = op.outputs[0]
        out_scale, out_zp = _qparams(model, o)
        act = op.options.get("fused_activation_function", "NONE")
        act_min, act_max = activation_range(act, out_scale, out_zp)

        if op.op in ("PAD", "PADV2"):
            src = op.inputs[0]
            p = model.tensors[op.inputs[1]].data
            if p is None or p.shape != (4, 2) or p[0].any() or p[3].any():
                raise ValueError(f"{op.op} {op.index}: only spatial constant padding is supported")
            fill = out_zp  # PAD fills real 0; PADV2 its constant
            if op.op == "PADV2" and len(op.inputs) > 2:
                value = model.tensors[op.inputs[2]].data
                if value is None:
                    raise ValueError(f"PADV2 {op.index}: the fill must be a constant")
                fill = int(np.asarray(value).ravel()[0])
            pads = (int(p[1, 0]), int(p[2, 0]), int(p[1, 1]), int(p[2, 1]))
            if _qparams(model, src) != (out_scale, out_zp):
                raise ValueError(f"{op.op} {op.index}: input and output quantization differ")
            users = consumers.get(o, [])
            foldable = (  # a convolution pads with real 0: the zero point
                fold_pad and fill == out_zp and len(users) == 1 and o not in model.outputs
                and model.operators[users[0]].op in ("CONV_2D", "DEPTHWISE_CONV_2D")
                and model.operators[users[0]].options.get("padding") == "VALID"
                and model.operators[users[0]].inputs[0] == o
            )
            if foldable:
                folded[o] = (src, pads)
            else:
                steps.append(Step("pad", op.index, (src,), o, pad=pads, pad_value=fill))
            continue

        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x_idx, w_idx, b_idx = op.inputs[0], op.inputs[1], op.inputs[2] if len(op.inputs) > 2 else -1
            pads = (0, 0, 0, 0)
            if x_idx in folded:
                x_idx, pads = folded[x_idx]
            in_h, in_w, in_c = _hwc(model.tensors[x_idx].shape)
            w_t = model.tensors[w_idx]
            out_c = w_t.shape[0] if op.op == "CONV_2D" else w_t.shape[3]
            weights, expanded = _exact_weights(op, w_t.data, in_c)
            kh, kw = weights.shape[1], weights.shape[2]
            sh, sw = op.options["stride_h"], op.options["stride_w"]
            if op.options["padding"] == "SAME":
                geom = ConvGeom.same(in_h, in_w, in_c, out_c, kh, kw, sh, sw)
            else:
                geom = ConvGeom.explicit(in_h, in_w, in_c, out_c, kh, kw, sh, sw, *pads)
            if geom.out_shape != _hwc(model.tensors[o].shape):
                raise ValueError(f"operator {op.index}: computed output {geom.out_shape} != {model.tensors[o].shape}")
            x_scale, x_zp = _qparams(model, x_idx)
            if w_t.quant is None or np.any(w_t.quant.zero_point != 0):
                raise ValueError(f"operator {op.index}: weights must be symmetric (zero point 0)")
            quant = ConvQuant.from_scales(x_scale, x_zp, np.broadcast_to(w_t.quant.scale, (out_c,)),
                                          out_scale, out_zp, act_min, act_max)
            bias = model.tensors[b_idx].data if b_idx >= 0 else None
            if op.op == "DEPTHWISE_CONV_2D" and weights.shape[0] == 1:
                kind = "dw_conv2d"
            elif (kh, kw) == (1, 1) and pads == (0, 0, 0, 0):
                kind = "pw_conv2d"
            else:
                kind = "conv2d"
            steps.append(Step(kind, op.index, (x_idx,), o, geom, quant, weights, bias, expanded=expanded))
        elif op.op == "FULLY_CONNECTED":
            x_idx, w_idx, b_idx = op.inputs[0], op.inputs[1], op.inputs[2] if len(op.inputs) > 2 else -1
            w_t = model.tensors[w_idx]
            x_scale, x_zp = _qparams(model, x_idx)
            out_c = w_t.shape[0]
            quant = ConvQuant.from_scales(x_scale, x_zp, np.broadcast_to(w_t.quant.scale, (out_c,)),
                                          out_scale, out_zp, act_min, act_max)
            bias = model.tensors[b_idx].data if b_idx >= 0 else None
            rows = int(np.prod(model.tensors[x_idx].shape)) // w_t.shape[1]
            if rows == 1:
                steps.append(Step("fc", op.index, (x_idx,), o, None, quant, w_t.data, bias))
            else:  # rows of features (a Dense on a sequence, keep_num_dims or not): a 1x1 conv over them
                geom = ConvGeom.explicit(1, rows, w_t.shape[1], out_c, 1, 1)
                steps.append(Step("pw_conv2d", op.index, (x_idx,), o, geom, quant,
                                  w_t.data.reshape(out_c, 1, 1, w_t.shape[1]), bias))
        elif op.op == "ADD":
            a, b = op.inputs
            if model.tensors[a].shape != model.tensors[b].shape:
                raise ValueError(f"ADD {op.index}: broadcasting is not supported")
            s1, z1 = _qparams(model, a)
            s2, z2 = _qparams(model, b)
            steps.append(Step("add", op.index, (a, b), o,
                              quant=AddQuant.from_scales(s1, z1, s2, z2, out_scale, out_zp, act_min, act_max)))
        elif op.op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            x_idx = op.inputs[0]
            in_h, in_w, in_c = _hwc(model.tensors[x_idx].shape)
            kh, kw = op.options["filter_height"], op.options["filter_width"]
            sh, sw = op.options["stride_h"], op.options["stride_w"]
            if op.options["padding"] == "SAME":
                geom = ConvGeom.same(in_h, in_w, in_c, in_c, kh, kw, sh, sw)
            else:
                geom = ConvGeom.explicit(in_h, in_w, in_c, in_c, kh, kw, sh, sw)
            if geom.out_shape != _hwc(model.tensors[o].shape):
                raise ValueError(f"operator {op.index}: computed output {geom.out_shape} != {model.tensors[o].shape}")
            if _qparams(model, x_idx) != (out_scale, out_zp):
                raise ValueError(f"{op.op} {op.index}: input and output quantization differ")
            kind = "avgpool" if op.op == "AVERAGE_POOL_2D" else "maxpool"
            steps.append(Step(kind, op.index, (x_idx,), o, geom, PoolQuant(act_min, act_max)))
        elif op.op == "CONCATENATION":
            steps.append(_concat_step(model, op, o, act))
        elif op.op == "MUL":
            steps.append(_mul_step(model, op, o, out_scale, out_zp, act_min, act_max))
        elif op.op in ("RELU", "RELU6", "QUANTIZE"):
            x_idx = op.inputs[0]
            if model.tensors[x_idx].dtype != np.int8:
                raise ValueError(f"{op.op} {op.index}: from {model.tensors[x_idx].dtype}, only int8 -> int8 (a "
                                 "float input is quantized by the host, at the model's input only)")
            x_scale, x_zp = _qparams(model, x_idx)
            quant = (RequantizeQuant.requantize(x_scale, x_zp, out_scale, out_zp) if op.op == "QUANTIZE"
                     else RequantizeQuant.relu(op.op, x_scale, x_zp, out_scale, out_zp))
            steps.append(Step("requantize", op.index, (x_idx,), o, quant=quant))
        elif op.op == "LEAKY_RELU":
            alpha = float(np.float32(op.options.get("alpha", 0.0)))
            if not 0.0 <= alpha <= 1.0:
                raise ValueError(f"LEAKY_RELU {op.index}: alpha {alpha}, only 0 to 1")
            x_idx = op.inputs[0]
            x_scale, x_zp = _qparams(model, x_idx)
            steps.append(Step("leaky_relu", op.index, (x_idx,), o, alpha=alpha,
                              quant=RequantizeQuant.leaky_relu(alpha, x_scale, x_zp, out_scale, out_zp)))
        elif op.op == "HARD_SWISH":
            x_idx = op.inputs[0]
            x_scale, x_zp = _qparams(model, x_idx)
            steps.append(Step("hard_swish", op.index, (x_idx,), o,
                              quant=HardSwishQuant.from_scales(x_scale, x_zp, out_scale, out_zp)))
        elif op.op == "LOGISTIC":
            x_idx = op.inputs[0]
            if (float(np.float32(out_scale)), out_zp) != (LogisticQuant.OUTPUT_SCALE, LogisticQuant.OUTPUT_ZP):
                raise ValueError(f"LOGISTIC {op.index}: an int8 output quantized at {out_scale}, {out_zp}; "
                                 "TFLite's kernel needs 1/256 and -128")
            steps.append(Step("logistic", op.index, (x_idx,), o, quant=LogisticQuant.from_scale(*_qparams(model, x_idx))))
        elif op.op == "MEAN":
            x_idx = op.inputs[0]
            if not is_spatial_mean(model, op):
                raise ValueError(f"MEAN {op.index}: only the mean over H and W of an NHWC tensor is supported")
            in_h, in_w, in_c = _hwc(model.tensors[x_idx].shape)
            x_scale, x_zp = _qparams(model, x_idx)
            geom = ConvGeom.explicit(in_h, in_w, in_c, in_c, in_h, in_w)
            quant = MeanQuant.from_scales(x_scale, x_zp, out_scale, out_zp, in_h * in_w)
            steps.append(Step("mean", op.index, (x_idx,), o, geom, quant))
    return steps


#: Most inputs of one CONCATENATION (the plan op's input slots).
MAX_CONCAT_INPUTS = 4


def _concat_step(model: Model, op, out: int, act: str) -> Step:
    """A CONCATENATION of activations that share the output's quantization (TFLite Micro copies
    int8 rows without requantizing; the converter gives the inputs one scale)."""
    ins, shape = tuple(op.inputs), model.tensors[out].shape
    if any(model.tensors[t].data is not None for t in ins) or not 1 <= len(ins) <= MAX_CONCAT_INPUTS:
        raise ValueError(f"CONCATENATION {op.index}: 1 to {MAX_CONCAT_INPUTS} activations only, not {len(ins)} "
                         "inputs or constants")
    if act != "NONE" or any(_qparams(model, t) != _qparams(model, out) for t in ins):
        raise ValueError(f"CONCATENATION {op.index}: only inputs quantized as the output, without a fused activation")
    axis = op.options.get("axis", 0) % len(shape)
    outer = int(np.prod(shape[:axis]))
    inners = tuple(int(np.prod(model.tensors[t].shape[axis:])) for t in ins)
    return Step("concat", op.index, ins, out, quant=ConcatGeom(outer, inners, tuple(shape[1:])))


def _mul_step(model: Model, op, out: int, out_scale: float, out_zp: int, act_min: int, act_max: int) -> Step:
    """A MUL with its larger operand first (MUL commutes): the second is the same shape, one
    value per channel (a squeeze-excite gate) or a constant scalar."""
    a, b = op.inputs
    size = lambda t: int(np.prod(model.tensors[t].shape))  # noqa: E731
    if model.tensors[a].data is not None or size(a) < size(b):
        a, b = b, a
    n, nb, channels = size(a), size(b), model.tensors[a].shape[-1]
    if model.tensors[a].data is not None:
        raise ValueError(f"MUL {op.index}: both operands are constants")
    constant = model.tensors[b].data
    shape_b = model.tensors[b].shape
    broadcast_ok = nb == n and shape_b == model.tensors[a].shape or nb == 1 or (
        nb == channels and shape_b[-1:] == (channels,))
    if not broadcast_ok or (constant is not None and nb != 1):
        raise ValueError(f"MUL {op.index}: {model.tensors[b].shape} against {model.tensors[a].shape}: only the same "
                         "shape, one value per channel or a scalar (constants: scalars only) broadcast")
    (s1, z1), (s2, z2) = _qparams(model, a), _qparams(model, b)
    quant = MulQuant.from_scales(s1, z1, s2, z2, out_scale, out_zp, act_min, act_max)
    if constant is not None:
        return Step("mul", op.index, (a,), out, quant=quant, constant=int(np.asarray(constant).ravel()[0]),
                    constant_scale=s2)
    return Step("mul", op.index, (a, b), out, quant=quant)


def is_spatial_mean(model: Model, op) -> bool:
    """A MEAN over H and W (axes 1 and 2, in any order or negative) of a 4-D tensor: the only
    reduction the kernels have (Keras' GlobalAveragePooling2D)."""
    if len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
        return False
    axes = model.tensors[op.inputs[1]].data
    shape = model.tensors[op.inputs[0]].shape
    return (axes is not None and len(shape) == 4
            and sorted(int(a) % 4 for a in np.asarray(axes).ravel()) == [1, 2])


def run_step(step: Step, tensors: dict[int, np.ndarray], kernels=forward) -> np.ndarray:
    """Execute one step on batch-1 tensors (``(H, W, C)`` or flat), returning the output.

    ``kernels`` is any module with the ``forward`` function signatures: this package's
    ``forward`` (numpy) or ``tt_host.native`` (the C library).
    """
    x = tensors[step.inputs[0]]
    if step.kind in ("conv2d", "pw_conv2d", "dw_conv2d"):
        x = x.reshape(step.geom.in_shape)  # a sequence's rows (N, K) are a 1 x N map for a Dense over them
    if step.kind == "conv2d":
        return kernels.conv2d_fwd_s8(step.geom, step.quant, x, step.weights, step.bias)
    if step.kind == "pw_conv2d":
        return kernels.pw_conv2d_fwd_s8(step.geom, step.quant, x, step.weights, step.bias)
    if step.kind == "dw_conv2d":
        return kernels.dw_conv2d_fwd_s8(step.geom, step.quant, x, step.weights, step.bias)
    if step.kind == "fc":
        return kernels.fc_fwd_s8(step.quant, x.reshape(-1), step.weights, step.bias)
    if step.kind == "add":
        return kernels.add_fwd_s8(step.quant, x, tensors[step.inputs[1]])
    if step.kind == "avgpool":
        return kernels.avgpool_fwd_s8(step.geom, step.quant, x)
    if step.kind == "mul":
        b = tensors[step.inputs[1]] if len(step.inputs) > 1 else np.int8(step.constant)
        return kernels.mul_fwd_s8(step.quant, x, b)
    if step.kind == "concat":
        return kernels.concat_s8(step.quant, [tensors[t] for t in step.inputs])
    if step.kind in ("requantize", "leaky_relu"):
        return kernels.requantize_s8(step.quant, x)
    if step.kind == "hard_swish":
        return kernels.hard_swish_fwd_s8(step.quant, x)
    if step.kind == "logistic":
        return kernels.logistic_fwd_s8(step.quant, x)
    if step.kind == "maxpool":
        return kernels.maxpool_fwd_s8(step.geom, step.quant, x)
    if step.kind == "mean":
        return kernels.mean_fwd_s8(step.geom, step.quant, x)
    if step.kind == "pad":
        return kernels.pad_s8(step.pad, step.pad_value, x)
    raise ValueError(f"unknown step kind {step.kind}")


def run(model: Model, x: np.ndarray, fold_pad: bool = True, steps: list[Step] | None = None,
        kernels=forward) -> dict[int, np.ndarray]:
    """Run the model on one int8 input (shape of the model input, batch 1 included).

    Returns every computed tensor, keyed by tensor index, reshaped to its TFLite shape.
    """
    steps = lower(model, fold_pad) if steps is None else steps
    inp = model.inputs[0]
    x = np.asarray(x)
    if x.dtype != np.int8 or x.size != int(np.prod(model.tensors[inp].shape)):
        raise ValueError(f"input must be int8 of shape {model.tensors[inp].shape}")
    live = {inp: x.reshape(model.tensors[inp].shape[1:])}
    for step in steps:
        if step.kind == "reshape":
            live[step.output] = live[step.inputs[0]].reshape(model.tensors[step.output].shape[1:])
        else:
            live[step.output] = run_step(step, live, kernels)
    return {i: v.reshape(model.tensors[i].shape) for i, v in live.items()}
