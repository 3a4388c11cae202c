"""A device for host tests: the training protocol answered by the numpy plan executor.

``SimDevice.feed`` takes wire bytes and returns the answer bytes, like
``tt_protocol.responder.Responder``; behind it, a loaded plan runs on
``tt_host.compiler.simulate.planned`` (bit-exact with the firmware's executor), so
streaming, resuming and pulling can be tested end to end without an emulator. Flash (the
model area and the committed parameters) is a :class:`Flash` that survives :meth:`reset`.

It follows the protocol's rules as ``tt_protocol.frame.Opcode`` documents them; where the
firmware has freedom (what a committed record holds) it does the natural thing: a COMMIT
keeps the parameter image and the trained count, and loading the same plan restores both.
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
from tt_protocol import plan as P
from tt_protocol.frame import (
    CRC_BYTES,
    HEADER_BYTES,
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    PULL_MAX_DATA,
    SEQ_UNKNOWN,
    CommitPayload,
    ErrorPayload,
    Header,
    InfoPayload,
    LoadBeginPayload,
    LoadChunkHeader,
    LoadDonePayload,
    LoadFlag,
    LoadProgressPayload,
    Opcode,
    PullDataHeader,
    PullPayload,
    SampleDataHeader,
    SampleFlag,
    SampleProgressPayload,
    SampleResultPayload,
    SampleRunPayload,
    StatsPayload,
    encode_frame,
    to_wire,
)
from tt_protocol.plan import OpKind, Phase
from tt_protocol.status import Status
from tt_protocol.stream import FrameDecoder

from tt_host.compiler import simulate

ARENA_BYTES = 229376
TICK_HZ = 1000
STACK_BYTES = 8192


class Refused(Exception):
    def __init__(self, status: Status, detail: int = 0) -> None:
        self.status, self.detail = status, detail


@dataclasses.dataclass
class Flash:
    """What survives a reset: the model area and the store's records."""

    package: bytes = b""  #: a completely received, CRC-checked package
    records: dict = dataclasses.field(default_factory=dict)  #: plan_hash -> (image, trained)
    sequence: int = 0


class SimDevice:
    def __init__(self, flash: Flash | None = None, model_area: int = 512 * 1024) -> None:
        self.flash = flash or Flash()
        self.model_area = model_area
        #: (step, label) of every training run executed, to prove none ran twice
        self.train_log: list[tuple[int, int]] = []
        self.evals = 0
        self.boot()

    # -- state ---------------------------------------------------------------------------

    def boot(self) -> None:
        self.decoder = FrameDecoder()
        self.last: tuple[int, bytes, bytes] | None = None
        self.transfer: dict | None = None
        self.machine = None
        self.plan = b""
        self.model_hash = bytes(32)
        self.plan_hash = bytes(32)
        self.sample = bytearray()
        self.counters = dict.fromkeys(("trained", "train_correct", "evaluated", "eval_correct"), 0)
        self.loss = {"train": 0.0, "eval": 0.0}
        self.ticks = {"train": 0, "eval": 0}
        if self.flash.package:
            try:
                self._load(self.flash.package)
            except Refused:
                pass

    def reset(self) -> None:
        """A power cycle: RAM is lost, flash stays."""
        self.boot()

    def _load(self, package: bytes) -> None:
        plan_bytes = int.from_bytes(package[8:12], "little") if len(package) >= 12 else 0
        plan, weights = package[:plan_bytes], package[plan_bytes:]
        try:
            v = P.validate(plan, weights, arena_limit=ARENA_BYTES)
        except P.PlanInvalid as exc:
            raise Refused(Status.BAD_PLAN, int(exc.check)) from exc
        except Exception as exc:  # noqa: BLE001 - anything unparsable is a bad plan
            raise Refused(Status.BAD_PLAN, 0) from exc
        self.plan, self.weights = plan, weights
        self.header = v.header
        self.machine = simulate.planned(plan, weights)
        self.plan_hash, self.model_hash = bytes(v.header.plan_hash), bytes(v.header.model_hash)
        self._zero()
        record = self.flash.records.get(self.plan_hash)
        if record is not None:
            image, trained = record
            self._write_image(image)
            self.counters["trained"] = trained

    def _zero(self) -> None:
        for k in self.counters:
            self.counters[k] = 0
        self.loss = {"train": 0.0, "eval": 0.0}
        self.ticks = {"train": 0, "eval": 0}
        self.sample = bytearray()

    def _load_ops(self):
        return [op for op in self.machine.ops if op.phase == Phase.LOAD]

    def image(self) -> bytes:
        out = b"".join(self.machine.store.get(op.outs[0]).tobytes() for op in self._load_ops())
        return out + self.machine.rng.counter.to_bytes(4, "little")

    def _write_image(self, image: bytes) -> None:
        at = 0
        for op in self._load_ops():
            size = self.machine.store.buffers[op.outs[0]].size
            raw = image[at:at + size]
            dtype = np.int8 if op.kind == OpKind.LOAD_WEIGHTS else "<i4"
            self.machine.store.put(op.outs[0], np.frombuffer(raw, dtype))
            at += size
        self.machine.rng.counter = int.from_bytes(image[at:at + 4], "little")

    @property
    def input_bytes(self) -> int:
        h = self.header
        return h.input_h * h.input_w * h.input_c

    # -- the wire ------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        out = b""
        for event in self.decoder.feed(data):
            out += to_wire(self._answer(event))
            if getattr(self, "_reset_pending", False):
                self._reset_pending = False
                self.reset()
        return out

    def _answer(self, event) -> bytes:
        if event.status != Status.OK:
            detail = MAX_FRAME_BYTES if event.status == Status.TOO_LARGE else 0
            return _error(event.status, SEQ_UNKNOWN, 0, detail)
        frame = event.frame
        header = Header.parse(frame)
        crc = frame[-CRC_BYTES:]
        if self.last is not None and self.last[:2] == (header.seq, crc):
            return self.last[2]
        payload = frame[HEADER_BYTES:-CRC_BYTES]
        try:
            if header.version != PROTOCOL_VERSION:
                raise Refused(Status.BAD_VERSION, PROTOCOL_VERSION)
            opcode, body = self._execute(header.opcode, payload)
            answer = encode_frame(opcode, header.seq, body)
        except Refused as r:
            answer = _error(r.status, header.seq, header.opcode, r.detail)
        self.last = (header.seq, crc, answer)
        return answer

    def _execute(self, opcode: int, payload: bytes) -> tuple[int, bytes]:
        handler = {
            Opcode.HELLO: self._hello, Opcode.PING: lambda p: p, Opcode.LOAD_BEGIN: self._load_begin,
            Opcode.LOAD_CHUNK: self._load_chunk, Opcode.LOAD_END: self._load_end, Opcode.SAMPLE_DATA: self._data,
            Opcode.SAMPLE_RUN: self._run, Opcode.STATS: self._stats, Opcode.PULL: self._pull,
            Opcode.COMMIT: self._commit, Opcode.ROLLBACK: self._rollback, Opcode.RESET: self._reset,
        }.get(opcode)
        if handler is None:
            raise Refused(Status.UNKNOWN_OPCODE)
        return Opcode(opcode).response(), handler(payload)

    def _hello(self, payload: bytes) -> bytes:
        return InfoPayload.build(dict(
            protocol_version=PROTOCOL_VERSION, firmware_version=dict(major=0, minor=2, patch=0),
            board=b"f746-sim".ljust(16, b"\0"), sram_bytes=327680, flash_bytes=1048576, arena_bytes=ARENA_BYTES,
            core_clock_hz=216_000_000, max_payload=1024, plan_hash=self.plan_hash, model_hash=self.model_hash))

    def _load_begin(self, payload: bytes) -> bytes:
        if len(payload) != LoadBeginPayload.sizeof():
            raise Refused(Status.BAD_PAYLOAD, LoadBeginPayload.sizeof())
        b = LoadBeginPayload.parse(payload)
        if b.total_bytes == 0:
            raise Refused(Status.BAD_PAYLOAD, LoadBeginPayload.sizeof())
        if b.total_bytes > self.model_area:
            raise Refused(Status.NO_SPACE, self.model_area)
        if self.machine is not None and b.model_hash != self.model_hash and not b.flags & LoadFlag.REPLACE_MODEL:
            raise Refused(Status.MODEL_MISMATCH)
        t = self.transfer
        if not (t and (t["total"], t["crc"]) == (b.total_bytes, b.crc32)):
            self.transfer = {"total": b.total_bytes, "crc": b.crc32, "model": bytes(b.model_hash),
                             "data": bytearray()}
        self.machine, self.plan_hash, self.model_hash = None, bytes(32), bytes(32)
        return self._progress()

    def _progress(self) -> bytes:
        return LoadProgressPayload.build(dict(received=len(self.transfer["data"]), capacity=self.model_area))

    def _load_chunk(self, payload: bytes) -> bytes:
        if self.transfer is None:
            raise Refused(Status.NO_TRANSFER)
        offset = LoadChunkHeader.parse(payload).offset
        data = payload[LoadChunkHeader.sizeof():]
        stored = self.transfer["data"]
        if offset != len(stored):
            raise Refused(Status.OUT_OF_ORDER, len(stored))
        stored += data
        return self._progress()

    def _load_end(self, payload: bytes) -> bytes:
        t = self.transfer
        if t is None:
            raise Refused(Status.NO_TRANSFER)
        if len(t["data"]) != t["total"]:
            raise Refused(Status.OUT_OF_ORDER, len(t["data"]))
        crc = zlib.crc32(t["data"]) & 0xFFFFFFFF
        if crc != t["crc"]:
            self.transfer = None
            raise Refused(Status.BLOB_CORRUPT, crc)
        package = bytes(t["data"])
        if len(package) >= P.PLAN_HEADER_BYTES and package[:4] == P.PLAN_MAGIC:
            if bytes(P.PlanHeader.parse(package).model_hash) != t["model"]:
                raise Refused(Status.MODEL_MISMATCH)
        self._load(package)
        self.flash.package = package
        return LoadDonePayload.build(dict(total_bytes=t["total"], crc32=crc))

    def _need_plan(self) -> None:
        if self.machine is None:
            raise Refused(Status.NO_PLAN)

    def _data(self, payload: bytes) -> bytes:
        self._need_plan()
        offset = SampleDataHeader.parse(payload).offset
        data = payload[SampleDataHeader.sizeof():]
        if offset == 0:
            self.sample = bytearray()
        elif offset != len(self.sample):
            raise Refused(Status.OUT_OF_ORDER, len(self.sample))
        if len(self.sample) + len(data) > self.input_bytes:
            raise Refused(Status.SAMPLE_SIZE, self.input_bytes)
        self.sample += data
        return SampleProgressPayload.build(dict(received=len(self.sample), input_bytes=self.input_bytes))

    def _run(self, payload: bytes) -> bytes:
        if len(payload) != SampleRunPayload.sizeof():
            raise Refused(Status.BAD_PAYLOAD, SampleRunPayload.sizeof())
        self._need_plan()
        r = SampleRunPayload.parse(payload)
        if len(self.sample) != self.input_bytes:
            raise Refused(Status.SAMPLE_SIZE, self.input_bytes)
        if r.label >= self.header.n_classes:
            raise Refused(Status.LABEL_RANGE, self.header.n_classes)
        train = bool(r.flags & SampleFlag.TRAIN)
        if train and r.step != self.counters["trained"]:
            raise Refused(Status.OUT_OF_ORDER, self.counters["trained"])
        h = self.header
        image = np.frombuffer(bytes(self.sample), np.int8).reshape(h.input_h, h.input_w, h.input_c)
        self.sample = bytearray()
        m = self.machine
        if train:
            result = m.step(image, r.label)
            self.train_log.append((r.step, r.label))
        else:
            m.label = int(r.label)
            for i, op in enumerate(m.ops):
                if op.phase == Phase.FORWARD or op.kind == OpKind.LOSS:
                    m.run(i, op, image)
            result = m.result
            self.evals += 1
        kind = "train" if train else "eval"
        key = "trained" if train else "evaluated"
        self.counters[key] += 1
        self.counters[f"{kind}_correct"] += int(result.correct)
        self.loss[kind] += float(result.loss)
        ticks = 50 if train else 20
        self.ticks[kind] += ticks
        return SampleResultPayload.build(dict(trained=self.counters["trained"], loss=float(result.loss),
                                              predicted=int(result.predicted), correct=int(result.correct),
                                              flags=r.flags & SampleFlag.TRAIN, ticks=ticks))

    def _stats(self, payload: bytes) -> bytes:
        loaded = self.machine is not None
        return StatsPayload.build(dict(
            trained=self.counters["trained"], train_correct=self.counters["train_correct"],
            train_loss_sum=self.loss["train"], evaluated=self.counters["evaluated"],
            eval_correct=self.counters["eval_correct"], eval_loss_sum=self.loss["eval"],
            train_ticks=self.ticks["train"], eval_ticks=self.ticks["eval"], tick_hz=TICK_HZ, arena_bytes=ARENA_BYTES,
            arena_used=self.header.arena_bytes if loaded else 0, stack_bytes=STACK_BYTES, stack_peak=3000,
            params_bytes=len(self.image()) if loaded else 0, commit_sequence=self.flash.sequence))

    def _pull(self, payload: bytes) -> bytes:
        self._need_plan()
        p = PullPayload.parse(payload)
        image = self.image()
        if p.offset > len(image):
            raise Refused(Status.BAD_PAYLOAD, len(image))
        data = image[p.offset:p.offset + min(p.length, PULL_MAX_DATA)]
        return PullDataHeader.build(dict(offset=p.offset, total=len(image))) + data

    def _commit(self, payload: bytes) -> bytes:
        self._need_plan()
        image = self.image()
        self.flash.sequence += 1
        self.flash.records[self.plan_hash] = (image, self.counters["trained"])
        return CommitPayload.build(dict(sequence=self.flash.sequence, bytes=len(image)))

    def _rollback(self, payload: bytes) -> bytes:
        self._need_plan()
        self.flash.sequence += 1
        self.flash.records.pop(self.plan_hash, None)
        self._load(self.flash.package)
        return CommitPayload.build(dict(sequence=self.flash.sequence, bytes=0))

    def _reset(self, payload: bytes) -> bytes:
        self._reset_pending = True
        return b""


def _error(status: Status, seq: int, opcode: int, detail: int) -> bytes:
    return encode_frame(Opcode.ERROR, seq, ErrorPayload.build(dict(status=int(status), opcode=opcode, detail=detail)))
