"""Streams over a faulty cable (issue 15), between ``tt-host`` and an emulated board through
``faulty_link.FaultyLink``.

- The proxy itself does what it is told, each way (no board needed).
- Frames dropped, corrupted, duplicated, delayed and reordered and bytes lost or flipped, on
  the host twin and on QEMU: the whole stream + pull + commit completes and the pulled deltas
  are byte for byte those of a clean run, so every sample was applied exactly once.
- A cable that cannot carry the stream (cut mid-stream; 60 % of frames lost): ``tt-host
  stream`` stops with the documented exit code and says to run it again, and the device's
  state stays consistent: the same command over a clean link resumes and ends with the clean
  run's deltas.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from emulated import measured
from fault_session import Timeouts, sample_folder, train_pull_commit
from faulty_link import Faults, FaultyLink, both
from tt_host.errors import DeviceTimeout, LinkError
from tt_host.tooling.boards import resolve
from tt_host.tooling.emulator import Emulator

needs_cc = pytest.mark.skipif(not shutil.which("cmake") or not shutil.which("cc"),
                              reason="needs cmake and a C compiler (scripts/setup.sh installs them)")
#: The faults a field cable is expected to survive: 1 % of frames dropped, corrupted, duplicated
#: and reordered each way, one byte in 20,000 lost and as many flipped, 1-3 ms of latency.
NOISY = {"drop": 0.01, "corrupt": 0.01, "duplicate": 0.01, "reorder": 0.01, "byte_loss": 5e-5, "byte_flip": 5e-5,
         "delay": 0.001, "jitter": 0.002}


# -- the proxy ---------------------------------------------------------------------------------


class _Sink:
    """A TCP server that keeps every byte it receives and echoes nothing."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.data = bytearray()
        self.closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        while chunk := conn.recv(4096):
            self.data += chunk
        self.closed.set()

    def frames(self) -> list[bytes]:
        return [f for f in bytes(self.data).split(b"\0") if f]


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("socket://").rsplit(":", 1)
    return socket.create_connection((host, int(port)))


def _through(faults: Faults, frames: list[bytes], settle: float = 0.3) -> _Sink:
    """Send ``frames`` (delimited) host -> device through ``faults``; what arrived."""
    sink = _Sink()
    with FaultyLink(sink.url, up=faults) as link:
        host = _connect(link.url)
        try:
            for frame in frames:
                host.sendall(frame + b"\0")
                time.sleep(0.002)  # one frame at a time, as a stop-and-wait host sends them
        except OSError:  # the cable hung up
            pass
        sink.closed.wait(settle)
        host.close()
        sink.closed.wait(2)
    return sink


def test_fault_proxy_spoils_each_direction_as_configured() -> None:
    frames = [bytes([1 + i % 250]) * 20 for i in range(200)]
    assert _through(Faults(), frames).frames() == frames, "a clean cable delivers every frame unchanged"
    assert _through(Faults(drop=1.0, start=3), frames).frames() == frames[:3], "faults begin after `start`"
    assert _through(Faults(duplicate=1.0), frames[:5]).frames() == [f for f in frames[:5] for _ in (0, 1)]
    corrupt = _through(Faults(corrupt=1.0), frames).frames()
    assert len(corrupt) >= len(frames) and not set(corrupt) & set(frames), "every frame has a flipped bit"
    shuffled = Faults(reorder=0.3, hold=0.05, seed=2)
    held = _through(shuffled, frames).frames()
    assert sorted(held) == sorted(frames) and held != frames and shuffled.counts["reordered"], "reordered, none lost"
    late = _through(Faults(reorder=1.0, hold=0.1), frames[:1]).frames()
    assert late == frames[:1], "a held frame no other follows is delivered after `hold`"
    noisy = Faults(byte_loss=0.01, byte_flip=0.01, seed=3)
    arrived = _through(noisy, frames).frames()
    assert noisy.counts["bytes_lost"] and noisy.counts["bytes_flipped"] and arrived != frames
    cut = _through(Faults(cut_after=7), frames)
    assert cut.frames() == frames[:7] and cut.closed.is_set(), "the cable hangs up after 7 frames"
    up, down = both(seed=4, drop=0.5)
    assert (up.drop, down.drop) == (0.5, 0.5) and up.seed != down.seed, "each way draws its own faults"


def test_fault_proxy_delays_without_reordering() -> None:
    sink = _Sink()
    with FaultyLink(sink.url, up=Faults(delay=0.2, jitter=0.1)) as link:
        host = _connect(link.url)
        t0 = time.monotonic()
        host.sendall(b"".join(bytes([i]) * 5 + b"\0" for i in range(1, 30)))
        while len(sink.frames()) < 29 and time.monotonic() - t0 < 2:
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
        host.close()
    assert sink.frames() == [bytes([i]) * 5 for i in range(1, 30)], "latency keeps the order"
    assert 0.2 <= elapsed < 1.0


# -- streams on emulated boards ---------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_folder(tmp_path_factory.mktemp("samples"), per_label=5)


@dataclasses.dataclass(frozen=True)
class Clean:
    """What the fault runs are held to: a run over a clean link."""

    deltas: bytes
    host_frames: int
    work: Path  #: its $TT_HOME holds the compiled plan


@pytest.fixture(scope="module")
def clean(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Clean:
    """A clean run on a fresh host twin."""
    work = tmp_path_factory.mktemp("clean")
    with Emulator(resolve("host"), flash_image=work / "flash.img", log_path=work / "twin.log") as twin:
        run = train_pull_commit(twin.url, folder, work)
    assert run.completed, run.outputs
    return Clean(run.deltas, run.host_frames, work)


@needs_cc
def test_fault_stream_over_a_noisy_cable_trains_the_same_bits(folder: Path, clean: Clean,
                                                              tmp_path: Path) -> None:
    up, down = both(seed=11, **NOISY)
    with Emulator(resolve("host"), flash_image=tmp_path / "flash.img", log_path=tmp_path / "twin.log") as twin:
        run = train_pull_commit(twin.url, folder, tmp_path, up, down, compiled=clean.work)
    assert run.completed, run.outputs
    assert run.deltas == clean.deltas, "every sample applied exactly once, in order"
    assert run.host_frames > clean.host_frames, "the host retransmitted what the cable lost"
    for what in ("dropped", "corrupted", "duplicated", "reordered"):
        assert up.counts[what] + down.counts[what], f"the cable never {what} a frame: {run.counts}"
    measured("fault_link_twin", noisy_s=round(run.wall_s, 2),
             retransmitted=run.host_frames - clean.host_frames, **run.counts)


@needs_cc
def test_fault_stream_that_cannot_finish_stops_clearly_and_resumes(folder: Path, clean: Clean,
                                                                   tmp_path: Path) -> None:
    with Emulator(resolve("host"), flash_image=tmp_path / "flash.img", log_path=tmp_path / "twin.log") as twin:
        # Cut mid-upload as the host sends, then mid-training as the device answers (the request
        # it answers has run). The package is 41 host frames, a sample and its run 2-3.
        for up, down in ((Faults(cut_after=20), None), (None, Faults(cut_after=60))):
            run = train_pull_commit(twin.url, folder, tmp_path, up, down, compiled=clean.work)
            assert run.codes == [LinkError.exit_code], run.outputs
            assert "run the same command again to resume" in run.outputs[0]
        # A cable that goes bad mid-stream: after 15 frames, 60 % of the frames lost each way.
        up, down = both(seed=5, drop=0.6, start=15)
        run = train_pull_commit(twin.url, folder, tmp_path, up, down)
        assert run.codes == [DeviceTimeout.exit_code], run.outputs
        assert "no valid answer" in run.outputs[0] and "run the same command again to resume" in run.outputs[0]
        resumed = train_pull_commit(twin.url, folder, tmp_path)
    assert resumed.completed, resumed.outputs
    assert "resumed at" in resumed.outputs[0], resumed.outputs[0]
    assert resumed.deltas == clean.deltas, "the resumed stream applied each step once"


@needs_cc
@pytest.mark.qemu
def test_fault_stream_on_qemu_trains_the_same_bits_as_a_clean_twin(tmp_path: Path) -> None:
    """QEMU is ~40x slower at training than the host twin: two samples a label, one epoch. The
    host twin trains to the same bytes as ``f746-qemu`` (``test_host_twin.py``), so its clean
    run stands for QEMU's."""
    folder = sample_folder(tmp_path / "samples", per_label=2)
    with Emulator(resolve("host"), flash_image=tmp_path / "twin.img", log_path=tmp_path / "twin.log") as twin:
        reference = train_pull_commit(twin.url, folder, tmp_path / "twin", epochs=1)
    assert reference.completed, reference.outputs
    up, down = both(seed=7, **NOISY)
    with Emulator(resolve("f746-qemu"), flash_image=tmp_path / "flash.img", log_path=tmp_path / "qemu.log") as qemu:
        run = train_pull_commit(qemu.url, folder, tmp_path / "qemu", up, down, epochs=1,
                                timeouts=Timeouts(answer=1.0, step=10.0), compiled=tmp_path / "twin")
    assert run.completed, run.outputs
    assert run.deltas == reference.deltas, "every sample applied exactly once on QEMU too"
    assert sum(up.counts[k] + down.counts[k] for k in ("dropped", "corrupted", "duplicated", "reordered")), run.counts
    measured("fault_link_qemu", noisy_s=round(run.wall_s, 2), **run.counts)

