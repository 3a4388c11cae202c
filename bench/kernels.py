"""Instruction counts of the training kernels on the emulated Cortex-M7.

Builds ``tt-bench-kernels`` (boards/f746-qemu/bench_kernels.c) for the f746-qemu board,
boots it in QEMU with ``-icount shift=0`` and reports, per kernel and shape (taken from the
shared models), the MACs, the instructions and MACs per instruction.

How instructions are counted: under ``-icount shift=0`` each guest instruction advances
QEMU's virtual clock by exactly 1 ns, and SysTick counts the AN500's 25 MHz SYSCLK, so one
tick is 40 instructions. The image times each kernel with SysTick and first times a loop of
2^21 known instructions; instructions = ticks x (2^21 / calibration ticks). The resolution is
40 instructions, against rows of 10^4 to 10^7. (Debian's QEMU ships no TCG plugins, so
there is no per-instruction counter to use instead.) An instruction is not a cycle: on the
real Cortex-M7, loads, SMLAD and the dual-issue pairs take different numbers of cycles.

    python bench/kernels.py              # table on stdout; bench/results/kernels.json + .png
    python bench/kernels.py --json       # the rows as JSON on stdout
    python bench/kernels.py --compare    # also the portable C loops on the same core (before)

JSON rows: {"op", "shape", "macs", "instructions", "mac_per_instruction"}; with --compare
also "portable_instructions" and "portable_mac_per_instruction". For the elementwise and pooling
rows (add_fwd, add_bwd_input, avgpool_fwd, mask_pack, mask_bwd, bias_bwd) "macs" counts input
elements. Weight-gradient rows end their shape with ",ch<n>,step<k>": the n trained input
channels 0, k, 2k, ...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tt_host.tooling.boards import resolve
from tt_host.tooling.build import check_tools
from tt_host.tooling.emulator import Emulator
from tt_host.errors import BuildError, TtError
from tt_host.paths import REPO_ROOT, build_root

RESULTS = Path(__file__).resolve().parent / "results"
IMAGE = "tt-bench-kernels"
#: The issue's goals, MAC per instruction, by op prefix.
GOALS = {"pw_conv2d_fwd": 0.8, "dw_conv2d_fwd": 0.5}

_CALIBRATE = re.compile(r"^tt-bench calibrate instructions=(\d+) ticks=(\d+)$")
_ROW = re.compile(r"^tt-bench op=(\S+) shape=(\S+) macs=(\d+) ticks=(\d+)$")


def build_image(portable: bool, verbose: bool) -> Path:
    """Configure (once) and build the benchmark image; return its ELF.

    The portable variant is a separate build tree compiled with -DTT_KERNELS_PORTABLE, which
    turns off the kernels' DSP paths (firmware/kernels/tt_dsp.h)."""
    check_tools()
    board = resolve("f746-qemu")
    build_dir = build_root() / ("f746-qemu-portable" if portable else "f746-qemu")
    env = dict(os.environ)
    if portable:
        env["CFLAGS"] = (env.get("CFLAGS", "") + " -DTT_KERNELS_PORTABLE").strip()
    out = None if verbose else subprocess.PIPE
    steps = [
        ["cmake", "--preset", board.cmake_preset, "-B", str(build_dir)],
        ["cmake", "--build", str(build_dir), "--target", IMAGE, "-j2"],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout or "").splitlines()[-40:])
            raise BuildError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode}\n{tail}")
    return build_dir / "boards" / board.name / f"{IMAGE}.elf"


def run_image(elf: Path, timeout: float = 300) -> list[dict]:
    """Boot the image, wait for it to exit, and parse its rows."""
    with tempfile.TemporaryDirectory() as tmp:
        emulator = Emulator(resolve("f746-qemu"), elf=elf, log_path=Path(tmp) / "bench.log")
        with emulator:
            code = emulator.wait(timeout)
            log = emulator.log_text()
    if code != 0:
        raise TtError(f"{elf.name} exited with status {code}:\n{log}")
    return parse(log)


def parse(log: str) -> list[dict]:
    """Rows from the image's output (see bench_kernels.c for the line format)."""
    per_tick = None
    rows = []
    for line in log.splitlines():
        line = line.strip()
        if m := _CALIBRATE.match(line):
            per_tick = int(m[1]) / int(m[2])
        elif m := _ROW.match(line):
            if per_tick is None:
                raise TtError("benchmark output has rows before its calibration line")
            macs, instructions = int(m[3]), round(int(m[4]) * per_tick)
            rows.append(
                {
                    "op": m[1],
                    "shape": m[2],
                    "macs": macs,
                    "instructions": instructions,
                    "mac_per_instruction": round(macs / instructions, 3) if instructions else None,
                }
            )
    if "tt-bench done" not in log:
        raise TtError(f"the benchmark did not finish:\n{log}")
    return rows


def merge_portable(rows: list[dict], portable: list[dict]) -> None:
    for row, base in zip(rows, portable, strict=True):
        assert (row["op"], row["shape"]) == (base["op"], base["shape"])
        row["portable_instructions"] = base["instructions"]
        row["portable_mac_per_instruction"] = base["mac_per_instruction"]


def _goal(op: str) -> float | None:
    return GOALS.get(op)


def table(rows: list[dict]) -> str:
    compare = "portable_instructions" in rows[0]
    head = ["op", "shape", "MACs", "instructions", "MAC/instr"]
    if compare:
        head += ["portable instr", "portable MAC/instr", "speed-up"]
    head.append("goal")
    lines = []
    for r in rows:
        goal = _goal(r["op"])
        cells = [r["op"], r["shape"], f"{r['macs']:,}", f"{r['instructions']:,}", f"{r['mac_per_instruction']:.3f}"]
        if compare:
            cells += [
                f"{r['portable_instructions']:,}",
                f"{r['portable_mac_per_instruction']:.3f}",
                f"{r['portable_instructions'] / r['instructions']:.1f}x",
            ]
        if goal is None:
            cells.append("")
        else:
            cells.append(f">= {goal} {'met' if r['mac_per_instruction'] >= goal else 'MISSED'}")
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines)]
    right = {2, 3, 4, 5, 6, 7}

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right and i < len(cells) - 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *(fmt(c) for c in lines)])


def plot(rows: list[dict], path: Path) -> bool:
    """Bar chart of MAC/instruction per row; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels = [f"{r['op']}\n{r['shape']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(rows)), 5))
    xs = range(len(rows))
    if "portable_instructions" in rows[0]:
        ax.bar([x - 0.2 for x in xs], [r["portable_mac_per_instruction"] for r in rows], 0.4, label="portable C")
        ax.bar([x + 0.2 for x in xs], [r["mac_per_instruction"] for r in rows], 0.4, label="Cortex-M7 DSP")
    else:
        ax.bar(list(xs), [r["mac_per_instruction"] for r in rows], 0.6, label="Cortex-M7")
    for op, goal in GOALS.items():
        ax.axhline(goal, linestyle="--", linewidth=0.8, color="grey")
        ax.text(len(rows) - 0.5, goal, f"{op} goal", fontsize=7, va="bottom", ha="right", color="grey")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_ylabel("MACs per instruction (QEMU -icount)")
    ax.set_title("tt kernels on the emulated Cortex-M7")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    parser.add_argument("--compare", action="store_true", help="also measure the portable C loops (before)")
    parser.add_argument("--portable", action="store_true", help="measure only the portable C loops")
    parser.add_argument("--output", type=Path, default=RESULTS / "kernels.json", help="where to write the JSON rows")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the build output (on stderr)")
    args = parser.parse_args(argv)

    try:
        rows = run_image(build_image(portable=args.portable, verbose=args.verbose))
        if args.compare and not args.portable:
            merge_portable(rows, run_image(build_image(portable=True, verbose=args.verbose)))
    except TtError as exc:
        print(f"bench/kernels.py: {exc}", file=sys.stderr)
        return exc.exit_code

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(rows, indent=1) + "\n")
    png = args.output.with_suffix(".png")
    if not plot(rows, png):
        print("bench/kernels.py: matplotlib is not installed; no plot (pip install matplotlib)", file=sys.stderr)
    print(json.dumps(rows, indent=1) if args.json else table(rows))
    print(f"wrote {args.output}" + (f" and {png}" if png.exists() else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
