"""The plan and weight blobs: validation, determinism, the corruption corpus, the C header."""

from __future__ import annotations

import pytest
from tt_host.compiler import PlanOptions, compile_model
from tt_host.compiler.blob import serialize
from tt_host.paths import REPO_ROOT
from tt_protocol import plan as P

from .conftest import SCHEME_100KB, model_path

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"


def _blobs(model, scheme, **opts):
    c = compile_model(model, scheme, options=PlanOptions.layer_by_layer(**opts))
    return c, serialize(c.schedule, c.plan)


@pytest.mark.parametrize("scheme", ["last-layer", "bias-only", "full"])
def test_demo_plans_validate(scheme):
    c, b = _blobs(DEMO, scheme, fuse_blocks="auto", streamed_updates=True)
    v = P.validate(b.plan, b.weights, arena_limit=b_arena(b))
    h = v.header
    assert h.model_hash == c.graph.model_hash != bytes(32)
    assert h.plan_hash == b.plan_hash == P.plan_hash(b.plan, b.weights)
    assert (h.input_h, h.input_w, h.input_c, h.n_classes) == (32, 32, 3, 6)
    assert h.arena_bytes >= c.plan.peak and h.arena_bytes % 8 == 0
    kinds = [P.OpKind(op.kind) for op in v.ops]
    assert kinds.count(P.OpKind.INPUT) == kinds.count(P.OpKind.LOSS) == 1
    n_params = sum(1 for b_ in c.schedule.buffers.values() if b_.persistent)
    assert sum(k in (P.OpKind.LOAD_WEIGHTS, P.OpKind.LOAD_BIAS) for k in kinds) == n_params


def b_arena(b):
    return P.PlanHeader.parse(b.plan).arena_bytes


def test_blobs_are_deterministic(tiny_graph):
    scheme = {"n_bias_update": 2, "manual_weight_idx": [1], "weight_update_ratio": [0.5]}
    one = _blobs(DEMO, scheme)[1]
    two = _blobs(DEMO, scheme)[1]
    assert one.plan == two.plan and one.weights == two.weights
    other = _blobs(DEMO, {**scheme, "n_bias_update": 3})[1]
    assert other.plan_hash != one.plan_hash and other.weights == one.weights


def test_corruption_corpus_is_rejected_with_the_expected_check():
    _, b = _blobs(DEMO, {"n_bias_update": 4, "manual_weight_idx": [10], "weight_update_ratio": [0.25]})
    corpus = P.corruptions(b.plan, b.weights)
    assert len({c.expected for c in corpus}) >= 14
    for c in corpus:
        with pytest.raises(P.PlanInvalid) as err:
            P.validate(c.plan, c.weights, c.arena_limit)
        assert err.value.check == c.expected, f"{c.name}: {err.value}"


def test_corpus_of_a_fused_stem_plan(stem_graph):
    """A fused block whose expansion is the first conv (CONV2D) validates; pointing its
    expansion at a depthwise is refused (the corpus case exists only for such plans)."""
    scheme = {"n_bias_update": 2, "manual_weight_idx": [3, 4], "weight_update_ratio": [0.5, 0.5]}
    c, b = _blobs(stem_graph, scheme, fuse_blocks="all", inplace_kernels=True)
    assert c.schedule.blocks[0].pw1 == stem_graph.conv(0).index
    P.validate(b.plan, b.weights)
    corpus = {x.name: x for x in P.corruptions(b.plan, b.weights)}
    assert "fused_expansion_not_a_conv" in corpus
    for x in corpus.values():
        with pytest.raises(P.PlanInvalid) as err:
            P.validate(x.plan, x.weights, x.arena_limit)
        assert err.value.check == x.expected, f"{x.name}: {err.value}"
    _, plain = _blobs(DEMO, "last-layer")
    assert "fused_expansion_not_a_conv" not in {x.name for x in P.corruptions(plain.plan, plain.weights)}


def test_weights_blob_lists_every_parameter_tensor():
    c, b = _blobs(DEMO, "last-layer")
    h = P.validate_weights(b.weights)
    records = [P.TensorRecord.parse(b.weights[h.table_offset + i * P.TensorRecord.sizeof():]) for i in range(h.n_tensors)]
    layers = [layer for layer in c.graph.layers if layer.has_params]
    assert h.n_tensors == 2 * len(layers)
    assert {r.tflite_tensor for r in records} == {t for la in layers for t in (la.weight_tensor, la.bias_tensor)}
    assert len(b.weights) - h.data_offset >= c.graph.param_bytes


@pytest.mark.models
@pytest.mark.parametrize("name", list(SCHEME_100KB))
def test_shared_models_serialize(shared_dir, name):
    _, b = _blobs(model_path(shared_dir, name), shared_dir / "schemes" / f"{SCHEME_100KB[name]}.json",
                  fuse_blocks="auto", inplace_kernels=True, streamed_updates=True)
    P.validate(b.plan, b.weights)
    assert len(b.plan) < 256 * 1024
