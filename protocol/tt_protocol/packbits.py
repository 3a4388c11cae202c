"""The compression of SAMPLE_PACKED: PackBits runs over the bytes or their left-neighbour deltas.

Chosen by measurement (``bench/sample_codecs.py``, chunks of one frame, each decodable on
its own): on the camera samples PackBits alone gives 2.56x at the demo's 32x32x3 and 2.95x at
128x128x3 (their dark backgrounds are runs), PackBits over the deltas to the same channel of
the pixel to the left 2.41x and 3.57x (an upscaled image is smooth), the better of the two per
chunk 2.56x and 3.59x. A Rice code of the deltas (1.63x, 2.47x) and zlib (2.21x, 2.70x) do
worse here and need a bit-level or a windowed decoder; PackBits decodes with a copy or a fill
per run, straight into the executor.

A stream is a sequence of runs, each led by a control byte ``n``:

- ``n`` < 0x80: a literal run, the ``n + 1`` bytes that follow;
- ``n`` > 0x80: a repeat run, the one byte that follows ``257 - n`` times (2 to 128);
- ``n`` = 0x80 is malformed (every run has one spelling), and so is a run cut short by the
  end of the stream.

With a ``stride`` s > 0 the decoded bytes are differences: data[i] = decoded[i] + data[i - s]
(mod 256), where bytes before the chunk count as 0, so each chunk decodes on its own.
"""

from __future__ import annotations

import numpy as np

from .errors import MalformedBytes

#: Longest run one control byte describes.
MAX_RUN = 128
#: Shortest repeat worth a repeat run: two equal bytes cost as much as literals.
MIN_REPEAT = 3


class PackedInvalid(MalformedBytes):
    """A stream that is not valid PackBits; ``at`` is the stream byte where decoding failed."""

    def __init__(self, at: int, message: str) -> None:
        super().__init__(message)
        self.at = at


def delta(data: bytes, stride: int) -> bytes:
    """Each byte minus the one ``stride`` before it (mod 256); the first ``stride`` kept."""
    x = np.frombuffer(data, dtype=np.uint8)
    d = x.copy()
    if stride:
        d[stride:] = x[stride:] - x[:-stride]
    return d.tobytes()


def undelta(data: bytes, stride: int) -> bytes:
    """The inverse of :func:`delta`."""
    if not stride:
        return bytes(data)
    out = bytearray(data)
    for i in range(stride, len(out)):
        out[i] = (out[i] + out[i - stride]) & 0xFF
    return bytes(out)


def _runs(data: bytes) -> list[tuple[int, int]]:
    """``(start, length)`` of each run of equal bytes."""
    x = np.frombuffer(data, dtype=np.uint8)
    if not len(x):
        return []
    starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
    lengths = np.diff(np.append(starts, len(x)))
    return list(zip(starts.tolist(), lengths.tolist()))


def encode(data: bytes, budget: int) -> tuple[bytes, int]:
    """Encode the longest prefix of ``data`` whose stream fits ``budget`` bytes;
    ``(stream, bytes of data it holds)``."""
    out = bytearray()
    literal_start = 0  # the pending literal bytes are data[literal_start:pos]
    pos = 0

    def flush_literals(end: int) -> bool:
        """Emit data[literal_start:end] as literal runs, as much as fits; False once full."""
        nonlocal literal_start
        while literal_start < end:
            n = min(end - literal_start, MAX_RUN, budget - len(out) - 1)
            if n <= 0:
                return False
            out.append(n - 1)
            out.extend(data[literal_start:literal_start + n])
            literal_start += n
        return True

    for start, length in _runs(data):
        if length < MIN_REPEAT:
            continue  # joins the pending literals
        if not flush_literals(start):
            return bytes(out), literal_start
        pos = start
        while pos < start + length:
            n = min(start + length - pos, MAX_RUN)
            if len(out) + 2 > budget:
                return bytes(out), pos
            if n < MIN_REPEAT:  # the tail of a long run: literals cost the same
                break
            out += bytes((257 - n, data[pos]))
            pos += n
        literal_start = pos
    flush_literals(len(data))
    return bytes(out), literal_start


def decode(stream: bytes) -> bytes:
    """The bytes ``stream`` encodes; :class:`PackedInvalid` when it is malformed."""
    out = bytearray()
    i = 0
    while i < len(stream):
        n = stream[i]
        if n < 0x80:
            if i + 1 + n + 1 > len(stream):
                raise PackedInvalid(i, f"literal run of {n + 1} bytes at stream byte {i} runs past the end")
            out += stream[i + 1:i + n + 2]
            i += n + 2
        elif n > 0x80:
            if i + 1 >= len(stream):
                raise PackedInvalid(i, f"repeat run at stream byte {i} has no byte to repeat")
            out += bytes((stream[i + 1],)) * (257 - n)
            i += 2
        else:
            raise PackedInvalid(i, f"control byte 0x80 at stream byte {i}")
    return bytes(out)
