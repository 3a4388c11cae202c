"""A faulty cable for the tests: a TCP proxy between ``tt-host`` and an emulated board that drops,
corrupts and duplicates whole frames, each direction on its own, at seeded random rates.

Frames are cut at the wire's 0x00 delimiters (``tt_protocol.frame.to_wire``), so a fault hits one
frame as a long noisy cable would: a dropped frame never arrives, a corrupted one arrives with one
byte changed (its CRC, or its COBS coding, then fails), a duplicated one arrives twice. The
session's retransmission and the device's answer cache must make every request count once.
"""

from __future__ import annotations

import dataclasses
import random
import socket
import threading


@dataclasses.dataclass
class Faults:
    drop: float = 0.0  #: share of frames never delivered
    corrupt: float = 0.0  #: share delivered with one byte changed
    duplicate: float = 0.0  #: share delivered twice
    seed: int = 0
    counts: dict[str, int] = dataclasses.field(default_factory=lambda: {"frames": 0, "dropped": 0, "corrupted": 0,
                                                                         "duplicated": 0})


class FaultyLink:
    """Listens on ``url``; each client is connected to ``target`` (``socket://host:port``) through
    the faults. Use as a context manager."""

    def __init__(self, target: str, faults: Faults) -> None:
        host, port = target.removeprefix("socket://").rsplit(":", 1)
        self.target, self.faults = (host, int(port)), faults
        self._random = random.Random(faults.seed)
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> FaultyLink:
        return self

    def __exit__(self, *exc) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            device = socket.create_connection(self.target)
            for source, sink in ((client, device), (device, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        pending = bytearray()
        try:
            while data := source.recv(4096):
                pending += data
                while (end := pending.find(0)) >= 0:
                    frame, pending = bytes(pending[:end + 1]), pending[end + 1:]
                    for piece in self._through(frame):
                        sink.sendall(piece)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _through(self, frame: bytes) -> list[bytes]:
        """What the cable delivers of one frame (its closing delimiter included)."""
        if len(frame) == 1:  # a lone delimiter: nothing to spoil
            return [frame]
        f, counts = self.faults, self.faults.counts
        with self._lock:
            counts["frames"] += 1
            roll = self._random.random()
            if roll < f.drop:
                counts["dropped"] += 1
                return []
            if roll < f.drop + f.corrupt:
                counts["corrupted"] += 1
                spoiled = bytearray(frame)
                spoiled[self._random.randrange(len(frame) - 1)] ^= 1 << self._random.randrange(8)
                return [bytes(spoiled)]
            if roll < f.drop + f.corrupt + f.duplicate:
                counts["duplicated"] += 1
                return [frame, frame]
        return [frame]
