"""In place only where the peak needs it.

An in-place kernel saves one tensor's worth of SRAM at its op, but takes more instructions
than its out-of-place twin (MobileNetV2-w0.35 at 128x128, published scheme, on the emulated
Cortex-M7: 77.8 M instructions per evaluation step with every legal site in place, 55.0 M
with none). Only the ops at or near the step's peak need the saving. So after planning with
every legal site in place, the sites whose op would still stay under the peak with its input
and output both live run out of place, and the step is planned again; if the placement then
needs more than before (it is a heuristic, and the sites' slack was estimated), fewer sites
are moved, down to none. The peak never grows; the arithmetic never changes.
"""

from __future__ import annotations

from tt_host.compiler.memory import Plan, align, plan_schedule
from tt_host.compiler.schedule import Schedule

#: Shares of the peak left free for the placement when choosing sites, tried in order.
_MARGINS = (0.0, 0.02, 0.05, 0.1, 0.2)


def keep_needed(schedule: Schedule, plan: Plan) -> tuple[Schedule, Plan]:
    """The schedule and plan with the in-place kernels (forward and input gradient) only at
    the ops where running out of place could raise the peak."""
    sites = [op for op in schedule.ops if op.inplace and op.kind in ("fwd", "recompute", "bwd_input") and op.layer is not None]
    if not sites:
        return schedule, plan
    live = {row["op"]: row["live_bytes"] for row in plan.timeline()}

    def headroom(op) -> int:
        """Bytes left under the peak with the op's input live beside its output."""
        written, read = op.inplace[0]
        extra = min(schedule.buffers[written].nbytes, schedule.buffers[read].nbytes)
        return plan.peak - live[op.index] - align(extra)

    tried: set[frozenset] = set()
    for margin in _MARGINS:
        moved = frozenset((op.kind, op.layer) for op in sites if headroom(op) >= margin * plan.peak)
        if not moved or moved in tried:
            continue
        tried.add(moved)
        again = schedule.rebuilt(out_of_place=moved)
        replanned = plan_schedule(again)
        if replanned.peak <= plan.peak:
            return again, replanned
    return schedule, plan
