"""Fixtures for the kernel tests: the host-built C library and the shared models."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tt_host.paths import REPO_ROOT

#: The shared models: ``$TT_SHARED/models`` or ``../shared/models`` beside the repository.
MODELS_DIR = Path(os.environ.get("TT_SHARED", REPO_ROOT.parent / "shared")) / "models"
MODEL_NAMES = ("mcunet-5fps", "mbv2-w0.35", "proxyless-w0.3")


@pytest.fixture(scope="session")
def native():
    """``tt_host.native`` with the library loaded (built on demand), or skip."""
    if shutil.which("cmake") is None or shutil.which("cc") is None:
        pytest.skip("needs cmake and a host C compiler to build libtt (apt-get install cmake gcc)")
    from tt_host import native as mod

    mod.load()
    return mod


@pytest.fixture(scope="session")
def models_dir():
    if not MODELS_DIR.is_dir():
        pytest.skip(f"shared models not found at {MODELS_DIR} (set TT_SHARED to the folder holding models/)")
    return MODELS_DIR
