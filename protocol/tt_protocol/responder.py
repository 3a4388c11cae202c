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

Uploads (LOAD_BEGIN, LOAD_CHUNK, LOAD_END) follow ``firmware/src/upload.c``: chunks in
order, each but the last a multiple of 4 bytes; beginning the same package again resumes
it; a refused request changes nothing, except a CRC mismatch at LOAD_END, which abandons
the transfer.

``ErrorPayload.detail`` carries what the device expected: ``MAX_FRAME_BYTES`` for
TOO_LARGE, its ``PROTOCOL_VERSION`` for BAD_VERSION, the payload bytes that actually
arrived for TRUNCATED, the payload length the opcode takes for BAD_PAYLOAD.
"""

from __future__ import annotations

import dataclasses

import zlib

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
    LoadBeginPayload,
    LoadChunkHeader,
    LoadDonePayload,
    LoadProgressPayload,
    Opcode,
    encode_frame,
    to_wire,
)
from .status import Status
from .stream import FrameDecoder

FIRMWARE_VERSION = (0, 1, 0)

#: The F746 boards' model area: flash sectors 6 and 7.
MODEL_AREA_BYTES = 512 * 1024


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

    def __init__(self, board: BoardIdentity, model_area_bytes: int = MODEL_AREA_BYTES) -> None:
        self.board = board
        self._decoder = FrameDecoder()
        self._last: tuple[int, bytes, bytes] | None = None  # (seq, crc bytes, answer)
        self.upload = _Upload(model_area_bytes)

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
        if opcode in (Opcode.LOAD_BEGIN, Opcode.LOAD_CHUNK, Opcode.LOAD_END):
            status, detail, answer = self.upload.handle(Opcode(opcode), payload)
            if status != Status.OK:
                return error_frame(status, seq, opcode, detail)
            return encode_frame(Opcode(opcode).response(), seq, answer)
        return error_frame(Status.UNKNOWN_OPCODE, seq, opcode, 0)


class _Upload:
    """The model area and the transfer into it (``firmware/src/upload.c``)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.stored = bytearray()
        self.total = self.crc = 0
        self.active = self.complete = False

    def _progress(self) -> bytes:
        return LoadProgressPayload.build(dict(received=len(self.stored), capacity=self.capacity))

    def handle(self, opcode: Opcode, payload: bytes) -> tuple[Status, int, bytes]:
        """``(status, detail, answer payload)`` for one LOAD_* request."""
        if opcode == Opcode.LOAD_BEGIN:
            if len(payload) != LoadBeginPayload.sizeof():
                return Status.BAD_PAYLOAD, LoadBeginPayload.sizeof(), b""
            begin = LoadBeginPayload.parse(payload)
            if begin.total_bytes == 0:
                return Status.BAD_PAYLOAD, LoadBeginPayload.sizeof(), b""
            if begin.total_bytes > self.capacity:
                return Status.NO_SPACE, self.capacity, b""
            if not (self.active and (self.total, self.crc) == (begin.total_bytes, begin.crc32)):
                self.total, self.crc = begin.total_bytes, begin.crc32
                self.stored.clear()
                self.active, self.complete = True, False
            return Status.OK, 0, self._progress()
        if opcode == Opcode.LOAD_CHUNK:
            if len(payload) < LoadChunkHeader.sizeof():
                return Status.BAD_PAYLOAD, LoadChunkHeader.sizeof(), b""
            if not self.active:
                return Status.NO_TRANSFER, 0, b""
            offset = LoadChunkHeader.parse(payload).offset
            data = payload[LoadChunkHeader.sizeof() :]
            if offset != len(self.stored):
                return Status.OUT_OF_ORDER, len(self.stored), b""
            left = self.total - len(self.stored)
            if len(data) > left or (len(data) % 4 and len(data) != left):
                return Status.BAD_PAYLOAD, left, b""
            self.stored += data
            self.complete = False
            return Status.OK, 0, self._progress()
        if payload:
            return Status.BAD_PAYLOAD, 0, b""
        if not self.active:
            return Status.NO_TRANSFER, 0, b""
        if len(self.stored) != self.total:
            return Status.OUT_OF_ORDER, len(self.stored), b""
        crc = zlib.crc32(self.stored) & 0xFFFFFFFF
        if crc != self.crc:
            self.active = False
            return Status.BLOB_CORRUPT, crc, b""
        self.complete = True
        return Status.OK, 0, LoadDonePayload.build(dict(total_bytes=self.total, crc32=self.crc))
