"""Replacing the classifier for new classes: zero-initialised, or imprinted from samples.

A sample folder holds one subfolder per label (``DIR/<label>/*.png|*.jpg|*.npy``); the labels
are the sorted subfolder names and travel in the plan, so the device's predictions print as
names. Images become the model's int8 input the way ``tt-host stream`` converts them:
resized to the input's height and width (bilinear), converted to its channels (grey or RGB),
and quantized as ``q = pixel - 128``: the int8 input spans the 8-bit pixel range, which is
what the input quantization of every model we ship and import means (scale 1/255 with zero
point -128 over [0, 1], or 1/127.5 with zero point 0 over [-1, 1]).

**Imprinting** (Qi et al., "Low-Shot Learning with Imprinted Weights", CVPR 2018): run the
frozen backbone on the samples, take the mean of each class's classifier-input features and
normalise it to unit length; that is the class's weight vector. The weights are scaled so the
samples' logits span half of the logits' int8 range, centred in it by a common bias (a bias
shared by every class does not change the softmax). Each class gets its own weight scale,
``max|W_c| / 100``: 27 % headroom for training to grow the weights before they saturate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tt_host.compiler.errors import CompileError
from tt_host.compiler.ir import Graph
from tt_host.compiler.lowering import pool_params
from tt_host.reference import forward
from tt_host.reference.graph import run_step

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
#: Weight scale = max|W_c| / HEADROOM_STEPS.
HEADROOM_STEPS = 100


def to_input(image: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """An image (uint8 HxW or HxWxC, or already int8 of the input shape) as the model's int8 input."""
    a = np.asarray(image)
    if a.dtype == np.int8 and a.shape == shape:
        return a
    if a.dtype != np.uint8:
        raise CompileError(f"sample arrays must be uint8 pixels or int8 of shape {shape}, got {a.dtype}{a.shape}")
    from PIL import Image

    h, w, c = shape
    img = Image.fromarray(a if a.ndim == 2 or a.shape[2] in (3, 4) else a[..., 0])
    img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
    px = np.asarray(img, np.int16).reshape(h, w, -1)
    if px.shape[2] != c:
        px = np.repeat(px[..., :1], c, axis=2)
    return (px - 128).astype(np.int8)


def load_samples(folder: str | Path, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(images int8 [N, H, W, C], labels [N], label names)`` from a folder of label folders."""
    from PIL import Image

    root = Path(folder)
    if not root.is_dir():
        raise CompileError(f"sample folder {root} does not exist")
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise CompileError(f"{root} has no label subfolders (expected {root}/<label>/*.png)")
    images, labels = [], []
    for k, name in enumerate(names):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in (*IMAGE_SUFFIXES, ".npy"))
        for f in files:
            try:
                raw = np.load(f) if f.suffix.lower() == ".npy" else np.asarray(Image.open(f))
            except (OSError, ValueError) as exc:
                raise CompileError(f"cannot read sample {f}: {exc}") from exc
            images.append(to_input(raw, shape))
            labels.append(k)
    if not images:
        raise CompileError(f"{root}: no .png/.jpg/.npy samples in its label folders")
    return np.stack(images), np.asarray(labels, np.int64), names


def head_features(graph: Graph, image: np.ndarray) -> np.ndarray:
    """The int8 input of the classifier for one sample (the frozen backbone's forward)."""
    tensors = {graph.input: np.asarray(image, np.int8).reshape(graph.tensors[graph.input].shape)}
    head = graph.classifier
    for layer in graph.layers:
        if layer.index == head.index:
            break
        if layer.kind == "reshape":
            tensors[layer.output] = tensors[layer.inputs[0]].reshape(graph.tensors[layer.output].shape)
        elif layer.kind == "mean":
            p = pool_params(graph, layer)
            tensors[layer.output] = forward.avgpool_fwd_s8(p.geom, p.quant, tensors[layer.inputs[0]])
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
