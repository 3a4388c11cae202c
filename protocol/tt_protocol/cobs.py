"""Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).

COBS removes every zero byte from a frame so that 0x00 can delimit frames on the wire:
a receiver that lost sync (noise, a reset, a cable plugged in mid-frame) is back in step
at the next zero. The overhead is one byte per 254 bytes of data, plus one.

Encoding: the data is cut at each zero (and after each run of 254 non-zero bytes); each
block is written as ``len(block) + 1`` followed by the block, and the zero that ended it
is implied. A block of 254 bytes (code 0xFF) implies no zero.
"""

from __future__ import annotations

from tt_protocol.errors import MalformedBytes

MAX_BLOCK = 254


class CobsError(MalformedBytes):
    """The bytes are not a valid COBS encoding."""


def encoded_size_max(n: int) -> int:
    """Largest encoding of ``n`` data bytes, without the delimiter."""
    return n + n // MAX_BLOCK + 1


def encode(data: bytes) -> bytes:
    """COBS-encode ``data``; the result contains no zero byte and no delimiter."""
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
            continue
        block.append(byte)
        if len(block) == MAX_BLOCK:
            out.append(0xFF)
            out += block
            block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def decode(encoded: bytes) -> bytes:
    """Invert :func:`encode`; raises :class:`CobsError` on a zero byte or a short block."""
    out = bytearray()
    i = 0
    while i < len(encoded):
        code = encoded[i]
        if code == 0:
            raise CobsError(f"zero byte at offset {i} inside a COBS frame")
        block = encoded[i + 1 : i + code]
        if len(block) != code - 1 or 0 in block:
            raise CobsError(f"block at offset {i} announces {code - 1} bytes, got {len(block)}")
        out += block
        i += code
        if code != 0xFF and i < len(encoded):
            out.append(0)
    return bytes(out)
