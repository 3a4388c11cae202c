"""Train the demo model: a small int8 MobileNetV2-style CNN for Fashion-MNIST.

The demo board ships with this model. It is pretrained here, on the host, on six of the ten
Fashion-MNIST classes; the end-to-end demo then teaches the board the classes it has never
seen (``examples/camera_samples/``), on the device.

Pipeline, numpy only (no deep-learning framework needed):

1. images: 28x28 gray resized to 32x32 (Pillow bilinear), replicated to RGB, pixel ``p``
   fed as ``p / 255`` (the int8 input is ``p - 128`` with scale 1/255, zero point -128);
2. float training: batched NHWC layers below, softmax cross-entropy, Adam;
3. post-training quantization: activation ranges calibrated on training images, then
   :class:`tt_host.tflite.writer.Int8CnnWriter` writes symmetric per-channel int8 weights;
4. evaluation of the int8 model with the numpy reference kernels (bit-exact with TFLite
   Micro) on the test split of the same six classes.

Run ``python examples/demo_model/train_demo_model.py`` (a few minutes on two cores); it
rewrites ``fmnist6-demo-int8.tflite`` and ``fmnist6-demo.json`` next to itself,
deterministically for a given numpy version.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tt_host.datasets import FASHION_MNIST_CLASSES, fashion_mnist
from tt_host.reference import graph
from tt_host.tflite import load
from tt_host.tflite.writer import Int8CnnWriter

HERE = Path(__file__).resolve().parent
#: The classes the demo model is pretrained on; the other four are left for on-device learning.
PRETRAIN_CLASSES = (0, 1, 2, 3, 5, 8)  # tshirt, trouser, pullover, dress, sandal, bag
INPUT_HW = 32


def to_input_images(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] -> uint8 [N, 32, 32, 3], as the stream command converts samples."""
    resized = np.stack([np.asarray(Image.fromarray(im).resize((INPUT_HW, INPUT_HW), Image.BILINEAR)) for im in images])
    return np.repeat(resized[..., None], 3, axis=-1)


# -- float layers (batched NHWC) -----------------------------------------------------------


def same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


class Conv:
    """Regular, depthwise (``depthwise=True``) or pointwise convolution, SAME padding."""

    def __init__(self, name, in_c, out_c, k, stride, relu6, rng, depthwise=False, zero_init=False):
        self.name, self.k, self.stride, self.relu6, self.depthwise = name, k, stride, relu6, depthwise
        fan_in = k * k * (1 if depthwise else in_c)
        shape = (1, k, k, out_c) if depthwise else (out_c, k, k, in_c)
        self.w = np.zeros(shape, np.float32) if zero_init else (rng.normal(size=shape) * np.sqrt(2 / fan_in)).astype(np.float32)
        self.b = np.zeros(out_c, np.float32)
        self.params = [self.w, self.b]

    def _taps(self, xp, oh, ow):
        s = self.stride
        for ky in range(self.k):
            for kx in range(self.k):
                yield ky, kx, (slice(None), slice(ky, ky + s * (oh - 1) + 1, s), slice(kx, kx + s * (ow - 1) + 1, s))

    def forward(self, x):
        n, h, w, _ = x.shape
        (pt, pb), (pl, pr) = same_pads(h, self.k, self.stride), same_pads(w, self.k, self.stride)
        xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
        oh, ow = -(-h // self.stride), -(-w // self.stride)
        y = np.zeros((n, oh, ow, self.b.size), np.float32)
        for ky, kx, view in self._taps(xp, oh, ow):
            y += xp[view] * self.w[0, ky, kx] if self.depthwise else xp[view] @ self.w[:, ky, kx, :].T
        y += self.b
        self.cache = (xp, (pt, pl, h, w), y)
        return np.clip(y, 0, 6) if self.relu6 else y

    def backward(self, dy):
        xp, (pt, pl, h, w), z = self.cache
        if self.relu6:
            dy = dy * ((z > 0) & (z < 6))
        oh, ow = dy.shape[1:3]
        dw, dxp = np.zeros_like(self.w), np.zeros_like(xp)
        for ky, kx, view in self._taps(xp, oh, ow):
            if self.depthwise:
                dw[0, ky, kx] = (dy * xp[view]).sum((0, 1, 2))
                dxp[view] += dy * self.w[0, ky, kx]
            else:
                dw[:, ky, kx, :] = dy.reshape(-1, dy.shape[-1]).T @ xp[view].reshape(-1, xp.shape[-1])
                dxp[view] += dy @ self.w[:, ky, kx, :]
        self.grads = [dw, dy.sum((0, 1, 2))]
        return dxp[:, pt : pt + h, pl : pl + w]


class Dense:
    def __init__(self, name, in_c, out_c, rng):
        self.name = name
        self.w = (rng.normal(size=(out_c, in_c)) * np.sqrt(1 / in_c)).astype(np.float32)
        self.b = np.zeros(out_c, np.float32)
        self.params = [self.w, self.b]

    def forward(self, x):
        self.cache = x
        return x @ self.w.T + self.b

    def backward(self, dy):
        self.grads = [dy.T @ self.cache, dy.sum(0)]
        return dy @ self.w


class Block:
    """Inverted bottleneck: pw expand (ReLU6), dw 3x3 (ReLU6), pw project (linear), residual."""

    def __init__(self, name, in_c, out_c, expand, stride, rng):
        mid = in_c * expand
        self.residual = stride == 1 and in_c == out_c
        self.layers = [
            Conv(f"{name}.pw1", in_c, mid, 1, 1, True, rng),
            Conv(f"{name}.dw", mid, mid, 3, stride, True, rng, depthwise=True),
            # A residual branch starts at zero so that each block is the identity at init.
            Conv(f"{name}.pw2", mid, out_c, 1, 1, False, rng, zero_init=self.residual),
        ]

    def forward(self, x):
        y = x
        for layer in self.layers:
            y = layer.forward(y)
        self.out = y + x if self.residual else y
        return self.out

    def backward(self, dy):
        d = dy
        for layer in reversed(self.layers):
            d = layer.backward(d)
        return d + dy if self.residual else d


class DemoNet:
    def __init__(self, n_classes: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.stem = Conv("stem", 3, 8, 3, 2, True, rng)
        self.blocks = [
            Block("b1", 8, 16, 3, 2, rng),
            Block("b2", 16, 16, 3, 1, rng),
            Block("b3", 16, 32, 3, 2, rng),
            Block("b4", 32, 32, 3, 1, rng),
        ]
        self.head = Dense("classifier", 32, n_classes, rng)

    def layers(self):
        yield self.stem
        for block in self.blocks:
            yield from block.layers
        yield self.head

    def forward(self, x, record=None):
        y = self.stem.forward(x)
        if record is not None:
            record.setdefault("stem", []).append(y)
        for block in self.blocks:
            y = block.forward(y)
            if record is not None:
                for layer in block.layers:
                    record.setdefault(layer.name, []).append(np.clip(layer.cache[2], 0, 6) if layer.relu6 else layer.cache[2])
                record.setdefault(f"{block.layers[0].name[:2]}.add", []).append(block.out)
        self.pooled = y.mean((1, 2))
        logits = self.head.forward(self.pooled)
        if record is not None:
            record.setdefault("pool", []).append(self.pooled)
            record.setdefault("classifier", []).append(logits)
        return logits

    def backward(self, dlogits):
        d = self.head.backward(dlogits)
        n, h, w, c = self.blocks[-1].out.shape
        d = np.broadcast_to(d[:, None, None, :] / (h * w), (n, h, w, c))
        for block in reversed(self.blocks):
            d = block.backward(d)
        self.stem.backward(d)


def softmax_xent(logits, labels):
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[np.arange(len(labels)), labels] + 1e-12).mean()
    grad = p.copy()
    grad[np.arange(len(labels)), labels] -= 1
    return loss, grad / len(labels)


class Adam:
    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads, lr):
        self.t += 1
        b1, b2 = self.betas
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= lr * (m / (1 - b1**self.t)) / (np.sqrt(v / (1 - b2**self.t)) + self.eps)


# -- training, quantization, evaluation ---------------------------------------------------


def subset(images, labels, classes):
    keep = np.isin(labels, classes)
    remap = {c: i for i, c in enumerate(classes)}
    return images[keep], np.array([remap[c] for c in labels[keep]], np.int64)


def train(net, x, y, epochs, batch, lr, seed):
    rng = np.random.default_rng(seed)
    layers = list(net.layers())
    params = [p for layer in layers for p in layer.params]
    opt = Adam(params, lr)
    steps = epochs * (len(x) // batch)
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for i in range(len(x) // batch):
            idx = order[i * batch : (i + 1) * batch]
            logits = net.forward(x[idx].astype(np.float32) / 255.0)
            loss, dlogits = softmax_xent(logits, y[idx])
            net.backward(dlogits)
            opt.step([g for layer in layers for g in layer.grads], lr * 0.5 * (1 + np.cos(np.pi * step / steps)))
            losses.append(loss)
            step += 1
        print(f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f}", flush=True)


def calibrate(net, x):
    """Per-tensor float ranges over calibration images (min and max of every activation)."""
    record: dict[str, list] = {}
    for i in range(0, len(x), 256):
        net.forward(x[i : i + 256].astype(np.float32) / 255.0, record)
    return {k: (float(min(a.min() for a in v)), float(max(a.max() for a in v))) for k, v in record.items()}


def export(net, ranges, n_classes) -> bytes:
    w = Int8CnnWriter()
    x = w.input((1, INPUT_HW, INPUT_HW, 3), scale=1 / 255, zero_point=-128)
    s = net.stem
    y = w.conv2d("stem", x, s.w, s.b, s.stride, ranges["stem"], relu6=True)
    for block in net.blocks:
        inp = y
        for layer in block.layers:
            y = w.conv2d(layer.name, y, layer.w, layer.b, layer.stride, ranges[layer.name], layer.relu6, layer.depthwise)
        if block.residual:
            y = w.add(f"{block.layers[0].name[:2]}.add", inp, y, ranges[f"{block.layers[0].name[:2]}.add"])
    y = w.global_avgpool("pool", y)
    logits = w.fully_connected("classifier", y, net.head.w, net.head.b, ranges["classifier"])
    names = ",".join(FASHION_MNIST_CLASSES[c] for c in PRETRAIN_CLASSES)
    return w.finish(x, logits, f"tt demo: Fashion-MNIST {n_classes}-class MobileNetV2-style CNN; classes {names}")


def evaluate_int8(model_bytes, images, labels) -> float:
    model = load(model_bytes)
    steps = graph.lower(model)
    out = model.outputs[0]
    correct = 0
    for im, label in zip(images, labels):
        q = (im.astype(np.int16) - 128).astype(np.int8)
        logits = graph.run(model, q[None], steps=steps)[out]
        correct += int(np.argmax(logits) == label)
    return correct / len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()

    t0 = time.time()
    x_train, y_train = subset(*fashion_mnist("train"), PRETRAIN_CLASSES)
    x_test, y_test = subset(*fashion_mnist("test"), PRETRAIN_CLASSES)
    x_train, x_test = to_input_images(x_train), to_input_images(x_test)
    net = DemoNet(len(PRETRAIN_CLASSES), args.seed)
    train(net, x_train, y_train, args.epochs, args.batch, args.lr, args.seed)

    float_acc = float(np.mean(np.argmax(net.forward(x_test.astype(np.float32) / 255.0), 1) == y_test))
    model_bytes = export(net, calibrate(net, x_train[:2000]), len(PRETRAIN_CLASSES))
    int8_acc = evaluate_int8(model_bytes, x_test, y_test)
    (args.out / "fmnist6-demo-int8.tflite").write_bytes(model_bytes)
    report = {
        "classes": [FASHION_MNIST_CLASSES[c] for c in PRETRAIN_CLASSES],
        "input": [1, INPUT_HW, INPUT_HW, 3],
        "train_images": int(len(x_train)),
        "test_images": int(len(x_test)),
        "epochs": args.epochs,
        "float_test_accuracy": round(float_acc, 4),
        "int8_test_accuracy": round(int8_acc, 4),
        "tflite_bytes": len(model_bytes),
        "seconds": round(time.time() - t0, 1),
    }
    (args.out / "fmnist6-demo.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
