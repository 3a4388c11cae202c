"""compiler.head.replace_head: the one preparation of a new classifier that ``tt-host compile``
and ``tt-host stream`` share."""

from __future__ import annotations

import numpy as np
import pytest

from tt_host.compiler import CompileError
from tt_host.compiler import head as H


def _samples(graph, n_classes: int, per_class: int = 3):
    rng = np.random.default_rng(0)
    shape = graph.tensors[graph.input].shape
    images = rng.integers(-128, 128, (n_classes * per_class, *shape), dtype=np.int8)
    return images, np.repeat(np.arange(n_classes), per_class)


def test_imprint_with_samples_zero_without(tiny_graph):
    samples = _samples(tiny_graph, 3)
    imprinted = H.replace_head(tiny_graph, 3, ("a", "b", "c"), "imprint", samples)
    assert imprinted.n_classes == 3 and imprinted.labels == ("a", "b", "c")
    weights = imprinted.classifier.weights
    assert np.any(weights != 0)
    for zero in (H.replace_head(tiny_graph, 3, ("a", "b", "c"), "zero", samples),
                 H.replace_head(tiny_graph, 3, ("a", "b", "c"), "imprint", None)):
        assert zero.n_classes == 3 and not np.any(zero.classifier.weights)
    assert H.replace_head(tiny_graph, 4).n_classes == 4


def test_refuses_an_unknown_init_or_mismatched_labels(tiny_graph):
    with pytest.raises(CompileError, match="imprint, zero"):
        H.replace_head(tiny_graph, 3, init="random")
    with pytest.raises(CompileError, match="3 classes but 2 label names"):
        H.replace_head(tiny_graph, 3, ("a", "b"))
