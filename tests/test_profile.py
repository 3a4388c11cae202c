"""The per-op profile: PROFILE on the protocol model, the host twin and the emulated F746, and
``tt-host profile`` joining it with the plan's compile report.

What must hold wherever the firmware runs: every op a step runs counts one run (LOAD ops none;
an evaluation skips the backward ops but the loss), the counters start at the plan's load and
again after a reset, and on the emulated F746 the ops account for the step's instructions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sim_device import BOARD, PlannedExecutor, SimDevice
from typer.testing import CliRunner

from tt_host.cli.app import app
from tt_host.compiler.blob import package
from tt_host.errors import DeviceError
from tt_host.link.session import DeviceProfile, DeviceSession
from tt_host.link.transport import LoopbackTransport
from tt_host.paths import REPO_ROOT
from tt_host.tooling.boards import resolve
from tt_host.tooling.emulator import Emulator
from tt_host.workflows.cache import load_plan_folder
from tt_host.workflows.profile import PHASES, join, phase_of, plot_profile
from tt_protocol import plan as P
from tt_protocol.frame import Opcode, ProfilePayload
from tt_protocol.responder import PROFILE_COUNTER_BYTES, BoardIdentity, Responder
from tt_protocol.status import Status

from emulated import connected, measured

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
runner = CliRunner()


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo compiled as a user would (``tt-host compile``): plan, weights and report."""
    out = tmp_path_factory.mktemp("plan")
    result = runner.invoke(app, ["compile", str(DEMO), "--samples", str(CAMERA), "--scheme", "paper",
                                 "--budget", "224K", "--lr", "0.003", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _package(plan_dir: Path) -> bytes:
    return package((plan_dir / "plan.bin").read_bytes(), (plan_dir / "weights.bin").read_bytes())


def _sample(seed: int) -> bytes:
    return np.random.default_rng(seed).integers(-128, 128, 32 * 32 * 3).astype(np.int8).tobytes()


def _run(session: DeviceSession, trains: int, evaluations: int) -> None:
    trained = session.stats().trained
    for i in range(trains):
        session.send_sample(_sample(i))
        session.run_sample(i % 4, train=True, step=trained + i)
    for i in range(evaluations):
        session.send_sample(_sample(100 + i))
        session.run_sample(i % 4, train=False)


def _check_runs(profile: DeviceProfile, plan: bytes, trains: int, evaluations: int) -> None:
    """Each op ran as often as ``tt_executor_step`` runs it (no step here saturates its logits)."""
    ops = P.validate(plan).ops
    assert len(profile.ops) == len(ops) and (profile.trained, profile.evaluated) == (trains, evaluations)
    for op, got in zip(ops, profile.ops):
        assert (got.kind, got.phase) == (op.kind, op.phase)
        if op.phase == P.Phase.LOAD:
            want = 0
        elif op.phase == P.Phase.BACKWARD and op.kind != P.OpKind.LOSS:
            want = trains
        else:
            want = trains + evaluations
        assert got.runs == want, (got, want)


# -- the protocol model ------------------------------------------------------------------------


def _sim_session(device: Responder) -> DeviceSession:
    session = DeviceSession(LoopbackTransport(device.feed), timeout=1.0)
    session.hello()
    return session


def test_profile_counts_runs_and_resets_on_the_protocol_model(plan_dir: Path) -> None:
    device = SimDevice()
    session = _sim_session(device)
    with pytest.raises(DeviceError) as err:
        session.profile()
    assert err.value.status == Status.NO_PLAN
    session.upload(_package(plan_dir), replace_model=True)
    _run(session, trains=2, evaluations=1)
    plan = (plan_dir / "plan.bin").read_bytes()
    _check_runs(session.profile(reset=True), plan, 2, 1)
    after = session.profile()
    assert (after.trained, after.evaluated) == (0, 0) and not any(op.runs for op in after.ops)
    _run(session, trains=1, evaluations=0)
    _check_runs(session.profile(), plan, 1, 0)
    n_ops = len(after.ops)
    _, answer = session.request(Opcode.PROFILE, ProfilePayload.build(dict(first=n_ops, flags=0)))
    assert int.from_bytes(answer[4:6], "little") == 0, "the end of the table is a valid place to ask from"
    with pytest.raises(DeviceError) as err:
        session.request(Opcode.PROFILE, ProfilePayload.build(dict(first=n_ops + 1, flags=0)))
    assert (err.value.status, err.value.detail) == (Status.BAD_PAYLOAD, n_ops)


def test_a_plan_that_fills_the_arena_has_no_profile(plan_dir: Path) -> None:
    plan = (plan_dir / "plan.bin").read_bytes()
    header = P.PlanHeader.parse(plan)
    board = BoardIdentity("f746-sim", BOARD.sram_bytes, BOARD.flash_bytes, P.align(header.arena_bytes, 8),
                          BOARD.core_clock_hz)
    device = Responder(board, executor=PlannedExecutor(board.arena_bytes))
    session = _sim_session(device)
    session.upload(_package(plan_dir), replace_model=True)
    with pytest.raises(DeviceError) as err:
        session.profile()
    assert (err.value.status, err.value.detail) == (Status.NO_SPACE, header.n_ops * PROFILE_COUNTER_BYTES)


def test_ops_fall_into_the_step_phases() -> None:
    assert phase_of(P.OpKind.CONV2D, P.Phase.FORWARD) == "forward"
    assert phase_of(P.OpKind.CONV2D, P.Phase.BACKWARD) == "recompute"
    assert phase_of(P.OpKind.LOSS, P.Phase.BACKWARD) == "loss"
    assert phase_of(P.OpKind.DW_CONV2D_BWD_INPUT, P.Phase.BACKWARD) == "backward input"
    assert phase_of(P.OpKind.LOGISTIC_BWD_INPUT, P.Phase.BACKWARD) == "backward input"
    assert phase_of(P.OpKind.WEIGHT_GRAD_UPDATE, P.Phase.BACKWARD) == "weight gradient"
    assert phase_of(P.OpKind.BIAS_UPDATE, P.Phase.BACKWARD) == "update"
    assert phase_of(P.OpKind.LOAD_BIAS, P.Phase.LOAD) == "load"
    assert {phase_of(k, p) for k in P.OpKind for p in P.Phase} <= {*PHASES, "load"}


def test_the_report_names_every_op_and_its_macs(plan_dir: Path) -> None:
    """The compile report lists the plan's ops after its LOAD ops; joined with a profile it gives
    each op its layer and MACs, and the phases' MACs add up to the report's totals."""
    plan = load_plan_folder(plan_dir)
    ops = P.validate(plan.plan).ops
    fake = DeviceProfile(1_000_000, 1, 1, 0, 0, tuple(
        _op(i, op.kind, op.phase, op.layer) for i, op in enumerate(ops)))
    joined = join(fake, "f746-qemu", plan.report)
    assert [r["step"] == "load" for r in plan.report["ops"]] == [op.phase == P.Phase.LOAD for op in ops]
    assert all(r.layer for r in joined.ops if r.kind in ("conv2d", "pw_conv2d", "dw_conv2d", "fc"))
    forward = sum(r.macs for r in joined.ops if r.phase == "forward")
    backward = sum(r.macs for r in joined.ops if r.phase not in ("forward", "load"))
    assert (forward, backward) == (plan.report["macs_forward"], plan.report["macs_backward"])
    unjoined = join(fake, "f746-qemu", {})
    assert [r.kind for r in unjoined.ops] == [r.kind for r in joined.ops] and not any(r.macs for r in unjoined.ops)


def test_the_profile_plots_its_phases_and_slowest_ops(plan_dir: Path, tmp_path: Path) -> None:
    plan = load_plan_folder(plan_dir)
    ops = P.validate(plan.plan).ops
    fake = DeviceProfile(25_000_000, 2, 1, 0, 0, tuple(
        _op(i, op.kind, op.phase, op.layer) for i, op in enumerate(ops)))
    plot_profile(join(fake, "f746-qemu", plan.report), tmp_path / "profile.png", top=5)
    assert (tmp_path / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _op(index: int, kind: int, phase: int, layer: int):
    from tt_host.link.session import OpProfile

    return OpProfile(index, kind, phase, None if layer == P.NONE16 else layer, 1, 10)


# -- the firmware: host twin and emulated F746 --------------------------------------------------


def _profile_on(board: str, plan_dir: Path, tmp_path: Path, trains: int, evaluations: int) -> tuple[dict, DeviceProfile]:
    with Emulator(resolve(board), flash_image=tmp_path / "flash.img", log_path=tmp_path / "log") as emu:
        with connected(emu) as session:
            session.upload(_package(plan_dir), replace_model=True)
            _run(session, trains, evaluations)
            device = session.profile()
            stats = session.stats()
        result = runner.invoke(app, ["profile", "--port", emu.url, "--plan", str(plan_dir), "--json", "--reset"])
        assert result.exit_code == 0, result.output
        text = runner.invoke(app, ["profile", "--port", emu.url, "--plan", str(plan_dir)])
        assert text.exit_code == 0 and "nothing has run" in text.output, "--reset started the profile afresh"
    _check_runs(device, (plan_dir / "plan.bin").read_bytes(), trains, evaluations)
    assert (device.train_ticks, device.eval_ticks) == (stats.train_ticks, stats.eval_ticks)
    return json.loads(result.output), device


needs_cc = pytest.mark.skipif(not shutil.which("cmake") or not shutil.which("cc"),
                              reason="needs cmake and a C compiler (scripts/setup.sh installs them)")


@needs_cc
def test_profile_on_the_host_twin(plan_dir: Path, tmp_path: Path) -> None:
    report, device = _profile_on("host", plan_dir, tmp_path, trains=2, evaluations=1)
    assert report["board"] == "host" and not report["counts_instructions"]
    assert sum(op.ticks for op in device.ops) <= device.train_ticks + device.eval_ticks


@pytest.mark.qemu
def test_profile_on_the_emulated_f746_accounts_for_the_step(plan_dir: Path, tmp_path: Path) -> None:
    """Under ``-icount`` ticks are instructions: the ops hold nearly all of a step's, and the
    table ``tt-host profile`` prints is built from them."""
    report, device = _profile_on("f746-qemu", plan_dir, tmp_path, trains=2, evaluations=1)
    assert report["counts_instructions"]
    in_ops = sum(op.ticks for op in device.ops)
    steps = device.train_ticks + device.eval_ticks
    assert 0.97 * steps <= in_ops <= steps, (in_ops, steps)
    phases = report["phases"]
    assert set(phases) <= set(PHASES) and {"forward", "loss", "backward input"} <= set(phases)
    assert sum(p["share"] for p in phases.values()) == pytest.approx(1.0)
    per_tick = 1e9 / report["tick_hz"]  # instructions
    measured("profile demo f746-qemu", instructions={k: round(p["ticks"] * per_tick) for k, p in phases.items()},
             mac_per_instruction={k: round(p["macs"] / (p["ticks"] * per_tick), 3) for k, p in phases.items() if p["macs"]})
