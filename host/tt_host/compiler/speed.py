"""Spend what the budget leaves on speed.

Fused blocks (``fuse_blocks="auto"``), :mod:`.recompute` and :mod:`.inplace` keep the
memory-saving variants wherever they lower the step's peak: the smallest plan the scheme
allows. A budget above that peak is room those variants need not save, and each costs
instructions: a recomputed block runs its expansion and depthwise twice (MobileNetV2-w0.35,
published scheme: 1.6 M MACs, about 3 M instructions net per step on the emulated F746), an
in-place kernel is slower than its out-of-place twin, and a fused block runs its three layers
row by row (0.36-0.42 MAC per instruction there) where the whole-map kernels reach 0.5-0.9.
So, with a budget, the variants that still fit without them are undone: every in-place site at
once (then, if that does not fit, one site at a time), the recomputed blocks by their MACs,
then the fused blocks from the last (the smallest maps) to the first. The plan stays within
the budget; the arithmetic never changes. MobileNetV2-w0.35 with the 99 KB scheme: 71.3 M
instructions per step in its smallest plan (133 KB), 66.4 M within the published engine's
141 KB, 63.5 M within the F746's 224 KB.
"""

from __future__ import annotations

from collections.abc import Callable

from tt_host.compiler.memory import Plan, arena_layout, plan_schedule
from tt_host.compiler.schedule import Schedule

_INPLACE_KINDS = ("fwd", "recompute", "bwd_input")
#: Layers with a separate, slower in-place kernel (element-wise ops run in place at no cost).
_INPLACE_VARIANT_LAYERS = ("dw_conv2d", "pw_conv2d")


def inplace_sites(schedule: Schedule) -> list[tuple[str, int]]:
    """The ``(op kind, layer)`` sites running an in-place kernel variant, biggest tensor first."""
    ops = [op for op in schedule.ops if op.inplace and op.kind in _INPLACE_KINDS and op.layer is not None
           and schedule.graph.layers[op.layer].kind in _INPLACE_VARIANT_LAYERS]
    ops.sort(key=lambda op: -schedule.buffers[op.inplace[0][0]].nbytes)
    return [(op.kind, op.layer) for op in ops]


def within_budget(schedule: Schedule, plan: Plan, fits: Callable[[Plan], bool]) -> tuple[Schedule, Plan]:
    """``schedule`` with as few memory-saving variants as ``fits`` (the budget) allows."""

    def attempt(candidate: Schedule) -> Plan | None:
        replanned = plan_schedule(candidate)
        return replanned if fits(replanned) else None

    def out_of_place(schedule: Schedule, plan: Plan) -> tuple[Schedule, Plan]:
        sites = inplace_sites(schedule)
        if not sites:
            return schedule, plan
        trial = schedule.rebuilt(out_of_place=frozenset(schedule.out_of_place) | frozenset(sites))
        replanned = attempt(trial)
        if replanned is not None:
            return trial, replanned
        for site in sites:
            trial = schedule.rebuilt(out_of_place=frozenset(schedule.out_of_place) | {site})
            replanned = attempt(trial)
            if replanned is not None:
                schedule, plan = trial, replanned
        return schedule, plan

    schedule, plan = out_of_place(schedule, plan)
    macs = {block: sum(schedule.graph.layers[i].macs for i in block.layers) for block in schedule.recomputed}
    for block in sorted(macs, key=lambda b: (-macs[b], b.dw)):
        trial = schedule.rebuilt(kept_masks=schedule.kept_masks | {block})
        replanned = attempt(trial)
        if replanned is not None:
            schedule, plan = trial, replanned
    for block in reversed(schedule.blocks):  # the last blocks have the smallest maps
        trial = schedule.rebuilt(unfused=schedule.unfused | {block})
        replanned = attempt(trial)
        if replanned is not None:
            schedule, plan = trial, replanned
    return out_of_place(schedule, plan)  # the unfused blocks' layers start in place


def arena_fits(budget: int, firmware_sram: int) -> Callable[[Plan], bool]:
    """Whether a plan's step (its arena and the firmware's own RAM) fits ``budget`` bytes."""
    return lambda plan: arena_layout(plan).arena_bytes + firmware_sram <= budget
