"""In place only where the peak needs it (:mod:`tt_host.compiler.inplace`): the peak never
grows, and the sites that do not need the slower in-place kernels run out of place."""

from __future__ import annotations

import pytest
from tt_host.compiler import PlanOptions, compile_model
from tt_host.paths import REPO_ROOT

from .conftest import SCHEME_100KB, model_path

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"


def _sites(compiled) -> set[tuple[str, int]]:
    return {(op.kind, op.layer) for op in compiled.schedule.ops if op.inplace and op.kind in ("fwd", "bwd_input")}


def _both(model, scheme, **kw):
    every = compile_model(model, scheme, options=PlanOptions(inplace_where_needed=False), **kw)
    needed = compile_model(model, scheme, options=PlanOptions(), **kw)
    return every, needed


@pytest.mark.parametrize("scheme", ["last-layer", "bias-only", "full"])
def test_demo_model_keeps_its_peak(scheme):
    every, needed = _both(DEMO, scheme, classes=4)
    assert needed.plan.peak <= every.plan.peak
    assert _sites(needed) <= _sites(every)


@pytest.mark.parametrize("name", ["mbv2-w0.35", "proxyless-w0.3"])
def test_shared_models_keep_a_few_sites_at_the_same_peak(shared_dir, name):
    path = model_path(shared_dir, name)
    every, needed = _both(path, shared_dir / "schemes" / f"{SCHEME_100KB[name]}.json", classes=10)
    assert needed.plan.peak <= every.plan.peak
    assert len(_sites(needed)) < len(_sites(every)) // 2  # 8 of 31 on both
