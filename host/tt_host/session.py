"""Request/response sessions with a device over any :class:`~tt_host.transport.Transport`.

The device answers every frame it decodes with exactly one frame, in order. The host
keeps one request in flight and recovers from a lossy line by retransmitting it
unchanged (same seq, same bytes):

- no valid answer within ``timeout`` (request or answer lost): retransmit;
- an ``ERROR`` with ``SEQ_UNKNOWN`` and a framing status means the device could not
  read *a* frame: ours, or line noise that arrived before it (noise is answered first,
  so a burst of such errors may precede our answer). The host keeps reading, and
  retransmits as soon as the line has been quiet for ``quiet`` seconds without our
  answer, instead of waiting out the whole timeout;
- the device recognises a retransmission (same seq and CRC as its last request) and
  re-sends its cached answer instead of executing the request twice, so retransmitting
  is safe for every opcode, even one still executing;
- a frame with another seq is a late answer to an earlier attempt or request: dropped;
- an ``ERROR`` with our seq is the device's final word: :class:`DeviceError`.

Each retransmission uses up one of ``retries``; when they run out the request fails
with :class:`DeviceTimeout`.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable

from construct import ConstructError
from tt_protocol.frame import (
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    SEQ_UNKNOWN,
    ErrorPayload,
    FrameError,
    InfoPayload,
    LOAD_CHUNK_MAX_DATA,
    LoadBeginPayload,
    LoadChunkHeader,
    LoadDonePayload,
    LoadProgressPayload,
    Opcode,
    encode_frame,
    parse_frame,
    crc32,
    to_wire,
)
from tt_protocol.status import FRAMING_STATUSES, Status
from tt_protocol.stream import FrameDecoder

from .errors import DeviceError, DeviceTimeout, ProtocolError
from .transport import Transport

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """A device's identity and budgets, from its answer to ``HELLO``."""

    board: str
    sram_bytes: int
    flash_bytes: int
    arena_bytes: int
    core_clock_hz: int
    max_payload: int
    protocol_version: int
    firmware_version: str  #: "major.minor.patch"
    plan_hash: str | None  #: hex digest of the loaded training plan; None when no plan

    @classmethod
    def from_payload(cls, payload: bytes) -> DeviceInfo:
        """Parse an ``INFO`` payload; longer payloads (newer firmware) are accepted."""
        if len(payload) < InfoPayload.sizeof():
            raise ProtocolError(f"INFO payload of {len(payload)} bytes, expected {InfoPayload.sizeof()}")
        info = InfoPayload.parse(payload)
        fw = info.firmware_version
        return cls(
            board=info.board.rstrip(b"\0").decode("ascii", errors="replace"),
            sram_bytes=info.sram_bytes,
            flash_bytes=info.flash_bytes,
            arena_bytes=info.arena_bytes,
            core_clock_hz=info.core_clock_hz,
            max_payload=info.max_payload,
            protocol_version=info.protocol_version,
            firmware_version=f"{fw.major}.{fw.minor}.{fw.patch}",
            plan_hash=info.plan_hash.hex() if any(info.plan_hash) else None,
        )

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of every field."""
        return dataclasses.asdict(self)


#: ``_Verdict`` of a frame that is not our answer and changes nothing.
_IGNORE = "ignore"
#: ``_Verdict`` of an ERROR(SEQ_UNKNOWN) for a frame the device could not read.
_UNREADABLE = "unreadable"


class DeviceSession:
    """One request in flight at a time over ``transport``.

    ``timeout`` is how long each attempt waits for its answer; ``retries`` how many
    times a request is retransmitted before :class:`DeviceTimeout`; ``quiet`` how long
    the line must stay silent after a framing error before the request is resent.
    """

    def __init__(
        self,
        transport: Transport,
        timeout: float = 1.0,
        retries: int = 3,
        quiet: float = 0.1,
        first_seq: int | None = None,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self.retries = retries
        self.quiet = quiet
        self.info: DeviceInfo | None = None
        self._decoder = FrameDecoder()
        # A random start keeps a new session's first request from matching the last
        # request of a previous session, which the device would answer from its cache.
        self._seq = random.randrange(SEQ_UNKNOWN) if first_seq is None else first_seq % SEQ_UNKNOWN

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (self._seq + 1) % SEQ_UNKNOWN  # wraps before SEQ_UNKNOWN, never on it
        return seq

    def request(self, opcode: int, payload: bytes = b"", timeout: float | None = None) -> tuple[int, bytes]:
        """Send one request and return the device's successful ``(opcode, payload)``.

        ``opcode`` is normally an :class:`Opcode`; any byte may be sent (to test the
        device). ``timeout`` overrides the session's wait per attempt (slow requests).
        Raises :class:`DeviceError` when the device refuses the request,
        :class:`DeviceTimeout` when no answer survives the retries and
        :class:`ProtocolError` when the answer is not the one ``opcode`` calls for.
        """
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(payload)} bytes exceeds MAX_PAYLOAD ({MAX_PAYLOAD})")
        timeout = self.timeout if timeout is None else timeout
        name = _opcode_name(opcode)
        seq = self._next_seq()
        wire = to_wire(encode_frame(opcode, seq, payload))
        for attempt in range(self.retries + 1):
            if attempt:
                log.info("retransmitting %s seq=%d (attempt %d of %d)", name, seq, attempt + 1, self.retries + 1)
            self.transport.write(wire)
            answer = self._await_answer(opcode, seq, timeout)
            if answer is not None:
                return answer
        raise DeviceTimeout(f"no valid answer to {name} after {self.retries + 1} attempts of {timeout:g} s each")

    def _await_answer(self, opcode: int, seq: int, timeout: float) -> tuple[int, bytes] | None:
        """Read frames until the answer to ``seq`` arrives (returned), or until it is time
        to retransmit (None): ``timeout`` elapsed, or the line went quiet after the device
        reported a frame it could not read."""
        deadline = time.monotonic() + timeout
        unreadable = False
        while (left := deadline - time.monotonic()) > 0:
            data = self.transport.read_available(min(left, self.quiet) if unreadable else left)
            if not data:
                if unreadable:
                    log.info("device could not read a frame and our answer did not follow")
                    return None
                continue
            for event in self._decoder.feed(data):
                if event.status != Status.OK:
                    # Corrupted on the way back, or line noise: if it was our answer,
                    # the timeout retransmits and the device re-sends it from its cache.
                    log.debug("dropped a corrupt frame from the device (%s)", event.status.name)
                    continue
                verdict = self._judge(opcode, seq, event.frame)
                if isinstance(verdict, tuple):
                    return verdict
                unreadable = unreadable or verdict == _UNREADABLE
        log.info("no answer to %s seq=%d within %.3g s", _opcode_name(opcode), seq, timeout)
        return None

    def _judge(self, opcode: int, seq: int, raw: bytes) -> tuple[int, bytes] | str:
        """Judge one intact frame: our answer (returned), ``_UNREADABLE``, ``_IGNORE``, or raise."""
        try:
            frame = parse_frame(raw)
        except FrameError as exc:  # the CRC held, so the device built it wrong
            raise ProtocolError(f"malformed frame from the device: {exc}") from exc
        header, payload = frame.body.value.header, frame.body.value.payload
        if header.opcode == Opcode.ERROR and header.seq in (seq, SEQ_UNKNOWN):
            status, detail = _parse_error(payload)
            if header.seq == SEQ_UNKNOWN:
                log.debug("device could not read a frame (status 0x%02X)", status)
                return _UNREADABLE if status in FRAMING_STATUSES else _IGNORE
            raise DeviceError(_known_status(status), detail, opcode)
        if header.seq != seq:
            log.debug("dropped a stale frame (seq=%d, waiting for %d)", header.seq, seq)
            return _IGNORE
        if header.version != PROTOCOL_VERSION:
            raise ProtocolError(f"device speaks protocol version {header.version}, this host {PROTOCOL_VERSION}")
        if header.opcode != opcode | 0x80:
            raise ProtocolError(f"device answered opcode 0x{header.opcode:02X} to {_opcode_name(opcode)}")
        return _known_opcode(header.opcode), payload

    def hello(self) -> DeviceInfo:
        """Start the session: forget bytes sent before we listened, ask the device who it is."""
        self.transport.reset_input()
        self._decoder = FrameDecoder()
        _, payload = self.request(Opcode.HELLO)
        self.info = DeviceInfo.from_payload(payload)
        return self.info

    def upload(self, package: bytes, progress: Callable[[int, int], None] | None = None) -> None:
        """Store ``package`` in the device's model area, resuming an interrupted transfer.

        Beginning the same package again makes the device report how much of it it
        already holds, so a transfer cut by a lost connection continues from there in a
        new session. ``progress(sent, total)`` is called after every chunk. Raises
        :class:`DeviceError` when the device refuses the package (NO_SPACE) or finds it
        corrupt after the last byte (BLOB_CORRUPT).
        """
        crc = crc32(package)
        begin = LoadBeginPayload.build(dict(total_bytes=len(package), crc32=crc))
        received = LoadProgressPayload.parse(self.request(Opcode.LOAD_BEGIN, begin)[1]).received
        while received < len(package):
            data = package[received : received + LOAD_CHUNK_MAX_DATA]
            try:
                _, answer = self.request(Opcode.LOAD_CHUNK, LoadChunkHeader.build(dict(offset=received)) + data)
            except DeviceError as exc:
                if exc.status != Status.OUT_OF_ORDER:
                    raise
                log.info("device holds %d bytes, not %d: resuming there", exc.detail, received)
                received = exc.detail
                continue
            received = LoadProgressPayload.parse(answer).received
            if progress is not None:
                progress(received, len(package))
        done = LoadDonePayload.parse(self.request(Opcode.LOAD_END)[1])
        if (done.total_bytes, done.crc32) != (len(package), crc):
            raise ProtocolError(f"device stored {done.total_bytes} bytes with CRC 0x{done.crc32:08X}, "
                                f"not the {len(package)} bytes with CRC 0x{crc:08X} sent")

    def ping(self, payload: bytes = b"") -> float:
        """Round-trip ``payload`` through the device; return the seconds it took."""
        start = time.perf_counter()
        _, echo = self.request(Opcode.PING, payload)
        elapsed = time.perf_counter() - start
        if echo != payload:
            raise ProtocolError(f"PONG echoed {len(echo)} bytes that differ from the {len(payload)} sent")
        return elapsed


def _parse_error(payload: bytes) -> tuple[int, int]:
    """``(status, detail)`` of an ERROR payload."""
    try:
        error = ErrorPayload.parse(payload)
    except ConstructError as exc:
        raise ProtocolError(f"ERROR payload of {len(payload)} bytes is malformed") from exc
    return error.status, error.detail


def _known_status(status: int) -> Status | int:
    """The :class:`Status` for ``status``, or the raw byte when this host does not know it."""
    try:
        return Status(status)
    except ValueError:
        return status


def _known_opcode(opcode: int) -> int:
    """The :class:`Opcode` for ``opcode``, or the raw byte."""
    try:
        return Opcode(opcode)
    except ValueError:
        return opcode


def _opcode_name(opcode: int) -> str:
    known = _known_opcode(opcode)
    return known.name if isinstance(known, Opcode) else f"opcode 0x{opcode:02X}"
