"""Sample folders: what a field technician streams to the board.

A sample folder holds one subfolder per label; each holds images (PNG or JPEG, read with
Pillow) or ``.npy`` arrays. Every sample becomes the model's int8 input tensor:

* **size**: resized to the model's input height and width (bilinear) when it differs;
* **channels**: gray is replicated to RGB, RGB is converted to gray (ITU-R 601 luma) for a
  one-channel model, an alpha channel is dropped;
* **values**: the 8-bit pixel ``p`` becomes ``p - 128``, the full 8-bit range onto the full
  int8 range. That is exactly the quantization of every image model we know of: the shared
  ImageNet models (scale 1/127.5, zero point 0, ``q = p - 128``) as well as models trained
  on ``p / 255`` (scale 1/255, zero point -128). A ``.npy`` sample that is already int8 of
  the input's shape is taken as it is; a uint8 one is treated like pixels.

**Sensor samples** (``.npy``, any input rank: MFCC matrices for a keyword spotter, IMU windows
for a 1-D net, feature vectors) are taken as the model's input when their shape matches it up
to axes of length 1 (``49 x 10`` for ``49 x 10 x 1``, ``128 x 6`` for ``128 x 1 x 6``). Float
arrays hold real values and are quantized with the input tensor's scale and zero point, as the
converter's QUANTIZE would on the board; int8 arrays are already the quantized input.

Anything that cannot become the input raises :class:`SampleError` naming the file and what
was expected, before a single byte is sent to the device.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tt_host.errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_SUFFIXES = (".npy",)


class SampleError(UsageError):
    """A sample folder or file that cannot be turned into model inputs."""


@dataclasses.dataclass(frozen=True)
class Sample:
    path: Path
    label: str  #: the subfolder name


@dataclasses.dataclass(frozen=True)
class SampleFolder:
    """The samples of a folder, in a deterministic order (sorted by label, then file name)."""

    root: Path
    labels: tuple[str, ...]  #: sorted subfolder names that hold at least one sample
    samples: tuple[Sample, ...]

    def label_index(self, label: str) -> int:
        return self.labels.index(label)

    def split(self, eval_fraction: float, seed: int = 0) -> tuple[list[Sample], list[Sample]]:
        """``(train, eval)``: ``eval_fraction`` of each label held out, chosen by ``seed``."""
        if not 0.0 <= eval_fraction < 1.0:
            raise SampleError(f"the evaluation split must be in [0, 1), got {eval_fraction}")
        rng = random.Random(seed)
        train, held_out = [], []
        for label in self.labels:
            of_label = [s for s in self.samples if s.label == label]
            rng.shuffle(of_label)
            n_eval = round(len(of_label) * eval_fraction)
            held_out += of_label[:n_eval]
            train += of_label[n_eval:]
        rng.shuffle(train)
        return train, held_out


def scan(root: str | Path) -> SampleFolder:
    """Find the samples of ``root`` (one subfolder per label)."""
    root = Path(root)
    if not root.is_dir():
        raise SampleError(f"{root} is not a folder: expected one subfolder per label holding images or .npy files")
    labels, samples = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + ARRAY_SUFFIXES
        )
        if files:
            labels.append(folder.name)
            samples += [Sample(f, folder.name) for f in files]
    if not samples:
        raise SampleError(
            f"no samples in {root}: expected subfolders named after labels holding "
            f"{', '.join(IMAGE_SUFFIXES + ARRAY_SUFFIXES)} files"
        )
    return SampleFolder(root, tuple(labels), tuple(samples))


def check_readable(paths: Sequence[Path], shape: Sequence[int] | None = None) -> None:
    """Open every sample file before a device is touched, so that a bad one stops the command
    before any link is opened: an image PIL cannot read, an array ``np.load`` cannot, or (with
    the model's input ``shape``) an array of another shape is a :class:`SampleError` naming it."""
    for path in paths:
        path = Path(path)
        if path.suffix.lower() in ARRAY_SUFFIXES:
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise SampleError(f"{path}: not a readable .npy array ({exc})") from exc
            if shape is not None and _squeezed(array.shape) != _squeezed(tuple(int(d) for d in shape)):
                raise SampleError(f"{path}: array of shape {array.shape}, expected the model's input shape "
                                  f"{tuple(shape)}")
            continue
        try:
            with Image.open(path) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:  # PIL reports bad data as SyntaxError too
            raise SampleError(f"{path}: not a readable image ({exc})") from exc


def load_input(path: Path, shape: Sequence[int], quant: tuple[float, int] | None = None) -> np.ndarray:
    """The int8 model input of ``shape`` made from the file at ``path``; ``quant``, the input
    tensor's ``(scale, zero point)``, quantizes a float ``.npy`` sample."""
    shape = tuple(int(d) for d in shape)
    path = Path(path)
    if path.suffix.lower() in ARRAY_SUFFIXES:
        return _from_array(path, shape, quant)
    if len(shape) != 3 or shape[2] not in (1, 3):
        raise SampleError(f"{path}: the model takes an input of shape {shape}; an image converts only to "
                          "(height, width, 1 or 3 channels): give .npy arrays of that shape")
    h, w, c = shape
    try:
        with Image.open(path) as image:
            image = image.convert("L" if c == 1 else "RGB")
            if image.size != (w, h):
                image = image.resize((w, h), Image.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise SampleError(f"{path}: not a readable image ({exc})") from exc
    return _pixels_to_input(pixels.reshape(h, w, c))


def _squeezed(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def _from_array(path: Path, shape: tuple[int, ...], quant: tuple[float, int] | None) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise SampleError(f"{path}: not a readable .npy array ({exc})") from exc
    if array.shape != shape:
        if _squeezed(array.shape) != _squeezed(shape):
            raise SampleError(f"{path}: array of shape {array.shape}, expected the model's input shape {shape}")
        array = array.reshape(shape)  # the same values, axes of length 1 added or dropped
    if array.dtype == np.int8:
        return array
    if array.dtype == np.uint8:
        return _pixels_to_input(array)
    if np.issubdtype(array.dtype, np.floating):
        if quant is None:
            raise SampleError(f"{path}: a float array needs the model input's quantization to become int8")
        if not np.all(np.isfinite(array)):
            raise SampleError(f"{path}: the array holds NaN or infinite values")
        scale, zero_point = quant
        return np.clip(np.round(array / scale) + zero_point, -128, 127).astype(np.int8)
    raise SampleError(f"{path}: array of dtype {array.dtype}, expected float (real values), int8 (the quantized "
                      "input) or uint8 (pixels)")


def _pixels_to_input(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.int16) - 128).astype(np.int8)
