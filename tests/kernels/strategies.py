"""Hypothesis strategies for kernel parameters (small shapes, every padding/stride mix)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from tt_host.reference.fixedpoint import quantize_multiplier
from tt_host.reference.params import AddQuant, ConvGeom, ConvQuant


@st.composite
def conv_geoms(draw, kernel=None, max_hw=9, max_c=8, pad=True, same_c=False, out_mult=None):
    kh, kw = kernel if kernel is not None else (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pads = [draw(st.integers(0, k - 1)) if pad else 0 for k in (kh, kw, kh, kw)]
    in_h = draw(st.integers(max(1, kh - pads[0] - pads[2]), max_hw))
    in_w = draw(st.integers(max(1, kw - pads[1] - pads[3]), max_hw))
    in_c = draw(st.integers(1, max_c))
    if same_c:
        out_c = in_c
    elif out_mult is not None:
        out_c = in_c * draw(st.integers(1, out_mult))
    else:
        out_c = draw(st.integers(1, max_c))
    return ConvGeom.explicit(in_h, in_w, in_c, out_c, kh, kw, sh, sw, *pads)


def _act_range(draw):
    lo = draw(st.sampled_from([-128, -128, -128, -100, 0]))
    hi = draw(st.sampled_from([127, 127, 127, 100, lo + 1]))
    return lo, max(lo, hi)


@st.composite
def conv_quants(draw, out_c):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Real multipliers from 2^-24 to 2^2: right shifts up to ~24, and a few left shifts.
    reals = 2.0 ** rng.uniform(-24, 2, size=out_c)
    pairs = [quantize_multiplier(r) for r in reals]
    lo, hi = _act_range(draw)
    return ConvQuant(
        input_zp=draw(st.integers(-128, 127)),
        output_zp=draw(st.integers(-128, 127)),
        multiplier=np.array([m for m, _ in pairs], dtype=np.int32),
        shift=np.array([s for _, s in pairs], dtype=np.int32),
        act_min=lo,
        act_max=hi,
    )


@st.composite
def add_quants(draw):
    s1, s2, so = (draw(st.floats(1e-3, 1.0)) for _ in range(3))
    lo, hi = _act_range(draw)
    return AddQuant.from_scales(s1, draw(st.integers(-128, 127)), s2, draw(st.integers(-128, 127)),
                                so, draw(st.integers(-128, 127)), lo, hi)


seeds = st.integers(0, 2**32 - 1)


def int8s(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def biases(rng: np.random.Generator, n: int, with_bias: bool) -> np.ndarray | None:
    return rng.integers(-(2**20), 2**20, size=n, dtype=np.int32) if with_bias else None
