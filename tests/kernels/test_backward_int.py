"""Integer backward (``backward_int``) against the float reference, with stated error bounds.

Input gradients: each element's error is at most one LSB of the output exponent (half for the
final requantization, half for TFLite's double rounding and the rare saturation of a value
that rounds up to 2**15) plus the prescale rounding: half an LSB of the (pre-shifted) dY times
the sum of |W| that reaches that element times the largest weight scale, with 0.1 % slack for
the Q31 scale multipliers. Weight and bias gradients are exact whenever their exponent equals
dY's (outputs up to 16x16), which the tests check too. The headroom the bound-based exponent
leaves unused is measured, not asserted, in ``bench/accuracy_grad_repr.py``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tt_host.reference import backward as F
from tt_host.reference import backward_int as I
from tt_host.reference.params import GradQuant

from .strategies import conv_geoms, seeds

SETTINGS = settings(max_examples=40, deadline=None)


def _within_bound(got: I.Grad, want: np.ndarray, reach: np.ndarray, gq: GradQuant, dy: I.Grad, wbound: int) -> None:
    p, _ = I.prescale_shift(int(np.abs(dy.values.astype(np.int64)).max()), wbound)
    S = gq.scale_multiplier * 2.0 ** (gq.scale_shift - 31)
    bound = 1.0 * 2.0**got.exp + 0.5 * S * 2.0 ** (dy.exp + p) * reach
    err = np.abs(got.to_float() - want)
    assert np.all(err <= bound * 1.001 + 1e-300), f"max excess {(err - bound).max()}"
    assert np.abs(got.values.astype(np.int64)).max() <= 32767


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_conv_input_grad_close_to_float(data, seed):
    g = data.draw(conv_geoms(max_hw=7, max_c=6))
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (g.out_c, g.kernel_h, g.kernel_w, g.in_c), dtype=np.int8)
    gq = GradQuant.from_weight_scales(rng.uniform(0.002, 0.02, g.out_c))
    dy = I.Grad.from_float(rng.normal(scale=10.0 ** rng.uniform(-6, 0), size=g.out_shape), bits=15)
    want = F.conv2d_bwd_input_f32(g, w * gq.scales[:, None, None, None], dy.to_float())
    got = I.conv2d_bwd_input_s16(g, gq, dy, w)
    reach = F.conv2d_bwd_input_f32(g, np.abs(w.astype(np.float64)), np.ones(g.out_shape))
    _within_bound(got, want, reach, gq, dy, int(np.abs(w.astype(np.int64)).sum(axis=(0, 1, 2)).max()))


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_dw_input_grad_close_to_float(data, seed):
    g = data.draw(conv_geoms(kernel=(3, 3), max_hw=7, max_c=6, same_c=True))
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (1, 3, 3, g.out_c), dtype=np.int8)
    gq = GradQuant.from_weight_scales(rng.uniform(0.002, 0.02, g.out_c))
    dy = I.Grad.from_float(rng.normal(size=g.out_shape), bits=15)
    want = F.dw_conv2d_bwd_input_f32(g, w * gq.scales, dy.to_float())
    got = I.dw_conv2d_bwd_input_s16(g, gq, dy, w)
    # Depthwise rounds the accumulator by its ratio instead of dY: half an LSB of acc, i.e.
    # 0.5 * S * 2**e_dy, once per element (reach 1).
    _within_bound(got, want, np.ones(g.in_shape), gq, dy, 1)


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_avgpool_input_grad_close_to_float(data, seed):
    g = data.draw(conv_geoms(same_c=True, max_hw=8))
    rng = np.random.default_rng(seed)
    dy = I.Grad.from_float(rng.normal(size=g.out_shape), bits=15)
    got = I.avgpool_bwd_input_s16(g, dy)
    want = F.avgpool_bwd_input_f32(g, dy.to_float())
    # Q30 reciprocals (relative 2**-30 each) and one final rounding.
    assert np.all(np.abs(got.to_float() - want) <= 0.5 * 2.0**got.exp + 1e-8 * np.abs(want).max() + 1e-300)


def test_global_pool_keeps_15_bits():
    from tt_host.reference.params import ConvGeom

    g = ConvGeom.explicit(4, 4, 8, 8, 4, 4)
    dy = I.Grad(np.array([[[32767, -32768, 1, 0, 5, -5, 100, 16384]]], np.int16), -20)
    got = I.avgpool_bwd_input_s16(g, dy)
    assert np.abs(got.values).max() >= 2**14
    np.testing.assert_allclose(got.to_float()[0, 0], dy.to_float()[0, 0] / 16, atol=2.0**got.exp)


def test_fc_grads_close_to_float():
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, (10, 96), dtype=np.int8)
    gq = GradQuant.from_weight_scales(rng.uniform(0.002, 0.02, 10))
    dy = I.Grad.from_float(rng.normal(scale=0.1, size=10), bits=15)
    reach = np.abs(w.astype(np.float64)).sum(axis=0)
    _within_bound(I.fc_bwd_input_s16(gq, dy, w), F.fc_bwd_input_f32(w * gq.scales[:, None], dy.to_float()), reach, gq,
                  dy, int(reach.max()))
    x = rng.integers(-128, 128, 96, dtype=np.int8)
    s_x, zp = 0.02, -128
    chans = [95, 3, 40]
    dw = I.fc_bwd_weight_s16(zp, chans, x, dy)
    want = F.fc_bwd_weight_f32(s_x * (x.astype(np.float64) - zp), dy.to_float(), chans)
    np.testing.assert_allclose(dw.values * s_x * 2.0**dw.exp, want, rtol=1e-12)  # exact
    db = I.bias_bwd_s16(dy)
    np.testing.assert_allclose(db.values * 2.0**db.exp, F.bias_grad_f32(dy.to_float()), rtol=1e-12)


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_weight_grads_exact(data, seed):
    g = data.draw(conv_geoms(max_hw=7, max_c=6))
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, g.in_shape, dtype=np.int8)
    dy = I.Grad.from_float(rng.normal(size=g.out_shape), bits=15)
    chans = sorted(set(rng.integers(0, g.in_c, 3).tolist()), reverse=True)
    dw = I.conv2d_bwd_weight_s16(g, -128, chans, x, dy)
    assert dw.exp == dy.exp  # <= 49 positions: exact
    want = F.conv2d_bwd_weight_f32(g, x.astype(np.float64) + 128, dy.to_float(), chans)
    np.testing.assert_allclose(dw.values * 2.0**dw.exp, want, rtol=1e-12, atol=1e-300)
    if g.in_c == g.out_c:
        ddw = I.dw_conv2d_bwd_weight_s16(g, -128, chans, x, dy)
        want = F.dw_conv2d_bwd_weight_f32(g, x.astype(np.float64) + 128, dy.to_float(), chans)
        np.testing.assert_allclose(ddw.values * 2.0**ddw.exp, want, rtol=1e-12, atol=1e-300)


def test_add_bwd_exact_when_it_fits():
    a = I.Grad(np.array([100, -200, 32767], np.int16), -10)
    b = I.Grad(np.array([3, 4, -32768], np.int16), -12)
    s = I.add_bwd_input_s16(a, b)
    assert s.exp == -10
    np.testing.assert_allclose(s.to_float(), a.to_float() + b.to_float(), atol=2.0**-11)
    big = I.add_bwd_input_s16(I.Grad(np.array([30000], np.int16), 0), I.Grad(np.array([30000], np.int16), 0))
    assert big.exp == 1 and big.values.tolist() == [30000]
