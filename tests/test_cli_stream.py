"""``tt-host stream / pull / commit / rollback / stats`` against a simulated device."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sim_device import SimDevice
from tt_protocol import plan as P
from tt_protocol.status import Status, exit_code
from typer.testing import CliRunner

from tt_host.cli.app import app
from tt_host.paths import REPO_ROOT
from tt_host.link.transport import LoopbackTransport

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"

runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("samples")
    for label in ("coat", "sneaker"):
        (root / label).mkdir()
        for f in sorted((CAMERA / label).iterdir())[:10]:
            shutil.copy(f, root / label / f.name)
    return root


@pytest.fixture
def device(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SimDevice:
    """One simulated board behind every --port; the cache in a temporary $TT_HOME."""
    board = SimDevice()
    monkeypatch.setattr("tt_host.cli.common.open_transport", lambda url, baud=0: LoopbackTransport(board.feed))
    monkeypatch.setenv("TT_HOME", str(tmp_path / "tt-home"))
    return board


def _run(*args: str):
    return runner.invoke(app, list(args))


BASE = ("stream", "--port", "sim", "--scheme", "last-layer", "--lr", "0.01")
#: Most tests here look at what the last step left on the device: keep it whatever it scored.
STREAM = (*BASE, "--keep-last")


def test_stream_prints_a_summary_then_resumes_nothing(device: SimDevice, folder: Path) -> None:
    result = _run(*BASE, str(folder), "--model", str(DEMO))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "held-out accuracy" in out and "coat" in out and "sneaker" in out
    assert "time per step" in out and "peak SRAM" in out and "samples/s" in out
    assert "per epoch" in out and "kept" in out
    assert "train" in result.stderr  # the progress bars
    # The device's model is now known to the cache: no --model needed.
    again = _run(*BASE, str(folder), "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    first = next(e for e in report["evaluations"] if e["name"] == report["kept"])
    assert report["uploaded"] is False and report["trained_now"] == 0 and report["resumed_from"] == first["trained"]
    assert report["before_resumed"] is True
    assert [e["name"] for e in report["evaluations"]] == ["start", "epoch 1"]


def test_stream_json_and_pull_then_export(device: SimDevice, folder: Path, tmp_path: Path) -> None:
    result = _run(*STREAM, str(folder), "--model", str(DEMO), "--json", "--epochs", "2")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["total_steps"] == report["trained_now"] == 32 and report["labels"] == ["coat", "sneaker"]
    out = tmp_path / "deltas.bin"
    pulled = _run("pull", "--port", "sim", "--out", str(out), "--json")
    assert pulled.exit_code == 0, pulled.output
    summary = json.loads(pulled.stdout)
    assert summary["samples"] == 32 and summary["labels"] == ["coat", "sneaker"]
    assert P.parse_deltas(out.read_bytes()).plan_hash.hex() == report["plan_hash"]
    pytest.importorskip("tflite_micro", reason="export is checked with the tflite-micro wheel")
    adapted = tmp_path / "adapted.tflite"
    exported = _run("export", summary["base_model"], "--deltas", str(out), "--out", str(adapted))
    assert exported.exit_code == 0, exported.output and adapted.stat().st_size > 0


def test_commit_rollback_and_stats(device: SimDevice, folder: Path) -> None:
    assert _run(*STREAM, str(folder), "--model", str(DEMO)).exit_code == 0
    result = _run("commit", "--port", "sim")
    assert result.exit_code == 0 and "record 1" in result.stdout
    stats = json.loads(_run("stats", "--port", "sim", "--json").stdout)
    assert stats["trained"] == 16 and stats["commit_sequence"] == 1 and "instructions_per_step" in stats
    result = _run("rollback", "--port", "sim")
    assert result.exit_code == 0 and "factory" in result.stdout
    assert json.loads(_run("stats", "--port", "sim", "--json").stdout)["trained"] == 0
    assert "trained" in _run("stats", "--port", "sim").stdout


def test_commit_refuses_parameters_evaluated_worse_than_the_committed_ones(device: SimDevice, folder: Path,
                                                                            tmp_path: Path) -> None:
    assert _run(*STREAM, str(folder), "--model", str(DEMO)).exit_code == 0
    plan_hash = json.loads(_run("info", "--port", "sim", "--json").stdout)["plan_hash"]
    journal = tmp_path / "tt-home" / "plans" / plan_hash / "stream.json"
    data = json.loads(journal.read_text())
    start, last = data["states"][0], data["states"][-1]
    # The start scored 4 of 4, the last epoch 1 of 4.
    start["evaluation"]["per_label"] = {"coat": {"samples": 2, "correct": 2}, "sneaker": {"samples": 2, "correct": 2}}
    last["evaluation"]["per_label"] = {"coat": {"samples": 2, "correct": 1}, "sneaker": {"samples": 2, "correct": 0}}
    journal.write_text(json.dumps(data))
    result = _run("commit", "--port", "sim")
    assert result.exit_code == 10 and "--force" in result.stderr and "25.0%" in result.stderr
    assert json.loads(_run("stats", "--port", "sim", "--json").stdout)["commit_sequence"] == 0
    result = _run("commit", "--port", "sim", "--force")
    assert result.exit_code == 0 and "record 1" in result.stdout


def test_device_refusals_exit_with_64_plus_the_status(device: SimDevice, tmp_path: Path) -> None:
    result = _run("commit", "--port", "sim")
    assert result.exit_code == exit_code(Status.NO_PLAN) == 64 + 0x33
    assert "NO_PLAN" in result.stderr


def test_usage_errors_say_what_to_do(device: SimDevice, folder: Path, tmp_path: Path) -> None:
    result = _run(*STREAM, str(folder))
    assert result.exit_code == 2 and "--model" in result.stderr
    result = _run(*STREAM, str(tmp_path / "nothing"), "--model", str(DEMO))
    assert result.exit_code == 2 and "not a folder" in result.stderr
    result = _run("pull", "--port", "sim", "--out", str(tmp_path / "d.bin"))
    assert result.exit_code == 2 and "no plan" in result.stderr
    result = _run(*STREAM, str(folder), "--model", str(DEMO), "--init", "random")
    assert result.exit_code == 2 and "imprint" in result.stderr


def test_a_lost_connection_tells_how_to_resume(monkeypatch: pytest.MonkeyPatch, folder: Path, tmp_path: Path) -> None:
    board = SimDevice()
    calls = []

    def flaky(data: bytes) -> bytes:
        calls.append(data)
        return board.feed(data) if len(calls) < 40 else b""

    monkeypatch.setattr("tt_host.cli.common.open_transport", lambda url, baud=0: LoopbackTransport(flaky))
    monkeypatch.setenv("TT_HOME", str(tmp_path / "tt-home"))
    result = _run(*STREAM, str(folder), "--model", str(DEMO), "--timeout", "0.01", "--step-timeout", "0.01")
    assert result.exit_code == 4 and "run the same command again to resume" in result.stderr


def test_predict_names_the_classes(device: SimDevice, folder: Path) -> None:
    assert _run(*STREAM, str(folder), "--model", str(DEMO)).exit_code == 0
    result = _run("predict", "--port", "sim", str(folder / "coat"), str(next((folder / "sneaker").iterdir())))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 11 and all(line.split(": ")[1].split()[0] in ("coat", "sneaker") for line in lines)
    assert "correct" in result.stderr
    rows = json.loads(_run("predict", "--port", "sim", str(folder), "--json").stdout)
    assert len(rows) == 20 and {r["expected"] for r in rows} == {"coat", "sneaker"}
    assert sum(r["correct"] for r in rows) >= 14, "the trained device knows these labels"
    stats = json.loads(_run("stats", "--port", "sim", "--json").stdout)
    assert stats["trained"] == 16, "predictions train nothing"
