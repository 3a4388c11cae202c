"""Fixtures shared by the test files: a throwaway checkout and stub executables; and the
skips of the tiers that need external tools (markers ``qemu`` and ``arm``)."""

from __future__ import annotations

import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

#: What each tool-dependent marker needs on PATH.
_MARKER_TOOLS = {
    "qemu": ("qemu-system-arm", "arm-none-eabi-gcc", "cmake"),
    "arm": ("arm-none-eabi-gcc", "cmake"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip tests marked ``qemu`` or ``arm`` when a tool they need is missing, naming it."""
    for item in items:
        for marker, tools in _MARKER_TOOLS.items():
            missing = [tool for tool in tools if item.get_closest_marker(marker) and shutil.which(tool) is None]
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(missing)} (scripts/setup.sh installs them)"))
                break


#: The boards a fake checkout gets: the real board.toml files, copied.
FAKE_BOARDS = ("f746-disco", "f746-qemu")


@pytest.fixture
def fake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout with the two F746 boards and nothing else, made the current one."""
    from tt_host.paths import REPO_ROOT

    root = tmp_path / "repo"
    for name in FAKE_BOARDS:
        (root / "boards" / name).mkdir(parents=True)
        shutil.copyfile(REPO_ROOT / "boards" / name / "board.toml", root / "boards" / name / "board.toml")
    monkeypatch.setattr("tt_host.paths.REPO_ROOT", root)
    monkeypatch.setenv("TT_ROOT", str(root))  # for child processes
    # Its builds go inside it whatever the caller's $TT_BUILD: the stub tools write fake
    # images, which must never land in a real build folder.
    monkeypatch.setenv("TT_BUILD", str(root / "build"))
    return root


@pytest.fixture
def stub_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Path]:
    """``make(name, python_source)``: an executable on a PATH that holds nothing else.

    The stub runs ``python_source`` with this interpreter; ``sys.argv`` is as usual.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))

    def make(name: str, source: str) -> Path:
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{source}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path

    return make


# CI runs hypothesis derandomized, so a red CI is reproducible and never a new random draw.
import os  # noqa: E402

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
