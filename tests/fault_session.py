"""A stream + pull + commit through the ``tt-host`` CLI over a :class:`faulty_link.FaultyLink`:
what the fault tests and ``bench/fault_link.py`` run on an emulated board, clean or not."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

from faulty_link import Faults, FaultyLink
from tt_host.cli.app import app
from tt_host.paths import REPO_ROOT
from typer.testing import CliRunner

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"
LABELS = ("coat", "shirt", "sneaker")

_runner = CliRunner()


def sample_folder(root: Path, per_label: int) -> Path:
    """``root`` filled with the first ``per_label`` camera samples of three labels."""
    for label in LABELS:
        (root / label).mkdir(parents=True)
        for f in sorted((CAMERA / label).iterdir())[:per_label]:
            (root / label / f.name).write_bytes(f.read_bytes())
    return root


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """``--timeout`` and ``--step-timeout`` of every command: the retransmission delays."""

    answer: float = 0.3
    step: float = 2.0

    def options(self, command: str) -> list[str]:
        """The options for ``command`` (``pull`` runs no step)."""
        step = [] if command == "pull" else ["--step-timeout", str(self.step)]
        return ["--timeout", str(self.answer), *step]


@dataclasses.dataclass
class Outcome:
    """How far the commands got: each one's exit code and output, the deltas pulled (None when
    the run stopped before), the wall time and what the proxy counted."""

    codes: list[int]
    outputs: list[str]
    deltas: bytes | None
    wall_s: float
    counts: dict[str, dict[str, int]]

    @property
    def completed(self) -> bool:
        return self.deltas is not None

    @property
    def host_frames(self) -> int:
        """Frames the host sent: its requests and their retransmissions."""
        return self.counts["up"]["frames"]


def train_pull_commit(url: str, folder: Path, work: Path, up: Faults | None = None, down: Faults | None = None,
                      epochs: int = 2, timeouts: Timeouts = Timeouts(), compiled: Path | None = None) -> Outcome:
    """``tt-host stream``, ``pull`` and ``commit --force`` on the board at ``url`` through a
    proxy with ``up`` / ``down`` faults (none: a clean proxy, so a clean run pays the same
    hop), with ``$TT_HOME`` in ``work``. Stops at the first command that fails.

    ``compiled``: another run's ``work``, whose compiled plans a fresh ``$TT_HOME`` starts
    with (not its streams' journals, which belong to that run's device), so the wall time is
    the link's and the device's, not the compiler's."""
    codes, outputs = [], []
    work.mkdir(parents=True, exist_ok=True)
    if compiled is not None and not (work / "home").exists():
        shutil.copytree(compiled / "home", work / "home", ignore=shutil.ignore_patterns("stream.json"))
    deltas_file = work / "deltas.bin"
    deltas_file.unlink(missing_ok=True)
    commands = (["stream", str(folder), "--model", str(DEMO), "--lr", "0.003", "--epochs", str(epochs)],
                ["pull", "--out", str(deltas_file)], ["commit", "--force"])
    with FaultyLink(url, up, down) as link:
        t0 = time.perf_counter()
        for command in commands:
            result = _runner.invoke(app, ["--link-baud", "off", *command, "--port", link.url, *timeouts.options(command[0])],
                                    env={"TT_HOME": str(work / "home")})
            codes.append(result.exit_code)
            outputs.append(result.output)
            if result.exit_code != 0:
                break
        wall = time.perf_counter() - t0
    done = codes == [0, 0, 0]
    return Outcome(codes, outputs, deltas_file.read_bytes() if done else None, wall, link.counts())
