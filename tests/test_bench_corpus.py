"""``bench/corpus.py`` end to end on the smallest corpus models: the host checks, the default
scheme at 256 KB and training steps on the emulated F746, written as JSON and markdown."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.qemu  # skipped, naming the tool, when one is missing (conftest.py)

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "corpus.py"


def test_corpus_bench_trains_the_models_on_the_emulated_board(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_corpus", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--only", "fully_connected,imu_1d", "--steps", "2", "--out", str(tmp_path)]) == 0
    rows = {r["model"]: r for r in json.loads((tmp_path / "corpus.json").read_text())}
    assert set(rows) == {"fully_connected", "imu_1d"}
    for row in rows.values():
        assert row["ok"] and all(row["verdicts"].values())
        board = row["board"]
        assert board["scheme"] == "paper" and board["train_steps"] == 2
        assert board["instructions_per_train_step"] > board["instructions_per_eval_step"] > 0
        assert 0 < board["arena_used"] and row["paper_256k"]["peak_sram_bytes"] <= 256 * 1024
    assert "| imu_1d | 128x1x6 | yes | yes | yes |" in (tmp_path / "corpus.md").read_text()
