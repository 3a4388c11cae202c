"""Golden vectors for the C kernel tests, generated from this numpy reference.

``python -m tt_host.reference.vectors`` rewrites ``firmware/tests/kernels/kernel_vectors.h``;
``--check`` exits non-zero when the committed header differs from what would be generated
(the Python test suite runs that check). Cases are deterministic (fixed seeds) and small;
they cover every forward kernel on the shapes the shared models use, scaled down: the 3x3
stride-2 stem with PAD-folded asymmetric padding, depthwise 3x3/5x5/7x7 at stride 1 and 2,
pointwise, per-channel fully connected, residual add, the global average pool, the mean, MUL and
hard swish (with their input gradients), standalone RELU / RELU6 / QUANTIZE.

Backward vectors carry every intermediate of one training step of each convolution-like case
(the forward output, its packed clamp mask, dY before and after the mask, dX, dW for a
shuffled channel subset, db, and the weights and biases after one SGD+QAS step with
stochastic rounding), so a failing C test names the stage that broke. Loss, average-pool and
residual-add backward vectors complete the set, with the max pool's forward and backward.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tt_host.paths import REPO_ROOT
from tt_host.reference import backward_int as I
from tt_host.reference import forward
from tt_host.reference import loss as L
from tt_host.reference import update as U
from tt_host.reference.fixedpoint import quantize_multiplier
from tt_host.reference.params import (
    AddQuant,
    ConcatGeom,
    ConvGeom,
    ConvQuant,
    GradQuant,
    HardSwishGrad,
    HardSwishQuant,
    LogisticQuant,
    MeanQuant,
    MulGrad,
    MulQuant,
    PoolQuant,
    RequantizeQuant,
)

HEADER = REPO_ROOT / "firmware" / "tests" / "kernels" / "kernel_vectors.h"


@dataclass
class ConvCase:
    name: str
    kind: str  # CONV2D, PW_CONV2D, DW_CONV2D, FC
    geom: ConvGeom
    quant: ConvQuant
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    y: np.ndarray


def _quant(rng, out_c, input_zp, output_zp, lo=-128, hi=127, log2_lo=-20.0, log2_hi=-6.0) -> ConvQuant:
    pairs = [quantize_multiplier(2.0 ** rng.uniform(log2_lo, log2_hi)) for _ in range(out_c)]
    return ConvQuant(input_zp, output_zp, np.array([m for m, _ in pairs], np.int32),
                     np.array([s for _, s in pairs], np.int32), lo, hi)


def _conv_case(rng, name, kind, geom, input_zp, output_zp, lo=-128, hi=127, with_bias=True, **q) -> ConvCase:
    quant = _quant(rng, geom.out_c, input_zp, output_zp, lo, hi, **q)
    x = rng.integers(-128, 128, geom.in_shape, dtype=np.int8)
    b = rng.integers(-(2**14), 2**14, geom.out_c, dtype=np.int32) if with_bias else None
    if kind == "DW_CONV2D":
        w = rng.integers(-127, 128, (1, geom.kernel_h, geom.kernel_w, geom.out_c), dtype=np.int8)
        y = forward.dw_conv2d_fwd_s8(geom, quant, x, w, b)
    elif kind == "FC":
        w = rng.integers(-127, 128, (geom.out_c, geom.in_c), dtype=np.int8)
        y = forward.fc_fwd_s8(quant, x.reshape(-1), w, b)
    else:
        w = rng.integers(-127, 128, (geom.out_c, geom.kernel_h, geom.kernel_w, geom.in_c), dtype=np.int8)
        fn = forward.pw_conv2d_fwd_s8 if kind == "PW_CONV2D" else forward.conv2d_fwd_s8
        y = fn(geom, quant, x, w, b)
    return ConvCase(name, kind, geom, quant, x, w, b, y)


def conv_cases() -> list[ConvCase]:
    rng = np.random.default_rng(20240603)
    E = ConvGeom.explicit
    return [
        _conv_case(rng, "stem 3x3 s2, PAD folded (1,1,0,0)", "CONV2D", E(8, 8, 3, 8, 3, 3, 2, 2, 1, 1, 0, 0), 0, -128),
        _conv_case(rng, "conv 3x3 s1 SAME, relu6-like clamp", "CONV2D", E(5, 6, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1), -128, -128, -128, 60),
        _conv_case(rng, "conv 2x3 s(2,1) asymmetric, no bias", "CONV2D", E(7, 5, 2, 3, 2, 3, 2, 1, 1, 0, 0, 2), 17, 5, with_bias=False),
        _conv_case(rng, "conv 1x1 with left shift", "CONV2D", E(3, 3, 6, 4, 1, 1), -128, 3, log2_lo=0.1, log2_hi=1.5),
        _conv_case(rng, "pw 1x1", "PW_CONV2D", E(4, 4, 16, 8, 1, 1), -128, -7),
        _conv_case(rng, "pw 1x1 stride 2", "PW_CONV2D", E(5, 5, 8, 12, 1, 1, 2, 2), -128, 10),
        _conv_case(rng, "dw 3x3 s1 SAME", "DW_CONV2D", E(6, 6, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1), -128, -128),
        _conv_case(rng, "dw 3x3 s2 PAD folded (1,1,0,0)", "DW_CONV2D", E(8, 8, 8, 8, 3, 3, 2, 2, 1, 1, 0, 0), -128, -128),
        _conv_case(rng, "dw 5x5 s1 SAME", "DW_CONV2D", E(6, 5, 4, 4, 5, 5, 1, 1, 2, 2, 2, 2), -128, -128),
        _conv_case(rng, "dw 5x5 s2 PAD folded (2,2,1,1)", "DW_CONV2D", E(8, 8, 4, 4, 5, 5, 2, 2, 2, 2, 1, 1), -128, -128),
        _conv_case(rng, "dw 7x7 s1 SAME", "DW_CONV2D", E(7, 7, 3, 3, 7, 7, 1, 1, 3, 3, 3, 3), -128, -128),
        _conv_case(rng, "dw 7x7 s2 PAD folded (3,3,2,2)", "DW_CONV2D", E(8, 8, 3, 3, 7, 7, 2, 2, 3, 3, 2, 2), -128, -128),
        _conv_case(rng, "dw 3x3 multiplier 2", "DW_CONV2D", E(4, 4, 3, 6, 3, 3, 1, 1, 1, 1, 1, 1), 9, -3),
        _conv_case(rng, "fc per-channel", "FC", E(1, 1, 40, 10, 1, 1), -25, -34),
        _conv_case(rng, "fc no bias", "FC", E(1, 1, 7, 3, 1, 1), 0, 0, with_bias=False),
    ]


def add_cases() -> list[tuple[str, AddQuant, np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    out = []
    for name, params in [
        ("add residual", (0.071, -3, 0.042, 11, 0.083, -9)),
        ("add equal scales", (0.05, 0, 0.05, 0, 0.1, 0)),
        ("add clamped", (0.2, -128, 0.01, 127, 0.15, 20, -10, 90)),
    ]:
        q = AddQuant.from_scales(*params)
        a = rng.integers(-128, 128, 37, dtype=np.int8)
        b = rng.integers(-128, 128, 37, dtype=np.int8)
        out.append((name, q, a, b, forward.add_fwd_s8(q, a, b)))
    return out


def pool_cases() -> list[tuple[str, ConvGeom, PoolQuant, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(11)
    E = ConvGeom.explicit
    out = []
    for name, g, q in [
        ("global 4x4", E(4, 4, 24, 24, 4, 4), PoolQuant()),
        ("3x3 s2 padded, clamp", E(5, 6, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1), PoolQuant(-100, 100)),
        ("2x2 s1 asymmetric pad", E(3, 3, 2, 2, 2, 2, 1, 1, 0, 1, 1, 0), PoolQuant()),
    ]:
        x = rng.integers(-128, 128, g.in_shape, dtype=np.int8)
        out.append((name, g, q, x, forward.avgpool_fwd_s8(g, q, x)))
    return out


def maxpool_cases() -> list[tuple[str, ConvGeom, PoolQuant, np.ndarray, np.ndarray]]:
    """MAX_POOL_2D: Keras' 2x2 stride 2, overlapping 3x3 stride 2 SAME (padding never wins), a
    fused ReLU clamp; small value ranges so windows tie (the gradient goes to the first)."""
    rng = np.random.default_rng(19)
    E, SAME = ConvGeom.explicit, ConvGeom.same
    out = []
    for name, g, q, lo in [
        ("2x2 s2", E(6, 8, 5, 5, 2, 2, 2, 2), PoolQuant(), -128),
        ("3x3 s2 SAME, ties", SAME(7, 5, 4, 4, 3, 3, 2, 2), PoolQuant(), -3),
        ("3x3 s1 SAME, relu clamp", SAME(4, 4, 3, 3, 3, 3, 1, 1), PoolQuant(-20, 127), -60),
    ]:
        x = rng.integers(lo, -lo if lo > -128 else 128, g.in_shape, dtype=np.int8)
        out.append((name, g, q, x, forward.maxpool_fwd_s8(g, q, x)))
    return out


def mul_cases() -> list[tuple]:
    """MUL forward and both input gradients: the same shape, a squeeze-excite gate (one value per
    channel, summed over 12 positions for dB), a constant scalar (dA only)."""
    rng = np.random.default_rng(29)
    out = []
    for name, n, b_numel in [("same shape", 40, 40), ("per-channel gate 4x3x8", 96, 8), ("scalar", 30, 1)]:
        q = MulQuant.from_scales(0.04, 5, 0.02, -7, 0.05, -3)
        g = MulGrad.from_scales(0.04, 0.02)
        a = rng.integers(-128, 128, n).astype(np.int8)
        b = rng.integers(-128, 128, b_numel).astype(np.int8)
        dy = I.Grad(rng.integers(-30000, 30000, n).astype(np.int16), -12)
        out.append((name, q, g, a, b, forward.mul_fwd_s8(q, a, b), dy, I.mul_bwd_a_s16(q, g, b, dy),
                    I.mul_bwd_b_s16(q, g, a, dy, b_numel)))
    return out


def logistic_cases() -> list[tuple]:
    """LOGISTIC over every int8 input, forward and input gradient, at a fine input scale (most
    inputs inside the range radius) and a coarse one (most saturate)."""
    rng = np.random.default_rng(37)
    out = []
    for name, (s_in, zp) in [("fine input scale", (0.02, 7)), ("coarse input scale", (0.25, -30))]:
        q = LogisticQuant.from_scale(s_in, zp)
        x = np.arange(-128, 128, dtype=np.int8)
        dy = I.Grad(rng.integers(-32768, 32768, x.size).astype(np.int16), -11)
        out.append((name, q, x, forward.logistic_fwd_s8(q, x), dy, I.logistic_bwd_input_s16(q, x, dy)))
    return out


def hard_swish_cases() -> list[tuple]:
    """HARD_SWISH over every int8 input, forward and input gradient, at a right-shifting and a
    left-shifting "relu-ish" exponent."""
    rng = np.random.default_rng(31)
    out = []
    for name, (s_in, zp, s_out, zp_out) in [("fine input scale", (0.01, -20, 0.008, -100)),
                                           ("coarse input scale", (0.2, 10, 0.15, -110))]:
        q, g = HardSwishQuant.from_scales(s_in, zp, s_out, zp_out), HardSwishGrad.from_scale(s_in, zp)
        x = np.arange(-128, 128, dtype=np.int8)
        dy = I.Grad(rng.integers(-32768, 32768, x.size).astype(np.int16), -9)
        out.append((name, q, g, x, forward.hard_swish_fwd_s8(q, x), dy, I.hard_swish_bwd_input_s16(g, x, dy)))
    return out


def concat_cases() -> list[tuple]:
    """Three inputs concatenated on channels (rows of 3, 5 and 2 over a 4x3 map), and input 1's
    gradient sliced back out."""
    rng = np.random.default_rng(37)
    geom = ConcatGeom(12, (3, 5, 2), (4, 3, 10))
    xs = [rng.integers(-128, 128, 12 * c).astype(np.int8) for c in geom.inners]
    dy = I.Grad(rng.integers(-32768, 32768, 12 * geom.total).astype(np.int16), -7)
    return [("channels 3+5+2", geom, xs, forward.concat_s8(geom, xs), dy,
             I.slice_s16(geom.outer, geom.total, geom.offset(1), geom.inners[1], dy))]


def requantize_cases() -> list[tuple]:
    """Standalone RELU (to a new scale), RELU6 (a clamp in place), LEAKY_RELU, int8 -> int8
    QUANTIZE, over every int8 input."""
    x = np.arange(-128, 128, dtype=np.int8)
    out = []
    for name, q in [("relu", RequantizeQuant.relu("RELU", 0.05, -10, 0.03, -128)),
                    ("relu6", RequantizeQuant.relu("RELU6", 0.03, -40, 0.03, -40)),
                    ("leaky relu 0.1", RequantizeQuant.leaky_relu(0.1, 0.04, 12, 0.05, -20)),
                    ("quantize", RequantizeQuant.requantize(0.02, 7, 0.09, -3))]:
        out.append((name, q, x, forward.requantize_s8(q, x)))
    return out


def mean_cases() -> list[tuple[str, ConvGeom, MeanQuant, np.ndarray, np.ndarray]]:
    """TFLite MEAN over H and W: unchanged quantization, requantized finer and coarser, a huge
    scale ratio (saturating), a tiny one (TFLM limits the 1/count fold by the shift), a single
    position."""
    rng = np.random.default_rng(17)
    out = []
    for name, (h, w, c), scales in [
        ("3x3x40 same quantization", (3, 3, 40), (0.05, -3, 0.05, -3)),
        ("7x5x12 requantized, finer output", (7, 5, 12), (0.04, 10, 0.013, -20)),
        ("24x24x9 coarser output", (24, 24, 9), (0.02, -128, 0.11, 5)),
        ("6x6x8 scale ratio 2^20, saturating", (6, 6, 8), (1.0, 0, 2.0 ** -20, 0)),
        ("6x6x8 scale ratio 2^-28: the 1/count fold limited by the shift", (6, 6, 8), (2.0 ** -28, 0, 1.0, 0)),
        ("1x1x16 one position", (1, 1, 16), (0.1, 4, 0.07, -7)),
    ]:
        g = ConvGeom.explicit(h, w, c, c, h, w)
        q = MeanQuant.from_scales(*scales, h * w)
        x = rng.integers(-128, 128, g.in_shape, dtype=np.int8)
        out.append((name, g, q, x, forward.mean_fwd_s8(g, q, x)))
    return out


@dataclass
class BwdCase:
    """One training step through a convolution-like case, with every intermediate."""

    case: ConvCase
    mask: np.ndarray
    dy: I.Grad
    dy_masked: I.Grad
    gq: GradQuant
    dx: I.Grad
    channels: list[int]
    dw: I.Grad
    db: I.Grad
    sgd: U.Sgd
    qas_w: U.Qas
    qas_b: U.Qas
    seed: int
    w_new: np.ndarray
    b_new: np.ndarray


def bwd_cases() -> list[BwdCase]:
    rng = np.random.default_rng(20240917)
    out = []
    for c in conv_cases():
        if c.kind == "DW_CONV2D" and c.geom.out_c != c.geom.in_c:
            continue  # backward supports depth multiplier 1
        g = c.geom
        mask = I.mask_pack_s8(c.y, c.quant.act_min, c.quant.act_max)
        bits = int(rng.integers(6, 16))
        dy = I.Grad(rng.integers(-(2**bits), 2**bits, c.y.shape).astype(np.int16), int(rng.integers(-30, -5)))
        dym = I.mask_bwd_s16(mask, dy)
        s_w = (2.0 ** rng.uniform(-9, -5, g.out_c)).astype(np.float32)
        s_x = float(np.float32(2.0 ** rng.uniform(-7, -3)))
        gq = GradQuant.from_weight_scales(s_w)
        ch = rng.permutation(g.in_c)[: max(1, g.in_c // 2)].tolist()
        if c.kind == "FC":
            dx = I.fc_bwd_input_s16(gq, dym, c.w)
            dw = I.fc_bwd_weight_s16(c.quant.input_zp, ch, c.x.ravel(), dym)
        elif c.kind == "DW_CONV2D":
            dx = I.dw_conv2d_bwd_input_s16(g, gq, dym, c.w)
            dw = I.dw_conv2d_bwd_weight_s16(g, c.quant.input_zp, ch, c.x, dym)
        else:
            fn = I.pw_conv2d_bwd_input_s16 if c.kind == "PW_CONV2D" else I.conv2d_bwd_input_s16
            dx = fn(g, gq, dym, c.w)
            wfn = I.pw_conv2d_bwd_weight_s16 if c.kind == "PW_CONV2D" else I.conv2d_bwd_weight_s16
            dw = wfn(g, c.quant.input_zp, ch, c.x, dym)
        db = I.bias_bwd_s16(dym, g.out_c)
        # Every other case bounds its steps (half a quantization step: most large steps clamp).
        sgd = replace(U.Sgd.of(float(2.0 ** rng.uniform(-7, -2))), step_max_q16=(1 << 15) * (len(out) % 2))
        qas_w, qas_b = U.Qas.weights(s_x, s_w), U.Qas.biases(s_x, s_w)
        seed = int(rng.integers(0, 2**32))
        r = U.Rng(seed)
        sl = _slice(c, ch)
        w_new = U.sgd_update_s8(sl, sgd, qas_w, dw.values, dw.exp, r, c.w)
        b0 = c.b if c.b is not None else np.zeros(g.out_c, np.int32)
        b_new = U.sgd_update_s32(sgd, qas_b, db.values, db.exp, r, b0)
        out.append(BwdCase(c, mask, dy, dym, gq, dx, ch, dw, db, sgd, qas_w, qas_b, seed, w_new, b_new))
    return out


def _slice(c: ConvCase, ch: list[int]) -> U.WeightSlice:
    g = c.geom
    if c.kind == "DW_CONV2D":
        return U.WeightSlice(g.out_c, g.kernel_h * g.kernel_w, g.in_c, tuple(ch), True)
    return U.WeightSlice(g.out_c, g.kernel_h * g.kernel_w, g.in_c, tuple(ch))


def loss_cases() -> list[tuple[str, np.ndarray, float, int, int, tuple]]:
    rng = np.random.default_rng(99)
    out = []
    for name, n, scale, zp in [("10 classes", 10, 0.1, -3), ("confident", 10, 0.08, 0), ("1000 classes", 1000, 0.05, 7),
                               ("one class", 1, 0.2, 0)]:
        q = rng.integers(-128, 128, n).astype(np.int8)
        if name == "confident":
            q[:] = -100
            q[4] = 120
        label = 4 if name == "confident" else int(rng.integers(0, n))
        out.append((name, q, scale, zp, label, L.softmax_xent_s8(q, scale, zp, label)))
    return out


def pool_bwd_cases() -> list[tuple[str, ConvGeom, I.Grad, I.Grad]]:
    rng = np.random.default_rng(12)
    out = []
    for name, g, _ in [(n, g, q) for n, g, q, _, _ in pool_cases()]:
        dy = I.Grad(rng.integers(-30000, 30000, g.out_shape).astype(np.int16), -17)
        out.append((name, g, dy, I.avgpool_bwd_input_s16(g, dy)))
    return out


def maxpool_bwd_cases() -> list[tuple[str, ConvGeom, I.Grad, I.Grad]]:
    """The input gradient of every :func:`maxpool_cases` case (same input), at full-range dY
    (the overlapping case halves)."""
    rng = np.random.default_rng(23)
    out = []
    for name, g, _, x, _ in maxpool_cases():
        dy = I.Grad(rng.integers(-32768, 32768, g.out_shape).astype(np.int16), -13)
        out.append((name, g, dy, I.maxpool_bwd_input_s16(g, x, dy)))
    return out


def add_bwd_cases() -> list[tuple[str, I.Grad, I.Grad, I.Grad]]:
    rng = np.random.default_rng(13)
    out = []
    for name, ea, eb, big in [("same exponent", -12, -12, False), ("other smaller", -10, -14, False),
                              ("overflow halves", -9, -9, True), ("far apart", -5, -45, False)]:
        hi = 32767 if big else 9000
        a = I.Grad(rng.integers(-hi, hi, 29).astype(np.int16), ea)
        b = I.Grad(rng.integers(-hi, hi, 29).astype(np.int16), eb)
        out.append((name, a, b, I.add_bwd_input_s16(a, b)))
    return out


def _array(ctype: str, name: str, values: np.ndarray) -> str:
    flat = [int(v) for v in np.asarray(values).ravel()]
    lines = []
    for i in range(0, len(flat), 16):
        lines.append("    " + ", ".join(str(v) for v in flat[i : i + 16]) + ",")
    return f"static const {ctype} {name}[{len(flat)}] = {{\n" + "\n".join(lines) + "\n};\n"


def render() -> str:
    parts = [
        "/* Generated by `python -m tt_host.reference.vectors` from the numpy reference. Do not edit. */\n",
        "#ifndef TT_KERNEL_VECTORS_H\n#define TT_KERNEL_VECTORS_H\n",
        "#include <stdint.h>\n\n#include \"tt/kernels/kernels.h\"\n",
        "typedef enum { TT_VEC_CONV2D, TT_VEC_PW_CONV2D, TT_VEC_DW_CONV2D, TT_VEC_FC } tt_vec_kind_t;\n",
        (
            "/* One convolution-like case; for TT_VEC_FC only geom.in_c and geom.out_c matter. */\n"
            "typedef struct {\n    const char *name;\n    tt_vec_kind_t kind;\n    tt_conv_geom_t geom;\n"
        "    int32_t input_zp, output_zp, act_min, act_max;\n    const int32_t *multiplier;\n    const int32_t *shift;\n"
        "    const int8_t *input;\n    const int8_t *weights;\n    const int32_t *bias; /* NULL: no bias */\n"
        "    const int8_t *expected;\n    int32_t expected_len;\n} tt_conv_vector_t;\n"
        ),
        (
            "typedef struct {\n    const char *name;\n    tt_add_quant_t quant;\n    int32_t size;\n"
            "    const int8_t *input1;\n    const int8_t *input2;\n    const int8_t *expected;\n} tt_add_vector_t;\n"
        ),
        (
            "typedef struct {\n    const char *name;\n    tt_conv_geom_t geom;\n    tt_pool_quant_t quant;\n"
            "    const int8_t *input;\n    const int8_t *expected;\n    int32_t expected_len;\n} tt_pool_vector_t;\n"
        ),
        (
            "/* Three inputs and the slice of input 1's gradient. */\n"
            "typedef struct {\n    const char *name;\n    int32_t outer, inners[3];\n    const int8_t *inputs[3];\n"
            "    const int8_t *expected;\n    const int16_t *dy;\n    const int16_t *d1;\n} tt_concat_vector_t;\n"
        ),
        (
            "typedef struct {\n    const char *name;\n    tt_requantize_quant_t quant;\n    int32_t n;\n"
            "    const int8_t *x, *expected;\n} tt_requantize_vector_t;\n"
        ),
        (
            "typedef struct {\n    const char *name;\n    tt_mul_quant_t quant;\n    tt_mul_grad_t grad;\n"
            "    int32_t n, b_numel;\n    const int8_t *a, *b, *expected;\n    const int16_t *dy;\n    int32_t dy_exp;\n"
            "    const int16_t *da;\n    int32_t da_exp;\n    const int16_t *db;\n    int32_t db_exp;\n} tt_mul_vector_t;\n"
        ),
        (
            "typedef struct {\n    const char *name;\n    tt_hard_swish_quant_t quant;\n    tt_hard_swish_grad_t grad;\n"
            "    int32_t n;\n    const int8_t *x, *expected;\n    const int16_t *dy;\n    int32_t dy_exp;\n"
            "    const int16_t *dx;\n    int32_t dx_exp;\n} tt_hard_swish_vector_t;\n"
        ),
        (
            "typedef struct {\n    const char *name;\n    tt_logistic_quant_t quant;\n"
            "    int32_t n;\n    const int8_t *x, *expected;\n    const int16_t *dy;\n    int32_t dy_exp;\n"
            "    const int16_t *dx;\n    int32_t dx_exp;\n} tt_logistic_vector_t;\n"
        ),
        (
            "typedef struct {\n    const char *name;\n    tt_conv_geom_t geom;\n    tt_mean_quant_t quant;\n"
            "    const int8_t *input;\n    const int8_t *expected;\n} tt_mean_vector_t;\n"
        ),
    ]

    def geom_init(g: ConvGeom) -> str:
        return "{" + ", ".join(str(v) for v in (g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.out_c, g.kernel_h,
                                                 g.kernel_w, g.stride_h, g.stride_w, g.pad_top, g.pad_left,
                                                 g.pad_bottom, g.pad_right)) + "}"

    rows = []
    for i, c in enumerate(conv_cases()):
        p = f"conv{i}"
        parts.append(f"/* {c.name} */\n")
        parts.append(_array("int32_t", f"{p}_mult", c.quant.multiplier))
        parts.append(_array("int32_t", f"{p}_shift", c.quant.shift))
        parts.append(_array("int8_t", f"{p}_input", c.x))
        parts.append(_array("int8_t", f"{p}_weights", c.w))
        if c.b is not None:
            parts.append(_array("int32_t", f"{p}_bias", c.b))
        parts.append(_array("int8_t", f"{p}_expected", c.y))
        q = c.quant
        rows.append(
            f'    {{"{c.name}", TT_VEC_{c.kind}, {geom_init(c.geom)}, {q.input_zp}, {q.output_zp}, {q.act_min}, '
            f"{q.act_max}, {p}_mult, {p}_shift, {p}_input, {p}_weights, {p + '_bias' if c.b is not None else '0'}, "
            f"{p}_expected, {c.y.size}}},"
        )
    parts.append("static const tt_conv_vector_t tt_conv_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for i, (name, q, a, b, y) in enumerate(add_cases()):
        p = f"add{i}"
        parts.append(f"/* {name} */\n")
        parts += [_array("int8_t", f"{p}_in1", a), _array("int8_t", f"{p}_in2", b), _array("int8_t", f"{p}_expected", y)]
        qi = ", ".join(str(v) for v in (q.input1_zp, q.input2_zp, q.output_zp, q.left_shift, q.input1_multiplier,
                                         q.input1_shift, q.input2_multiplier, q.input2_shift, q.output_multiplier,
                                         q.output_shift, q.act_min, q.act_max))
        rows.append(f'    {{"{name}", {{{qi}}}, {a.size}, {p}_in1, {p}_in2, {p}_expected}},')
    parts.append("static const tt_add_vector_t tt_add_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for i, (name, g, q, x, y) in enumerate(pool_cases()):
        p = f"pool{i}"
        parts.append(f"/* {name} */\n")
        parts += [_array("int8_t", f"{p}_input", x), _array("int8_t", f"{p}_expected", y)]
        rows.append(f'    {{"{name}", {geom_init(g)}, {{{q.act_min}, {q.act_max}}}, {p}_input, {p}_expected, {y.size}}},')
    parts.append("static const tt_pool_vector_t tt_pool_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for i, (name, g, q, x, y) in enumerate(maxpool_cases()):
        p = f"maxpool{i}"
        parts.append(f"/* {name} */\n")
        parts += [_array("int8_t", f"{p}_input", x), _array("int8_t", f"{p}_expected", y)]
        rows.append(f'    {{"{name}", {geom_init(g)}, {{{q.act_min}, {q.act_max}}}, {p}_input, {p}_expected, {y.size}}},')
    parts.append("static const tt_pool_vector_t tt_maxpool_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for i, (name, geom, xs, y, dy, d1) in enumerate(concat_cases()):
        p = f"concat{i}"
        parts += [_array("int8_t", f"{p}_in{k}", x) for k, x in enumerate(xs)]
        parts += [_array("int8_t", f"{p}_expected", y), _array("int16_t", f"{p}_dy", dy.values),
                  _array("int16_t", f"{p}_d1", d1.values)]
        inners = ", ".join(map(str, geom.inners))
        rows.append(f'    {{"{name}", {geom.outer}, {{{inners}}}, {{{p}_in0, {p}_in1, {p}_in2}}, {p}_expected, {p}_dy, '
                    f"{p}_d1}},")
    parts.append("static const tt_concat_vector_t tt_concat_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for i, (name, q, x, y) in enumerate(requantize_cases()):
        p = f"requant{i}"
        parts += [_array("int8_t", f"{p}_x", x), _array("int8_t", f"{p}_expected", y)]
        qi = ", ".join(str(v) for v in (q.input_zp, q.output_zp, q.multiplier, q.shift, q.negative_multiplier,
                                         q.negative_shift, q.act_min, q.act_max))
        rows.append(f'    {{"{name}", {{{qi}}}, {x.size}, {p}_x, {p}_expected}},')
    parts.append("static const tt_requantize_vector_t tt_requantize_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for i, (name, q, g, a, b, y, dy, da, db) in enumerate(mul_cases()):
        p = f"mul{i}"
        parts.append(f"/* {name} */\n")
        parts += [_array("int8_t", f"{p}_a", a), _array("int8_t", f"{p}_b", b), _array("int8_t", f"{p}_expected", y),
                  _array("int16_t", f"{p}_dy", dy.values), _array("int16_t", f"{p}_da", da.values),
                  _array("int16_t", f"{p}_db", db.values)]
        qi = ", ".join(str(v) for v in (q.input1_zp, q.input2_zp, q.output_zp, q.multiplier, q.shift, q.act_min, q.act_max))
        gi = ", ".join(str(v) for v in (g.a_multiplier, g.a_shift, g.b_multiplier, g.b_shift))
        rows.append(f'    {{"{name}", {{{qi}}}, {{{gi}}}, {a.size}, {b.size}, {p}_a, {p}_b, {p}_expected, {p}_dy, {dy.exp}, '
                    f"{p}_da, {da.exp}, {p}_db, {db.exp}}},")
    parts.append("static const tt_mul_vector_t tt_mul_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for i, (name, q, g, x, y, dy, dx) in enumerate(hard_swish_cases()):
        p = f"hswish{i}"
        parts.append(f"/* {name} */\n")
        parts += [_array("int8_t", f"{p}_x", x), _array("int8_t", f"{p}_expected", y),
                  _array("int16_t", f"{p}_dy", dy.values), _array("int16_t", f"{p}_dx", dx.values)]
        qi = ", ".join(str(v) for v in (q.input_zp, q.output_zp, q.output_multiplier, q.output_exponent,
                                         q.reluish_multiplier, q.reluish_exponent))
        gi = ", ".join(str(v) for v in (g.input_zp, g.multiplier, g.shift, g.lo, g.hi))
        rows.append(f'    {{"{name}", {{{qi}}}, {{{gi}}}, {x.size}, {p}_x, {p}_expected, {p}_dy, {dy.exp}, {p}_dx, '
                    f"{dx.exp}}},")
    parts.append("static const tt_hard_swish_vector_t tt_hard_swish_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for i, (name, q, x, y, dy, dx) in enumerate(logistic_cases()):
        p = f"logistic{i}"
        parts.append(f"/* {name} */\n")
        parts += [_array("int8_t", f"{p}_x", x), _array("int8_t", f"{p}_expected", y),
                  _array("int16_t", f"{p}_dy", dy.values), _array("int16_t", f"{p}_dx", dx.values)]
        qi = ", ".join(str(v) for v in (q.input_zp, q.range_radius, q.multiplier, q.left_shift))
        rows.append(f'    {{"{name}", {{{qi}}}, {x.size}, {p}_x, {p}_expected, {p}_dy, {dy.exp}, {p}_dx, {dx.exp}}},')
    parts.append("static const tt_logistic_vector_t tt_logistic_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for i, (name, g, q, x, y) in enumerate(mean_cases()):
        p = f"mean{i}"
        parts.append(f"/* {name} */\n")
        parts += [_array("int8_t", f"{p}_input", x), _array("int8_t", f"{p}_expected", y)]
        qi = ", ".join(str(v) for v in (q.input_zp, q.output_zp, q.multiplier, q.shift, q.act_min, q.act_max))
        rows.append(f'    {{"{name}", {geom_init(g)}, {{{qi}}}, {p}_input, {p}_expected}},')
    parts.append("static const tt_mean_vector_t tt_mean_vectors[] = {\n" + "\n".join(rows) + "\n};\n")
    parts += _render_backward(geom_init)
    parts.append("#endif /* TT_KERNEL_VECTORS_H */\n")
    return "\n".join(parts)


def _render_backward(geom_init) -> list[str]:
    parts = [
        (
            "/* One training step of a convolution-like case (index into tt_conv_vectors), with every\n"
            " * intermediate. dW layout: [out_c][kh][kw][n_channels] (depthwise [kh][kw][n_channels]). */\n"
            "typedef struct {\n    int32_t conv_index;\n    const uint8_t *mask;\n    const int16_t *dy;\n"
            "    int32_t dy_exp;\n    const int16_t *dy_masked;\n    const int32_t *gq_mult;\n    const int32_t *gq_shift;\n"
            "    int32_t gq_scale_mult, gq_scale_shift;\n    const int16_t *dx;\n    int32_t dx_exp;\n"
            "    const int16_t *channels;\n    int32_t n_channels;\n    const int32_t *dw;\n    int32_t dw_exp, dw_len;\n"
            "    const int32_t *db;\n    int32_t db_exp;\n    tt_sgd_t sgd;\n    const int32_t *qas_w_mult;\n"
            "    const int32_t *qas_w_shift;\n    const int32_t *qas_b_mult;\n    const int32_t *qas_b_shift;\n"
            "    uint32_t seed;\n    const int8_t *w_new;\n    const int32_t *b_new;\n} tt_bwd_vector_t;\n"
        ),
        (
            "typedef struct {\n    const char *name;\n    int32_t n;\n    tt_logit_quant_t quant;\n"
            "    const int8_t *logits;\n    int32_t label;\n    int32_t predicted;\n    uint32_t loss_bits;\n"
            "    const int16_t *grad;\n    int32_t grad_exp;\n} tt_loss_vector_t;\n"
        ),
        (
            "typedef struct {\n    const char *name;\n    tt_conv_geom_t geom;\n    const int16_t *dy;\n    int32_t dy_exp;\n"
            "    const int16_t *dx;\n    int32_t dx_exp;\n} tt_pool_bwd_vector_t;\n"
        ),
        "/* The input gradient of tt_maxpool_vectors[i] (same geometry and forward input). */\n"
        "typedef struct {\n    const int16_t *dy;\n    int32_t dy_exp;\n    const int16_t *dx;\n    int32_t dx_exp;\n"
        "} tt_maxpool_bwd_vector_t;\n",
        (
            "typedef struct {\n    const char *name;\n    int32_t size;\n    const int16_t *a;\n    int32_t a_exp;\n"
            "    const int16_t *b;\n    int32_t b_exp;\n    const int16_t *sum;\n    int32_t sum_exp;\n} tt_add_bwd_vector_t;\n"
        ),
    ]
    cases = conv_cases()
    rows = []
    for k, bc in enumerate(bwd_cases()):
        i = next(j for j, c in enumerate(cases) if c.name == bc.case.name)
        p = f"bwd{k}"
        parts.append(f"/* backward of {bc.case.name} */\n")
        parts += [
            _array("uint8_t", f"{p}_mask", bc.mask), _array("int16_t", f"{p}_dy", bc.dy.values),
            _array("int16_t", f"{p}_dym", bc.dy_masked.values), _array("int32_t", f"{p}_gqm", bc.gq.multiplier),
            _array("int32_t", f"{p}_gqs", bc.gq.shift), _array("int16_t", f"{p}_dx", bc.dx.values),
            _array("int16_t", f"{p}_ch", np.array(bc.channels)), _array("int32_t", f"{p}_dw", bc.dw.values),
            _array("int32_t", f"{p}_db", bc.db.values), _array("int32_t", f"{p}_qwm", bc.qas_w.multiplier),
            _array("int32_t", f"{p}_qws", bc.qas_w.shift), _array("int32_t", f"{p}_qbm", bc.qas_b.multiplier),
            _array("int32_t", f"{p}_qbs", bc.qas_b.shift), _array("int8_t", f"{p}_wn", bc.w_new),
            _array("int32_t", f"{p}_bn", bc.b_new),
        ]
        sg = bc.sgd
        rows.append(
            f"    {{{i}, {p}_mask, {p}_dy, {bc.dy.exp}, {p}_dym, {p}_gqm, {p}_gqs, {bc.gq.scale_multiplier}, "
            f"{bc.gq.scale_shift}, {p}_dx, {bc.dx.exp}, {p}_ch, {len(bc.channels)}, {p}_dw, {bc.dw.exp}, {bc.dw.values.size}, "
            f"{p}_db, {bc.db.exp}, {{{sg.lr_multiplier}, {sg.lr_shift}, {sg.momentum_q15}, {sg.step_max_q16}}}, {p}_qwm, {p}_qws, {p}_qbm, "
            f"{p}_qbs, {bc.seed}u, {p}_wn, {p}_bn}},"
        )
    parts.append("static const tt_bwd_vector_t tt_bwd_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for k, (name, q, scale, zp, label, (pred, loss, grad, gexp)) in enumerate(loss_cases()):
        p = f"loss{k}"
        parts += [_array("int8_t", f"{p}_logits", q), _array("int16_t", f"{p}_grad", grad)]
        bits = int(np.float32(loss).view(np.uint32))
        rows.append(f'    {{"{name}", {q.size}, {{{float(np.float32(scale)).hex()}f, {zp}}}, {p}_logits, {label}, {pred}, '
                    f"0x{bits:08x}u, {p}_grad, {gexp}}},")
    parts.append("static const tt_loss_vector_t tt_loss_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for k, (name, g, dy, dx) in enumerate(pool_bwd_cases()):
        p = f"poolb{k}"
        parts += [_array("int16_t", f"{p}_dy", dy.values), _array("int16_t", f"{p}_dx", dx.values)]
        rows.append(f'    {{"{name}", {geom_init(g)}, {p}_dy, {dy.exp}, {p}_dx, {dx.exp}}},')
    parts.append("static const tt_pool_bwd_vector_t tt_pool_bwd_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for k, (name, g, dy, dx) in enumerate(maxpool_bwd_cases()):
        p = f"maxpoolb{k}"
        parts += [_array("int16_t", f"{p}_dy", dy.values), _array("int16_t", f"{p}_dx", dx.values)]
        rows.append(f"    {{{p}_dy, {dy.exp}, {p}_dx, {dx.exp}}}, /* {name} */")
    parts.append("static const tt_maxpool_bwd_vector_t tt_maxpool_bwd_vectors[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for k, (name, a, b, sm) in enumerate(add_bwd_cases()):
        p = f"addb{k}"
        parts += [_array("int16_t", f"{p}_a", a.values), _array("int16_t", f"{p}_b", b.values),
                  _array("int16_t", f"{p}_sum", sm.values)]
        rows.append(f'    {{"{name}", {a.values.size}, {p}_a, {a.exp}, {p}_b, {b.exp}, {p}_sum, {sm.exp}}},')
    parts.append("static const tt_add_bwd_vector_t tt_add_bwd_vectors[] = {\n" + "\n".join(rows) + "\n};\n")
    return parts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed header is out of date")
    ap.add_argument("--output", type=Path, default=HEADER)
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python -m tt_host.reference.vectors", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
