"""The arena planner: the no-overlap invariant on random and real lifetimes, in-place pairs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tt_host.compiler import PlanError, PlanOptions, load_scheme
from tt_host.compiler.memory import (
    ALIGN,
    Interval,
    Placed,
    Plan,
    check,
    place,
    plan_schedule,
)
from tt_host.compiler.schedule import build_schedule

from .conftest import MODEL_NAMES, SCHEME_100KB


@st.composite
def lifetimes(draw):
    n_ops = draw(st.integers(1, 30))
    out = []
    for i in range(draw(st.integers(1, 40))):
        a = draw(st.integers(0, n_ops - 1))
        b = draw(st.integers(a, n_ops - 1))
        out.append(Interval(f"b{i}", draw(st.integers(0, 5000)), a, b))
    return out


def _max_live(intervals) -> int:
    n_ops = max(iv.last for iv in intervals) + 1
    return max(sum(-(-iv.size // ALIGN) * ALIGN for iv in intervals if iv.first <= t <= iv.last) for t in range(n_ops))


@settings(max_examples=150, deadline=None)
@given(lifetimes())
def test_random_lifetimes_never_overlap(intervals):
    plan = place(intervals)
    check(plan)
    assert {p.interval.name for p in plan.placed} == {iv.name for iv in intervals}
    assert all(p.offset % ALIGN == 0 for p in plan.placed)
    # No plan can beat the most bytes live at once; greedy stays within 2x of it here.
    assert _max_live(intervals) <= plan.peak <= 2 * _max_live(intervals)


@settings(max_examples=100, deadline=None)
@given(lifetimes(), st.data())
def test_random_inplace_pairs(intervals, data):
    """Chains of hand-overs (a dies at op t, b is born at op t) share one offset."""
    by_end = {}
    for iv in intervals:
        by_end.setdefault(iv.last, []).append(iv)
    pairs = set()
    used = set()
    for iv in intervals:
        for other in by_end.get(iv.first, []):
            if other.name != iv.name and other.name not in used and iv.name not in used and data.draw(st.booleans()):
                pairs.add((iv.name, other.name, iv.first))
                used |= {iv.name, other.name}
    plan = place(intervals, pairs)
    check(plan)
    offsets = {p.interval.name: p.offset for p in plan.placed}
    for a, b, _ in pairs:
        assert offsets[a] == offsets[b]


def test_check_catches_overlap():
    a, b = Interval("a", 16, 0, 3), Interval("b", 16, 2, 5)
    with pytest.raises(PlanError, match="a .* overlaps b"):
        check(Plan((Placed(a, 0), Placed(b, 8)), frozenset(), 6))
    check(Plan((Placed(a, 0), Placed(b, 16)), frozenset(), 6))
    with pytest.raises(PlanError, match="not a multiple"):
        check(Plan((Placed(a, 4),), frozenset(), 6))
    # A hand-over is legal only at its op.
    c = Interval("c", 16, 3, 5)
    check(Plan((Placed(a, 0), Placed(c, 0)), frozenset({("c", "a", 3)}), 6))
    with pytest.raises(PlanError):
        check(Plan((Placed(a, 0), Placed(b, 0)), frozenset({("b", "a", 3)}), 6))


def test_best_fit_reuses_the_tightest_gap():
    ivs = [Interval("big", 100, 0, 1), Interval("mid", 40, 0, 3), Interval("late", 96, 2, 3)]
    plan = place(ivs)
    check(plan)
    assert plan.peak == 144  # "late" reuses the bytes "big" freed


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shared_model_plans(shared_dir, shared_graphs, name):
    g = shared_graphs[name]
    scheme = load_scheme(shared_dir / "schemes" / f"{SCHEME_100KB[name]}.json", g)
    for opts in (PlanOptions.layer_by_layer(), PlanOptions.layer_by_layer(fuse_blocks="auto", inplace_kernels=True)):
        plan = plan_schedule(build_schedule(g, scheme, opts))  # checks the invariant
        assert plan.peak >= max(row["live_bytes"] for row in plan.timeline())


def test_fused_block_writes_over_its_input(tiny_graph):
    s = build_schedule(tiny_graph, load_scheme("last-layer", tiny_graph), PlanOptions.layer_by_layer(fuse_blocks="all"))
    plan = plan_schedule(s)
    off = plan.by_name()
    block = next(op for op in s.ops if op.kind == "fused_block")
    (out, x), = block.inplace  # a residual block with pw1: tt_irb_fwd_s8_can_alias()
    assert off[out].offset == off[x].offset
