"""The firmware's libFuzzer harnesses (firmware/fuzz), briefly: each target replays its committed
corpus (golden-vector seeds and the reproducers of fixed crashes) and fuzzes for a few seconds
under ASan and UBSan through scripts/fuzz.sh, which must report zero findings. Long campaigns:
``scripts/fuzz.sh TARGET SECONDS``. The host's `.tflite` reader is fuzzed in
tests/test_fuzz_tflite.py; ``pytest -k fuzz`` selects both."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tt_host.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "fuzz.sh"
TARGETS = ("proto", "plan", "upload", "store")
#: Seconds of fuzzing per target after the corpus replay: four targets and the build stay
#: within CI's two minutes.
SECONDS = int(os.environ.get("TT_FUZZ_SECONDS", "8"))


def _libfuzzer_missing(tmp: Path) -> str | None:
    """Why libFuzzer cannot build here, or None: clang and its fuzzer runtime are both needed."""
    if shutil.which("clang") is None or shutil.which("cmake") is None:
        return "needs clang and cmake (scripts/setup.sh installs them)"
    probe = tmp / "probe.c"
    probe.write_text("#include <stddef.h>\n#include <stdint.h>\n"
                     "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
                     "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
    built = subprocess.run(["clang", "-fsanitize=fuzzer,address,undefined", str(probe), "-o", str(tmp / "probe")],
                           capture_output=True, text=True, check=False)
    if built.returncode != 0:
        return "clang cannot link libFuzzer (apt-get install libclang-rt-14-dev): " + built.stderr.strip()[:200]
    return None


@pytest.fixture(scope="module")
def libfuzzer(tmp_path_factory: pytest.TempPathFactory) -> None:
    why = _libfuzzer_missing(tmp_path_factory.mktemp("libfuzzer"))
    if why is not None:
        pytest.skip(why)


def test_fuzz_script_lists_the_targets() -> None:
    listed = subprocess.run([str(SCRIPT), "--list"], capture_output=True, text=True, check=True).stdout.split()
    assert tuple(sorted(listed)) == tuple(sorted(TARGETS))
    for target in TARGETS:
        assert any((REPO_ROOT / "firmware" / "fuzz" / "corpus" / target).iterdir()), f"{target} has no seeds"


def test_fuzz_script_refuses_an_unknown_target() -> None:
    run = subprocess.run([str(SCRIPT), "nonsense", "1"], capture_output=True, text=True, check=False)
    assert run.returncode == 2 and "usage" in run.stderr


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_finds_nothing(libfuzzer: None, target: str) -> None:
    run = subprocess.run([str(SCRIPT), target, str(SECONDS)], capture_output=True, text=True, cwd=REPO_ROOT,
                         check=False)
    assert run.returncode == 0, f"fuzz {target}:\n{run.stdout}\n{run.stderr}"
    summary = re.search(rf"fuzz {target}: (\d+) executions in \d+ s \((\d+) exec/s\), \d+ new inputs, (\d+) findings",
                        run.stdout)
    assert summary is not None, run.stdout
    executions, _, findings = (int(g) for g in summary.groups())
    corpus = len(list((REPO_ROOT / "firmware" / "fuzz" / "corpus" / target).iterdir()))
    assert findings == 0
    assert executions > corpus, f"only {executions} executions for a corpus of {corpus}"
