"""``tt-host compile`` and ``tt-host export`` end to end through the CLI."""

from __future__ import annotations

import json

import numpy as np
from tt_host import recipe
from tt_host.cli.app import app
from tt_host.compiler import deltas as D
from tt_host.compiler import simulate as S
from tt_host.paths import REPO_ROOT
from tt_protocol import plan as P
from typer.testing import CliRunner

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
SAMPLES = REPO_ROOT / "examples" / "camera_samples"
runner = CliRunner()


def test_compile_json_writes_deterministic_outputs(tmp_path):
    args = ["compile", str(DEMO), "--budget", "256K", "--scheme", "bias-only", "--json"]
    one = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    two = runner.invoke(app, [*args, "--out", str(tmp_path / "b")])
    assert one.exit_code == two.exit_code == 0, one.output
    report = json.loads(one.stdout)
    assert report["train"]["lr"] == recipe.LR and report["train"]["lr_auto"] is None  # no samples: no trial
    for key in ("peak_sram_bytes", "arena_bytes", "flash_bytes", "macs_forward", "macs_backward",
                "trainable_params", "scheme", "plan_bytes", "weights_bytes", "plan_hash"):
        assert key in report
    for name in ("plan.bin", "weights.bin", "report.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    plan = (tmp_path / "a" / "plan.bin").read_bytes()
    assert P.validate(plan, (tmp_path / "a" / "weights.bin").read_bytes()).header.arena_bytes == report["arena_bytes"]


def test_compile_options_default_to_the_library_defaults(tmp_path):
    """``tt-host compile`` without option flags plans exactly what ``PlanOptions()`` plans."""
    from tt_host.compiler import PlanOptions

    r = runner.invoke(app, ["compile", str(DEMO), "--scheme", "bias-only", "--json", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    options = json.loads(r.stdout)["options"]
    assert options == {k: v for k, v in vars(PlanOptions()).items() if k in options}
    assert set(options) == set(vars(PlanOptions()))


def test_compile_table_and_timeline(tmp_path):
    r = runner.invoke(app, ["compile", str(DEMO), "--scheme", "full", "--out", str(tmp_path)], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    assert "b4.pw1" in r.stdout and "peak SRAM" in r.stdout and "backward starts" in r.stdout


def test_budget_too_small_names_the_smallest_feasible(tmp_path):
    r = runner.invoke(app, ["compile", str(DEMO), "--scheme", "full", "--budget", "20K", "--out", str(tmp_path)])
    assert r.exit_code == 8
    assert "smallest feasible budget" in r.stderr
    need = int(r.stderr.split("is ")[-1].split(" bytes")[0])
    ok = runner.invoke(app, ["compile", str(DEMO), "--scheme", "full", "--budget", str(need), "--out", str(tmp_path)])
    assert ok.exit_code == 0, ok.output


def test_samples_replace_the_head_and_export_roundtrips(tmp_path):
    r = runner.invoke(app, ["compile", str(DEMO), "--samples", str(SAMPLES), "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["labels"] == ["ankle_boot", "coat", "shirt", "sneaker"]
    # --lr auto (the default) chose the rate by its trial on the samples, and says how.
    trial = report["train"]["lr_auto"]
    assert len(trial["trials"]) == 4 and report["train"]["lr"] == trial["lr"] in [t["lr"] for t in trial["trials"]]
    plan, weights = (tmp_path / "plan.bin").read_bytes(), (tmp_path / "weights.bin").read_bytes()
    m = S.planned(plan, weights)
    m.step(np.zeros((32, 32, 3), np.int8), 1)
    (tmp_path / "d.bin").write_bytes(D.build(plan, weights, m.parameters(), samples=1))
    e = runner.invoke(app, ["export", str(DEMO), "--deltas", str(tmp_path / "d.bin"), "--out", str(tmp_path / "new.tflite")])
    assert e.exit_code == 0, e.output
    assert (tmp_path / "new.tflite").read_bytes()[4:8] == b"TFL3"
    bad = runner.invoke(app, ["export", str(DEMO), "--deltas", str(tmp_path / "plan.bin"), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "not a valid deltas file" in bad.stderr


def test_scheme_auto_needs_a_budget(tmp_path):
    r = runner.invoke(app, ["compile", str(DEMO), "--scheme", "auto", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--budget" in r.stderr


def test_plot_draws_the_arena_over_the_schedule(tmp_path):
    r = runner.invoke(app, ["compile", str(DEMO), "--scheme", "bias-only", "--out", str(tmp_path),
                            "--plot", str(tmp_path / "arena.png")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "arena.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scheme_auto_with_samples_reports_its_choice(tmp_path):
    r = runner.invoke(app, ["compile", str(DEMO), "--scheme", "auto", "--budget", "40K", "--samples", str(SAMPLES),
                            "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    sel = report["scheme"]["selection"]
    assert sel["method"] == "fisher" and sel["samples"] > 0 and sel["peak_sram_bytes"] == report["peak_sram_bytes"]
    assert report["peak_sram_bytes"] <= 40 * 1024
    # scheme.json reproduces the choice through --scheme FILE (under the same budget: the plan's
    # memory-saving variants depend on it).
    again = runner.invoke(app, ["compile", str(DEMO), "--scheme", str(tmp_path / "scheme.json"), "--samples", str(SAMPLES),
                                "--budget", "40K", "--out", str(tmp_path / "again"), "--json"])
    assert again.exit_code == 0, again.output
    redo = json.loads(again.stdout)
    assert (redo["scheme"]["bias"], redo["scheme"]["weights"]) == (report["scheme"]["bias"], report["scheme"]["weights"])
    assert redo["plan_hash"] == report["plan_hash"]
