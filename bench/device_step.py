"""Training steps on the emulated F746: instructions per step and SRAM, per model.

Compiles each model for the camera samples' labels (head replaced, imprinted), boots the
f746-qemu image (QEMU ``-icount shift=0``: deterministic instruction counts), uploads the
package, trains and evaluates a few real samples through the wire protocol and reads the
device's STATS. Peak SRAM = what the plan uses of the arena + the painted stack's peak +
the image's static RAM outside the arena (.data, .bss). Each row keeps the device's profile of
its steps (``PROFILE``, see ``tt-host profile``): one step's instructions and MACs per phase and
the slowest ops.

    python bench/device_step.py            # table; writes bench/results/device_step.json

Needs cmake, arm-none-eabi-gcc, qemu-system-arm; the shared models (../shared/models) for
the 128x128 rows, which are skipped without them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tt_host.tooling import boards, build, size
from tt_host.compiler import blob
from tt_host.tooling.emulator import Emulator
from tt_host.paths import REPO_ROOT, SHARED_DIR
from tt_host.workflows.samples import load_input, scan
from tt_host.link.session import DeviceSession
from tt_host.link.transport import open_transport
from tt_host.workflows.profile import join
from tt_protocol.plan import PlanHeader

SAMPLES = REPO_ROOT / "examples" / "camera_samples"
#: Slowest ops kept per row in the JSON (the profile's top).
TOP_OPS = 12
RESULTS = REPO_ROOT / "bench" / "results" / "device_step.json"

_SHARED = {
    "mbv2-w0.35": ("mbv2-w0.35-99kb", "141K"),
    "proxyless-w0.3": ("proxyless-w0.3-98kb", "135K"),
    "mcunet-5fps": ("mcunet-5fps-99kb", "173K"),
}
#: (name, model, scheme, compile options): the demo model with the compiler's auto scheme, and
#: each shared model with its published ~100 KB scheme twice: the smallest plan (``--smallest``:
#: every memory-saving variant that lowers the peak) and the fastest plan within the published
#: engine's own measured peak SRAM (141 / 135 / 173 KB, REFERENCE.md), the memory it needs.
ROWS = [("demo fmnist6 32x32", REPO_ROOT / "examples/demo_model/fmnist6-demo-int8.tflite", "auto", ["--budget", "224K"])]
for _model, (_scheme, _tte_peak) in _SHARED.items():
    _path, _json = SHARED_DIR / f"models/{_model}-int8.tflite", SHARED_DIR / f"schemes/{_scheme}.json"
    _res = "128x128 " + _scheme.rsplit("-", 1)[1]
    ROWS += [(f"{_model} {_res} smallest", _path, _json, ["--budget", "224K", "--smallest"]),
             (f"{_model} {_res} in {_tte_peak}", _path, _json, ["--budget", _tte_peak])]


def compile_package(model: Path, scheme: str | Path, out: Path, options: list[str]) -> tuple[bytes, dict]:
    # The learning rate changes no instruction count: a fixed one skips the --lr auto trial.
    cmd = ["tt-host", "compile", str(model), "--samples", str(SAMPLES), "--scheme", str(scheme), "--lr", "0.003",
           *options, "--out", str(out), "--json"]
    report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return blob.package((out / "plan.bin").read_bytes(), (out / "weights.bin").read_bytes()), report


def run_row(name: str, model: Path, scheme: str | Path, options: list[str], static_ram: int, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        package, report = compile_package(model, scheme, Path(tmp), options)
    header = PlanHeader.parse(package)
    shape = (header.input_h, header.input_w, header.input_c)
    folder = scan(SAMPLES)
    samples = folder.samples[:: max(1, len(folder.samples) // steps)][:steps]
    board = boards.resolve("f746-qemu")
    with Emulator(board, build_if_needed=False) as emulator, open_transport(emulator.url) as transport:
        session = DeviceSession(transport, timeout=30.0)
        session.hello()
        t0 = time.perf_counter()
        session.upload(package, replace_model=True)
        upload_s = time.perf_counter() - t0
        for step, sample in enumerate(samples):
            session.send_sample(load_input(sample.path, shape).tobytes())
            session.run_sample(folder.label_index(sample.label), train=True, step=step)
        session.send_sample(load_input(samples[0].path, shape).tobytes())
        session.run_sample(folder.label_index(samples[0].label), train=False)
        stats = session.stats()
        profile = join(session.profile(), board.name, report)
    ns_per_tick = 1e9 / stats.tick_hz
    return {
        "row": name,
        "trainable_params": report["trainable_params"],
        "package_bytes": len(package),
        "upload_s": round(upload_s, 2),
        "train_steps": stats.trained,
        "instructions_per_train_step": round(stats.train_ticks * ns_per_tick / stats.trained),
        "instructions_per_eval_step": round(stats.eval_ticks * ns_per_tick / stats.evaluated),
        "macs_forward": report["macs_forward"],
        "macs_backward": report["macs_backward"],
        "arena_used": stats.arena_used,
        "stack_peak": stats.stack_peak,
        "static_ram": static_ram,
        "peak_sram_bytes": stats.arena_used + stats.stack_peak + static_ram,
        "compiler_peak_sram_bytes": report["peak_sram_bytes"],
        "phases": {name: {"instructions": round(p["ticks"] * ns_per_tick), "macs": p["macs"],
                          "mac_per_instruction": round(p["macs"] / (p["ticks"] * ns_per_tick), 3) if p["macs"] else None}
                   for name, p in profile.by_phase().items()},
        "top_ops": [{"op": r.index, "kind": r.kind, "layer": r.layer, "phase": r.phase, "macs": r.macs,
                     "instructions": round(r.ticks_per_run * ns_per_tick),
                     "mac_per_instruction": round(r.macs / (r.ticks_per_run * ns_per_tick), 3) if r.macs else None}
                    for r in profile.top(TOP_OPS)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="training steps per row")
    parser.add_argument("--only", default="", help="run only the rows whose name contains this")
    args = parser.parse_args()
    board = boards.resolve("f746-qemu")
    elf = build.build(board, if_needed=True)
    report = size.size_report(board, elf)
    static_ram = sum(u.sram for u in report.sections if "arena" not in u.section.name and "stack" not in u.section.name)
    rows = []
    for name, model, scheme, options in ROWS:
        if args.only not in name:
            continue
        if not model.exists():
            print(f"skip {name}: {model} is absent", file=sys.stderr)
            continue
        row = run_row(name, model, scheme, options, static_ram, args.steps)
        rows.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{'row':30} {'instr/train step':>17} {'instr/eval':>12} {'peak SRAM':>10} {'compiler':>10}")
    for r in rows:
        print(f"{r['row']:30} {r['instructions_per_train_step']:>17,} {r['instructions_per_eval_step']:>12,} "
              f"{r['peak_sram_bytes']:>10,} {r['compiler_peak_sram_bytes']:>10,}")
    for r in rows:
        print(f"\n{r['row']}: one training step by phase (M instructions, MAC per instruction)")
        for name, p in r["phases"].items():
            rate = f"{p['mac_per_instruction']:.2f}" if p["mac_per_instruction"] else ""
            print(f"  {name:18} {p['instructions'] / 1e6:8.2f} {rate:>6}")


if __name__ == "__main__":
    main()
