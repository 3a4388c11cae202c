"""Replacing the classifier for new classes: zero-initialised, or imprinted from samples.

Samples come from a sample folder (:mod:`tt_host.workflows.samples`: one subfolder per label, converted
to the model's int8 input exactly as ``tt-host stream`` converts them); the labels are the
sorted subfolder names and travel in the plan, so the device's predictions print as names.

**Imprinting** (Qi et al., "Low-Shot Learning with Imprinted Weights", CVPR 2018): run the
frozen backbone on the samples, take the mean of each class's classifier-input features and
normalise it to unit length; that is the class's weight vector. The weights are scaled so the
samples' logits span half of the logits' int8 range, centred in it by a common bias (a bias
shared by every class does not change the softmax). Each class gets its own weight scale,
``max|W_c| / 100``: 27 % headroom for training to grow the weights before they saturate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tt_host import recipe

from tt_host.workflows import samples
from tt_host.compiler.errors import CompileError
from tt_host.compiler.ir import Graph
from tt_host.reference.graph import run_step

#: Weight scale = max|W_c| / HEADROOM_STEPS.
HEADROOM_STEPS = 100
#: How a new head starts: imprinted from the training samples, or zero.
INITS = recipe.HEAD_INITS


def replace_head(graph: Graph, n_classes: int, labels: Sequence[str] = (), init: str = "imprint",
                 samples: tuple[np.ndarray, np.ndarray] | None = None) -> Graph:
    """``graph`` with its classifier replaced for ``n_classes`` (named ``labels``): imprinted from
    ``samples`` (int8 images, class indices) when ``init`` is "imprint" and samples are given,
    zero-initialised otherwise. The one preparation ``tt-host compile`` and ``stream`` share."""
    if init not in INITS:
        raise CompileError(f"the head initialisation must be one of {', '.join(INITS)}, not {init!r}")
    if labels and len(labels) != n_classes:
        raise CompileError(f"{n_classes} classes but {len(labels)} label names")
    if init == "imprint" and samples is not None and len(samples[0]):
        images, classes = samples
        return imprint(graph, images, classes, list(labels) or [str(c) for c in range(n_classes)])
    return graph.with_classes(n_classes, tuple(labels))


def load_samples(folder: str | Path, shape: Sequence[int],
                 quant: tuple[float, int] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(inputs int8 [N, *shape], labels [N], label names)`` of a sample folder (``quant``: the
    input's scale and zero point, for float sensor arrays)."""
    found = samples.scan(folder)
    images = np.stack([samples.load_input(s.path, shape, quant) for s in found.samples])
    labels = np.array([found.label_index(s.label) for s in found.samples], np.int64)
    return images, labels, list(found.labels)


def head_features(graph: Graph, image: np.ndarray) -> np.ndarray:
    """The int8 input of the classifier for one sample (the frozen backbone's forward)."""
    tensors = {graph.input: np.asarray(image, np.int8).reshape(graph.tensors[graph.input].shape)}
    head = graph.classifier
    for layer in graph.layers:
        if layer.index == head.index:
            break
        if layer.kind == "reshape":
            tensors[layer.output] = tensors[layer.inputs[0]].reshape(graph.tensors[layer.output].shape)
        else:
            tensors[layer.output] = run_step(layer.step, tensors).reshape(graph.tensors[layer.output].shape)
    return tensors[head.inputs[0]].reshape(-1)


def imprint(graph: Graph, images: np.ndarray, labels: np.ndarray, names: list[str]) -> Graph:
    """``graph`` with a new classifier imprinted from the samples (see the module docstring)."""
    n = len(names)
    labels = np.asarray(labels)
    missing = [names[c] for c in range(n) if not np.any(labels == c)]
    if missing:
        raise CompileError(f"imprinting needs samples of every class; none for {', '.join(missing)}")
    head = graph.classifier
    x = graph.tensors[head.inputs[0]]
    feats = np.stack([head_features(graph, im) for im in images]).astype(np.float64)
    real = x.scale * (feats - x.zero_point)
    means = np.stack([real[labels == c].mean(axis=0) for c in range(n)])
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    unit = np.divide(means, norms, out=np.zeros_like(means), where=norms > 0)
    dots = real @ unit.T  # (samples, classes)
    out = graph.tensors[graph.logits]
    lo, hi = out.scale * (-128 - out.zero_point), out.scale * (127 - out.zero_point)
    span = float(dots.max() - dots.min()) or 1.0
    k = 0.5 * (hi - lo) / span
    w_real = k * unit
    b_real = (lo + hi) / 2 - k * float(dots.max() + dots.min()) / 2
    scales = np.maximum(np.abs(w_real).max(axis=1), 1e-12) / HEADROOM_STEPS
    scales = scales.astype(np.float32)
    wq = np.clip(np.round(w_real / scales[:, None].astype(np.float64)), -127, 127).astype(np.int8)
    bias_scale = np.float32(x.scale) * scales
    bq = np.round(b_real / bias_scale.astype(np.float64)).astype(np.int64)
    bq = np.clip(bq, -(2**31), 2**31 - 1).astype(np.int32)
    return graph.with_head(wq, bq, scales, names)
