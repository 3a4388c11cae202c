"""Golden protocol vectors: wire bytes sent to a fresh device and the exact bytes it answers.

Written once here, checked against the Python :class:`~tt_protocol.responder.Responder`
and generated into ``firmware/tests/protocol_vectors.h`` for the C tests, so the firmware,
the Python model and these expectations cannot disagree silently.
"""

from __future__ import annotations

import dataclasses
import random

from . import cobs
from .frame import DELIMITER, MAX_PAYLOAD, PROTOCOL_VERSION, Opcode, crc32, encode_frame, to_wire
from .responder import BoardIdentity, Responder

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
    ]


def all_vectors() -> list[ProtocolVector]:
    out = []
    for name, description, wire_in in _inputs():
        wire_out = Responder(VECTOR_BOARD).feed(wire_in)
        out.append(ProtocolVector(name, description, wire_in, wire_out))
    return out
