"""Float backward reference: analytic gradients against central finite differences (float64),
on random geometries with stride and asymmetric padding. Tolerance: relative 1e-6 (the
functions are linear, so differences are exact up to float64 rounding)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tt_host.reference import backward as B

from .strategies import conv_geoms, seeds

SETTINGS = settings(max_examples=25, deadline=None)
RTOL = 1e-6


def _numgrad(f, x, eps=1e-3):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        hi = f()
        x[i] = old - eps
        lo = f()
        x[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * max(1.0, float(np.abs(b).max())))


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_conv2d_grads(data, seed):
    g = data.draw(conv_geoms(max_hw=6, max_c=4))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=g.in_shape)
    w = rng.normal(size=(g.out_c, g.kernel_h, g.kernel_w, g.in_c))
    b = rng.normal(size=g.out_c)
    dy = rng.normal(size=g.out_shape)
    loss = lambda: float((B.conv2d_f32(g, x, w, b) * dy).sum())
    _close(B.conv2d_bwd_input_f32(g, w, dy), _numgrad(loss, x))
    chans = sorted(rng.choice(g.in_c, size=int(rng.integers(1, g.in_c + 1)), replace=False).tolist())
    _close(B.conv2d_bwd_weight_f32(g, x, dy, chans), _numgrad(loss, w)[..., chans])
    _close(B.bias_grad_f32(dy), _numgrad(loss, b))


@SETTINGS
@given(data=st.data(), seed=seeds, k=st.sampled_from([3, 5, 7]))
def test_dw_conv2d_grads(data, seed, k):
    g = data.draw(conv_geoms(kernel=(k, k), max_hw=8, max_c=4, same_c=True))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=g.in_shape)
    w = rng.normal(size=(1, k, k, g.out_c))
    dy = rng.normal(size=g.out_shape)
    loss = lambda: float((B.dw_conv2d_f32(g, x, w) * dy).sum())
    _close(B.dw_conv2d_bwd_input_f32(g, w, dy), _numgrad(loss, x))
    chans = [c for c in range(g.in_c) if rng.random() < 0.6] or [0]
    _close(B.dw_conv2d_bwd_weight_f32(g, x, dy, chans), _numgrad(loss, w)[..., chans])


@SETTINGS
@given(seed=seeds, n_in=st.integers(1, 12), n_out=st.integers(1, 9))
def test_fc_grads(seed, n_in, n_out):
    rng = np.random.default_rng(seed)
    x, w, dy = rng.normal(size=n_in), rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
    loss = lambda: float(((w @ x) * dy).sum())
    _close(B.fc_bwd_input_f32(w, dy), _numgrad(loss, x))
    chans = [n_in - 1, 0] if n_in > 1 else [0]  # any order, not only "the first k"
    _close(B.fc_bwd_weight_f32(x, dy, chans), _numgrad(loss, w)[:, chans])


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_avgpool_grads(data, seed):
    g = data.draw(conv_geoms(max_hw=6, max_c=3, same_c=True))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=g.in_shape)
    dy = rng.normal(size=g.out_shape)
    loss = lambda: float((B.avgpool_f32(g, x) * dy).sum())
    _close(B.avgpool_bwd_input_f32(g, dy), _numgrad(loss, x))


def test_clamp_mask_roundtrip():
    rng = np.random.default_rng(3)
    y = rng.integers(-128, 128, size=(5, 3, 7), dtype=np.int8)
    m = B.clamp_mask(y, -128, 100)
    assert m.sum() == np.count_nonzero((y > -128) & (y < 100))
    packed = B.pack_mask(m)
    assert packed.size == -(-y.size // 8)
    assert np.array_equal(B.unpack_mask(packed, y.shape), m)
    assert packed[0] & 1 == m.ravel()[0]
