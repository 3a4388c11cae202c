"""The training compiler's graph IR, imported from an int8 ``.tflite``.

The import reuses :func:`tt_host.reference.graph.lower` for everything that has a kernel (so
the geometry and the integer quantization parameters are exactly the reference's, with each
PAD folded into its convolution) and adds what training needs on top:

* the **edges** are stripped: a QUANTIZE right after the graph input, and SOFTMAX / LOGISTIC /
  DEQUANTIZE right before the output, do not run on the device (the device receives int8
  images and the loss computes its own softmax). ``Graph.input`` and ``Graph.logits`` are the
  int8 tensors the step starts from and the loss attaches to;
* RESHAPE and SQUEEZE are views (no kernel, no memory); the run-time shape computation Keras
  emits for Flatten / Reshape (SHAPE -> STRIDED_SLICE -> PACK into a RESHAPE) is folded away when
  every shape is static (:func:`static_shape_ops`);
* every layer knows whether its int8 output **clamps** (so backprop needs its 1-bit mask) and
  whether that clamp is a ReLU (lower bound at real 0);
* convolutions get their **scheme index**, the numbering of the published sparse-update
  schemes: every convolution (regular, pointwise and depthwise) counted from the input, 0 =
  the first; the classifier is not counted;
* the **classifier** is the parameterised layer that produces the logits (through RESHAPEs).
  Replacing it for N new classes (a later part) swaps that one layer's weights and output
  tensor; nothing else in the IR refers to the class count.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tt_host.compiler.errors import CompileError, UnsupportedOperator
from tt_host.reference.graph import SUPPORTED as KERNEL_OPS
from tt_host.reference.graph import Step, dilation_of, is_spatial_mean, lower
from tt_host.reference.params import INT8_MAX, INT8_MIN, ConvQuant, LogisticQuant
from tt_host.tflite import Model, load

#: Operators the compiler handles itself (no reference kernel step).
COMPILER_OPS = ("RESHAPE", "SQUEEZE", "SOFTMAX", "DEQUANTIZE")
#: What the device leaves to the host at the output: the loss computes its own softmax, and a
#: final sigmoid (LOGISTIC) or DEQUANTIZE only changes how the logits read.
OUTPUT_EDGES = ("DEQUANTIZE", "SOFTMAX", "LOGISTIC")
#: Output edges that have no kernel: anywhere else they are refused (a LOGISTIC inside the
#: graph, a squeeze-excite gate, runs on the device).
EDGE_ONLY_OPS = ("DEQUANTIZE", "SOFTMAX")
#: Every operator a model may contain.
SUPPORTED_OPS = (*KERNEL_OPS, *COMPILER_OPS)

#: Layer kinds that own weights and a bias.
PARAM_KINDS = ("conv2d", "pw_conv2d", "dw_conv2d", "fc")
#: Layer kinds counted by the published scheme numbering (the classifier excepted).
CONV_KINDS = ("conv2d", "pw_conv2d", "dw_conv2d")


@dataclass(frozen=True)
class Activation:
    """An int8 activation tensor (batch dimension dropped)."""

    index: int  #: TFLite tensor index
    name: str
    shape: tuple[int, ...]  #: ``(H, W, C)`` or ``(C,)``
    scale: float
    zero_point: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def channels(self) -> int:
        return self.shape[-1]

    @property
    def spatial(self) -> int:
        """Elements per channel (``H*W``, or 1 for a vector)."""
        return self.numel // self.channels


@dataclass(frozen=True)
class Layer:
    """One node of the IR: a kernel invocation or a view."""

    index: int  #: position in ``Graph.layers`` (topological = execution order)
    kind: str  #: conv2d, pw_conv2d, dw_conv2d, fc, add, mul, hard_swish, logistic, requantize, leaky_relu, concat,
    #: avgpool, maxpool, mean, reshape, pad
    op_index: int  #: the TFLite operator it comes from
    name: str  #: the output tensor's name (the layer names of the shared models)
    inputs: tuple[int, ...]  #: activation tensor indices read
    output: int  #: activation tensor index written
    step: Step | None = field(default=None, repr=False)  #: the reference kernel step, if any
    conv_index: int | None = None  #: published scheme numbering, ``None`` if not counted
    is_classifier: bool = False
    clamps: bool = False  #: the int8 output saturates somewhere: backprop needs a mask
    relu: bool = False  #: the lower clamp is real 0 (ReLU / ReLU6 through the output range)
    macs: int = 0  #: forward multiply-accumulates
    weight_tensor: int = -1  #: TFLite tensor index of the weights (-1: none, or a new head)
    bias_tensor: int = -1  #: TFLite tensor index of the bias (-1: none, or a new head)
    #: float32 per-output-channel weight scales (what QAS and the gradient scales derive from)
    weight_scales: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def has_params(self) -> bool:
        return self.kind in PARAM_KINDS

    @property
    def expanded(self) -> str:
        """Why the weights the kernels run are an expansion of the model's (a dilated or
        depth-multiplied convolution, whose added zeros must stay zero): its weights cannot
        train, its bias can. "" for the model's own weights."""
        return self.step.expanded if self.step is not None else ""

    @property
    def weights(self) -> np.ndarray | None:
        return None if self.step is None else self.step.weights

    @property
    def weight_in_channels(self) -> int:
        """Input channels of the weights: what a weight-update channel list indexes."""
        w = self.weights
        if w is None:
            return 0
        if self.kind == "dw_conv2d":
            return int(w.shape[3])  # 1HWC: one filter per channel
        return int(w.shape[-1])  # OHWI or (out, in)

    @property
    def out_channels(self) -> int:
        w = self.weights
        if w is None:
            return 0
        return int(w.shape[3] if self.kind == "dw_conv2d" else w.shape[0])

    def weight_count(self, n_channels: int | None = None) -> int:
        """int8 weights touching ``n_channels`` input channels (all by default)."""
        w = self.weights
        if w is None:
            return 0
        n = self.weight_in_channels if n_channels is None else n_channels
        return int(w.size) * n // self.weight_in_channels


@dataclass(frozen=True)
class Graph:
    """A training-ready int8 CNN: layers in execution order plus their activations."""

    name: str
    layers: tuple[Layer, ...]
    tensors: dict[int, Activation]
    input: int  #: int8 image tensor the device fills
    logits: int  #: tensor the loss reads
    stripped: tuple[str, ...] = ()  #: edge operators dropped at import, e.g. ``("SOFTMAX",)``
    model_hash: bytes = bytes(32)  #: SHA-256 of the .tflite file (zero when built from a parsed model)
    #: class names of the logits, when known (a replaced head's labels)
    labels: tuple[str, ...] = ()
    head_replaced: bool = False  #: the classifier is not the base model's (see :mod:`.head`)

    @property
    def classifier(self) -> Layer:
        return next(layer for layer in self.layers if layer.is_classifier)

    def convs(self) -> list[Layer]:
        """The layers of the published scheme numbering, ``convs()[i].conv_index == i``."""
        return [layer for layer in self.layers if layer.conv_index is not None]

    def conv(self, conv_index: int) -> Layer:
        convs = self.convs()
        if not 0 <= conv_index < len(convs):
            raise CompileError(f"{self.name}: no convolution {conv_index} (it has {len(convs)}, 0..{len(convs) - 1})")
        return convs[conv_index]

    def producer(self, tensor: int) -> Layer | None:
        return next((layer for layer in self.layers if layer.output == tensor), None)

    def consumers(self, tensor: int) -> list[Layer]:
        return [layer for layer in self.layers if tensor in layer.inputs]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def n_classes(self) -> int:
        return self.tensors[self.logits].numel

    def with_classes(self, n_classes: int, labels: tuple[str, ...] | list[str] = ()) -> Graph:
        """The same backbone with a new, zero-initialised ``n_classes``-way classifier.

        The weight scale of every class is the median of the old head's per-class scales:
        the new head reads the same features, so weights of the old head's magnitude are what
        training will grow towards. (:func:`tt_host.compiler.head.imprint` initialises from
        samples instead.)
        """
        head = self.classifier
        scale = float(np.median(head.weight_scales)) if head.weight_scales is not None else 1 / 127
        return self.with_head(np.zeros((n_classes, head.weight_in_channels), np.int8), np.zeros(n_classes, np.int32),
                              np.full(n_classes, scale, np.float32), labels)

    def with_head(self, weights: np.ndarray, bias: np.ndarray, weight_scales: np.ndarray,
                  labels: tuple[str, ...] | list[str] = ()) -> Graph:
        """The same backbone with a new classifier: int8 ``weights`` ``(N, in)``, int32 ``bias``
        ``(N,)`` at ``s_x * weight_scales`` and float32 per-class ``weight_scales``.

        Only the classifier layer and the logits tensor change, which is all the planner sees.
        The logits keep the old head's output quantization.
        """
        n_classes = int(weights.shape[0]) if weights.ndim == 2 else 0
        if n_classes < 1:
            raise CompileError(f"the number of classes must be at least 1, not {n_classes}")
        if labels and len(labels) != n_classes:
            raise CompileError(f"{len(labels)} label names for {n_classes} classes")
        head = self.classifier
        g = head.step.geom if head.step is not None else None
        if head.kind == "pw_conv2d" and (g.in_h, g.in_w, g.out_h, g.out_w) == (1, 1, 1, 1):
            # A 1x1 convolution of a 1x1 feature map (Keras' MobileNet top) is a fully connected
            # layer: the new head is one, reading the same C features.
            w = head.step.weights.reshape(g.out_c, g.in_c)
            head = replace(head, kind="fc", step=replace(head.step, kind="fc", geom=None, weights=w))
        if head.kind != "fc":
            raise CompileError(f"replacing a {head.kind} classifier is not supported yet (only a fully connected "
                               "layer, or a 1x1 convolution of a 1x1 feature map)")
        in_c = head.weight_in_channels
        if weights.shape != (n_classes, in_c) or weights.dtype != np.int8 or bias.shape != (n_classes,):
            raise CompileError(f"a new head needs int8 weights ({n_classes}, {in_c}) and {n_classes} int32 biases")
        old = self.tensors[self.logits]
        logits = Activation(max(self.tensors) + 1, f"{old.name}[{n_classes}]", (n_classes,), old.scale, old.zero_point)
        x = self.tensors[head.inputs[0]]
        w_scale = np.asarray(weight_scales, np.float32).reshape(n_classes)
        quant = ConvQuant.from_scales(x.scale, x.zero_point, w_scale, old.scale, old.zero_point,
                                      head.step.quant.act_min, head.step.quant.act_max)
        step = replace(head.step, output=logits.index, quant=quant, weights=np.ascontiguousarray(weights),
                       bias=np.asarray(bias, np.int32))
        new_head = replace(head, output=logits.index, name=logits.name, step=step, macs=n_classes * in_c,
                           weight_scales=w_scale)
        tensors = {**self.tensors, logits.index: logits}
        layers = tuple(new_head if layer.index == head.index else layer for layer in self.layers)
        if self.logits != head.output:  # RESHAPEs between the head and the logits: drop them
            layers = tuple(layer for layer in layers if layer.index <= head.index)
        return replace(self, layers=layers, tensors=tensors, logits=logits.index, labels=tuple(labels),
                       head_replaced=True)

    @property
    def param_bytes(self) -> int:
        """int8 weights + int32 biases of every layer (what the weight blob stores)."""
        total = 0
        for layer in self.layers:
            if layer.has_params:
                total += layer.weight_count() + 4 * layer.out_channels
        return total


def _activation(model: Model, index: int) -> Activation:
    t = model.tensors[index]
    shape = tuple(t.shape[1:]) if len(t.shape) > 1 and t.shape[0] == 1 else tuple(t.shape)
    if t.quant is None or t.quant.per_channel:
        raise CompileError(f"tensor {index} ({t.name}) must be int8 with per-tensor quantization")
    return Activation(index, t.name, shape, float(t.quant.scale[0]), int(t.quant.zero_point[0]))


def _macs(step: Step) -> int:
    if step.kind in ("conv2d", "pw_conv2d"):
        g = step.geom
        return g.out_h * g.out_w * g.out_c * g.kernel_h * g.kernel_w * g.in_c
    if step.kind == "dw_conv2d":
        g = step.geom
        return g.out_h * g.out_w * g.out_c * g.kernel_h * g.kernel_w
    if step.kind == "fc":
        return int(step.weights.size)
    return 0  # add, pooling and views are not counted as MACs (the README's convention)


def _edges(model: Model) -> tuple[int, int, set[int], tuple[str, ...]]:
    """The input and logits tensors once QUANTIZE (after the input) and :data:`OUTPUT_EDGES`
    (before the output) are dropped; the dropped op indices and names."""
    producer = {o: op for op in model.operators for o in op.outputs}
    dropped: set[int] = set()
    names: list[str] = []
    logits = model.outputs[0]
    # Walk back from the output through the output edges (in any order).
    while logits in producer and producer[logits].op in OUTPUT_EDGES:
        op = producer[logits]
        dropped.add(op.index)
        names.append(op.op)
        logits = op.inputs[0]
    image = model.inputs[0]
    for op in model.operators:
        if op.op == "QUANTIZE" and op.inputs[0] == image:
            dropped.add(op.index)
            names.append(op.op)
            image = op.outputs[0]
            break
    return image, logits, dropped, tuple(names)


def _strip_edges(model: Model) -> tuple[int, int, set[int], tuple[str, ...]]:
    """Find the int8 input/logits tensors; return them, the dropped op indices and names."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise CompileError(f"the model must have one input and one output, it has {len(model.inputs)} and {len(model.outputs)}")
    image, logits, dropped, names = _edges(model)
    for op in model.operators:
        if op.index not in dropped and _edge_only(model, op):
            raise UnsupportedOperator(op.op, op.index, SUPPORTED_OPS, EDGE_ONLY)
    if model.tensors[image].dtype != np.int8 or model.tensors[logits].dtype != np.int8:
        raise CompileError("the model's input and logits (after stripping QUANTIZE/SOFTMAX/LOGISTIC/DEQUANTIZE) "
                           "must be int8")
    return image, logits, dropped, names


#: Why an edge operator elsewhere is refused.
EDGE_ONLY = ("only at the edges: QUANTIZE from float on the input, SOFTMAX/DEQUANTIZE on the "
             "output (an int8 -> int8 QUANTIZE runs anywhere)")


def _edge_only(model: Model, op) -> bool:
    """SOFTMAX, DEQUANTIZE and a QUANTIZE from float run on the host's side of the device only."""
    if op.op == "QUANTIZE":
        return model.tensors[op.inputs[0]].dtype != np.int8
    return op.op in EDGE_ONLY_OPS


def operator_support(model: Model) -> list[tuple[int, str, str]]:
    """``(index, operator, status)`` for every operator, status one of ``runs`` (a kernel or a
    view on the device), ``folded`` (a static shape computation, gone at compile time),
    ``edge`` (QUANTIZE / SOFTMAX / DEQUANTIZE at the ends: the host quantizes, the loss has its
    own softmax) or ``unsupported: <why>``. Never raises: it is what ``tt-host check`` lists."""
    folded = static_shape_ops(model)
    dropped = _edges(model)[2] if len(model.inputs) == len(model.outputs) == 1 else set()
    rows = []
    for op in model.operators:
        if op.index in dropped:
            status = "edge"
        elif op.index in folded:
            status = "folded"
        elif _edge_only(model, op):
            status = f"unsupported: {EDGE_ONLY}"
        elif _limit(model, op) is not None:
            status = f"unsupported: {_limit(model, op)}"
        elif op.op in SHAPE_OPS:
            status = "unsupported: a shape computed at run time (only static RESHAPE chains fold)"
        elif op.op in SUPPORTED_OPS:
            status = "runs"
        else:
            status = "unsupported: no kernel"
        rows.append((op.index, op.op, status))
    return rows


def _limit(model: Model, op) -> str | None:
    """Why a supported operator's particular use has no kernel, or None."""
    if op.op == "MEAN" and not is_spatial_mean(model, op):
        return "only the mean over H and W of an NHWC tensor"
    if op.op == "LOGISTIC" and not (len(model.outputs) == 1 and op.index in _edges(model)[2]):
        out = model.tensors[op.outputs[0]].quant
        got = (float(out.scale[0]), int(out.zero_point[0])) if out is not None else None
        if got != (LogisticQuant.OUTPUT_SCALE, LogisticQuant.OUTPUT_ZP):
            return f"an output quantized as {got}: TFLite's int8 LOGISTIC needs scale 1/256 and zero point -128"
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = model.tensors[op.inputs[1]]
        expanded, why = expanded_weight_count(model, op)
        if why and expanded > MAX_EXPANDED_WEIGHTS:
            return (f"{why} runs as a convolution of {expanded:,} weights ({w.data.size:,} in the model), over the "
                    f"{MAX_EXPANDED_WEIGHTS:,} this compiler expands")
    return None


#: The largest expansion of a dilated or depth-multiplied convolution's weights (int8 bytes):
#: beyond it the zeros would crowd the model area out.
MAX_EXPANDED_WEIGHTS = 64 * 1024


def expanded_weight_count(model: Model, op) -> tuple[int, str]:
    """``(weights the kernels run, why they differ from the model's)`` for a CONV_2D or
    DEPTHWISE_CONV_2D (:func:`tt_host.reference.graph.dilated_kernel`, ``dense_from_depthwise``)."""
    w = model.tensors[op.inputs[1]]
    _, kh, kw, last = w.shape
    dh, dw = dilation_of(op, kh, kw)
    taps = ((kh - 1) * dh + 1) * ((kw - 1) * dw + 1)
    why = [f"dilation {dh}x{dw}"] if (dh, dw) != (1, 1) else []
    if op.op == "CONV_2D":
        return w.shape[0] * taps * last, ", ".join(why)
    in_c = model.tensors[op.inputs[0]].shape[-1]
    if last != in_c:
        why.insert(0, f"depth multiplier {last // max(in_c, 1)}")
        return last * taps * in_c, ", ".join(why)
    return taps * last, ", ".join(why)


#: The operators with parameters: (rank of their weight tensor, the options their lowering reads).
_PARAM_OPERANDS = {
    "CONV_2D": (4, ("stride_h", "stride_w", "padding")),
    "DEPTHWISE_CONV_2D": (4, ("stride_h", "stride_w", "padding")),
    "FULLY_CONNECTED": (2, ()),
}


def _check_operands(model: Model) -> None:
    """Refuse, with its index, a parameter operator whose operands a TFLite converter never
    writes (a corrupt or hand-made file): weights that are not a quantized int8 constant of
    the operator's rank, a bias that is not an int32 constant per output channel, missing or
    zero strides. What follows reads these without asking again."""
    for op in model.operators:
        if op.op not in _PARAM_OPERANDS:
            continue
        rank, options = _PARAM_OPERANDS[op.op]
        where = f"operator {op.index} ({op.op})"
        if len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
            raise CompileError(f"{where}: needs an input and a weight tensor")
        w = model.tensors[op.inputs[1]]
        if w.data is None or w.dtype != np.int8 or len(w.shape) != rank or w.quant is None or min(w.shape) < 1:
            raise CompileError(f"{where}: its weights (tensor {w.index}) are not a quantized int8 constant of rank {rank}")
        out_c = w.shape[3] if op.op == "DEPTHWISE_CONV_2D" else w.shape[0]
        if w.quant.scale.size not in (1, out_c):
            raise CompileError(f"{where}: {w.quant.scale.size} weight scales for {out_c} output channels")
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            b = model.tensors[op.inputs[2]]
            if b.data is None or b.dtype != np.int32 or b.shape != (out_c,):
                raise CompileError(f"{where}: its bias (tensor {b.index}) is not an int32 constant of {out_c} values")
        missing = [k for k in options if k not in op.options]
        if missing or any(int(op.options[k]) < 1 for k in options if k.startswith("stride")):
            raise CompileError(f"{where}: options {', '.join(options)} missing or not positive")


def _check_limits(model: Model) -> None:
    """Refuse, at import and with its index, an operator used beyond what its kernels do."""
    for op in model.operators:
        why = _limit(model, op)
        if why is not None:
            raise UnsupportedOperator(op.op, op.index, SUPPORTED_OPS, why)


#: Operators that only compute a shape at run time (Keras' Flatten / Reshape: SHAPE ->
#: STRIDED_SLICE -> PACK -> the new-shape input of a RESHAPE).
SHAPE_OPS = ("SHAPE", "STRIDED_SLICE", "PACK")


def static_shape_ops(model: Model) -> frozenset[int]:
    """The SHAPE / STRIDED_SLICE / PACK operators whose results only ever become the new-shape
    input of RESHAPEs with a fully static output shape: with every shape known at compile time
    they compute nothing the device needs (the RESHAPE is a view of known shape), so the import
    folds them away. Any other use of their results keeps them, and they are then refused."""
    consumers: dict[int, list] = {}
    for op in model.operators:
        for k, t in enumerate(op.inputs):
            consumers.setdefault(t, []).append((op, k))
    candidates = {op.index for op in model.operators if op.op in SHAPE_OPS}

    def fine(op, k) -> bool:
        if op.index in candidates:
            return True
        static = all(d > 0 for d in model.tensors[op.outputs[0]].shape)
        return op.op == "RESHAPE" and k == 1 and static

    changed = True
    while changed:
        changed = False
        for op in model.operators:
            if op.index in candidates and not all(fine(c, k) for o in op.outputs for c, k in consumers.get(o, [])):
                candidates.discard(op.index)
                changed = True
    return frozenset(candidates)


def import_model(model: Model, name: str = "model", model_hash: bytes = bytes(32)) -> Graph:
    """Build the IR of a parsed model (see the module docstring for what changes)."""
    folded = static_shape_ops(model)
    for op in model.operators:
        if op.op not in SUPPORTED_OPS and op.index not in folded:
            raise UnsupportedOperator(op.op, op.index, SUPPORTED_OPS)
    _check_operands(model)
    _check_limits(model)
    image, logits, dropped, stripped = _strip_edges(model)
    try:
        steps = lower(model, fold_pad=True, passthrough=COMPILER_OPS, skip=folded | dropped)
    except ValueError as exc:  # the reference's own limits (dilation, broadcasting, ...)
        raise CompileError(f"{name}: {exc}") from exc

    tensors: dict[int, Activation] = {image: _activation(model, image)}
    layers: list[Layer] = []
    for step in steps:
        tensors[step.output] = _activation(model, step.output)
        for t in step.inputs:
            if t not in tensors:
                raise CompileError(f"operator {step.op_index} reads tensor {t} before anything computes it")
        out = tensors[step.output]
        if step.kind in (*PARAM_KINDS, "add", "mul", "requantize"):
            clamps = True  # requantized to int8: saturation is always possible
            lo = step.quant.act_min
            relu = lo > INT8_MIN or out.zero_point == INT8_MIN
        elif step.kind in ("hard_swish", "leaky_relu", "logistic"):
            clamps, relu = True, False  # requantized too; not a ReLU's mask
        elif step.kind == "concat":
            clamps, relu = False, False  # a copy
        elif step.kind in ("avgpool", "maxpool", "pad", "reshape"):
            # Same quantization in and out: an average, a maximum or a copy of int8 values cannot
            # leave the int8 range, so only a fused activation clamps.
            q = step.quant
            clamps = q is not None and (q.act_min > INT8_MIN or q.act_max < INT8_MAX)
            relu = clamps
        else:  # mean: can saturate only when it requantizes
            src = tensors[step.inputs[0]]
            clamps = (src.scale, src.zero_point) != (out.scale, out.zero_point)
            relu = False
        kw = {}
        if step.kind in PARAM_KINDS:
            op = model.operators[step.op_index]
            w_t = model.tensors[op.inputs[1]]
            out_c = int(step.weights.shape[3] if step.kind == "dw_conv2d" else step.weights.shape[0])
            kw = dict(weight_tensor=op.inputs[1], bias_tensor=op.inputs[2] if len(op.inputs) > 2 else -1,
                      weight_scales=np.broadcast_to(w_t.quant.scale.astype(np.float32), (out_c,)).copy())
        layers.append(Layer(len(layers), step.kind, step.op_index, out.name, step.inputs, step.output,
                            step if step.kind != "reshape" else None,
                            clamps=clamps, relu=relu, macs=_macs(step), **kw))

    by_output = {layer.output: layer for layer in layers}
    head = by_output.get(logits)
    while head is not None and head.kind == "reshape":
        head = by_output.get(head.inputs[0])
    if head is None or not head.has_params:
        raise CompileError(f"{name}: the logits (tensor {logits}) are not computed by a fully connected or "
                           "convolution layer, so there is no classifier to train")
    numbered: list[Layer] = []
    count = 0
    for layer in layers:
        kw: dict = {}
        if layer.index == head.index:
            kw["is_classifier"] = True
        elif layer.kind in CONV_KINDS:
            kw["conv_index"] = count
            count += 1
        numbered.append(replace(layer, **kw) if kw else layer)
    return Graph(name, tuple(numbered), tensors, image, logits, stripped, model_hash)


def load_graph(path: str | Path) -> Graph:
    """Read a ``.tflite`` file and import it; the graph is named after the file."""
    path = Path(path)
    name = path.name.removesuffix(".tflite").removesuffix("-int8")
    raw = path.read_bytes()
    return import_model(load(raw, origin=path), name, hashlib.sha256(raw).digest())
