"""``--scheme auto``: choose what trains under an SRAM budget (and optionally a MACs budget).

Two rankings feed one greedy selection:

* **Fisher** (TinyTrain, Kwon et al. 2024), when samples of the new task are given: one
  forward of each sample with the int8 reference kernels and one float backward
  (:mod:`tt_host.reference.backward`: dequantized weights, clamps as 0/1 masks, softmax
  cross-entropy on the dequantized logits) give, for every activation tensor and channel
  *o*, the Fisher term ``F_o = 1/(2N) sum_n (sum_d a_nd g_nd)^2`` (``a``: the real activation,
  ``g``: the loss gradient with respect to it, ``d`` over positions). A layer's Fisher
  potential ``P_i`` sums the terms of its output channels and its score is
  ``s_i = P_i / ((params_i / max params) * (MACs_i / max MACs))``. Layers are tried in
  decreasing score; a layer's weights are sliced by *input* channel (the scheme format), so
  its channels are ranked by the Fisher terms of its input tensor, i.e. of the channels the
  slice multiplies. Biases are ranked by the Fisher information of the bias itself,
  ``1/(2N) sum_n (sum_d g'_nd)^2`` summed over output channels (``g'``: behind the clamp
  mask), per bias. A zero-initialised head passes no gradient back, so the Fisher pass uses
  a head imprinted from the same samples (the compiled plan keeps the head it was given).
* **Contribution** (no samples; the 256 KB paper's finding): the first pointwise
  convolutions of inverted bottlenecks from the last block backwards, then the other
  pointwise convolutions, then depthwise ones, then the rest, each on its first channels (the
  published ratio format); biases from the last convolution backwards.

**Selection** starts from the classifier alone (always trained). A trial pass walks the
weight layers in rank order, giving each the largest of all, 1/2, 1/4 or 1/8 of its ranked
channels that still fits; the earliest layer it trains tells how far back the gradient flows.
The selection proper then takes the biases of the layers on that path first (4 bytes a
channel, nothing else to keep), then the weight layers as in the trial, then the remaining
biases in rank order, each if it fits. A few variants of this run (see :func:`_variants`)
and the best one is kept: the one training the most parameters (with the Fisher ranking,
which orders the layers and channels each variant tries, ties go to the most Fisher
potential captured). "Fits" is the planner's own answer: each
candidate is scheduled and placed exactly as :func:`~tt_host.compiler.compile_model` would
and its ``peak_sram_bytes`` compared with the budget. Exact shortcuts keep this fast: a
candidate whose most bytes live at one op (a lower bound on any placement) exceed the budget
is refused without placing, one whose buffers all fit side by side (an upper bound on the
planner's result) is accepted without placing, and every result is cached by what trains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from tt_host.compiler.errors import CompileError, PlanBudgetExceeded, StoreBudgetExceeded
from tt_host.compiler.ir import Graph, Layer
from tt_host.compiler.memory import (
    align,
    arena_layout,
    exponent_table_bytes,
    intervals_of,
    max_live,
    plan_schedule,
)
from tt_host.compiler.report import FirmwareFootprint, commit_bytes
from tt_host.compiler.schedule import PlanOptions, build_schedule
from tt_host.compiler.scheme import Scheme
from tt_host.errors import BudgetExceeded

#: Fractions of a layer's ranked input channels tried, largest first (the published ratios).
RATIOS = (1, 0.5, 0.25, 0.125)


# -- Fisher information --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fisher:
    """Per-channel Fisher terms of one batch of samples."""

    activation: dict[int, np.ndarray]  #: tensor index -> ``F_o`` per channel
    bias: dict[int, np.ndarray]  #: layer index -> bias Fisher per output channel
    n_samples: int


def _kernels():
    """The C library (bit-exact with the numpy reference, faster; planning needs it anyway)."""
    from tt_host import native

    native.load()
    return native


def forward_int8(graph: Graph, image: np.ndarray, kernels=None) -> dict[int, np.ndarray]:
    """Every activation of one sample (int8, shaped as the graph's tensors)."""
    from tt_host.reference.graph import run_step

    kernels = kernels or _kernels()
    tensors = {graph.input: np.asarray(image, np.int8).reshape(graph.tensors[graph.input].shape)}
    for layer in graph.layers:
        shape = graph.tensors[layer.output].shape
        if layer.kind == "reshape":
            y = tensors[layer.inputs[0]]
        else:
            y = run_step(layer.step, tensors, kernels)
        tensors[layer.output] = np.asarray(y, np.int8).reshape(shape)
    return tensors


def _real_weights(layer: Layer) -> np.ndarray:
    w = np.asarray(layer.weights, np.float32)
    s = np.asarray(layer.weight_scales, np.float32)
    if layer.kind == "dw_conv2d":
        return w * s.reshape(1, 1, 1, -1)
    return w * s.reshape((-1,) + (1,) * (w.ndim - 1))


def _clamp_range(layer: Layer) -> tuple[int, int]:
    q = layer.step.quant if layer.step is not None else None
    if q is not None and hasattr(q, "act_min"):
        return q.act_min, q.act_max
    return -128, 127


def _backward(graph: Graph, t: dict[int, np.ndarray], label: int, weights: dict[int, np.ndarray],
              act: dict[int, np.ndarray], bias: dict[int, np.ndarray]) -> None:
    """One float backward; adds each tensor's ``(sum_d a g)^2`` to ``act`` and each layer's
    ``(sum_d g')^2`` to ``bias``."""
    from tt_host.reference import backward as B
    from tt_host.reference.loss import softmax_xent_f32

    def real(tensor: int) -> np.ndarray:
        a = graph.tensors[tensor]
        return (a.scale * (t[tensor].astype(np.float32) - a.zero_point)).astype(np.float32)

    logits = real(graph.logits).ravel()
    _, g = softmax_xent_f32(logits, label)
    grads: dict[int, np.ndarray] = {graph.logits: g.astype(np.float32).reshape(graph.tensors[graph.logits].shape)}

    def give(tensor: int, g: np.ndarray) -> None:
        if tensor == graph.input:
            return
        g = g.reshape(graph.tensors[tensor].shape)
        grads[tensor] = grads[tensor] + g if tensor in grads else g

    for layer in reversed(graph.layers):
        dy = grads.pop(layer.output, None)
        if dy is None:
            continue
        a = real(layer.output)
        c = graph.tensors[layer.output].channels
        term = (a * dy).reshape(-1, c).sum(axis=0, dtype=np.float64) ** 2
        act[layer.output] = act.get(layer.output, 0) + term
        if layer.kind == "reshape":
            give(layer.inputs[0], dy)
            continue
        if layer.clamps:
            lo, hi = _clamp_range(layer)
            dy = dy * B.clamp_mask(t[layer.output], lo, hi).astype(np.float32)
        if layer.has_params:
            bias[layer.index] = bias.get(layer.index, 0) + dy.reshape(-1, c).sum(axis=0, dtype=np.float64) ** 2
        if all(x == graph.input for x in layer.inputs):
            continue  # nothing needs the image's gradient
        if layer.kind == "add":
            for x in layer.inputs:
                give(x, dy)
        elif layer.kind in ("avgpool", "mean"):
            geom = layer.step.geom
            give(layer.inputs[0], B.avgpool_bwd_input_f32(geom, dy.reshape(geom.out_shape)))
        elif layer.kind == "maxpool":
            geom = layer.step.geom
            give(layer.inputs[0], B.maxpool_bwd_input_f32(geom, t[layer.inputs[0]], dy.reshape(geom.out_shape)))
        elif layer.kind == "requantize":
            give(layer.inputs[0], dy)
        elif layer.kind == "pad":
            (t, l, _, _), (h, w, _) = layer.step.pad, graph.tensors[layer.inputs[0]].shape
            give(layer.inputs[0], dy[t:t + h, l:l + w])
        elif layer.kind == "leaky_relu":
            give(layer.inputs[0], B.leaky_relu_bwd_input_f32(layer.step.alpha, real(layer.inputs[0]), dy))
        elif layer.kind == "concat":
            geom = layer.step.quant
            for t, part in zip(layer.inputs, B.concat_bwd_f32(geom.outer, geom.inners, dy)):
                give(t, part)
        elif layer.kind == "hard_swish":
            give(layer.inputs[0], B.hard_swish_bwd_input_f32(real(layer.inputs[0]), dy))
        elif layer.kind == "logistic":
            give(layer.inputs[0], B.logistic_bwd_input_f32(real(layer.inputs[0]), dy))
        elif layer.kind == "mul":
            a, b = layer.inputs[0], layer.inputs[1] if len(layer.inputs) > 1 else None
            q = layer.step.quant
            b_real = real(b) if b is not None else np.float32(layer.step.constant_scale * (layer.step.constant - q.input2_zp))
            da, db = B.mul_bwd_f32(real(a), b_real, dy)
            give(a, da)
            if b is not None:
                give(b, db)
        elif layer.kind in ("conv2d", "pw_conv2d"):
            give(layer.inputs[0], B.conv2d_bwd_input_f32(layer.step.geom, weights[layer.index], dy))
        elif layer.kind == "dw_conv2d":
            give(layer.inputs[0], B.dw_conv2d_bwd_input_f32(layer.step.geom, weights[layer.index], dy))
        elif layer.kind == "fc":
            give(layer.inputs[0], B.fc_bwd_input_f32(weights[layer.index], dy.ravel()))
        else:
            raise CompileError(f"{layer.name}: no float backward for a {layer.kind} layer")


def fisher_information(graph: Graph, images: np.ndarray, labels: Sequence[int]) -> Fisher:
    """TinyTrain's Fisher terms of every activation channel and every bias over the samples
    (``images`` int8 ``[N, H, W, C]``, ``labels`` indices into the graph's classes)."""
    images = np.asarray(images, np.int8)
    labels = [int(v) for v in labels]
    if len(images) == 0 or len(images) != len(labels):
        raise CompileError(f"the Fisher criterion needs samples with labels ({len(images)} images, {len(labels)} labels)")
    if any(not 0 <= v < graph.n_classes for v in labels):
        raise CompileError(f"sample labels must be class indices 0..{graph.n_classes - 1}")
    weights = {layer.index: _real_weights(layer) for layer in graph.layers if layer.has_params}
    kernels = _kernels()
    act: dict[int, np.ndarray] = {}
    bias: dict[int, np.ndarray] = {}
    for image, label in zip(images, labels):
        _backward(graph, forward_int8(graph, image, kernels), label, weights, act, bias)
    n = len(images)
    return Fisher({k: v / (2 * n) for k, v in act.items()}, {k: v / (2 * n) for k, v in bias.items()}, n)


# -- rankings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """What to try, best first."""

    method: str  #: "fisher" or "contribution"
    weight_layers: tuple[int, ...]  #: conv indices
    channels: dict[int, tuple[int, ...]]  #: conv index -> input channels, best first
    bias_layers: tuple[int, ...]  #: conv indices
    scores: dict[int, float] = field(default_factory=dict)  #: conv index -> layer score (Fisher)
    #: conv index -> share of the layer's input-channel Fisher terms per channel (sums to 1)
    shares: dict[int, np.ndarray] = field(default_factory=dict)
    note: str = ""
    #: conv index -> Fisher potential P_i of the layer (Fisher)
    potentials: dict[int, float] = field(default_factory=dict)

    def value(self, scheme: Scheme) -> float:
        """The layer scores a scheme's weight slices capture (each layer's score times the
        share of its input channels' Fisher terms the slice holds)."""
        total = 0.0
        for conv, channels in scheme.weights.items():
            if conv in self.scores:
                total += self.scores[conv] * float(np.sum(self.shares[conv][list(channels)]))
        return total

    def captured(self, scheme: Scheme) -> float:
        """The Fisher potential a scheme's weight slices capture (each layer's potential times
        the share of its input channels' Fisher terms the slice holds): the information the
        update can use, whatever each layer costs."""
        total = 0.0
        for conv, channels in scheme.weights.items():
            if conv in self.potentials:
                total += self.potentials[conv] * float(np.sum(self.shares[conv][list(channels)]))
        return total

    def from_depth(self, graph: Graph, first_conv: int) -> Ranking:
        """The same ranking restricted to weight layers from conv ``first_conv`` on."""
        layers = tuple(i for i in self.weight_layers if i >= first_conv)
        return replace(self, weight_layers=layers)




def _first_pointwise(graph: Graph, layer: Layer) -> bool:
    """A pointwise convolution that expands into a depthwise one (a block's pw1)."""
    users = graph.consumers(layer.output)
    return layer.kind == "pw_conv2d" and len(users) == 1 and users[0].kind == "dw_conv2d"


def contribution_ranking(graph: Graph, note: str = "") -> Ranking:
    """Without samples: later blocks' first pointwise convs first, then the other pointwise,
    depthwise and general convs, each group from the output backwards; biases from the last
    conv backwards; channels in index order (what the published ratios mean)."""
    convs = graph.convs()

    def group(layer: Layer) -> int:
        if _first_pointwise(graph, layer):
            return 0
        return {"pw_conv2d": 1, "dw_conv2d": 2}.get(layer.kind, 3)

    order = sorted(convs, key=lambda c: (group(c), -c.conv_index))
    return Ranking("contribution", tuple(c.conv_index for c in order),
                   {c.conv_index: tuple(range(c.weight_in_channels)) for c in convs},
                   tuple(c.conv_index for c in reversed(convs)), note=note)


def training_macs(graph: Graph, options: PlanOptions | None = None) -> dict[int, int]:
    """Conv index -> backward MACs of a step that trains that layer's weights (every channel)
    with the classifier: its weight gradient plus the input gradients from the loss down to it,
    read from the schedule (what the MACs budget counts)."""
    options = options or PlanOptions()
    base = build_schedule(graph, Scheme("probe"), options).macs("backward")
    out = {}
    for c in graph.convs():
        if c.expanded:  # cannot train (Layer.expanded): nothing to cost
            out[c.conv_index] = 1
            continue
        s = Scheme("probe").with_weights(c.conv_index, range(c.weight_in_channels))
        out[c.conv_index] = max(build_schedule(graph, s, options).macs("backward") - base, 1)
    return out


def fisher_ranking(graph: Graph, fisher: Fisher, options: PlanOptions | None = None) -> Ranking:
    """TinyTrain's layer scores and channel order (see the module docstring)."""
    convs = graph.convs()
    potential = {c.conv_index: float(np.sum(fisher.activation.get(c.output, 0.0))) for c in convs}
    if not any(p > 0 for p in potential.values()):
        return contribution_ranking(graph, "the samples' Fisher information is zero everywhere")
    params = {c.conv_index: c.weight_count() + c.out_channels for c in convs}
    macs = training_macs(graph, options)
    max_p, max_m = max(params.values()), max(macs.values())
    score = {i: potential[i] / ((params[i] / max_p) * (macs[i] / max_m)) for i in potential}
    weight_layers = tuple(sorted(score, key=lambda i: (-score[i], -i)))
    channels = {}
    shares = {}
    for c in convs:
        terms = fisher.activation.get(c.inputs[0])
        n = c.weight_in_channels
        if terms is None or len(terms) != n or not np.sum(terms) > 0:
            channels[c.conv_index] = tuple(range(n))
            shares[c.conv_index] = np.full(n, 1 / n)
        else:
            channels[c.conv_index] = tuple(int(k) for k in sorted(range(n), key=lambda k: (-terms[k], k)))
            shares[c.conv_index] = np.asarray(terms, np.float64) / float(np.sum(terms))
    max_c = max(c.out_channels for c in convs)
    bias_score = {c.conv_index: float(np.sum(fisher.bias.get(c.index, 0.0))) / (c.out_channels / max_c) for c in convs}
    bias_layers = tuple(sorted(bias_score, key=lambda i: (-bias_score[i], -i)))
    return Ranking("fisher", weight_layers, channels, bias_layers, score, shares, potentials=potential)


# -- selection ------------------------------------------------------------------------------------


class Evaluator:
    """The planner's peak (and backward MACs) of candidate schemes, cached by what trains."""

    def __init__(self, graph: Graph, options: PlanOptions, firmware: FirmwareFootprint, budget: int,
                 macs_budget: int | None = None, store_budget: int | None = None) -> None:
        self.graph = graph
        self.options = options
        self.firmware = firmware
        self.budget = budget
        self.macs_budget = macs_budget
        self.store_budget = store_budget
        self.cache: dict[tuple, tuple[bool, int | None, int]] = {}
        self.scheduled = 0  #: candidates scheduled
        self.placed = 0  #: candidates placed (the lower bound did not refuse them)

    def evaluate(self, scheme: Scheme) -> tuple[bool, int | None, int]:
        """``(fits, peak_sram_bytes or None when a bound decided without placing, backward MACs)``."""
        key = scheme.key
        if key not in self.cache:
            self.scheduled += 1
            sched = build_schedule(self.graph, scheme, self.options)
            macs = sched.macs("backward")
            fw = self.firmware.sram
            ivs, pairs = intervals_of(sched)
            extra = exponent_table_bytes(ivs) + fw
            over_store = self.store_budget is not None and commit_bytes(sched) > self.store_budget
            over_macs = self.macs_budget is not None and macs > self.macs_budget
            if align(max_live(ivs, pairs)) + extra > self.budget or over_macs or over_store:
                self.cache[key] = (False, None, macs)
            elif sum(align(iv.size) for iv in ivs) + extra <= self.budget:
                # No placement ends above the sum of every buffer: it fits whatever the offsets.
                self.cache[key] = (True, None, macs)
            else:
                self.placed += 1
                peak = arena_layout(plan_schedule(sched)).arena_bytes + fw
                self.cache[key] = (peak <= self.budget, peak, macs)
        return self.cache[key]

    def fits(self, scheme: Scheme) -> bool:
        return self.evaluate(scheme)[0]

    def peak(self, scheme: Scheme) -> int:
        """The exact peak, placing the candidate even when the lower bound refuses it."""
        _, peak, _ = self.evaluate(scheme)
        if peak is None:
            sched = build_schedule(self.graph, scheme, self.options)
            peak = arena_layout(plan_schedule(sched)).arena_bytes + self.firmware.sram
        return peak


def _ratio_sizes(n: int) -> list[int]:
    sizes: list[int] = []
    for r in RATIOS:
        k = max(1, min(n, math.floor(r * n + 0.5)))
        if k not in sizes:
            sizes.append(k)
    return sizes


def _fill_weights(graph: Graph, ranking: Ranking, ev: Evaluator, current: Scheme) -> tuple[Scheme, list[dict]]:
    """Each weight layer in rank order gets the largest ratio of its ranked channels that fits."""
    chosen: list[dict] = []
    for conv in ranking.weight_layers:
        layer = graph.conv(conv)
        if conv in current.weights or layer.expanded:  # an expansion's weights cannot train
            continue
        order = ranking.channels[conv]
        sizes = _ratio_sizes(layer.weight_in_channels)
        if len(sizes) > 1 and not ev.fits(current.with_weights(conv, order[:sizes[-1]])):
            continue  # more channels never take less memory: the smallest slice decides
        for k in sizes:
            candidate = current.with_weights(conv, order[:k])
            if ev.fits(candidate):
                current = candidate
                chosen.append({"conv": conv, "layer": layer.name, "channels": k, "of": layer.weight_in_channels,
                               **({"score": ranking.scores[conv]} if conv in ranking.scores else {})})
                break
    return current, chosen


def _fill_biases(graph: Graph, ranking: Ranking, ev: Evaluator, current: Scheme, allowed) -> Scheme:
    """Each allowed bias in rank order, if it fits."""
    for conv in ranking.bias_layers:
        if conv not in current.bias and allowed(conv):
            candidate = current.with_bias(conv)
            if ev.fits(candidate):
                current = candidate
    return current


#: With the Fisher ranking, the selection is also run on the weight layers of the last
#: fractions of the network only, and the one training the most parameters wins (that is what
#: makes it memory-aware): the score weighs a layer's own size and MACs, not the gradient
#: tensors and masks a deep layer makes the whole backward keep, which can crowd everything
#: else out of the budget (an early depthwise layer with a high score and a few hundred
#: weights otherwise takes the budget of tens of thousands of late weights).
DEPTHS = (1.0, 0.5, 0.3, 0.15)


def _variants(graph: Graph, ranking: Ranking) -> list[tuple[int, bool]]:
    """``(first weight conv, biases on the gradient path first?)`` runs of the selection: with
    the Fisher ranking the depths of :data:`DEPTHS`; without, the two orders of biases and
    weights. The run training the most parameters wins (where the peak is in the forward,
    every byte of trainable state counts the same, and weights are 1 byte a parameter against
    a bias's 4); with the Fisher ranking, ties go to the one capturing the most Fisher
    potential (:meth:`Ranking.captured`)."""
    if ranking.method != "fisher":
        return [(0, True), (0, False)]
    n = len(graph.convs())
    return [(d, True) for d in sorted({n - max(1, round(f * n)) for f in DEPTHS})]


def select(graph: Graph, ranking: Ranking, budget: int, macs_budget: int | None = None,
           options: PlanOptions | None = None, firmware: FirmwareFootprint | None = None,
           name: str = "auto", store_budget: int | None = None) -> Scheme:
    """The greedy selection of the module docstring, every candidate within ``budget`` bytes of
    SRAM, ``macs_budget`` backward MACs and ``store_budget`` bytes of COMMIT record; raises a
    :class:`BudgetExceeded` when not even the classifier alone fits (naming the smallest
    feasible budget)."""
    from tt_host.compiler.report import firmware_footprint

    options = options or PlanOptions()
    firmware = firmware or firmware_footprint()
    ev = Evaluator(graph, options, firmware, budget, macs_budget, store_budget)
    current = Scheme(name)
    fits, _, macs = ev.evaluate(current)
    if not fits:
        if macs_budget is not None and macs > macs_budget:
            raise BudgetExceeded(f"{graph.name}: training the classifier alone takes {macs:,} backward MACs, over "
                                 f"the MACs budget of {macs_budget:,}; the smallest feasible MACs budget is {macs:,}")
        stored = commit_bytes(build_schedule(graph, current, options))
        if store_budget is not None and stored > store_budget:
            raise StoreBudgetExceeded(f"{graph.name}: the classifier alone is {stored:,} bytes of trained parameters, "
                                      f"over the {store_budget:,} bytes the device's parameter store holds")
        need = ev.peak(current)
        raise PlanBudgetExceeded(
            f"{graph.name}: no scheme fits {budget} bytes of SRAM: training the classifier alone needs {need} bytes "
            f"({need / 1024:.1f} KiB); the smallest feasible budget is {need} bytes (--budget {-(-need // 1024)}K)")
    base = current
    best: tuple | None = None
    for depth, biases_first in _variants(graph, ranking):
        r = ranking.from_depth(graph, depth)
        current = base
        if biases_first:
            # A first pass with weights alone finds how far back the gradient must flow; the
            # biases on that path cost 4 bytes a channel and keep nothing, so they go in first.
            trial, _ = _fill_weights(graph, r, ev, base)
            on_path = min((graph.conv(i).index for i in trial.weights), default=graph.classifier.index)
            current = _fill_biases(graph, r, ev, base, lambda c, first=on_path: graph.conv(c).index >= first)
        current, chosen = _fill_weights(graph, r, ev, current)
        current = _fill_biases(graph, r, ev, current, lambda c: True)
        params = current.trainable_params(graph)
        key = (params, ranking.captured(current)) if ranking.method == "fisher" else (params,)
        if best is None or key > best[0]:
            best = (key, depth, current, chosen)
    _, depth, current, chosen = best
    peak, macs = ev.peak(current), ev.evaluate(current)[2]
    info = {"method": ranking.method, "budget": budget, "peak_sram_bytes": peak, "macs_backward": macs,
            "weights": chosen, "first_weight_conv": depth, "value": ranking.value(current),
            "potential": ranking.captured(current), "candidates_scheduled": ev.scheduled, "candidates_placed": ev.placed}
    if macs_budget is not None:
        info["macs_budget"] = macs_budget
    if store_budget is not None:
        info["store_budget"] = store_budget
    if ranking.note:
        info["note"] = ranking.note
    return Scheme(name, current.bias, current.weights, info)


def auto_scheme(graph: Graph, budget: int, samples: tuple[np.ndarray, Sequence[int]] | None = None,
                macs_budget: int | None = None, options: PlanOptions | None = None,
                firmware: FirmwareFootprint | None = None, name: str = "auto",
                store_budget: int | None = None) -> Scheme:
    """Choose a scheme for ``graph`` under ``budget`` bytes of SRAM (``peak_sram_bytes``) and,
    optionally, ``macs_budget`` backward MACs and ``store_budget`` bytes of COMMIT record
    (:func:`tt_host.compiler.report.commit_bytes`): by the Fisher criterion on ``samples``
    (``(images int8 [N, H, W, C], labels)``), else by the contribution ranking."""
    if budget is None or budget <= 0:
        raise CompileError("--scheme auto needs an SRAM budget (--budget, e.g. 256K)")
    if samples is None:
        ranking = contribution_ranking(graph)
        n = 0
    else:
        images, labels = samples
        n = len(images)
        probe = graph
        if not np.any(graph.classifier.weights):
            from tt_host.compiler.head import imprint

            labels = np.asarray(labels)
            if all(np.any(labels == c) for c in range(graph.n_classes)):
                names = list(graph.labels) or [str(c) for c in range(graph.n_classes)]
                probe = imprint(graph, images, labels, names)
        ranking = fisher_ranking(probe, fisher_information(probe, images, labels), options)
    scheme = select(graph, ranking, budget, macs_budget, options, firmware, name, store_budget)
    return Scheme(scheme.name, scheme.bias, scheme.weights, {**scheme.info, "samples": n})
