"""Every generated file is what its source of truth renders today (scripts/regenerate.py is the
one command that writes them all)."""

from __future__ import annotations

import importlib.util

import pytest

from tt_host.paths import REPO_ROOT

_spec = importlib.util.spec_from_file_location("regenerate", REPO_ROOT / "scripts" / "regenerate.py")
regenerate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regenerate)
GENERATORS = regenerate.generators()


@pytest.mark.parametrize("path", list(GENERATORS), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_generated_file_is_current(path):
    assert regenerate.is_current(path, GENERATORS[path]), (
        f"{path.relative_to(REPO_ROOT)} is stale: run python3 scripts/regenerate.py")


def test_the_command_checks_every_file():
    assert len(GENERATORS) == 6 and all(p.is_relative_to(REPO_ROOT) for p in GENERATORS)
    assert regenerate.main(["--check"]) == 0
