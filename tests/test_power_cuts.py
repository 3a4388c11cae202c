"""Power cuts at exact instructions of the emulated F746 during COMMIT, ROLLBACK, LOAD of a plan
and model replacement: a sample of ``bench/power_cuts.py``'s campaign (which runs 1,000).

Each operation is cut before its first instruction, at its last answer (on both A/B images) and
at random instructions between; after each cut the board boots on the same flash and must hold
the old state or the new one (or, for a load, no plan, after which the old plan uploaded again
gets its committed parameters back). The campaign's own failures list names any other outcome.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest
from tt_host.paths import REPO_ROOT
from tt_host.tooling import power_cut

pytestmark = [
    pytest.mark.qemu,  # skipped, naming the tool, when one is missing (conftest.py)
    pytest.mark.skipif(not any(shutil.which(c) for c in ("cc", "gcc")),
                       reason="needs a host C compiler (cc or gcc) for the QEMU power-cut plugin"),
]

#: Cuts per operation: the four window ends, the rest drawn at random.
CUTS = 7
SEED = 2026


def _bench():
    spec = importlib.util.spec_from_file_location("bench_power_cuts", REPO_ROOT / "bench" / "power_cuts.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = _bench()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    return bench.prepare(tmp_path_factory.mktemp("power"))


@pytest.mark.parametrize("operation", bench.OPERATIONS)
def test_power_cuts_leave_the_old_or_the_new_state(setup, operation: str) -> None:
    report = bench.campaign(setup, CUTS, SEED, (operation,), edges=True)[operation]
    print(f"\nMEASURED power_cuts_{operation}: {report}")
    assert report["failures"] == [], report["failures"]
    assert set(report["outcomes"]) <= bench.GOOD
    # A cut before the first instruction changes nothing; one at the last answer misses nothing.
    assert report["outcomes"].get("old", 0) >= 2 and report["outcomes"].get("new", 0) >= 2, report


def test_a_power_cut_mid_upload_leaves_no_plan_and_the_next_upload_runs(setup) -> None:
    """Halfway through a package's transfer the model area holds part of it: the board boots
    with no plan (never the half package), and the same upload from the start makes it run."""
    op = bench.operations(setup)["load"]
    cutter = power_cut.PowerCutter(bench.BOARD, bench.ARM["load"], setup.work)
    flash = setup.work / "mid-upload.img"
    shutil.copyfile(setup.images[0], flash)
    window = cutter.measure(flash, op.before, op.action)
    shutil.copyfile(setup.images[0], flash)
    assert cutter.cut_during(flash, op.before, op.action, window // 2).cut
    emulator = cutter.boot(flash, log="mid-upload.log")
    try:
        with power_cut.session_on(emulator) as session:
            assert bench._read(session) == bench.State(None)
            session.upload(setup.packages["Q"])
            assert bench._read(session) == setup.states["Q"]
    finally:
        emulator.stop()


def test_power_cut_plugin_counts_exact_instructions(setup) -> None:
    """The cut falls at the instruction asked for: one instruction apart around a COMMIT's commit
    point (its record header's last store), the outcome flips from the old state to the new."""
    op = bench.operations(setup)["commit"]
    cutter = power_cut.PowerCutter(bench.BOARD, bench.ARM["commit"], setup.work)
    image = setup.images[0]
    lo, hi = 0, cutter.measure(_copy(image, setup.work), op.before, op.action)
    outcomes = {}
    while hi - lo > 1:  # bisect: at lo the state is old, at hi new
        mid = (lo + hi) // 2
        outcomes[mid] = bench.cut_once(setup, cutter, op, image, mid)["outcome"]
        assert outcomes[mid] in ("old", "new"), outcomes
        lo, hi = (mid, hi) if outcomes[mid] == "old" else (lo, mid)
    # The same instants again give the same outcomes: the count is exact and deterministic.
    assert bench.cut_once(setup, cutter, op, image, lo)["outcome"] == "old"
    assert bench.cut_once(setup, cutter, op, image, hi)["outcome"] == "new"


def _copy(image: Path, work: Path) -> Path:
    flash = work / "measure-commit.img"
    shutil.copyfile(image, flash)
    return flash
