"""Streaming frame decoder: the receive side of the framing, for whichever end reads.

It mirrors ``tt_frame_decoder_push`` in the firmware event for event (the golden vectors
hold both to the same answers): bytes accumulate until a delimiter, then the frame is
COBS-decoded, size-checked and CRC-checked. A frame that outgrows ``capacity`` is
dropped as it arrives, so a babbling peer cannot make the reader buffer without bound.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from .frame import CRC_BYTES, MAX_FRAME_BYTES, MIN_FRAME_BYTES, crc32
from .status import Status


@dataclasses.dataclass(frozen=True)
class FrameEvent:
    """One delimited frame: its decoded bytes when ``status`` is OK, else why it was dropped."""

    status: Status
    frame: bytes = b""


class FrameDecoder:
    """Feed bytes with :meth:`feed`; iterate the complete frames it yields.

    COBS is undone byte by byte as in the firmware, so "too large" means the decoded
    frame outgrew ``capacity``, and it takes precedence over every other verdict.
    """

    def __init__(self, capacity: int = MAX_FRAME_BYTES) -> None:
        self.capacity = capacity
        self._frame = bytearray()
        self._block_code = 0  # code byte of the current block; 0 between frames
        self._block_left = 0  # data bytes still due in the current block
        self._overflow = False

    def feed(self, data: bytes) -> Iterator[FrameEvent]:
        for byte in data:
            if byte == 0:
                event = self._finish()
                if event is not None:
                    yield event
            elif self._block_code == 0:
                self._frame.clear()
                self._start_block(byte)
            elif self._block_left == 0:
                if self._block_code != 0xFF:
                    self._append(0)  # the zero this block boundary stands for
                self._start_block(byte)
            else:
                self._append(byte)
                self._block_left -= 1

    def _start_block(self, code: int) -> None:
        self._block_code = code
        self._block_left = code - 1

    def _append(self, byte: int) -> None:
        if len(self._frame) == self.capacity:
            self._overflow = True
        if not self._overflow:
            self._frame.append(byte)

    def _finish(self) -> FrameEvent | None:
        started, overflow, block_left = self._block_code != 0, self._overflow, self._block_left
        self._block_code = self._block_left = 0
        self._overflow = False
        frame = bytes(self._frame)
        if overflow:
            return FrameEvent(Status.TOO_LARGE)
        if not started:
            return None  # empty frame: a delimiter used to resynchronise
        if block_left != 0:
            return FrameEvent(Status.BAD_FRAMING)
        if len(frame) < MIN_FRAME_BYTES:
            return FrameEvent(Status.TRUNCATED)
        if crc32(frame[:-CRC_BYTES]) != int.from_bytes(frame[-CRC_BYTES:], "little"):
            return FrameEvent(Status.BAD_CRC)
        return FrameEvent(Status.OK, frame)
