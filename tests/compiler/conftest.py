"""Fixtures of the compiler tests: the shared models and schemes, and small built models."""

from __future__ import annotations

from pathlib import Path

import pytest
from tt_host.paths import SHARED_DIR

from .builders import inverted_bottleneck_model

MODEL_NAMES = ("mcunet-5fps", "mbv2-w0.35", "proxyless-w0.3")
#: The published ~100 KB scheme of each shared model.
SCHEME_100KB = {"mcunet-5fps": "mcunet-5fps-99kb", "mbv2-w0.35": "mbv2-w0.35-99kb",
                "proxyless-w0.3": "proxyless-w0.3-98kb"}


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``$TT_SHARED`` or ``../shared``, holding models/ and schemes/; skip when absent."""
    if not (SHARED_DIR / "models").is_dir() or not (SHARED_DIR / "schemes").is_dir():
        pytest.skip(f"shared models/schemes not found under {SHARED_DIR} (set TT_SHARED to the folder holding them)")
    return SHARED_DIR


def model_path(shared: Path, name: str) -> Path:
    return shared / "models" / f"{name}-int8.tflite"


@pytest.fixture(scope="session")
def shared_graphs(shared_dir):
    """The three shared models imported once per session."""
    from tt_host.compiler import load_graph

    return {name: load_graph(model_path(shared_dir, name)) for name in MODEL_NAMES}


@pytest.fixture(scope="session")
def tiny_graph():
    """The miniature inverted-bottleneck model with its edge ops (see builders.py)."""
    from tt_host.compiler import import_model
    from tt_host.tflite import load

    return import_model(load(inverted_bottleneck_model()), "tiny")


@pytest.fixture(scope="session")
def stem_graph():
    """The miniature model with a block without expansion after its first conv (the shape of
    the shared models' stem): its first conv can run as that block's fused expansion."""
    from tt_host.compiler import import_model
    from tt_host.tflite import load

    return import_model(load(inverted_bottleneck_model(stem_block=True)), "stem")
