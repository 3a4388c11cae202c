"""Golden protocol vectors: wire bytes sent to a fresh device and the exact bytes it answers.

Written once here, checked against the Python :class:`~tt_protocol.responder.Responder`
and generated into ``firmware/tests/protocol_vectors.h`` for the C tests, so the firmware,
the Python model and these expectations cannot disagree silently.
"""

from __future__ import annotations

import dataclasses
import random

from . import cobs
from .frame import (
    DELIMITER,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    LoadBeginPayload,
    LoadChunkHeader,
    Opcode,
    crc32,
    encode_frame,
    to_wire,
)
from .responder import MODEL_AREA_BYTES, BoardIdentity, Responder

VECTOR_BOARD = BoardIdentity(
    name="vector-board", sram_bytes=327680, flash_bytes=1048576, arena_bytes=229376, core_clock_hz=216000000
)


@dataclasses.dataclass(frozen=True)
class ProtocolVector:
    name: str
    description: str
    wire_in: bytes
    wire_out: bytes


def _ping(seq: int, payload: bytes = b"") -> bytes:
    return to_wire(encode_frame(Opcode.PING, seq, payload))


def _begin(seq: int, package: bytes, crc: int | None = None) -> bytes:
    payload = LoadBeginPayload.build(dict(total_bytes=len(package), crc32=crc32(package) if crc is None else crc))
    return to_wire(encode_frame(Opcode.LOAD_BEGIN, seq, payload))


def _chunk(seq: int, offset: int, data: bytes) -> bytes:
    return to_wire(encode_frame(Opcode.LOAD_CHUNK, seq, LoadChunkHeader.build(dict(offset=offset)) + data))


def _end(seq: int, payload: bytes = b"") -> bytes:
    return to_wire(encode_frame(Opcode.LOAD_END, seq, payload))


def _upload_inputs() -> list[tuple[str, str, bytes]]:
    pkg = bytes(range(1, 11))  # 10 bytes: two word chunks would leave a 2-byte tail
    other = b"another package!"
    huge = LoadBeginPayload.build(dict(total_bytes=MODEL_AREA_BYTES + 1, crc32=0))
    return [
        ("upload", "begin, two chunks (the last ends mid-word), end",
         _begin(30, pkg) + _chunk(31, 0, pkg[:8]) + _chunk(32, 8, pkg[8:]) + _end(33)),
        ("upload_resume", "beginning the same package again resumes it",
         _begin(34, pkg) + _chunk(35, 0, pkg[:8]) + _begin(36, pkg) + _chunk(37, 8, pkg[8:]) + _end(38)),
        ("upload_restart", "beginning another package starts over",
         _begin(39, pkg) + _chunk(40, 0, pkg[:8]) + _begin(41, other) + _chunk(42, 8, other[:8])),
        ("upload_out_of_order", "a chunk past the next expected byte", _begin(43, pkg) + _chunk(44, 4, pkg[4:8])),
        ("upload_unaligned", "a chunk that is not a word multiple and not the last",
         _begin(45, pkg) + _chunk(46, 0, pkg[:6])),
        ("upload_overrun", "a chunk beyond the announced size", _begin(47, pkg) + _chunk(48, 0, pkg + b"xx")),
        ("upload_no_transfer", "chunk and end before any begin", _chunk(49, 0, pkg[:4]) + _end(50)),
        ("upload_no_space", "a package larger than the model area",
         to_wire(encode_frame(Opcode.LOAD_BEGIN, 51, huge))),
        ("upload_corrupt", "the stored bytes do not match the announced CRC; the transfer is abandoned",
         _begin(52, pkg, crc=0x12345678) + _chunk(53, 0, pkg[:8]) + _chunk(54, 8, pkg[8:]) + _end(55) + _end(56)),
        ("upload_end_early", "end before every byte arrived", _begin(57, pkg) + _chunk(58, 0, pkg[:8]) + _end(59)),
        ("upload_bad_payloads", "malformed begin, chunk and end payloads",
         to_wire(encode_frame(Opcode.LOAD_BEGIN, 60, b"\0" * 7))
         + to_wire(encode_frame(Opcode.LOAD_BEGIN, 61, LoadBeginPayload.build(dict(total_bytes=0, crc32=0))))
         + to_wire(encode_frame(Opcode.LOAD_CHUNK, 62, b"\0" * 3)) + _end(63, b"?")),
    ]  # fmt: skip


def _corrupt_crc(frame: bytes) -> bytes:
    return frame[:-1] + bytes([frame[-1] ^ 0x5A])


def _inputs() -> list[tuple[str, str, bytes]]:
    rng = random.Random(2026)
    pattern = bytes(i % 251 for i in range(MAX_PAYLOAD))  # includes zeros and 0xFF-block runs
    garbage = bytes(rng.randrange(1, 256) for _ in range(300))
    ping = encode_frame(Opcode.PING, 9, b"abc")
    # The header claims 9 payload bytes, 4 follow, and the CRC is right: only the length lies.
    length_lies = encode_frame(Opcode.PING, 10, b"abcd")[:4] + bytes([9, 0]) + b"abcd"
    length_lies += crc32(length_lies).to_bytes(4, "little")
    return [
        ("hello", "HELLO answers INFO with the board's identity", to_wire(encode_frame(Opcode.HELLO, 1))),
        ("ping_empty", "PING with no payload", _ping(2)),
        ("ping_zeros", "payload with zero bytes survives COBS", _ping(3, b"\0a\0\0b\0")),
        ("ping_max", "largest payload", _ping(4, pattern)),
        ("ping_no_leading_delimiter", "frames need only the trailing delimiter", _ping(5)[1:]),
        ("empty_frames", "runs of delimiters are ignored", b"\0\0\0\0"),
        ("too_large", "one byte over the payload limit", _ping(6, pattern + b"x")),
        ("bad_crc", "a flipped CRC byte", to_wire(_corrupt_crc(ping))),
        ("truncated", "shorter than header plus CRC", DELIMITER + cobs.encode(b"\x01\x02\x03") + DELIMITER),
        ("bad_cobs", "a delimiter inside a COBS block", b"\0\x05ab\0"),
        ("length_mismatch", "valid CRC, but the length field lies", to_wire(length_lies)),
        ("wrong_version", "a header from a future protocol", to_wire(encode_frame(Opcode.PING, 11, b"v", PROTOCOL_VERSION + 1))),
        ("unknown_opcode", "a request this firmware lacks", to_wire(encode_frame(0x55, 12))),
        ("response_as_request", "a response opcode sent to the device", to_wire(encode_frame(Opcode.PONG, 13))),
        ("hello_with_payload", "HELLO takes no payload", to_wire(encode_frame(Opcode.HELLO, 14, b"?"))),
        ("retransmission", "a repeated request is answered twice, executed once", _ping(15, b"r") + _ping(15, b"r")),
        ("same_seq_new_request", "same seq, different bytes: a new request", _ping(16, b"a") + _ping(16, b"b")),
        ("garbage_then_ping", "noise without delimiters, then a valid request", garbage + _ping(17, b"after")),
        ("noise_with_zeros", "random bytes with delimiters, then a valid request",
         bytes(rng.choice((0, rng.randrange(1, 256))) for _ in range(200)) + _ping(18)),
        ("long_garbage", "noise far beyond the buffer, then a valid request",
         bytes(rng.randrange(1, 256) for _ in range(3000)) + _ping(19)),
        *_upload_inputs(),
    ]


def sync_sequence(seq: int) -> bytes:
    """Wire bytes that bring any device into the state of a fresh one, as far as the
    vectors can tell: no upload in progress (a transfer abandoned by a bad CRC) and a HELLO
    as the last request. Uses sequence numbers ``seq`` to ``seq + 3``."""
    word = seq.to_bytes(4, "little")
    abandon = _begin(seq, word, crc=crc32(word) ^ 1) + _chunk(seq + 1, 0, word) + _end(seq + 2)
    return abandon + to_wire(encode_frame(Opcode.HELLO, seq + 3))


def all_vectors() -> list[ProtocolVector]:
    out = []
    for name, description, wire_in in _inputs():
        wire_out = Responder(VECTOR_BOARD).feed(wire_in)
        out.append(ProtocolVector(name, description, wire_in, wire_out))
    return out
