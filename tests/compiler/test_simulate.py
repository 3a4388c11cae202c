"""The plan changes where tensors live, never what is computed: training through the planned
arena (decoded from the blobs alone) gives bit-identical parameters to the same ops on
separate arrays; fusion and in-place options change nothing either; an overlap would show."""

from __future__ import annotations

import numpy as np
import pytest
from tt_host.compiler import PlanOptions, compile_model
from tt_host.compiler import simulate as S
from tt_host.compiler.blob import serialize
from tt_host.compiler.lowering import TrainParams
from tt_host.compiler.memory import Placed, Plan, PlanError, check
from tt_host.paths import REPO_ROOT
from tt_protocol import plan as P

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
#: Biases of the last 6 convs, b3.pw2 half its channels, b4.pw1 a quarter, b4.dw all (conv 11).
DEMO_SCHEME = {"n_bias_update": 6, "manual_weight_idx": [9, 10, 11], "weight_update_ratio": [0.5, 0.25, 1]}
TRAIN = TrainParams(lr=0.05, seed=7)


def _samples(graph, n, seed=0):
    rng = np.random.default_rng(seed)
    shape = graph.tensors[graph.input].shape
    return [(rng.integers(-128, 128, shape).astype(np.int8), int(rng.integers(0, graph.n_classes))) for _ in range(n)]


def _train(machine, samples):
    return [machine.step(x, y) for x, y in samples]


def _same_parameters(a, b):
    pa, pb = a.parameters(), b.parameters()
    assert pa.keys() == pb.keys()
    for k in pa:
        assert np.array_equal(pa[k], pb[k]), f"layer {k}: {np.flatnonzero(pa[k] != pb[k])[:10]}"


CASES = [
    ("demo", DEMO_SCHEME, {}),
    ("demo", "full", {"streamed_updates": True}),
    ("demo", DEMO_SCHEME, {"fuse_blocks": "all", "inplace_kernels": True, "streamed_updates": True}),
    ("tiny", "bias-only", {}),
    ("tiny", {"n_bias_update": 2, "manual_weight_idx": [0, 2], "weight_update_ratio": [0.5, 0.25]}, {"inplace_kernels": True}),
    ("tiny", "last-layer", {"fuse_blocks": "all", "inplace_kernels": True}),
    # The first conv runs as the fused expansion of the block after it (a CONV2D expansion).
    ("stem", {"n_bias_update": 2, "manual_weight_idx": [3, 4], "weight_update_ratio": [0.5, 0.5]},
     {"fuse_blocks": "all", "inplace_kernels": True, "streamed_updates": True}),
    ("stem", "last-layer", {"fuse_blocks": "auto", "inplace_kernels": True}),
]


def _graph(model, tiny_graph, stem_graph):
    return {"demo": DEMO, "tiny": tiny_graph, "stem": stem_graph}[model]


@pytest.mark.parametrize(("model", "scheme", "opts"), CASES)
def test_planned_equals_unplanned(tiny_graph, stem_graph, model, scheme, opts):
    c = compile_model(_graph(model, tiny_graph, stem_graph), scheme, options=PlanOptions.layer_by_layer(**opts))
    if model == "stem" and opts.get("fuse_blocks") == "all":
        assert c.schedule.blocks[0].pw1 == c.graph.conv(0).index, "the first conv is not the fused expansion"
    b = serialize(c.schedule, c.plan, TRAIN)
    planned = S.planned(b.plan, b.weights)
    unplanned = S.unplanned(c, TRAIN)
    before = unplanned.parameters()
    samples = _samples(c.graph, 4)
    assert _train(planned, samples) == _train(unplanned, samples)
    _same_parameters(planned, unplanned)
    after = unplanned.parameters()
    assert any(not np.array_equal(before[k], after[k]) for k in before), "training changed nothing"


def test_options_change_memory_not_arithmetic():
    """Fused blocks, in-place kernels and streamed updates train the same bits."""
    samples = _samples(compile_model(DEMO, "last-layer").graph, 3, seed=1)
    results = []
    for opts in ({}, {"fuse_blocks": "all", "inplace_kernels": True, "streamed_updates": True}):
        c = compile_model(DEMO, "last-layer", options=PlanOptions.layer_by_layer(**opts))
        b = serialize(c.schedule, c.plan, TRAIN)
        m = S.planned(b.plan, b.weights)
        results.append((_train(m, samples), m.parameters(), c.plan.peak))
    assert results[0][0] == results[1][0]
    assert all(np.array_equal(results[0][1][k], results[1][1][k]) for k in results[0][1])
    assert results[1][2] < results[0][2]


def _overlapping_mutation(c, b):
    """Move a mask (kept from the forward to the backward) onto an activation written while it lives."""
    placed = c.plan.by_name()
    pairs = [(m, p) for m in placed.values() if m.interval.name.startswith("mask:")
             for p in sorted(placed.values(), key=lambda q: q.interval.first)
             if p.interval.name.startswith("act:") and m.interval.first < p.interval.first <= m.interval.last
             and p.interval.size >= m.interval.size]
    mask, victim = pairs[0]
    h = P.PlanHeader.parse(b.plan)
    rec = h.buffer_table_offset + b.buffer_ids[mask.interval.name] * P.BufferRecord.sizeof()
    blob = bytearray(b.plan)
    blob[rec:rec + 4] = victim.offset.to_bytes(4, "little")
    moved = Plan(tuple(Placed(p.interval, victim.offset if p is mask else p.offset) for p in c.plan.placed),
                 c.plan.shared, c.plan.n_ops)
    return bytes(P.seal(blob)), moved


def test_an_overlap_is_caught():
    c = compile_model(DEMO, DEMO_SCHEME)
    b = serialize(c.schedule, c.plan, TRAIN)
    blob, moved = _overlapping_mutation(c, b)
    with pytest.raises(PlanError):
        check(moved)  # the planner's invariant check sees it ...
    P.validate(blob, b.weights)  # ... the loader cannot (lifetimes are not its business) ...
    samples = _samples(c.graph, 2)
    good, bad = S.planned(b.plan, b.weights), S.planned(blob, b.weights)
    _train(good, samples)
    _train(bad, samples)
    pg, pb = good.parameters(), bad.parameters()
    assert any(not np.array_equal(pg[k], pb[k]) for k in pg)  # ... and training shows it.


def test_memory_plan_invariant_holds_for_every_case(tiny_graph, stem_graph):
    for model, scheme, opts in CASES:
        c = compile_model(_graph(model, tiny_graph, stem_graph), scheme, options=PlanOptions.layer_by_layer(**opts))
        check(c.plan)
