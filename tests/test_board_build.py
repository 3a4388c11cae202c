"""Both board images link within the F746's budgets, and a budget overflow fails the link
with a message that names it."""

from __future__ import annotations

import subprocess

import pytest

from tt_host.tooling.boards import resolve
from tt_host.tooling.build import build
from tt_host.paths import REPO_ROOT
from tt_host.tooling.size import size_report

pytestmark = pytest.mark.arm  # skipped, naming the tool, when one is missing (conftest.py)


@pytest.mark.parametrize("board_name", ["f746-disco", "f746-qemu"])
def test_image_links_within_the_f746_budgets(board_name):
    board = resolve(board_name)
    report = size_report(board, build(board, if_needed=True))
    report.check()
    assert report.flash.size == 1024 * 1024 and report.sram.size == 320 * 1024
    assert 0 < report.flash_used < report.flash.size
    assert report.arena_bytes > 0 and report.sram_used >= report.arena_bytes


def test_arena_beyond_sram_fails_the_link_naming_the_budget(tmp_path):
    build_dir = tmp_path / "build"
    configure = subprocess.run(
        ["cmake", "--preset", "f746-qemu", "-B", str(build_dir), "-DTT_ARENA_BYTES=327680"],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert configure.returncode == 0, configure.stderr
    link = subprocess.run(
        ["cmake", "--build", str(build_dir), "--target", "tt-firmware", "-j2"],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert link.returncode != 0
    output = link.stdout + link.stderr
    assert "SRAM budget exceeded" in output
    assert "region `RAM' overflowed" in output
