"""Tier 1: the C unit tests of the portable runtime, plain and under ASan/UBSan."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tt_host.paths import REPO_ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("cmake") is None or shutil.which("cc") is None,
    reason="needs cmake and a host C compiler (apt-get install cmake gcc)",
)


@pytest.mark.parametrize("preset", ["host", "host-asan"])
def test_c_unit_tests_pass(preset):
    for step in (["cmake", "--preset", preset], ["cmake", "--build", "--preset", preset, "-j2"]):
        build = subprocess.run(step, cwd=REPO_ROOT, capture_output=True, text=True)
        assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    run = subprocess.run(
        ["ctest", "--output-on-failure"], cwd=REPO_ROOT / "build" / preset, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "tests passed" in run.stdout
