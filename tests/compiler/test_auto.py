"""``--scheme auto``: Fisher terms, rankings, and a greedy selection judged by the planner itself."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tt_host.compiler import (
    CompileError,
    PlanBudgetExceeded,
    PlanOptions,
    compile_model,
    load_graph,
    load_scheme,
)
from tt_host.compiler import auto as A
from tt_host.compiler import head as H
from tt_host.compiler import simulate as S
from tt_host.compiler.blob import serialize
from tt_host.compiler.lowering import TrainParams
from tt_host.compiler.report import FIRMWARE_MEASURED
from tt_host.paths import REPO_ROOT

from .conftest import MODEL_NAMES, SCHEME_100KB, model_path

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
SAMPLES = REPO_ROOT / "examples" / "camera_samples"
DEMO_SCHEME = {"n_bias_update": 6, "manual_weight_idx": [9, 10, 11], "weight_update_ratio": [0.5, 0.25, 1]}
OPTS = PlanOptions.layer_by_layer(fuse_blocks="auto", inplace_kernels=True, streamed_updates=True)


@pytest.fixture(scope="module")
def demo():
    """The demo backbone with a head imprinted from a few camera samples, and those samples."""
    g = load_graph(DEMO)
    images, labels, names = H.load_samples(SAMPLES, g.tensors[g.input].shape)
    pick = np.concatenate([np.flatnonzero(labels == c)[:4] for c in range(len(names))])
    return H.imprint(g, images[pick], labels[pick], names), images[pick], labels[pick]


def test_fisher_terms_are_per_channel_and_nonnegative(demo):
    g, images, labels = demo
    f = A.fisher_information(g, images, labels)
    assert f.n_samples == len(images)
    for conv in g.convs():
        terms = f.activation[conv.output]
        assert terms.shape == (g.tensors[conv.output].channels,) and np.all(terms >= 0)
        assert f.bias[conv.index].shape == (conv.out_channels,)
    assert sum(float(np.sum(t)) for t in f.activation.values()) > 0
    r = A.fisher_ranking(g, f, OPTS)
    assert sorted(r.weight_layers) == list(range(len(g.convs())))
    assert all(r.scores[a] >= r.scores[b] for a, b in itertools.pairwise(r.weight_layers))
    for conv in g.convs():  # channels best first, by the input tensor's own Fisher terms
        terms = f.activation.get(conv.inputs[0])
        if terms is not None:
            order = r.channels[conv.conv_index]
            assert all(terms[a] >= terms[b] for a, b in itertools.pairwise(order))


def test_zero_head_uses_an_imprinted_probe(demo):
    """A zero-initialised head passes no gradient back; the Fisher pass imprints one."""
    g, images, labels = demo
    zero = g.with_classes(g.n_classes, g.labels)
    assert not np.any(A.fisher_information(zero, images, labels).activation[zero.convs()[-1].output])
    s = A.auto_scheme(zero, 40 * 1024, (images, labels), options=OPTS, firmware=FIRMWARE_MEASURED)
    assert s.info["method"] == "fisher"


def test_contribution_ranking_prefers_late_first_pointwise(demo):
    g = demo[0]
    r = A.contribution_ranking(g)
    pw1 = [c.conv_index for c in g.convs() if A._first_pointwise(g, c)]
    assert list(r.weight_layers[:len(pw1)]) == sorted(pw1, reverse=True)
    assert list(r.bias_layers) == sorted(r.bias_layers, reverse=True)


@pytest.mark.parametrize("with_samples", [False, True])
def test_auto_fits_and_beats_the_hand_scheme(demo, with_samples):
    """At the budget the hand-made scheme needs, auto fits and trains at least as many parameters."""
    g, images, labels = demo
    hand = compile_model(g, DEMO_SCHEME, options=OPTS, firmware=FIRMWARE_MEASURED)
    budget = hand.peak_sram_bytes
    c = compile_model(g, "auto", budget, OPTS, firmware=FIRMWARE_MEASURED,
                      samples=(images, labels) if with_samples else None)
    assert c.peak_sram_bytes <= budget
    assert c.scheme.info["peak_sram_bytes"] == c.peak_sram_bytes  # the selection's number is the planner's
    assert c.report["scheme"]["selection"]["method"] == ("fisher" if with_samples else "contribution")
    assert c.report["trainable_params"] >= hand.report["trainable_params"]


def test_paper_ranks_by_contribution_whatever_the_samples(demo):
    """``--scheme paper`` is the selection of ``auto`` without samples, samples or not."""
    g, images, labels = demo
    budget = 40 * 1024
    paper = compile_model(g, "paper", budget, OPTS, firmware=FIRMWARE_MEASURED, samples=(images, labels))
    blind = compile_model(g, "auto", budget, OPTS, firmware=FIRMWARE_MEASURED)
    assert paper.scheme.name == "paper" and paper.report["scheme"]["selection"]["method"] == "contribution"
    assert (paper.scheme.bias, paper.scheme.weights) == (blind.scheme.bias, blind.scheme.weights)
    with pytest.raises(CompileError, match="budget"):
        compile_model(g, "paper", None, OPTS)


def test_auto_scheme_trains_bit_exactly(demo):
    g, images, labels = demo
    c = compile_model(g, "auto", 40 * 1024, OPTS, firmware=FIRMWARE_MEASURED, samples=(images, labels))
    train = TrainParams(lr=0.05, seed=3)
    b = serialize(c.schedule, c.plan, train)
    planned, unplanned = S.planned(b.plan, b.weights), S.unplanned(c, train)
    for x, y in zip(images[:3], labels[:3]):
        assert planned.step(x, int(y)) == unplanned.step(x, int(y))
    pa, pb = planned.parameters(), unplanned.parameters()
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_budgets_are_respected_and_too_small_names_the_minimum(demo):
    g = demo[0]
    with pytest.raises(PlanBudgetExceeded, match="smallest feasible budget is") as exc:
        compile_model(g, "auto", 1024, OPTS, firmware=FIRMWARE_MEASURED)
    need = int(str(exc.value).split("budget is ")[1].split(" bytes")[0])
    assert compile_model(g, "auto", need, OPTS, firmware=FIRMWARE_MEASURED).peak_sram_bytes <= need
    free = compile_model(g, "auto", 64 * 1024, OPTS, firmware=FIRMWARE_MEASURED)
    cap = free.report["macs_backward"] // 3
    tight = compile_model(g, "auto", 64 * 1024, OPTS, firmware=FIRMWARE_MEASURED, macs_budget=cap)
    assert tight.report["macs_backward"] <= cap


def test_published_form_round_trips(demo):
    g = demo[0]
    s = compile_model(g, "auto", 40 * 1024, OPTS, firmware=FIRMWARE_MEASURED).scheme
    assert load_scheme(s.to_published(g), g).key == s.key


@pytest.mark.parametrize("with_samples", [False, True], ids=["contribution", "fisher"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shared_models_auto_at_the_published_budget(shared_dir, name, with_samples):
    """At the peak the published ~100 KB scheme needs, auto trains at least as many parameters
    (the issue's goal), with the contribution ranking and with the Fisher criterion on a few
    camera samples (head imprinted from them)."""
    g = load_graph(model_path(shared_dir, name))
    samples = None
    if with_samples:
        images, labels, names = H.load_samples(SAMPLES, g.tensors[g.input].shape)
        pick = np.concatenate([np.flatnonzero(labels == c)[:2] for c in range(len(names))])
        samples = (images[pick], labels[pick])
        g = H.imprint(g, *samples, names)
    else:
        g = g.with_classes(10)
    published = compile_model(g, shared_dir / "schemes" / f"{SCHEME_100KB[name]}.json", options=OPTS,
                              firmware=FIRMWARE_MEASURED)
    c = compile_model(g, "auto", published.peak_sram_bytes, OPTS, firmware=FIRMWARE_MEASURED, samples=samples)
    assert c.peak_sram_bytes <= published.peak_sram_bytes
    assert c.report["trainable_params"] >= published.report["trainable_params"]


@pytest.mark.parametrize("scheme", ["paper", "auto"])
def test_the_choice_fits_the_parameter_store(demo, scheme):
    """``commit_bytes`` is what the device's COMMIT stores (count + parameter image), and
    `paper` / `auto` choose within ``store_budget`` as they do within the SRAM budget."""
    from tt_host import native
    from tt_host.compiler import StoreBudgetExceeded
    from tt_host.compiler.blob import package

    graph, images, labels = demo
    samples = (images, labels)
    unbounded = compile_model(graph, scheme, 200 * 1024, samples=samples).report["commit_bytes"]
    for store in (2_000, 8_000):
        c = compile_model(graph, scheme, 200 * 1024, samples=samples, store_budget=store)
        assert c.report["commit_bytes"] <= store < unbounded
        assert c.scheme.info["store_budget"] == store
        b = serialize(c.schedule, c.plan)
        ex = native.Executor(c.report["arena_bytes"])
        assert ex.load(package(b.plan, b.weights))[0] == 0
        assert c.report["commit_bytes"] == 4 + len(ex.params())
    with pytest.raises(StoreBudgetExceeded, match="classifier alone"):
        compile_model(graph, scheme, 200 * 1024, samples=samples, store_budget=100)
