"""Tier 3, hardware in the loop: the f746-qemu image in QEMU, driven by the real host code.

One emulator boots per module; every test talks to it through ``tt_host`` (transport,
session) exactly as ``tt-host`` does, and the last test checks the firmware never
faulted.
"""

from __future__ import annotations

import random

import pytest

from tt_host.tooling.boards import resolve
from tt_host.tooling.emulator import Emulator
from tt_host.errors import DeviceError
from tt_host.link.session import DeviceSession
from tt_host.link.transport import SerialTransport
from tt_protocol import vectors
from tt_protocol.frame import MAX_PAYLOAD
from tt_protocol.responder import BoardIdentity, Responder
from tt_protocol.status import Status

pytestmark = pytest.mark.qemu  # skipped, naming the tool, when one is missing (conftest.py)


@pytest.fixture(scope="module")
def emulator():
    with Emulator(resolve("f746-qemu")) as emu:
        yield emu


@pytest.fixture(scope="module")
def link(emulator):
    with SerialTransport(emulator.url) as transport:
        yield transport


@pytest.fixture(scope="module")
def session(link):
    session = DeviceSession(link, timeout=2.0)
    session.hello()
    return session


def test_hello_reports_the_f746_budgets(session):
    info = session.hello()
    assert info.board == "f746-qemu"
    assert info.sram_bytes == 320 * 1024
    assert info.flash_bytes == 1024 * 1024
    assert 0 < info.arena_bytes < info.sram_bytes
    assert info.max_payload == MAX_PAYLOAD
    assert info.firmware_version == "0.1.0"
    assert info.plan_hash is None
    # internal sectors 4-7 for a package; a COMMIT record in a 256 KB slot of the QSPI flash less its header
    assert (info.model_area_bytes, info.param_store_bytes) == (896 * 1024, 256 * 1024 - 56)


@pytest.mark.parametrize("size", [0, 1, 254, 255, 600, MAX_PAYLOAD])
def test_ping_echoes_payloads_of_every_size(session, size):
    payload = bytes(random.Random(size).randrange(0, 4) for _ in range(size))  # many zeros for COBS
    session.ping(payload)


def test_many_full_frames_back_to_back(session):
    """The interrupt-driven receive keeps up with a stream of maximum-size frames."""
    for i in range(20):
        session.ping(bytes([i]) * MAX_PAYLOAD)


def _device_model(session) -> Responder:
    """The protocol's model of a device with this one's identity and flash (INFO)."""
    info = session.hello()
    identity = BoardIdentity(info.board, info.sram_bytes, info.flash_bytes, info.arena_bytes, info.core_clock_hz)
    return Responder(identity, model_area_bytes=info.model_area_bytes, store_capacity=info.param_store_bytes)


_VECTORS = vectors.all_vectors()


@pytest.mark.parametrize("index", range(len(_VECTORS)), ids=[v.name for v in _VECTORS])
def test_golden_vector_on_the_device(session, link, index):
    """The firmware answers each golden vector byte for byte as the Python model does.

    A sync sequence first puts the device and a fresh model in the same state.
    """
    vector = _VECTORS[index]
    model = _device_model(session)
    sync = vectors.sync_sequence(0x7000 + 4 * index)
    sync_answer = model.feed(sync)
    expected = model.feed(vector.wire_in)

    link.reset_input()
    link.write(sync)
    assert link.read(len(sync_answer), timeout=5.0) == sync_answer
    link.write(vector.wire_in)
    assert link.read(len(expected), timeout=10.0) == expected
    assert link.read_available(timeout=0.2) == b"", "device sent more than one answer per frame"


def test_upload_across_flash_sectors(session):
    """A package larger than one sector lands intact (the device checks its CRC before it
    refuses the bytes as a plan). The golden vectors may have left a plan loaded: these bytes
    replace its model."""
    package = random.Random(3).randbytes(300 * 1024 + 6)
    with pytest.raises(DeviceError) as err:
        session.upload(package, replace_model=True)
    assert err.value.status == Status.BAD_PLAN


class _LinkLost(Exception):
    """The technician's laptop goes away in the middle of a transfer."""


def test_upload_resumes_after_the_connection_drops(tmp_path):
    """The emulator's UART takes one connection at a time, so this test boots its own."""
    package = random.Random(4).randbytes(20 * 1024)
    sent: list[int] = []

    def lose_link_after_8_chunks(done: int, total: int) -> None:
        sent.append(done)
        if len(sent) == 8:
            raise _LinkLost

    with Emulator(resolve("f746-qemu"), log_path=tmp_path / "log") as emulator:
        with SerialTransport(emulator.url) as link, pytest.raises(_LinkLost):
            DeviceSession(link, timeout=2.0).upload(package, progress=lose_link_after_8_chunks)
        resumed: list[int] = []
        with SerialTransport(emulator.url) as link:
            session = DeviceSession(link, timeout=2.0)
            session.hello()
            with pytest.raises(DeviceError) as err:  # all bytes stored, but they are no plan
                session.upload(package, progress=lambda done, total: resumed.append(done))
            assert err.value.status == Status.BAD_PLAN
    assert resumed[0] == sent[-1] + 1020, "the bytes the device already had were sent again"


def test_noise_never_wedges_the_device(session, link):
    """Random bytes (with and without delimiters) then a valid request: it is answered."""
    rng = random.Random(7)
    for round_ in range(5):
        noise = bytes(rng.choice((0, rng.randrange(1, 256))) if round_ % 2 else rng.randrange(1, 256)
                      for _ in range(4000))
        link.write(noise)
        session.ping(b"still here %d" % round_)


def test_unknown_opcode_is_an_error_status_not_a_crash(session):
    with pytest.raises(DeviceError) as err:
        session.request(0x55)
    assert err.value.status == Status.UNKNOWN_OPCODE
    session.ping(b"after error")


def test_firmware_never_faulted(session, emulator):
    session.ping()
    assert emulator.process.poll() is None, emulator.log_tail()
    assert "fault" not in emulator.log_text().lower(), emulator.log_tail()

