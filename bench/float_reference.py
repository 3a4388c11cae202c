"""The float32 counterpart of on-device training, for ``bench/accuracy.py``: the same network,
head, scheme, samples, sample order and learning-rate schedule, trained in PyTorch.

**The network** is rebuilt from the compiler's graph IR (``tt_host.compiler.load_graph``, with
the imprinted head the int8 run starts from), one torch op per layer, NCHW, batch-first:

* weights = int8 x the per-output-channel scale; biases = int32 x s_x x s_w[o]; the input =
  s_in x (q - zp_in) of the very int8 image the device receives;
* every layer whose int8 output saturates somewhere (``Layer.clamps``) clamps its real output
  to the real range of its int8 output (``act_min``/``act_max`` through the output tensor's
  scale and zero point): that is how the int8 models express ReLU/ReLU6, and it bounds the
  logits exactly as the device's int8 logits are bounded (so a saturated logit passes no
  gradient, as on the device);
* PADs folded into a convolution become zero padding (the zero point's real value is 0); the
  average pool averages the valid elements only (TFLite's SAME); RESHAPE works in NHWC order.

How close it is to the int8 forward (``compare_forward``; ``bench/accuracy.py`` records it
per setup under ``forward_checks``), measured on 10 Fashion-MNIST test images per model and
seed (seeds 0 and 1), imprinted head:

* **layer by layer** (each float layer fed the int8 forward's dequantized inputs, against that
  layer's int8 output): within 0.53-0.56 quantization steps on every layer of all four models,
  i.e. the float op is the int8 op up to its final rounding (0.5 step) and the rounding of the
  fixed-point multipliers;
* **end to end** the rounding of ~50 int8 layers accumulates: MobileNetV2-w0.35, MCUNet-5fps
  and ProxylessNAS-w0.3 agree on the argmax for 8-10 of 10 images, with a mean |real logit
  difference| of 0.42-1.14 (2.5-7 logit steps of ~0.17; the logits span 17-22) and at most
  1.3-4.1; the 17-layer demo model agrees on 10/10, mean 0.08 (half a logit step), at most
  0.27. Every disagreement is an image whose two best int8 logits are at most two logit steps
  apart (0-0.35).

**Training** is plain SGD, batch 1, no momentum, no weight decay, at the plan's rates
(``TrainParams.lr`` for the body, ``TrainParams.head_rate`` for the classifier) times the
recipe's per-step scale (``LrSchedule``: warm-up + cosine, the same Q16 values the device
receives). Exactly what the scheme trains gets a gradient: the biases of its bias convs, the
listed input channels of its weight convs (the other channels' gradient is zeroed; a
depthwise filter's "input channel" is its own channel), the classifier's weights and bias.
What the float run does *not* have: the device's per-sample step bounds
(``WEIGHT_STEP_MAX``/``BIAS_STEP_MAX``), stochastic rounding and the int8 forward's rounding;
the difference between the two columns is what those cost (or save).

The frozen prefix (every layer before the first trained one) never changes, so its outputs
are computed once per image and training and evaluation run from there.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tt_host.compiler import Graph, Scheme, TrainParams
from tt_host.compiler.ir import Layer
from tt_host.recipe import SCALE_ONE, LrSchedule

#: Evaluation and prefix batches (images): large enough to amortise torch's per-op overhead,
#: small enough that a 128x128 model's first activations stay in the tens of MB.
BATCH = 50
#: Cached prefix outputs above this many bytes are not kept (the run starts from the input).
CACHE_LIMIT_BYTES = 1 << 30


# -- the float network ------------------------------------------------------------------------------


def _real_weight(layer: Layer) -> torch.Tensor:
    """Dequantized weights in torch's layout: OIHW for convolutions (a depthwise filter is
    ``(C, 1, kh, kw)``), ``(out, in)`` for the classifier."""
    w = np.asarray(layer.weights, np.float32)
    s = np.asarray(layer.weight_scales, np.float32)
    if layer.kind == "dw_conv2d":  # 1HWC, one scale per channel
        return torch.from_numpy((w * s.reshape(1, 1, 1, -1)).transpose(3, 0, 1, 2).copy())
    if layer.kind == "fc":
        return torch.from_numpy(w * s[:, None])
    return torch.from_numpy((w * s.reshape(-1, 1, 1, 1)).transpose(0, 3, 1, 2).copy())  # OHWI


def _real_bias(graph: Graph, layer: Layer) -> torch.Tensor:
    s_x = np.float64(np.float32(graph.tensors[layer.inputs[0]].scale))
    b = layer.step.bias if layer.step.bias is not None else np.zeros(layer.out_channels, np.int32)
    real = np.asarray(b, np.float64) * s_x * np.asarray(layer.weight_scales, np.float64)
    return torch.from_numpy(real.astype(np.float32))


def _real_range(graph: Graph, layer: Layer) -> tuple[float, float] | None:
    """The real values the layer's int8 output can hold (its fused activation included), or
    None when the layer cannot saturate."""
    if not layer.clamps:
        return None
    out = graph.tensors[layer.output]
    q = layer.step.quant if layer.step is not None else None
    lo, hi = (q.act_min, q.act_max) if q is not None and hasattr(q, "act_min") else (-128, 127)
    return out.scale * (lo - out.zero_point), out.scale * (hi - out.zero_point)


def _trained_mask(layer: Layer, channels: Sequence[int], weight: torch.Tensor) -> torch.Tensor:
    """1 on the weights of ``channels`` (input channels; a depthwise filter's own channel)."""
    mask = torch.zeros_like(weight)
    index = list(channels)
    if layer.kind == "dw_conv2d":
        mask[index] = 1.0
    else:
        mask[:, index] = 1.0
    return mask


def _avgpool(x: torch.Tensor, geom) -> torch.Tensor:
    """Average over the valid elements of each window (TFLite's padding never counts)."""
    pads = (geom.pad_left, geom.pad_right, geom.pad_top, geom.pad_bottom)
    kernel, stride = (geom.kernel_h, geom.kernel_w), (geom.stride_h, geom.stride_w)
    if not any(pads):
        return F.avg_pool2d(x, kernel, stride)
    ones = torch.ones_like(x[:1, :1])
    return F.avg_pool2d(F.pad(x, pads), kernel, stride) / F.avg_pool2d(F.pad(ones, pads), kernel, stride)


class FloatNet:
    """The graph's layers as float32 torch ops; parameters the scheme trains require grad."""

    def __init__(self, graph: Graph, scheme: Scheme) -> None:
        self.graph = graph
        self.weight: dict[int, torch.Tensor] = {}
        self.bias: dict[int, torch.Tensor] = {}
        self.body: list[torch.Tensor] = []  #: trained parameters at the body's rate
        self.head: list[torch.Tensor] = []  #: the classifier's, at the head's rate
        for layer in graph.layers:
            if layer.has_params:
                self._add_params(layer, scheme)
        #: the first layer with a trained parameter (layer indices are positions): all before is frozen
        self.cut = min(i for i in self.weight if self.weight[i].requires_grad or self.bias[i].requires_grad)

    def _add_params(self, layer: Layer, scheme: Scheme) -> None:
        w, b = _real_weight(layer), _real_bias(self.graph, layer)
        if layer.is_classifier:
            w.requires_grad_(True)
            b.requires_grad_(True)
            self.head += [w, b]
        else:
            channels = scheme.weight_channels(layer.conv_index)
            if channels:
                w.requires_grad_(True)
                mask = _trained_mask(layer, channels, w)
                w.register_hook(lambda g, m=mask: g * m)  # the frozen channels get no step
                self.body.append(w)
            if scheme.trains_bias(layer.conv_index):
                b.requires_grad_(True)
                self.body.append(b)
        self.weight[layer.index], self.bias[layer.index] = w, b

    def real_input(self, images: np.ndarray) -> torch.Tensor:
        """int8 NHWC images -> the real NCHW input."""
        a = self.graph.tensors[self.graph.input]
        x = torch.from_numpy(np.asarray(images, np.int8).astype(np.float32))
        return (a.scale * (x - a.zero_point)).permute(0, 3, 1, 2).contiguous()

    def _layer(self, layer: Layer, t: dict[int, torch.Tensor]) -> torch.Tensor:
        x = t[layer.inputs[0]]
        g = layer.step.geom if layer.step is not None else None
        if layer.kind in ("conv2d", "pw_conv2d", "dw_conv2d"):
            x = F.pad(x, (g.pad_left, g.pad_right, g.pad_top, g.pad_bottom))
            groups = g.in_c if layer.kind == "dw_conv2d" else 1
            y = F.conv2d(x, self.weight[layer.index], self.bias[layer.index], (g.stride_h, g.stride_w), groups=groups)
        elif layer.kind == "fc":
            flat = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.dim() == 4 else x  # NHWC order
            y = F.linear(flat, self.weight[layer.index], self.bias[layer.index])
        elif layer.kind == "add":
            y = x + t[layer.inputs[1]]
        elif layer.kind == "avgpool":
            y = _avgpool(x, g)
        elif layer.kind == "mean":
            y = x.mean(dim=(2, 3), keepdim=len(self.graph.tensors[layer.output].shape) == 3)
        elif layer.kind == "pad":
            top, left, bottom, right = layer.step.pad
            y = F.pad(x, (left, right, top, bottom))
        elif layer.kind == "reshape":
            y = x.permute(0, 2, 3, 1) if x.dim() == 4 else x
            y = y.reshape(x.shape[0], *self.graph.tensors[layer.output].shape)
            y = y.permute(0, 3, 1, 2) if y.dim() == 4 else y
        else:
            raise NotImplementedError(f"{layer.name}: no float op for a {layer.kind} layer")
        bounds = _real_range(self.graph, layer)
        return y if bounds is None else y.clamp(*bounds)

    def run(self, tensors: dict[int, torch.Tensor], start: int = 0, stop: int | None = None) -> dict[int, torch.Tensor]:
        """Layers ``start`` .. ``stop - 1`` on ``tensors`` (every tensor they read); returns
        every tensor, those computed added."""
        t = dict(tensors)
        for layer in self.graph.layers[start:stop]:
            t[layer.output] = self._layer(layer, t)
        return t

    def frontier(self) -> list[int]:
        """The tensors the trained part reads from the frozen prefix (or the input)."""
        made_before = {self.graph.input} | {layer.output for layer in self.graph.layers[: self.cut]}
        later = self.graph.layers[self.cut:]
        return sorted({t for layer in later for t in layer.inputs if t in made_before})

    def logits(self, tensors: dict[int, torch.Tensor], start: int = 0) -> torch.Tensor:
        return self.run(tensors, start)[self.graph.logits].reshape(-1, self.graph.n_classes)


# -- cached prefix ------------------------------------------------------------------------------------


@dataclass
class Prefix:
    """The frozen prefix's outputs for a set of images: what the trained part starts from."""

    net: FloatNet
    images: np.ndarray  #: int8 NHWC
    cached: dict[int, torch.Tensor] | None  #: frontier tensor -> [N, ...]; None: start from the input

    @property
    def start(self) -> int:
        return self.net.cut if self.cached is not None else 0

    def tensors(self, index: slice | list[int]) -> dict[int, torch.Tensor]:
        if self.cached is None:
            return {self.net.graph.input: self.net.real_input(self.images[index])}
        return {t: v[index] for t, v in self.cached.items()}


def prefix(net: FloatNet, images: np.ndarray) -> Prefix:
    """Run the frozen prefix once over ``images`` (see :class:`Prefix`)."""
    frontier = net.frontier()
    if net.cut == 0 or frontier == [net.graph.input]:
        return Prefix(net, images, None)
    per_image = sum(net.graph.tensors[t].numel for t in frontier) * 4
    if per_image * len(images) > CACHE_LIMIT_BYTES:
        return Prefix(net, images, None)
    parts: dict[int, list[torch.Tensor]] = {t: [] for t in frontier}
    with torch.no_grad():
        for at in range(0, len(images), BATCH):
            t = net.run({net.graph.input: net.real_input(images[at:at + BATCH])}, 0, net.cut)
            for k in frontier:
                parts[k].append(t[k])
    return Prefix(net, images, {k: torch.cat(v) for k, v in parts.items()})


# -- training and evaluation ---------------------------------------------------------------------------


def evaluate(p: Prefix, labels: np.ndarray) -> tuple[float, float]:
    """``(accuracy, mean loss)`` of the current parameters on the prefix's images."""
    hits, loss = 0, 0.0
    y = torch.from_numpy(np.asarray(labels, np.int64))
    with torch.no_grad():
        for at in range(0, len(labels), BATCH):
            z = p.net.logits(p.tensors(slice(at, at + BATCH)), p.start)
            hits += int((z.argmax(dim=1) == y[at:at + BATCH]).sum())
            loss += float(F.cross_entropy(z, y[at:at + BATCH], reduction="sum"))
    return hits / len(labels), loss / len(labels)


def train(graph: Graph, scheme: Scheme, train_set: tuple[np.ndarray, np.ndarray],
          eval_sets: dict[str, tuple[np.ndarray, np.ndarray]], orders: Sequence[Sequence[int]],
          params: TrainParams) -> dict:
    """Train ``graph``'s float twin on ``train_set`` (int8 images, labels), epoch ``e`` in the
    order ``orders[e]``, evaluating every set of ``eval_sets`` before training and after each
    epoch. Returns ``{"curve": [...], "steps": n, "wall_s": {...}}``; a curve point holds
    ``epoch``, ``step``, ``<set>_accuracy`` and ``<set>_loss`` (and the epoch's
    ``train_loss`` / ``train_accuracy``), as ``bench/accuracy.py`` records the int8 run."""
    t0 = time.perf_counter()
    net = FloatNet(graph, scheme)
    prepared = {name: (prefix(net, images), labels) for name, (images, labels) in eval_sets.items()}
    train_prefix = prefix(net, train_set[0])
    rates_of = [(ps, lr) for ps, lr in ((net.body, params.lr), (net.head, params.head_rate)) if ps]
    opt = torch.optim.SGD([{"params": ps, "lr": lr} for ps, lr in rates_of], lr=params.lr, momentum=0.0)
    bases = [lr for _, lr in rates_of]
    schedule = LrSchedule.for_steps(sum(len(o) for o in orders))
    labels = torch.from_numpy(np.asarray(train_set[1], np.int64))
    wall = {"setup": time.perf_counter() - t0, "train": 0.0, "eval": 0.0}

    def measure(point: dict) -> dict:
        t1 = time.perf_counter()
        for name, (p, y) in prepared.items():
            point[f"{name}_accuracy"], point[f"{name}_loss"] = evaluate(p, y)
        wall["eval"] += time.perf_counter() - t1
        return point

    curve = [measure({"epoch": 0, "step": 0})]
    step = 0
    for epoch, order in enumerate(orders, 1):
        t1 = time.perf_counter()
        loss_sum, hits = 0.0, 0
        for i in (int(i) for i in order):
            scale = schedule.scale_q16(step) / SCALE_ONE  # the device's Q16 scale, exactly
            for group, base in zip(opt.param_groups, bases):
                group["lr"] = base * scale
            z = net.logits(train_prefix.tensors([i]), train_prefix.start)
            loss = F.cross_entropy(z, labels[[i]])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            hits += int(z.argmax(dim=1)[0] == labels[i])
            step += 1
        wall["train"] += time.perf_counter() - t1
        n = max(len(order), 1)
        curve.append(measure({"epoch": epoch, "step": step, "train_loss": loss_sum / n, "train_accuracy": hits / n}))
    wall["total"] = time.perf_counter() - t0
    return {"curve": curve, "steps": step, "wall_s": wall}


def _dequantized(graph: Graph, tensor: int, values: np.ndarray) -> torch.Tensor:
    """An int8 activation as the float net holds it (real values, NCHW or ``(1, C)``)."""
    a = graph.tensors[tensor]
    real = torch.from_numpy(a.scale * (np.asarray(values, np.float32).reshape(a.shape) - a.zero_point))
    return real.permute(2, 0, 1)[None] if real.dim() == 3 else real[None]


def _layer_errors(net: FloatNet, int8: dict[int, np.ndarray]) -> float:
    """The largest difference, in output quantization steps, between a float layer fed the
    int8 forward's (dequantized) inputs and that layer's int8 output: rounding alone gives 0.5."""
    graph = net.graph
    t = {k: _dequantized(graph, k, v) for k, v in int8.items()}
    worst = 0.0
    with torch.no_grad():
        for layer in graph.layers:
            y = net._layer(layer, t).reshape(t[layer.output].shape)
            worst = max(worst, float((y - t[layer.output]).abs().max()) / graph.tensors[layer.output].scale)
    return worst


def compare_forward(graph: Graph, images: np.ndarray) -> dict:
    """How close the float forward is to the int8 one (``forward_int8``: the reference kernels,
    bit-exact with the device) on ``images``: each layer on the int8 inputs, and end to end
    (argmax agreement, the real logits' differences)."""
    from tt_host.compiler.auto import forward_int8

    net = FloatNet(graph, Scheme("forward"))
    int8 = [forward_int8(graph, image) for image in images]
    with torch.no_grad():
        z = net.logits({graph.input: net.real_input(images)}).numpy().astype(np.float64)
    out = graph.tensors[graph.logits]
    zq = out.scale * (np.stack([t[graph.logits].reshape(-1) for t in int8]).astype(np.float64) - out.zero_point)
    diff = np.abs(z - zq)
    return {"images": len(images), "max_layer_error_steps": max(_layer_errors(net, t) for t in int8),
            "argmax_agree": int(np.sum(z.argmax(1) == zq.argmax(1))),
            "max_abs_logit_diff": float(diff.max()), "mean_abs_logit_diff": float(diff.mean()),
            "logit_scale": float(out.scale), "int8_logit_span": float(zq.max() - zq.min())}
