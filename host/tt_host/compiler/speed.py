"""Spend what the budget leaves on speed.

:mod:`.recompute` and :mod:`.inplace` keep the memory-saving variants wherever they lower the
step's peak: the smallest plan the scheme allows. A budget above that peak is room those
variants need not save, and each costs instructions: a recomputed block runs its expansion and
depthwise twice (MobileNetV2-w0.35, published scheme: 1.6 M MACs, about 4 M instructions per
step on the emulated F746), an in-place kernel is slower than its out-of-place twin. So, with a
budget, the variants that still fit without them are undone, the most expensive first: every
in-place site at once (then, if that does not fit, one site at a time), then the recomputed
blocks by their MACs. The plan stays within the budget; the arithmetic never changes.
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

    sites = inplace_sites(schedule)
    if sites:
        moved = frozenset(schedule.out_of_place) | frozenset(sites)
        trial = schedule.rebuilt(out_of_place=moved)
        replanned = attempt(trial)
        if replanned is not None:
            schedule, plan = trial, replanned
        else:
            for site in sites:
                trial = schedule.rebuilt(out_of_place=frozenset(schedule.out_of_place) | {site})
                replanned = attempt(trial)
                if replanned is not None:
                    schedule, plan = trial, replanned
    macs = {block: sum(schedule.graph.layers[i].macs for i in block.layers) for block in schedule.recomputed}
    for block in sorted(macs, key=lambda b: (-macs[b], b.dw)):
        trial = schedule.rebuilt(kept_masks=schedule.kept_masks | {block})
        replanned = attempt(trial)
        if replanned is not None:
            schedule, plan = trial, replanned
    return schedule, plan


def arena_fits(budget: int, firmware_sram: int) -> Callable[[Plan], bool]:
    """Whether a plan's step (its arena and the firmware's own RAM) fits ``budget`` bytes."""
    return lambda plan: arena_layout(plan).arena_bytes + firmware_sram <= budget
