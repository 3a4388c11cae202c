"""Sample folders: scanning, splitting, and turning files into the model's int8 input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tt_host.paths import REPO_ROOT
from tt_host.workflows.samples import SampleError, load_input, scan


def _png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def test_scan_the_shipped_camera_samples():
    folder = scan(REPO_ROOT / "examples" / "camera_samples")
    assert folder.labels == ("ankle_boot", "coat", "shirt", "sneaker")
    assert len(folder.samples) == 300
    train, held_out = folder.split(0.2, seed=1)
    assert len(held_out) == 60 and len(train) == 240
    assert {s.label for s in held_out} == set(folder.labels)  # every label is evaluated
    assert not {s.path for s in train} & {s.path for s in held_out}
    assert folder.split(0.2, seed=1) == (train, held_out)  # deterministic


def test_gray_png_becomes_rgb_input_at_the_model_size(tmp_path):
    pixels = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    x = load_input(_png(tmp_path / "a.png", pixels), (32, 32, 3))
    assert x.shape == (32, 32, 3) and x.dtype == np.int8
    assert np.array_equal(x[..., 0], x[..., 2])  # replicated channels
    same_size = load_input(_png(tmp_path / "b.png", pixels), (28, 28, 1))
    assert np.array_equal(same_size[..., 0], (pixels.astype(np.int16) - 128).astype(np.int8))


def test_rgb_png_becomes_luma_for_a_one_channel_model(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 1] = 200
    x = load_input(_png(tmp_path / "g.png", rgb), (8, 8, 1))
    assert x.shape == (8, 8, 1) and int(x[0, 0, 0]) == round(200 * 0.587) - 128


def test_npy_samples(tmp_path):
    q = np.full((4, 4, 3), -5, np.int8)
    np.save(tmp_path / "q.npy", q)
    assert np.array_equal(load_input(tmp_path / "q.npy", (4, 4, 3)), q)
    np.save(tmp_path / "p.npy", np.full((4, 4, 3), 130, np.uint8))
    assert int(load_input(tmp_path / "p.npy", (4, 4, 3))[0, 0, 0]) == 2


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda d: np.save(d / "x.npy", np.zeros((5, 4, 3), np.int8)), "expected the model's input shape (4, 4, 3)"),
        (lambda d: np.save(d / "x.npy", np.zeros((4, 4, 3), np.float32)), "needs the model input's quantization"),
        (lambda d: (d / "x.png").write_bytes(b"not a png"), "not a readable image"),
    ],
)
def test_bad_samples_name_the_file_and_the_expectation(tmp_path, make, needle):
    make(tmp_path)
    path = next(tmp_path.iterdir())
    with pytest.raises(SampleError, match=re.escape(needle)) as err:
        load_input(path, (4, 4, 3))
    assert path.name in str(err.value)


def test_empty_or_missing_folders_are_refused(tmp_path):
    with pytest.raises(SampleError, match="not a folder"):
        scan(tmp_path / "nope")
    (tmp_path / "empty_label").mkdir()
    with pytest.raises(SampleError, match="no samples"):
        scan(tmp_path)


def test_sensor_arrays_become_the_input_whatever_their_unit_axes(tmp_path: Path) -> None:
    """MFCC matrices, IMU windows, feature vectors: float arrays are quantized with the input's
    scale and zero point; an array matching the input up to axes of length 1 is reshaped."""
    rng = np.random.default_rng(0)
    mfcc = rng.normal(0, 2, (49, 10)).astype(np.float32)
    np.save(tmp_path / "mfcc.npy", mfcc)
    x = load_input(tmp_path / "mfcc.npy", (49, 10, 1), (0.05, -3))
    assert x.shape == (49, 10, 1) and x.dtype == np.int8
    np.testing.assert_array_equal(x[..., 0], np.clip(np.round(mfcc / 0.05) - 3, -128, 127).astype(np.int8))
    imu = rng.integers(-128, 128, (128, 6)).astype(np.int8)
    np.save(tmp_path / "imu.npy", imu)
    np.testing.assert_array_equal(load_input(tmp_path / "imu.npy", (128, 1, 6)), imu.reshape(128, 1, 6))
    np.save(tmp_path / "features.npy", np.linspace(-1, 1, 64))
    assert load_input(tmp_path / "features.npy", (64,), (1 / 127, 0)).tolist()[::63] == [-127, 127]


@pytest.mark.parametrize("array, shape, quant, message", [
    (np.zeros((50, 10), np.float32), (49, 10, 1), (0.1, 0), r"shape \(50, 10\), expected the model's input shape \(49, 10, 1\)"),
    (np.zeros((49, 10), np.float32), (49, 10, 1), None, "needs the model input's quantization"),
    (np.full((49, 10), np.nan, np.float32), (49, 10, 1), (0.1, 0), "NaN or infinite"),
    (np.zeros((49, 10), np.int32), (49, 10, 1), (0.1, 0), "dtype int32"),
])
def test_bad_sensor_arrays_are_refused_with_what_was_expected(tmp_path: Path, array, shape, quant, message) -> None:
    np.save(tmp_path / "s.npy", array)
    with pytest.raises(SampleError, match=message):
        load_input(tmp_path / "s.npy", shape, quant)


def test_an_image_for_a_sensor_model_is_refused(tmp_path: Path) -> None:
    path = _png(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(SampleError, match=r"input of shape \(128, 1, 6\).*\.npy"):
        load_input(path, (128, 1, 6))
