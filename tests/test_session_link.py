"""The link's rate and compressed samples, over the protocol model behind a fake cable.

The cable carries bytes only while both ends run at the same rate and that rate is one the
cable (an ST-LINK's virtual COM port, say) can carry; otherwise it drops them, as a UART
receiving at the wrong rate produces nothing a frame decoder accepts. The device model keeps
its confirm window on a clock the tests shorten.
"""

from __future__ import annotations

import random

import pytest
from tt_protocol import packbits
from tt_protocol.frame import DEFAULT_BAUD, Opcode, SampleDataHeader, SamplePackedHeader
from tt_protocol.responder import Responder
from tt_protocol.status import Status
from tt_protocol.vectors import VECTOR_BOARD

from tt_host.errors import DeviceError
from tt_host.link import session as session_mod
from tt_host.link.session import DeviceSession
from tt_host.link.transport import LoopbackTransport

RATES = (921_600, 460_800, 230_400)
#: The device model's confirm window in these tests (the firmware's is 1 s).
CONFIRM_MS = 100


class Cable:
    """A device model behind a cable that carries only ``carries`` (and 115,200)."""

    def __init__(self, device: Responder, carries: set[int]) -> None:
        self.device = device
        self.carries = carries | {DEFAULT_BAUD}
        self.transport = LoopbackTransport(self.feed)
        self.asked: list[int] = []  #: SET_BAUD rates the device heard

    def _through(self) -> bool:
        rate = self.transport.baud
        return rate == self.device.baud and rate in self.carries

    def feed(self, data: bytes) -> bytes:
        self.device.poll()  # the firmware's main loop runs whether bytes arrive or not
        if not self._through():
            return b""
        before = self.device.baud
        answer = self.device.feed(data)
        if self.device.baud != before and self.device.baud != DEFAULT_BAUD:
            self.asked.append(self.device.baud)
        return answer


@pytest.fixture(autouse=True)
def short_revert_margin(monkeypatch):
    monkeypatch.setattr(session_mod, "REVERT_MARGIN_S", 0.05)


def _cable(carries: set[int], device: Responder | None = None) -> Cable:
    return Cable(device or Responder(VECTOR_BOARD, confirm_ms=CONFIRM_MS), carries)


def _session(cable: Cable, rates=RATES) -> DeviceSession:
    return DeviceSession(cable.transport, timeout=0.2, link_rates=rates)


def test_hello_negotiates_the_fastest_rate_the_cable_carries() -> None:
    cable = _cable({921_600, 460_800, 230_400})
    session = _session(cable)
    session.hello()
    assert session.baud == cable.transport.baud == cable.device.baud == 921_600
    session.ping(b"fast")
    assert cable.asked == [921_600]


def test_a_rate_the_cable_drops_falls_back_to_the_next_lower_one() -> None:
    cable = _cable({460_800})
    session = _session(cable)
    session.hello()
    # 921,600 was switched to, unanswered, given up by the device after its window; 460,800 held.
    assert cable.asked == [921_600, 460_800]
    assert session.baud == cable.device.baud == 460_800
    session.ping(b"x" * 100)
    session.hello()  # again (a stream does): the rate that failed is not tried twice
    assert cable.asked == [921_600, 460_800] and session.baud == 460_800


def test_no_rate_carried_leaves_the_link_at_115200() -> None:
    cable = _cable(set())
    session = _session(cable)
    session.hello()
    assert cable.asked == list(RATES)
    assert session.baud == cable.device.baud == DEFAULT_BAUD
    session.ping()


def test_a_rate_the_device_cannot_make_is_skipped() -> None:
    cable = _cable({460_800})
    session = _session(cable, rates=(7_000_000, 460_800))
    with pytest.raises(DeviceError) as refused:
        session.set_baud(7_000_000)
    assert refused.value.status == Status.BAD_PAYLOAD and refused.value.detail == 108_000_000 // 16
    assert session.negotiate_baud(session.link_rates) == 460_800
    assert cable.asked == [460_800]


def test_restore_returns_both_ends_to_115200_and_reset_too() -> None:
    cable = _cable({921_600})
    session = _session(cable)
    session.hello()
    session.restore_baud()
    assert session.baud == cable.transport.baud == cable.device.baud == DEFAULT_BAUD
    session.hello()
    session.reset()  # the device boots at 115,200: the host follows
    assert session.baud == cable.device.baud == DEFAULT_BAUD
    session.hello()


def test_hello_finds_a_device_a_previous_host_left_at_another_rate() -> None:
    cable = _cable({921_600})
    _session(cable).hello()  # negotiated, then the host "died" without restoring
    assert cable.device.baud == 921_600
    late = DeviceSession(LoopbackTransport(cable.feed), timeout=0.2, link_rates=RATES)
    cable.transport = late.transport
    late.hello()
    assert late.baud == 921_600


def test_a_lost_set_baud_answer_waits_for_the_device_to_return() -> None:
    class LosesTheAnswer(Cable):
        def feed(self, data: bytes) -> bytes:
            answer = super().feed(data)
            return b"" if self.device.baud != DEFAULT_BAUD else answer  # the switch's answer is lost

    device = Responder(VECTOR_BOARD, confirm_ms=CONFIRM_MS)
    cable = LosesTheAnswer(device, {921_600})
    session = _session(cable, rates=(921_600,))
    session.hello()
    assert session.baud == device.baud == DEFAULT_BAUD
    session.ping()


def test_firmware_without_set_baud_or_packed_samples_keeps_working() -> None:
    class Old(Responder):
        _HANDLERS = {k: v for k, v in Responder._HANDLERS.items()
                     if k not in (Opcode.SET_BAUD, Opcode.SAMPLE_PACKED)}

    cable = _cable({921_600}, Old(VECTOR_BOARD, confirm_ms=CONFIRM_MS))
    session = _session(cable)
    session.hello()
    assert session.baud == DEFAULT_BAUD


def test_sample_chunks_go_packed_only_when_that_saves_bytes() -> None:
    session = DeviceSession(LoopbackTransport(lambda data: b""), timeout=0.01)
    session.sample_stride = 3
    flat = bytes(3000)
    opcode, payload = session._sample_chunk(flat, 0)
    head = SamplePackedHeader.parse(payload)
    assert opcode == Opcode.SAMPLE_PACKED and head.decoded == 3000 and len(payload) < 60
    # A smooth ramp: its deltas to the same channel of the pixel to the left are runs.
    ramp = bytes((i // 3) % 256 for i in range(3000))
    opcode, payload = session._sample_chunk(ramp, 300)
    head = SamplePackedHeader.parse(payload)
    assert opcode == Opcode.SAMPLE_PACKED and head.stride == 3 and head.offset == 300
    stream = payload[SamplePackedHeader.sizeof():]
    assert packbits.undelta(packbits.decode(stream), 3) == ramp[300:300 + head.decoded]
    noise = random.Random(1).randbytes(3000)
    opcode, payload = session._sample_chunk(noise, 0)
    assert opcode == Opcode.SAMPLE_DATA and payload[SampleDataHeader.sizeof():] == noise[:1020]
