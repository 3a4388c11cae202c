"""Write the demo's sample folder: real Fashion-MNIST images of classes the demo model never saw.

``examples/camera_samples/<label>/<n>.png`` stands in for what a field technician's camera
captured on site: one subfolder per label, plain PNG files. The demo model
(``demo_model/``) was pretrained on six other classes, so streaming this folder makes the
board learn a new label set on the device. Deterministic: the same images every run.

Usage: ``python examples/make_camera_samples.py [--per-class 75] [--out DIR]``
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from tt_host.datasets import FASHION_MNIST_CLASSES, fashion_mnist

#: The four classes left out of the demo model's pretraining.
NEW_CLASSES = (4, 6, 7, 9)  # coat, shirt, sneaker, ankle_boot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=75)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "camera_samples")
    args = parser.parse_args()

    images, labels = fashion_mnist("train")
    rng = np.random.default_rng(2026)
    if args.out.exists():
        shutil.rmtree(args.out)
    for cls in NEW_CLASSES:
        folder = args.out / FASHION_MNIST_CLASSES[cls]
        folder.mkdir(parents=True)
        picks = rng.choice(np.flatnonzero(labels == cls), args.per_class, replace=False)
        for n, i in enumerate(sorted(picks)):
            Image.fromarray(images[i]).save(folder / f"{n:03d}.png", optimize=True)
    print(f"wrote {len(NEW_CLASSES) * args.per_class} images to {args.out}")


if __name__ == "__main__":
    main()
