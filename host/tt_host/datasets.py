"""Datasets available offline: Fashion-MNIST from Debian's ``dataset-fashion-mnist``.

Used by the demo model's training script, the sample-folder generator, the accuracy
benchmarks and the end-to-end tests. Nothing is downloaded: a missing package is an error
that says which package to install.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from tt_host.errors import ToolMissing

FASHION_MNIST_DIR = Path(os.environ.get("TT_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))

FASHION_MNIST_CLASSES = (
    "tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot",
)  # fmt: skip


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (big-endian header: magic with the dtype code and rank, then dims)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def fashion_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 [N, 28, 28], labels uint8 [N])`` of ``split`` ("train" or "test")."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images = FASHION_MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz"
    labels = FASHION_MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz"
    if not images.exists() or not labels.exists():
        raise ToolMissing(
            f"Fashion-MNIST not found in {FASHION_MNIST_DIR}: "
            "install it with `sudo apt-get install dataset-fashion-mnist` (or set TT_FASHION_MNIST)"
        )
    return _read_idx(images), _read_idx(labels)


def fashion_mnist_available() -> bool:
    return (FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists()
