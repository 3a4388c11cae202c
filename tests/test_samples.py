"""Sample folders: scanning, splitting, and turning files into the model's int8 input."""

from __future__ import annotations

import re

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
        (lambda d: np.save(d / "x.npy", np.zeros((5, 4, 3), np.int8)), "expected (4, 4, 3)"),
        (lambda d: np.save(d / "x.npy", np.zeros((4, 4, 3), np.float32)), "expected int8"),
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
