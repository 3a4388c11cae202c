"""Sparse-update schemes: the published format, presets, explicit channels, errors."""

from __future__ import annotations

import json

import pytest
from tt_host.compiler import SchemeError, load_scheme
from tt_host.compiler.scheme import PRESETS

from .conftest import MODEL_NAMES, SCHEME_100KB


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_published_schemes_resolve(shared_dir, shared_graphs, name):
    g = shared_graphs[name]
    for path in sorted((shared_dir / "schemes").glob(f"{name}-*.json")):
        data = json.loads(path.read_text())
        s = load_scheme(path, g)
        n = len(g.convs())
        assert s.bias == frozenset(range(n - data["n_bias_update"], n))
        for idx, ratio in zip(data["manual_weight_idx"], data["weight_update_ratio"]):
            c = g.conv(idx).weight_in_channels
            expected = 0 if ratio == 0 else max(1, int(ratio * c + 0.5))
            assert len(s.weight_channels(idx)) == expected
            assert s.weight_channels(idx) == tuple(range(expected))  # the first round(r*C)


def test_mcunet_99kb_matches_reference(shared_dir, shared_graphs):
    """REFERENCE.md: 99kb trains biases of the last 22 convs and weights 21, 24, 27, 30 x1,
    36 x1/8, 39 x1/4."""
    g = shared_graphs["mcunet-5fps"]
    s = load_scheme(shared_dir / "schemes" / f"{SCHEME_100KB['mcunet-5fps']}.json", g)
    assert len(s.bias) == 22 and max(s.bias) == len(g.convs()) - 1
    assert sorted(s.weights) == [21, 24, 27, 30, 36, 39]
    assert len(s.weights[36]) == g.conv(36).weight_in_channels // 8


def test_presets(tiny_graph):
    g = tiny_graph
    last, bias, full = (load_scheme(p, g) for p in ("last-layer", "bias-only", "full"))
    head = g.classifier.weight_count() + g.classifier.out_channels
    assert last.trainable_params(g) == head and not last.bias and not last.weights
    assert bias.bias == frozenset(range(4)) and not bias.weights
    assert full.trainable_params(g) == sum(layer.weight_count() + layer.out_channels for layer in g.layers if layer.has_params)
    assert set(PRESETS) == {"last-layer", "bias-only", "full"}


def test_explicit_channels_and_errors(tiny_graph):
    g = tiny_graph
    s = load_scheme({"n_bias_update": 1, "manual_weight_idx": [1, 3], "weight_update_ratio": [0.5, 0.25],
                     "weight_channels": {"3": [5, 1, 5]}}, g)
    assert s.weights == {1: (0, 1, 2, 3), 3: (1, 5)}
    assert s.bias == frozenset({3})
    bad = [
        ({"n_bias_update": 9}, "n_bias_update"),
        ({"manual_weight_idx": [7], "weight_update_ratio": [1]}, "outside"),
        ({"manual_weight_idx": [1], "weight_update_ratio": [1, 1]}, "entries"),
        ({"manual_weight_idx": [1], "weight_update_ratio": [2]}, r"\[0, 1\]"),
        ({"manual_weight_idx": [1], "weight_update_ratio": [1], "weight_channels": {"1": [8]}}, r"0\.\.7"),
        ({"manual_weight_idx": [1], "weight_update_ratio": [1], "weight_channels": {"2": [0]}}, "not in manual"),
        ({"manual_weight_idx": [1, 1], "weight_update_ratio": [1, 1]}, "twice"),
    ]
    for data, match in bad:
        with pytest.raises(SchemeError, match=match):
            load_scheme(data, g)
    with pytest.raises(SchemeError, match="neither a preset"):
        load_scheme("no-such-scheme", g)


def test_scheme_for_another_model_is_refused(shared_dir, shared_graphs):
    with pytest.raises(SchemeError, match="is for model"):
        load_scheme(shared_dir / "schemes" / "mbv2-w0.35-99kb.json", shared_graphs["mcunet-5fps"])


def test_ratio_zero_trains_no_weights(tiny_graph):
    s = load_scheme({"manual_weight_idx": [1], "weight_update_ratio": [0]}, tiny_graph)
    assert not s.weights
