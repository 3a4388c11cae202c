"""Tier 3, hardware in the loop: training on the f746-qemu image, driven by ``tt_host``.

QEMU runs with ``-icount shift=0``, so the device is deterministic: the same plan, samples and
seed give the same bytes every run, and the numbers the tests print (``-s``) are reproducible.
One emulator serves the module; the persistence tests boot their own with a flash image file.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tt_protocol import plan as P
from tt_protocol.frame import (
    LOAD_CHUNK_MAX_DATA,
    LoadBeginPayload,
    LoadChunkHeader,
    Opcode,
    SampleFlag,
    SampleRunPayload,
    crc32,
    encode_frame,
    to_wire,
)
from tt_protocol.status import Status

from tt_host.workflows import provision, samples
from tt_host.workflows import stream as S
from tt_host.tooling.boards import resolve
from tt_host.workflows.cache import Cache, CachedPlan
from tt_host.compiler import deltas as D
from tt_host.compiler import simulate
from tt_host.tooling.emulator import Emulator
from tt_host.errors import DeviceError, LinkError
from tt_host.paths import REPO_ROOT
from tt_host.workflows.pull import pull_deltas
from tt_host.recipe import LrSchedule
from tt_host.link.session import DeviceSession
from tt_host.link.transport import SerialTransport

from emulated import connected, measured

pytestmark = pytest.mark.qemu  # skipped, naming the tool, when one is missing (conftest.py)

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
SHAPE = (32, 32, 3)
BOARD = resolve("f746-qemu")




def _subset(root: Path, per_label: int) -> Path:
    for label in sorted(p.name for p in CAMERA.iterdir()):
        (root / label).mkdir(parents=True)
        for f in sorted((CAMERA / label).iterdir())[:per_label]:
            shutil.copy(f, root / label / f.name)
    return root


@dataclasses.dataclass
class Prepared:
    plan: CachedPlan
    schedule: S.Schedule


def _prepare(cache: Cache, folder: Path, setup: provision.TrainingSetup, eval_split: float = 0.2,
             epochs: int = 1) -> Prepared:
    found = samples.scan(folder)
    head = provision.choose_head(provision.model_labels(DEMO), 6, found.labels)
    schedule = S.build_schedule(found, head.class_of, SHAPE, eval_split, epochs, setup.seed)
    images, labels = S.training_arrays(schedule, SHAPE)
    limits = provision.DeviceLimits(setup.budget or 200 * 1024)
    return Prepared(provision.prepare(cache, DEMO, head, images, labels, setup, limits), schedule)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Cache:
    return Cache(tmp_path_factory.mktemp("tt-home"))


@pytest.fixture(scope="module")
def small(cache: Cache, tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """The auto plan (Fisher under 200 KB) for 8 samples of each label: 6 train, 2 held out."""
    folder = _subset(tmp_path_factory.mktemp("small"), 8)
    return _prepare(cache, folder, provision.TrainingSetup(scheme="auto", budget=200 * 1024), eval_split=0.25)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(BOARD) as emu:
        yield emu


def _replay(prepared: Prepared, steps: int) -> simulate.Machine:
    machine = simulate.planned(prepared.plan.plan, prepared.plan.weights)
    rates = LrSchedule.for_steps(prepared.schedule.total)
    for step, item in enumerate(prepared.schedule.steps()[:steps]):
        machine.step(np.frombuffer(item.data, np.int8).reshape(SHAPE), item.class_index, lr_scale=rates.scale_q16(step))
    return machine


def _image(machine: simulate.Machine) -> bytes:
    """The parameter image of the simulation, as the device's PULL sends it: the trained
    slices and biases in op order (``Machine.parameters`` keeps it), then the PRNG counter."""
    params = b"".join(np.asarray(v).astype(v.dtype.newbyteorder("<")).tobytes() for v in machine.parameters().values())
    return params + machine.rng.counter.to_bytes(4, "little")


def _train_steps(session: DeviceSession, prepared: Prepared, start: int, stop: int) -> None:
    rates = LrSchedule.for_steps(prepared.schedule.total)
    for step, item in enumerate(prepared.schedule.steps()[start:stop], start):
        session.send_sample(item.data)
        result = session.run_sample(item.class_index, train=True, step=step, lr_scale=rates.scale_q16(step))
        assert result.trained == step + 1


def _fresh(session: DeviceSession, prepared: Prepared) -> None:
    """Make the device run ``prepared``'s plan at its factory parameters."""
    if session.hello().plan_hash != prepared.plan.plan_hash:
        session.upload(prepared.plan.package, replace_model=True)
    session.rollback()


# -- training works ----------------------------------------------------------------------------


def test_streaming_real_samples_trains_the_device(emulator: Emulator, cache: Cache) -> None:
    """One pass over the 240 training samples with a zero-initialised head: held-out accuracy
    goes from chance to well above it (simulation of the same plan: 25.0% -> 78.3%)."""
    setup = provision.TrainingSetup(scheme="auto", init="zero", lr=0.01)
    with connected(emulator) as session:
        t0 = time.perf_counter()
        report = S.stream_folder(session, CAMERA, cache, setup, model=DEMO, replace_model=True)
        wall = time.perf_counter() - t0
    before, after = report.before.accuracy, report.after.accuracy
    stats = report.stats
    measured("stream_zero_head", before=before, after=after, samples_per_s=report.samples_per_s,
              instructions_per_step=stats.instructions_per_step, device_ms_per_step=1e3 * stats.seconds_per_step,
              peak_sram=report.peak_sram, arena_used=stats.arena_used, stack_peak=stats.stack_peak,
              static=report.firmware_static, upload_s=report.upload_s, upload_bytes=report.upload_bytes,
              trainable=report.trainable_params, wall_s=wall)
    assert report.trained == report.total == 240 and report.before.n == 60
    assert after >= before + 0.30, f"held-out accuracy {before:.1%} -> {after:.1%}"
    assert stats.trained == 240 and stats.evaluated == 120
    assert 0 < stats.arena_used <= stats.arena_bytes and 0 < stats.stack_peak <= stats.stack_bytes


def test_pulled_deltas_equal_the_reference_simulation_byte_for_byte(emulator: Emulator, cache: Cache,
                                                                    small: Prepared) -> None:
    with connected(emulator) as session:
        report = S.stream(session, small.plan, small.schedule, cache, replace_model=True, keep_last=True)
        pulled = pull_deltas(session, cache)
    n = small.schedule.total
    assert report.trained == n == 24
    machine = _replay(small, n)
    expected = D.build(small.plan.plan, small.plan.weights, machine.parameters(), samples=n)
    assert pulled.deltas == expected
    assert any(np.any(r.values) for r in P.parse_deltas(pulled.deltas).records if not r.absolute)


def test_a_stream_cut_off_resumes_where_the_device_stands(emulator: Emulator, cache: Cache,
                                                         small: Prepared) -> None:
    """The link drops right after a training request reached the device (its answer never
    read); the same stream in a new connection continues after that step, and the result is
    bit-exact with training every step exactly once."""
    with connected(emulator) as session:
        _fresh(session, small)
    transport = SerialTransport(emulator.url)
    session = DeviceSession(transport, timeout=2.0, slow_timeout=30.0)
    session.hello()

    def cut(tick: S.Tick) -> None:
        if tick.phase == "train" and tick.done == 5:
            item = small.schedule.steps()[5]
            session.send_sample(item.data)
            run = SampleRunPayload.build(dict(step=5, label=item.class_index, flags=SampleFlag.TRAIN,
                                              lr_scale=LrSchedule.for_steps(small.schedule.total).scale_q16(5)))
            transport.write(to_wire(encode_frame(Opcode.SAMPLE_RUN, 4242, run)))
            time.sleep(1.0)  # the device trains; its answer is never read
            transport.close()

    with pytest.raises(LinkError):
        S.stream(session, small.plan, small.schedule, cache, progress=cut, keep_last=True)
    with connected(emulator) as session:
        report = S.stream(session, small.plan, small.schedule, cache, keep_last=True)
        pulled = pull_deltas(session, cache)
    assert not report.uploaded and report.start == 6 and report.trained == small.schedule.total - 6
    machine = _replay(small, small.schedule.total)
    assert pulled.deltas == D.build(small.plan.plan, small.plan.weights, machine.parameters(),
                                    samples=small.schedule.total)


def test_evaluation_changes_nothing_and_predictions_match_the_reference(emulator: Emulator, small: Prepared) -> None:
    with connected(emulator) as session:
        _fresh(session, small)
        image = session.pull()
        machine = simulate.planned(small.plan.plan, small.plan.weights)
        for item in small.schedule.held_out:
            session.send_sample(item.data)
            r = session.run_sample(item.class_index, train=False)
            expected = machine.step(np.frombuffer(item.data, np.int8).reshape(SHAPE), item.class_index)
            machine = simulate.planned(small.plan.plan, small.plan.weights)  # step trained: start over
            assert (r.predicted, r.correct) == (expected.predicted, expected.correct)
            assert r.loss == pytest.approx(expected.loss, rel=1e-5)
        assert session.pull() == image and session.stats().trained == 0


# -- persistence -------------------------------------------------------------------------------


def test_a_commit_survives_a_reset(emulator: Emulator, small: Prepared) -> None:
    with connected(emulator) as session:
        _fresh(session, small)
        _train_steps(session, small, 0, 5)
        trained = session.pull()
        assert trained == _image(_replay(small, 5))
        sequence, size = session.commit()
        assert size == 4 + len(trained)
        session.reset()
        time.sleep(0.5)
        info = session.hello()
        assert info.plan_hash == small.plan.plan_hash
        assert session.stats().trained == 5 and session.pull() == trained
        _train_steps(session, small, 5, 6)  # and training goes on from there


def test_rollback_restores_the_factory_model(emulator: Emulator, small: Prepared) -> None:
    factory = _image(simulate.planned(small.plan.plan, small.plan.weights))
    with connected(emulator) as session:
        _fresh(session, small)
        _train_steps(session, small, 0, 4)
        session.commit()
        assert session.pull() != factory
        session.rollback()
        assert session.pull() == factory and session.stats().trained == 0
        session.reset()
        time.sleep(0.5)
        session.hello()
        assert session.pull() == factory and session.stats().trained == 0, "the rollback is persistent"


def _boot(flash: Path, log: Path) -> Emulator:
    emulator = Emulator(BOARD, flash_image=flash, log_path=log)
    emulator.start()
    return emulator


def test_a_power_cut_during_a_commit_leaves_the_old_or_the_new_weights(small: Prepared, tmp_path: Path) -> None:
    """Kill QEMU at a sweep of instants after a COMMIT is sent; boot again from its flash image:
    the device runs the plan with the old committed parameters or the new ones, never others."""
    flash = tmp_path / "flash.img"
    emulator = _boot(flash, tmp_path / "boot0.log")
    try:
        with connected(emulator) as session:
            session.upload(small.plan.package, replace_model=True)
            _train_steps(session, small, 0, 3)
            t0 = time.perf_counter()
            session.commit()
            commit_s = time.perf_counter() - t0  # round trip included: the cuts sweep past it
            old = session.pull()
            _train_steps(session, small, 3, 6)
            new = session.pull()
    finally:
        emulator.stop()
    assert old != new and (old, new) == (_image(_replay(small, 3)), _image(_replay(small, 6)))
    outcomes: dict[float, int] = {}  # delay of the cut -> trained count found at the next boot
    state = (old, 3)
    delays = tuple(round(f * commit_s, 6) for f in (0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0, 2.0))
    for i, delay in enumerate((None, *delays)):
        emulator = _boot(flash, tmp_path / f"boot{i + 1}.log")
        try:
            with connected(emulator) as session:
                state = session.pull(), session.stats().trained
                assert state in ((old, 3), (new, 6)), f"after a cut {delay} s into a commit"
                if delay is not None:
                    outcomes[delay] = state[1]
                if i == len(delays):
                    break
                if state[1] == 6:  # back to the old record, so the next commit has something to change
                    session.rollback()
                    _train_steps(session, small, 0, 3)
                    session.commit()
                _train_steps(session, small, 3, 6)
                session.transport.write(to_wire(encode_frame(Opcode.COMMIT, 7)))
                time.sleep(delays[i])
                emulator.process.kill()
                emulator.process.wait()
        finally:
            emulator.stop()
    measured("commit_power_cuts", commit_s=commit_s, trained_after_cut_at_s=outcomes)


# -- bad input -------------------------------------------------------------------------------


def _refused(status: Status, call, *args, **kwargs) -> DeviceError:
    with pytest.raises(DeviceError) as err:
        call(*args, **kwargs)
    assert err.value.status == status, err.value
    return err.value


def test_bad_input_is_refused_with_a_status_and_nothing_is_applied(emulator: Emulator, cache: Cache,
                                                                   small: Prepared, tmp_path: Path) -> None:
    with connected(emulator) as session:
        _fresh(session, small)
        _train_steps(session, small, 0, 2)
        before = session.pull()
        item = small.schedule.steps()[2]
        input_bytes = len(item.data)

        # A sample longer than the plan's input; one run before the whole input arrived.
        assert _refused(Status.SAMPLE_SIZE, session.send_sample, item.data + b"\0" * 8).detail == input_bytes
        session.request(Opcode.SAMPLE_DATA, (0).to_bytes(4, "little") + item.data[:100])
        assert _refused(Status.SAMPLE_SIZE, session.run_sample, item.class_index, True, 2).detail == input_bytes
        # A label the plan does not have.
        session.send_sample(item.data)
        assert _refused(Status.LABEL_RANGE, session.run_sample, 4, True, 2).detail == 4
        # A step the device has applied already, or not reached.
        session.send_sample(item.data)
        assert _refused(Status.OUT_OF_ORDER, session.run_sample, item.class_index, True, 1).detail == 2
        assert session.pull() == before and session.stats().trained == 2

        # A plan for another model, without REPLACE_MODEL: refused at LOAD_BEGIN, nothing changes.
        other = tmp_path / "other-int8.tflite"
        other.write_bytes(DEMO.read_bytes() + bytes(4))
        head = provision.HeadChoice(True, small.plan.labels)
        images, labels = S.training_arrays(small.schedule, SHAPE)
        plan, weights, _ = provision.compile_plan(other, head, images, labels,
                                                  provision.TrainingSetup(scheme="last-layer"), None)
        _refused(Status.MODEL_MISMATCH, session.upload, plan + weights)
        assert session.hello().plan_hash == small.plan.plan_hash
        assert session.pull() == before and session.stats().trained == 2

        # The device keeps working: the next step is the one expected.
        _train_steps(session, small, 2, 3)
        assert session.pull() == _image(_replay(small, 3))

        # A chunk corrupted on the way (of another plan of the same model: beginning the
        # running package again would resume its finished transfer): the CRC catches it at
        # LOAD_END and the package never runs.
        plan, weights, _ = provision.compile_plan(DEMO, head, images, labels,
                                                  provision.TrainingSetup(scheme="last-layer"), None)
        package = plan + weights
        begin = LoadBeginPayload.build(dict(total_bytes=len(package), crc32=crc32(package), flags=0,
                                            model_hash=bytes(P.PlanHeader.parse(package).model_hash)))
        session.request(Opcode.LOAD_BEGIN, begin)
        for offset in range(0, len(package), LOAD_CHUNK_MAX_DATA):
            chunk = bytearray(package[offset:offset + LOAD_CHUNK_MAX_DATA])
            if offset == LOAD_CHUNK_MAX_DATA:
                chunk[17] ^= 0x40
            session.request(Opcode.LOAD_CHUNK, LoadChunkHeader.build(dict(offset=offset)) + bytes(chunk))
        _refused(Status.BLOB_CORRUPT, session.request, Opcode.LOAD_END)
        assert session.hello().plan_hash is None
        _refused(Status.NO_PLAN, session.send_sample, item.data)
        # Packages that arrive intact but hold a broken plan: BAD_PLAN, detail the loader's check.
        broken = {c.name: c for c in P.corruptions(small.plan.plan, small.plan.weights)}
        for name in ("flipped_bit", "buffer_outside_arena", "unknown_op_kind"):
            c = broken[name]
            assert _refused(Status.BAD_PLAN, session.upload, c.plan + c.weights).detail == int(c.expected), name
            assert session.hello().plan_hash is None

        # Uploading the good package again brings the device back.
        session.upload(small.plan.package)
        assert session.hello().plan_hash == small.plan.plan_hash
        session.ping(b"still here")


# -- the demo ----------------------------------------------------------------------------------


def test_the_demo_runs_the_whole_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``tt-host demo`` (one epoch here): accuracy up, deltas pulled, and the adapted .tflite
    predicts the held-out samples exactly as the trained device did."""
    from typer.testing import CliRunner

    from tt_host.cli.app import app

    monkeypatch.setenv("TT_HOME", str(tmp_path / "tt-home"))
    result = CliRunner().invoke(app, ["demo", "--epochs", "1", "--json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    measured("demo_one_epoch", before=report["before"]["accuracy"], after=report["after"]["accuracy"],
              samples_per_s=report["samples_per_s"], instructions_per_step=report["instructions_per_step"],
              peak_sram=report["peak_sram_bytes"], upload_s=report["upload_s"], total_s=report["total_s"])
    assert report["after"]["accuracy"] > report["before"]["accuracy"]
    # The same run on the real board: the link at the rate HELLO negotiated (the board's fastest:
    # the twin takes its rates), the samples compressed, the instructions at 216 MHz.
    stats = report["stats"]
    instructions = (stats["train_ticks"] + stats["eval_ticks"]) * 1e9 / stats["tick_hz"]
    assert report["projected_compute_s"] == pytest.approx(instructions / 216e6)
    assert report["baud"] == 921_600 and "negotiated" in report["baud_source"]
    assert report["projected_link_s"] == pytest.approx(report["link_bytes"] * 10 / 921_600)
    raw_samples = report["total_steps"] * 32 * 32 * 3
    assert report["upload_bytes"] < report["link_bytes"] < report["upload_bytes"] + raw_samples
    deltas = P.parse_deltas(Path(report["deltas"]).read_bytes())
    assert deltas.samples == report["total_steps"] == 240 and deltas.head.labels == tuple(report["labels"])
    tflm = pytest.importorskip("tflite_micro", reason="the adapted model is checked with tflite-micro").runtime
    interpreter = tflm.Interpreter.from_bytes(Path(report["adapted_model"]).read_bytes())
    found = samples.scan(CAMERA)
    _, held_out = found.split(0.2, 0)
    correct = dict.fromkeys(report["labels"], 0)
    for s in held_out:
        interpreter.set_input(samples.load_input(s.path, SHAPE)[None], 0)
        interpreter.invoke()
        correct[s.label] += int(np.argmax(interpreter.get_output(0)[0])) == report["labels"].index(s.label)
    assert correct == {k: v["correct"] for k, v in report["after"]["per_label"].items()}
