"""The model corpus on the emulated F746: what each model needs and what a training step costs.

For every model in ``examples/models`` (the int8 models TensorFlow's converter writes, see
``make_models.py``): ``tt-host check``'s verdict (supported, forward bit-exact with TFLite Micro,
a training step on the host build of the executor) for a new 3-class head, the default scheme
(``paper``, the 256 KB paper's ranking filled to the budget) at 256 KB, and the trainable
parameters, arena, package and fit of ``last-layer`` / ``bias-only`` / ``paper`` on the F746
(its arena, 896 KB model area and 262,088 B parameter store). Then the largest of those plans
that fits (``paper``, else ``bias-only``, else ``last-layer``) is uploaded to the emulated F746
(QEMU ``-icount shift=0``: instruction counts, not time) and trained on seeded random samples
through the wire protocol; the device's STATS give instructions per training and evaluation
step, arena and stack.

    python bench/corpus.py                 # writes bench/results/corpus.{json,md}
    python bench/corpus.py --only cnn,imu_1d --steps 2

Needs cmake, arm-none-eabi-gcc and qemu-system-arm for the emulated rows (without them the
rows stop at the host checks), and the tflite-micro wheel for the forward check.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from tt_host.compiler import TrainParams, compile_model, load_graph, serialize
from tt_host.compiler.blob import package
from tt_host.compiler.report import firmware_footprint
from tt_host.link.session import DeviceSession
from tt_host.link.transport import open_transport
from tt_host.paths import REPO_ROOT
from tt_host.tooling import boards, build
from tt_host.tooling.emulator import Emulator
from tt_host.workflows.check import check_model

CORPUS = REPO_ROOT / "examples" / "models"
RESULTS = REPO_ROOT / "bench" / "results"
CLASSES = 3
BUDGET_256K = 256 * 1024
#: Preferred plan on the board, largest first.
PREFERENCE = ("paper", "bias-only", "last-layer")


def emulated_steps(model: Path, scheme: str, budgets: dict, steps: int) -> dict:
    """Train ``steps`` seeded random samples on the emulated F746; the device's counters.
    ``budgets``: ``compile_model``'s SRAM and store budgets for ``paper``."""
    compiled = compile_model(load_graph(model), scheme, classes=CLASSES, **(budgets if scheme == "paper" else {}))
    blobs = serialize(compiled.schedule, compiled.plan, TrainParams(), "corpus")
    pkg = package(blobs.plan, blobs.weights)
    shape = compiled.graph.tensors[compiled.graph.input].shape
    rng = np.random.default_rng(0)
    board = boards.resolve("f746-qemu")
    with Emulator(board, build_if_needed=False) as emulator, open_transport(emulator.url) as transport:
        session = DeviceSession(transport, timeout=60.0)
        session.hello()
        session.upload(pkg, replace_model=True)
        for step in range(steps):
            session.send_sample(rng.integers(-128, 128, shape).astype(np.int8).tobytes())
            session.run_sample(step % CLASSES, train=True, step=step)
        session.send_sample(rng.integers(-128, 128, shape).astype(np.int8).tobytes())
        session.run_sample(0, train=False)
        stats = session.stats()
    ns_per_tick = 1e9 / stats.tick_hz
    return {"scheme": scheme, "trainable_params": compiled.report["trainable_params"], "package_bytes": len(pkg),
            "train_steps": stats.trained,
            "instructions_per_train_step": round(stats.train_ticks * ns_per_tick / stats.trained),
            "instructions_per_eval_step": round(stats.eval_ticks * ns_per_tick / stats.evaluated),
            "macs_forward": compiled.report["macs_forward"], "macs_backward": compiled.report["macs_backward"],
            "arena_used": stats.arena_used, "stack_peak": stats.stack_peak}


def row(name: str, entry: dict, steps: int, emulate: bool) -> dict:
    path = CORPUS / entry["file"]
    disco = boards.resolve("f746-disco")
    report = check_model(path, classes=CLASSES, inputs=2, boards=[disco])
    out = {"model": name, "input": entry["input_shape"], "ok": report.ok,
           "verdicts": {v.name: v.ok for v in report.verdicts},
           "schemes": [{**r.__dict__, "fits": r.fits} for r in report.schemes]}
    if not report.ok:
        return out
    default = compile_model(load_graph(path), "paper", BUDGET_256K, classes=CLASSES)
    out["paper_256k"] = {"trainable_params": default.report["trainable_params"],
                         "peak_sram_bytes": default.peak_sram_bytes, "flash_bytes": default.report["flash_bytes"]}
    fitting = {r.scheme for r in report.schemes if r.fits}
    chosen = next((s for s in PREFERENCE if s in fitting), None)
    if chosen is None:
        out["board"] = "does not fit the F746: " + "; ".join(
            f"{r.scheme} needs a {r.package_bytes:,} B package (model area {disco.model_area_bytes:,} B), a "
            f"{r.arena_bytes:,} B arena ({disco.arena_bytes:,} B) and a {r.commit_bytes:,} B commit "
            f"(store {disco.param_store_bytes:,} B)" for r in report.schemes if not r.error)
    elif emulate:
        # what the check compiled paper under: the board's arena and parameter store
        budgets = dict(budget=disco.arena_bytes + firmware_footprint(disco.name).sram,
                       store_budget=disco.param_store_bytes, firmware=firmware_footprint(disco.name))
        out["board"] = emulated_steps(path, chosen, budgets, steps)
    return out


def markdown(rows: list[dict]) -> str:
    mark = {True: "yes", False: "**no**", None: "not run"}
    lines = ["# The model corpus on the emulated F746", "",
             "Generated by `bench/corpus.py`: `tt-host check` (3-class head), `paper` at 256 KB, and the largest "
             "plan that fits the F746 trained on the emulated board (QEMU `-icount`: instructions).", "",
             "| model | input | supported | bit-exact | trains (host) | paper-256K params | paper-256K peak SRAM "
             "| flash | on the F746 | instr / train step | instr / eval step |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        v, p, b = r["verdicts"], r.get("paper_256k", {}), r.get("board")
        cells = [r["model"], "x".join(map(str, r["input"])), mark[v.get("operators")],
                 mark[v.get("forward equals TFLite Micro")], mark[v.get("a training step")],
                 *(f"{p[k]:,}" if k in p else "" for k in ("trainable_params", "peak_sram_bytes", "flash_bytes"))]
        if isinstance(b, dict):
            cells += [f"{b['scheme']}: {b['trainable_params']:,} params, {b['package_bytes']:,} B package",
                      f"{b['instructions_per_train_step']:,}", f"{b['instructions_per_eval_step']:,}"]
        else:
            cells += [b or "", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated model names (models.json keys)")
    ap.add_argument("--steps", type=int, default=3, help="training steps per model on the emulated board")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    index = json.loads((CORPUS / "models.json").read_text())
    names = [n for n in args.only.split(",") if n] or sorted(index)
    emulate = all(shutil.which(t) for t in ("cmake", "arm-none-eabi-gcc", "qemu-system-arm"))
    if emulate:
        build.build(boards.resolve("f746-qemu"), if_needed=True)
    else:
        print("no cmake / arm-none-eabi-gcc / qemu-system-arm: host checks only", file=sys.stderr)
    rows = []
    for name in names:
        rows.append(row(name, index[name], args.steps, emulate))
        print(json.dumps(rows[-1], default=str), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "corpus.json").write_text(json.dumps(rows, indent=1, default=str) + "\n")
    (args.out / "corpus.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
