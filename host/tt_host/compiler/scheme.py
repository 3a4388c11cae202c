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
  Fisher-based selection writes);
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the name, bias convs and weight channels per conv."""
        return {
            "name": self.name,
            "bias": sorted(self.bias),
            "weights": {str(k): list(v) for k, v in sorted(self.weights.items())},
        }


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
        return Scheme(name, frozenset(range(len(convs))),
                      {c.conv_index: tuple(range(c.weight_in_channels)) for c in convs})
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
