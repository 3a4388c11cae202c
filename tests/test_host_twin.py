"""The host twin (``boards/host``): the F746 firmware as a process of this computer.

The same ``firmware/src/main.c``, runtime and kernels (their portable C paths) as the
``f746-qemu`` image, with a TCP socket for its UART and a 1 MB file for its flash: every
``tt_host`` call works against it unchanged. These tests need only CMake and the system C
compiler; they boot it, check what it reports, train a short stream of the demo against the
numpy simulation, commit and restart the process on its flash file. The one test marked
``qemu`` runs the same stream on both twins and compares the pulled deltas byte for byte.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tt_host.workflows import samples

from tt_host.tooling import size
from tt_host.workflows import stream as S
from tt_host.tooling.boards import emulated_twin, resolve
from tt_host.workflows.cache import Cache
from tt_host.cli.app import app
from tt_host.compiler import deltas as D
from tt_host.compiler import simulate
from tt_host.tooling.emulator import Emulator
from tt_host.errors import LinkError, UsageError
from tt_host.paths import REPO_ROOT
from tt_host.workflows.provision import TrainingSetup
from tt_host.workflows.pull import Pulled, pull_deltas
from tt_host.recipe import LrSchedule
from tt_host.link.session import DeviceSession
from tt_host.link.transport import SerialTransport
from tt_protocol import vectors
from tt_protocol.frame import MAX_PAYLOAD
from tt_protocol.responder import BoardIdentity, Responder

from emulated import connected, measured

pytestmark = pytest.mark.skipif(
    not shutil.which("cmake") or not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")),
    reason="needs cmake and a C compiler (scripts/setup.sh installs them)",
)

HOST = resolve("host")
QEMU = resolve("f746-qemu")
DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
SHAPE = (32, 32, 3)


def _configured_arena_bytes() -> int:
    """The arena the twin's image gets: ``arena_bytes`` in its board.toml (the f746 boards' too)."""
    assert HOST.arena_bytes == QEMU.arena_bytes
    return HOST.arena_bytes




@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One host twin for the module's protocol tests (built first if missing or stale)."""
    folder = tmp_path_factory.mktemp("twin")
    with Emulator(HOST, flash_image=folder / "flash.img", log_path=folder / "twin.log") as emu:
        yield emu


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short stream of the demo: 4 samples of each of the four new labels, 1 held out."""
    root = tmp_path_factory.mktemp("samples")
    for label in sorted(p.name for p in CAMERA.iterdir()):
        (root / label).mkdir()
        for f in sorted((CAMERA / label).iterdir())[:4]:
            shutil.copy(f, root / label / f.name)
    return root


#: The short stream: the demo's setup (auto scheme against the device's own arena).
SETUP = TrainingSetup()
EVAL_SPLIT = 0.25


def _stream(emulator: Emulator, folder: Path, cache: Cache, link_rates=(), packed: bool = True,
            ) -> tuple[S.StreamReport, Pulled, float]:
    """Evaluate, train and evaluate ``folder`` on the device, as ``tt-host stream --keep-last``
    does (the device ends with every step applied); pull. ``link_rates``, ``packed``: as
    :func:`emulated.connected`."""
    with connected(emulator, link_rates, packed) as session:
        t0 = time.perf_counter()
        report = S.stream_folder(session, folder, cache, SETUP, model=DEMO, eval_split=EVAL_SPLIT,
                                 replace_model=True, keep_last=True)
        wall = time.perf_counter() - t0
        return report, pull_deltas(session, cache), wall


# -- what it is ------------------------------------------------------------------------------


def test_the_host_board_is_a_native_twin_of_the_f746() -> None:
    assert HOST.emulated and HOST.native and HOST.emulator_of == "f746-disco"
    assert (HOST.sram_bytes, HOST.flash_bytes) == (QEMU.sram_bytes, QEMU.flash_bytes)
    assert HOST.elf_path == REPO_ROOT / "build" / "host" / "boards" / "host" / "tt-firmware"
    assert emulated_twin(resolve("f746")) == QEMU, "the physical board's twin stays the QEMU one"
    with pytest.raises(UsageError, match="f746-disco"):
        size.size_report(HOST, HOST.elf_path)


def test_hello_reports_the_host_board_with_the_f746_qemu_arena(twin: Emulator) -> None:
    with connected(twin) as session:
        info = session.hello()
    assert info.board == "host"
    assert (info.sram_bytes, info.flash_bytes) == (QEMU.sram_bytes, QEMU.flash_bytes)
    assert info.arena_bytes == _configured_arena_bytes()
    assert info.max_payload == MAX_PAYLOAD and info.firmware_version == "0.1.0"
    # The flash layout the host plans against is the firmware's (boards/common/f746_flash.c).
    for board in (HOST, QEMU):
        assert (info.model_area_bytes, info.param_store_bytes) == (board.model_area_bytes, board.param_store_bytes)


def test_the_model_area_is_the_one_board_toml_states(twin: Emulator) -> None:
    """``model_area_bytes`` in board.toml (what ``tt-host check`` measures packages against) is
    the flash the firmware's layout gives an uploaded package: one byte more is refused."""
    from tt_host.errors import DeviceError

    with connected(twin) as session, pytest.raises(DeviceError) as err:
        session.upload(bytes(HOST.model_area_bytes + 1))
    assert err.value.detail == HOST.model_area_bytes == QEMU.model_area_bytes == resolve("f746").model_area_bytes


@pytest.mark.parametrize("size_", [0, 1, 254, 255, 600, MAX_PAYLOAD])
def test_ping_echoes_payloads_of_every_size(twin: Emulator, size_: int) -> None:
    payload = bytes(random.Random(size_).randrange(0, 4) for _ in range(size_))  # many zeros for COBS
    with connected(twin) as session:
        session.ping(payload)


def test_golden_vectors_answered_byte_for_byte(twin: Emulator) -> None:
    """The protocol's golden vectors, each after a sync sequence, as tests/test_emulator.py
    sends them to the QEMU twin."""
    with SerialTransport(twin.url) as link:
        session = DeviceSession(link, timeout=2.0)
        info = session.hello()
        identity = BoardIdentity(info.board, info.sram_bytes, info.flash_bytes, info.arena_bytes, info.core_clock_hz)
        for index, vector in enumerate(vectors.all_vectors()):
            model = Responder(identity, model_area_bytes=info.model_area_bytes, store_capacity=info.param_store_bytes)
            sync = vectors.sync_sequence(0x7000 + 4 * index)
            sync_answer = model.feed(sync)
            expected = model.feed(vector.wire_in)
            link.reset_input()
            link.write(sync)
            assert link.read(len(sync_answer), timeout=5.0) == sync_answer, vector.name
            link.write(vector.wire_in)
            assert link.read(len(expected), timeout=5.0) == expected, vector.name
            assert link.read_available(timeout=0.05) == b"", f"{vector.name}: more than one answer"


def test_a_client_that_hangs_up_lets_the_next_one_in(twin: Emulator) -> None:
    """The laptop unplugs (even in the middle of a frame) and plugs in again: the board is
    still up; a second client that connects meanwhile waits its turn."""
    first = SerialTransport(twin.url)
    DeviceSession(first, timeout=2.0).hello()
    first.write(b"\x05\x01\x02")  # half a frame
    second = SerialTransport(twin.url)  # waits in the backlog while the first is served
    first.close()
    with second:
        session = DeviceSession(second, timeout=2.0)
        assert session.hello().board == "host"
        session.ping(b"after the first client left")
    assert twin.process.poll() is None


# -- training, commit, restart ----------------------------------------------------------------


def _replay(plan, schedule: S.Schedule, steps: int) -> simulate.Machine:
    machine = simulate.planned(plan.plan, plan.weights)
    rates = LrSchedule.for_steps(schedule.total)
    for step, item in enumerate(schedule.steps()[:steps]):
        machine.step(np.frombuffer(item.data, np.int8).reshape(SHAPE), item.class_index, lr_scale=rates.scale_q16(step))
    return machine


def test_a_stream_commits_and_survives_a_killed_process(folder: Path, tmp_path: Path) -> None:
    """The short stream trains the twin exactly as the numpy simulation does; after COMMIT
    and a RESET the process is killed; restarted on the same flash file, the board runs the
    plan with the committed parameters and goes on training from there."""
    cache = Cache(tmp_path / "tt-home")
    flash = tmp_path / "flash.img"
    with Emulator(HOST, flash_image=flash, log_path=tmp_path / "boot1.log") as emulator:
        report, pulled, wall = _stream(emulator, folder, cache)
        with connected(emulator) as session:
            sequence, _ = session.commit()
            committed = session.pull()
            session.reset()  # the process starts over; this client stays connected
            time.sleep(0.2)
            assert session.hello().plan_hash == report.plan_hash
            assert session.pull() == committed and session.stats().trained == report.trained
        emulator.process.send_signal(signal.SIGKILL)  # a power cut: no chance to write anything
        emulator.process.wait()
    measured("host_twin_short_stream", steps=report.trained, wall_s=wall, samples_per_s=report.samples_per_s,
              device_ms_per_step=1e3 * report.stats.seconds_per_step, upload_s=report.upload_s)
    assert report.board == "host" and report.uploaded and report.trained == report.total == 12
    plan = cache.plan(report.plan_hash)
    schedule = S.build_schedule(samples.scan(folder), report.labels.index, SHAPE, EVAL_SPLIT, 1, SETUP.seed)
    machine = _replay(plan, schedule, report.trained)
    assert pulled.deltas == D.build(plan.plan, plan.weights, machine.parameters(), samples=report.trained)

    with Emulator(HOST, flash_image=flash, log_path=tmp_path / "boot2.log") as emulator:
        with connected(emulator) as session:
            assert session.hello().plan_hash == report.plan_hash
            stats = session.stats()
            assert stats.trained == report.trained and stats.commit_sequence == sequence
            assert session.pull() == committed
            assert pull_deltas(session, cache).deltas == pulled.deltas


def test_a_negotiated_stream_with_compressed_samples_trains_the_same(folder: Path, tmp_path: Path) -> None:
    """The link's rate and the samples' compression change the bytes on the wire, nothing
    else: the same stream, negotiated at the board's fastest rate with SAMPLE_PACKED, and at
    115,200 with raw SAMPLE_DATA, ends with the same deltas and evaluations."""
    runs = []
    for fast in (True, False):
        log = tmp_path / f"fast-{fast}.log"
        with Emulator(HOST, flash_image=tmp_path / f"fast-{fast}.img", log_path=log) as emulator:
            report, pulled, _ = _stream(emulator, folder, Cache(tmp_path / f"fast-{fast}"),
                                        link_rates=HOST.rates if fast else (), packed=fast)
        runs.append((report, pulled, log.read_text()))
    (fast, fast_pulled, fast_log), (slow, slow_pulled, slow_log) = runs
    assert (fast.baud, fast.baud_source) == (921_600, "negotiated, not paced")
    assert (slow.baud, slow.baud_source) == (115_200, "")
    # The twin records each switch: up after HELLO, down when the session ends.
    assert "UART at 921600 baud" in fast_log and "UART at 115200 baud" in fast_log and "UART at" not in slow_log
    measured("compressed_short_stream", packed_bytes=fast.link_bytes, raw_bytes=slow.link_bytes,
             projected_fast_s=fast.projected_link_s, projected_slow_s=slow.projected_link_s)
    assert fast.link_bytes < 0.7 * slow.link_bytes
    assert fast_pulled.deltas == slow_pulled.deltas and fast.trained == slow.trained == 12
    for phase in ("before", "after"):
        a, b = getattr(fast, phase), getattr(slow, phase)
        assert (a.counts, a.loss) == (b.counts, b.loss), phase


def test_a_flash_file_that_is_not_one_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "psram.img"
    image.write_bytes(bytes(4096))  # neither empty nor the F746's 1 MB: never reformatted
    with pytest.raises(LinkError, match="not the F746's"):
        Emulator(HOST, flash_image=image, log_path=tmp_path / "log").start()
    assert image.read_bytes() == bytes(4096)


# -- the CLI ----------------------------------------------------------------------------------


def test_build_command_builds_the_twin() -> None:
    result = CliRunner().invoke(app, ["build", "--board", "host"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(HOST.elf_path) and os.access(HOST.elf_path, os.X_OK)


def test_emulate_command_prints_the_url_and_serves_until_stopped(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tt_host", "emulate", "--board", "host"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else url
        info = CliRunner().invoke(app, ["info", "--port", url, "--json"])
        assert info.exit_code == 0, info.output
        assert json.loads(info.stdout)["board"] == "host"
    finally:
        proc.send_signal(signal.SIGTERM)  # stops the twin too
        _, err = proc.communicate(timeout=10)
    assert "native running host" in err
    with pytest.raises(LinkError):  # nobody listens there any more
        SerialTransport(url).close()


# -- the same bytes as on QEMU -----------------------------------------------------------------


@pytest.mark.qemu
def test_the_same_stream_on_qemu_and_on_the_host_twin_pulls_the_same_deltas(folder: Path, tmp_path: Path) -> None:
    """Same firmware, same arena, same plan: the host twin trains to the very bytes the
    emulated Cortex-M7 does (whose kernels take their DSP paths), in a fraction of the time."""
    runs = {}
    for board in (QEMU, HOST):
        with Emulator(board, log_path=tmp_path / f"{board.name}.log") as emulator:
            with connected(emulator) as session:
                arena = session.hello().arena_bytes
            # The emulated Cortex-M7 negotiates the board's fastest rate and takes its samples
            # compressed; the host twin gets them raw at 115,200: the link changes nothing.
            fast = board is QEMU
            report, pulled, wall = _stream(emulator, folder, Cache(tmp_path / board.name),
                                           link_rates=QEMU.rates if fast else (), packed=fast)
        runs[board.name] = (arena, report, pulled, wall)
    (qemu_arena, qemu, qemu_pulled, qemu_s), (host_arena, host, host_pulled, host_s) = runs.values()
    measured("short_stream_qemu_vs_host", steps=host.trained, qemu_s=qemu_s, host_s=host_s,
              qemu_train_s=qemu.train_s, host_train_s=host.train_s, speedup=qemu_s / host_s)
    assert qemu_arena == host_arena == size.size_report(QEMU, QEMU.elf_path).arena_bytes == _configured_arena_bytes()
    assert qemu.plan_hash == host.plan_hash, "the same arena must give the same plan"
    assert (qemu.baud, qemu.baud_source, host.baud) == (921_600, "negotiated, not paced", 115_200)
    assert qemu.link_bytes < host.link_bytes
    assert (qemu.trained, qemu.before.n) == (host.trained, host.before.n) and host.trained > 0
    assert host_pulled.deltas == qemu_pulled.deltas
    for phase in ("before", "after"):  # predictions alike; the loss is float (libm), so close enough
        q, h = getattr(qemu, phase), getattr(host, phase)
        assert (q.counts, q.loss) == (h.counts, pytest.approx(h.loss, rel=1e-5)), phase
