"""Golden vectors for the sparse-update and memory-saving kernels (``reference.fused``).

``python -m tt_host.reference.vectors_fused`` rewrites ``firmware/tests/kernels/fused_vectors.h``
(``--check``: exit non-zero when it is stale; the Python suite checks it too). The C test
``test_fused_vectors.c`` runs on the host, under ASan/UBSan and inside the f746-qemu image.

Intermediates, so a failure names the step that broke: the weight-update vectors store the
compact input (gather), the unfused int32 gradient and its exponent, and the slice, velocity
and PRNG counter after the step; the inverted-bottleneck vectors store the expanded tensor, the
depthwise output and the projection before the residual add, which the C test checks with the
single-layer kernels before it runs the fused kernel (out of place, and over its input where
``tt_irb_fwd_s8_can_alias``). The in-place depthwise input-gradient vectors (dY, dX and its
exponent) run through the out-of-place kernel before the in-place one, so a failure says
whether the values or the overwriting broke.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace

import numpy as np

from tt_host.paths import REPO_ROOT
from tt_host.reference import backward_int as I
from tt_host.reference import forward
from tt_host.reference import fused as Fz
from tt_host.reference import update as U
from tt_host.reference.fixedpoint import quantize_multiplier
from tt_host.reference.params import AddQuant, ConvGeom, ConvQuant, GradQuant
from tt_host.reference.vectors import _array

HEADER = REPO_ROOT / "firmware" / "tests" / "kernels" / "fused_vectors.h"
E = ConvGeom.explicit


def _quant(rng, out_c, input_zp, output_zp, lo=-128, hi=127) -> ConvQuant:
    pairs = [quantize_multiplier(2.0 ** rng.uniform(-12, -7)) for _ in range(out_c)]
    return ConvQuant(input_zp, output_zp, np.array([m for m, _ in pairs], np.int32),
                     np.array([s for _, s in pairs], np.int32), lo, hi)


def _i8(rng, shape):
    return rng.integers(-127, 128, shape, dtype=np.int8)


def _bias(rng, n):
    return rng.integers(-(2**12), 2**12, n, dtype=np.int32)


def _geom(g: ConvGeom) -> str:
    return "{" + ", ".join(str(v) for v in (g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.out_c, g.kernel_h, g.kernel_w,
                                             g.stride_h, g.stride_w, g.pad_top, g.pad_left, g.pad_bottom,
                                             g.pad_right)) + "}"


def _cq(q: ConvQuant | None, p: str, parts: list[str]) -> str:
    if q is None:
        return "{0, 0, 0, 0, 0, 0}"
    parts += [_array("int32_t", f"{p}_m", q.multiplier), _array("int32_t", f"{p}_s", q.shift)]
    return f"{{{q.input_zp}, {q.output_zp}, {p}_m, {p}_s, {q.act_min}, {q.act_max}}}"


def _aq(q: AddQuant | None) -> str:
    if q is None:
        return "{0}"
    return "{" + ", ".join(str(v) for v in (q.input1_zp, q.input2_zp, q.output_zp, q.left_shift, q.input1_multiplier,
                                             q.input1_shift, q.input2_multiplier, q.input2_shift, q.output_multiplier,
                                             q.output_shift, q.act_min, q.act_max)) + "}"


def _opt(ctype: str, name: str, a, parts: list[str]) -> str:
    if a is None:
        return "0"
    parts.append(_array(ctype, name, a))
    return name


# -- weight update -------------------------------------------------------------------------------


@dataclass
class WupdCase:
    name: str
    kind: str  # CONV2D, PW_CONV2D, DW_CONV2D, FC
    geom: ConvGeom
    input_zp: int
    x: np.ndarray
    channels: list[int]
    x_kept: np.ndarray
    dy: I.Grad
    dw: I.Grad  # the unfused gradient (intermediate)
    sgd: U.Sgd
    qas: U.Qas
    seed: int
    counter: int
    slice_before: np.ndarray
    slice_after: np.ndarray
    velocity_before: np.ndarray | None
    velocity_after: np.ndarray | None
    counter_after: int


def wupd_cases() -> list[WupdCase]:
    rng = np.random.default_rng(20250101)
    out = []
    for name, kind, g, momentum in [
        ("conv 3x3 s2 PAD folded", "CONV2D", E(7, 6, 5, 4, 3, 3, 2, 2, 1, 1, 0, 0), False),
        ("pw 1x1, momentum", "PW_CONV2D", E(5, 4, 12, 6, 1, 1), True),
        ("dw 3x3 s1 SAME", "DW_CONV2D", E(6, 6, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1), False),
        ("dw 5x5 s2 large dY (shifted gradient)", "DW_CONV2D", E(48, 48, 4, 4, 5, 5, 2, 2, 2, 2, 1, 1), False),
        ("fc head", "FC", E(1, 1, 24, 10, 1, 1), False),
    ]:
        zp = int(rng.integers(-128, 100))
        x = rng.integers(-128, 128, g.in_shape, dtype=np.int8)
        ch = [int(c) for c in rng.permutation(g.in_c)[: max(1, g.in_c // 3)]]
        bits = 15 if "large" in name else int(rng.integers(8, 14))
        dy = I.Grad(rng.integers(-(2**bits), 2**bits, g.out_shape if kind != "FC" else (g.out_c,)).astype(np.int16),
                    int(rng.integers(-24, -10)))
        if kind == "FC":
            xin = x.ravel()
            dw = I.fc_bwd_weight_s16(zp, ch, xin, dy)
            wshape = (g.out_c, g.in_c)
        elif kind == "DW_CONV2D":
            xin = x
            dw = I.dw_conv2d_bwd_weight_s16(g, zp, ch, x, dy)
            wshape = (1, g.kernel_h, g.kernel_w, g.in_c)
        else:
            xin = x
            dw = I.conv2d_bwd_weight_s16(g, zp, ch, x, dy)
            wshape = (g.out_c, g.kernel_h, g.kernel_w, g.in_c)
        x_kept = Fz.gather_channels_s8(xin, ch)
        w_full = _i8(rng, wshape)
        slice0 = Fz.gather_channels_s8(w_full, ch)
        # Every other case bounds its steps (a quarter of a quantization step).
        sgd = replace(U.Sgd.of(float(2.0 ** rng.uniform(-6, -2)), 0.9 if momentum else 0.0),
                      step_max_q16=(1 << 14) * (len(out) % 2))
        qas = U.Qas.of(2.0 ** rng.uniform(0, 6, g.out_c))
        seed, counter = int(rng.integers(0, 2**32)), int(rng.integers(0, 2**32))
        vel0 = rng.integers(-(2**18), 2**18, slice0.size).astype(np.int32) if momentum else None
        vel1 = None if vel0 is None else vel0.copy()
        r = U.Rng(seed, counter)
        if kind == "FC":
            after = Fz.fc_bwd_weight_update_s8(zp, x_kept, dy, sgd, qas, r, slice0, vel1)
        elif kind == "DW_CONV2D":
            after = Fz.dw_conv2d_bwd_weight_update_s8(g, zp, ch, x_kept, dy, sgd, qas, r, slice0, vel1)
        else:
            after = Fz.conv2d_bwd_weight_update_s8(g, zp, x_kept, dy, sgd, qas, r, slice0, vel1)
        out.append(WupdCase(name, kind, g, zp, x, ch, x_kept, dy, dw, sgd, qas, seed, counter, slice0, after, vel0,
                            vel1, r.counter))
    return out


# -- overlay and in-place forward ----------------------------------------------------------------


def overlay_cases():
    rng = np.random.default_rng(20250102)
    out = []
    for name, kind, g in [("conv 3x3 s1 overlay", "CONV2D", E(5, 5, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1)),
                          ("pw overlay 1/4 of the channels", "PW_CONV2D", E(4, 4, 16, 8, 1, 1)),
                          ("fc overlay", "FC", E(1, 1, 20, 7, 1, 1))]:
        q = _quant(rng, g.out_c, int(rng.integers(-128, 50)), int(rng.integers(-20, 20)))
        x = rng.integers(-128, 128, g.in_shape, dtype=np.int8)
        wshape = (g.out_c, g.in_c) if kind == "FC" else (g.out_c, g.kernel_h, g.kernel_w, g.in_c)
        w = _i8(rng, wshape)
        ch = [int(c) for c in rng.permutation(g.in_c)[: max(1, g.in_c // 4)]]
        trained = _i8(rng, wshape[:-1] + (len(ch),))
        b = _bias(rng, g.out_c)
        y = (Fz.fc_fwd_overlay_s8(q, x.ravel(), w, ch, trained, b) if kind == "FC"
             else Fz.conv2d_fwd_overlay_s8(g, q, x, w, ch, trained, b))
        out.append((name, kind, g, q, x, w, ch, trained, b, y))
    return out


def inplace_cases():
    rng = np.random.default_rng(20250103)
    out = []
    for name, kind, g in [("dw 3x3 s1 in place", "DW_CONV2D", E(6, 7, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1)),
                          ("dw 5x5 s2 PAD folded in place", "DW_CONV2D", E(9, 8, 3, 3, 5, 5, 2, 2, 2, 2, 1, 1)),
                          ("dw 7x7 s1 in place", "DW_CONV2D", E(7, 7, 2, 2, 7, 7, 1, 1, 3, 3, 3, 3)),
                          ("pw projection in place", "PW_CONV2D", E(5, 6, 12, 5, 1, 1)),
                          ("pw projection s2 in place", "PW_CONV2D", E(7, 7, 8, 8, 1, 1, 2, 2))]:
        q = _quant(rng, g.out_c, -128, int(rng.integers(-20, 20)))
        x = rng.integers(-128, 128, g.in_shape, dtype=np.int8)
        b = _bias(rng, g.out_c)
        if kind == "DW_CONV2D":
            w = _i8(rng, (1, g.kernel_h, g.kernel_w, g.out_c))
            y = forward.dw_conv2d_fwd_s8(g, q, x, w, b)
        else:
            w = _i8(rng, (g.out_c, 1, 1, g.in_c))
            y = forward.pw_conv2d_fwd_s8(g, q, x, w, b)
        out.append((name, kind, g, q, x, w, b, y))
    return out


def inplace_bwd_cases():
    """The depthwise input gradient written over dY (``tt_dw_conv2d_bwd_input_inplace_s16``):
    dY, and the dX and exponent of ``backward_int.dw_conv2d_bwd_input_s16``."""
    rng = np.random.default_rng(20250105)
    out = []
    for name, g, bits in [("dw 3x3 s1 SAME, dX over dY", E(8, 8, 12, 12, 3, 3, 1, 1, 1, 1, 1, 1), 12),
                          ("dw 5x5 s1, 7 channels (fewer than a group)", E(6, 7, 7, 7, 5, 5, 1, 1, 2, 2, 2, 2), 10),
                          ("dw 3x3 s1, 70 channels (two groups and a short one)", E(4, 5, 70, 70, 3, 3, 1, 1, 1, 1, 1, 1),
                           11),
                          ("dw 7x7 s1 on 4x5 (taps past the image)", E(4, 5, 6, 6, 7, 7, 1, 1, 3, 3, 3, 3), 9),
                          ("dw 3x3 s1 padding 0 top/left, 2 bottom/right", E(5, 6, 5, 5, 3, 3, 1, 1, 0, 0, 2, 2), 13),
                          ("dw 3x3 s1 saturated dY", E(6, 5, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1), 15)]:
        gq = GradQuant.from_weight_scales(2.0 ** (rng.uniform(-9, -5) - rng.uniform(0, 6, g.out_c)))
        w = _i8(rng, (1, g.kernel_h, g.kernel_w, g.out_c))
        dy = I.Grad(rng.integers(-(2**bits), 2**bits, g.out_shape).clip(-32768, 32767).astype(np.int16),
                    int(rng.integers(-30, -12)))
        out.append((name, g, gq, w, dy, I.dw_conv2d_bwd_input_s16(g, gq, dy, w)))
    return out


# -- fused inverted bottleneck -------------------------------------------------------------------


def irb_cases():
    rng = np.random.default_rng(20250104)
    out = []
    for name, geom in [
        ("stem 3x3 s2 + block without pw1", Fz.IrbGeom(E(16, 14, 3, 8, 3, 3, 2, 2, 1, 1, 0, 0),
                                                       E(8, 7, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1), 4, False)),
        ("pw1 x3, dw 3x3 s1, residual", Fz.IrbGeom(E(8, 8, 4, 12, 1, 1), E(8, 8, 12, 12, 3, 3, 1, 1, 1, 1, 1, 1), 4, True)),
        ("pw1 x4, dw 5x5 s2 PAD folded", Fz.IrbGeom(E(9, 10, 4, 16, 1, 1), E(9, 10, 16, 16, 5, 5, 2, 2, 2, 2, 1, 1), 6,
                                                    False)),
        ("pw1 x6, dw 7x7 s1 on 4x4, residual", Fz.IrbGeom(E(4, 4, 6, 36, 1, 1), E(4, 4, 36, 36, 7, 7, 1, 1, 3, 3, 3, 3),
                                                           6, True)),
        ("pw1 x3, dw 3x3 s1, output wider than input (no alias)",
         Fz.IrbGeom(E(6, 5, 4, 12, 1, 1), E(6, 5, 12, 12, 3, 3, 1, 1, 1, 1, 1, 1), 8, False)),
        ("no expansion, dw 3x3 s1, residual", Fz.IrbGeom(None, E(6, 6, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1), 8, True)),
    ]:
        e = geom.expand_c
        x_ = geom.expand
        relu = (-128, int(rng.integers(60, 128)))
        q = Fz.IrbQuant(_quant(rng, e, int(rng.integers(-128, 10)), -128, *relu) if x_ else None,
                        _quant(rng, e, -128, -128, *relu), _quant(rng, geom.out_c, -128, int(rng.integers(-10, 10))),
                        AddQuant.from_scales(0.05, 3, 0.08, -7, 0.1, -2) if geom.residual else None)
        w = Fz.IrbWeights(_i8(rng, (e, x_.kernel_h, x_.kernel_w, x_.in_c)) if x_ else None, _bias(rng, e) if x_ else None,
                          _i8(rng, (1, geom.dw.kernel_h, geom.dw.kernel_w, e)), _bias(rng, e),
                          _i8(rng, (geom.out_c, 1, 1, e)), _bias(rng, geom.out_c))
        x = rng.integers(-128, 128, geom.in_shape, dtype=np.int8)
        out.append((name, geom, q, w, x, Fz.irb_trace(geom, q, x, w), Fz.irb_can_alias(geom)))
    return out


# -- rendering -----------------------------------------------------------------------------------

_TYPES = """typedef enum { TT_FV_CONV2D, TT_FV_PW_CONV2D, TT_FV_DW_CONV2D, TT_FV_FC } tt_fv_kind_t;

/* Fused weight gradient + update: input -> gather -> (unfused dW, for the record) -> slice after. */
typedef struct {
    const char *name;
    tt_fv_kind_t kind;
    tt_conv_geom_t geom; /* FC: in_c and out_c only */
    int32_t input_zp;
    const int8_t *input; /* the full forward input */
    const int16_t *channels;
    int32_t n_channels;
    const int8_t *input_kept; /* expected gather */
    const int16_t *dy;
    int32_t dy_exp;
    const int32_t *dw; /* the unfused gradient [.. slice layout ..] and its exponent */
    int32_t dw_exp, dw_len;
    tt_sgd_t sgd;
    const int32_t *qas_mult, *qas_shift;
    uint32_t seed, counter, counter_after;
    const int8_t *slice_before, *slice_after;
    const int32_t *velocity_before, *velocity_after; /* NULL without momentum */
} tt_fv_wupd_t;

typedef struct {
    const char *name;
    tt_fv_kind_t kind;
    tt_conv_geom_t geom;
    tt_conv_quant_t quant;
    const int8_t *input, *weights;
    const int16_t *channels;
    int32_t n_channels;
    const int8_t *trained;
    const int32_t *bias;
    const int8_t *expected;
    int32_t expected_len;
} tt_fv_overlay_t;

typedef struct {
    const char *name;
    tt_fv_kind_t kind;
    tt_conv_geom_t geom;
    tt_conv_quant_t quant;
    const int8_t *input, *weights;
    const int32_t *bias;
    const int8_t *expected;
    int32_t input_len, expected_len;
} tt_fv_inplace_t;

/* In-place depthwise input gradient: dY in, dX and its exponent out, in dY's buffer. */
typedef struct {
    const char *name;
    tt_conv_geom_t geom;
    tt_grad_quant_t quant;
    const int8_t *weights;
    const int16_t *dy;
    int32_t dy_exp;
    const int16_t *dx;
    int32_t dx_exp, len;
} tt_fv_inplace_bwd_t;

typedef struct {
    const char *name;
    tt_irb_geom_t geom;
    tt_irb_quant_t quant;
    tt_irb_weights_t weights;
    const int8_t *input;
    const int8_t *expanded, *depthwise, *projected, *output; /* intermediates, then the block output */
    int32_t input_len, expanded_len, depthwise_len, output_len;
    int32_t can_alias;
} tt_fv_irb_t;
"""


def render() -> str:
    parts = ["/* Generated by `python -m tt_host.reference.vectors_fused` from the numpy reference. Do not edit. */\n",
             "#ifndef TT_FUSED_VECTORS_H\n#define TT_FUSED_VECTORS_H\n",
             "#include <stdint.h>\n\n#include \"tt/kernels/kernels.h\"\n", _TYPES]
    rows = []
    for k, c in enumerate(wupd_cases()):
        p = f"wu{k}"
        parts.append(f"/* {c.name} */\n")
        parts += [_array("int8_t", f"{p}_x", c.x), _array("int16_t", f"{p}_ch", np.array(c.channels)),
                  _array("int8_t", f"{p}_xk", c.x_kept), _array("int16_t", f"{p}_dy", c.dy.values),
                  _array("int32_t", f"{p}_dw", c.dw.values), _array("int32_t", f"{p}_qm", c.qas.multiplier),
                  _array("int32_t", f"{p}_qs", c.qas.shift), _array("int8_t", f"{p}_w0", c.slice_before),
                  _array("int8_t", f"{p}_w1", c.slice_after)]
        v0 = _opt("int32_t", f"{p}_v0", c.velocity_before, parts)
        v1 = _opt("int32_t", f"{p}_v1", c.velocity_after, parts)
        s = c.sgd
        rows.append(f'    {{"{c.name}", TT_FV_{c.kind}, {_geom(c.geom)}, {c.input_zp}, {p}_x, {p}_ch, {len(c.channels)}, '
                    f"{p}_xk, {p}_dy, {c.dy.exp}, {p}_dw, {c.dw.exp}, {c.dw.values.size}, "
                    f"{{{s.lr_multiplier}, {s.lr_shift}, {s.momentum_q15}, {s.step_max_q16}}}, {p}_qm, {p}_qs, {c.seed}u, {c.counter}u, "
                    f"{c.counter_after}u, {p}_w0, {p}_w1, {v0}, {v1}}},")
    parts.append("static const tt_fv_wupd_t tt_fv_wupd[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for k, (name, kind, g, q, x, w, ch, trained, b, y) in enumerate(overlay_cases()):
        p = f"ov{k}"
        parts.append(f"/* {name} */\n")
        cq = _cq(q, p, parts)
        parts += [_array("int8_t", f"{p}_x", x), _array("int8_t", f"{p}_w", w), _array("int16_t", f"{p}_ch", np.array(ch)),
                  _array("int8_t", f"{p}_t", trained), _array("int32_t", f"{p}_b", b), _array("int8_t", f"{p}_y", y)]
        rows.append(f'    {{"{name}", TT_FV_{kind}, {_geom(g)}, {cq}, {p}_x, {p}_w, {p}_ch, {len(ch)}, {p}_t, {p}_b, '
                    f"{p}_y, {y.size}}},")
    parts.append("static const tt_fv_overlay_t tt_fv_overlay[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for k, (name, kind, g, q, x, w, b, y) in enumerate(inplace_cases()):
        p = f"ip{k}"
        parts.append(f"/* {name} */\n")
        cq = _cq(q, p, parts)
        parts += [_array("int8_t", f"{p}_x", x), _array("int8_t", f"{p}_w", w), _array("int32_t", f"{p}_b", b),
                  _array("int8_t", f"{p}_y", y)]
        rows.append(f'    {{"{name}", TT_FV_{kind}, {_geom(g)}, {cq}, {p}_x, {p}_w, {p}_b, {p}_y, {x.size}, {y.size}}},')
    parts.append("static const tt_fv_inplace_t tt_fv_inplace[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for k, (name, g, gq, w, dy, dx) in enumerate(inplace_bwd_cases()):
        p = f"ib{k}"
        parts.append(f"/* {name} */\n")
        parts += [_array("int32_t", f"{p}_m", gq.multiplier), _array("int32_t", f"{p}_s", gq.shift),
                  _array("int8_t", f"{p}_w", w), _array("int16_t", f"{p}_dy", dy.values),
                  _array("int16_t", f"{p}_dx", dx.values)]
        rows.append(f'    {{"{name}", {_geom(g)}, {{{p}_m, {p}_s, {gq.scale_multiplier}, {gq.scale_shift}}}, {p}_w, '
                    f"{p}_dy, {dy.exp}, {p}_dx, {dx.exp}, {dy.values.size}}},")
    parts.append("static const tt_fv_inplace_bwd_t tt_fv_inplace_bwd[] = {\n" + "\n".join(rows) + "\n};\n")

    rows = []
    for k, (name, geom, q, w, x, tr, alias) in enumerate(irb_cases()):
        p = f"irb{k}"
        parts.append(f"/* {name} */\n")
        q1, qd, q2 = _cq(q.pw1, f"{p}_q1", parts), _cq(q.dw, f"{p}_qd", parts), _cq(q.pw2, f"{p}_q2", parts)
        ws = ", ".join(_opt(t, f"{p}_{n}", a, parts) for t, n, a in [
            ("int8_t", "w1", w.pw1_weights), ("int32_t", "b1", w.pw1_bias), ("int8_t", "wd", w.dw_weights),
            ("int32_t", "bd", w.dw_bias), ("int8_t", "w2", w.pw2_weights), ("int32_t", "b2", w.pw2_bias)])
        parts += [_array("int8_t", f"{p}_x", x), _array("int8_t", f"{p}_e", tr.expanded),
                  _array("int8_t", f"{p}_d", tr.depthwise), _array("int8_t", f"{p}_p", tr.projected),
                  _array("int8_t", f"{p}_y", tr.output)]
        xg = _geom(geom.expand) if geom.expand is not None else "{0}"
        g = f"{{{xg}, {_geom(geom.dw)}, {geom.out_c}, {int(geom.has_expand)}, {int(geom.residual)}}}"
        rows.append(f'    {{"{name}", {g}, {{{q1}, {qd}, {q2}, {_aq(q.add)}}}, {{{ws}}}, {p}_x, {p}_e, {p}_d, {p}_p, '
                    f"{p}_y, {x.size}, {tr.expanded.size}, {tr.depthwise.size}, {tr.output.size}, {int(alias)}}},")
    parts.append("static const tt_fv_irb_t tt_fv_irb[] = {\n" + "\n".join(rows) + "\n};\n")
    parts.append("#endif /* TT_FUSED_VECTORS_H */\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed header is out of date")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        if not HEADER.exists() or HEADER.read_text() != text:
            print(f"{HEADER} is out of date: run python -m tt_host.reference.vectors_fused", file=sys.stderr)
            return 1
        return 0
    HEADER.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
