"""The device's answering rules, executable in Python.

This is the behaviour ``firmware/src/proto.c`` (with ``trainer.c``) implements, written as
plainly as possible: the golden vectors are generated from it, and host tests use it as a fake
device behind an in-process transport. For every frame the decoder completes it produces
exactly one answer:

1. a framing failure (bad COBS, too large, too short, bad CRC): ERROR with
   ``SEQ_UNKNOWN``, since nothing in the header can be trusted;
2. a byte-identical repeat of the previous request (same seq and CRC): the previous
   answer again, without executing twice (the host retransmits after a lost answer);
3. a wrong protocol version, a length field that disagrees with the frame, an unknown
   opcode, a malformed payload: ERROR with the request's seq and opcode;
4. otherwise the opcode's response.

Uploads (LOAD_BEGIN, LOAD_CHUNK, LOAD_END) follow ``firmware/src/upload.c``: chunks in
order, each but the last a multiple of 4 bytes; beginning the same package again resumes
it; a refused request changes nothing, except a CRC mismatch at LOAD_END, which abandons
the transfer. LOAD_BEGIN checks, in order: payload size and a non-zero total (BAD_PAYLOAD),
the model area (NO_SPACE), then, while a plan is loaded, the announced ``model_hash``
against the plan's (MODEL_MISMATCH unless ``LoadFlag.REPLACE_MODEL``). A begin that is not
a resume unloads the plan. LOAD_END checks the CRC, then validates the package (split at
the plan header's ``total_bytes``) with ``executor.load`` or, without an executor, with
``tt_protocol.plan.validate`` against the board's arena (BAD_PLAN, detail the ``Check``), then
compares the package's model hash with the announced one (MODEL_MISMATCH). A package refused
after its CRC held stays in the model area as the transfer's result: LOAD_END again gives the
same answer.

Training requests check, in this order: the payload's size (BAD_PAYLOAD), a loaded plan
(NO_PLAN), then their own conditions as ``frame.Opcode`` documents them. SAMPLE_RUN: the
whole input (SAMPLE_SIZE), the label (LABEL_RANGE), then for a training run its step
(OUT_OF_ORDER), its learning-rate scale at most 1 (BAD_PAYLOAD, detail 65536) and the divergence
guard (DIVERGED, detail the samples trained). PULL: ``length`` at most ``PULL_MAX_DATA`` (BAD_PAYLOAD, detail
PULL_MAX_DATA), ``offset`` at most the image's size (BAD_PAYLOAD, detail the size). A
SAMPLE_RUN answers with unknown flag bits cleared. Loss sums are float32, as on the device.

The store (COMMIT, ROLLBACK) keeps the newest record only, as far as anyone can tell from
outside: sequence numbers count from 1, a commit's payload is the trained count (u32) and the
parameter image, a rollback is a factory record. REVERT loads the running package again and
restores the newest record as a boot would, answering that record's sequence and size (0 and 0
when nothing was restored). A RESET answers RESETTING, drops the rest of
the bytes fed with it and boots: the transfer, the sample and the counters are gone; the
package in the model area is loaded again when it validates, and the store's newest record
restores its parameters and trained count when it is a commit tagged with the plan hash
whose length fits. Timing fields (``ticks``) are always 0 and the stack figures are 0.

PROFILE counts each op's runs as ``tt_executor_step`` runs them (LOAD ops never; an evaluation
skips the backward ops but the loss; a skipped training step stops after the loss) since the
plan's load or the last RESET flag; NO_SPACE (detail: 16 bytes per op) when the plan's arena,
8-aligned, leaves the board's arena too little room for those counters.

**Executor.** With a loaded plan, the training requests need the numbers only a real executor
knows; pass one as ``executor`` (any object with this interface), or they raise
:class:`NotImplementedError`:

- ``load(package: bytes) -> (status, detail)``: validate and load, factory parameters;
- ``input_bytes: int``, ``classes: int``, ``arena_used: int`` of the loaded plan;
- ``step(sample: bytes, label: int, train: bool, lr_scale: int) -> (loss, predicted, correct, skipped)``;
- ``diverged: bool``: the divergence guard has stopped training;
- ``params_image() -> bytes``: ``tt_executor_params_read`` of the whole image;
- ``restore(image: bytes)``: ``tt_executor_params_write``.

**The link.** SET_BAUD answers with the rate ``baud.uart_rate`` makes over the board's
``uart_clock_hz`` (BAD_PAYLOAD, detail the nearest rate it makes, when it is more than
``BAUD_TOLERANCE_PERCENT`` off; detail 4 for a payload of another size) and switches ``baud``
once the answer is out. A switch to another rate than ``DEFAULT_BAUD`` is given up, back to
``DEFAULT_BAUD``, when no intact frame arrives within ``confirm_ms`` of ``clock()``; the model
checks that deadline whenever it is fed or :meth:`Responder.poll` is called (the firmware's
main loop wakes at least once a second). A reset returns to ``DEFAULT_BAUD``. Bytes are bytes
here: a transport that models a cable decides what arrives at which rate.
SAMPLE_PACKED checks its header's size (BAD_PAYLOAD, detail 8), NO_PLAN, OUT_OF_ORDER and
SAMPLE_SIZE as SAMPLE_DATA does for ``decoded`` bytes, then the stride (BAD_PAYLOAD, detail
``PACKED_MAX_STRIDE``) and the stream (``packbits.decode``: BAD_PAYLOAD, detail the stream byte
where it failed, or the stream's length when it decodes to another length than ``decoded``).

``ErrorPayload.detail`` carries what the device expected: ``MAX_FRAME_BYTES`` for
TOO_LARGE, its ``PROTOCOL_VERSION`` for BAD_VERSION, the payload bytes that actually
arrived for TRUNCATED, the payload length the opcode takes for BAD_PAYLOAD.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import time
from collections.abc import Callable
from typing import Any

from . import packbits
from . import plan as P
from .baud import F746_USART_CLOCK_HZ, uart_rate
from .frame import (
    CRC_BYTES,
    DEFAULT_BAUD,
    HEADER_BYTES,
    LR_SCALE_ONE,
    MAX_FRAME_BYTES,
    MAX_PAYLOAD,
    PACKED_MAX_STRIDE,
    PROFILE_MAX_RECORDS,
    PROTOCOL_VERSION,
    PULL_MAX_DATA,
    SEQ_UNKNOWN,
    BaudPayload,
    CommitPayload,
    ErrorPayload,
    Header,
    InfoPayload,
    LoadBeginPayload,
    LoadFlag,
    NoncePayload,
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
    SampleResultPayload,
    SampleRunPayload,
    SetBaudPayload,
    StatsPayload,
    encode_frame,
    to_wire,
)
from .status import Status
from .stream import FrameDecoder
from .upload_model import UploadModel

FIRMWARE_VERSION = (0, 1, 0)

#: The F746 boards' model area: internal flash sectors 4 to 7.
MODEL_AREA_BYTES = 896 * 1024

#: Bytes of a store record's header (``firmware/include/tt/store.h``).
STORE_HEADER_BYTES = 56
#: Largest COMMIT payload on the F746 boards: a slot of the QSPI flash (256 KB) less a header.
STORE_CAPACITY_BYTES = 256 * 1024 - STORE_HEADER_BYTES

#: Arena bytes the device keeps per op for its profile (``sizeof(tt_op_profile_t)``).
PROFILE_COUNTER_BYTES = 16

_HASH_BYTES = 32
_MODEL_HASH_AT = 16  # PlanHeader.model_hash
_PLAN_HASH_AT = 48  # PlanHeader.plan_hash
_WEIGHTS_BYTES_AT = 80  # PlanHeader.weights_bytes


@dataclasses.dataclass(frozen=True)
class BoardIdentity:
    """What a device reports about itself in INFO (and STATS)."""

    name: str
    sram_bytes: int
    flash_bytes: int
    arena_bytes: int
    core_clock_hz: int
    #: ``tt_port_tick_hz()``; the host build of the firmware (and the vectors) count microseconds.
    tick_hz: int = 1_000_000
    #: The clock the UART divides: which rates SET_BAUD accepts (the twins: the real board's).
    uart_clock_hz: int = F746_USART_CLOCK_HZ


def error_frame(status: Status, seq: int, opcode: int = 0, detail: int = 0) -> bytes:
    payload = ErrorPayload.build(dict(status=int(status), opcode=opcode, detail=detail))
    return encode_frame(Opcode.ERROR, seq, payload)


def info_payload(board: BoardIdentity, plan_hash: bytes = bytes(32), model_hash: bytes = bytes(32),
                 model_area_bytes: int = MODEL_AREA_BYTES, param_store_bytes: int = STORE_CAPACITY_BYTES) -> bytes:
    major, minor, patch = FIRMWARE_VERSION
    return InfoPayload.build(
        dict(
            protocol_version=PROTOCOL_VERSION,
            firmware_version=dict(major=major, minor=minor, patch=patch),
            board=board.name.encode("ascii").ljust(16, b"\0"),
            sram_bytes=board.sram_bytes,
            flash_bytes=board.flash_bytes,
            arena_bytes=board.arena_bytes,
            core_clock_hz=board.core_clock_hz,
            max_payload=MAX_PAYLOAD,
            plan_hash=plan_hash,
            model_hash=model_hash,
            model_area_bytes=model_area_bytes,
            param_store_bytes=param_store_bytes,
        )
    )


def package_length(area: bytes) -> int | None:
    """Length of the package at the start of a model area, from its plan header
    (``total_bytes + weights_bytes``), or None when the header cannot describe one there."""
    if len(area) < P.PLAN_HEADER_BYTES:
        return None
    total = int.from_bytes(area[8:12], "little")
    weights = int.from_bytes(area[_WEIGHTS_BYTES_AT:_WEIGHTS_BYTES_AT + 4], "little")
    n = total + weights
    return n if P.PLAN_HEADER_BYTES <= total and n <= len(area) else None


def split_package(package: bytes) -> tuple[bytes, bytes]:
    """Plan and weight blob of a package, split where the executor splits it: at the plan
    header's ``total_bytes`` when that lies inside the package, else all plan."""
    cut = len(package)
    if len(package) >= P.PLAN_HEADER_BYTES:
        total = int.from_bytes(package[8:12], "little")
        if P.PLAN_HEADER_BYTES <= total <= len(package):
            cut = total
    return package[:cut], package[cut:]


def _f32(x: float) -> float:
    """Round to float32, as the device's single-precision sums do."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


@dataclasses.dataclass
class _Counters:
    trained: int = 0
    train_correct: int = 0
    train_loss_sum: float = 0.0
    evaluated: int = 0
    eval_correct: int = 0
    eval_loss_sum: float = 0.0
    skipped: int = 0


@dataclasses.dataclass
class _Record:
    sequence: int
    factory: bool
    tag: bytes
    payload: bytes


class Responder:
    """A device that speaks the protocol: ``feed(wire bytes) -> wire bytes answered``.

    ``executor`` runs loaded plans (see the module docstring); ``store_capacity`` is the largest
    COMMIT payload. It models an open device (no key provisioned, ``tt_protocol.auth``): the
    firmware's authentication is tested on the firmware itself (tests/test_auth.py).
    """

    def __init__(
        self,
        board: BoardIdentity,
        model_area_bytes: int = MODEL_AREA_BYTES,
        executor: Any = None,
        store_capacity: int = STORE_CAPACITY_BYTES,
        confirm_ms: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.board = board
        #: ``TT_BAUD_CONFIRM_MS`` of the firmware; tests shorten it.
        self.confirm_ms = confirm_ms
        self.clock = clock
        self.executor = executor
        self.store_capacity = store_capacity
        self.upload = UploadModel(model_area_bytes)
        #: The newest store record, which survives resets (None: the store is empty).
        self.record: _Record | None = None
        #: The running package (None: no plan).
        self.package: bytes | None = None
        self.resets = 0
        self._boot()

    # -- state -------------------------------------------------------------------------------

    def _boot(self) -> None:
        """What survives a reset is the model area and the store; everything else starts over."""
        self._decoder = FrameDecoder()
        self._last: tuple[int, bytes, bytes] | None = None  # (seq, crc bytes, answer)
        self._reset_pending = False
        #: The UART's rate now; a switch waits for its answer to go out (``_switch_to``).
        self.baud = DEFAULT_BAUD
        self._switch_to: int | None = None
        self._unconfirmed_since: float | None = None
        self.upload.active = self.upload.complete = False
        self.announced_model = bytes(_HASH_BYTES)
        self._unload()
        n = package_length(bytes(self.upload.area))
        if n is not None:
            package = bytes(self.upload.area[:n])
            if self._validate(package)[0] == Status.OK:
                self._load(package)

    def _unload(self) -> None:
        self.package = None
        self._restored = False  #: the running plan's parameters came from the store
        self.counters = _Counters()
        self.sample = bytearray()
        self._profile_runs: list[int] = []
        self._profile_start = _Counters()

    def _validate(self, package: bytes) -> tuple[Status, int]:
        if self.executor is not None:
            status, detail = self.executor.load(package)
            return Status(status), int(detail)
        plan, weights = split_package(package)
        try:
            P.validate(plan, weights, arena_limit=self.board.arena_bytes)
        except P.PlanInvalid as exc:
            return Status.BAD_PLAN, int(exc.check)
        return Status.OK, 0

    def _load(self, package: bytes) -> None:
        """Make a validated (and, with an executor, loaded) package the running plan and
        restore its committed parameters when the store holds them."""
        self._unload()
        self.package = package
        self._profile_runs = [0] * P.PlanHeader.parse(package).n_ops
        r = self.record
        if self.executor is None or r is None or r.factory or r.tag != package[_PLAN_HASH_AT:_PLAN_HASH_AT + 32]:
            return
        image_bytes = len(self.executor.params_image())
        if len(r.payload) == 4 + image_bytes:
            self.executor.restore(r.payload[4:])
            self.counters.trained = int.from_bytes(r.payload[:4], "little")
            self._restored = True
            self._profile_start = dataclasses.replace(self.counters)

    @property
    def plan_hash(self) -> bytes:
        return self.package[_PLAN_HASH_AT:_PLAN_HASH_AT + 32] if self.package else bytes(_HASH_BYTES)

    @property
    def model_hash(self) -> bytes:
        return self.package[_MODEL_HASH_AT:_MODEL_HASH_AT + 32] if self.package else bytes(_HASH_BYTES)

    def _executor(self):
        if self.executor is None:
            raise NotImplementedError(
                "this Responder has a plan loaded but no executor: pass Responder(..., executor=...) "
                "(see the tt_protocol.responder docstring) to answer training requests"
            )
        return self.executor

    # -- frames ------------------------------------------------------------------------------

    def poll(self) -> None:
        """``tt_proto_poll``: give up a switched rate that no frame confirmed in time."""
        since = self._unconfirmed_since
        if since is not None and self.clock() - since >= self.confirm_ms / 1000:
            self._switch(DEFAULT_BAUD)

    def _switch(self, baud: int) -> None:
        self.baud = baud
        self._decoder = FrameDecoder()  # what was half received is noise at the new rate
        self._unconfirmed_since = None if baud == DEFAULT_BAUD else self.clock()

    def feed(self, data: bytes) -> bytes:
        self.poll()
        out = []
        for event in self._decoder.feed(data):
            if event.status == Status.OK:
                self._unconfirmed_since = None  # an intact frame: the rate carries
            out.append(to_wire(self._answer(event)))
            if self._switch_to is not None:
                self._switch(self._switch_to)
                self._switch_to = None
                break  # anything fed with it arrived at the old rate: noise
            if self._reset_pending:
                # The device resets after this answer: whatever else arrived is lost.
                self.resets += 1
                self._boot()
                break
        return b"".join(out)

    def _answer(self, event) -> bytes:
        if event.status != Status.OK:
            detail = MAX_FRAME_BYTES if event.status == Status.TOO_LARGE else 0
            return error_frame(event.status, SEQ_UNKNOWN, detail=detail)
        request = event.frame
        header = Header.parse(request)
        crc = request[-CRC_BYTES:]
        if self._last is not None and self._last[:2] == (header.seq, crc):
            return self._last[2]
        answer = self._execute(header, request[HEADER_BYTES:-CRC_BYTES])
        self._last = (header.seq, crc, answer)
        return answer

    def _execute(self, header, payload: bytes) -> bytes:
        seq, opcode = header.seq, header.opcode
        if header.version != PROTOCOL_VERSION:
            return error_frame(Status.BAD_VERSION, seq, opcode, PROTOCOL_VERSION)
        if header.length != len(payload):
            return error_frame(Status.TRUNCATED, seq, opcode, len(payload))
        handler = self._HANDLERS.get(opcode)
        if handler is None:
            return error_frame(Status.UNKNOWN_OPCODE, seq, opcode, 0)
        status, detail, answer = handler(self, payload)
        if status != Status.OK:
            return error_frame(status, seq, opcode, detail)
        return encode_frame(Opcode(opcode).response(), seq, answer)

    # -- requests: each returns (status, detail, answer payload) -----------------------------

    def _hello(self, payload: bytes):
        if payload:
            return Status.BAD_PAYLOAD, 0, b""
        return Status.OK, 0, info_payload(self.board, self.plan_hash, self.model_hash, self.upload.capacity,
                                     self.store_capacity)

    def _ping(self, payload: bytes):
        return Status.OK, 0, payload

    def _nonce(self, payload: bytes):
        """An open device issues nonces too (nothing it accepts needs one)."""
        if payload:
            return Status.BAD_PAYLOAD, 0, b""
        return Status.OK, 0, os.urandom(NoncePayload.sizeof())

    def _load_begin(self, payload: bytes):
        size = LoadBeginPayload.sizeof()
        if len(payload) != size:
            return Status.BAD_PAYLOAD, size, b""
        begin = LoadBeginPayload.parse(payload)
        if begin.total_bytes == 0:
            return Status.BAD_PAYLOAD, size, b""
        if begin.total_bytes > self.upload.capacity:
            return Status.NO_SPACE, self.upload.capacity, b""
        if (self.package is not None and begin.model_hash != self.model_hash
                and not begin.flags & LoadFlag.REPLACE_MODEL):
            return Status.MODEL_MISMATCH, 0, b""
        if not self.upload.begin(begin.total_bytes, begin.crc32):
            self._unload()  # a new transfer overwrites the running package
        self.announced_model = bytes(begin.model_hash)
        return Status.OK, 0, self.upload.progress()

    def _load_chunk(self, payload: bytes):
        return self.upload.chunk(payload)

    def _load_end(self, payload: bytes):
        status, detail, answer = self.upload.end(payload)
        if status != Status.OK:
            return status, detail, answer
        package = bytes(self.upload.area[:self.upload.total])
        status, detail = self._validate(package)
        if status != Status.OK:
            self._unload()
            return status, detail, b""
        if package[_MODEL_HASH_AT:_MODEL_HASH_AT + 32] != self.announced_model:
            self._unload()
            return Status.MODEL_MISMATCH, 0, b""
        self._load(package)
        return Status.OK, 0, answer

    def _sample_data(self, payload: bytes):
        size = SampleDataHeader.sizeof()
        if len(payload) < size:
            return Status.BAD_PAYLOAD, size, b""
        if self.package is None:
            return Status.NO_PLAN, 0, b""
        input_bytes = self._executor().input_bytes
        offset = SampleDataHeader.parse(payload).offset
        data = payload[size:]
        if offset != 0 and offset != len(self.sample):
            return Status.OUT_OF_ORDER, len(self.sample), b""
        if offset + len(data) > input_bytes:
            return Status.SAMPLE_SIZE, input_bytes, b""
        self.sample[offset:] = data
        return Status.OK, 0, SampleProgressPayload.build(dict(received=len(self.sample), input_bytes=input_bytes))

    def _sample_packed(self, payload: bytes):
        size = SamplePackedHeader.sizeof()
        if len(payload) < size:
            return Status.BAD_PAYLOAD, size, b""
        if self.package is None:
            return Status.NO_PLAN, 0, b""
        input_bytes = self._executor().input_bytes
        head, stream = SamplePackedHeader.parse(payload), payload[size:]
        if head.offset != 0 and head.offset != len(self.sample):
            return Status.OUT_OF_ORDER, len(self.sample), b""
        if head.offset + head.decoded > input_bytes:
            return Status.SAMPLE_SIZE, input_bytes, b""
        if head.stride > PACKED_MAX_STRIDE:
            return Status.BAD_PAYLOAD, PACKED_MAX_STRIDE, b""
        try:
            decoded = packbits.decode(stream)
        except packbits.PackedInvalid as exc:
            return Status.BAD_PAYLOAD, exc.at, b""
        if len(decoded) != head.decoded:
            return Status.BAD_PAYLOAD, len(stream), b""
        self.sample[head.offset:] = packbits.undelta(decoded, head.stride)
        return Status.OK, 0, SampleProgressPayload.build(dict(received=len(self.sample), input_bytes=input_bytes))

    def _sample_run(self, payload: bytes):
        size = SampleRunPayload.sizeof()
        if len(payload) != size:
            return Status.BAD_PAYLOAD, size, b""
        if self.package is None:
            return Status.NO_PLAN, 0, b""
        ex = self._executor()
        run = SampleRunPayload.parse(payload)
        train = bool(run.flags & SampleFlag.TRAIN)
        c = self.counters
        if len(self.sample) != ex.input_bytes:
            return Status.SAMPLE_SIZE, ex.input_bytes, b""
        if run.label >= ex.classes:
            return Status.LABEL_RANGE, ex.classes, b""
        if train and run.step != c.trained:
            return Status.OUT_OF_ORDER, c.trained, b""
        if train and run.lr_scale > LR_SCALE_ONE:
            return Status.BAD_PAYLOAD, LR_SCALE_ONE, b""
        if train and ex.diverged:
            return Status.DIVERGED, c.trained, b""
        loss, predicted, correct, skipped = ex.step(bytes(self.sample), run.label, train, run.lr_scale)
        loss = _f32(loss)
        self._count_runs(train, bool(train and skipped))
        self.sample = bytearray()  # the step reuses the input's memory
        if train:
            c.trained += 1
            c.skipped += bool(skipped)
            c.train_correct += bool(correct)
            c.train_loss_sum = _f32(c.train_loss_sum + loss)
        else:
            c.evaluated += 1
            c.eval_correct += bool(correct)
            c.eval_loss_sum = _f32(c.eval_loss_sum + loss)
        return Status.OK, 0, SampleResultPayload.build(
            dict(trained=c.trained, loss=loss, predicted=predicted, correct=int(bool(correct)),
                 flags=int(run.flags & SampleFlag.TRAIN) | (SampleFlag.SKIPPED if train and skipped else 0), ticks=0)
        )

    def _stats(self, payload: bytes):
        if payload:
            return Status.BAD_PAYLOAD, 0, b""
        arena_used = params_bytes = diverged = 0
        if self.package is not None:
            ex = self._executor()
            arena_used, params_bytes, diverged = ex.arena_used, len(ex.params_image()), int(ex.diverged)
        c = self.counters
        return Status.OK, 0, StatsPayload.build(
            dict(trained=c.trained, train_correct=c.train_correct, train_loss_sum=c.train_loss_sum,
                 evaluated=c.evaluated, eval_correct=c.eval_correct, eval_loss_sum=c.eval_loss_sum,
                 train_ticks=0, eval_ticks=0, tick_hz=self.board.tick_hz, arena_bytes=self.board.arena_bytes,
                 arena_used=arena_used, stack_bytes=0, stack_peak=0, params_bytes=params_bytes,
                 commit_sequence=self.record.sequence if self.record else 0, skipped=c.skipped, diverged=diverged)
        )

    def _pull(self, payload: bytes):
        size = PullPayload.sizeof()
        if len(payload) != size:
            return Status.BAD_PAYLOAD, size, b""
        if self.package is None:
            return Status.NO_PLAN, 0, b""
        image = self._executor().params_image()
        pull = PullPayload.parse(payload)
        if pull.length > PULL_MAX_DATA:
            return Status.BAD_PAYLOAD, PULL_MAX_DATA, b""
        if pull.offset > len(image):
            return Status.BAD_PAYLOAD, len(image), b""
        data = image[pull.offset:pull.offset + pull.length]
        return Status.OK, 0, PullDataHeader.build(dict(offset=pull.offset, total=len(image))) + data

    def _ops(self) -> list:
        h = P.PlanHeader.parse(self.package)
        return [P.OpRecord.parse(self.package[h.op_table_offset + i * P.OpRecord.sizeof():]) for i in range(h.n_ops)]

    def _count_runs(self, train: bool, skipped: bool) -> None:
        """The ops a step runs (``tt_executor_step``): from INPUT on; an evaluation skips the
        backward ops but the loss; a skipped training step stops after the loss."""
        for i, op in enumerate(self._ops()):
            if op.phase == P.Phase.LOAD:
                continue
            if train or op.kind == P.OpKind.LOSS or op.phase != P.Phase.BACKWARD:
                self._profile_runs[i] += 1
            if skipped and op.kind == P.OpKind.LOSS:
                break

    def _profile(self, payload: bytes):
        size = ProfilePayload.sizeof()
        if len(payload) != size:
            return Status.BAD_PAYLOAD, size, b""
        if self.package is None:
            return Status.NO_PLAN, 0, b""
        h = P.PlanHeader.parse(self.package)
        need = h.n_ops * PROFILE_COUNTER_BYTES
        if P.align(h.arena_bytes, 8) + need > self.board.arena_bytes:
            return Status.NO_SPACE, need, b""
        request = ProfilePayload.parse(payload)
        if request.first > h.n_ops:
            return Status.BAD_PAYLOAD, h.n_ops, b""
        c, s = self.counters, self._profile_start
        ops = self._ops()[request.first:request.first + PROFILE_MAX_RECORDS]
        answer = ProfileDataHeader.build(dict(
            n_ops=h.n_ops, first=request.first, count=len(ops), reserved=0, tick_hz=self.board.tick_hz,
            trained=c.trained - s.trained, evaluated=c.evaluated - s.evaluated, train_ticks=0, eval_ticks=0))
        for i, op in enumerate(ops, request.first):
            answer += ProfileRecord.build(dict(kind=op.kind, phase=op.phase, layer=op.layer,
                                               runs=self._profile_runs[i], ticks=0))
        if request.flags & ProfileFlag.RESET:
            self._profile_runs = [0] * h.n_ops
            self._profile_start = dataclasses.replace(c)
        return Status.OK, 0, answer

    def _write_record(self, factory: bool, tag: bytes, data: bytes) -> int:
        sequence = (self.record.sequence + 1) & 0xFFFFFFFF if self.record else 1
        self.record = _Record(sequence, factory, tag, data)
        return sequence

    def _commit(self, payload: bytes):
        if payload:
            return Status.BAD_PAYLOAD, 0, b""
        if self.package is None:
            return Status.NO_PLAN, 0, b""
        data = self.counters.trained.to_bytes(4, "little") + self._executor().params_image()
        if len(data) > self.store_capacity:
            return Status.NO_SPACE, self.store_capacity, b""
        sequence = self._write_record(False, self.plan_hash, data)
        return Status.OK, 0, CommitPayload.build(dict(sequence=sequence, bytes=len(data)))

    def _rollback(self, payload: bytes):
        if payload:
            return Status.BAD_PAYLOAD, 0, b""
        if self.package is None:
            return Status.NO_PLAN, 0, b""
        ex = self._executor()
        sequence = self._write_record(True, bytes(_HASH_BYTES), b"")
        package = self.package
        ex.load(package)  # the plan afresh: factory parameters (the factory record restores nothing)
        self._load(package)
        return Status.OK, 0, CommitPayload.build(dict(sequence=sequence, bytes=0))

    def _revert(self, payload: bytes):
        if payload:
            return Status.BAD_PAYLOAD, 0, b""
        if self.package is None:
            return Status.NO_PLAN, 0, b""
        package = self.package
        self._executor().load(package)  # the plan afresh, then what a boot restores
        self._load(package)
        r = self.record if self._restored else None
        return Status.OK, 0, CommitPayload.build(dict(sequence=r.sequence if r else 0, bytes=len(r.payload) if r else 0))

    def _set_baud(self, payload: bytes):
        size = SetBaudPayload.sizeof()
        if len(payload) != size:
            return Status.BAD_PAYLOAD, size, b""
        wanted = SetBaudPayload.parse(payload).baud
        made, nearest = uart_rate(self.board.uart_clock_hz, wanted)
        if not made:
            return Status.BAD_PAYLOAD, nearest, b""
        self._switch_to = wanted
        confirm_ms = 0 if wanted == DEFAULT_BAUD else self.confirm_ms
        return Status.OK, 0, BaudPayload.build(dict(baud=made, confirm_ms=confirm_ms))

    def _reset(self, payload: bytes):
        if payload:
            return Status.BAD_PAYLOAD, 0, b""
        self._reset_pending = True
        return Status.OK, 0, b""

    _HANDLERS = {
        Opcode.HELLO: _hello,
        Opcode.PING: _ping,
        Opcode.NONCE: _nonce,
        Opcode.LOAD_BEGIN: _load_begin,
        Opcode.LOAD_CHUNK: _load_chunk,
        Opcode.LOAD_END: _load_end,
        Opcode.SAMPLE_DATA: _sample_data,
        Opcode.SAMPLE_RUN: _sample_run,
        Opcode.STATS: _stats,
        Opcode.PULL: _pull,
        Opcode.PROFILE: _profile,
        Opcode.COMMIT: _commit,
        Opcode.ROLLBACK: _rollback,
        Opcode.REVERT: _revert,
        Opcode.RESET: _reset,
        Opcode.SET_BAUD: _set_baud,
        Opcode.SAMPLE_PACKED: _sample_packed,
    }
