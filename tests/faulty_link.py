"""A faulty cable for the tests and the bench: a TCP proxy between ``tt-host`` and an emulated
board that spoils the frames of each direction on its own, at seeded random rates.

Frames are cut at the wire's 0x00 delimiters (``tt_protocol.frame.to_wire``), so a fault hits one
frame as a long noisy cable would:

- frame faults (a share of frames): *dropped* (never arrives), *corrupted* (one bit of one byte
  flipped: its CRC, or its COBS coding, then fails), *duplicated* (arrives twice), *reordered*
  (held back and delivered after the next frame of that direction, or after ``hold`` seconds
  when none follows: a stop-and-wait host only sends one when it retransmits);
- byte faults (a share of all bytes, as a bit error rate would): a byte *lost* (a lost
  delimiter merges two frames) or a byte with one bit *flipped* (a byte flipped into 0x00
  splits a frame);
- *latency* of every frame (``delay``, plus up to ``jitter`` more), first in first out;
- a *disconnect*: the proxy hangs up both ends once ``cut_after`` frames went its way.

Faults start after ``start`` frames of a connection (a cable that goes bad mid-stream), frame
counts restart with each connection (each ``tt-host`` command opens one), and each direction
draws from its own seeded generator. The session's retransmission and the device's answer cache
must make every request count once.
"""

from __future__ import annotations

import dataclasses
import random
import socket
import threading
import time
from typing import Self


def _no_counts() -> dict[str, int]:
    return dict.fromkeys(("frames", "dropped", "corrupted", "duplicated", "reordered", "bytes_lost",
                          "bytes_flipped", "cuts"), 0)


@dataclasses.dataclass
class Faults:
    """What the cable does to the frames going one way; ``counts`` says what it did."""

    drop: float = 0.0  #: share of frames never delivered
    corrupt: float = 0.0  #: share delivered with one bit of one byte flipped
    duplicate: float = 0.0  #: share delivered twice
    reorder: float = 0.0  #: share delivered after the next frame (or ``hold`` s late)
    byte_loss: float = 0.0  #: share of bytes lost
    byte_flip: float = 0.0  #: share of bytes with one bit flipped
    delay: float = 0.0  #: seconds every frame takes
    jitter: float = 0.0  #: up to this many seconds more, uniform
    hold: float = 0.5  #: longest a reordered frame waits for the next one
    start: int = 0  #: frames of each connection passed untouched before the faults begin
    cut_after: int | None = None  #: hang up after this many frames of a connection
    seed: int = 0
    counts: dict[str, int] = dataclasses.field(default_factory=_no_counts)


def both(seed: int = 0, **rates: float) -> tuple[Faults, Faults]:
    """The same ``rates`` host -> device and device -> host, each way with its own seed."""
    return Faults(seed=2 * seed, **rates), Faults(seed=2 * seed + 1, **rates)


class FaultyLink:
    """Listens on ``url``; each client is connected to ``target`` (``socket://host:port``)
    through ``up`` (host -> device) and ``down`` (device -> host). A context manager."""

    def __init__(self, target: str, up: Faults | None = None, down: Faults | None = None) -> None:
        host, port = target.removeprefix("socket://").rsplit(":", 1)
        self.target = (host, int(port))
        self.up, self.down = up or Faults(), down or Faults()
        self._randoms = {id(self.up): random.Random(self.up.seed), id(self.down): random.Random(self.down.seed)}
        self._sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening and hang up every connection."""
        self.listener.close()
        for s in self._sockets:
            _hang_up(s)

    def counts(self) -> dict[str, dict[str, int]]:
        return {"up": dict(self.up.counts), "down": dict(self.down.counts)}

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            device = socket.create_connection(self.target)
            for s in (client, device):  # a frame goes out when it is due, not when Nagle says
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, device]
            for source, sink, faults in ((client, device, self.up), (device, client, self.down)):
                _Direction(source, sink, faults, self._randoms[id(faults)], (client, device)).start()


def _hang_up(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


class _Direction:
    """One way of one connection: a reader that cuts frames and decides their fate, and a
    sender that delivers them when they are due."""

    def __init__(self, source: socket.socket, sink: socket.socket, faults: Faults, rng: random.Random,
                 ends: tuple[socket.socket, socket.socket]) -> None:
        self.source, self.sink, self.faults, self.rng, self.ends = source, sink, faults, rng, ends
        self.frames = 0  # frames of this connection, this way
        self._ready = threading.Condition()
        # (due time, order, bytes or None for "hang up"), kept sorted; ``held``: reordered
        # frames waiting for the next frame to overtake them.
        self._queue: list[tuple[float, int, bytes | None]] = []
        self._held: list[tuple[float, int, bytes | None]] = []
        self._order = 0
        self._last_due = 0.0

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._send, daemon=True).start()

    def _read(self) -> None:
        pending = bytearray()
        try:
            while data := self.source.recv(4096):
                pending += data
                while (end := pending.find(0)) >= 0:
                    frame, pending = bytes(pending[:end + 1]), pending[end + 1:]
                    if not self._pass(frame):
                        return
        except OSError:
            pass
        self._schedule(None, time.monotonic())  # one end hung up: so do we, after the rest

    def _pass(self, frame: bytes) -> bool:
        """Schedule what the cable delivers of ``frame`` (its closing delimiter included);
        False once the cable is cut."""
        f = self.faults
        now = time.monotonic()
        if len(frame) == 1:  # a lone delimiter: nothing to spoil
            self._schedule(frame, now)
            return True
        self.frames += 1
        f.counts["frames"] += 1
        if f.cut_after is not None and self.frames > f.cut_after:
            f.counts["cuts"] += 1
            self._schedule(None, now)  # once the frames before it are through
            return False
        if self.frames <= f.start:
            self._schedule(frame, now)
            return True
        due = now + f.delay + (self.rng.uniform(0, f.jitter) if f.jitter else 0.0)
        roll = self.rng.random()
        if roll < f.drop:
            f.counts["dropped"] += 1
            return True
        roll -= f.drop
        pieces = [frame]
        if roll < f.corrupt:
            f.counts["corrupted"] += 1
            spoiled = bytearray(frame)
            spoiled[self.rng.randrange(len(frame) - 1)] ^= 1 << self.rng.randrange(8)
            pieces = [bytes(spoiled)]
        elif roll < f.corrupt + f.duplicate:
            f.counts["duplicated"] += 1
            pieces = [frame, frame]
        if f.byte_loss or f.byte_flip:
            pieces = [self._noise(p) for p in pieces]
        if self.rng.random() < f.reorder:
            f.counts["reordered"] += 1
            self._hold(pieces, now + f.hold)
        else:
            for piece in pieces:
                self._schedule(piece, due)
        return True

    def _noise(self, frame: bytes) -> bytes:
        """``frame`` with each byte lost or bit-flipped at the byte rates."""
        f, out = self.faults, bytearray()
        for byte in frame:
            roll = self.rng.random()
            if roll < f.byte_loss:
                f.counts["bytes_lost"] += 1
            elif roll < f.byte_loss + f.byte_flip:
                f.counts["bytes_flipped"] += 1
                out.append(byte ^ 1 << self.rng.randrange(8))
            else:
                out.append(byte)
        return bytes(out)

    def _hold(self, pieces: list[bytes], deadline: float) -> None:
        with self._ready:
            held = [(deadline, self._next_order(), piece) for piece in pieces]
            self._held += held
            self._queue += held  # due at ``deadline`` unless a later frame frees them first
            self._queue.sort(key=lambda e: e[:2])
            self._ready.notify()

    def _schedule(self, piece: bytes | None, due: float) -> None:
        with self._ready:
            due = max(due, self._last_due)  # latency, not reordering: first in, first out
            self._last_due = due
            entry = (due, self._next_order(), piece)
            self._queue.append(entry)
            if self._held and piece is not None and len(piece) > 1:
                # This frame overtakes the held ones: they follow right behind it.
                self._queue = [e for e in self._queue if e not in self._held]
                self._queue += [(due, self._next_order(), p) for _, _, p in self._held]
                self._held.clear()
            self._queue.sort(key=lambda e: e[:2])
            self._ready.notify()

    def _next_order(self) -> int:
        self._order += 1
        return self._order

    def _send(self) -> None:
        while True:
            with self._ready:
                while not self._queue or self._queue[0][0] > time.monotonic():
                    self._ready.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
                entry = self._queue.pop(0)
                if entry in self._held:
                    self._held.remove(entry)
            piece = entry[2]
            try:
                if piece is None:
                    raise OSError("hang up")
                self.sink.sendall(piece)
            except OSError:
                for s in self.ends:  # both ways: the other direction's reader then stops too
                    _hang_up(s)
                return
