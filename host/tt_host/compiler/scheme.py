"""Sparse-update schemes: which biases, which weights and which input channels train.

A :class:`Scheme` is resolved against one graph: it names layers by their published scheme
index (convolutions counted from the input, depthwise included, classifier excluded) and
lists the input channels of every weight-trained layer explicitly. The classifier is always
trained, weights (every input channel) and bias.

Sources:

* the **published format** of the 256 KB paper (``n_bias_update``: biases of the last *n*
  convs; ``manual_weight_idx`` with ``weight_update_ratio``: weights of those convs, a ratio of
  their input channels, 0 = none). A ratio *r* of *C* channels keeps the first
  ``round_half_up(r*C)`` channels (at least one when *r* > 0) unless the file also carries
  ``"weight_channels": {"<conv index>": [channel, ...]}``, an explicit selection (what a
  Fisher-based selection writes), and ``"bias_convs": [conv index, ...]`` trains exactly those
  biases instead of the last ``n_bias_update`` (a selection need not be a suffix);
* the **presets** ``last-layer`` (classifier only), ``bias-only`` (every bias + classifier),
  ``full`` (everything).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tt_host.compiler.errors import SchemeError
from tt_host.compiler.ir import Graph

PRESETS = ("last-layer", "bias-only", "full")
RATIOS = (0, 0.125, 0.25, 0.5, 1)


@dataclass(frozen=True)
class Scheme:
    """A resolved sparse-update scheme (conv indices in the published numbering)."""

    name: str
    bias: frozenset[int] = frozenset()  #: convs whose int32 bias trains
    #: conv index -> sorted input channels whose int8 weights train (never empty)
    weights: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    #: how the scheme was chosen (``auto``: method, budgets, scores), for the report
    info: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def trains_bias(self, conv_index: int) -> bool:
        return conv_index in self.bias

    def weight_channels(self, conv_index: int) -> tuple[int, ...]:
        return self.weights.get(conv_index, ())

    @property
    def trained_convs(self) -> list[int]:
        return sorted(self.bias | set(self.weights))

    def trainable_params(self, graph: Graph) -> int:
        """Trained int8 weights + int32 biases, classifier included."""
        total = 0
        for i in self.bias:
            total += graph.conv(i).out_channels
        for i, channels in self.weights.items():
            total += graph.conv(i).weight_count(len(channels))
        head = graph.classifier
        return total + head.weight_count() + head.out_channels

    @property
    def key(self) -> tuple:
        """Hashable identity of what trains (not the name)."""
        return (tuple(sorted(self.bias)), tuple(sorted((k, tuple(v)) for k, v in self.weights.items())))

    def with_bias(self, conv_index: int) -> Scheme:
        return Scheme(self.name, self.bias | {conv_index}, self.weights, self.info)

    def with_weights(self, conv_index: int, channels) -> Scheme:
        return Scheme(self.name, self.bias, {**self.weights, conv_index: tuple(sorted(channels))}, self.info)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the name, bias convs and weight channels per conv (plus ``selection``
        when the scheme was chosen automatically)."""
        out = {
            "name": self.name,
            "bias": sorted(self.bias),
            "weights": {str(k): list(v) for k, v in sorted(self.weights.items())},
        }
        if self.info:
            out["selection"] = dict(self.info)
        return out

    def to_published(self, graph: Graph) -> dict[str, Any]:
        """The scheme in the published JSON format, loadable with ``--scheme FILE``: the bias
        set as ``n_bias_update`` when it is a suffix of the convs, else ``bias_convs``; the
        weight channels as ratios plus the explicit ``weight_channels``."""
        n = len(graph.convs())
        bias = sorted(self.bias)
        out: dict[str, Any] = {"model": graph.name, "name": self.name}
        if bias == list(range(n - len(bias), n)):
            out["n_bias_update"] = len(bias)
        else:
            out["n_bias_update"] = 0
            out["bias_convs"] = bias
        idx = sorted(self.weights)
        out["manual_weight_idx"] = idx
        out["weight_update_ratio"] = [len(self.weights[i]) / graph.conv(i).weight_in_channels for i in idx]
        out["weight_channels"] = {str(i): list(self.weights[i]) for i in idx}
        return out


def frozen_weights(layer, where: str = "") -> SchemeError:
    """The refusal of a scheme that trains an expanded convolution's weights (``Layer.expanded``)."""
    return SchemeError(f"{where}conv {layer.conv_index} ({layer.name}) runs as an expanded convolution "
                       f"({layer.expanded}) whose added zeros must stay zero: its weights cannot train (its bias can)")


def _first(ratio: float, n: int) -> tuple[int, ...]:
    if not 0 <= ratio <= 1:
        raise SchemeError(f"weight_update_ratio {ratio} is outside [0, 1]")
    if ratio == 0:
        return ()
    k = max(1, min(n, math.floor(ratio * n + 0.5)))
    return tuple(range(k))


def preset(name: str, graph: Graph) -> Scheme:
    """One of :data:`PRESETS`."""
    convs = graph.convs()
    if name == "last-layer":
        return Scheme(name)
    if name == "bias-only":
        return Scheme(name, frozenset(range(len(convs))))
    if name == "full":
        return Scheme(name, frozenset(range(len(convs))),  # every weight but an expansion's (Layer.expanded)
                      {c.conv_index: tuple(range(c.weight_in_channels)) for c in convs if not c.expanded})
    raise SchemeError(f"unknown preset {name!r}; presets are {', '.join(PRESETS)}")


def from_published(data: Mapping[str, Any], graph: Graph) -> Scheme:
    """Resolve a scheme in the published JSON format against ``graph``."""
    n_convs = len(graph.convs())
    try:
        n_bias = int(data.get("n_bias_update", 0))
        idx = [int(i) for i in data.get("manual_weight_idx", [])]
        ratios = [float(r) for r in data.get("weight_update_ratio", [])]
    except (TypeError, ValueError) as exc:
        raise SchemeError(f"malformed scheme: {exc}") from exc
    if not 0 <= n_bias <= n_convs:
        raise SchemeError(f"n_bias_update {n_bias} is outside 0..{n_convs} ({graph.name} has {n_convs} convolutions)")
    if len(idx) != len(ratios):
        raise SchemeError(f"manual_weight_idx has {len(idx)} entries but weight_update_ratio {len(ratios)}")
    if len(set(idx)) != len(idx):
        raise SchemeError(f"manual_weight_idx lists a convolution twice: {idx}")
    explicit = {int(k): v for k, v in dict(data.get("weight_channels", {})).items()}
    weights: dict[int, tuple[int, ...]] = {}
    for i, r in zip(idx, ratios):
        layer = graph.conv(i) if 0 <= i < n_convs else None
        if layer is None:
            raise SchemeError(f"manual_weight_idx {i} is outside 0..{n_convs - 1} ({graph.name})")
        if layer.expanded and r > 0:
            raise frozen_weights(layer, f"manual_weight_idx {i}: ")
        n = layer.weight_in_channels
        if i in explicit:
            channels = tuple(sorted({int(c) for c in explicit.pop(i)}))
            if any(not 0 <= c < n for c in channels):
                raise SchemeError(f"weight_channels of conv {i}: channels must be in 0..{n - 1}")
        else:
            channels = _first(r, n)
        if channels:
            weights[i] = channels
    if explicit:
        raise SchemeError(f"weight_channels names convs not in manual_weight_idx: {sorted(explicit)}")
    bias = frozenset(range(n_convs - n_bias, n_convs))
    if "bias_convs" in data:
        try:
            listed = {int(i) for i in data["bias_convs"]}
        except (TypeError, ValueError) as exc:
            raise SchemeError(f"malformed bias_convs: {exc}") from exc
        if any(not 0 <= i < n_convs for i in listed):
            raise SchemeError(f"bias_convs must be conv indices in 0..{n_convs - 1} ({graph.name})")
        bias |= listed
    return Scheme(str(data.get("name", "custom")), bias, weights)


def load_scheme(source: str | Path | Mapping[str, Any], graph: Graph) -> Scheme:
    """A preset name, a path to a published-format JSON file, or its parsed contents."""
    if isinstance(source, Mapping):
        return from_published(source, graph)
    if isinstance(source, str) and source in PRESETS:
        return preset(source, graph)
    path = Path(source)
    if not path.is_file():
        raise SchemeError(f"scheme {source!r} is neither a preset ({', '.join(PRESETS)}) nor a file")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemeError(f"cannot read scheme {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SchemeError(f"scheme {path} must hold a JSON object")
    if data.get("model") not in (None, graph.name):
        raise SchemeError(f"scheme {path.name} is for model {data['model']!r}, not {graph.name!r}")
    scheme = from_published(data, graph)
    return scheme if "name" in data else Scheme(path.stem, scheme.bias, scheme.weights)
