"""Static arena plan: lifetimes over the schedule, offsets by greedy-by-size best fit.

A buffer lives from the first op that touches it to the last (inclusive); persistent buffers
(trainable weights and biases) live across the whole step, and each op's scratch lives
during that op only. An in-place pair ``(written, read)`` of an op puts both buffers at the
same offset (an "L-shaped" group: each member keeps its own size and lifetime, so a large
int32 accumulator that turns into a small int8 output does not keep its size afterwards).

Offsets follow the "greedy by size" heuristic of Pisarchyk & Lee (2020), the one TFLite's
arena planner uses: groups in decreasing size, each at the offset whose gap among the
already placed, time-overlapping buffers fits it most tightly (best fit), else above them.
Every size is rounded up to :data:`ALIGN` bytes, so every offset is aligned.

:func:`check` verifies the invariant independently of the planner: no two buffers that are
live at the same op share a byte, except an in-place pair at the op that hands one over to
the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tt_host.compiler.errors import PlanError
from tt_host.compiler.schedule import Schedule

ALIGN = 8


def align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass(frozen=True)
class Interval:
    """A buffer to place: ``size`` bytes live from op ``first`` to op ``last`` inclusive."""

    name: str
    size: int
    first: int
    last: int
    kind: str = "activation"

    def overlaps_in_time(self, other: Interval) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class Placed:
    interval: Interval
    offset: int

    @property
    def end(self) -> int:
        return self.offset + align(self.interval.size)


@dataclass(frozen=True)
class Plan:
    """Offsets of every buffer; ``shared`` lists the (name, name, op) overlaps allowed."""

    placed: tuple[Placed, ...]
    shared: frozenset[tuple[str, str, int]]
    n_ops: int

    @property
    def peak(self) -> int:
        """Highest end offset over the whole schedule: the arena the plan needs."""
        return max((p.end for p in self.placed), default=0)

    def by_name(self) -> dict[str, Placed]:
        return {p.interval.name: p for p in self.placed}

    def live_at(self, op: int) -> list[Placed]:
        return [p for p in self.placed if p.interval.first <= op <= p.interval.last]

    def timeline(self) -> list[dict[str, int]]:
        """Per op: bytes of live buffers (an in-place pair counted once) and the high water."""
        rows = []
        for op in range(self.n_ops):
            live = self.live_at(op)
            # At a hand-over op both members of the pair are live at one offset: count the larger.
            total = sum(align(p.interval.size) for p in live)
            for a, b, at in self.shared:
                if at == op:
                    sizes = [align(p.interval.size) for p in live if p.interval.name in (a, b)]
                    if len(sizes) == 2:
                        total -= min(sizes)
            rows.append({"op": op, "live_bytes": total, "high_water": max((p.end for p in live), default=0)})
        return rows


def _groups(intervals: Sequence[Interval], pairs: Iterable[tuple[str, str, int]]) -> list[list[Interval]]:
    """Union-find of the in-place pairs: each group shares one offset."""
    parent = {iv.name: iv.name for iv in intervals}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, _ in pairs:
        parent[root(a)] = root(b)
    groups: dict[str, list[Interval]] = {}
    for iv in intervals:
        groups.setdefault(root(iv.name), []).append(iv)
    return list(groups.values())


def _whole(group: list[Interval]) -> int:
    """1 for a group that lives over the whole step (starts at op 0 and is never freed)."""
    return int(any(iv.first == 0 and iv.kind == "param" for iv in group))


#: Orders tried by :func:`place` (largest first; ties, which are frequent in CNNs, broken
#: differently), the lowest peak wins. Each is deterministic.
_ORDERS = {
    "size, longest first": lambda g: (-max(iv.size for iv in g), -sum(iv.last - iv.first for iv in g), min(iv.name for iv in g)),
    "size, earliest first": lambda g: (-max(iv.size for iv in g), min(iv.first for iv in g), min(iv.name for iv in g)),
    "size, latest first": lambda g: (-max(iv.size for iv in g), -min(iv.first for iv in g), min(iv.name for iv in g)),
    "area": lambda g: (-sum(iv.size * (iv.last - iv.first + 1) for iv in g), min(iv.name for iv in g)),
    # Buffers live over the whole step (trainable parameters) first: they form one block at
    # the bottom of the arena instead of islands the transient buffers must fit around.
    "whole step first, then size": lambda g: (-_whole(g), -max(iv.size for iv in g), min(iv.name for iv in g)),
    "whole step first, then area": lambda g: (-_whole(g), -sum(iv.size * (iv.last - iv.first + 1) for iv in g),
                                              min(iv.name for iv in g)),
    "longest lived first": lambda g: (-max(iv.last - iv.first for iv in g), -max(iv.size for iv in g),
                                      min(iv.name for iv in g)),
}


def place(intervals: Sequence[Interval], pairs: Iterable[tuple[str, str, int]] = ()) -> Plan:
    """Greedy by size, best fit, over a few tie-break orders; the lowest peak wins.
    ``pairs`` are the in-place pairs ``(a, b, op)``."""
    pairs = frozenset(pairs)
    groups = _groups(intervals, pairs)
    n_ops = max((iv.last for iv in intervals), default=-1) + 1
    best: Plan | None = None
    for key in _ORDERS.values():
        plan = Plan(_place_ordered(sorted(groups, key=key)), pairs, n_ops)
        if best is None or plan.peak < best.peak:
            best = plan
    return best


_ZERO = np.zeros(1, np.int64)
_INF = np.iinfo(np.int64).max


def _place_ordered(groups: list[list[Interval]]) -> tuple[Placed, ...]:
    """Place ``groups`` in order, each at the best-fitting offset among the time-overlapping
    buffers already placed (vectorised: auto-selection compiles hundreds of candidates)."""
    n = sum(len(g) for g in groups)
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    start = np.empty(n, np.int64)
    stop = np.empty(n, np.int64)
    k = 0
    placed: list[Placed] = []
    for group in groups:
        # Bytes the group needs beside each placed buffer: its largest member overlapping in time.
        need = np.zeros(k, np.int64)
        for iv in group:
            live = (first[:k] <= iv.last) & (iv.first <= last[:k])
            need = np.where(live, np.maximum(need, align(iv.size)), need)
        hit = need > 0
        c_start, c_stop, c_need = start[:k][hit], stop[:k][hit], need[hit]
        offset = 0
        if c_start.size:
            cands = np.concatenate((_ZERO, c_stop))
            cands.sort()
            # A candidate fits when no conflict's [start, stop) meets [off, off + need).
            clash = (cands[:, None] < c_stop[None, :]) & (c_start[None, :] < cands[:, None] + c_need[None, :])
            above = np.where(c_start[None, :] >= cands[:, None], c_start[None, :], _INF)
            slack = np.where(clash.any(axis=1), _INF, above.min(axis=1) - cands)
            # Lowest (slack, offset): candidates ascend, argmin takes the first of equal slacks.
            offset = int(cands[int(np.argmin(slack))])
        for iv in group:
            first[k], last[k], start[k], stop[k] = iv.first, iv.last, offset, offset + align(iv.size)
            k += 1
            placed.append(Placed(iv, offset))
    return tuple(sorted(placed, key=lambda p: (p.offset, p.interval.name)))


def check(plan: Plan) -> None:
    """Raise :class:`PlanError` on a misaligned offset or two live buffers sharing a byte."""
    allowed = {(a, b, op) for a, b, op in plan.shared} | {(b, a, op) for a, b, op in plan.shared}
    items = sorted(plan.placed, key=lambda p: p.offset)
    for p in items:
        if p.offset % ALIGN or p.offset < 0:
            raise PlanError(f"{p.interval.name}: offset {p.offset} is not a multiple of {ALIGN}")
    for i, p in enumerate(items):
        if p.interval.size == 0:
            continue
        for q in items[i + 1:]:
            if q.offset >= p.offset + p.interval.size:
                break
            if q.interval.size == 0 or not p.interval.overlaps_in_time(q.interval):
                continue
            t0, t1 = max(p.interval.first, q.interval.first), min(p.interval.last, q.interval.last)
            if t0 == t1 and (p.interval.name, q.interval.name, t0) in allowed:
                continue
            raise PlanError(
                f"{p.interval.name} [{p.offset}, {p.offset + p.interval.size}) ops {p.interval.first}..{p.interval.last} "
                f"overlaps {q.interval.name} [{q.offset}, {q.offset + q.interval.size}) ops {q.interval.first}..{q.interval.last}")


def intervals_of(schedule: Schedule) -> tuple[list[Interval], set[tuple[str, str, int]]]:
    """The buffers of a schedule with their lifetimes, plus one scratch buffer per op."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for op in schedule.ops:
        for name in (*op.reads, *op.writes):
            first.setdefault(name, op.index)
            last[name] = op.index
    end = len(schedule.ops) - 1
    out = []
    for name, buf in schedule.buffers.items():
        if name not in first:
            continue
        lo, hi = (0, end) if buf.persistent else (first[name], last[name])
        out.append(Interval(name, buf.nbytes, lo, hi, buf.kind))
    for op in schedule.ops:
        if op.scratch.nbytes:
            out.append(Interval(f"scratch:{op.index}", op.scratch.nbytes, op.index, op.index, "scratch"))
    pairs = {(w, r, op.index) for op in schedule.ops for w, r in op.inplace}
    return out, pairs


def max_live(intervals: Sequence[Interval], pairs: Iterable[tuple[str, str, int]] = ()) -> int:
    """The most bytes live at one op (an in-place pair handing over counted once): a lower
    bound on any plan's peak, computed without placing anything."""
    n_ops = max((iv.last for iv in intervals), default=-1) + 1
    if n_ops == 0:
        return 0
    delta = np.zeros(n_ops + 1, np.int64)
    by_name = {}
    for iv in intervals:
        delta[iv.first] += align(iv.size)
        delta[iv.last + 1] -= align(iv.size)
        by_name[iv.name] = iv
    live = np.cumsum(delta[:-1])
    for a, b, at in pairs:
        ia, ib = by_name.get(a), by_name.get(b)
        if ia is not None and ib is not None and ia.first <= at <= ia.last and ib.first <= at <= ib.last:
            live[at] -= min(align(ia.size), align(ib.size))
    return int(live.max())


def exponent_table_bytes(intervals: Sequence[Interval]) -> int:
    """Bytes of the gradient exponent table that follows the planned buffers (see :func:`arena_layout`)."""
    return align(4 * sum(1 for iv in intervals if iv.kind in ("grad", "param_grad")))


@dataclass(frozen=True)
class ArenaLayout:
    """Where the exponent table goes and how large the arena must be."""

    planned: int  #: bytes of the planned buffers (the memory plan's peak)
    exp_table_offset: int
    n_exp_slots: int
    arena_bytes: int


def arena_layout(plan: Plan) -> ArenaLayout:
    """The planned buffers, then one int32 exponent per gradient buffer."""
    n_exp = sum(1 for p in plan.placed if p.interval.kind in ("grad", "param_grad"))
    off = align(plan.peak)
    return ArenaLayout(plan.peak, off, n_exp, off + align(4 * n_exp))


def plan_schedule(schedule: Schedule) -> Plan:
    """Lifetimes, offsets and the checked invariant for one schedule."""
    intervals, pairs = intervals_of(schedule)
    plan = place(intervals, pairs)
    check(plan)
    return plan
