"""The Python device model (``tt_protocol.responder.Responder``) against the firmware's endpoint.

The C endpoint (``tt_proto_feed`` over ``tt_trainer_t`` on the host port's RAM flash, from the
host build of the runtime) and a Responder with the C executor behind it get the same scripted
training session, request by request, including two resets; their answers must be identical
byte for byte, except the tick counts (the host port's clock is real time, the model's is 0).
The golden vectors cover the paths that need no executor; this covers the rest.
"""

from __future__ import annotations

import ctypes as C
import random

import numpy as np
import pytest

from tt_host import native
from tt_protocol import vectors
from tt_protocol.frame import (
    LOAD_CHUNK_MAX_DATA,
    LR_SCALE_ONE,
    PULL_MAX_DATA,
    LoadBeginPayload,
    LoadChunkHeader,
    LoadFlag,
    Opcode,
    PullPayload,
    SampleDataHeader,
    SampleFlag,
    SampleResultPayload,
    SampleRunPayload,
    StatsPayload,
    crc32,
    encode_frame,
    parse_frame,
    to_wire,
)
from tt_protocol.responder import Responder
from tt_protocol.status import Status
from tt_protocol.stream import FrameDecoder

BOARD = vectors.VECTOR_BOARD
_WRITE = C.CFUNCTYPE(None, C.c_void_p, C.POINTER(C.c_uint8), C.c_size_t)


class _BoardInfo(C.Structure):
    _fields_ = [("name", C.c_char_p), ("sram_bytes", C.c_uint32), ("flash_bytes", C.c_uint32),
                ("core_clock_hz", C.c_uint32)]


class NativeModelExecutor:
    """The Responder's executor interface over the C executor (host build)."""

    def __init__(self, arena_bytes: int) -> None:
        self.ex = native.Executor(arena_bytes)

    def load(self, package: bytes) -> tuple[int, int]:
        return self.ex.load(package)

    @property
    def input_bytes(self) -> int:
        return self.ex.input_bytes

    @property
    def classes(self) -> int:
        return self.ex.classes

    @property
    def arena_used(self) -> int:
        return self.ex.arena_used

    def step(self, sample: bytes, label: int, train: bool, lr_scale: int):
        status, r = self.ex.step(np.frombuffer(sample, np.int8), label, train, lr_scale=lr_scale)
        assert status == Status.OK
        return r.loss, r.predicted, r.correct, r.skipped

    @property
    def diverged(self) -> bool:
        return self.ex.diverged

    def params_image(self) -> bytes:
        return self.ex.params()

    def restore(self, image: bytes) -> None:
        assert self.ex.params_write(image) == Status.OK


class CDevice:
    """The firmware's endpoint and trainer from libtt, on the host port's RAM flash. A RESET
    reboots it from that flash, dropping whatever else was fed with it (as the Responder does)."""

    def __init__(self, arena_bytes: int) -> None:
        lib = self.lib = native.load()
        lib.tt_port_flash_layout.restype = C.c_void_p
        lib.tt_proto_feed.restype = C.c_size_t
        lib.tt_proto_feed.argtypes = [C.c_void_p, C.c_char_p, C.c_size_t]
        lib.tt_proto_reset_requested.restype = C.c_bool
        lib.tt_proto_reset_requested.argtypes = [C.c_void_p]
        lib.tt_proto_init.argtypes = [C.c_void_p] * 7
        lib.tt_trainer_init.argtypes = [C.c_void_p, C.c_void_p, C.c_uint32, C.c_void_p]
        lib.tt_host_flash_reset()
        # Generous, 8-aligned room for the structs (their C sizes are far smaller).
        self.proto = (C.c_uint64 * 4096)()
        self.trainer = (C.c_uint64 * 4096)()
        self.arena = (C.c_uint64 * (arena_bytes // 8))()
        self.arena_bytes = arena_bytes
        self.rx = (C.c_uint8 * 2048)()
        self.tx = (C.c_uint8 * 2048)()
        self.board = _BoardInfo(BOARD.name.encode(), BOARD.sram_bytes, BOARD.flash_bytes, BOARD.core_clock_hz)
        self.out = bytearray()
        self._write = _WRITE(lambda ctx, data, n: self.out.extend(C.string_at(data, n)))
        self.boots = 0
        self.boot()

    def boot(self) -> None:
        self.boots += 1
        self.lib.tt_trainer_init(self.trainer, self.arena, self.arena_bytes, self.lib.tt_port_flash_layout())
        self.lib.tt_proto_init(self.proto, self.rx, self.tx, self._write, None, C.byref(self.board), self.trainer)

    def feed(self, data: bytes) -> bytes:
        self.out.clear()
        self.lib.tt_proto_feed(self.proto, data, len(data))
        if self.lib.tt_proto_reset_requested(self.proto):
            self.boot()
        return bytes(self.out)


def _without_ticks(wire: bytes) -> list[tuple[int, int, bytes]]:
    """The answers' (opcode, seq, payload) with the real-time tick fields zeroed."""
    out = []
    for event in FrameDecoder().feed(wire):
        assert event.status == Status.OK
        body = parse_frame(event.frame).body.value
        payload = body.payload
        if body.header.opcode == Opcode.SAMPLE_RESULT:
            payload = SampleResultPayload.build({**SampleResultPayload.parse(payload), "ticks": 0})
        elif body.header.opcode == Opcode.STATS_REPORT:
            payload = StatsPayload.build({**StatsPayload.parse(payload), "train_ticks": 0, "eval_ticks": 0})
        out.append((body.header.opcode, body.header.seq, bytes(payload)))
    return out


@pytest.fixture(scope="module")
def package() -> bytes:
    import sys

    from tt_host.paths import REPO_ROOT

    sys.path.insert(0, str(REPO_ROOT / "firmware" / "tests"))
    import gen_executor_vectors

    plan, weights = gen_executor_vectors.blobs()
    return plan + weights


def _script(package: bytes) -> list[tuple[int, bytes]]:
    rng = random.Random(5)
    input_bytes, classes = 16 * 16 * 3, 3
    model = package[16:48]
    other = bytes(range(1, 33))  # the package's own model hash is all zeros
    out: list[tuple[int, bytes]] = []

    def begin(pkg: bytes, flags: int = 0, model_hash: bytes = model) -> None:
        out.append((Opcode.LOAD_BEGIN, LoadBeginPayload.build(
            dict(total_bytes=len(pkg), crc32=crc32(pkg), flags=flags, model_hash=model_hash))))

    def upload(pkg: bytes, **kw) -> None:
        begin(pkg, **kw)
        for at in range(0, len(pkg), LOAD_CHUNK_MAX_DATA):
            out.append((Opcode.LOAD_CHUNK, LoadChunkHeader.build(dict(offset=at)) + pkg[at:at + LOAD_CHUNK_MAX_DATA]))
        out.append((Opcode.LOAD_END, b""))

    def sample(parts: int = 2) -> None:
        x = rng.randbytes(input_bytes)
        cut = sorted(rng.sample(range(1, input_bytes), parts - 1)) if parts > 1 else []
        for a, b in zip([0, *cut], [*cut, input_bytes]):
            out.append((Opcode.SAMPLE_DATA, SampleDataHeader.build(dict(offset=a)) + x[a:b]))

    def run(step: int, label: int, train: bool = True, flags: int = 0, lr_scale: int = LR_SCALE_ONE) -> None:
        out.append((Opcode.SAMPLE_RUN, SampleRunPayload.build(
            dict(step=step, label=label, flags=(SampleFlag.TRAIN if train else 0) | flags, lr_scale=lr_scale))))

    def pull_all(n: int = 3) -> None:
        for k in range(n):
            out.append((Opcode.PULL, PullPayload.build(dict(offset=k * 300, length=300))))

    stats = (Opcode.STATS, b"")
    out += [(Opcode.HELLO, b""), stats, (Opcode.COMMIT, b""), (Opcode.PULL, PullPayload.build(dict(offset=0, length=1)))]
    broken = bytearray(package)
    broken[100] ^= 1
    upload(bytes(broken))  # BAD_PLAN
    upload(package, model_hash=other)  # MODEL_MISMATCH
    begin(package)  # resumes at the end
    out.append((Opcode.LOAD_END, b""))
    out += [(Opcode.HELLO, b""), stats]
    pull_all()
    run(0, 0)  # no sample
    sample(3)
    out.append((Opcode.SAMPLE_DATA, SampleDataHeader.build(dict(offset=5)) + b"x"))  # out of order
    out.append((Opcode.SAMPLE_DATA, SampleDataHeader.build(dict(offset=input_bytes)) + b"x"))  # past the end
    run(0, classes)  # label range
    run(7, 1)  # wrong step
    run(99, 2, train=False, flags=0x40)  # evaluation; unknown flag bits dropped
    run(0, 1, lr_scale=LR_SCALE_ONE + 1)  # a rate above the plan's: refused, the sample kept
    run(0, 1, lr_scale=0)  # nothing moves but the PRNG
    for step in range(1, 4):
        sample(rng.randrange(1, 4))
        run(step, rng.randrange(classes), lr_scale=rng.randrange(1, LR_SCALE_ONE + 1))
    out += [(Opcode.PULL, PullPayload.build(dict(offset=0, length=PULL_MAX_DATA + 1))),
            (Opcode.PULL, PullPayload.build(dict(offset=100000, length=4))), stats]
    pull_all()
    out.append((Opcode.COMMIT, b""))
    sample()
    run(4, 1)
    out += [(Opcode.REVERT, b""), stats]  # back to the commit: 4 trained
    pull_all()
    out.append((Opcode.REVERT, b"?"))  # a payload: refused
    sample()
    run(4, 1)
    out += [(Opcode.RESET, b""), (Opcode.HELLO, b""), stats]
    pull_all()
    sample()
    run(4, 2)
    run(5, 2)  # the sample was consumed
    begin(package[:64], model_hash=other)  # another model: refused, nothing changes
    out += [stats, (Opcode.ROLLBACK, b""), stats, (Opcode.REVERT, b""), stats]  # revert after rollback: factory
    pull_all()
    out += [(Opcode.RESET, b"")]
    out += [(Opcode.HELLO, b""), stats]
    begin(package[:64], flags=LoadFlag.REPLACE_MODEL, model_hash=other)  # accepted: unloads
    out += [(Opcode.HELLO, b""), stats, (Opcode.RESET, b""), (Opcode.HELLO, b"")]
    return out


def test_model_answers_like_the_firmware(package):
    device = CDevice(BOARD.arena_bytes)
    model = Responder(BOARD, executor=NativeModelExecutor(BOARD.arena_bytes))
    statuses = set()
    for seq, (opcode, payload) in enumerate(_script(package), start=1000):
        wire = to_wire(encode_frame(opcode, seq, payload))
        got, want = device.feed(wire), model.feed(wire)
        assert _without_ticks(got) == _without_ticks(want), f"seq {seq}: {Opcode(opcode).name}"
        [(answer, _, body)] = _without_ticks(want)
        statuses.add(Status(body[0]) if answer == Opcode.ERROR else Status.OK)
    assert device.boots == 4 and model.resets == 3
    assert {Status.NO_PLAN, Status.BAD_PLAN, Status.MODEL_MISMATCH, Status.SAMPLE_SIZE, Status.OUT_OF_ORDER,
            Status.LABEL_RANGE, Status.BAD_PAYLOAD} <= statuses


def test_model_without_executor_explains_itself():
    model = Responder(BOARD)
    pkg = vectors.tiny_package(vectors.MODEL_A)
    for seq, (opcode, payload) in enumerate([
        (Opcode.LOAD_BEGIN, LoadBeginPayload.build(dict(total_bytes=len(pkg), crc32=crc32(pkg), flags=0,
                                                        model_hash=vectors.MODEL_A))),
        (Opcode.LOAD_CHUNK, LoadChunkHeader.build(dict(offset=0)) + pkg),
        (Opcode.LOAD_END, b""),
    ]):
        [(answer, _, _)] = _without_ticks(model.feed(to_wire(encode_frame(opcode, seq, payload))))
        assert answer == Opcode(opcode).response()
    assert model.plan_hash == pkg[48:80]
    with pytest.raises(NotImplementedError, match="executor"):
        model.feed(to_wire(encode_frame(Opcode.STATS, 9)))


def test_stats_without_a_plan_are_zeros_where_a_plan_is_needed():
    [(answer, _, payload)] = _without_ticks(Responder(BOARD).feed(to_wire(encode_frame(Opcode.STATS, 1))))
    s = StatsPayload.parse(payload)
    assert answer == Opcode.STATS_REPORT
    assert (s.trained, s.evaluated, s.arena_used, s.params_bytes, s.commit_sequence) == (0, 0, 0, 0, 0)
    assert (s.tick_hz, s.arena_bytes) == (BOARD.tick_hz, BOARD.arena_bytes)
