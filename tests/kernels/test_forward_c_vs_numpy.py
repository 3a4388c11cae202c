"""Forward kernels: the C library against the numpy reference, bit for bit, on random
shapes, strides, asymmetric paddings and quantization parameters."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tt_host.reference import forward
from tt_host.reference.params import PoolQuant

from .strategies import add_quants, biases, conv_geoms, conv_quants, int8s, seeds

SETTINGS = settings(max_examples=150, deadline=None)


def assert_same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    bad = np.argwhere(got != want)
    assert bad.size == 0, (
        f"{what}: {len(bad)} of {want.size} elements differ; first at {bad[0].tolist()}: "
        f"C {got[tuple(bad[0])]}, numpy {want[tuple(bad[0])]}"
    )


@SETTINGS
@given(data=st.data(), seed=seeds, with_bias=st.booleans())
def test_conv2d(native, data, seed, with_bias):
    geom = data.draw(conv_geoms())
    quant = data.draw(conv_quants(geom.out_c))
    rng = np.random.default_rng(seed)
    x = int8s(rng, geom.in_shape)
    w = int8s(rng, (geom.out_c, geom.kernel_h, geom.kernel_w, geom.in_c))
    b = biases(rng, geom.out_c, with_bias)
    assert native.conv_geom_check(geom)
    assert_same(native.conv2d_fwd_s8(geom, quant, x, w, b), forward.conv2d_fwd_s8(geom, quant, x, w, b), str(geom))


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_conv2d_stem(native, data, seed):
    """3x3 stride-2 on 3 channels with the PAD-folded (1, 1, 0, 0) padding of the shared models."""
    from tt_host.reference.params import ConvGeom

    size = data.draw(st.integers(2, 12))
    pad_end = data.draw(st.integers(0, 1))
    geom = ConvGeom.explicit(size, size, 3, data.draw(st.integers(1, 16)), 3, 3, 2, 2, 1, 1, pad_end, pad_end)
    quant = data.draw(conv_quants(geom.out_c))
    rng = np.random.default_rng(seed)
    x = int8s(rng, geom.in_shape)
    w = int8s(rng, (geom.out_c, 3, 3, 3))
    b = biases(rng, geom.out_c, True)
    assert_same(native.conv2d_fwd_s8(geom, quant, x, w, b), forward.conv2d_fwd_s8(geom, quant, x, w, b), str(geom))


@SETTINGS
@given(data=st.data(), seed=seeds, with_bias=st.booleans())
def test_pw_conv2d(native, data, seed, with_bias):
    geom = data.draw(conv_geoms(kernel=(1, 1), pad=False, max_c=24))
    quant = data.draw(conv_quants(geom.out_c))
    rng = np.random.default_rng(seed)
    x = int8s(rng, geom.in_shape)
    w = int8s(rng, (geom.out_c, 1, 1, geom.in_c))
    b = biases(rng, geom.out_c, with_bias)
    assert_same(native.pw_conv2d_fwd_s8(geom, quant, x, w, b), forward.pw_conv2d_fwd_s8(geom, quant, x, w, b), str(geom))


@SETTINGS
@given(data=st.data(), seed=seeds, with_bias=st.booleans(), k=st.sampled_from([1, 2, 3, 5, 7]))
def test_dw_conv2d(native, data, seed, with_bias, k):
    geom = data.draw(conv_geoms(kernel=(k, k), max_hw=11, out_mult=2))
    quant = data.draw(conv_quants(geom.out_c))
    rng = np.random.default_rng(seed)
    x = int8s(rng, geom.in_shape)
    w = int8s(rng, (1, k, k, geom.out_c))
    b = biases(rng, geom.out_c, with_bias)
    assert_same(native.dw_conv2d_fwd_s8(geom, quant, x, w, b), forward.dw_conv2d_fwd_s8(geom, quant, x, w, b), str(geom))


@SETTINGS
@given(data=st.data(), seed=seeds, with_bias=st.booleans(), in_c=st.integers(1, 64), out_c=st.integers(1, 40))
def test_fc(native, data, seed, with_bias, in_c, out_c):
    quant = data.draw(conv_quants(out_c))
    rng = np.random.default_rng(seed)
    x = int8s(rng, (in_c,))
    w = int8s(rng, (out_c, in_c))
    b = biases(rng, out_c, with_bias)
    assert_same(native.fc_fwd_s8(quant, x, w, b), forward.fc_fwd_s8(quant, x, w, b), f"fc {in_c}->{out_c}")


@SETTINGS
@given(quant=add_quants(), seed=seeds, n=st.integers(1, 300))
def test_add(native, quant, seed, n):
    rng = np.random.default_rng(seed)
    a, b = int8s(rng, (n,)), int8s(rng, (n,))
    assert_same(native.add_fwd_s8(quant, a, b), forward.add_fwd_s8(quant, a, b), str(quant))


def test_add_exhaustive(native):
    """Every pair of int8 inputs for a few scale ratios."""
    from tt_host.reference.params import AddQuant

    a, b = np.meshgrid(np.arange(-128, 128, dtype=np.int8), np.arange(-128, 128, dtype=np.int8))
    for s1, z1, s2, z2, so, zo in [(0.05, -3, 0.02, 7, 0.06, -10), (0.1, 0, 0.1, 0, 0.2, 0), (0.013, -128, 0.3, 90, 0.31, 1)]:
        q = AddQuant.from_scales(s1, z1, s2, z2, so, zo)
        assert_same(native.add_fwd_s8(q, a, b), forward.add_fwd_s8(q, a, b), str(q))


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_avgpool(native, data, seed):
    geom = data.draw(conv_geoms(same_c=True))
    lo = data.draw(st.integers(-128, 0))
    quant = PoolQuant(lo, data.draw(st.integers(lo, 127)))
    rng = np.random.default_rng(seed)
    x = int8s(rng, geom.in_shape)
    assert_same(native.avgpool_fwd_s8(geom, quant, x), forward.avgpool_fwd_s8(geom, quant, x), str(geom))


def test_avgpool_rounds_half_away_from_zero():
    from tt_host.reference.params import ConvGeom

    g = ConvGeom.explicit(1, 2, 2, 2, 1, 2)
    x = np.array([[[1, -1], [2, -2]]], dtype=np.int8)  # means 1.5 and -1.5
    assert forward.avgpool_fwd_s8(g, PoolQuant(), x).ravel().tolist() == [2, -2]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_geometry_check_agrees(native, data):
    from tt_host.reference.params import ConvGeom

    vals = [data.draw(st.integers(0, 6)) for _ in range(14)]
    try:
        geom = ConvGeom(*vals)
        ok = True
    except ValueError:
        ok = False
    if ok:
        assert native.conv_geom_check(geom)
    else:
        import ctypes

        from tt_host.native import CConvGeom, load

        assert not load().tt_conv_geom_check(ctypes.byref(CConvGeom(*vals)))


def test_scratch_sizes(native):
    from tt_host.reference.params import ConvGeom

    g = ConvGeom.explicit(9, 9, 3, 16, 3, 3, 2, 2, 1, 1, 0, 0)
    # Two int8 windows and two int16 im2col columns of kh*kw*in_c = 27 rounded up to 28, and the
    # 8 output-channel pairs' weights widened to int16 (896 B <= 1 KB).
    assert native.scratch_size("conv2d_fwd_s8", g) == 2 * 28 + 2 * 28 * 2 + 8 * 2 * 28 * 2
    wide = ConvGeom.explicit(9, 9, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1)  # 18 KB of weights: not widened
    assert native.scratch_size("conv2d_fwd_s8", wide) == 2 * 576 + 2 * 576 * 2
    assert native.scratch_size("dw_conv2d_fwd_s8", g) == 0  # depth multiplier 16: no planar path
    # Planar depthwise (square 3/5/7 kernel, stride_w 1 or 2, multiplier 1, >= 4 channels): a ring
    # of kernel_h rows of ceil((4 * stride_w * ceil(out_w / 4) + kernel_w - 1) / 4) blocks of 32
    # bytes, plus four channels' weight tables of 2 * kernel_h rows (stride 1: kernel_w - 1 words,
    # stride 2: (kernel_w + 1) / 2 words).
    dw = ConvGeom.explicit(64, 64, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1)
    assert native.scratch_size("dw_conv2d_fwd_s8", dw) == 17 * 3 * 32 + 4 * 6 * 2 * 4
    dw = ConvGeom.explicit(32, 32, 48, 48, 7, 7, 2, 2, 3, 3, 2, 2)
    assert native.scratch_size("dw_conv2d_fwd_s8", dw) == 10 * 7 * 32 + 4 * 14 * 4 * 4
    assert native.scratch_size("fc_fwd_s8", (16, 10)) == 0
