"""Does the integer backward learn as well as a float32 one? A short Fashion-MNIST fine-tune.

Protocol (same for every mode; only the gradient representation / rounding differs):

* Model: MCUNet-5fps int8 (``../shared/models/mcunet-5fps-int8.tflite``) at its native 128x128
  input, the 1000-class classifier replaced by a zero-initialised 10-class int8 head
  (per-channel weight scale 0.004, logits scale 0.125).
* Data: Fashion-MNIST (Debian ``dataset-fashion-mnist``), 28x28 gray resized to 128x128
  (bilinear), replicated to 3 channels, quantized as the model input ((p - 128) / 127.5);
  ``--train-per-class`` (80) images per class from the train split, ``--test-per-class`` (100)
  from the test split, fixed seed.
* Trained: the head (weights and bias), the biases of the last 6 convolutions (blocks 16-17)
  and the weights of two pointwise convolutions: the last block's expansion (96->576) on half
  of its input channels and its projection (576->160) on a quarter, channels picked by seed.
  Everything before the last two blocks is frozen; its output is computed once per image
  (``tt_host.reference.graph``) and cached under ``build/bench-cache``.
* Forward: the int8 reference kernels (bit-exact with TFLM and the C), identical for all modes.
* SGD, batch 1, no momentum, ``--epochs`` (2) passes, constant learning rate from a small grid;
  QAS and stochastic rounding of the int8/int32 update (``tt_host.reference.update``).

Modes:

* ``int``: the device path: loss and every gradient from ``backward_int`` / ``loss`` / ``update``
  (int16 gradients with per-tensor exponents, int32 weight/bias gradients, fixed-point QAS step).
* ``float``: float32 gradients of the same int8 forward (``backward`` float reference, TTE's
  representation), the same QAS step formed in float and the same stochastic rounding.
* ``float_trunc``: float32 gradients with TTE's truncating update (no stochastic rounding).

Writes JSON (``--json``, default ``bench/results/accuracy_grad_repr.json``) with the test
accuracy of every mode and learning rate, the best per mode, and the headroom the integer
input gradients use (log2 of their largest value, at most 15).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from tt_host.reference import backward as F  # noqa: E402
from tt_host.reference import backward_int as I  # noqa: E402
from tt_host.reference import forward, graph  # noqa: E402
from tt_host.reference import loss as L  # noqa: E402
from tt_host.reference import update as U  # noqa: E402
from tt_host.reference.params import ConvQuant, GradQuant  # noqa: E402
from tt_host.tflite import load  # noqa: E402

DATA = Path("/usr/share/datasets/fashion-mnist")
MODEL = ROOT.parent / "shared" / "models" / "mcunet-5fps-int8.tflite"
CACHE = ROOT / "build" / "bench-cache"
FIRST_TRAINED_STEP = 42  # pw expansion of block 16; its input is the cached prefix output
BIAS_STEPS = (42, 43, 44, 46, 47, 48)
WEIGHT_STEPS = {46: 0.5, 48: 0.25}  # step -> fraction of input channels trained
HEAD_SCALE, LOGIT_SCALE, N_CLASSES = 0.004, 0.125, 10


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path) as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_split(split: str, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    x, y = _idx(DATA / f"{prefix}-images-idx3-ubyte.gz"), _idx(DATA / f"{prefix}-labels-idx1-ubyte.gz")
    rng = np.random.default_rng(seed)
    pick = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(N_CLASSES)])
    return x[pick], y[pick].astype(np.int64)


def preprocess(img: np.ndarray) -> np.ndarray:
    from PIL import Image

    big = np.asarray(Image.fromarray(img).resize((128, 128), Image.BILINEAR), np.int16)
    return np.repeat((big - 128).astype(np.int8)[:, :, None], 3, axis=2)  # input scale 1/127.5, zp 0


def prefix_features(model, steps, images: np.ndarray, tag: str) -> np.ndarray:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"mcunet5fps_{tag}_{len(images)}.npy"
    if path.exists():
        return np.load(path)
    cut = steps[FIRST_TRAINED_STEP].inputs[0]
    out = []
    t0 = time.time()
    for k, img in enumerate(images):
        live = {model.inputs[0]: preprocess(img)}
        for st in steps[:FIRST_TRAINED_STEP]:
            live[st.output] = graph.run_step(st, live)
        out.append(live[cut])
        if k % 200 == 0:
            print(f"  prefix {tag}: {k}/{len(images)} ({time.time() - t0:.0f} s)", file=sys.stderr)
    arr = np.stack(out)
    np.save(path, arr)
    return arr


@dataclass
class Layer:
    """A trainable suffix step with its integer parameters and scales."""

    step: graph.Step
    w: np.ndarray
    b: np.ndarray
    s_w: np.ndarray  #: per-output-channel weight scales (float32)
    s_x: float  #: input scale
    channels: tuple[int, ...] = ()
    gq: GradQuant = field(init=False)

    def __post_init__(self):
        self.gq = GradQuant.from_weight_scales(self.s_w)

    @property
    def quant(self) -> ConvQuant:
        return self.step.quant


def build(model, steps, seed: int) -> tuple[list, dict[int, Layer]]:
    rng = np.random.default_rng(seed)
    layers: dict[int, Layer] = {}
    for k in range(FIRST_TRAINED_STEP, len(steps) - 1):
        st = steps[k]
        if st.kind not in ("pw_conv2d", "dw_conv2d"):
            continue
        op = model.operators[st.op_index]
        w_t = model.tensors[op.inputs[1]]
        s_w = np.broadcast_to(np.asarray(w_t.quant.scale, np.float32), (st.geom.out_c,)).copy()
        s_x = float(model.tensors[st.inputs[0]].quant.scale[0])
        ch = ()
        if k in WEIGHT_STEPS:
            n = int(st.geom.in_c * WEIGHT_STEPS[k])
            ch = tuple(int(c) for c in rng.permutation(st.geom.in_c)[:n])
        layers[k] = Layer(st, st.weights.copy(), st.bias.copy(), s_w, s_x, ch)
    pool = steps[len(steps) - 2]
    s_feat = float(model.tensors[pool.output].quant.scale[0])
    zp_feat = int(model.tensors[pool.output].quant.zero_point[0])
    s_w = np.full(N_CLASSES, HEAD_SCALE, np.float32)
    hq = ConvQuant.from_scales(s_feat, zp_feat, s_w, LOGIT_SCALE, 0)
    head_step = graph.Step("fc", -1, (pool.output,), -1, None, hq)
    layers[-1] = Layer(head_step, np.zeros((N_CLASSES, pool.geom.in_c), np.int8), np.zeros(N_CLASSES, np.int32), s_w,
                       s_feat, tuple(range(pool.geom.in_c)))
    return steps[FIRST_TRAINED_STEP : len(steps) - 1], layers


def run_forward(suffix, layers, cut: int, x0: np.ndarray) -> dict[int, np.ndarray]:
    live = {cut: x0}
    for st in suffix:
        if st.kind in ("pw_conv2d", "dw_conv2d"):
            lay = layers[steps_index(st)]
            fn = forward.pw_conv2d_fwd_s8 if st.kind == "pw_conv2d" else forward.dw_conv2d_fwd_s8
            live[st.output] = fn(st.geom, st.quant, live[st.inputs[0]], lay.w, lay.b)
        else:
            live[st.output] = graph.run_step(st, live)
    head = layers[-1]
    feat = live[suffix[-1].output].reshape(-1)
    live["feat"] = feat
    live["logits"] = forward.fc_fwd_s8(head.quant, feat, head.w, head.b)
    return live


_STEP_INDEX: dict[int, int] = {}


def steps_index(st) -> int:
    return _STEP_INDEX[st.op_index]


class Trainer:
    def __init__(self, mode: str, lr: float, suffix, layers, seed: int):
        self.mode, self.suffix, self.layers = mode, suffix, layers
        self.sgd = U.Sgd.of(lr)
        self.rng = U.Rng(seed)
        self.headroom: list[float] = []

    # -- updates (same rounding machinery for every mode) --------------------------------------
    def _apply(self, lay: Layer, grad_w, grad_b, exp_w=None, exp_b=None):
        """Update ``lay`` from integer (``exp_*`` given) or real gradients."""
        sl = U.WeightSlice(lay.w.shape[0], 1, lay.w.shape[-1], lay.channels) if lay.channels else None
        qas_w = U.Qas.weights(lay.s_x, lay.s_w)
        qas_b = U.Qas.biases(lay.s_x, lay.s_w)
        if grad_w is not None:
            if exp_w is not None:
                lay.w = U.sgd_update_s8(sl, self.sgd, qas_w, grad_w, exp_w, self.rng, lay.w)
            else:
                steps_real = self.sgd.lr * grad_w / lay.s_w.astype(np.float64)[:, None]
                lay.w = U.apply_steps_s8(sl, self._round(steps_real), lay.w)
        if exp_b is not None:
            lay.b = U.sgd_update_s32(self.sgd, qas_b, grad_b, exp_b, self.rng, lay.b)
        else:
            steps_real = self.sgd.lr * grad_b / (lay.s_w.astype(np.float64) * np.float64(np.float32(lay.s_x)))
            st = self._round(steps_real)
            lay.b = np.clip(lay.b.astype(np.int64) - st, -(2**31), 2**31 - 1).astype(np.int32)

    def _round(self, steps_real: np.ndarray) -> np.ndarray:
        if self.mode == "float_trunc":
            return np.trunc(steps_real).astype(np.int64).ravel()
        return U.stochastic_round(self.sgd, U.step_q16_from_real(steps_real.ravel()), self.rng)

    # -- one training step ------------------------------------------------------------------------
    def step(self, x0: np.ndarray, label: int, cut: int) -> float:
        live = run_forward(self.suffix, self.layers, cut, x0)
        if self.mode == "int":
            return self._step_int(live, label)
        return self._step_float(live, label)

    def _step_int(self, live, label: int) -> float:
        head = self.layers[-1]
        _, loss, g, e = L.softmax_xent_s8(live["logits"], LOGIT_SCALE, 0, label)
        dy = I.mask_bwd_s16(I.mask_pack_s8(live["logits"], -128, 127), I.Grad(g, e))
        dx = I.fc_bwd_input_s16(head.gq, dy, head.w)
        dw = I.fc_bwd_weight_s16(head.quant.input_zp, head.channels, live["feat"], dy)
        db = I.bias_bwd_s16(dy)
        self._apply(head, dw.values, db.values, dw.exp, db.exp)
        grads = {self.suffix[-1].output: I.Grad(dx.values.reshape(self.suffix[-1].geom.out_shape), dx.exp)}
        for st in reversed(self.suffix):
            gout = grads.get(st.output)
            if gout is None:
                continue
            if st.kind == "avgpool":
                grads[st.inputs[0]] = self._note(I.avgpool_bwd_input_s16(st.geom, gout))
            elif st.kind == "add":
                grads[st.inputs[1]] = gout  # the block branch; the skip branch is not needed
            else:
                k = steps_index(st)
                lay = self.layers[k]
                dym = I.mask_bwd_s16(I.mask_pack_s8(live[st.output], st.quant.act_min, st.quant.act_max), gout)
                if k > FIRST_TRAINED_STEP:
                    fn = I.pw_conv2d_bwd_input_s16 if st.kind == "pw_conv2d" else I.dw_conv2d_bwd_input_s16
                    grads[st.inputs[0]] = self._note(fn(st.geom, lay.gq, dym, lay.w))
                dw = I.pw_conv2d_bwd_weight_s16(st.geom, st.quant.input_zp, lay.channels, live[st.inputs[0]], dym) \
                    if lay.channels else None
                db = I.bias_bwd_s16(dym)
                self._apply(lay, None if dw is None else dw.values, db.values, None if dw is None else dw.exp, db.exp)
        return loss

    def _note(self, g: I.Grad) -> I.Grad:
        m = int(np.abs(g.values.astype(np.int64)).max())
        if m:
            self.headroom.append(float(np.log2(m)))
        return g

    def _step_float(self, live, label: int) -> float:
        f32 = np.float32
        head = self.layers[-1]
        z = LOGIT_SCALE * (live["logits"].astype(np.float64))
        loss, g = L.softmax_xent_f32(z, label)
        g = (g * F.clamp_mask(live["logits"], -128, 127)).astype(f32)
        xh = (f32(head.s_x) * (live["feat"].astype(f32) - f32(head.quant.input_zp))).astype(f32)
        wh = (head.w.astype(f32) * head.s_w[:, None]).astype(f32)
        dx = F.fc_bwd_input_f32(wh, g)
        self._apply(head, F.fc_bwd_weight_f32(xh, g), g)
        grads = {self.suffix[-1].output: dx.reshape(self.suffix[-1].geom.out_shape).astype(f32)}
        for st in reversed(self.suffix):
            gout = grads.get(st.output)
            if gout is None:
                continue
            if st.kind == "avgpool":
                grads[st.inputs[0]] = F.avgpool_bwd_input_f32(st.geom, gout).astype(f32)
            elif st.kind == "add":
                grads[st.inputs[1]] = gout
            else:
                k = steps_index(st)
                lay = self.layers[k]
                dym = (gout * F.clamp_mask(live[st.output], st.quant.act_min, st.quant.act_max)).astype(f32)
                if k > FIRST_TRAINED_STEP:
                    if st.kind == "pw_conv2d":
                        wr = (lay.w.astype(f32) * lay.s_w[:, None, None, None]).astype(f32)
                        grads[st.inputs[0]] = F.conv2d_bwd_input_f32(st.geom, wr, dym).astype(f32)
                    else:
                        wr = (lay.w.astype(f32) * lay.s_w).astype(f32)
                        grads[st.inputs[0]] = F.dw_conv2d_bwd_input_f32(st.geom, wr, dym).astype(f32)
                dw = None
                if lay.channels:
                    xr = (f32(lay.s_x) * (live[st.inputs[0]].astype(f32) - f32(st.quant.input_zp))).astype(f32)
                    dw = F.conv2d_bwd_weight_f32(st.geom, xr, dym, list(lay.channels)).astype(f32)
                    dw = dw.reshape(dw.shape[0], -1)
                self._apply(lay, dw, F.bias_grad_f32(dym).astype(f32))
        return loss


def evaluate(suffix, layers, cut, feats, labels) -> float:
    hits = sum(int(np.argmax(run_forward(suffix, layers, cut, x)["logits"].astype(np.int32)) == y)
               for x, y in zip(feats, labels))
    return hits / len(labels)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-per-class", type=int, default=80)
    ap.add_argument("--test-per-class", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lrs", type=float, nargs="+", default=[0.003, 0.01, 0.03])
    ap.add_argument("--modes", nargs="+", default=["float", "int", "float_trunc"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "accuracy_grad_repr.json")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"{DATA} missing: apt-get install dataset-fashion-mnist", file=sys.stderr)
        return 2

    model = load(MODEL)
    steps = graph.lower(model)
    _STEP_INDEX.update({st.op_index: k for k, st in enumerate(steps)})
    cut = steps[FIRST_TRAINED_STEP].inputs[0]
    xtr, ytr = load_split("train", args.train_per_class, args.seed)
    xte, yte = load_split("test", args.test_per_class, args.seed + 1)
    t0 = time.time()
    ftr = prefix_features(model, steps, xtr, f"train{args.seed}")
    fte = prefix_features(model, steps, xte, f"test{args.seed + 1}")
    prefix_s = time.time() - t0

    runs = []
    for mode in args.modes:
        for lr in args.lrs:
            suffix, layers = build(model, steps, args.seed)
            tr = Trainer(mode, lr, suffix, layers, seed=1234)
            order_rng = np.random.default_rng(args.seed + 7)
            t1 = time.time()
            losses = []
            for _ in range(args.epochs):
                for i in order_rng.permutation(len(ytr)):
                    losses.append(tr.step(ftr[i], int(ytr[i]), cut))
            acc = evaluate(suffix, layers, cut, fte, yte)
            run = {"mode": mode, "lr": lr, "test_accuracy": acc,
                   "final_epoch_mean_loss": float(np.mean(losses[-len(ytr):])), "train_seconds": time.time() - t1}
            if tr.headroom:
                run["int_grad_log2_max"] = {"median": float(np.median(tr.headroom)),
                                            "p5": float(np.percentile(tr.headroom, 5)), "max": float(np.max(tr.headroom))}
            print(json.dumps(run), file=sys.stderr)
            runs.append(run)

    best = {m: max((r for r in runs if r["mode"] == m), key=lambda r: r["test_accuracy"]) for m in args.modes}
    result = {
        "protocol": {"model": MODEL.name, "input": [128, 128, 3], "train_per_class": args.train_per_class,
                     "test_per_class": args.test_per_class, "epochs": args.epochs, "batch": 1, "momentum": 0.0,
                     "trained": {"head": "10x160 int8 (zero init) + bias", "biases_of_steps": list(BIAS_STEPS),
                                 "weights_of_steps": {str(k): v for k, v in WEIGHT_STEPS.items()}},
                     "seed": args.seed, "prefix_seconds": prefix_s},
        "runs": runs,
        "best": {m: {"lr": r["lr"], "test_accuracy": r["test_accuracy"]} for m, r in best.items()},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'mode':<12} {'lr':>8} {'test acc':>9}")
    for r in runs:
        print(f"{r['mode']:<12} {r['lr']:>8g} {100 * r['test_accuracy']:>8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
