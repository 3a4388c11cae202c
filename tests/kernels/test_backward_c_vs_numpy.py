"""Backward kernels, loss and update: the C library against the numpy reference, bit for bit
(values and exponents), on random shapes, strides, asymmetric paddings, weight scales,
gradient magnitudes and channel subsets."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tt_host.reference import backward_int as I
from tt_host.reference import fused as Fz
from tt_host.reference import loss as L
from tt_host.reference import update as U
from tt_host.reference.params import ConvGeom, GradQuant

from .strategies import conv_geoms, int8s, seeds

SETTINGS = settings(max_examples=60, deadline=None)


def assert_same_grad(got: I.Grad, want: I.Grad, what: str) -> None:
    assert got.exp == want.exp, f"{what}: exponent C {got.exp}, numpy {want.exp}"
    g, w = np.asarray(got.values).reshape(-1), np.asarray(want.values).reshape(-1)
    assert g.shape == w.shape, f"{what}: {g.shape} != {w.shape}"
    bad = np.flatnonzero(g != w)
    assert bad.size == 0, f"{what}: {bad.size} of {w.size} differ; first at {bad[0]}: C {g[bad[0]]}, numpy {w[bad[0]]}"


def grad16(rng: np.random.Generator, shape, sparsity: float | None = None) -> I.Grad:
    """Random int16 gradient: magnitude 2**0..2**15 (sometimes saturated), some zeros (masks)."""
    bits = int(rng.integers(0, 16))
    v = rng.integers(-(2**bits), 2**bits, size=shape, endpoint=True)
    if rng.random() < 0.2:
        v = rng.choice([-32768, 32767, 0], size=shape)
    if sparsity is None:
        sparsity = float(rng.choice([0.0, 0.5, 0.9]))
    v = np.where(rng.random(shape) < sparsity, 0, v)
    return I.Grad(np.clip(v, -32768, 32767).astype(np.int16), int(rng.integers(-40, 5)))


def grad_quant(rng: np.random.Generator, n: int) -> GradQuant:
    spread = float(rng.choice([0.0, 2.0, 12.0, 40.0]))  # up to dead channels (ratio < 2**-31)
    return GradQuant.from_weight_scales(2.0 ** (rng.uniform(-10, -4) - rng.uniform(0, spread, n)))


def channel_subset(rng: np.random.Generator, in_c: int) -> list[int]:
    k = int(rng.integers(1, in_c + 1))
    return rng.permutation(in_c)[:k].tolist()  # any order, not only "the first k"


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_conv2d_bwd(native, data, seed):
    g = data.draw(conv_geoms(max_hw=8, max_c=6))
    rng = np.random.default_rng(seed)
    w = int8s(rng, (g.out_c, g.kernel_h, g.kernel_w, g.in_c))
    gq, dy = grad_quant(rng, g.out_c), grad16(rng, g.out_shape)
    assert_same_grad(native.conv2d_bwd_input_s16(g, gq, dy, w), I.conv2d_bwd_input_s16(g, gq, dy, w), f"dX {g}")
    x, zp, ch = int8s(rng, g.in_shape), int(rng.integers(-128, 128)), channel_subset(rng, g.in_c)
    assert_same_grad(native.conv2d_bwd_weight_s16(g, zp, ch, x, dy), I.conv2d_bwd_weight_s16(g, zp, ch, x, dy), f"dW {g}")
    assert_same_grad(native.bias_bwd_s16(dy), I.bias_bwd_s16(dy), f"db {g}")


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_pw_conv2d_bwd(native, data, seed):
    g = data.draw(conv_geoms(kernel=(1, 1), pad=False, max_c=40))
    rng = np.random.default_rng(seed)
    w = int8s(rng, (g.out_c, 1, 1, g.in_c))
    gq, dy = grad_quant(rng, g.out_c), grad16(rng, g.out_shape)
    assert_same_grad(native.pw_conv2d_bwd_input_s16(g, gq, dy, w), I.pw_conv2d_bwd_input_s16(g, gq, dy, w), f"dX {g}")
    x, zp, ch = int8s(rng, g.in_shape), int(rng.integers(-128, 128)), channel_subset(rng, g.in_c)
    assert_same_grad(native.pw_conv2d_bwd_weight_s16(g, zp, ch, x, dy), I.pw_conv2d_bwd_weight_s16(g, zp, ch, x, dy),
                     f"dW {g}")


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_pw_conv2d_bwd_input_overlay(native, data, seed):
    """Frozen tensor + trained slice read where they lie = the plain kernel on the merged tensor."""
    g = data.draw(conv_geoms(kernel=(1, 1), pad=False, max_c=40))
    rng = np.random.default_rng(seed)
    w = int8s(rng, (g.out_c, 1, 1, g.in_c))
    ch = channel_subset(rng, g.in_c)
    trained = int8s(rng, (g.out_c, 1, 1, len(ch)))
    if rng.random() < 0.3:  # the slice's columns are the largest: they set the weight bound
        trained = np.where(trained < 0, -128, 127).astype(np.int8)
    merged = Fz.merge_overlay(w, ch, trained)
    gq, dy = grad_quant(rng, g.out_c), grad16(rng, g.out_shape)
    want = I.pw_conv2d_bwd_input_s16(g, gq, dy, merged)
    assert_same_grad(native.pw_conv2d_bwd_input_overlay_s16(g, gq, dy, w, ch, trained), want, f"overlay dX {g} K={ch}")
    assert_same_grad(native.pw_conv2d_bwd_input_overlay_s16(g, gq, dy, merged, [], trained[..., :0]), want,
                     f"overlay with nothing trained {g}")


@SETTINGS
@given(data=st.data(), seed=seeds, k=st.sampled_from([1, 3, 5, 7]))
def test_dw_conv2d_bwd(native, data, seed, k):
    g = data.draw(conv_geoms(kernel=(k, k), max_hw=10, same_c=True))
    rng = np.random.default_rng(seed)
    w = int8s(rng, (1, k, k, g.out_c))
    gq, dy = grad_quant(rng, g.out_c), grad16(rng, g.out_shape)
    assert_same_grad(native.dw_conv2d_bwd_input_s16(g, gq, dy, w), I.dw_conv2d_bwd_input_s16(g, gq, dy, w), f"dX {g}")
    x, zp, ch = int8s(rng, g.in_shape), int(rng.integers(-128, 128)), channel_subset(rng, g.in_c)
    assert_same_grad(native.dw_conv2d_bwd_weight_s16(g, zp, ch, x, dy), I.dw_conv2d_bwd_weight_s16(g, zp, ch, x, dy),
                     f"dW {g}")


@st.composite
def same_shape_dw_geoms(draw):
    """Depthwise, stride 1, dX shaped like dY: any kernel up to 7x7 with its kernel - 1 padding
    split any way between the two sides (asymmetric splits included), channels across the
    in-place kernel's groups of 32 (fewer than a group, whole groups, a short last group)."""
    kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    pt, pl = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    h, w, c = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 80))
    return ConvGeom.explicit(h, w, c, c, kh, kw, 1, 1, pt, pl, kh - 1 - pt, kw - 1 - pl)


@SETTINGS
@given(g=same_shape_dw_geoms(), seed=seeds)
def test_dw_conv2d_bwd_input_inplace(native, g, seed):
    """dX written over dY: the same values and exponent as the out-of-place kernel and numpy,
    in exactly the scratch it declares (guarded: a write past it fails)."""
    assert native.dw_bwd_input_inplace_supported(g)
    rng = np.random.default_rng(seed)
    w = int8s(rng, (1, g.kernel_h, g.kernel_w, g.out_c))
    gq, dy = grad_quant(rng, g.out_c), grad16(rng, g.out_shape)
    want = I.dw_conv2d_bwd_input_s16(g, gq, dy, w)
    assert_same_grad(native.dw_conv2d_bwd_input_s16(g, gq, dy, w), want, f"out of place {g}")
    assert_same_grad(native.dw_conv2d_bwd_input_inplace_s16(g, gq, dy, w), want, f"in place {g}")
    pixels = (g.kernel_h - 1 - g.pad_top) * g.in_w + g.kernel_w - g.pad_left
    assert native.scratch_size("dw_conv2d_bwd_input_inplace_s16", g) == pixels * min(g.in_c, 32) * 2


@SETTINGS
@given(g=conv_geoms(max_hw=9, same_c=True, kernel=None))
def test_dw_conv2d_bwd_input_inplace_supported(native, g):
    """Supported exactly for stride 1 and dX shaped like dY (the C and the numpy mirror agree)."""
    from tt_host.reference.fused import dw_bwd_input_inplace_supported

    ok = (g.stride_h, g.stride_w) == (1, 1) and (g.out_h, g.out_w) == (g.in_h, g.in_w)
    assert native.dw_bwd_input_inplace_supported(g) == dw_bwd_input_inplace_supported(g) == ok
    if not ok:
        assert native.scratch_size("dw_conv2d_bwd_input_inplace_s16", g) == 0
    assert not native.dw_bwd_input_inplace_supported(ConvGeom.explicit(9, 9, 4, 4, 9, 9, 1, 1, 4, 4, 4, 4))  # > 7x7
    assert not native.dw_bwd_input_inplace_supported(ConvGeom.explicit(5, 5, 4, 8, 3, 3, 1, 1, 1, 1, 1, 1))  # multiplier 2


@SETTINGS
@given(seed=seeds, in_c=st.integers(1, 200), out_c=st.integers(1, 40))
def test_fc_bwd(native, seed, in_c, out_c):
    rng = np.random.default_rng(seed)
    w = int8s(rng, (out_c, in_c))
    gq, dy = grad_quant(rng, out_c), grad16(rng, (out_c,))
    assert_same_grad(native.fc_bwd_input_s16(gq, dy, w), I.fc_bwd_input_s16(gq, dy, w), f"fc dX {in_c}->{out_c}")
    x, zp, ch = int8s(rng, (in_c,)), int(rng.integers(-128, 128)), channel_subset(rng, in_c)
    assert_same_grad(native.fc_bwd_weight_s16(zp, ch, x, dy), I.fc_bwd_weight_s16(zp, ch, x, dy), "fc dW")
    assert_same_grad(native.bias_bwd_s16(dy), I.bias_bwd_s16(dy), "fc db")


def test_large_weight_mass_preshifts_dy(native):
    """A bound above int32 (wide layer, saturated dY and weights) takes the dY pre-shift path."""
    g = ConvGeom.explicit(3, 3, 4, 700, 3, 3, 1, 1, 1, 1, 1, 1)
    w = np.full((700, 3, 3, 4), -128, np.int8)
    dy = I.Grad(np.full(g.out_shape, -32768, np.int16), 0)
    gq = GradQuant.from_weight_scales(np.full(700, 0.01))
    want = I.conv2d_bwd_input_s16(g, gq, dy, w)
    assert I.prescale_shift(32768, 128 * 9 * 700)[0] > 0
    assert_same_grad(native.conv2d_bwd_input_s16(g, gq, dy, w), want, "pre-shifted")
    np.testing.assert_allclose(want.to_float()[1, 1], 0.01 * 128 * 9 * 700 * 32768, rtol=1e-4)


def test_weight_grad_shift_for_large_outputs(native):
    g = ConvGeom.explicit(40, 40, 2, 2, 1, 1)
    dy = I.Grad(np.full(g.out_shape, 32767, np.int16), -3)
    x = np.full(g.in_shape, 127, np.int8)
    want = I.pw_conv2d_bwd_weight_s16(g, -128, [1], x, dy)
    assert want.exp > -3  # 1600 positions * 2**15 * 255 does not fit int32
    assert_same_grad(native.pw_conv2d_bwd_weight_s16(g, -128, [1], x, dy), want, "shifted dW")
    np.testing.assert_allclose(want.to_float(), 32767 * 255 * 1600 * 2.0**-3, rtol=1e-8)


@SETTINGS
@given(data=st.data(), seed=seeds)
def test_avgpool_bwd(native, data, seed):
    g = data.draw(conv_geoms(same_c=True, max_hw=9))
    rng = np.random.default_rng(seed)
    dy = grad16(rng, g.out_shape)
    assert_same_grad(native.avgpool_bwd_input_s16(g, dy), I.avgpool_bwd_input_s16(g, dy), str(g))


@SETTINGS
@given(seed=seeds, n=st.integers(1, 300))
def test_mask_and_add_bwd(native, seed, n):
    rng = np.random.default_rng(seed)
    y = int8s(rng, (n,))
    lo = int(rng.choice([-128, -128, -100, 0]))
    hi = int(rng.choice([127, 127, 100, lo + 1]))
    packed = I.mask_pack_s8(y, lo, hi)
    np.testing.assert_array_equal(native.mask_pack_s8(y, lo, hi), packed)
    dy = grad16(rng, (n,))
    assert_same_grad(native.mask_bwd_s16(packed, dy), I.mask_bwd_s16(packed, dy), "mask")
    a, b = grad16(rng, (n,), 0.0), grad16(rng, (n,), 0.3)
    if rng.random() < 0.3:
        b = I.Grad(b.values, a.exp + int(rng.integers(-40, 40)))
    assert_same_grad(native.add_bwd_input_s16(a, b), I.add_bwd_input_s16(a, b), "add")


def test_mask_semantics():
    y = np.array([-128, -127, 0, 126, 127, 5, 6, -128, 7], np.int8)
    packed = I.mask_pack_s8(y, -128, 127)
    assert packed.tolist() == [0b01101110, 0b1]
    assert I.mask_pack_s8(y, 0, 6).tolist() == [0b00100000, 0]  # strictly inside (0, 6)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, n=st.integers(1, 1000), scale=st.floats(1e-3, 2.0))
def test_softmax_xent(native, seed, n, scale):
    rng = np.random.default_rng(seed)
    q = int8s(rng, (n,))
    if rng.random() < 0.3:
        q = np.clip(q // 16, -128, 127).astype(np.int8)  # ties
    label = int(rng.integers(0, n))
    c = native.softmax_xent_s8(q, scale, 3, label)
    p = L.softmax_xent_s8(q, scale, 3, label)
    assert c[0] == p[0] and c[3] == p[3], (c, p)
    assert np.float32(c[1]) == np.float32(p[1]), (c[1], p[1])
    np.testing.assert_array_equal(c[2], p[2])
    # ... and close to the float64 truth.
    z = scale * (q.astype(np.float64) - 3)
    loss, grad = L.softmax_xent_f32(z, label)
    assert abs(p[1] - loss) <= 2e-6 * max(1.0, loss) + 1e-6
    # half an LSB of rounding, one LSB where the largest value saturates at 32767
    assert np.abs(p[2] * 2.0 ** p[3] - grad).max() <= 2.0 ** p[3] + 1e-6 * np.abs(grad).max()


def test_exp_log_bit_exact_and_accurate(native):
    xs = np.float32(-np.linspace(0, 90, 2003)).astype(np.float32)
    ys = L.expf_neg(xs)
    for x, y in zip(xs[::7], ys[::7]):
        assert np.float32(native.expf_neg(x)) == y
    ok = xs >= -80
    np.testing.assert_allclose(ys[ok], np.exp(xs[ok].astype(np.float64)), rtol=3e-7)
    assert (ys[~ok] == 0).all()
    vs = np.float32(np.geomspace(1, 1e6, 1501)).astype(np.float32)
    ls = L.logf_ge1(vs)
    for v, lv in zip(vs[::5], ls[::5]):
        assert np.float32(native.logf_ge1(v)) == lv
    np.testing.assert_allclose(ls, np.log(vs.astype(np.float64)), rtol=3e-7, atol=3e-7)


def test_rng_stream(native):
    r1, r2 = U.Rng(1234, 7), U.Rng(1234, 7)
    np.testing.assert_array_equal(native.rng_draw(r1, 300), r2.draw(300))
    assert r1.counter == r2.counter == 307
    bits = U.Rng(99).draw(200_000)
    assert abs(float((bits >> 16).mean()) / 65536 - 0.5) < 0.005
    assert abs(float(np.unpackbits(bits.view(np.uint8)).mean()) - 0.5) < 0.002


def _sgd_case(rng, depthwise: bool):
    out_c, taps, in_c = int(rng.integers(1, 6)), int(rng.choice([1, 9])), int(rng.integers(1, 10))
    ch = channel_subset(rng, in_c)
    s = U.WeightSlice(out_c, taps, in_c, tuple(ch), depthwise)
    n_out = in_c if depthwise else out_c
    wshape = (taps, in_c) if depthwise else (out_c, taps, in_c)
    gshape = (taps, len(ch)) if depthwise else (out_c, taps, len(ch))
    w = rng.integers(-127, 128, wshape).astype(np.int8)
    bits = int(rng.integers(0, 31))
    g = rng.integers(-(2**bits), 2**bits, gshape, endpoint=True).astype(np.int32)
    qas = U.Qas.of(2.0 ** rng.uniform(-6, 6, n_out))
    sgd = U.Sgd.of(float(2.0 ** rng.uniform(-14, 0)), float(rng.choice([0.0, 0.0, 0.9])))
    return s, w, g, qas, sgd, int(rng.integers(-50, 10))


@settings(max_examples=150, deadline=None)
@given(seed=seeds, depthwise=st.booleans())
def test_sgd_update(native, seed, depthwise):
    rng = np.random.default_rng(seed)
    s, w, g, qas, sgd, e = _sgd_case(rng, depthwise)
    vel_c = rng.integers(-(2**20), 2**20, g.size).astype(np.int32)
    vel_n = vel_c.copy()
    rc, rn = U.Rng(seed & 0xFFFFFFFF, 5), U.Rng(seed & 0xFFFFFFFF, 5)
    wc = native.sgd_update_s8(s, sgd, qas, g, e, rc, w, vel_c)
    wn = U.sgd_update_s8(s, sgd, qas, g, e, rn, w, vel_n)
    np.testing.assert_array_equal(wc, wn)
    np.testing.assert_array_equal(vel_c, vel_n)
    assert rc.counter == rn.counter == 5 + g.size
    n = qas.multiplier.size
    b = rng.integers(-(2**31), 2**31, n).astype(np.int32)
    gb = rng.integers(-(2**30), 2**30, n).astype(np.int32)
    np.testing.assert_array_equal(native.sgd_update_s32(sgd, qas, gb, e + 20, rc, b),
                                  U.sgd_update_s32(sgd, qas, gb, e + 20, rn, b))


def test_backward_scratch_sizes(native):
    g = ConvGeom.explicit(9, 9, 3, 17, 3, 3, 2, 2, 1, 1, 0, 0)
    assert native.scratch_size("conv2d_bwd_input_s16", g) == 3 * 4 + 36
    # Portable in_c int32 + out_c int16 (96 * 4 + 1156); the Cortex-M7's two interleaved dY'
    # rows (out_c rounded up to even, 4 bytes per channel) are larger here, and the larger wins.
    assert native.scratch_size("pw_conv2d_bwd_input_s16", ConvGeom.explicit(4, 4, 96, 577, 1, 1)) == 578 * 4
    assert native.scratch_size("pw_conv2d_bwd_input_s16", ConvGeom.explicit(4, 4, 96, 40, 1, 1)) == 96 * 4 + 80
    assert native.scratch_size("dw_conv2d_bwd_input_s16", g) == 0
    assert native.scratch_size("fc_bwd_input_s16", (160, 10)) == 160 * 4 + 20
