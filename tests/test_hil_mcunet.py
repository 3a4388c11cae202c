"""Tier 3, hardware in the loop: MCUNet-5fps, the published engine's own model, on the f746-qemu
image. Its package (plan + weights, 642,608 B with the published 99 KB scheme) fits the F746's
model area only since the parameter store moved to the QSPI flash (internal sectors 4-7,
896 KB, instead of 6-7, 512 KB): it uploads, trains two camera samples at 128x128 (~100 M
emulated instructions a step), COMMITs to the QSPI flash, comes back from a restart of the
emulator on the same flash image, and ROLLBACKs to its factory parameters.

Needs the shared int8 model (``../shared/models``); skipped, saying so, without it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tt_protocol.plan import PlanHeader
from typer.testing import CliRunner

from tt_host.cli.app import app
from tt_host.compiler import blob
from tt_host.paths import REPO_ROOT, SHARED_DIR
from tt_host.tooling.boards import resolve
from tt_host.link.session import DeviceSession
from tt_host.link.transport import SerialTransport
from tt_host.tooling.emulator import Emulator
from tt_host.workflows.samples import load_input, scan

from emulated import measured

MODEL = SHARED_DIR / "models" / "mcunet-5fps-int8.tflite"
SCHEME = SHARED_DIR / "schemes" / "mcunet-5fps-99kb.json"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
BOARD = resolve("f746-qemu")
#: The model area before the store moved out of the internal flash (sectors 6-7).
OLD_MODEL_AREA_BYTES = 512 * 1024
TRAIN_STEPS = 2

pytestmark = [
    pytest.mark.qemu,  # skipped, naming the tool, when one is missing (conftest.py)
    pytest.mark.skipif(not MODEL.exists() or not SCHEME.exists(),
                       reason=f"needs the shared MCUNet-5fps model and scheme ({MODEL}, {SCHEME})"),
]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict]:
    """The package as ``tt-host compile`` makes it for the camera samples, and its report. A fixed
    learning rate: the rate trial (``--lr auto``) would train 200 host steps per candidate first."""
    out = tmp_path_factory.mktemp("mcunet")
    result = CliRunner().invoke(app, ["compile", str(MODEL), "--samples", str(CAMERA), "--scheme", str(SCHEME),
                                      "--budget", "224K", "--lr", "0.003", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return blob.package((out / "plan.bin").read_bytes(), (out / "weights.bin").read_bytes()), json.loads(result.stdout)


@contextmanager
def _booted(flash: Path, log: Path) -> Iterator[DeviceSession]:
    """The board booted on the flash image ``flash``, HELLO said. A board with a package
    validates it (CRC over 642 KB of flash) before it listens, and a 128x128 step takes about
    a second of emulation: generous timeouts."""
    with Emulator(BOARD, flash_image=flash, log_path=log) as emulator, SerialTransport(emulator.url) as link:
        session = DeviceSession(link, timeout=10.0, slow_timeout=60.0)
        session.hello()
        yield session
    report = log.read_text(errors="replace")
    assert "fault" not in report.lower(), report


def test_mcunet_fits_the_model_area_and_its_commit_fits_the_store(compiled: tuple[bytes, dict]) -> None:
    package, report = compiled
    assert len(package) == report["plan_bytes"] + report["weights_bytes"]
    assert OLD_MODEL_AREA_BYTES < len(package) <= BOARD.model_area_bytes
    assert report["commit_bytes"] <= BOARD.param_store_bytes
    assert report["peak_sram_bytes"] <= 224 * 1024


def test_mcunet_trains_commits_survives_a_restart_and_rolls_back(compiled: tuple[bytes, dict],
                                                                   tmp_path: Path) -> None:
    package, _ = compiled
    flash = tmp_path / "flash.img"
    header = PlanHeader.parse(package)
    shape = (header.input_h, header.input_w, header.input_c)
    folder = scan(CAMERA)
    samples = folder.samples[:: len(folder.samples) // TRAIN_STEPS][:TRAIN_STEPS]

    with _booted(flash, tmp_path / "boot1.log") as session:
        info = session.info
        assert (info.model_area_bytes, info.param_store_bytes) == (BOARD.model_area_bytes, BOARD.param_store_bytes)
        session.upload(package, replace_model=True)
        factory = session.pull()
        for step, sample in enumerate(samples):
            session.send_sample(load_input(sample.path, shape).tobytes())
            result = session.run_sample(folder.label_index(sample.label), train=True, step=step)
            assert result.trained == step + 1
        trained = session.pull()
        assert trained != factory
        sequence, size = session.commit()
        assert size == 4 + len(trained) <= info.param_store_bytes
        stats = session.stats()
    measured("mcunet_on_f746_qemu", package_bytes=len(package), model_area_bytes=BOARD.model_area_bytes,
             commit_bytes=size, instructions_per_train_step=stats.instructions_per_step,
             arena_used=stats.arena_used, stack_peak=stats.stack_peak)

    # A new emulator on the same flash image: the package (internal flash) and the committed
    # parameters (QSPI flash) are both back.
    with _booted(flash, tmp_path / "boot2.log") as session:
        assert session.info.plan_hash == header.plan_hash.hex()
        stats = session.stats()
        assert (stats.trained, stats.commit_sequence) == (TRAIN_STEPS, sequence)
        assert session.pull() == trained
        assert session.rollback() == sequence + 1
        assert session.pull() == factory and session.stats().trained == 0
