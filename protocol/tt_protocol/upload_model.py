"""The Python model of the device's package transfer into its model area, for the
:class:`~tt_protocol.responder.Responder`."""

from __future__ import annotations

import zlib

from .frame import LoadChunkHeader, LoadDonePayload, LoadProgressPayload
from .status import Status


class UploadModel:
    """The model area and the transfer into it (``firmware/src/upload.c``).

    ``area`` holds what flash holds: the bytes of the last transfer that reached the area
    (a new transfer's first chunk erases the old package), 0xFF past them.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.area = bytearray()
        self.total = self.crc = self.received = 0
        self.active = self.complete = False

    def progress(self) -> bytes:
        return LoadProgressPayload.build(dict(received=self.received, capacity=self.capacity))

    def begin(self, total: int, crc: int) -> bool:
        """Start a transfer, or resume the same one; True when it resumes."""
        if self.active and (self.total, self.crc) == (total, crc):
            return True
        self.total, self.crc, self.received = total, crc, 0
        self.active, self.complete = True, False
        return False

    def chunk(self, payload: bytes) -> tuple[Status, int, bytes]:
        if len(payload) < LoadChunkHeader.sizeof():
            return Status.BAD_PAYLOAD, LoadChunkHeader.sizeof(), b""
        if not self.active:
            return Status.NO_TRANSFER, 0, b""
        offset = LoadChunkHeader.parse(payload).offset
        data = payload[LoadChunkHeader.sizeof():]
        if offset != self.received:
            return Status.OUT_OF_ORDER, self.received, b""
        left = self.total - self.received
        if len(data) > left or (len(data) % 4 and len(data) != left):
            return Status.BAD_PAYLOAD, left, b""
        if self.received == 0 and data:  # the device erases a sector when a chunk first reaches it
            self.area.clear()
        self.area += data
        self.received += len(data)
        self.complete = False
        return Status.OK, 0, self.progress()

    def end(self, payload: bytes) -> tuple[Status, int, bytes]:
        if payload:
            return Status.BAD_PAYLOAD, 0, b""
        if not self.active:
            return Status.NO_TRANSFER, 0, b""
        if self.received != self.total:
            return Status.OUT_OF_ORDER, self.received, b""
        crc = zlib.crc32(self.area[:self.total]) & 0xFFFFFFFF
        if crc != self.crc:
            self.active = False
            return Status.BLOB_CORRUPT, crc, b""
        self.complete = True
        return Status.OK, 0, LoadDonePayload.build(dict(total_bytes=self.total, crc32=self.crc))
