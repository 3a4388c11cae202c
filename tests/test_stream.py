"""Streaming, resuming and pulling against a simulated device (``sim_device.SimDevice``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sim_device import SimDevice
from tt_protocol import plan as P
from tt_protocol.frame import HEADER_BYTES, Opcode, SampleFlag, SampleRunPayload
from tt_protocol.stream import FrameDecoder

from tt_host.workflows import provision, samples
from tt_host.workflows import stream as S
from tt_host.recipe import LrSchedule
from tt_host.workflows.cache import Cache, load_plan_folder
from tt_host.compiler import deltas as D
from tt_host.compiler import simulate
from tt_host.errors import LinkError, UsageError
from tt_host.paths import REPO_ROOT
from tt_host.workflows.pull import pull_deltas
from tt_host.link.session import DeviceSession
from tt_host.link.transport import LoopbackTransport

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
SHAPE = (32, 32, 3)
PER_LABEL = 10
LAST_LAYER = provision.TrainingSetup(scheme="last-layer", lr=0.01)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten camera samples of each of the four labels."""
    root = tmp_path_factory.mktemp("samples")
    for label in sorted(p.name for p in CAMERA.iterdir()):
        (root / label).mkdir()
        for f in sorted((CAMERA / label).iterdir())[:PER_LABEL]:
            shutil.copy(f, root / label / f.name)
    return root


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def _session(device: SimDevice) -> DeviceSession:
    session = DeviceSession(LoopbackTransport(device.feed), timeout=1.0)
    session.hello()
    return session


def _stream(device: SimDevice, folder: Path, cache: Cache, epochs: int = 1, setup=LAST_LAYER, **kw) -> S.StreamReport:
    return S.stream_folder(_session(device), folder, cache, setup, model=DEMO, epochs=epochs, **kw)


def _schedule(folder: Path, epochs: int = 1, seed: int = 0) -> S.Schedule:
    found = samples.scan(folder)
    head = provision.choose_head((), 6, found.labels)
    return S.build_schedule(found, head.class_of, SHAPE, 0.2, epochs, seed)


# -- schedule, labels, cache -------------------------------------------------------------------


def test_schedule_is_deterministic_and_any_suffix_resumes_it(folder: Path) -> None:
    a, b = _schedule(folder, epochs=3), _schedule(folder, epochs=3)
    assert a.digest == b.digest and [i.path for i in a.steps()] == [i.path for i in b.steps()]
    assert a.total == 3 * len(a.train) == len(a.steps()) and len(a.held_out) == 4 * 2
    every = a.steps()
    for start in (0, 1, len(a.train) - 1, len(a.train), 2 * len(a.train) + 5, a.total):
        assert a.steps(start) == every[start:]
    n = len(a.train)
    assert [i.path for i in every[:n]] != [i.path for i in every[n:2 * n]], "each epoch has its own order"
    assert sorted(i.path for i in every[:n]) == sorted(i.path for i in a.train)
    assert _schedule(folder, seed=1).digest != a.digest
    assert not {i.path for i in a.train} & {i.path for i in a.held_out}


def test_labels_beside_the_model_and_the_head_choice(tmp_path: Path) -> None:
    assert provision.model_labels(DEMO) == ("tshirt", "trouser", "pullover", "dress", "sandal", "bag")
    assert provision.model_labels(tmp_path / "none.tflite") == ()
    own = provision.model_labels(DEMO)
    kept = provision.choose_head(own, 6, ["bag", "sandal"])
    assert not kept.replaced and kept.class_of("bag") == 5
    new = provision.choose_head(own, 6, ["sneaker", "coat", "bag"])
    assert new.replaced and new.labels == ("bag", "coat", "sneaker") and new.class_of("sneaker") == 2
    assert provision.choose_head((), 6, ["bag"]).replaced, "unknown class names: a new head"


def test_cache_finds_plans_and_models_by_hash_and_ignores_damage(cache: Cache, tmp_path: Path) -> None:
    digest = cache.add_model(DEMO)
    assert cache.model(digest).read_bytes() == DEMO.read_bytes()
    assert cache.model("00" * 32) is None
    from tt_host.compiler import compile_model, serialize

    c = compile_model(DEMO, "last-layer")
    blobs = serialize(c.schedule, c.plan)
    entry = cache.add_plan(blobs.plan, blobs.weights, {"x": 1})
    found = cache.plan(blobs.plan_hash.hex())
    assert found.package == blobs.plan + blobs.weights and found.report == {"x": 1}
    assert found.model_hash == digest and found.scheme_name == "last-layer"
    damaged = bytearray(blobs.weights)
    damaged[-1] ^= 1
    (entry.folder / "weights.bin").write_bytes(damaged)
    assert cache.plan(blobs.plan_hash.hex()) is None
    (cache.root / "models" / f"{digest}.tflite").write_bytes(b"not it")
    assert cache.model(digest) is None
    assert load_plan_folder(tmp_path / "nowhere") is None


def test_model_comes_from_the_option_or_the_cache(cache: Cache) -> None:
    device = SimDevice()
    info = _session(device).hello()
    with pytest.raises(UsageError, match="--model"):
        provision.find_model(cache, info, None)
    assert provision.find_model(cache, info, DEMO) == DEMO
    with pytest.raises(UsageError, match="not a file"):
        provision.find_model(cache, info, DEMO.with_name("missing.tflite"))


# -- streaming ---------------------------------------------------------------------------------


def test_stream_trains_every_step_once_and_reports(folder: Path, cache: Cache) -> None:
    device = SimDevice()
    report = _stream(device, folder, cache)
    schedule = _schedule(folder)
    assert device.trained_labels == [item.class_index for item in schedule.steps()]
    assert report.uploaded and report.start == 0 and report.trained == report.total == len(schedule.train)
    assert report.head_replaced and report.labels == ("ankle_boot", "coat", "shirt", "sneaker")
    assert report.before.n == report.after.n == len(schedule.held_out) == device.evaluations // 2
    assert report.stats.trained == report.total and report.stats.evaluated == 2 * len(schedule.held_out)
    assert report.peak_sram == report.stats.arena_used + report.stats.stack_peak + report.firmware_static
    d = report.to_dict()
    json.dumps(d)
    assert d["before"]["per_label"]["coat"]["samples"] == 2 and d["trained_now"] == report.total
    # The link: the package and every sample (trained, and evaluated twice) in frames, at 115,200
    # baud; the samples compressed (their dark backgrounds are runs), so fewer bytes than raw.
    payload = report.upload_bytes + (report.trained + 2 * len(schedule.held_out)) * int(np.prod(SHAPE))
    assert report.upload_bytes < report.link_bytes < payload
    assert d["projected_link_s"] == pytest.approx(report.link_bytes * 10 / 115_200)
    # The plan and the model are in the cache under the device's hashes.
    info = _session(device).hello()
    assert cache.plan(info.plan_hash) is not None and cache.model(info.model_hash) is not None


def test_pulled_deltas_equal_the_simulation_of_the_same_steps(folder: Path, cache: Cache) -> None:
    device = SimDevice()
    report = _stream(device, folder, cache, setup=provision.TrainingSetup(scheme="auto", budget=128 * 1024),
                     keep_last=True)
    pulled = pull_deltas(_session(device), cache)
    plan = cache.plan(report.plan_hash)
    machine = simulate.planned(plan.plan, plan.weights)
    rates = LrSchedule.for_steps(report.total)
    for step, item in enumerate(_schedule(folder).steps()):
        machine.step(np.frombuffer(item.data, np.int8).reshape(SHAPE), item.class_index, lr_scale=rates.scale_q16(step))
    assert pulled.deltas == D.build(plan.plan, plan.weights, machine.parameters(), samples=report.total)
    parsed = P.parse_deltas(pulled.deltas)
    assert parsed.samples == report.total and parsed.head.labels == report.labels
    assert any(np.any(r.values) for r in parsed.records if not r.absolute), "the backbone moved"


class _CutAfter:
    """A device behind a link that breaks after ``n`` training requests reached it."""

    def __init__(self, device: SimDevice, n: int, lose_answer: bool = False) -> None:
        self.device, self.n, self.lose_answer = device, n, lose_answer
        self.decoder = FrameDecoder()

    def __call__(self, data: bytes) -> bytes:
        runs = sum(1 for e in self.decoder.feed(data) if e.frame and e.frame[1] == Opcode.SAMPLE_RUN and self._trains(e))
        if runs and self.n <= 0:
            raise LinkError("connection lost")
        self.n -= runs
        answer = self.device.feed(data)
        if runs and self.n <= 0 and self.lose_answer:
            raise LinkError("connection lost before the answer")
        return answer

    @staticmethod
    def _trains(event) -> bool:
        payload = event.frame[HEADER_BYTES:-4]  # between the header and the CRC
        return bool(SampleRunPayload.parse(payload).flags & SampleFlag.TRAIN)


@pytest.mark.parametrize("lose_answer", [False, True])
def test_a_stream_cut_off_resumes_without_training_any_step_twice(folder: Path, cache: Cache, lose_answer) -> None:
    device = SimDevice()
    cut = _CutAfter(device, 7, lose_answer)
    session = DeviceSession(LoopbackTransport(cut), timeout=1.0)
    session.hello()
    with pytest.raises(LinkError):
        S.stream_folder(session, folder, cache, LAST_LAYER, model=DEMO, epochs=2)
    assert len(device.trained_labels) == 7
    report = _stream(device, folder, cache, epochs=2)
    assert not report.uploaded and report.start == 7 and report.before_resumed
    assert device.trained_labels == [item.class_index for item in _schedule(folder, epochs=2).steps()]
    # Same parameters as a stream that was never interrupted.
    other = SimDevice()
    _stream(other, folder, Cache(cache.root.parent / "other"), epochs=2)
    assert other.image() == device.image()


def test_a_step_applied_by_a_lost_attempt_is_not_sent_again(folder: Path, cache: Cache) -> None:
    device = SimDevice()
    _stream(device, folder, cache)  # uploads the plan
    session = _session(device)
    plan = cache.plan(session.info.plan_hash)
    session.rollback()
    schedule = _schedule(folder)
    first = schedule.steps()[0]
    session.send_sample(first.data)
    session.run_sample(first.class_index, train=True, step=0)  # "the answer was lost"
    report = S.StreamReport(plan.plan_hash, plan.model_hash, plan.labels, True, "", 0, schedule.total, 0)
    S.train(session, schedule, 0, report)  # the host still believes it stands at step 0
    assert report.trained == schedule.total
    assert device.trained_labels == 2 * [item.class_index for item in schedule.steps()]


def test_a_finished_stream_is_not_trained_again_and_more_epochs_continue_it(folder: Path, cache: Cache) -> None:
    device = SimDevice()
    first = _stream(device, folder, cache)
    again = _stream(device, folder, cache)
    assert (again.uploaded, again.start, again.trained) == (False, first.total, 0)
    longer = _stream(device, folder, cache, epochs=2)
    assert (longer.start, longer.trained) == (first.total, first.total)
    assert device.trained_labels == [item.class_index for item in _schedule(folder, epochs=2).steps()]
    with pytest.raises(S.StreamConflict, match="rollback"):
        _stream(device, folder, cache, epochs=1)


def test_a_committed_stream_resumes_after_a_reset_and_rollback_starts_over(folder: Path, cache: Cache) -> None:
    device = SimDevice()
    cut = _CutAfter(device, 5)
    session = DeviceSession(LoopbackTransport(cut), timeout=1.0)
    session.hello()
    with pytest.raises(LinkError):
        S.stream_folder(session, folder, cache, LAST_LAYER, model=DEMO)
    _session(device).commit()
    device.power_cycle()
    report = _stream(device, folder, cache)
    assert not report.uploaded and report.start == 5
    _session(device).rollback()
    report = _stream(device, folder, cache)
    assert report.start == 0 and report.trained == report.total


def test_another_model_needs_replace_model(folder: Path, cache: Cache, tmp_path: Path) -> None:
    device = SimDevice()
    _stream(device, folder, cache)
    other = tmp_path / "other-int8.tflite"
    other.write_bytes(DEMO.read_bytes() + b"\0" * 4)  # another file, another model hash
    with pytest.raises(UsageError, match="--replace-model"):
        S.stream_folder(_session(device), folder, cache, LAST_LAYER, model=other)
    report = S.stream_folder(_session(device), folder, cache, LAST_LAYER, model=other, replace_model=True)
    assert report.uploaded and _session(device).hello().model_hash == report.model_hash


def test_stream_without_model_uses_the_devices_from_the_cache(folder: Path, cache: Cache) -> None:
    device = SimDevice()
    _stream(device, folder, cache)
    report = S.stream_folder(_session(device), folder, cache, LAST_LAYER, epochs=2)
    assert report.start == report.total // 2 and not report.uploaded
    with pytest.raises(UsageError, match="has not seen"):
        S.stream_folder(_session(device), folder, Cache(cache.root.parent / "empty"), LAST_LAYER)


# -- keeping the best evaluated state ----------------------------------------------------------


class _CutAtEvaluation:
    """A link that breaks at the first evaluation request after ``n`` training requests."""

    def __init__(self, device: SimDevice, n: int) -> None:
        self.device, self.n = device, n
        self.decoder = FrameDecoder()

    def __call__(self, data: bytes) -> bytes:
        for e in self.decoder.feed(data):
            if e.frame and e.frame[1] == Opcode.SAMPLE_RUN:
                if _CutAfter._trains(e):
                    self.n -= 1
                elif self.n <= 0:
                    raise LinkError("connection lost")
        return self.device.feed(data)


def test_every_epoch_is_evaluated_and_the_best_state_kept(folder: Path, cache: Cache) -> None:
    device = SimDevice()
    report = _stream(device, folder, cache, epochs=3)
    names = [name for name, *_ in report.epochs]
    assert names == ["start", "epoch 1", "epoch 2", "epoch 3"] and report.kept in names
    evaluations = {name: e for name, _, e, _ in report.epochs}
    kept = evaluations[report.kept]
    assert all(not S.better(e, kept) for e in evaluations.values()), "a better state was not kept"
    assert report.after.to_dict() == kept.to_dict()
    kept_steps = next(t for name, t, _, _ in report.epochs if name == report.kept)
    assert _session(device).stats().trained == kept_steps
    committed = [name for name, _, _, c in report.epochs if c]
    assert report.kept == "start" or committed[-1] == report.kept


def test_a_stream_cut_before_its_last_evaluation_evaluates_it_when_run_again(folder: Path, cache: Cache) -> None:
    device = SimDevice()
    total = len(_schedule(folder).train)
    session = DeviceSession(LoopbackTransport(_CutAtEvaluation(device, total)), timeout=1.0)
    session.hello()
    with pytest.raises(LinkError):
        S.stream_folder(session, folder, cache, LAST_LAYER, model=DEMO, keep_last=True)
    assert _session(device).stats().trained == total
    report = _stream(device, folder, cache, keep_last=True)
    assert report.trained == 0 and [name for name, *_ in report.epochs] == ["start", "epoch 1"]
    assert report.kept == "epoch 1" and report.after.n == report.before.n



def test_a_stream_cut_before_an_epochs_evaluation_keeps_what_an_uncut_one_keeps(folder: Path, cache: Cache,
                                                                               tmp_path: Path) -> None:
    """Found over a faulty link (test_fault_link.py): the resumed run skipped the evaluation of
    the epoch it was cut after, so it could keep (and commit) another state."""
    uncut_device = SimDevice()
    uncut = _stream(uncut_device, folder, Cache(tmp_path / "uncut"), epochs=2)
    device = SimDevice()
    session = DeviceSession(LoopbackTransport(_CutAtEvaluation(device, len(_schedule(folder).train))), timeout=1.0)
    session.hello()
    with pytest.raises(LinkError):
        S.stream_folder(session, folder, cache, LAST_LAYER, model=DEMO, epochs=2)
    report = _stream(device, folder, cache, epochs=2)
    assert [e[:2] for e in report.epochs] == [e[:2] for e in uncut.epochs] == [("start", 0), ("epoch 1", 32),
                                                                                 ("epoch 2", 64)]
    assert report.kept == uncut.kept
    assert _session(device).pull() == _session(uncut_device).pull()

def test_the_same_stream_compiles_its_plan_once(folder: Path, cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    device = SimDevice()
    first = _stream(device, folder, cache, setup=provision.TrainingSetup(scheme="last-layer"))

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(provision, "compile_plan", no_compile)
    again = _stream(device, folder, cache, setup=provision.TrainingSetup(scheme="last-layer"))
    assert again.plan_hash == first.plan_hash and not again.uploaded
    with pytest.raises(AssertionError, match="compiled again"):  # other settings, another plan
        _stream(device, folder, cache, setup=provision.TrainingSetup(scheme="bias-only"))


def test_the_plan_fits_the_devices_parameter_store_and_model_area(folder: Path, cache: Cache) -> None:
    """A device whose store holds 8,000-byte COMMIT records (the F746's: 262,088) gets a `paper`
    plan whose trained parameters fit it, and every epoch that improves commits; a scheme over
    the store, or a package over the model area, is refused before anything is uploaded."""
    from tt_host.compiler import StoreBudgetExceeded
    from tt_host.errors import BudgetExceeded

    device = SimDevice(store_capacity=8000)
    report = _stream(device, folder, cache, epochs=2, setup=provision.TrainingSetup(lr=0.01))
    # 15,088 bytes: the demo model's `full`, which `paper` chooses when the store does not bind
    assert cache.plan(report.plan_hash).report["commit_bytes"] <= 8000 < 15_088
    assert any(committed for *_, committed in report.epochs)
    too_much = SimDevice(store_capacity=8000)
    with pytest.raises(StoreBudgetExceeded, match="parameter store holds") as caught:
        _stream(too_much, folder, cache, setup=provision.TrainingSetup(scheme="full", lr=0.01))
    assert caught.value.exit_code == 8 and too_much.package is None
    too_big = SimDevice(model_area_bytes=30_000)
    with pytest.raises(BudgetExceeded, match="larger than the device's model area") as caught:
        _stream(too_big, folder, cache, setup=provision.TrainingSetup(lr=0.01))
    assert caught.value.exit_code == 8 and too_big.package is None
