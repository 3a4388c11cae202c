"""The C plan executor (firmware/src/executor.c) against the numpy reference executor.

For compiled plans of the demo model (several schemes and plan options), a tiny random model
and, when present, a shared model, N real samples are trained through the C executor (ctypes,
host build) and through ``tt_host.compiler.simulate.planned``; after every step the loss,
prediction, parameter image (trained slices, biases and PRNG counter) and the arena contents
(every byte no kernel scratch ever covers) must be identical. The loader's refusals are checked
on the current compiler's corruption corpus; the C unit test (firmware/tests/test_executor.c)
covers the committed corpus, fuzzing and restore under the sanitizers.
"""

from __future__ import annotations


import numpy as np
import pytest
from tt_protocol import plan as P
from tt_protocol.status import Status

from tt_host import native
from tt_host.tooling.boards import resolve as resolve_board
from tt_host.compiler import PlanOptions, TrainParams, compile_model, import_model, load_graph, load_scheme, serialize
from tt_host.compiler import deltas as D
from tt_host.compiler import simulate
from tt_host.compiler.blob import package
from tt_host.compiler.memory import plan_schedule
from tt_host.compiler.schedule import build_schedule
from tt_host.paths import REPO_ROOT, SHARED_DIR
from tt_host.reference.update import SCALE_ONE
from tt_host.workflows.samples import load_input

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
SAMPLES = REPO_ROOT / "examples" / "camera_samples"
SPARSE = {"name": "sparse", "n_bias_update": 3, "manual_weight_idx": [2, 4], "weight_update_ratio": [0.5, 0.25]}
EXPLICIT = {"name": "explicit", "n_bias_update": 5, "manual_weight_idx": [0, 3, 5],
            "weight_update_ratio": [1, 0.5, 0.25], "weight_channels": {"3": [1, 5, 2, 7], "5": [0, 9]}}


def _images(shape, n: int) -> list[tuple[np.ndarray, int]]:
    """``n`` real samples (round-robin over the labels) converted to the model input."""
    folders = sorted(p for p in SAMPLES.iterdir() if p.is_dir())
    files = [sorted(f.glob("*.png")) for f in folders]
    return [(load_input(files[i % len(files)][i // len(files)], shape), i % len(files)) for i in range(n)]


def _scratch_mask(plan: bytes) -> np.ndarray:
    """Arena bytes some kernel scratch covers, and a streamed sample's row buffer (the reference
    scribbles there)."""
    v = P.validate(plan)
    mask = np.zeros(v.header.arena_bytes, bool)
    streamed = any(op.kind == P.OpKind.INPUT and op.flags & P.OpFlag.STREAMED for op in v.ops)
    for i, b in enumerate(v.buffers):
        if b.dtype == P.DType.BYTES or (streamed and i == v.header.input_buffer):
            mask[b.offset:b.offset + b.size] = True
    return mask


def _train_both(plan: bytes, weights: bytes, samples, labels_mod: int | None = None,
                chunk: int | None = None, lr_scales=None) -> native.Executor:
    ex = native.Executor(1 << 20)
    status, detail = ex.load(package(plan, weights))
    assert (status, detail) == (Status.OK, 0), f"load refused: {Status(status).name}, check {P.Check(detail).name}"
    ref = simulate.planned(plan, weights)
    h = P.validate(plan).header
    scratch = _scratch_mask(plan)
    assert D.parameters_from_image(plan, ex.params()).keys() == ref.parameters().keys()
    for step, (x, label) in enumerate(samples):
        label = label % (labels_mod or h.n_classes)
        scale = lr_scales[step % len(lr_scales)] if lr_scales else SCALE_ONE
        status, got = ex.step(x, label, chunk=chunk, lr_scale=scale)
        want = ref.step(x, label, lr_scale=scale)
        assert status == want.status, step
        if status == Status.DIVERGED:
            assert ex.diverged and ref.diverged
            continue
        assert (got.loss, got.predicted, got.correct, got.skipped) == (np.float32(want.loss), want.predicted,
                                                                       want.correct, want.skipped), step
        image = ex.params()
        assert D.image_prng_counter(image) == ref.rng.counter, step
        for key, values in ref.parameters().items():
            np.testing.assert_array_equal(D.parameters_from_image(plan, image)[key], values, err_msg=f"{key} step {step}")
        c_arena = ex.arena[:h.arena_bytes]
        py_arena = np.frombuffer(bytes(ref.store.arena), np.uint8)
        diff = np.flatnonzero((c_arena != py_arena) & ~scratch)
        assert diff.size == 0, f"step {step}: arena differs at {diff[:8]} ({diff.size} bytes)"
    return ex


DEMO_CASES = {
    "last-layer": ("last-layer", PlanOptions.layer_by_layer()),
    "bias-only": ("bias-only", PlanOptions.layer_by_layer()),
    "full": ("full", PlanOptions.layer_by_layer()),
    "full-fused-inplace-streamed": ("full", PlanOptions.layer_by_layer(fuse_blocks="all", inplace_kernels=True, streamed_updates=True)),
    "sparse": (SPARSE, PlanOptions.layer_by_layer()),
    "sparse-streamed": (SPARSE, PlanOptions.layer_by_layer(streamed_updates=True)),
    "explicit-channels-relu-masks": (EXPLICIT, PlanOptions.layer_by_layer(mask_policy="relu", exact_gradients=False)),
    "last-layer-fused-inplace": ("last-layer", PlanOptions.layer_by_layer(fuse_blocks="all", inplace_kernels=True)),
}


@pytest.mark.parametrize("case", list(DEMO_CASES))
def test_demo_model_bit_exact(case):
    scheme, options = DEMO_CASES[case]
    compiled = compile_model(DEMO, scheme, options=options)
    b = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.05, seed=11), compiled.scheme.name)
    h = P.validate(b.plan).header
    _train_both(b.plan, b.weights, _images((h.input_h, h.input_w, h.input_c), 4))


@pytest.fixture(scope="module")
def tiny_graph():
    from compiler.builders import inverted_bottleneck_model
    from tt_host.tflite import load

    return import_model(load(inverted_bottleneck_model(seed=3)), "tiny")


@pytest.fixture(scope="module")
def stem_graph():
    """The tiny model with a block without expansion after its first conv: fused, that conv
    is the block's expansion (a CONV2D in the FUSED block)."""
    from compiler.builders import inverted_bottleneck_model
    from tt_host.tflite import load

    return import_model(load(inverted_bottleneck_model(seed=4, stem_block=True)), "stem")


@pytest.mark.parametrize("options", [PlanOptions.layer_by_layer(), PlanOptions.layer_by_layer(streamed_updates=True, inplace_kernels=True),
                                     PlanOptions.layer_by_layer(fuse_blocks="all", inplace_kernels=True)], ids=["plain", "streamed", "fused"])
def test_tiny_random_model_bit_exact(tiny_graph, options):
    graph = tiny_graph.with_classes(4, ("a", "b", "c", "d"))
    for scheme in ("full", {"n_bias_update": 2, "manual_weight_idx": [1, 2, 3], "weight_update_ratio": [0.25, 0.5, 1]}):
        compiled = compile_model(graph, scheme, options=options)
        b = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.1, seed=5), "tiny")
        _train_both(b.plan, b.weights, _images((16, 16, 3), 5))


@pytest.mark.parametrize("inplace", [False, True])
def test_recomputed_masks_bit_exact(tiny_graph, inplace):
    """The block's expansion and depthwise run forward again in the backward (RECOMPUTE ops),
    forced everywhere eligible, in place or not."""
    graph = tiny_graph.with_classes(4)
    scheme = load_scheme({"n_bias_update": 4, "manual_weight_idx": [1], "weight_update_ratio": [1]}, graph)
    schedule = build_schedule(graph, scheme, PlanOptions.layer_by_layer(recompute_masks=True, inplace_kernels=inplace))
    b = serialize(schedule, plan_schedule(schedule), TrainParams(lr=0.1, seed=9), "recompute")
    recomputed = [op for op in P.validate(b.plan).ops if op.flags & P.OpFlag.RECOMPUTE]
    assert [P.OpKind(op.kind) for op in recomputed] == [P.OpKind.PW_CONV2D, P.OpKind.DW_CONV2D]
    _train_both(b.plan, b.weights, _images((16, 16, 3), 4))


@pytest.mark.parametrize(("scheme", "options"), [
    ("bias-only", PlanOptions.layer_by_layer(inplace_kernels=True)),
    ({"n_bias_update": 2, "manual_weight_idx": [1, 2], "weight_update_ratio": [0.5, 0.5]},
     PlanOptions.layer_by_layer(inplace_kernels=True, exact_gradients=False)),
], ids=["frozen", "stale-weights"])
def test_inplace_depthwise_input_gradient_bit_exact(tiny_graph, scheme, options):
    """dX written over dY (tt_dw_conv2d_bwd_input_inplace_s16) where dY dies at the input
    gradient: frozen depthwise weights, and trained ones updated first (exact_gradients off:
    the layer wrapper's merged weights then sit at the start of its scratch, before the kernel's ring)."""
    graph = tiny_graph.with_classes(4, ("a", "b", "c", "d"))
    compiled = compile_model(graph, scheme, options=options)
    dw = next(layer.index for layer in graph.layers if layer.kind == "dw_conv2d")
    assert any(op.kind == "bwd_input" and op.layer == dw and op.inplace for op in compiled.schedule.ops)
    b = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.1, seed=5), "tiny")
    _train_both(b.plan, b.weights, _images((16, 16, 3), 4))


@pytest.mark.parametrize(("fuse", "stream", "chunk"), [("all", False, None), ("auto", False, None),
                                                       ("all", True, 100), ("all", True, 48), ("auto", True, None)])
def test_fused_stem_bit_exact(stem_graph, fuse, stream, chunk):
    """Stem fused with the first block; streamed, the sample arrives in ``chunk``-byte pieces (100:
    rows complete mid-piece; 48: exactly one 16x3 row per piece) through a buffer of a few rows."""
    graph = stem_graph.with_classes(4, ("a", "b", "c", "d"))
    options = PlanOptions.layer_by_layer(fuse_blocks=fuse, inplace_kernels=True, streamed_updates=True, stream_input=stream)
    for scheme in ("last-layer", {"n_bias_update": 3, "manual_weight_idx": [3, 4], "weight_update_ratio": [0.5, 1]}):
        compiled = compile_model(graph, scheme, options=options)
        if fuse == "all":
            assert compiled.schedule.blocks[0].pw1 == graph.conv(0).index
        assert compiled.schedule.streamed_input == (stream and fuse == "all")
        if compiled.schedule.streamed_input:
            x = compiled.schedule.ops[0].writes[0]
            assert compiled.schedule.buffers[x].nbytes < 16 * 16 * 3
        b = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.1, seed=9), "stem")
        _train_both(b.plan, b.weights, _images((16, 16, 3), 4), chunk=chunk)


def test_step_bounds_head_rate_and_schedule_bit_exact():
    """The recipe's arithmetic (a layer's step clamped to its bound, the classifier at its own
    rate, each step's learning-rate scale, 0 included) is the same in C and numpy, and the bounds
    bind: without them the same steps train other parameters."""
    compiled = compile_model(DEMO, "full", options=PlanOptions.layer_by_layer())
    samples = _images((32, 32, 3), 6)
    scales = [SCALE_ONE, 40_000, 1, 0, 65_535, 12_345]
    images = []
    for train in (TrainParams(lr=0.2, head_lr=0.02, weight_step_max=0.25, bias_step_max=0.5, seed=3),
                  TrainParams(lr=0.2, head_lr=0.02, weight_step_max=127, bias_step_max=30000, seed=3)):
        b = serialize(compiled.schedule, compiled.plan, train, compiled.scheme.name)
        images.append(_train_both(b.plan, b.weights, samples, lr_scales=scales).params())
    assert images[0] != images[1], "the bounds changed nothing"


def test_divergence_guard_bit_exact_and_partial_samples_refused():
    """At a rate that collapses the demo's head (bounds lifted) both executors skip the same
    saturated samples and stop training at the same step; a partly fed sample is refused."""
    samples = _images((32, 32, 3), 40)
    graph = load_graph(DEMO).with_classes(4, ("ankle_boot", "coat", "shirt", "sneaker"))
    compiled = compile_model(graph, "full", options=PlanOptions.layer_by_layer())
    train = TrainParams(lr=0.5, weight_step_max=127, bias_step_max=30000, diverge_after=3)
    b = serialize(compiled.schedule, compiled.plan, train, compiled.scheme.name)
    ex = _train_both(b.plan, b.weights, samples)
    assert ex.diverged, "the collapse was not detected"
    status, _ = ex.step(samples[0][0], 0, train=False)
    assert status == Status.OK, "evaluation still runs"
    assert ex.feed(samples[0][0][:1]) == Status.OK
    assert ex.step(None, 0, train=False)[0] == Status.SAMPLE_SIZE
    assert ex.load(package(b.plan, b.weights))[0] == Status.OK and not ex.diverged


def test_deltas_from_the_device_image_equal_the_reference():
    compiled = compile_model(DEMO, SPARSE)
    b = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.05), compiled.scheme.name)
    samples = _images((32, 32, 3), 3)
    ex = _train_both(b.plan, b.weights, samples)
    ref = simulate.planned(b.plan, b.weights)
    for x, label in samples:
        ref.step(x, label)
    params = D.parameters_from_image(b.plan, ex.params())
    assert D.build(b.plan, b.weights, params, 3) == D.build(b.plan, b.weights, ref.parameters(), 3)
    with pytest.raises(ValueError):
        D.parameters_from_image(b.plan, ex.params()[:-1])


def test_eval_label_range_restore_and_windows():
    compiled = compile_model(DEMO, "bias-only")
    b = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.05), compiled.scheme.name)
    ex = native.Executor(1 << 18)
    assert ex.load(package(b.plan, b.weights)) == (Status.OK, 0)
    factory = ex.params()
    (x, label), = _images((32, 32, 3), 1)
    status, _ = ex.step(x, 6)
    assert status == Status.LABEL_RANGE
    status, r = ex.step(x, label, train=False)
    assert status == Status.OK and ex.params() == factory and np.isfinite(r.loss)
    ex.step(x, label)
    trained = ex.params()
    assert trained != factory
    assert ex.params_window(3, 10) == trained[3:13]
    assert ex.params_window(len(trained) - 2, 6)[:2] == trained[-2:]
    assert ex.load(package(b.plan, b.weights))[0] == Status.OK and ex.params() == factory
    assert ex.params_write(trained[:-1]) == Status.BAD_PAYLOAD
    assert ex.params_write(trained) == Status.OK and ex.params() == trained


def test_current_corruption_corpus_is_refused_with_its_check():
    from tt_host.compiler import load_graph

    graph = load_graph(DEMO).with_classes(4, ("ankle boot", "coat", "shirt", "sneaker"))
    compiled = compile_model(graph, SPARSE)
    b = serialize(compiled.schedule, compiled.plan, TrainParams(), compiled.scheme.name)
    corpus = P.corruptions(b.plan, b.weights)
    assert len(corpus) == 33
    ex = native.Executor(1 << 18)
    for c in corpus:
        got = ex.load_blobs(c.plan, c.weights, arena_limit=c.arena_limit)
        assert got == (Status.BAD_PLAN, c.expected), f"{c.name}: {got}, want {c.expected.name}"
    # The package form refuses them too (the split point comes from the corrupted header).
    for c in corpus:
        got = ex.load(bytes(c.plan) + bytes(c.weights), arena_limit=c.arena_limit)
        assert got[0] == Status.BAD_PLAN, c.name
    assert ex.load(package(b.plan, b.weights), arena_limit=P.validate(b.plan).header.arena_bytes - 4) == (
        Status.BAD_PLAN, P.Check.ARENA_TOO_SMALL)


def test_fused_stem_corruption_corpus_is_refused_with_its_check(stem_graph):
    graph = stem_graph.with_classes(3)
    compiled = compile_model(graph, {"n_bias_update": 2, "manual_weight_idx": [3], "weight_update_ratio": [0.5]},
                             options=PlanOptions.layer_by_layer(fuse_blocks="all", inplace_kernels=True))
    b = serialize(compiled.schedule, compiled.plan, TrainParams(), compiled.scheme.name)
    corpus = P.corruptions(b.plan, b.weights)
    assert "fused_expansion_not_a_conv" in {c.name for c in corpus}
    ex = native.Executor(1 << 18)
    assert ex.load(package(b.plan, b.weights)) == (Status.OK, 0)
    for c in corpus:
        got = ex.load_blobs(c.plan, c.weights, arena_limit=c.arena_limit)
        assert got == (Status.BAD_PLAN, c.expected), f"{c.name}: {got}, want {c.expected.name}"


def test_streamed_input_buffer_the_block_cannot_run_in_is_refused(stem_graph):
    """What only the C loader can check (tt_irb_fwd_s8_rows_span(), the output's placement): a
    row buffer smaller than the rows the stem block reads at once, or under the block's output."""
    graph = stem_graph.with_classes(3)
    options = PlanOptions.layer_by_layer(fuse_blocks="all", inplace_kernels=True, stream_input=True)
    compiled = compile_model(graph, "last-layer", options=options)
    b = serialize(compiled.schedule, compiled.plan, TrainParams(), "s")
    v = P.validate(b.plan)
    h = v.header
    rec = h.buffer_table_offset + P.BufferRecord.sizeof() * h.input_buffer
    row = h.input_w * h.input_c
    rows = v.buffers[h.input_buffer].size // row  # tt_irb_fwd_s8_rows_span() of the stem block
    assert 1 < rows < h.input_h
    ex = native.Executor(1 << 18)
    assert ex.load(package(b.plan, b.weights)) == (Status.OK, 0)
    one_row = P.patch(b.plan, rec + 4, row)
    P.validate(one_row)  # whole rows: the format is fine
    assert ex.load(package(one_row, b.weights)) == (Status.BAD_PLAN, P.Check.BAD_SHAPE)
    fused = next(op for op in v.ops if op.kind == P.OpKind.FUSED_BLOCK)
    under_output = P.patch(b.plan, rec, v.buffers[fused.outs[0]].offset)
    assert ex.load(package(under_output, b.weights)) == (Status.BAD_PLAN, P.Check.BAD_SHAPE)


def test_package_layout():
    compiled = compile_model(DEMO, "last-layer")
    b = serialize(compiled.schedule, compiled.plan, TrainParams(), compiled.scheme.name)
    pkg = package(b.plan, b.weights)
    assert pkg[:len(b.plan)] == b.plan and pkg[len(b.plan):] == b.weights and len(b.plan) % 4 == 0
    with pytest.raises(Exception):
        package(b.plan[:-2], b.weights)


#: The shared models' ~100 KB schemes.
SHARED_100KB = {"mcunet-5fps": "mcunet-5fps-99kb", "mbv2-w0.35": "mbv2-w0.35-99kb",
                "proxyless-w0.3": "proxyless-w0.3-98kb"}
#: What ``tt-host compile`` uses by default (fused blocks with the stem, in place, streamed
#: updates, the sample streamed into the stem block).
CLI_DEFAULTS = PlanOptions()


def _shared(name: str):
    model = SHARED_DIR / "models" / f"{name}-int8.tflite"
    scheme = SHARED_DIR / "schemes" / f"{SHARED_100KB[name]}.json"
    if not model.is_file() or not scheme.is_file():
        pytest.skip(f"shared model or scheme not found under {SHARED_DIR} (set TT_SHARED)")
    return model, scheme


@pytest.mark.parametrize(("name", "options"), [("mcunet-5fps", PlanOptions.layer_by_layer(streamed_updates=True)),
                                               *((n, CLI_DEFAULTS) for n in SHARED_100KB)],
                         ids=["mcunet-5fps-streamed", *(f"{n}-defaults" for n in SHARED_100KB)])
def test_shared_model_two_steps_bit_exact(name, options):
    model, scheme = _shared(name)
    compiled = compile_model(model, scheme, classes=10, options=options)
    b = serialize(compiled.schedule, compiled.plan, TrainParams(lr=0.01, seed=3), compiled.scheme.name)
    h = P.validate(b.plan).header
    ex = _train_both(b.plan, b.weights, _images((h.input_h, h.input_w, h.input_c), 2), labels_mod=10)
    print(f"{name} {compiled.scheme.name}: plan arena {h.arena_bytes} B, executor arena {ex.arena_used} B")


def test_unsupported_inplace_depthwise_input_gradient_is_refused():
    """dX planned over dY where tt_dw_conv2d_bwd_input_inplace_s16_supported() says no (a stride-2
    depthwise: dX is larger than dY) is refused at load; the same plan without it loads."""
    from dataclasses import replace

    from tt_host.compiler.memory import plan_schedule

    model, scheme = _shared("mbv2-w0.35")
    s = compile_model(model, scheme, classes=10, options=CLI_DEFAULTS).schedule
    layers = s.graph.layers
    op = next(op for op in s.ops if op.kind == "bwd_input" and layers[op.layer].kind == "dw_conv2d"
              and layers[op.layer].step.geom.stride_h == 2)
    assert not op.inplace
    ex = native.Executor(1 << 21)
    for forced, want in ((False, (Status.OK, 0)), (True, (Status.BAD_PLAN, P.Check.BAD_BUFFER_ID))):
        ops = list(s.ops)
        if forced:
            ops[op.index] = replace(op, inplace=((op.writes[0], op.reads[0]),))
        sched = replace(s, ops=ops)
        b = serialize(sched, plan_schedule(sched), TrainParams(), "forced")
        assert ex.load(package(b.plan, b.weights)) == want


#: The f746 boards' training arena (224 KB, their board.toml).
BOARD_ARENA = resolve_board("f746-disco").arena_bytes


@pytest.mark.parametrize("name", list(SHARED_100KB))
def test_report_is_what_the_executor_uses(name):
    """The compile report's arena is exactly what tt_executor_load() needs (the executor's
    temporaries are planned scratch, nothing lives above the plan's arena), and the ~100 KB
    schemes with a 10-class head fit the board's 224 KB arena."""
    model, scheme = _shared(name)
    compiled = compile_model(model, scheme, classes=10, options=CLI_DEFAULTS)
    b = serialize(compiled.schedule, compiled.plan, TrainParams(), compiled.scheme.name)
    ex = native.Executor(1 << 21)
    assert ex.load(package(b.plan, b.weights)) == (Status.OK, 0)
    assert ex.arena_used == compiled.report["arena_bytes"] == P.validate(b.plan).header.arena_bytes
    assert ex.load(package(b.plan, b.weights), arena_limit=BOARD_ARENA) == (Status.OK, 0)
    assert ex.load(package(b.plan, b.weights), arena_limit=ex.arena_used - 4) == (Status.BAD_PLAN,
                                                                                 P.Check.ARENA_TOO_SMALL)


@pytest.mark.parametrize("case", list(DEMO_CASES))
def test_demo_report_is_what_the_executor_uses(case):
    scheme, options = DEMO_CASES[case]
    compiled = compile_model(DEMO, scheme, options=options)
    b = serialize(compiled.schedule, compiled.plan, TrainParams(), compiled.scheme.name)
    ex = native.Executor(1 << 20)
    assert ex.load(package(b.plan, b.weights), arena_limit=compiled.report["arena_bytes"]) == (Status.OK, 0)
    assert ex.arena_used == compiled.report["arena_bytes"]
