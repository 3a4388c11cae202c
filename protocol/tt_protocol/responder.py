"""The device's answering rules, executable in Python.

This is the behaviour ``firmware/src/proto.c`` implements, written as plainly as
possible: the golden vectors are generated from it, and host tests use it as a fake
device behind an in-process transport. For every frame the decoder completes it
produces exactly one answer:

1. a framing failure (bad COBS, too large, too short, bad CRC): ERROR with
   ``SEQ_UNKNOWN``, since nothing in the header can be trusted;
2. a byte-identical repeat of the previous request (same seq and CRC): the previous
   answer again, without executing twice (the host retransmits after a lost answer);
3. a wrong protocol version, a length field that disagrees with the frame, an unknown
   opcode, a malformed payload: ERROR with the request's seq and opcode;
4. otherwise the opcode's response.

``ErrorPayload.detail`` carries what the device expected: ``MAX_FRAME_BYTES`` for
TOO_LARGE, its ``PROTOCOL_VERSION`` for BAD_VERSION, the payload bytes that actually
arrived for TRUNCATED, the payload length the opcode takes for BAD_PAYLOAD.
"""

from __future__ import annotations

import dataclasses

from .frame import (
    CRC_BYTES,
    HEADER_BYTES,
    MAX_FRAME_BYTES,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    SEQ_UNKNOWN,
    ErrorPayload,
    Header,
    InfoPayload,
    Opcode,
    encode_frame,
    to_wire,
)
from .status import Status
from .stream import FrameDecoder

FIRMWARE_VERSION = (0, 1, 0)


@dataclasses.dataclass(frozen=True)
class BoardIdentity:
    """What a device reports about itself in INFO."""

    name: str
    sram_bytes: int
    flash_bytes: int
    arena_bytes: int
    core_clock_hz: int


def error_frame(status: Status, seq: int, opcode: int = 0, detail: int = 0) -> bytes:
    payload = ErrorPayload.build(dict(status=int(status), opcode=opcode, detail=detail))
    return encode_frame(Opcode.ERROR, seq, payload)


def info_payload(board: BoardIdentity, plan_hash: bytes = bytes(32)) -> bytes:
    major, minor, patch = FIRMWARE_VERSION
    return InfoPayload.build(
        dict(
            protocol_version=PROTOCOL_VERSION,
            firmware_version=dict(major=major, minor=minor, patch=patch),
            board=board.name.encode("ascii").ljust(16, b"\0"),
            sram_bytes=board.sram_bytes,
            flash_bytes=board.flash_bytes,
            arena_bytes=board.arena_bytes,
            core_clock_hz=board.core_clock_hz,
            max_payload=MAX_PAYLOAD,
            plan_hash=plan_hash,
        )
    )


class Responder:
    """A device that speaks the protocol: ``feed(wire bytes) -> wire bytes answered``."""

    def __init__(self, board: BoardIdentity) -> None:
        self.board = board
        self._decoder = FrameDecoder()
        self._last: tuple[int, bytes, bytes] | None = None  # (seq, crc bytes, answer)

    def feed(self, data: bytes) -> bytes:
        return b"".join(to_wire(self._answer(event)) for event in self._decoder.feed(data))

    def _answer(self, event) -> bytes:
        if event.status != Status.OK:
            detail = MAX_FRAME_BYTES if event.status == Status.TOO_LARGE else 0
            return error_frame(event.status, SEQ_UNKNOWN, detail=detail)
        request = event.frame
        header = Header.parse(request)
        crc = request[-CRC_BYTES:]
        if self._last is not None and self._last[:2] == (header.seq, crc):
            return self._last[2]
        answer = self._execute(header, request[HEADER_BYTES:-CRC_BYTES])
        self._last = (header.seq, crc, answer)
        return answer

    def _execute(self, header, payload: bytes) -> bytes:
        seq, opcode = header.seq, header.opcode
        if header.version != PROTOCOL_VERSION:
            return error_frame(Status.BAD_VERSION, seq, opcode, PROTOCOL_VERSION)
        if header.length != len(payload):
            return error_frame(Status.TRUNCATED, seq, opcode, len(payload))
        if opcode == Opcode.HELLO:
            if payload:
                return error_frame(Status.BAD_PAYLOAD, seq, opcode, 0)
            return encode_frame(Opcode.INFO, seq, info_payload(self.board))
        if opcode == Opcode.PING:
            return encode_frame(Opcode.PONG, seq, payload)
        return error_frame(Status.UNKNOWN_OPCODE, seq, opcode, 0)
