"""The compile report: what a training step costs on the device, and where the bytes go.

``peak_sram_bytes`` is everything the device needs in SRAM for a training step: the arena
(the planned activations, saved tensors, masks, gradients, trainable weights and biases,
scratch, and the table of gradient exponents) plus the firmware's own RAM (``.data`` + ``.bss``, which hold the UART frame buffers, and
the stack). The firmware numbers come from the f746-qemu image when it is built; otherwise
from :data:`FIRMWARE_MEASURED`, measured on that image and to be refreshed when the
firmware grows (the backward kernels and the plan executor will add code and some RAM).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tt_host.compiler.lowering import load_order
from tt_host.compiler.memory import Plan, align, arena_layout
from tt_host.compiler.schedule import BUFFER_KINDS, Schedule


#: A COMMIT record besides the trained tensors: the count of training steps before the
#: parameter image, the stochastic rounding's PRNG counter after it (``tt_trainer_commit``).
COMMIT_OVERHEAD_BYTES = 8


def commit_bytes(schedule: Schedule) -> int:
    """The bytes a COMMIT of this plan's trained parameters stores in the device's A/B store."""
    return COMMIT_OVERHEAD_BYTES + sum(b.nbytes for b in schedule.buffers.values() if b.persistent)


@dataclass(frozen=True)
class FirmwareFootprint:
    """The firmware's share of the board's memories, outside the training arena."""

    sram_static: int  #: .data + .bss (frame buffers, UART ring, state)
    stack: int
    flash: int  #: code, read-only data, initial values of .data
    source: str  #: the ELF measured, or where the constants come from

    @property
    def sram(self) -> int:
        return self.sram_static + self.stack


#: ``tt-host size --board f746-qemu --json`` of the firmware at commit 870b8c6 (forward
#: kernels and protocol only, before the plan executor): .data 16 + .bss 4872, stack 8192,
#: flash 5204.
FIRMWARE_MEASURED = FirmwareFootprint(16 + 4872, 8192, 5204, "measured constants (f746-qemu, commit 870b8c6)")

#: Per output channel of every layer, the plan stores its requantization multiplier and
#: shift (int32 each) next to the weights.
QUANT_BYTES_PER_CHANNEL = 8


def firmware_footprint(board: str = "f746-qemu") -> FirmwareFootprint:
    """Measure the built firmware image of ``board``, or fall back to the constants."""
    try:
        from tt_host.tooling import boards, size

        target = boards.resolve(board)
        elf = target.elf_path
        if not elf.is_file():
            return FIRMWARE_MEASURED
        report = size.size_report(target, elf)
    except Exception:  # noqa: BLE001 - any failure to measure means "use the constants"
        return FIRMWARE_MEASURED
    stack = sum(u.sram for u in report.sections if u.section.name == ".stack")
    static = report.sram_used - report.arena_bytes - stack
    return FirmwareFootprint(static, stack, report.flash_used, str(elf))


def _kind_bytes(plan: Plan, op: int, sizes: dict[str, str]) -> dict[str, int]:
    """Live bytes per buffer kind at ``op``; an in-place pair handing over counts once."""
    out = dict.fromkeys(BUFFER_KINDS, 0)
    live = {p.interval.name: p for p in plan.live_at(op)}
    for p in live.values():
        out[sizes.get(p.interval.name, p.interval.kind)] += align(p.interval.size)
    for a, b, at in plan.shared:
        if at == op and a in live and b in live:
            smaller = min(live[a], live[b], key=lambda p: p.interval.size)
            out[smaller.interval.kind] -= align(smaller.interval.size)
    return out


def breakdown(schedule: Schedule, plan: Plan) -> dict[str, Any]:
    """Where the bytes are: at the arena's peak op, and each kind's own maximum over time.

    ``forward_activation_peak`` is the largest sum of live input/activation/accumulator/
    scratch bytes during a forward op (what layer-by-layer inference alone would need, plus
    what backward keeps alive from it); ``saved`` and ``masks`` are the bytes kept for the
    backward at the end of the forward; ``grad_peak`` the most int16 gradient bytes live at
    once; ``params`` the trainable weights and biases held in SRAM.
    """
    kinds = {p.interval.name: p.interval.kind for p in plan.placed}
    timeline = plan.timeline()
    # The op under most pressure: the most live bytes (the high water itself is reached
    # wherever a long-lived buffer sits on top).
    peak_op = max(timeline, key=lambda r: r["live_bytes"])["op"] if timeline else 0
    per_op = [_kind_bytes(plan, op.index, kinds) for op in schedule.ops]
    fwd = [i for i, op in enumerate(schedule.ops) if op.phase == "forward"]
    last_fwd = fwd[-1] if fwd else 0
    transient = ("input", "activation", "accumulator", "scratch")
    return {
        "peak_op": peak_op,
        "peak_op_kind": schedule.ops[peak_op].kind if schedule.ops else None,
        "at_peak": per_op[peak_op] if per_op else {},
        "forward_activation_peak": max((sum(per_op[i][k] for k in transient) for i in fwd), default=0),
        "saved": per_op[last_fwd]["saved"] + sum(
            align(schedule.buffers[n].nbytes) for n in _saved_whole(schedule)),
        "masks": per_op[last_fwd]["mask"],
        "grad_peak": max((row["grad"] for row in per_op), default=0),
        "params": sum(align(b.nbytes) for b in schedule.buffers.values() if b.persistent),
    }


def _saved_whole(schedule: Schedule) -> list[str]:
    """Activations kept whole for a weight gradient (every channel trains)."""
    return sorted({r for op in schedule.ops if op.kind in ("weight_grad", "weight_grad_update") for r in op.reads if r.startswith("act:")})


def layer_rows(schedule: Schedule) -> list[dict[str, Any]]:
    """One row per IR layer: shape, MACs, what trains, what is kept, whether it is fused."""
    g = schedule.graph
    fused = {i for block in schedule.blocks for i in block.layers}
    bwd_macs: dict[int, int] = {}
    for op in schedule.ops:
        if op.phase == "backward" and op.layer is not None:
            bwd_macs[op.layer] = bwd_macs.get(op.layer, 0) + op.macs
    rows = []
    for layer in g.layers:
        t = schedule.training.get(layer.index)
        saved = 0
        name = f"saved:{layer.index}"
        if name in schedule.buffers:
            saved = schedule.buffers[name].nbytes
        elif t is not None and t.channels:
            saved = g.tensors[layer.inputs[0]].numel
        mask = schedule.buffers.get(f"mask:{layer.index}")
        rows.append({
            "index": layer.index,
            "name": layer.name,
            "kind": layer.kind,
            "conv_index": layer.conv_index,
            "out_shape": list(g.tensors[layer.output].shape),
            "macs_forward": layer.macs,
            "macs_backward": bwd_macs.get(layer.index, 0),
            "train_bias": bool(t and t.bias),
            "train_channels": len(t.channels) if t else 0,
            "in_channels": layer.weight_in_channels,
            "saved_bytes": saved,
            "mask_bytes": mask.nbytes if mask else 0,
            "grad": layer.output in schedule.needs_grad,
            "fused": layer.index in fused,
        })
    return rows


def plan_op_rows(schedule: Schedule) -> list[dict[str, Any]]:
    """Per op of the plan's op table: what it does, the layer it computes and the MACs of one
    run, so a device's per-op profile (``tt-host profile``) can be read by layer."""
    g = schedule.graph
    rows = [{"step": "load", "layer": g.layers[b.layer].name, "macs": 0} for b in load_order(schedule)]
    rows += [{"step": op.kind, "layer": g.layers[op.layer].name if op.layer is not None else None, "macs": op.macs}
             for op in schedule.ops]
    return rows


def timeline_rows(schedule: Schedule, plan: Plan) -> list[dict[str, Any]]:
    """Per op of the schedule: what runs and the arena's live bytes and high water."""
    g = schedule.graph
    rows = []
    for op, t in zip(schedule.ops, plan.timeline()):
        rows.append({
            "op": op.index,
            "kind": op.kind,
            "phase": op.phase,
            "layer": g.layers[op.layer].name if op.layer is not None else None,
            "live_bytes": t["live_bytes"],
            "high_water": t["high_water"],
        })
    return rows


def _input(schedule: Schedule) -> dict[str, Any]:
    """Where the sample goes: its own buffer, or (streamed) a buffer of a few rows."""
    buffer = schedule.buffers[schedule.ops[0].writes[0]]
    return {"sample_bytes": schedule.graph.tensors[schedule.graph.input].numel, "buffer_bytes": buffer.nbytes,
            "streamed": schedule.streamed_input}


def build_report(schedule: Schedule, plan: Plan, firmware: FirmwareFootprint | None = None) -> dict[str, Any]:
    """The JSON-ready compile report (see the module docstring for ``peak_sram_bytes``)."""
    fw = firmware or firmware_footprint()
    g = schedule.graph
    layout = arena_layout(plan)
    quant_bytes = QUANT_BYTES_PER_CHANNEL * sum(layer.out_channels for layer in g.layers if layer.has_params)
    bwd = [op for op in schedule.ops if op.phase == "backward"]
    return {
        "model": g.name,
        "n_classes": g.n_classes,
        "scheme": schedule.scheme.to_dict(),
        "options": asdict(schedule.options),
        "peak_sram_bytes": layout.arena_bytes + fw.sram,
        "arena_bytes": layout.arena_bytes,
        "planned_bytes": plan.peak,
        "exponent_table_bytes": layout.arena_bytes - layout.exp_table_offset,
        "firmware": asdict(fw),
        "flash_bytes": g.param_bytes + quant_bytes + fw.flash,
        "macs_forward": schedule.macs("forward"),
        "macs_backward": schedule.macs("backward"),
        "macs_backward_input": sum(op.macs for op in bwd if op.kind == "bwd_input"),
        "macs_backward_weight": sum(op.macs for op in bwd if op.kind in ("weight_grad", "weight_grad_update")),
        #: the forward layers the backward runs again to rebuild masks (part of macs_backward)
        "macs_backward_recompute": sum(op.macs for op in bwd if op.kind == "recompute"),
        "trainable_params": schedule.scheme.trainable_params(g),
        "commit_bytes": commit_bytes(schedule),
        "n_ops": len(schedule.ops),
        "ops": plan_op_rows(schedule),
        "fused_blocks": [[g.layers[i].name for i in block.layers] for block in schedule.blocks],
        "recomputed_blocks": [[g.layers[i].name for i in block.layers] for block in schedule.recomputed],
        "input": _input(schedule),
        "breakdown": breakdown(schedule, plan),
        "layers": layer_rows(schedule),
        "timeline": timeline_rows(schedule, plan),
    }


# -- human-readable views (the ``tt-host compile`` output) ------------------------------------

_BARS = " ▁▂▃▄▅▆▇█"


def _kib(n: int) -> str:
    return f"{n / 1024:.1f}K"


def layer_table(report: dict[str, Any]):
    """A rich table: one row per layer with what it trains, keeps and costs."""
    from rich.table import Table

    t = Table(title=f"{report['model']}: scheme {report['scheme']['name']}, {report['n_classes']} classes")
    for col in ("#", "layer", "kind", "conv", "output", "MACs fwd", "MACs bwd", "trains", "saved", "mask", "grad"):
        t.add_column(col, justify="left" if col in ("layer", "kind", "trains") else "right",
                     no_wrap=col in ("layer", "kind"))
    for r in report["layers"]:
        if r["kind"] == "reshape":
            continue
        trains = []
        if r["train_bias"]:
            trains.append("bias")
        if r["train_channels"]:
            trains.append(f"W {r['train_channels']}/{r['in_channels']}")
        kind = r["kind"] + (" (fused)" if r["fused"] else "")
        t.add_row(str(r["index"]), r["name"], kind, "" if r["conv_index"] is None else str(r["conv_index"]),
                  "x".join(map(str, r["out_shape"])), f"{r['macs_forward']:,}", f"{r['macs_backward']:,}" if r["macs_backward"] else "",
                  " + ".join(trains), f"{r['saved_bytes']:,}" if r["saved_bytes"] else "",
                  str(r["mask_bytes"]) if r["mask_bytes"] else "", "yes" if r["grad"] else "")
    return t


def summary_lines(report: dict[str, Any]) -> list[str]:
    fw = report["firmware"]
    b = report["breakdown"]
    lines = [
        f"peak SRAM {report['peak_sram_bytes']:,} B ({_kib(report['peak_sram_bytes'])}) = arena {report['arena_bytes']:,} "
        f"+ firmware {fw['sram_static'] + fw['stack']:,} (static {fw['sram_static']:,}, stack {fw['stack']:,})",
        (f"arena at its busiest op ({b['peak_op']}: {b['peak_op_kind']}): "
         + ", ".join(f"{k} {_kib(v)}" for k, v in b["at_peak"].items() if v)),
        f"flash {report['flash_bytes']:,} B; MACs forward {report['macs_forward']:,}, backward {report['macs_backward']:,}; "
        f"trainable parameters {report['trainable_params']:,}",
    ]
    x = report["input"]
    lines.append(f"sample {x['sample_bytes']:,} B: " + (
        f"streamed through {x['buffer_bytes']:,} B of rows into the first block" if x["streamed"]
        else "stored whole"))
    if report["recomputed_blocks"]:
        lines.append(f"masks of {len(report['recomputed_blocks'])} blocks rebuilt in the backward "
                     f"({report['macs_backward_recompute']:,} MACs): " + ", ".join(b[0] for b in report["recomputed_blocks"]))
    if "plan_bytes" in report:
        lines.append(f"plan.bin {report['plan_bytes']:,} B, weights.bin {report['weights_bytes']:,} B, "
                     f"plan hash {report['plan_hash'][:16]}")
    return lines


def timeline_text(report: dict[str, Any], width: int = 72) -> list[str]:
    """The arena's live bytes over the schedule as a text sparkline (forward | backward)."""
    rows = report["timeline"]
    if not rows:
        return []
    top = max(r["live_bytes"] for r in rows) or 1
    n = len(rows)
    cols = min(width, n)
    cells = []
    for c in range(cols):
        chunk = rows[c * n // cols:max((c + 1) * n // cols, c * n // cols + 1)]
        v = max(r["live_bytes"] for r in chunk)
        cells.append(_BARS[min(len(_BARS) - 1, round(v / top * (len(_BARS) - 1)))])
    first_bwd = next((i for i, r in enumerate(rows) if r["phase"] == "backward"), n)
    mark = min(cols - 1, first_bwd * cols // n)
    axis = "".join("^" if c == mark else " " for c in range(cols))
    return [f"arena live bytes over {n} ops (max {_kib(top)}; ^ = backward starts)", "|" + "".join(cells) + "|",
            " " + axis]


def plot_timeline(report: dict[str, Any], path) -> None:
    """Draw the arena over the schedule to ``path`` (PNG); needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from tt_host.errors import ToolMissing

        raise ToolMissing("--plot needs matplotlib: pip install 'tt-host[plot]' (or pip install matplotlib)") from exc
    rows = report["timeline"]
    ops = [r["op"] for r in rows]
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.fill_between(ops, [r["live_bytes"] / 1024 for r in rows], step="mid", alpha=0.5, label="live buffers")
    ax.step(ops, [r["high_water"] / 1024 for r in rows], where="mid", label="highest offset in use")
    first_bwd = next((r["op"] for r in rows if r["phase"] == "backward"), None)
    if first_bwd is not None:
        ax.axvline(first_bwd, color="grey", linestyle="--", label="backward starts")
    ax.set_xlabel("op")
    ax.set_ylabel("KiB")
    ax.set_title(f"{report['model']} / {report['scheme']['name']}: arena {report['arena_bytes'] / 1024:.1f} KiB, "
                 f"peak SRAM {report['peak_sram_bytes'] / 1024:.1f} KiB")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
