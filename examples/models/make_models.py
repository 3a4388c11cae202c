"""Generate the project's model corpus: the int8 TFLite models people already have, as TensorFlow's
standard converter writes them, committed beside this script as test fixtures (CI needs no
TensorFlow to use them).

    pip install -e '.[convert]'          # TensorFlow (CPU), an optional extra
    python3 examples/models/make_models.py [--only NAME,...] [--out DIR]

Each model is built in Keras with random weights (seeded; the CNN is trained on Fashion-MNIST
for two epochs instead and calibrated on its images), its BatchNormalization statistics
set from the representative data (so activations neither vanish nor explode through a deep
random network, as a trained one's do not: without it MobileNet's logits span 1e-6 and their
int8 scale is too small for TFLite Micro's softmax), exported as a SavedModel and converted
with full-integer post-training quantization from a representative dataset (seeded uniform
noise over the input's range): ``int8`` inputs and outputs, and for a few the
``float`` variant whose converter adds QUANTIZE / DEQUANTIZE at the ends. The shapes, operators
and converter idioms are what matters here (Keras' Flatten/Reshape chains, a MEAN that
requantizes, hard-swish and squeeze-excite, non-square kernels and strides, 1-D convolutions
on an ``N x 1 x C`` input, residual ADDs with strided shortcuts, concatenated branches), not the
accuracy.

``models.json`` lists every file with its input shape, classes, operators and size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 7
REPRESENTATIVE_SAMPLES = 16


@dataclass(frozen=True)
class Spec:
    name: str
    build: Callable[[], object]  #: returns a Keras model
    float_io: bool = False  #: also write <name>-float.tflite (float input and output)
    note: str = ""
    #: trained on Fashion-MNIST (28x28 gray, pixels / 255) before conversion, and calibrated on
    #: its images, rather than random weights calibrated on noise
    fashion_mnist: bool = False


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(SEED)
    return keras


def mobilenet_v1(size: int):
    def build():
        keras = _keras()
        return keras.applications.MobileNet(input_shape=(size, size, 3), alpha=0.25, weights=None, classes=2)
    return build


def mobilenet_v2_035_96():
    keras = _keras()
    return keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=2)


def mobilenet_v3_small(minimalistic: bool):
    def build():
        keras = _keras()
        base = keras.applications.MobileNetV3Small(input_shape=(96, 96, 3), alpha=0.75, minimalistic=minimalistic,
                                                   include_top=False, weights=None, include_preprocessing=False)
        x = keras.layers.GlobalAveragePooling2D()(base.output)
        out = keras.layers.Dense(2, activation="softmax")(x)
        return keras.Model(base.input, out)
    return build


def cnn():
    """Conv-BatchNorm-ReLU-MaxPool twice, Flatten, Dense, Dropout, Dense: the classic first CNN."""
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((28, 28, 1))
    for filters in (16, 32):
        x = L.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)
    x = L.Dense(64, activation="relu")(x)
    x = L.Dropout(0.3)(x)
    return keras.Model(inp, L.Dense(10, activation="softmax")(x))


def ds_cnn():
    """The MLPerf Tiny keyword spotter's shape: 49x10 MFCC, a 10x4 stride-2 first convolution,
    four depthwise-separable blocks, average pooling, 12 classes."""
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((49, 10, 1))
    x = L.Conv2D(64, (10, 4), strides=(2, 2), padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    for _ in range(4):
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = L.Conv2D(64, 1, use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
    x = L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(12, activation="softmax")(x))


def imu_1d():
    """A 1-D convolutional IMU classifier on 128 samples x 6 axes, written as N x 1 x C."""
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((128, 1, 6))
    for filters, stride in ((16, 2), (32, 2), (32, 1)):
        x = L.Conv2D(filters, (5, 1), strides=(stride, 1), padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(6, activation="softmax")(x))


def resnet_small():
    """A ResNet-8 in the MLPerf Tiny image-classification shape: residual ADDs, strided 1x1 shortcuts."""
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((32, 32, 3))
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = L.Conv2D(filters, 3, strides=stride, padding="same", activation="relu")(x)
        y = L.Conv2D(filters, 3, padding="same")(y)
        if stride != 1 or x.shape[-1] != filters:
            x = L.Conv2D(filters, 1, strides=stride)(x)
        x = L.ReLU()(L.Add()([x, y]))
    x = L.AveragePooling2D(pool_size=x.shape[1])(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(10, activation="softmax")(x))


def squeezenet():
    """SqueezeNet's fire modules on a 64x64 RGB input: 1x1 squeeze, then 1x1 and 3x3 expand branches
    concatenated and a ReLU after the concatenation (a standalone RELU: nothing to fuse it into),
    max pooling between, global average pooling into the classifier."""
    keras = _keras()
    L = keras.layers

    def fire(x, squeeze: int, expand: int):
        s = L.Conv2D(squeeze, 1, activation="relu")(x)
        return L.ReLU()(L.Concatenate()([L.Conv2D(expand, 1)(s), L.Conv2D(expand, 3, padding="same")(s)]))

    x = inp = keras.Input((64, 64, 3))
    x = L.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = fire(fire(x, 8, 16), 8, 16)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = fire(x, 16, 32)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(5, activation="softmax")(L.Dropout(0.2)(x)))


def se_cnn():
    """EfficientNet-style blocks at MCU size: swish activations (x * sigmoid(x)) and squeeze-excite
    gates through a sigmoid, i.e. LOGISTIC inside the graph feeding MULs."""
    keras = _keras()
    L = keras.layers

    def swish(x):
        return L.Multiply()([x, L.Activation("sigmoid")(x)])

    def block(x, expand: int, out: int, stride: int):
        y = swish(L.BatchNormalization()(L.Conv2D(expand, 1, use_bias=False)(x)))
        y = swish(L.BatchNormalization()(L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(y)))
        gate = L.Conv2D(max(4, expand // 4), 1, activation="relu")(L.GlobalAveragePooling2D(keepdims=True)(y))
        y = L.Multiply()([y, L.Conv2D(expand, 1, activation="sigmoid")(gate)])
        return L.BatchNormalization()(L.Conv2D(out, 1, use_bias=False)(y))

    x = inp = keras.Input((48, 48, 3))
    x = swish(L.BatchNormalization()(L.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(x)))
    x = block(block(x, 32, 16, 2), 48, 24, 2)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(4, activation="softmax")(x))


def fully_connected():
    """Dense layers only, on a flat feature vector (e.g. an anomaly detector's input)."""
    keras = _keras()
    L = keras.layers
    x = inp = keras.Input((64,))
    for units in (64, 32):
        x = L.Dense(units, activation="relu")(x)
    return keras.Model(inp, L.Dense(4, activation="softmax")(x))


SPECS = {s.name: s for s in (
    Spec("mobilenet_v1_025_96", mobilenet_v1(96), note="Keras MobileNet alpha 0.25 (person-detection size)"),
    Spec("mobilenet_v1_025_128", mobilenet_v1(128), note="Keras MobileNet alpha 0.25"),
    Spec("mobilenet_v2_035_96", mobilenet_v2_035_96, note="Keras MobileNetV2 alpha 0.35"),
    Spec("mobilenet_v3_small_minimalistic", mobilenet_v3_small(True), note="alpha 0.75, no hard-swish / SE"),
    Spec("mobilenet_v3_small", mobilenet_v3_small(False), note="alpha 0.75: hard-swish, squeeze-excite"),
    Spec("cnn", cnn, float_io=True, fashion_mnist=True,
         note="Conv-BN-ReLU-MaxPool x2, Flatten, Dense, Dropout, Dense; trained on Fashion-MNIST"),
    Spec("ds_cnn", ds_cnn, float_io=True, note="keyword spotter, 49x10x1 MFCC, 10x4 stride-2 first conv"),
    Spec("imu_1d", imu_1d, note="1-D convolutions on a 128x1x6 IMU window"),
    Spec("resnet_small", resnet_small, note="ResNet-8 shape: residual ADDs, strided 1x1 shortcuts"),
    Spec("fully_connected", fully_connected, note="Dense layers only, 64 features"),
    Spec("squeezenet", squeezenet, note="fire modules: CONCATENATION, a standalone RELU, max pooling"),
    Spec("se_cnn", se_cnn, note="swish and sigmoid squeeze-excite gates: LOGISTIC feeding MUL"),
)}


def fashion_mnist(split: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images float32 [N, 28, 28, 1] in [0, 1], labels)``, the first ``n`` of ``split``."""
    sys.path.insert(0, str(HERE.parents[1] / "host"))
    from tt_host.datasets import fashion_mnist as load

    images, labels = load(split)
    return (images[:n, :, :, None] / np.float32(255.0)).astype(np.float32), labels[:n].astype(np.int64)


def train_on_fashion_mnist(model, epochs: int = 2) -> None:
    """A short Adam run on the training split (about 88 % test accuracy for the CNN)."""
    images, labels = fashion_mnist("train")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, epochs=epochs, batch_size=128, verbose=0)
    test_images, test_labels = fashion_mnist("test")
    _, accuracy = model.evaluate(test_images, test_labels, verbose=0)
    print(f"{model.name}: float test accuracy {accuracy:.3f} after {epochs} epochs", file=sys.stderr)


def representative_batch(model, spec: Spec | None = None) -> np.ndarray:
    if spec is not None and spec.fashion_mnist:
        return fashion_mnist("train", REPRESENTATIVE_SAMPLES * 8)[0][::8]
    shape = tuple(model.input.shape[1:])
    return np.random.default_rng(SEED).uniform(-1, 1, (REPRESENTATIVE_SAMPLES, *shape)).astype(np.float32)


def calibrate_batchnorm(model) -> None:
    """Every BatchNormalization's moving mean and variance := its batch statistics on the
    representative data (one training-mode pass with momentum 0): what training would converge
    to, so each normalised activation has zero mean and unit variance."""
    keras = _keras()
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0
    model(representative_batch(model), training=True)


def convert(model, integer_io: bool, spec: Spec | None = None) -> bytes:
    """Full-integer post-training quantization through a SavedModel (the Keras-model path of
    TF 2.16's converter fails on Keras 3 models)."""
    import tensorflow as tf

    batch = representative_batch(model, spec)

    def representative():
        for sample in batch:
            yield [sample[None]]

    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(tmp)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if integer_io:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        return conv.convert()


def describe(path: Path) -> dict:
    """Input shape and type, operators (in order of first use) and size of a written model."""
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_path=str(path))
    detail = interp.get_input_details()[0]
    ops = list(dict.fromkeys(op["op_name"] for op in interp._get_ops_details()))
    out = interp.get_output_details()[0]
    return {"file": path.name, "input_shape": [int(d) for d in detail["shape"][1:]],
            "input_dtype": np.dtype(detail["dtype"]).name, "classes": int(out["shape"][-1]), "operators": ops,
            "bytes": path.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(SPECS)}")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(SPECS)
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    index_path = args.out / "models.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    for name in names:
        spec = SPECS[name]
        model = spec.build()
        if spec.fashion_mnist:
            train_on_fashion_mnist(model)
        else:
            calibrate_batchnorm(model)
        for integer_io in (True, False) if spec.float_io else (True,):
            stem = name if integer_io else f"{name}-float"
            path = args.out / f"{stem}.tflite"
            path.write_bytes(convert(model, integer_io, spec))
            index[stem] = {**describe(path), "note": spec.note}
            print(f"{path.name}: {index[stem]['bytes']:,} B, {', '.join(index[stem]['operators'])}", file=sys.stderr)
    index_path.write_text(json.dumps(dict(sorted(index.items())), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
