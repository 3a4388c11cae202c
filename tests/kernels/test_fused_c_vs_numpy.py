"""Sparse-update and memory-saving kernels: C (ctypes) vs numpy, bit for bit, on random shapes.

Covers tt_gather_channels_s8, the fused weight-gradient + SGD/QAS kernels (also checked against
the unfused "whole gradient, then tt_sgd_update_s8 on the full tensor" sequence, PRNG counter
included), the trainable-overlay forward, the in-place depthwise/pointwise kernels and the fused
inverted bottleneck (out of place and written over its input)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tt_host.reference import backward_int as I
from tt_host.reference import forward
from tt_host.reference import fused as Fz
from tt_host.reference import update as U
from tt_host.reference.params import ConvGeom

from .strategies import add_quants, biases, conv_geoms, conv_quants, int8s, seeds

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _channels(rng, in_c):
    n = int(rng.integers(1, in_c + 1))
    return [int(c) for c in rng.permutation(in_c)[:n]]


def _dy(rng, shape):
    bits = int(rng.integers(1, 16))
    return I.Grad(rng.integers(-(2**bits), 2**bits, shape).astype(np.int16), int(rng.integers(-30, -4)))


def _sgd(rng, momentum):
    return U.Sgd.of(float(2.0 ** rng.uniform(-8, 0)), 0.9 if momentum else 0.0)


def _qas(rng, n):
    return U.Qas.of(2.0 ** rng.uniform(-4, 8, n))


@SETTINGS
@given(geom=conv_geoms(max_hw=6, max_c=9), seed=seeds)
def test_gather_channels(native, geom, seed):
    rng = np.random.default_rng(seed)
    x = int8s(rng, geom.in_shape)
    ch = _channels(rng, geom.in_c)
    np.testing.assert_array_equal(native.gather_channels_s8(x, ch), Fz.gather_channels_s8(x, ch))
    np.testing.assert_array_equal(Fz.gather_channels_s8(x, ch), x[..., ch])


@pytest.mark.parametrize("kind", ["conv", "pw", "dw", "fc"])
@SETTINGS
@given(data=st.data(), seed=seeds, momentum=st.booleans())
def test_fused_weight_update_is_the_unfused_sequence(native, kind, data, seed, momentum):
    if kind == "conv":
        geom = data.draw(conv_geoms(max_hw=7, max_c=6))
    elif kind == "pw":
        geom = data.draw(conv_geoms(kernel=(1, 1), pad=False, max_hw=7, max_c=8))
    elif kind == "dw":
        geom = data.draw(conv_geoms(max_hw=7, max_c=8, same_c=True))
    else:
        geom = ConvGeom.explicit(1, 1, data.draw(st.integers(1, 40)), data.draw(st.integers(1, 12)), 1, 1)
    rng = np.random.default_rng(seed)
    zp = int(rng.integers(-128, 128))
    x = int8s(rng, geom.in_shape)
    ch = _channels(rng, geom.in_c)
    dy = _dy(rng, geom.out_shape if kind != "fc" else (geom.out_c,))
    sgd = _sgd(rng, momentum)
    qas = _qas(rng, geom.out_c)
    wshape = (1, geom.kernel_h, geom.kernel_w, geom.out_c) if kind == "dw" else (
        (geom.out_c, geom.in_c) if kind == "fc" else (geom.out_c, geom.kernel_h, geom.kernel_w, geom.in_c))
    w_full = int8s(rng, wshape)
    w_full[w_full == -128] = -127
    prng_seed = int(rng.integers(0, 2**32))
    counter0 = int(rng.integers(0, 2**32))
    xk = Fz.gather_channels_s8(x if kind != "fc" else x.ravel(), ch)
    slice0 = Fz.gather_channels_s8(w_full, ch)
    # Momentum state is per trainable weight, in gradient (= slice) order, in both sequences.
    vel_slice = rng.integers(-(2**20), 2**20, slice0.size).astype(np.int32) if momentum else None

    # Unfused reference (full tensors), starting at the same PRNG counter.
    r_ref = U.Rng(prng_seed, counter0)
    vf = None if vel_slice is None else vel_slice.copy()
    xin = x.ravel() if kind == "fc" else x
    g = (I.fc_bwd_weight_s16(zp, ch, xin, dy) if kind == "fc" else
         I.dw_conv2d_bwd_weight_s16(geom, zp, ch, x, dy) if kind == "dw" else I.conv2d_bwd_weight_s16(geom, zp, ch, x, dy))
    taps = geom.kernel_h * geom.kernel_w
    sl = U.WeightSlice(geom.out_c, taps if kind != "fc" else 1, geom.in_c, tuple(ch), kind == "dw")
    w_ref = U.sgd_update_s8(sl, sgd, qas, g.values, g.exp, r_ref, w_full, vf)

    r_np, r_c = U.Rng(prng_seed, counter0), U.Rng(prng_seed, counter0)
    v_np = None if vel_slice is None else vel_slice.copy()
    v_c = None if vel_slice is None else vel_slice.copy()
    if kind == "fc":
        got_np = Fz.fc_bwd_weight_update_s8(zp, xk, dy, sgd, qas, r_np, slice0, v_np)
        got_c = native.fc_bwd_weight_update_s8(zp, xk, dy, sgd, qas, r_c, slice0, geom.in_c, v_c)
    elif kind == "dw":
        got_np = Fz.dw_conv2d_bwd_weight_update_s8(geom, zp, ch, xk, dy, sgd, qas, r_np, slice0, v_np)
        got_c = native.dw_conv2d_bwd_weight_update_s8(geom, zp, ch, xk, dy, sgd, qas, r_c, slice0, v_c)
    else:
        fn_np = Fz.pw_conv2d_bwd_weight_update_s8 if kind == "pw" else Fz.conv2d_bwd_weight_update_s8
        fn_c = native.pw_conv2d_bwd_weight_update_s8 if kind == "pw" else native.conv2d_bwd_weight_update_s8
        got_np = fn_np(geom, zp, xk, dy, sgd, qas, r_np, slice0, v_np)
        got_c = fn_c(geom, zp, xk, dy, sgd, qas, r_c, slice0, v_c)

    np.testing.assert_array_equal(got_c, got_np)
    np.testing.assert_array_equal(got_np, Fz.gather_channels_s8(w_ref, ch))
    # Frozen channels untouched by the unfused update: the slice is the whole story.
    frozen = [c for c in range(w_full.shape[-1]) if c not in ch]
    np.testing.assert_array_equal(w_ref[..., frozen], w_full[..., frozen])
    assert r_c.counter == r_np.counter == r_ref.counter
    if momentum:
        np.testing.assert_array_equal(v_c, v_np)
        np.testing.assert_array_equal(v_np, vf)


@pytest.mark.parametrize("kind", ["conv", "pw", "fc"])
@SETTINGS
@given(data=st.data(), seed=seeds, with_bias=st.booleans())
def test_overlay_forward(native, kind, data, seed, with_bias):
    if kind == "conv":
        geom = data.draw(conv_geoms(max_hw=7, max_c=8))
    elif kind == "pw":
        geom = data.draw(conv_geoms(kernel=(1, 1), pad=False, max_hw=7, max_c=12))
    else:
        geom = ConvGeom.explicit(1, 1, data.draw(st.integers(1, 40)), data.draw(st.integers(1, 12)), 1, 1)
    quant = data.draw(conv_quants(geom.out_c))
    rng = np.random.default_rng(seed)
    x = int8s(rng, geom.in_shape)
    wshape = (geom.out_c, geom.in_c) if kind == "fc" else (geom.out_c, geom.kernel_h, geom.kernel_w, geom.in_c)
    w = int8s(rng, wshape)
    ch = _channels(rng, geom.in_c) if rng.random() < 0.9 else []
    trained = int8s(rng, wshape[:-1] + (len(ch),))
    b = biases(rng, geom.out_c, with_bias)
    if kind == "fc":
        want = Fz.fc_fwd_overlay_s8(quant, x.ravel(), w, ch, trained, b)
        got = native.fc_fwd_overlay_s8(quant, x.ravel(), w, ch, trained, b)
    else:
        want = Fz.conv2d_fwd_overlay_s8(geom, quant, x, w, ch, trained, b)
        got = native.conv2d_fwd_overlay_s8(geom, quant, x, w, ch, trained, b)
        assert native.scratch_size("conv2d_fwd_overlay_s8", geom) == -(-geom.kernel_h * geom.kernel_w * geom.in_c // 4) * 4
    np.testing.assert_array_equal(got, want)
    # The overlay of the untouched slice is the plain forward.
    same = Fz.merge_overlay(w, ch, Fz.gather_channels_s8(w, ch))
    np.testing.assert_array_equal(same, w)


@SETTINGS
@given(geom=conv_geoms(max_hw=9, max_c=6, same_c=True), data=st.data(), seed=seeds, with_bias=st.booleans())
def test_inplace_depthwise(native, geom, data, seed, with_bias):
    assert native.inplace_supported("dw_conv2d", geom) == Fz.dw_inplace_supported(geom)
    if not Fz.dw_inplace_supported(geom):
        return
    quant = data.draw(conv_quants(geom.out_c))
    rng = np.random.default_rng(seed)
    x = int8s(rng, geom.in_shape)
    w = int8s(rng, (1, geom.kernel_h, geom.kernel_w, geom.out_c))
    b = biases(rng, geom.out_c, with_bias)
    want = forward.dw_conv2d_fwd_s8(geom, quant, x, w, b)
    np.testing.assert_array_equal(native.dw_conv2d_fwd_inplace_s8(geom, quant, x, w, b), want)
    # The one-channel row window, or the out-of-place kernel's planar ring where it is larger.
    window = -(-geom.kernel_h * geom.in_w // 4) * 4
    assert native.scratch_size("dw_conv2d_fwd_inplace_s8", geom) == max(
        window, native.scratch_size("dw_conv2d_fwd_s8", geom)
    )


@SETTINGS
@given(geom=conv_geoms(kernel=(1, 1), pad=False, max_hw=9, max_c=12), data=st.data(), seed=seeds,
       with_bias=st.booleans())
def test_inplace_pointwise(native, geom, data, seed, with_bias):
    assert native.inplace_supported("pw_conv2d", geom) == Fz.pw_inplace_supported(geom)
    if not Fz.pw_inplace_supported(geom):
        geom = replace(geom, out_c=max(1, geom.in_c // 2))
    quant = data.draw(conv_quants(geom.out_c))
    rng = np.random.default_rng(seed)
    x = int8s(rng, geom.in_shape)
    w = int8s(rng, (geom.out_c, 1, 1, geom.in_c))
    b = biases(rng, geom.out_c, with_bias)
    want = forward.pw_conv2d_fwd_s8(geom, quant, x, w, b)
    np.testing.assert_array_equal(native.pw_conv2d_fwd_inplace_s8(geom, quant, x, w, b), want)


@st.composite
def irb_blocks(draw):
    k = draw(st.sampled_from([3, 5, 7]))
    stride = draw(st.sampled_from([1, 1, 2]))
    kind = draw(st.sampled_from(["pw", "pw", "pw", "none", "conv"]))
    residual = stride == 1 and kind != "conv" and draw(st.booleans())
    if stride == 1:
        pads = (k // 2,) * 4
    else:  # a folded PAD: (k-1)//2 top/left, one less bottom/right for k > 3
        lo = (k - 1) // 2
        pads = draw(st.sampled_from([(lo, lo, max(lo - 1, 0), max(lo - 1, 0)), (lo,) * 4]))
    h = draw(st.integers(max(1, k - pads[0] - pads[2]), 9))
    w = draw(st.integers(max(1, k - pads[1] - pads[3]), 9))
    in_c = draw(st.integers(1, 6))
    if kind == "none":
        expand, e = None, in_c
    elif kind == "pw":
        e = in_c * draw(st.integers(1, 6))
        expand = ConvGeom.explicit(h, w, in_c, e, 1, 1)
    else:  # a stem-like convolution: 3x3 stride 2 with a folded PAD, or 3x3 stride 1 SAME
        e = draw(st.integers(1, 8))
        s2 = draw(st.booleans())
        expand = (ConvGeom.explicit(2 * h, 2 * w, in_c, e, 3, 3, 2, 2, 1, 1, 0, 0) if s2
                  else ConvGeom.explicit(h, w, in_c, e, 3, 3, 1, 1, 1, 1, 1, 1))
    dw = ConvGeom.explicit(h, w, e, e, k, k, stride, stride, *pads)
    out_c = in_c if residual else draw(st.integers(1, 8))
    return Fz.IrbGeom(expand, dw, out_c, residual)


@SETTINGS
@given(geom=irb_blocks(), data=st.data(), seed=seeds)
def test_irb_is_the_unfused_block(native, geom, data, seed):
    assert geom.problem() is None and native.irb_geom_check(geom)
    rng = np.random.default_rng(seed)
    e = geom.expand_c
    x_ = geom.expand
    quant = Fz.IrbQuant(data.draw(conv_quants(e)) if x_ else None, data.draw(conv_quants(e)),
                        data.draw(conv_quants(geom.out_c)), data.draw(add_quants()) if geom.residual else None)
    weights = Fz.IrbWeights(
        int8s(rng, (e, x_.kernel_h, x_.kernel_w, x_.in_c)) if x_ else None, biases(rng, e, x_ and rng.random() < 0.8),
        int8s(rng, (1, geom.dw.kernel_h, geom.dw.kernel_w, e)), biases(rng, e, rng.random() < 0.8),
        int8s(rng, (geom.out_c, 1, 1, e)), biases(rng, geom.out_c, rng.random() < 0.8))
    x = int8s(rng, geom.in_shape)
    want = Fz.irb_fwd_s8(geom, quant, x, weights)
    np.testing.assert_array_equal(native.irb_fwd_s8(geom, quant, x, weights), want)
    assert native.irb_can_alias(geom) == Fz.irb_can_alias(geom)
    if Fz.irb_can_alias(geom):
        np.testing.assert_array_equal(native.irb_fwd_s8(geom, quant, x, weights, alias=True), want)
    # Row by row as a sample streams in, in pieces of any size, through a buffer of rows_span rows.
    assert native.irb_rows_span(geom) == Fz.irb_rows_span(geom)
    chunks = data.draw(st.lists(st.integers(1, 3 * int(np.prod(geom.in_shape[1:]))), min_size=1, max_size=4))
    np.testing.assert_array_equal(native.irb_fwd_s8_streamed(geom, quant, x, weights, chunks), want)
    d = geom.dw
    rows = (min(d.kernel_h, d.in_h) * d.in_w * e + 3) // 4 * 4
    rows += (d.out_w * e + 3) // 4 * 4 + ((d.out_w * geom.out_c + 3) // 4 * 4 if geom.residual else 0)
    assert native.irb_fwd_s8_scratch_size(geom) >= rows


def test_irb_blocks_that_do_not_grow_can_alias():
    for k, s, h, kind in [(3, 1, 8, "pw"), (5, 1, 5, "pw"), (7, 1, 9, "pw"), (3, 2, 8, "pw"), (5, 2, 9, "pw"),
                          (3, 1, 8, "none"), (3, 1, 8, "stem")]:
        p = k // 2
        dw = ConvGeom.explicit(h, h, 12, 12, k, k, s, s, p, p, p, p)
        expand = {"pw": ConvGeom.explicit(h, h, 4, 12, 1, 1), "none": None,
                  "stem": ConvGeom.explicit(2 * h, 2 * h, 3, 12, 3, 3, 2, 2, 1, 1, 0, 0)}[kind]
        out_c = 12 if kind == "none" else 4
        geom = Fz.IrbGeom(expand, dw, out_c, s == 1 and kind == "pw")
        assert geom.problem() is None
        assert Fz.irb_can_alias(geom), (k, s, h, kind)
