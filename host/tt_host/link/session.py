"""Request/response sessions with a device over any :class:`~tt_host.link.transport.Transport`.

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

**The link's rate.** Every device starts at ``DEFAULT_BAUD`` (115,200). With ``link_rates``
(the board's ``[uart] rates``), :meth:`DeviceSession.hello` then negotiates the highest rate
both ends carry (:meth:`DeviceSession.negotiate_baud`): SET_BAUD at the old rate, the host
follows once the answer is in, a PING at the new rate confirms it. When the PING gets no
answer (the cable or the ST-LINK does not carry the rate), the device returns to 115,200 by
itself after its confirm window, the host waits that out, returns too, and tries the next lower
rate. :meth:`DeviceSession.restore_baud` puts both ends back at 115,200 when a command ends, so
the next one finds the device where every device starts; a device left at another rate (a host
that died mid-session) is found again by HELLO at each rate in turn.

**Samples** travel compressed (SAMPLE_PACKED, ``tt_protocol.packbits``) chunk by chunk
whenever that takes fewer bytes on the wire than SAMPLE_DATA, and raw otherwise or when the
firmware does not know SAMPLE_PACKED.

**Authentication.** A board provisioned with a key (HELLO's ``auth``) refuses unsigned
state-changing requests; the session signs them (:mod:`tt_host.link.signer`) with the key
``$TT_HOME/keys`` holds for the board's key id, or ``key_file``, found at the first such request
so that reading a board needs no key.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from construct import ConstructError
from tt_protocol import auth, packbits
from tt_protocol import plan as plan_format
from tt_protocol.frame import (
    DEFAULT_BAUD,
    PACKED_MAX_STRIDE,
    SAMPLE_PACKED_MAX_DATA,
    LOAD_CHUNK_MAX_DATA,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    PULL_MAX_DATA,
    SAMPLE_CHUNK_MAX_DATA,
    SEQ_UNKNOWN,
    BaudPayload,
    CommitPayload,
    ErrorPayload,
    FrameError,
    InfoPayload,
    LR_SCALE_ONE,
    LoadBeginPayload,
    LoadChunkHeader,
    LoadDonePayload,
    LoadFlag,
    LoadProgressPayload,
    Opcode,
    ProfileDataHeader,
    ProfileFlag,
    ProfilePayload,
    ProfileRecord,
    PullDataHeader,
    PullPayload,
    SampleDataHeader,
    SampleFlag,
    SamplePackedHeader,
    SampleProgressPayload,
    SampleRunPayload,
    SetBaudPayload,
    crc32,
    encode_frame,
    parse_frame,
    to_wire,
)
from tt_protocol.status import FRAMING_STATUSES, Status
from tt_protocol.stream import FrameDecoder

from tt_host.errors import DeviceError, DeviceTimeout, ProtocolError
from tt_host.link.answers import (  # noqa: F401  (the answers are part of this module's API)
    DeviceInfo,
    DeviceProfile,
    DeviceStats,
    OpProfile,
    SampleResult,
    parse_answer as _parse,
)
from tt_host.link.signer import Signer, signer_for
from tt_host.link.transport import Transport

log = logging.getLogger(__name__)

#: Most sample bytes one SAMPLE_PACKED decodes to: a streamed plan runs its first block as rows
#: arrive, so a frame's decoded size is also the device's work before it answers.
PACKED_MAX_DECODED = 8192
#: Extra wait after a failed switch's confirm window before the host assumes the device is back
#: at DEFAULT_BAUD: the device checks the window when its main loop wakes, at least every 0.7 s
#: (the QEMU twin's SysTick wrap; 78 ms on the F746, 0.1 s on the host twin).
REVERT_MARGIN_S = 1.0
#: A LOAD_CHUNK that reaches a new flash sector waits while the device erases it: the F746's
#: model area is made of 128 KB and 256 KB sectors (1-4 s to erase, RM0385/datasheet), which
#: all start on this boundary of the area. Such a chunk gets the slow timeout.
SECTOR_BOUNDARY = 128 * 1024
#: The longest a COMMIT or ROLLBACK may erase and program: a 256 KB slot of the Discovery's QSPI
#: flash is four 64 KB sectors of up to 3 s each (N25Q128A datasheet).
STORE_WRITE_S = 15.0


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
        slow_timeout: float | None = None,
        link_rates: Sequence[int] = (),
        key_file: Path | None = None,
    ) -> None:
        self.transport = transport
        #: The key for a board provisioned with one (None: the one ``$TT_HOME/keys`` holds for it).
        self.key_file = key_file
        #: What HELLO said of authentication (``AuthMode``, key id), and the signer it calls for.
        self._auth = (auth.AuthMode.OPEN, b"")
        self._signer: Signer | None = None
        self._sample_digest = b""  #: SHA-256 of the sample sent last (a signed training run covers it)
        #: Rates to negotiate after HELLO, the board's (empty: stay at the opening rate).
        self.link_rates = tuple(link_rates)
        #: The rate both ends run at now.
        self.baud = transport.baud
        self._failed_rates: set[int] = set()
        #: Send samples compressed when it saves bytes (off once the device refuses the opcode).
        self.packed_samples = True
        #: The left neighbour of a sample byte for SAMPLE_PACKED's delta: the input's channels
        #: (0: only PackBits over the bytes themselves is tried).
        self.sample_stride = 0
        self.timeout = timeout
        #: Wait per attempt for requests that compute or write flash (SAMPLE_RUN, LOAD_END,
        #: COMMIT, ROLLBACK): retransmitting one still running only queues a duplicate.
        self.slow_timeout = max(timeout, 10.0) if slow_timeout is None else slow_timeout
        self.retries = retries
        self.quiet = quiet
        self.info: DeviceInfo | None = None
        #: bytes on the wire, both ways, since the session opened: what a real UART's time is
        #: made of (framing and retransmissions included)
        self.wire_bytes = 0
        self._decoder = FrameDecoder()
        # A random start keeps a new session's first request from matching the last
        # request of a previous session, which the device would answer from its cache.
        self._seq = random.randrange(SEQ_UNKNOWN) if first_seq is None else first_seq % SEQ_UNKNOWN

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (self._seq + 1) % SEQ_UNKNOWN  # wraps before SEQ_UNKNOWN, never on it
        return seq

    def request(self, opcode: int, payload: bytes = b"", timeout: float | None = None,
                retries: int | None = None) -> tuple[int, bytes]:
        """Send one request and return the device's successful ``(opcode, payload)``.

        ``opcode`` is normally an :class:`Opcode`; any byte may be sent (to test the
        device). ``timeout`` overrides the session's wait per attempt (slow requests),
        ``retries`` its retransmissions.
        Raises :class:`DeviceError` when the device refuses the request,
        :class:`DeviceTimeout` when no answer survives the retries and
        :class:`ProtocolError` when the answer is not the one ``opcode`` calls for.
        """
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(payload)} bytes exceeds MAX_PAYLOAD ({MAX_PAYLOAD})")
        timeout = self.timeout if timeout is None else timeout
        retries = self.retries if retries is None else retries
        name = _opcode_name(opcode)
        seq = self._next_seq()
        wire = to_wire(encode_frame(opcode, seq, payload))
        for attempt in range(retries + 1):
            if attempt:
                log.info("retransmitting %s seq=%d (attempt %d of %d)", name, seq, attempt + 1, retries + 1)
            self.transport.write(wire)
            self.wire_bytes += len(wire)
            answer = self._await_answer(opcode, seq, timeout)
            if answer is not None:
                return answer
        raise DeviceTimeout(f"no valid answer to {name} after {retries + 1} attempts of {timeout:g} s each")

    def _await_answer(self, opcode: int, seq: int, timeout: float) -> tuple[int, bytes] | None:
        """Read frames until the answer to ``seq`` arrives (returned), or until it is time
        to retransmit (None): ``timeout`` elapsed, or the line went quiet after the device
        reported a frame it could not read."""
        deadline = time.monotonic() + timeout
        unreadable = False
        while (left := deadline - time.monotonic()) > 0:
            data = self.transport.read_available(min(left, self.quiet) if unreadable else left)
            self.wire_bytes += len(data)
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
        """Start the session: forget bytes sent before we listened, ask the device who it is,
        then (with ``link_rates``) negotiate the fastest rate the link carries."""
        self._forget_input()
        payload = self._hello_at_any_rate()
        self.info = DeviceInfo.from_payload(payload)
        info = InfoPayload.parse(bytes(payload).ljust(InfoPayload.sizeof(), b"\0"))
        self._auth = (info.auth, bytes(info.key_id))
        self._signer = None  # found at the first state-changing request: reading needs no key
        if self.link_rates:
            self.negotiate_baud(self.link_rates)
        return self.info

    def _forget_input(self) -> None:
        self.transport.reset_input()
        self._decoder = FrameDecoder()

    def _hello_at_any_rate(self) -> bytes:
        """HELLO at the session's rate; when that goes unanswered, at 115,200 and each of
        ``link_rates`` in turn (a device a previous host left at another rate)."""
        try:
            return self.request(Opcode.HELLO)[1]
        except DeviceTimeout:
            others = [r for r in (DEFAULT_BAUD, *sorted(self.link_rates, reverse=True)) if r != self.baud]
            if not others:
                raise
            for rate in dict.fromkeys(others):
                log.info("no answer at %d baud: trying HELLO at %d", self.baud, rate)
                self._follow(rate)
                try:
                    return self.request(Opcode.HELLO, timeout=min(self.timeout, 0.5), retries=1)[1]
                except DeviceTimeout:
                    continue
            raise

    def _follow(self, baud: int) -> None:
        """Run the host's end at ``baud`` (the device's end is already there)."""
        self.transport.set_baud(baud)
        self.baud = baud
        self._forget_input()

    def set_baud(self, baud: int) -> tuple[int, float]:
        """SET_BAUD: the device answers at the old rate and switches; the host follows.
        ``(rate the device's UART makes, its confirm window in s)``. A rate the device cannot
        make is refused (:class:`DeviceError` BAD_PAYLOAD, ``detail`` the nearest it makes)."""
        _, answer = self.request(Opcode.SET_BAUD, SetBaudPayload.build(dict(baud=baud)))
        made = _parse(BaudPayload, answer, "BAUD_SET")
        self._follow(baud)
        return made.baud, made.confirm_ms / 1000

    def negotiate_baud(self, rates: Sequence[int]) -> int:
        """Switch to the highest of ``rates`` (above 115,200) the link carries, trying each
        from the highest down until a PING at the new rate is answered; the rate reached.
        Rates that failed once in this session are not tried again (a repeated HELLO costs
        nothing). Firmware without SET_BAUD stays at the rate it has."""
        for rate in sorted({r for r in rates if r > DEFAULT_BAUD} - self._failed_rates, reverse=True):
            if rate == self.baud:
                break  # already there: a repeated HELLO
            try:
                if self._try_baud(rate):
                    break
            except DeviceError as exc:
                if exc.status == Status.UNKNOWN_OPCODE:
                    log.info("the firmware does not negotiate its rate: staying at %d baud", self.baud)
                    break
                if exc.status != Status.BAD_PAYLOAD:
                    raise
                log.info("the device cannot make %d baud (nearest: %d)", rate, exc.detail)
            self._failed_rates.add(rate)
        return self.baud

    def _try_baud(self, rate: int) -> bool:
        """Switch to ``rate`` and confirm it with a PING; on silence wait for the device to
        give the rate up, return to 115,200 and check the link there. Whether it holds."""
        try:
            made, confirm_s = self.set_baud(rate)
        except DeviceTimeout:
            # The answer may have been lost after the device switched: it gives the rate up by
            # itself within its window (the firmware's: 1 s).
            self._give_up(rate, time.monotonic(), 1.0)
            return False
        switched = time.monotonic()
        try:
            # Several tries inside the confirm window: the first bytes after a switch may meet
            # a USB-serial bridge still reconfiguring.
            self.request(Opcode.PING, b"rate", timeout=max(confirm_s / 4, 0.05), retries=1)
        except DeviceTimeout:
            self._give_up(rate, switched, confirm_s)
            return False
        log.info("link at %d baud (the device's UART makes %d)", rate, made)
        return True

    def _give_up(self, rate: int, switched: float, confirm_s: float) -> None:
        """Wait for the device to return to 115,200 from an unconfirmed ``rate``, follow it
        there and check the link."""
        log.info("no answer at %d baud: waiting for the device to return to %d", rate, DEFAULT_BAUD)
        time.sleep(max(0.0, switched + confirm_s + REVERT_MARGIN_S - time.monotonic()))
        self._follow(DEFAULT_BAUD)
        self.ping()

    def restore_baud(self) -> None:
        """Back to 115,200 at both ends (end of a command): the next session starts there."""
        if self.baud != DEFAULT_BAUD:
            self.set_baud(DEFAULT_BAUD)

    def _changing(self, opcode: int, payload: bytes = b"", bound: bytes = b"",
                  timeout: float | None = None) -> tuple[int, bytes]:
        """A request that changes what the device runs or stores: signed when the board was
        provisioned with a key (``bound``: the digest the signature also covers)."""
        if self._signer is None and self._auth[0] != auth.AuthMode.OPEN:
            self._signer = signer_for(*self._auth, self.key_file)
        if self._signer is None:
            return self.request(opcode, payload, timeout=timeout)
        return self._signer.request(lambda op, data, wait: self.request(op, data, timeout=wait),
                                    opcode, payload, bound, timeout)

    def upload(
        self,
        package: bytes,
        progress: Callable[[int, int], None] | None = None,
        replace_model: bool = False,
    ) -> None:
        """Store ``package`` in the device's model area, resuming an interrupted transfer.

        Beginning the same package again makes the device report how much of it it
        already holds, so a transfer cut by a lost connection continues from there in a
        new session. ``progress(sent, total)`` is called after every chunk. The package's
        model (its plan header's ``model_hash``) must be the loaded plan's unless
        ``replace_model``. Raises :class:`DeviceError` when the device refuses the package
        (NO_SPACE, MODEL_MISMATCH) or finds it corrupt or invalid after the last byte
        (BLOB_CORRUPT, BAD_PLAN).
        """
        crc = crc32(package)
        begin = LoadBeginPayload.build(dict(
            total_bytes=len(package), crc32=crc, flags=LoadFlag.REPLACE_MODEL if replace_model else 0,
            model_hash=package_model_hash(package),
        ))
        try:
            received = LoadProgressPayload.parse(self._changing(Opcode.LOAD_BEGIN, begin)[1]).received
        except DeviceError as exc:
            if exc.status != Status.NO_SPACE:
                raise
            raise DeviceError(exc.status, exc.detail, exc.opcode,
                              f"the package (plan and weights) is {len(package):,} B and the device's model area "
                              f"holds {exc.detail:,} B; use a smaller model") from exc
        while received < len(package):
            data = package[received : received + LOAD_CHUNK_MAX_DATA]
            erases = received % SECTOR_BOUNDARY == 0 or received // SECTOR_BOUNDARY != (
                received + len(data) - 1) // SECTOR_BOUNDARY
            try:
                _, answer = self.request(Opcode.LOAD_CHUNK, LoadChunkHeader.build(dict(offset=received)) + data,
                                         timeout=self.slow_timeout if erases else None)
            except DeviceError as exc:
                if exc.status != Status.OUT_OF_ORDER:
                    raise
                log.info("device holds %d bytes, not %d: resuming there", exc.detail, received)
                received = exc.detail
                continue
            received = LoadProgressPayload.parse(answer).received
            if progress is not None:
                progress(received, len(package))
        done = LoadDonePayload.parse(self._changing(Opcode.LOAD_END, bound=hashlib.sha256(package).digest(),
                                                    timeout=self.slow_timeout)[1])
        if (done.total_bytes, done.crc32) != (len(package), crc):
            raise ProtocolError(f"device stored {done.total_bytes} bytes with CRC 0x{done.crc32:08X}, "
                                f"not the {len(package)} bytes with CRC 0x{crc:08X} sent")

    def send_sample(self, data: bytes) -> None:
        """Send one sample's input tensor (int8, NHWC) for the next :meth:`run_sample`.

        Each chunk goes as SAMPLE_PACKED when that puts fewer bytes on the wire per sample
        byte, as SAMPLE_DATA otherwise. A chunk the device did not expect (a previous attempt
        stored more or less of it) continues where the device stands. Raises
        :class:`DeviceError` SAMPLE_SIZE when ``data`` is longer than the plan's input,
        NO_PLAN without a plan.
        """
        if self._auth[0] != auth.AuthMode.OPEN:
            self._sample_digest = hashlib.sha256(data).digest()
        sent = 0
        while True:
            opcode, payload = self._sample_chunk(data, sent)
            try:
                _, answer = self.request(opcode, payload)
            except DeviceError as exc:
                if exc.status == Status.UNKNOWN_OPCODE and opcode == Opcode.SAMPLE_PACKED:
                    log.info("the firmware does not take compressed samples: sending them raw")
                    self.packed_samples = False
                    continue
                # Offset 0 always starts afresh, so only a continuation can be out of order.
                if exc.status != Status.OUT_OF_ORDER or sent == 0 or exc.detail > len(data):
                    raise
                log.info("device holds %d bytes of the sample, not %d: resuming there", exc.detail, sent)
                sent = exc.detail
                continue
            sent = _parse(SampleProgressPayload, answer, "SAMPLE_ACCEPTED").received
            if sent >= len(data):
                return

    def _sample_chunk(self, data: bytes, sent: int) -> tuple[Opcode, bytes]:
        """The request that carries ``data`` from ``sent`` on with the fewest wire bytes per
        sample byte: SAMPLE_DATA, or SAMPLE_PACKED over the bytes or over their deltas."""
        raw = data[sent:sent + SAMPLE_CHUNK_MAX_DATA]
        best = (Opcode.SAMPLE_DATA, SampleDataHeader.build(dict(offset=sent)) + raw, len(raw))
        if not self.packed_samples:
            return best[:2]
        span = data[sent:sent + PACKED_MAX_DECODED]
        for stride in dict.fromkeys((0, self.sample_stride if self.sample_stride <= PACKED_MAX_STRIDE else 0)):
            stream, n = packbits.encode(packbits.delta(span, stride), SAMPLE_PACKED_MAX_DATA)
            payload = SamplePackedHeader.build(dict(offset=sent, decoded=n, stride=stride, reserved=0)) + stream
            if n and len(payload) * best[2] < len(best[1]) * n:
                best = (Opcode.SAMPLE_PACKED, payload, n)
        return best[:2]

    def run_sample(self, label: int, train: bool, step: int = 0, lr_scale: int = LR_SCALE_ONE) -> SampleResult:
        """Run the sample sent last: evaluate it, or (``train``) train on it as training
        step ``step`` (the number of samples the device has trained so far, which makes the
        request safe to repeat: the device refuses a step it has already applied with
        OUT_OF_ORDER, ``detail`` its trained count) at ``lr_scale`` (Q16, at most
        ``LR_SCALE_ONE``) of the plan's learning rates."""
        payload = SampleRunPayload.build(dict(step=step if train else 0, label=label,
                                              flags=SampleFlag.TRAIN if train else 0,
                                              lr_scale=lr_scale if train else LR_SCALE_ONE))
        if train:
            _, answer = self._changing(Opcode.SAMPLE_RUN, payload, self._sample_digest, timeout=self.slow_timeout)
        else:
            _, answer = self.request(Opcode.SAMPLE_RUN, payload, timeout=self.slow_timeout)
        return SampleResult.from_payload(answer)

    def stats(self) -> DeviceStats:
        """The device's counters, timing and memory use (``STATS``)."""
        return DeviceStats.from_payload(self.request(Opcode.STATS)[1])

    def pull(self, progress: Callable[[int, int], None] | None = None) -> bytes:
        """The whole parameter image of the loaded plan (``PULL``, chunk by chunk):
        trained weight slices and biases, then the stochastic-rounding PRNG counter."""
        image = bytearray()
        total = None
        while total is None or len(image) < total:
            _, answer = self.request(Opcode.PULL, PullPayload.build(dict(offset=len(image), length=PULL_MAX_DATA)))
            head = _parse(PullDataHeader, answer[: PullDataHeader.sizeof()], "PULL_DATA")
            data = answer[PullDataHeader.sizeof() :]
            if head.offset != len(image) or (total is not None and head.total != total):
                raise ProtocolError(f"PULL_DATA for offset {head.offset} of {head.total} bytes, "
                                    f"asked for offset {len(image)}" + (f" of {total}" if total is not None else ""))
            total = head.total
            if not data and len(image) < total:
                raise ProtocolError(f"PULL_DATA without data at offset {len(image)} of {total}")
            image += data[: total - len(image)]
            if progress is not None:
                progress(len(image), total)
        return bytes(image)

    def profile(self, reset: bool = False) -> DeviceProfile:
        """The device's per-op profile (``PROFILE``, chunk by chunk); with ``reset`` it then
        starts afresh, so the next read covers only what runs after this one. NO_SPACE
        (:class:`DeviceError`) when the plan leaves no arena for the counters."""
        ops: list[OpProfile] = []
        head = None
        while head is None or len(ops) < head.n_ops:
            _, answer = self.request(Opcode.PROFILE, ProfilePayload.build(dict(first=len(ops), flags=0)))
            head = _parse(ProfileDataHeader, answer[: ProfileDataHeader.sizeof()], "PROFILE_DATA")
            body = answer[ProfileDataHeader.sizeof():]
            size = ProfileRecord.sizeof()
            if head.first != len(ops) or len(body) != head.count * size or (head.count == 0 and len(ops) < head.n_ops):
                raise ProtocolError(f"PROFILE_DATA with {head.count} records from op {head.first} in {len(body)} "
                                    f"bytes, asked for op {len(ops)} of {head.n_ops}")
            for i in range(head.count):
                r = ProfileRecord.parse(body[i * size:])
                ops.append(OpProfile(head.first + i, r.kind, r.phase, None if r.layer == plan_format.NONE16 else r.layer,
                                     r.runs, r.ticks))
        if reset:
            self.request(Opcode.PROFILE, ProfilePayload.build(dict(first=head.n_ops, flags=ProfileFlag.RESET)))
        return DeviceProfile(head.tick_hz, head.trained, head.evaluated, head.train_ticks, head.eval_ticks, tuple(ops))

    def _store_write(self, opcode: int) -> bytes:
        """COMMIT or ROLLBACK: the answer's payload, waited for as long as the store may write."""
        return self._changing(opcode, timeout=max(self.slow_timeout, STORE_WRITE_S))[1]

    def commit(self) -> tuple[int, int]:
        """Persist the trained parameters in flash; ``(sequence, bytes)`` of the record."""
        c = _parse(CommitPayload, self._store_write(Opcode.COMMIT), "COMMITTED")
        return c.sequence, c.bytes

    def rollback(self) -> int:
        """Back to the factory parameters, persistently; the sequence of the record written."""
        c = _parse(CommitPayload, self._store_write(Opcode.ROLLBACK), "ROLLED_BACK")
        return c.sequence

    def revert(self) -> tuple[int, int]:
        """Back to the newest committed state of the running plan at once (nothing written);
        ``(sequence, bytes)`` of the record restored, ``(0, 0)`` for the factory parameters."""
        c = _parse(CommitPayload, self._changing(Opcode.REVERT, timeout=self.slow_timeout)[1], "REVERTED")
        return c.sequence, c.bytes

    def reset(self) -> None:
        """Reset the device (uncommitted training is lost); say :meth:`hello` again after it
        boots, at 115,200 baud, where a reset leaves every device."""
        self.request(Opcode.RESET)
        self._follow(DEFAULT_BAUD)
        if self._signer is not None:
            self._signer.forget_nonce()

    def ping(self, payload: bytes = b"") -> float:
        """Round-trip ``payload`` through the device; return the seconds it took."""
        start = time.perf_counter()
        _, echo = self.request(Opcode.PING, payload)
        elapsed = time.perf_counter() - start
        if echo != payload:
            raise ProtocolError(f"PONG echoed {len(echo)} bytes that differ from the {len(payload)} sent")
        return elapsed


def package_model_hash(package: bytes) -> bytes:
    """The ``model_hash`` of the plan header a package starts with (zero when it does not
    start with a plan: the device then refuses it at LOAD_END)."""
    if len(package) < plan_format.PLAN_HEADER_BYTES or package[:4] != plan_format.PLAN_MAGIC:
        return bytes(32)
    return bytes(plan_format.PlanHeader.parse(package).model_hash)


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
