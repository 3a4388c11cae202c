"""The demo model shipped in examples/: a standard int8 TFLite file that TFLite Micro runs,
that tt's reference kernels run bit for bit the same, and that classifies its six
pretraining classes well; and the sample folder of the four classes it never saw."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tt_host.datasets import FASHION_MNIST_CLASSES
from tt_host.paths import REPO_ROOT
from tt_host.reference import graph
from tt_host.tflite import load

tflm = pytest.importorskip("tflite_micro", reason="needs the tflite-micro wheel (pip install tflite-micro)").runtime

DEMO = REPO_ROOT / "examples" / "demo_model"
MODEL = DEMO / "fmnist6-demo-int8.tflite"
SAMPLES = REPO_ROOT / "examples" / "camera_samples"


def _samples(n_per_class: int) -> tuple[np.ndarray, list[str]]:
    images, labels = [], []
    for folder in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        for png in sorted(folder.glob("*.png"))[:n_per_class]:
            images.append(np.asarray(Image.open(png).convert("RGB").resize((32, 32), Image.BILINEAR)))
            labels.append(folder.name)
    return np.stack(images), labels


def test_demo_model_is_bit_exact_with_tflite_micro_on_every_tensor():
    model = load(MODEL)
    interp = tflm.Interpreter.from_file(str(MODEL), intrepreter_config=tflm.InterpreterConfig.kPreserveAllTensors)
    images, _ = _samples(2)
    for image in images:
        x = (image.astype(np.int16) - 128).astype(np.int8)[None]
        ours = graph.run(model, x)
        interp.set_input(x, 0)
        interp.invoke()
        for index, got in ours.items():
            want = np.asarray(interp.GetTensor(index, 0)["tensor_data"]).reshape(got.shape)
            assert np.array_equal(got, want), model.tensors[index].name


def test_demo_model_report_matches_the_model():
    report = json.loads((DEMO / "fmnist6-demo.json").read_text())
    assert report["tflite_bytes"] == MODEL.stat().st_size
    assert report["int8_test_accuracy"] > 0.9
    assert set(report["classes"]).isdisjoint(p.name for p in SAMPLES.iterdir())


def test_sample_folder_holds_unseen_labels_as_pngs():
    folders = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir())
    assert folders == sorted(["coat", "shirt", "sneaker", "ankle_boot"])
    assert all(name in FASHION_MNIST_CLASSES for name in folders)
    for folder in folders:
        pngs = list((SAMPLES / folder).glob("*.png"))
        assert len(pngs) == 75
        assert Image.open(pngs[0]).size == (28, 28)
