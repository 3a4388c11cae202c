"""Tier 3: the training commands on the emulated board, against the numpy simulation.

The f746-qemu image boots in QEMU; a compiled package of the demo model is uploaded with raw
requests, a few samples are trained and evaluated, and every loss, prediction and the pulled
parameter image must be bit-identical to ``tt_host.compiler.simulate.planned`` stepping the
same samples. Then COMMIT, RESET: the rebooted board restores the committed image and the
trained count; ROLLBACK brings back the factory parameters, and that survives a reset too.
Everything goes through ``DeviceSession.request`` so this checks the firmware alone.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tt_host.tooling.boards import resolve
from tt_host.compiler import TrainParams, compile_model, serialize, simulate
from tt_host.compiler.blob import package as make_package
from tt_host.tooling.emulator import Emulator
from tt_host.errors import DeviceError
from tt_host.paths import REPO_ROOT
from tt_host.workflows.samples import load_input
from tt_host.link.session import DeviceSession
from tt_host.link.transport import SerialTransport
from tt_protocol import plan as P
from tt_protocol.frame import (
    LOAD_CHUNK_MAX_DATA,
    LR_SCALE_ONE,
    PULL_MAX_DATA,
    SAMPLE_CHUNK_MAX_DATA,
    CommitPayload,
    InfoPayload,
    LoadBeginPayload,
    LoadChunkHeader,
    Opcode,
    PullDataHeader,
    PullPayload,
    SampleDataHeader,
    SampleFlag,
    SampleResultPayload,
    SampleRunPayload,
    StatsPayload,
    crc32,
)
from tt_protocol.status import Status

pytestmark = pytest.mark.qemu  # skipped, naming the tool, when one is missing (conftest.py)

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
SAMPLES = REPO_ROOT / "examples" / "camera_samples"
SCHEME = {"name": "hil", "n_bias_update": 2, "manual_weight_idx": [4], "weight_update_ratio": [0.25]}


@pytest.fixture(scope="module")
def blobs():
    compiled = compile_model(DEMO, SCHEME)
    b = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.05, seed=17), compiled.scheme.name)
    return b.plan, b.weights


def _samples(shape, n: int) -> list[tuple[np.ndarray, int]]:
    folders = sorted(p for p in SAMPLES.iterdir() if p.is_dir())
    files = [sorted(f.glob("*.png")) for f in folders]
    return [(load_input(files[i % len(files)][i // len(files)], shape), i % 6) for i in range(n)]


def _upload(session: DeviceSession, package: bytes, replace: bool = True) -> bytes:
    model_hash = package[16:48]
    begin = LoadBeginPayload.build(dict(total_bytes=len(package), crc32=crc32(package), flags=int(replace),
                                        model_hash=model_hash))
    session.request(Opcode.LOAD_BEGIN, begin)
    for at in range(0, len(package), LOAD_CHUNK_MAX_DATA):
        chunk = package[at:at + LOAD_CHUNK_MAX_DATA]
        session.request(Opcode.LOAD_CHUNK, LoadChunkHeader.build(dict(offset=at)) + chunk)
    return session.request(Opcode.LOAD_END, timeout=30.0)[1]


def _send_sample(session: DeviceSession, x: np.ndarray) -> None:
    data = np.ascontiguousarray(x, np.int8).tobytes()
    for at in range(0, len(data), SAMPLE_CHUNK_MAX_DATA):
        session.request(Opcode.SAMPLE_DATA, SampleDataHeader.build(dict(offset=at)) + data[at:at + SAMPLE_CHUNK_MAX_DATA])


def _run(session: DeviceSession, label: int, train: bool, step: int = 0):
    payload = SampleRunPayload.build(dict(step=step, label=label, flags=SampleFlag.TRAIN if train else 0,
                                          lr_scale=LR_SCALE_ONE))
    return SampleResultPayload.parse(session.request(Opcode.SAMPLE_RUN, payload, timeout=30.0)[1])


def _pull(session: DeviceSession) -> bytes:
    out, total = b"", None
    while total is None or len(out) < total:
        answer = session.request(Opcode.PULL, PullPayload.build(dict(offset=len(out), length=PULL_MAX_DATA)))[1]
        head = PullDataHeader.parse(answer)
        total = head.total
        out += answer[PullDataHeader.sizeof():]
    return out


def _stats(session: DeviceSession):
    return StatsPayload.parse(session.request(Opcode.STATS)[1])


def _image(ref: simulate.Machine, plan: bytes) -> bytes:
    """The reference's parameter image, laid out as ``tt_executor_params_read`` defines it."""
    v = P.validate(plan)
    out = b""
    for op in v.ops:
        if op.kind in (P.OpKind.LOAD_WEIGHTS, P.OpKind.LOAD_BIAS):
            out += np.asarray(ref.store.get(op.outs[0])).tobytes()
    return out + struct.pack("<I", ref.rng.counter)


def _reboot(session: DeviceSession) -> InfoPayload:
    session.request(Opcode.RESET)
    # The board validates its package (CRCs over flash) before it listens again.
    session.transport.reset_input()
    return InfoPayload.parse(session.request(Opcode.HELLO, timeout=10.0)[1])


def test_training_on_the_board_is_bit_exact_and_survives_a_reset(blobs, tmp_path):
    plan, weights = blobs
    package = make_package(plan, weights)
    h = P.validate(plan).header
    samples = _samples((h.input_h, h.input_w, h.input_c), 5)
    ref = simulate.planned(plan, weights)
    factory = _image(ref, plan)

    with Emulator(resolve("f746-qemu"), flash_image=tmp_path / "flash.img", log_path=tmp_path / "log") as emu:
        with SerialTransport(emu.url) as link:
            session = DeviceSession(link, timeout=2.0)
            session.hello()
            assert _upload(session, package)  # LOAD_DONE
            info = InfoPayload.parse(session.request(Opcode.HELLO)[1])
            assert (info.plan_hash, info.model_hash) == (h.plan_hash, h.model_hash)
            assert _pull(session) == factory

            # Training runs, step by step, against the simulation; then one evaluation.
            for step, (x, label) in enumerate(samples[:4]):
                _send_sample(session, x)
                got = _run(session, label, train=True, step=step)
                want = ref.step(x, label)
                assert (np.float32(got.loss), got.predicted, bool(got.correct)) == (
                    np.float32(want.loss), want.predicted, want.correct), step
                assert got.trained == step + 1 and got.ticks > 0
            trained = _pull(session)
            assert trained == _image(ref, plan) and trained != factory

            x, label = samples[4]
            with pytest.raises(DeviceError) as err:  # the last run consumed the sample
                _run(session, label, train=False)
            assert err.value.status == Status.SAMPLE_SIZE
            _send_sample(session, x)
            with pytest.raises(DeviceError) as err:  # a training run must carry the step
                _run(session, label, train=True, step=3)
            assert (err.value.status, err.value.detail) == (Status.OUT_OF_ORDER, 4)
            evaluated = _run(session, label, train=False)
            assert evaluated.trained == 4 and _pull(session) == trained

            stats = _stats(session)
            assert (stats.trained, stats.evaluated, stats.params_bytes) == (4, 1, len(trained))
            assert stats.train_ticks > 0 and stats.tick_hz > 0
            assert 0 < stats.arena_used <= stats.arena_bytes == info.arena_bytes
            assert 0 < stats.stack_peak < stats.stack_bytes

            commit = CommitPayload.parse(session.request(Opcode.COMMIT, timeout=30.0)[1])
            assert commit.bytes == 4 + len(trained) and commit.sequence >= 1

            # Train one more sample without committing: the reset forgets it.
            _send_sample(session, x)
            _run(session, label, train=True, step=4)
            assert _pull(session) != trained

            info = _reboot(session)
            assert info.plan_hash == h.plan_hash
            assert _pull(session) == trained
            stats = _stats(session)
            assert (stats.trained, stats.evaluated, stats.commit_sequence) == (4, 0, commit.sequence)

            rolled = CommitPayload.parse(session.request(Opcode.ROLLBACK, timeout=30.0)[1])
            assert rolled.sequence == commit.sequence + 1 and rolled.bytes == 0
            assert _pull(session) == factory and _stats(session).trained == 0
            _reboot(session)
            assert _pull(session) == factory

    assert "fault" not in emu.log_text().lower(), emu.log_text()


def test_streamed_sample_on_the_board_is_bit_exact(tmp_path):
    """A plan whose sample streams into the fused stem block (a row buffer instead of the
    whole sample): SAMPLE_DATA pieces that end mid-row, a sample restarted from offset 0 and a
    piece out of order, and every result still equals the simulation's."""
    from compiler.builders import inverted_bottleneck_model
    from tt_host.compiler import PlanOptions, import_model
    from tt_host.tflite import load

    graph = import_model(load(inverted_bottleneck_model(stem_block=True)), "stem").with_classes(3)
    options = PlanOptions.layer_by_layer(fuse_blocks="all", inplace_kernels=True, streamed_updates=True, stream_input=True)
    compiled = compile_model(graph, {"n_bias_update": 2, "manual_weight_idx": [3], "weight_update_ratio": [0.5]},
                             options=options)
    assert compiled.schedule.streamed_input
    b = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.05, seed=5), "streamed")
    h = P.validate(b.plan).header
    rng = np.random.default_rng(8)
    samples = [(rng.integers(-128, 128, (h.input_h, h.input_w, h.input_c), dtype=np.int8), k % 3) for k in range(4)]
    ref = simulate.planned(b.plan, b.weights)

    def send(session: DeviceSession, data: bytes, piece: int) -> None:
        for at in range(0, len(data), piece):
            session.request(Opcode.SAMPLE_DATA, SampleDataHeader.build(dict(offset=at)) + data[at:at + piece])

    with Emulator(resolve("f746-qemu"), flash_image=tmp_path / "flash.img", log_path=tmp_path / "log") as emu:
        with SerialTransport(emu.url) as link:
            session = DeviceSession(link, timeout=2.0)
            session.hello()
            assert _upload(session, make_package(b.plan, b.weights))
            for step, (x, label) in enumerate(samples):
                data = x.tobytes()
                if step == 1:  # half of another sample first, then this one from the start
                    send(session, samples[0][0].tobytes()[:len(data) // 2], 100)
                    with pytest.raises(DeviceError) as err:
                        session.request(Opcode.SAMPLE_DATA, SampleDataHeader.build(dict(offset=7)) + b"x")
                    assert (err.value.status, err.value.detail) == (Status.OUT_OF_ORDER, len(data) // 2)
                send(session, data, 100 if step % 2 else SAMPLE_CHUNK_MAX_DATA)
                got = _run(session, label, train=True, step=step)
                want = ref.step(x, label)
                assert (np.float32(got.loss), got.predicted, bool(got.correct)) == (
                    np.float32(want.loss), want.predicted, want.correct), step
            assert _pull(session) == _image(ref, b.plan)


def test_every_operator_trains_bit_exact_on_the_board(tmp_path):
    """The operators of users' models (max pool, requantizing MEAN, MUL gates, hard swish,
    concatenation, standalone RELU / RELU6 / LEAKY_RELU / QUANTIZE, PADV2, SQUEEZE) in the Arm
    build of the executor: the small random models that chain them (tests/kernels/tflite_builder.py,
    those the compiler takes) and the corpus' SqueezeNet, every layer trained, two steps each on
    one booted board (a new package replaces the last), against the numpy simulation: losses,
    predictions, pulled parameters."""
    from kernels.tflite_builder import random_model

    from tt_host.compiler import load_graph
    from tt_host.compiler.ir import import_model
    from tt_host.tflite import load

    graphs = [import_model(load(random_model(seed)[0]), f"random{seed}") for seed in range(30)]
    graphs.append(load_graph(REPO_ROOT / "examples" / "models" / "squeezenet.tflite"))
    with Emulator(resolve("f746-qemu"), flash_image=tmp_path / "flash.img", log_path=tmp_path / "log") as emu:
        with SerialTransport(emu.url) as link:
            session = DeviceSession(link, timeout=2.0)
            session.hello()
            for graph in graphs:
                compiled = compile_model(graph, "full", classes=3)
                b = serialize(compiled.schedule, compiled.plan, TrainParams(seed=5), "ops")
                assert _upload(session, make_package(b.plan, b.weights)), graph.name
                ref = simulate.planned(b.plan, b.weights)
                shape = graph.tensors[graph.input].shape
                rng = np.random.default_rng(1)
                for step in range(2):
                    x = rng.integers(-128, 128, shape).astype(np.int8)
                    _send_sample(session, x)
                    got, want = _run(session, step, train=True, step=step), ref.step(x, step)
                    assert (np.float32(got.loss), got.predicted) == (np.float32(want.loss), want.predicted), graph.name
                assert _pull(session) == _image(ref, b.plan), graph.name
    assert "fault" not in emu.log_text().lower(), emu.log_text()
