"""Export: base .tflite + deltas file -> adapted model that TFLite Micro runs."""

from __future__ import annotations

import numpy as np
import pytest
from tt_protocol import plan as P

tflm = pytest.importorskip("tflite_micro", reason="needs the tflite-micro wheel (pip install tflite-micro)").runtime

from tt_host.compiler import compile_model, load_graph
from tt_host.compiler import deltas as D
from tt_host.compiler import simulate as S
from tt_host.compiler.blob import serialize
from tt_host.compiler.head import load_samples
from tt_host.compiler.lowering import TrainParams
from tt_host.paths import REPO_ROOT, SHARED_DIR
from tt_host.reference import graph as ref_graph
from tt_host.tflite import load
from tt_host.tflite.export import ExportError, export

DEMO = REPO_ROOT / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
SCHEME = {"n_bias_update": 6, "manual_weight_idx": [9, 10, 11], "weight_update_ratio": [0.5, 0.25, 1]}


def _tflm_outputs(model: bytes, images) -> list[np.ndarray]:
    interp = tflm.Interpreter.from_bytes(model)
    out = []
    for x in images:
        interp.set_input(x[None], 0)
        interp.invoke()
        out.append(np.asarray(interp.get_output(0)).copy())
    return out


def _tflm_tensor(model: bytes, x: np.ndarray, index: int) -> np.ndarray:
    """Tensor ``index`` of TFLite Micro's run of ``model`` on ``x``."""
    interp = tflm.Interpreter.from_bytes(model, intrepreter_config=tflm.InterpreterConfig.kPreserveAllTensors)
    interp.set_input(x[None], 0)
    interp.invoke()
    return np.asarray(interp.GetTensor(index, 0)["tensor_data"]).reshape(-1)


def _images(shape, n, seed=0):
    return [np.random.default_rng(seed + i).integers(-128, 128, shape).astype(np.int8) for i in range(n)]


def _zero_deltas(path, scheme):
    c = compile_model(path, scheme)
    b = serialize(c.schedule, c.plan)
    m = S.unplanned(c)
    return c, b, D.build(b.plan, b.weights, m.parameters())


def _check_zero_roundtrip(path, scheme, n=3):
    base = path.read_bytes()
    c, _, deltas = _zero_deltas(path, scheme)
    parsed = P.parse_deltas(deltas)
    assert all(not np.any(r.values) for r in parsed.records)
    new = export(base, deltas)
    images = _images(c.graph.tensors[c.graph.input].shape, n)
    for a, z in zip(_tflm_outputs(base, images), _tflm_outputs(new, images)):
        assert np.array_equal(a, z)


def test_zero_deltas_roundtrip_demo():
    _check_zero_roundtrip(DEMO, SCHEME)


@pytest.mark.models
def test_zero_deltas_roundtrip_shared_model():
    path = SHARED_DIR / "models" / "mbv2-w0.35-int8.tflite"
    if not path.is_file():
        pytest.skip(f"{path} not found (set TT_SHARED)")
    _check_zero_roundtrip(path, SHARED_DIR / "schemes" / "mbv2-w0.35-99kb.json", n=1)


def test_trained_deltas_change_exactly_the_targeted_tensors():
    base = DEMO.read_bytes()
    c = compile_model(DEMO, SCHEME)
    b = serialize(c.schedule, c.plan, TrainParams(lr=0.2, seed=3))
    m = S.planned(b.plan, b.weights)
    shape = c.graph.tensors[c.graph.input].shape
    for i, x in enumerate(_images(shape, 6, seed=10)):
        m.step(x, i % 6)
    deltas = P.parse_deltas(D.build(b.plan, b.weights, m.parameters(), samples=6))
    assert deltas.samples == 6 and deltas.plan_hash == b.plan_hash
    targeted = {r.tflite_tensor for r in deltas.records}
    new = export(base, deltas)
    old_m, new_m = load(base), load(new)
    changed = {t.index for t, u in zip(old_m.tensors, new_m.tensors)
               if t.data is not None and not np.array_equal(t.data, u.data)}
    assert changed and changed <= targeted
    assert changed == {r.tflite_tensor for r in deltas.records if np.any(r.values)}
    # The exported model computes what the trained plan computes: our reference forward of the
    # new file equals TFLM on it.
    x = _images(shape, 1, seed=99)[0]
    ours = ref_graph.run(new_m, x[None])[new_m.outputs[0]]
    assert np.array_equal(ours.reshape(-1), _tflm_outputs(new, [x])[0].reshape(-1))
    with pytest.raises(ExportError, match="another model"):
        export(base[:-1] + b"\0", deltas)


def test_replaced_head_is_rebuilt():
    base = DEMO.read_bytes()
    g = load_graph(DEMO)
    images, labels, names = load_samples(REPO_ROOT / "examples" / "camera_samples", g.tensors[g.input].shape)
    from tt_host.compiler.head import imprint

    g2 = imprint(g, images[::10], labels[::10], names)
    c = compile_model(g2, "last-layer")
    b = serialize(c.schedule, c.plan)
    m = S.planned(b.plan, b.weights)
    for x, y in zip(images[::37], labels[::37]):
        m.step(x, int(y))
    new = export(base, D.build(b.plan, b.weights, m.parameters()))
    nm = load(new)
    assert nm.tensors[nm.outputs[0]].shape[-1] == len(names) == 4
    assert "ankle_boot" in nm.description
    # TFLM runs it and agrees with the planned forward of the trained head.
    x = images[5]
    out = _tflm_outputs(new, [x])[0].reshape(-1)
    assert out.shape == (4,)
    assert np.array_equal(out, ref_graph.run(nm, x[None])[nm.outputs[0]].reshape(-1))


def _planned_logits(machine, x) -> np.ndarray:
    """The int8 logits the device computes for ``x`` (a forward-only step of the planned machine)."""
    machine.step(x, 0, train=False)
    loss = next(op for op in machine.ops if op.kind == P.OpKind.LOSS)
    return np.asarray(machine.store.get(loss.ins[0])).reshape(-1)


def test_trained_bias_of_a_layer_without_one_is_added():
    """ResNet-8's classifier has no bias tensor (the converter dropped an all-zero bias): training
    its bias makes the deltas add one, and the exported model computes the trained logits."""
    path = REPO_ROOT / "examples" / "models" / "resnet_small.tflite"
    base = path.read_bytes()
    c = compile_model(path, "last-layer")
    b = serialize(c.schedule, c.plan, TrainParams(lr=0.05, seed=1))
    m = S.planned(b.plan, b.weights)
    shape = c.graph.tensors[c.graph.input].shape
    for i, x in enumerate(_images(shape, 12, seed=20)):
        m.step(x, i % 10)
    deltas = P.parse_deltas(D.build(b.plan, b.weights, m.parameters()))
    added = [r for r in deltas.records if r.added]
    assert len(added) == 1 and added[0].kind == P.TensorKind.BIAS and np.any(added[0].values)
    new = export(base, deltas)
    nm = load(new)
    fc = next(op for op in nm.operators if op.op == "FULLY_CONNECTED")
    assert fc.inputs[1] == added[0].tflite_tensor and fc.inputs[2] >= 0
    assert np.array_equal(nm.tensors[fc.inputs[2]].data, added[0].values)
    for x in _images(shape, 3, seed=30):
        assert np.array_equal(_tflm_tensor(new, x, fc.outputs[0]), _planned_logits(m, x))


def test_replaced_head_of_a_classifier_without_bias_gets_one():
    path = REPO_ROOT / "examples" / "models" / "resnet_small.tflite"
    g = load_graph(path)
    shape = g.tensors[g.input].shape
    from tt_host.compiler.head import imprint

    images = np.stack(_images(shape, 9, seed=40))
    c = compile_model(imprint(g, images, np.arange(9) % 3, ["a", "b", "c"]), "last-layer")
    b = serialize(c.schedule, c.plan, TrainParams(lr=0.05, seed=1))
    m = S.planned(b.plan, b.weights)
    for i, x in enumerate(images):
        m.step(x, i % 3)
    new = export(path.read_bytes(), D.build(b.plan, b.weights, m.parameters()))
    nm = load(new)
    fc = next(op for op in nm.operators if op.op == "FULLY_CONNECTED")
    assert nm.tensors[fc.outputs[0]].shape[-1] == 3 and fc.inputs[2] >= 0
    for x in _images(shape, 3, seed=50):
        assert np.array_equal(_tflm_tensor(new, x, fc.outputs[0]), _planned_logits(m, x))


def test_an_added_bias_record_round_trips_and_must_be_whole():
    def deltas(channels):
        record = P.Delta(7, P.TensorKind.BIAS, np.array([3, -4], np.int32), channels, added=True)
        return P.Deltas(bytes(32), bytes(32), "s", 1, 2, (record,))

    (record,) = P.parse_deltas(P.build_deltas(deltas(()))).records
    assert record.added and record.absolute and record.tflite_tensor == 7 and list(record.values) == [3, -4]
    with pytest.raises(P.PlanInvalid, match="only a whole bias can be added"):
        P.parse_deltas(P.build_deltas(deltas((0, 1))))
