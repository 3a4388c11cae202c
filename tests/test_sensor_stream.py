"""Non-image samples end to end: a folder of float ``.npy`` MFCC matrices (49 x 10, one subfolder
per keyword) streamed to the host twin of the board (``boards/host``, the real firmware as a
process) with the corpus' DS-CNN keyword spotter (float input: the host quantizes each matrix
with the input's scale and zero point, as the converter's QUANTIZE would). Every option at its
default: the plan compiles, uploads, evaluates and trains through the real protocol, and the
device ends no worse than it started. A sample of the wrong shape stops the stream before a
byte is sent, naming the file and the expected shape."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from emulated import connected

from tt_host.paths import REPO_ROOT
from tt_host.tooling.boards import resolve
from tt_host.tooling.emulator import Emulator
from tt_host.workflows import stream as S
from tt_host.workflows.cache import Cache
from tt_host.workflows.provision import TrainingSetup
from tt_host.workflows.samples import SampleError

pytestmark = pytest.mark.skipif(
    not shutil.which("cmake") or not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")),
    reason="needs cmake and a C compiler for the host twin (scripts/setup.sh installs them)",
)

DS_CNN = REPO_ROOT / "examples" / "models" / "ds_cnn-float.tflite"
KEYWORDS = ("yes", "no", "up")


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    folder = tmp_path_factory.mktemp("twin")
    with Emulator(resolve("host"), flash_image=folder / "flash.img", log_path=folder / "twin.log") as emulator:
        yield emulator


def _mfcc_folder(root: Path, per_keyword: int = 10, shape=(49, 10)) -> Path:
    """Keywords as MFCC-like matrices: each a fixed pattern plus noise (a learnable task)."""
    rng = np.random.default_rng(3)
    for k, word in enumerate(KEYWORDS):
        (root / word).mkdir(parents=True)
        pattern = rng.normal(0, 1, shape).astype(np.float32)
        for i in range(per_keyword):
            np.save(root / word / f"{i:02d}.npy", (pattern + 0.3 * rng.normal(0, 1, shape)).astype(np.float32))
    return root


def test_a_folder_of_mfcc_arrays_streams_and_trains_on_the_device(twin: Emulator, tmp_path: Path) -> None:
    folder = _mfcc_folder(tmp_path / "keywords")
    with connected(twin) as session:
        report = S.stream_folder(session, folder, Cache(tmp_path / "tt-home"), TrainingSetup(), model=DS_CNN,
                                 epochs=2)
    assert report.diverged_at is None
    assert report.trained > 0
    assert report.after.accuracy >= report.before.accuracy  # the stream keeps the best evaluated state


def test_a_matrix_of_the_wrong_shape_stops_the_stream_before_anything_is_sent(twin: Emulator,
                                                                            tmp_path: Path) -> None:
    folder = _mfcc_folder(tmp_path / "keywords", per_keyword=3)
    np.save(folder / "yes" / "bad.npy", np.zeros((40, 10), np.float32))
    with connected(twin) as session, pytest.raises(SampleError, match=r"bad\.npy.*expected the model's input shape"):
        S.stream_folder(session, folder, Cache(tmp_path / "tt-home"), TrainingSetup(), model=DS_CNN)
