"""The budget's room spent on speed (:mod:`tt_host.compiler.speed`): with a budget, the in-place
kernels and recomputed masks the budget has room for are undone; without one, or with
``speed_within_budget=False``, the plan stays the smallest; training is bit-identical either way."""

from __future__ import annotations

import numpy as np
import pytest
from tt_host.compiler import PlanOptions, TrainParams, compile_model, serialize
from tt_host.compiler import simulate as S
from tt_host.compiler.speed import inplace_sites

from .conftest import SCHEME_100KB, model_path


def _variants(compiled) -> tuple[int, int]:
    """(in-place kernel sites, recomputed layers) the plan runs."""
    recomputed = sum(1 for op in compiled.schedule.ops if op.kind == "recompute")
    return len(inplace_sites(compiled.schedule)), recomputed


@pytest.mark.parametrize("name", ["mbv2-w0.35", "proxyless-w0.3"])
def test_the_budget_buys_speed_and_never_more_than_it_has(shared_dir, name):
    path, scheme = model_path(shared_dir, name), shared_dir / "schemes" / f"{SCHEME_100KB[name]}.json"
    smallest = compile_model(path, scheme, classes=10)
    assert all(_variants(smallest)), "the smallest plan of a published scheme uses both variants"
    roomy = compile_model(path, scheme, 224 * 1024, classes=10)
    assert _variants(roomy) == (0, 0) and smallest.peak_sram_bytes < roomy.peak_sram_bytes <= 224 * 1024
    assert roomy.schedule.unfused and len(roomy.schedule.blocks) < len(smallest.schedule.blocks)
    tight = compile_model(path, scheme, smallest.peak_sram_bytes, classes=10)
    # At the smallest plan's own peak only variants the peak never needed may go (the in-place
    # pruning is a heuristic).
    assert tight.peak_sram_bytes == smallest.peak_sram_bytes
    middle = (smallest.peak_sram_bytes + roomy.peak_sram_bytes) // 2
    between = compile_model(path, scheme, middle, classes=10)
    assert smallest.peak_sram_bytes < between.peak_sram_bytes <= middle, "half the room is spent, no more"
    kept = compile_model(path, scheme, 224 * 1024, classes=10, options=PlanOptions(speed_within_budget=False))
    assert kept.peak_sram_bytes == smallest.peak_sram_bytes


def test_the_fastest_plan_trains_the_same_bits(tiny_graph):
    """Every variant (every legal site in place, every eligible block recomputed) against none."""
    graph = tiny_graph.with_classes(3)
    scheme = {"n_bias_update": 4, "manual_weight_idx": [1], "weight_update_ratio": [1]}
    rng = np.random.default_rng(7)
    samples = [(rng.integers(-128, 128, (16, 16, 3)).astype(np.int8), int(rng.integers(0, 3))) for _ in range(4)]
    everything = PlanOptions.layer_by_layer(inplace_kernels=True, recompute_masks=True)
    smallest = compile_model(graph, scheme, options=everything)
    fastest = compile_model(graph, scheme, 1 << 20, options=everything)
    assert sum(_variants(smallest)) > 0 and _variants(fastest) == (0, 0)
    # A frozen block fused (only the classifier trains), then run layer by layer.
    fused = PlanOptions.layer_by_layer(fuse_blocks="all")
    assert compile_model(graph, "last-layer", options=fused).schedule.blocks
    unfused = compile_model(graph, "last-layer", 1 << 20, options=fused)
    assert unfused.schedule.unfused and not unfused.schedule.blocks
    runs = []
    for compiled in (smallest, fastest, compile_model(graph, "last-layer", options=fused), unfused):
        blobs = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.1, seed=3))
        machine = S.planned(blobs.plan, blobs.weights)
        runs.append(([machine.step(x, y) for x, y in samples], machine.parameters()))
    for (res_a, par_a), (res_b, par_b) in (runs[:2], runs[2:]):
        assert res_a == res_b
        assert par_a.keys() == par_b.keys() and all(np.array_equal(par_a[k], par_b[k]) for k in par_a)
