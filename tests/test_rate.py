"""``--lr auto`` (``tt_host.workflows.rate``): the trial of each candidate rate on the host executor, the
choice it makes, and its determinism (the same inputs compile the same plan, from the cache)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tt_host.workflows import provision, rate

from tt_host import recipe
from tt_host.workflows.cache import Cache
from tt_host.compiler import TrainParams, compile_model, load_graph, serialize
from tt_host.compiler import head as head_mod
from tt_host.errors import UsageError
from tt_host.paths import REPO_ROOT

pytestmark = pytest.mark.skipif(
    not shutil.which("cmake") or not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")),
    reason="the trial runs the host build of the executor: needs cmake and a C compiler (scripts/setup.sh)",
)

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
CAMERA = REPO_ROOT / "examples" / "camera_samples"


@pytest.fixture(scope="module")
def task():
    """The demo's new labels: 48 training and 16 held-out samples."""
    images, labels, names = head_mod.load_samples(CAMERA, (32, 32, 3))
    order = np.random.default_rng(5).permutation(len(labels))
    train, held = order[:48], order[48:64]
    return images[train], labels[train], (images[held], labels[held]), names


def test_lr_option_parses_auto_or_a_rate() -> None:
    assert rate.parse("auto") == rate.parse(" AUTO ") == "auto"
    assert rate.parse("0.01") == 0.01 and rate.parse(0.002) == 0.002
    for bad in ("fast", "0", "1.5", "-0.1"):
        with pytest.raises(ValueError, match="auto|learning rate"):
            rate.parse(bad)
    with pytest.raises(UsageError):
        provision.TrainingSetup(lr="fast")
    assert provision.TrainingSetup().lr == "auto"


def test_the_trial_keeps_the_candidate_with_the_lowest_held_out_loss(task) -> None:
    images, labels, held_out, names = task
    graph = head_mod.imprint(load_graph(DEMO), images, labels, names)
    compiled = compile_model(graph, "last-layer")
    seen = []

    def blobs_at(lr: float):
        seen.append(lr)
        return serialize(compiled.schedule, compiled.plan, TrainParams(lr=lr), compiled.scheme.name)

    choice = rate.choose(blobs_at, images, labels, held_out, seed=0)
    assert seen == [recipe.LR * f for f in rate.CANDIDATES] == [t.lr for t in choice.trials]
    usable = [t for t in choice.trials if not t.diverged and t.loss <= choice.start_loss]
    assert usable, "training the new head on its own samples lowers the held-out loss"
    best = min(usable, key=lambda t: (t.loss, t.lr))
    assert choice.lr == best.lr and all(0 <= t.accuracy <= 1 for t in choice.trials)
    assert "auto" in rate.describe(choice, choice.lr)


def test_auto_compiles_the_same_plan_again_from_the_cache(task, tmp_path, monkeypatch) -> None:
    images, labels, held_out, names = task
    head = provision.HeadChoice(True, tuple(names))
    cache = Cache(tmp_path)
    setup = provision.TrainingSetup(scheme="last-layer")
    plan, _, report = provision.compile_plan(DEMO, head, images, labels, setup, None, held_out, cache)
    auto = report["train"]["lr_auto"]
    assert auto is not None and report["train"]["lr"] == auto["lr"]

    def no_trial(*args, **kwargs):
        raise AssertionError("the trial ran again")

    monkeypatch.setattr(rate, "choose", no_trial)
    again, _, _ = provision.compile_plan(DEMO, head, images, labels, setup, None, held_out, cache)
    assert again == plan
    # A number skips the trial; no held-out samples means the recipe's rate.
    _, _, fixed = provision.compile_plan(DEMO, head, images, labels, provision.TrainingSetup(scheme="last-layer",
                                                                                            lr=0.002), None)
    assert fixed["train"]["lr"] == 0.002 and fixed["train"]["lr_auto"] is None
    _, _, blind = provision.compile_plan(DEMO, head, images, labels, setup, None)
    assert blind["train"]["lr"] == recipe.LR
