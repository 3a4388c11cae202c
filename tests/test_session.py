"""The device session against the Python model of the device, over a lossy loopback."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tt_host.errors import DeviceError, DeviceTimeout, ProtocolError
from tt_host.link.session import DeviceInfo, DeviceSession
from tt_host.link.transport import LoopbackTransport
from tt_protocol.frame import (
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    SEQ_UNKNOWN,
    Header,
    INFO_BASE_BYTES,
    InfoPayload,
    LoadBeginPayload,
    LoadChunkHeader,
    Opcode,
    crc32,
    encode_frame,
    to_wire,
)
from tt_protocol.responder import BoardIdentity, Responder, error_frame
from tt_protocol.status import Status
from tt_protocol.stream import FrameDecoder

BOARD = BoardIdentity(
    name="f746-qemu", sram_bytes=327680, flash_bytes=1048576, arena_bytes=229376, core_clock_hz=216000000
)

#: Short enough to keep the suite fast, long enough for an in-process reply.
TIMEOUT = 0.05


class Line:
    """A Responder behind a line whose faults the test scripts, exchange by exchange.

    ``request_faults[i]`` / ``answer_faults[i]`` transform the bytes of the i-th write and of
    the answer to it; ``writes`` records what the host sent.
    """

    def __init__(self) -> None:
        self.device = Responder(BOARD)
        self.writes: list[bytes] = []
        self.request_faults: dict[int, Callable[[bytes], bytes]] = {}
        self.answer_faults: dict[int, Callable[[bytes], bytes]] = {}

    def __call__(self, data: bytes) -> bytes:
        i = len(self.writes)
        self.writes.append(data)
        answer = self.device.feed(self.request_faults.get(i, _same)(data))
        return self.answer_faults.get(i, _same)(answer)


def _same(data: bytes) -> bytes:
    return data


def _flip(index: int) -> Callable[[bytes], bytes]:
    """Corrupt one byte (never into a delimiter, which would also change the framing)."""

    def fault(data: bytes) -> bytes:
        if not data:
            return data
        i = index % len(data)
        return data[:i] + bytes([data[i] ^ 0x01 if data[i] not in (0, 1) else 0x42]) + data[i + 1 :]

    return fault


def _drop(data: bytes) -> bytes:
    return b""


@pytest.fixture
def line() -> Line:
    return Line()


def _session(line: Line, **kwargs) -> DeviceSession:
    return DeviceSession(LoopbackTransport(line), timeout=TIMEOUT, **kwargs)


def _seqs(writes: list[bytes]) -> list[int]:
    return [Header.parse(e.frame).seq for w in writes for e in FrameDecoder().feed(w)]


def test_hello_reports_the_board(line: Line) -> None:
    info = _session(line).hello()
    assert info == DeviceInfo(
        board="f746-qemu",
        sram_bytes=327680,
        flash_bytes=1048576,
        arena_bytes=229376,
        core_clock_hz=216000000,
        max_payload=MAX_PAYLOAD,
        protocol_version=PROTOCOL_VERSION,
        firmware_version="0.1.0",
        plan_hash=None,
        model_area_bytes=896 * 1024,
        param_store_bytes=256 * 1024 - 56,
    )
    assert info.to_dict()["firmware_version"] == "0.1.0"


def test_plan_hash_is_hex_when_a_plan_is_loaded() -> None:
    payload = InfoPayload.build(
        dict(
            protocol_version=PROTOCOL_VERSION,
            firmware_version=dict(major=1, minor=2, patch=3),
            board=b"f746-disco".ljust(16, b"\0"),
            sram_bytes=1,
            flash_bytes=2,
            arena_bytes=3,
            core_clock_hz=4,
            max_payload=5,
            plan_hash=bytes(range(32)),
            model_hash=bytes(range(32, 64)),
            model_area_bytes=6,
            param_store_bytes=7,
        )
    )
    info = DeviceInfo.from_payload(payload + b"future fields")
    assert (info.board, info.firmware_version, info.plan_hash) == ("f746-disco", "1.2.3", bytes(range(32)).hex())
    assert info.model_hash == bytes(range(32, 64)).hex()
    assert (info.model_area_bytes, info.param_store_bytes) == (6, 7)
    # Firmware from before the limits were reported: they are unknown, not zero.
    older = DeviceInfo.from_payload(payload[:INFO_BASE_BYTES])
    assert older.model_hash == info.model_hash and (older.model_area_bytes, older.param_store_bytes) == (None, None)
    with pytest.raises(ProtocolError):
        DeviceInfo.from_payload(payload[:INFO_BASE_BYTES - 1])


@pytest.mark.parametrize("payload", [b"", b"\0\0\0", bytes(range(256)) * 4])
def test_ping_echoes(line: Line, payload: bytes) -> None:
    session = _session(line)
    session.hello()
    assert 0 < session.ping(payload) < 1.0
    assert len(line.writes) == 2


def test_oversized_payload_is_refused_before_sending(line: Line) -> None:
    with pytest.raises(ValueError):
        _session(line).ping(bytes(MAX_PAYLOAD + 1))
    assert line.writes == []


def test_every_frame_starts_with_a_delimiter(line: Line) -> None:
    session = _session(line)
    session.hello()
    session.ping(b"x")
    assert all(w.startswith(b"\0") and w.endswith(b"\0") for w in line.writes)


def test_seq_wraps_and_skips_seq_unknown(line: Line) -> None:
    session = _session(line, first_seq=SEQ_UNKNOWN - 2)
    for _ in range(4):
        session.ping()
    assert _seqs(line.writes) == [SEQ_UNKNOWN - 2, SEQ_UNKNOWN - 1, 0, 1]


def test_corrupted_request_is_retransmitted_unchanged(line: Line) -> None:
    line.request_faults[0] = _flip(7)  # the device answers ERROR BAD_CRC with SEQ_UNKNOWN
    session = _session(line)
    assert session.ping(b"payload") >= 0
    assert len(line.writes) == 2
    assert line.writes[0] == line.writes[1]


def test_lost_answer_is_recovered_from_the_device_cache(line: Line) -> None:
    line.answer_faults[0] = _drop  # executed, but the answer never arrives
    session = _session(line)
    session.ping(b"once")
    assert line.writes[0] == line.writes[1]


def test_corrupted_answer_is_dropped_then_retransmitted(line: Line) -> None:
    line.answer_faults[0] = _flip(9)
    assert _session(line).hello().board == "f746-qemu"
    assert len(line.writes) == 2


def test_noise_error_before_the_answer_needs_no_retransmission(line: Line) -> None:
    # Line noise in the device's buffer becomes an ERROR(SEQ_UNKNOWN) when our leading
    # delimiter arrives; our own answer follows in the same burst.
    line.request_faults[0] = lambda data: b"\x17\x42\x99" + data
    session = _session(line)
    session.ping(b"x")
    assert len(line.writes) == 1


def test_corrupted_request_is_resent_once_the_line_is_quiet(line: Line) -> None:
    line.request_faults[0] = _flip(3)
    session = DeviceSession(LoopbackTransport(line), timeout=10.0, quiet=0.02)
    start = time.monotonic()
    session.ping(b"fast recovery")
    assert time.monotonic() - start < 1.0  # not the 10 s timeout
    assert len(line.writes) == 2


def test_a_burst_of_noise_errors_before_the_answer_is_waited_out() -> None:
    """Errors for earlier noise arrive first, over several reads: no retransmission."""
    device = Responder(BOARD)
    noise_errors = device.feed(b"\x00\x05\x01\x00" * 5)  # five unreadable frames
    assert len(list(FrameDecoder().feed(noise_errors))) == 5
    writes: list[bytes] = []

    def answer_later(data: bytes) -> bytes:
        writes.append(data)
        answer = device.feed(data)
        threading.Timer(0.03, transport.inject, args=(noise_errors,)).start()
        threading.Timer(0.06, transport.inject, args=(answer,)).start()
        return noise_errors

    transport = LoopbackTransport(answer_later)
    DeviceSession(transport, timeout=2.0, quiet=0.2).ping(b"x")
    assert len(writes) == 1


def test_raw_opcodes_can_be_sent(line: Line) -> None:
    with pytest.raises(DeviceError) as caught:
        _session(line).request(0x55)
    assert caught.value.status == Status.UNKNOWN_OPCODE
    assert "opcode 0x55" in str(caught.value)


def test_stale_answers_are_dropped(line: Line) -> None:
    session = _session(line, first_seq=10)
    stale = to_wire(encode_frame(Opcode.PONG, 9, b"old")) + to_wire(error_frame(Status.BAD_PAYLOAD, 3, Opcode.PING))
    line.answer_faults[0] = lambda answer: stale + answer
    assert session.ping(b"new") >= 0
    assert len(line.writes) == 1


def test_late_duplicate_answer_does_not_confuse_the_next_request(line: Line) -> None:
    session = _session(line)
    line.answer_faults[0] = lambda answer: answer + answer  # e.g. answer to a retransmission
    session.ping(b"first")
    session.ping(b"second")
    assert len(line.writes) == 2


def test_silent_device_times_out_after_the_retries() -> None:
    writes: list[bytes] = []
    session = DeviceSession(LoopbackTransport(lambda b: writes.append(b) or b""), timeout=TIMEOUT, retries=2)
    with pytest.raises(DeviceTimeout, match="3 attempts"):
        session.hello()
    assert len(writes) == 3 and len(set(writes)) == 1


def test_persistent_framing_errors_exhaust_the_retries(line: Line) -> None:
    for i in range(4):
        line.request_faults[i] = _flip(5)
    with pytest.raises(DeviceTimeout):
        _session(line, retries=3).ping()
    assert len(line.writes) == 4


def test_device_error_carries_the_status(line: Line) -> None:
    session = _session(line)
    with pytest.raises(DeviceError) as caught:
        session.request(Opcode.HELLO, b"unexpected payload")
    assert caught.value.status == Status.BAD_PAYLOAD
    assert caught.value.opcode == Opcode.HELLO
    assert caught.value.exit_code == 64 + Status.BAD_PAYLOAD
    assert len(line.writes) == 1  # final: not retransmitted


def test_unknown_device_status_is_kept_raw() -> None:
    def device(data: bytes) -> bytes:
        seq = Header.parse(next(FrameDecoder().feed(data)).frame).seq
        return to_wire(error_frame(0x3E, seq, Opcode.PING, 7))  # type: ignore[arg-type]

    with pytest.raises(DeviceError) as caught:
        DeviceSession(LoopbackTransport(device), timeout=TIMEOUT).ping()
    assert (caught.value.status, caught.value.detail, caught.value.exit_code) == (0x3E, 7, 64 + 0x3E)


def _answering(opcode: int, payload: bytes = b"", version: int = PROTOCOL_VERSION) -> LoopbackTransport:
    def device(data: bytes) -> bytes:
        seq = Header.parse(next(FrameDecoder().feed(data)).frame).seq
        return to_wire(encode_frame(opcode, seq, payload, version))

    return LoopbackTransport(device)


def test_wrong_response_opcode_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="0x82"):
        DeviceSession(_answering(Opcode.PONG), timeout=TIMEOUT).hello()


def test_foreign_protocol_version_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match=f"version {PROTOCOL_VERSION + 1}"):
        DeviceSession(_answering(Opcode.PONG, version=PROTOCOL_VERSION + 1), timeout=TIMEOUT).ping()


def test_bad_echo_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        DeviceSession(_answering(Opcode.PONG, b"other"), timeout=TIMEOUT).ping(b"mine")


def test_hello_forgets_bytes_sent_before_the_session(line: Line) -> None:
    transport = LoopbackTransport(line)
    # A half frame and a complete stale answer, as left by a previous host process.
    transport.inject(to_wire(encode_frame(Opcode.INFO, 0, b"stale"))[:-3])
    session = DeviceSession(transport, timeout=TIMEOUT, first_seq=0)
    assert session.hello().board == "f746-qemu"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), loss=st.sampled_from([0.0, 0.1, 0.3]))
def test_lossy_line_never_yields_a_wrong_answer(seed: int, loss: float) -> None:
    """Whatever the line does, a request either gets its own answer or times out."""
    rng = random.Random(seed)

    def noisy(data: bytes) -> bytes:
        if rng.random() < loss:
            return b""
        if rng.random() < loss:
            return _flip(rng.randrange(1, 1 << 16))(data)
        return data

    device = Responder(BOARD)
    session = DeviceSession(LoopbackTransport(lambda b: noisy(device.feed(noisy(b)))), timeout=0.01, retries=4)
    for i in range(5):
        payload = rng.randbytes(rng.randrange(0, 64))
        try:
            assert session.ping(payload) >= 0  # ping() itself checks the echo
        except DeviceTimeout:
            assert loss > 0


# -- uploads ---------------------------------------------------------------------------------


def _package(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def test_upload_stores_the_package_and_reports_progress():
    device = Responder(BOARD)
    session = DeviceSession(LoopbackTransport(device.feed), timeout=1.0)
    package = _package(5 * 1020 + 7)  # five full chunks and a tail that ends mid-word
    seen = []
    with pytest.raises(DeviceError) as err:  # stored intact (the CRC held), but no plan
        session.upload(package, progress=lambda sent, total: seen.append((sent, total)))
    assert (err.value.status, err.value.detail) == (Status.BAD_PLAN, 2)  # Check.BAD_MAGIC
    assert device.upload.complete and bytes(device.upload.area) == package
    assert seen[-1] == (len(package), len(package)) and len(seen) == 6


def test_upload_resumes_in_a_new_session_where_the_device_stopped():
    device = Responder(BOARD)
    package = _package(4000)
    first = DeviceSession(LoopbackTransport(device.feed), timeout=1.0)
    first.request(Opcode.LOAD_BEGIN, LoadBeginPayload.build(
        dict(total_bytes=len(package), crc32=crc32(package), flags=0, model_hash=package[16:48])))
    for offset in (0, 1020):
        first.request(Opcode.LOAD_CHUNK, LoadChunkHeader.build(dict(offset=offset)) + package[offset : offset + 1020])
    # The connection drops; a new session uploads the same package.
    sent = []
    with pytest.raises(DeviceError):  # random bytes: BAD_PLAN once all of them are there
        DeviceSession(LoopbackTransport(device.feed), timeout=1.0).upload(package, progress=lambda s, t: sent.append(s))
    assert sent[0] == 2040 + 1020, "the first 2040 bytes were not sent again"
    assert bytes(device.upload.area) == package


def test_upload_refuses_a_package_larger_than_the_model_area():
    device = Responder(BOARD, model_area_bytes=4096)
    with pytest.raises(DeviceError) as err:
        DeviceSession(LoopbackTransport(device.feed), timeout=1.0).upload(_package(4097))
    assert err.value.status == Status.NO_SPACE and err.value.detail == 4096
    assert "is 4,097 B and the device's model area holds 4,096 B" in str(err.value)


def test_upload_reports_a_package_corrupted_in_storage():
    device = Responder(BOARD)
    session = DeviceSession(LoopbackTransport(device.feed), timeout=1.0)
    package = _package(3000)

    def corrupt(sent: int, total: int) -> None:
        device.upload.area[0] ^= 0xFF  # a flash bit flip

    with pytest.raises(DeviceError) as err:
        session.upload(package, progress=corrupt)
    assert err.value.status == Status.BLOB_CORRUPT


def test_wire_bytes_count_both_ways_and_every_retransmission(line: Line) -> None:
    """What a real UART has to carry: every request written (retransmissions too) and every
    answer byte read."""
    received: list[bytes] = []

    def kept(data: bytes) -> bytes:
        received.append(data)
        return data

    # the second exchange's answer is lost: its request goes out again
    line.answer_faults.update({0: kept, 1: _drop, 2: kept})
    session = _session(line)
    session.hello()
    session.ping(b"\x07" * 40)
    assert len(line.writes) == 3 and line.writes[1] == line.writes[2]
    assert session.wire_bytes == sum(map(len, line.writes)) + sum(map(len, received))
