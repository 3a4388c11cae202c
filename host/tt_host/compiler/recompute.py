"""Recompute masks only where the peak needs it.

A block whose masks the backward recomputes (``PlanOptions.recompute_masks``) frees its
expansion's and depthwise's masks for the whole step between its forward and its backward, at
the price of running those two layers a second time (MobileNetV2-w0.35 at 128x128, published
scheme: all 8 eligible blocks, 1.6 M more MACs per step, 10.4 KB less SRAM, 3.4 % more
instructions on the emulated board). Only the blocks whose masks sit under the peak need it. So after planning with every eligible block recomputed, each block in turn, the
most expensive first, keeps its masks from the forward again where the step's peak does not
grow. The arithmetic never changes.
"""

from __future__ import annotations

from tt_host.compiler.memory import Plan, plan_schedule
from tt_host.compiler.schedule import Schedule


def keep_needed(schedule: Schedule, plan: Plan) -> tuple[Schedule, Plan]:
    """The schedule and plan with the masks recomputed only for the blocks where keeping
    them from the forward would raise the peak."""
    cost = {block: sum(schedule.graph.layers[i].macs for i in block.layers) for block in schedule.recomputed}
    kept = schedule.kept_masks
    for block in sorted(cost, key=lambda b: (-cost[b], b.dw)):
        trial = schedule.rebuilt(kept_masks=kept | {block})
        replanned = plan_schedule(trial)
        if replanned.peak <= plan.peak:
            kept, schedule, plan = kept | {block}, trial, replanned
    return schedule, plan
