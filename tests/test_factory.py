"""Factory provisioning (``tt-host flash --model M --samples DIR``): the board's flash gets the
plan a stream of DIR compiles for it, so the stream finds it there and uploads nothing.
Exercised on the emulated twins, whose flash is a file; the real board's probe commands are
in tests/test_cli.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tt_host.cli.app import app
from tt_host.paths import REPO_ROOT
from tt_host.tooling.boards import resolve
from tt_host.tooling.emulator import Emulator
from tt_host.tooling.twin_flash import write_package
from tt_host.errors import UsageError
from tt_host.workflows import stream as S
from tt_host.workflows.cache import Cache
from tt_host.workflows.provision import TrainingSetup

from emulated import connected

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
runner = CliRunner()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three samples of each of the camera labels."""
    root = tmp_path / "samples"
    for label in sorted(p.name for p in CAMERA.iterdir()):
        (root / label).mkdir(parents=True)
        for f in sorted((CAMERA / label).iterdir())[:3]:
            shutil.copy(f, root / label / f.name)
    return root


def _provision_and_stream(board: str, folder: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TT_HOME", str(tmp_path / "cache"))
    image = tmp_path / "flash.img"
    result = runner.invoke(app, ["flash", "--board", board, "--model", str(DEMO), "--samples", str(folder),
                                 "--lr", "0.003", "--flash-image", str(image)])
    assert result.exit_code == 0, result.output
    plan_hash = result.stdout.split()[1].rstrip(":")
    with Emulator(resolve(board), flash_image=image, log_path=tmp_path / "log") as emu, connected(emu) as session:
        assert session.info.plan_hash.startswith(plan_hash), "the twin boots with the flashed plan"
        report = S.stream_folder(session, folder, Cache(), TrainingSetup(lr=0.003))
    assert not report.uploaded and report.trained == report.total > 0


@pytest.mark.skipif(not shutil.which("cmake") or not shutil.which("cc"), reason="needs cmake and a C compiler")
def test_a_provisioned_host_twin_streams_without_an_upload(folder: Path, tmp_path: Path, monkeypatch) -> None:
    _provision_and_stream("host", folder, tmp_path, monkeypatch)


@pytest.mark.qemu
def test_a_provisioned_emulated_f746_streams_without_an_upload(folder: Path, tmp_path: Path, monkeypatch) -> None:
    _provision_and_stream("f746-qemu", folder, tmp_path, monkeypatch)


def test_a_package_over_the_model_area_or_a_foreign_file_is_refused(tmp_path: Path) -> None:
    board = resolve("host")
    with pytest.raises(UsageError, match="model area"):
        write_package(board, tmp_path / "a.img", bytes(board.model_area_bytes + 1))
    foreign = tmp_path / "b.img"
    foreign.write_bytes(bytes(1000))
    with pytest.raises(UsageError, match="not a host flash file"):
        write_package(board, foreign, b"TTPL")
    result = runner.invoke(app, ["flash", "--board", "host", "--model", str(DEMO)])
    assert result.exit_code == UsageError.exit_code and "--samples" in result.output
