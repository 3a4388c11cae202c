"""Fuzzing the host's `.tflite` reader and the compiler's front end (hypothesis): a real model,
mutated the way a file gets damaged or forged (bytes flipped, 32-bit fields such as flatbuffer
offsets and lengths set to extreme values, the file cut short or padded), must either load
and import, or raise the project's documented error: a :class:`~tt_host.errors.TtError`
(``TfliteError``, ``CompileError``, ``UnsupportedOperator``, ``BudgetExceeded``...), never
another exception, which the CLI would report as an internal error (exit 1).

``TT_FUZZ_EXAMPLES`` sets the examples per model (default: a short run for CI);
``pytest -k fuzz`` selects these with the firmware's fuzzers (tests/test_fuzz.py).
"""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tt_host.compiler import import_model
from tt_host.compiler.errors import PlanError
from tt_host.errors import TtError
from tt_host.paths import REPO_ROOT
from tt_host.tflite import load

#: Small real models (parsing one costs milliseconds): the demo's and a few of the corpus'.
MODELS = (
    REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite",
    REPO_ROOT / "examples" / "models" / "fully_connected.tflite",
    REPO_ROOT / "examples" / "models" / "imu_1d.tflite",
    REPO_ROOT / "examples" / "models" / "se_cnn.tflite",
    REPO_ROOT / "examples" / "models" / "squeezenet.tflite",
)
EXAMPLES = int(os.environ.get("TT_FUZZ_EXAMPLES", "60"))

#: 32-bit values that break offsets, lengths and counts.
EXTREMES = (0, 1, 3, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0)


def _mutations(size: int) -> st.SearchStrategy:
    at = st.integers(0, size - 1)
    return st.lists(
        st.one_of(
            st.tuples(st.just("flip"), at, st.integers(1, 255)),
            st.tuples(st.just("word"), at, st.sampled_from(EXTREMES)),
            st.tuples(st.just("cut"), at, st.just(0)),
            st.tuples(st.just("pad"), st.integers(1, 64), st.integers(0, 255)),
        ),
        min_size=1,
        max_size=8,
    )


def _apply(raw: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    b = bytearray(raw)
    for kind, at, value in mutations:
        if not b:
            break
        at %= len(b)
        if kind == "flip":
            b[at] ^= value
        elif kind == "word":
            at -= at % 4  # flatbuffer scalars and offsets are 4-byte aligned
            b[at:at + 4] = struct.pack("<I", value)[: len(b) - at]
        elif kind == "cut":
            del b[at:]
        else:
            b += bytes([value]) * at
    return bytes(b)


def _load_and_import(data: bytes) -> None:
    """What `tt-host compile` does first; only TtErrors other than a planner bug may escape."""
    try:
        import_model(load(data, origin="mutant.tflite"), "mutant")
    except PlanError:
        raise
    except TtError:
        pass


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_fuzz_tflite_reader_and_import(path) -> None:
    raw = path.read_bytes()
    _load_and_import(raw)  # the model itself imports

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_mutations(len(raw)))
    def mutant_loads_or_raises_tt_error(mutations) -> None:
        _load_and_import(_apply(raw, mutations))

    mutant_loads_or_raises_tt_error()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
@given(st.binary(max_size=512))
def test_fuzz_tflite_reader_arbitrary_bytes(data: bytes) -> None:
    """Bytes that merely start like a flatbuffer with the TFL3 identifier."""
    _load_and_import(data[:4] + b"TFL3" + data[4:])
