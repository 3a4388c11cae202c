"""The whole loop on the emulated F746, as ``tt-host demo`` runs it.

Boot the emulated board (fresh flash), give it the project's small pretrained model (the
6-class Fashion-MNIST demo CNN) with a new head for the four classes of
``examples/camera_samples`` it has never seen, evaluate the held-out samples, train on the
rest on the device, evaluate again, pull the trained parameters as a deltas file and merge
them into an adapted ``.tflite``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from tt_host.tooling.boards import Board
from tt_host.workflows.cache import Cache
from tt_host.tooling.emulator import Emulator
from tt_host.paths import REPO_ROOT
from tt_host.workflows.provision import TrainingSetup
from tt_host.workflows.pull import Pulled, pull_deltas
from tt_host.link.session import DeviceInfo, DeviceSession
from tt_host.workflows.stream import Progress, StreamReport, Tick, stream_folder
from tt_host.link.transport import open_transport

DEMO_MODEL = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
DEMO_SAMPLES = REPO_ROOT / "examples" / "camera_samples"

#: Passes over the training samples. Measured in simulation (bit-exact with the device) on
#: three splits: one pass at the default learning rate adds 5 points of held-out accuracy to
#: the imprinted head on each; a second pass adds nothing on average and doubles the time.
DEMO_EPOCHS = 2


@dataclasses.dataclass
class DemoResult:
    url: str
    backend: str
    info: DeviceInfo
    report: StreamReport
    pulled: Pulled
    deltas_path: Path
    adapted_model: Path
    boot_s: float
    total_s: float


def run_demo(
    board: Board,
    out_dir: str | Path,
    cache: Cache | None = None,
    epochs: int = DEMO_EPOCHS,
    setup: TrainingSetup | None = None,
    progress: Progress | None = None,
    on_boot: Callable[[Emulator, DeviceInfo], None] | None = None,
) -> DemoResult:
    """Run the loop on ``board``'s emulated twin (built already); write ``deltas.bin`` and
    ``adapted.tflite`` into ``out_dir``."""
    from tt_host.tflite.export import export_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = cache or Cache()
    t0 = time.perf_counter()
    with Emulator(board, build_if_needed=False) as emulator, open_transport(emulator.url) as transport:
        # The twin takes the board's rates: the summary projects the link the board would reach.
        session = DeviceSession(transport, timeout=2.0, link_rates=board.rates)
        info = session.hello()
        boot_s = time.perf_counter() - t0
        if on_boot is not None:
            on_boot(emulator, info)
        report = stream_folder(session, DEMO_SAMPLES, cache, setup or TrainingSetup(), model=DEMO_MODEL,
                               epochs=epochs, replace_model=True, progress=progress or _quiet)
        pulled = pull_deltas(session, cache)
        url, backend = emulator.url, emulator.backend
    deltas_path = out_dir / "deltas.bin"
    deltas_path.write_bytes(pulled.deltas)
    adapted = export_file(DEMO_MODEL, deltas_path, out_dir / "adapted.tflite")
    return DemoResult(url, backend, info, report, pulled, deltas_path, adapted, boot_s, time.perf_counter() - t0)


def _quiet(tick: Tick) -> None:
    pass
