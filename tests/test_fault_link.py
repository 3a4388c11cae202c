"""A stream over a faulty cable (issue 15): frames dropped, corrupted and duplicated between
``tt-host`` and the host twin (``faulty_link.FaultyLink``). The whole stream + pull + commit
completes, and the pulled deltas are byte for byte those of the same stream over a clean link,
so every sample was applied exactly once."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from faulty_link import Faults, FaultyLink
from typer.testing import CliRunner

from tt_host.cli.app import app
from tt_host.paths import REPO_ROOT
from tt_host.tooling.boards import resolve
from tt_host.tooling.emulator import Emulator

from emulated import measured

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
runner = CliRunner()

pytestmark = pytest.mark.skipif(not shutil.which("cmake") or not shutil.which("cc"),
                                reason="needs cmake and a C compiler (scripts/setup.sh installs them)")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("samples")
    for label in ("coat", "shirt", "sneaker"):
        (root / label).mkdir()
        for f in sorted((CAMERA / label).iterdir())[:5]:
            shutil.copy(f, root / label / f.name)
    return root


def _session(folder: Path, tmp: Path, faults: Faults | None) -> tuple[bytes, float]:
    """Stream, pull and commit on a fresh host twin, through the faults if any; the deltas pulled
    and the wall time."""
    with Emulator(resolve("host"), flash_image=tmp / "flash.img", log_path=tmp / "twin.log") as twin:
        link = FaultyLink(twin.url, faults) if faults is not None else None
        url = link.url if link is not None else twin.url
        t0 = time.perf_counter()
        for command in (["stream", str(folder), "--model", str(DEMO), "--lr", "0.003", "--epochs", "2"],
                        ["pull", "--out", str(tmp / "deltas.bin")], ["commit", "--force"]):
            result = runner.invoke(app, ["--link-baud", "off", *command, "--port", url, "--timeout", "0.3"])
            assert result.exit_code == 0, result.output
        wall = time.perf_counter() - t0
        if link is not None:
            link.__exit__()
    return (tmp / "deltas.bin").read_bytes(), wall


def test_fault_stream_over_a_noisy_cable_trains_the_same_bits(folder: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_HOME", str(tmp_path / "home"))
    (tmp_path / "clean").mkdir()
    (tmp_path / "noisy").mkdir()
    clean, clean_s = _session(folder, tmp_path / "clean", None)
    faults = Faults(drop=0.01, corrupt=0.01, duplicate=0.01, seed=11)
    noisy, noisy_s = _session(folder, tmp_path / "noisy", faults)
    assert noisy == clean, "every sample applied exactly once, in order"
    counts = faults.counts
    assert counts["dropped"] and counts["corrupted"] and counts["duplicated"], counts
    measured("fault_link", **counts, clean_s=round(clean_s, 2), noisy_s=round(noisy_s, 2))
