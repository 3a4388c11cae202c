"""The session's training requests against the simulated device (``sim_device.SimDevice``)."""

from __future__ import annotations

import numpy as np
import pytest
from sim_device import SimDevice
from tt_protocol.frame import PULL_MAX_DATA, Opcode, StatsPayload
from tt_protocol.status import Status

from tt_host.compiler import TrainParams, compile_model, serialize
from tt_host.compiler.blob import package
from tt_host.errors import DeviceError, ProtocolError
from tt_host.paths import REPO_ROOT
from tt_host.link.session import DeviceSession, DeviceStats, package_model_hash
from tt_host.link.transport import LoopbackTransport

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"


@pytest.fixture(scope="module")
def blobs():
    c = compile_model(DEMO, {"n_bias_update": 6, "manual_weight_idx": [9, 10, 11], "weight_update_ratio": [0.5, 0.25, 1]})
    return serialize(c.schedule, c.plan, TrainParams(lr=0.01, seed=3))


def _session(device: SimDevice) -> DeviceSession:
    s = DeviceSession(LoopbackTransport(device.feed), timeout=1.0)
    s.hello()
    return s


def _sample(seed: int) -> bytes:
    return np.random.default_rng(seed).integers(-128, 128, 32 * 32 * 3).astype(np.int8).tobytes()


def test_upload_announces_the_model_and_needs_replace_model_for_another(blobs) -> None:
    device = SimDevice()
    session = _session(device)
    pkg = package(blobs.plan, blobs.weights)
    assert package_model_hash(pkg) == bytes(blobs.plan[16:48]) != bytes(32)
    assert package_model_hash(b"not a plan") == bytes(32)
    session.upload(pkg)
    info = session.hello()
    assert info.plan_hash == blobs.plan_hash.hex() and info.model_hash == blobs.plan[16:48].hex()
    other = bytearray(pkg)
    other[16] ^= 1  # another model's hash (the package fails its checks later; the begin comes first)
    with pytest.raises(DeviceError) as err:
        session.upload(bytes(other))
    assert err.value.status == Status.MODEL_MISMATCH and session.hello().plan_hash == blobs.plan_hash.hex()
    with pytest.raises(DeviceError) as err:
        session.upload(bytes(other), replace_model=True)
    assert err.value.status == Status.BAD_PLAN, "with the flag the begin is accepted; the plan check refuses it"


def test_samples_run_train_and_count(blobs) -> None:
    device = SimDevice()
    session = _session(device)
    session.upload(package(blobs.plan, blobs.weights))
    session.send_sample(_sample(0))
    evaluated = session.run_sample(2, train=False)
    assert not evaluated.trained_on and evaluated.trained == 0 and evaluated.loss > 0
    session.send_sample(_sample(0))
    trained = session.run_sample(2, train=True, step=0)
    assert trained.trained_on and trained.trained == 1 and trained.loss == pytest.approx(evaluated.loss)
    assert trained.predicted == evaluated.predicted and trained.correct == (trained.predicted == 2)
    stats = session.stats()
    assert (stats.trained, stats.evaluated, stats.train_correct + stats.eval_correct) == (1, 1, 2 * trained.correct)
    assert stats.train_loss_sum == pytest.approx(trained.loss) and stats.to_dict()["params_bytes"] > 0
    # A training run is idempotent: the step it carries must be the device's count.
    session.send_sample(_sample(1))
    with pytest.raises(DeviceError) as err:
        session.run_sample(1, train=True, step=0)
    assert err.value.status == Status.OUT_OF_ORDER and err.value.detail == 1
    with pytest.raises(DeviceError) as err:
        session.send_sample(_sample(1) + b"\0")
    assert err.value.status == Status.SAMPLE_SIZE and err.value.detail == 3072


def test_stats_derive_time_and_instructions_per_step() -> None:
    fields = {sc.name: 0 for sc in StatsPayload.subcons}
    payload = StatsPayload.build({**fields, "trained": 4, "train_ticks": 200, "tick_hz": 1000})
    stats = DeviceStats.from_payload(payload + b"newer firmware")
    assert stats.seconds_per_step == 0.05 and stats.instructions_per_step == pytest.approx(5e7)
    assert DeviceStats.from_payload(StatsPayload.build(fields)).seconds_per_step is None
    with pytest.raises(ProtocolError):
        DeviceStats.from_payload(payload[:-1])


def test_pull_reads_the_whole_image_in_chunks(blobs) -> None:
    device = SimDevice()
    session = _session(device)
    session.upload(package(blobs.plan, blobs.weights))
    for step in range(3):
        session.send_sample(_sample(step))
        session.run_sample(step % 6, train=True, step=step)
    seen = []
    image = session.pull(lambda done, total: seen.append((done, total)))
    assert image == device.image() and len(image) > PULL_MAX_DATA
    assert seen[-1] == (len(image), len(image)) and len(seen) == -(-len(image) // PULL_MAX_DATA)


def test_commit_rollback_and_reset(blobs) -> None:
    device = SimDevice()
    session = _session(device)
    session.upload(package(blobs.plan, blobs.weights))
    factory = session.pull()
    session.send_sample(_sample(5))
    session.run_sample(1, train=True, step=0)
    trained = session.pull()
    sequence, size = session.commit()
    assert sequence == 1 and size == 4 + len(trained)  # the trained count, then the image
    session.reset()
    assert session.hello().plan_hash == blobs.plan_hash.hex()
    assert session.pull() == trained and session.stats().trained == 1
    assert session.rollback() == 2
    assert session.pull() == factory and session.stats().trained == 0
    with pytest.raises(DeviceError) as err:
        _session(SimDevice()).request(Opcode.PULL, bytes(6))
    assert err.value.status == Status.NO_PLAN
