"""Masks recomputed in the backward (``PlanOptions.recompute_masks``, :mod:`tt_host.compiler.recompute`):
the expansion and depthwise of a block whose input the backward keeps anyway run forward again
at the start of the block's backward, so their masks live for that block's backward only;
training is bit-identical."""

from __future__ import annotations

import numpy as np
import pytest
from tt_host.compiler import PlanOptions, TrainParams, compile_model, load_scheme, serialize
from tt_host.compiler import simulate as S
from tt_host.compiler.memory import plan_schedule
from tt_host.compiler.blocks import find_blocks
from tt_host.compiler.schedule import build_schedule

from .conftest import SCHEME_100KB, model_path

#: The tiny model's pw1 (conv 1) trains weights on every input channel: its input is kept.
KEPT_INPUT = {"n_bias_update": 4, "manual_weight_idx": [1], "weight_update_ratio": [1]}
#: ... on half of them: a compact copy is saved, the block cannot run again.
COMPACT_INPUT = {"n_bias_update": 4, "manual_weight_idx": [1], "weight_update_ratio": [0.5]}


def _sched(graph, scheme, recompute: bool):
    return build_schedule(graph, load_scheme(scheme, graph), PlanOptions.layer_by_layer(recompute_masks=recompute))


def test_masks_are_rebuilt_at_the_start_of_the_blocks_backward(tiny_graph):
    s = _sched(tiny_graph, KEPT_INPUT, True)
    (block,) = find_blocks(tiny_graph)
    assert s.recomputed == (block,)
    layers = set(block.layers)
    masks = {f"mask:{block.pw1}", f"mask:{block.dw}"}
    for op in s.ops:
        if op.phase == "forward" and op.layer in layers:
            assert not masks & set(op.writes), f"the forward op {op.index} still writes a mask"
    rebuilt = [op for op in s.ops if op.kind == "recompute"]
    assert [op.layer for op in rebuilt] == [block.pw1, block.dw] and all(op.phase == "backward" for op in rebuilt)
    assert masks == {w for op in rebuilt for w in op.writes if w.startswith("mask:")}
    assert f"mask:{block.pw2}" in s.buffers, "the projection's mask is kept from the forward"
    first_block_bwd = min(op.index for op in s.ops if op.phase == "backward" and op.layer in layers and op.kind != "recompute")
    assert max(op.index for op in rebuilt) < first_block_bwd, "a recompute runs after the block's backward began"
    # The recompute reads the block input the pw1 weight gradient keeps, not a copy.
    x = tiny_graph.layers[block.pw1].inputs[0]
    assert rebuilt[0].reads[0] == f"act:{x}"
    # Same backward otherwise: every mask is applied once, as without recomputing.
    plain = _sched(tiny_graph, KEPT_INPUT, False)
    kinds = lambda sched: [(op.kind, op.layer) for op in sched.ops if op.phase == "backward" and op.kind != "recompute"]
    assert kinds(s) == kinds(plain)


def test_no_recompute_without_the_whole_input(tiny_graph):
    assert _sched(tiny_graph, COMPACT_INPUT, True).recomputed == ()
    assert _sched(tiny_graph, "bias-only", True).recomputed == ()


def test_recomputed_masks_train_the_same_bits(tiny_graph):
    """Every block recomputed (no where-needed pruning) against masks kept from the forward."""
    graph = tiny_graph.with_classes(3)
    rng = np.random.default_rng(5)
    samples = [(rng.integers(-128, 128, (16, 16, 3)).astype(np.int8), int(rng.integers(0, 3))) for _ in range(4)]
    runs = []
    for recompute in (False, True):
        schedule = _sched(graph, KEPT_INPUT, recompute)
        b = serialize(schedule, plan_schedule(schedule), TrainParams(lr=0.1, seed=3))
        machine = S.planned(b.plan, b.weights)
        runs.append(([machine.step(x, y) for x, y in samples], machine.parameters()))
    (res_a, par_a), (res_b, par_b) = runs
    assert res_a == res_b
    assert par_a.keys() == par_b.keys() and all(np.array_equal(par_a[k], par_b[k]) for k in par_a)


@pytest.mark.parametrize("name", ["mbv2-w0.35", "proxyless-w0.3", "mcunet-5fps"])
def test_shared_models_recompute_where_the_peak_needs_it(shared_dir, name):
    path, scheme = model_path(shared_dir, name), shared_dir / "schemes" / f"{SCHEME_100KB[name]}.json"
    kept = compile_model(path, scheme, classes=10, options=PlanOptions(recompute_masks=False))
    rebuilt = compile_model(path, scheme, classes=10)
    every = build_schedule(rebuilt.graph, rebuilt.scheme, PlanOptions())
    assert rebuilt.schedule.recomputed and set(rebuilt.schedule.recomputed) <= set(every.recomputed)
    assert rebuilt.plan.peak <= plan_schedule(every).peak
    # 144,044 -> 133,612 B (mbv2), 138,244 -> 136,596 (proxyless), 150,444 -> 145,612 (mcunet)
    assert rebuilt.peak_sram_bytes < kept.peak_sram_bytes - 1024
