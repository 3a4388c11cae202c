"""The pooling and elementwise operators of Keras models (max pool, mean, MUL, hard swish, logistic,
standalone RELU / RELU6 / LEAKY_RELU / QUANTIZE):
C kernels equal the numpy reference bit for bit (forward and input gradients, ties and
saturation included), and the integer gradients are close to the float derivative. Their
forward against TFLite Micro: test_random_models_tflm.py and the model corpus."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tt_host.reference import backward as F
from tt_host.reference import backward_int as I
from tt_host.reference import forward
from tt_host.reference.fixedpoint import quantize_multiplier
from tt_host.reference.params import (
    ConvGeom,
    HardSwishGrad,
    HardSwishQuant,
    LogisticQuant,
    MeanQuant,
    MulGrad,
    MulQuant,
    PoolQuant,
    RequantizeQuant,
)

from .strategies import conv_geoms, seeds

SETTINGS = settings(max_examples=60, deadline=None)


def _grad(rng, shape, exp=-12) -> I.Grad:
    return I.Grad(rng.integers(-32768, 32768, shape).astype(np.int16), exp)


def _same(got: I.Grad, want: I.Grad) -> None:
    assert got.exp == want.exp
    np.testing.assert_array_equal(np.asarray(got.values).ravel(), np.asarray(want.values).ravel())


@SETTINGS
@given(data=st.data(), seed=seeds, ties=st.booleans())
def test_maxpool(native, data, seed, ties):
    g = data.draw(conv_geoms(same_c=True, max_hw=9))
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, g.in_shape) if ties else rng.integers(-128, 128, g.in_shape)
    x = x.astype(np.int8)
    q = PoolQuant(int(rng.integers(-128, 0)), 127)
    np.testing.assert_array_equal(native.maxpool_fwd_s8(g, q, x), forward.maxpool_fwd_s8(g, q, x))
    dy = _grad(rng, g.out_shape)
    got = I.maxpool_bwd_input_s16(g, x, dy)
    _same(native.maxpool_bwd_input_s16(g, x, dy), got)
    want = F.maxpool_bwd_input_f32(g, x, dy.to_float())
    assert np.all(np.abs(got.to_float() - want) <= 0.5 * 2.0**got.exp)  # one rounding, when windows overlap


def test_maxpool_gradient_goes_to_the_first_maximum(native):
    g = ConvGeom.explicit(2, 2, 1, 1, 2, 2, 2, 2)
    x = np.array([[5, 7], [7, 2]], np.int8).reshape(2, 2, 1)
    dy = I.Grad(np.array([100], np.int16).reshape(1, 1, 1), -3)
    for kernels in (I, native):
        np.testing.assert_array_equal(kernels.maxpool_bwd_input_s16(g, x, dy).values.ravel(), [0, 100, 0, 0])


@SETTINGS
@given(seed=seeds, h=st.integers(1, 12), w=st.integers(1, 12), c=st.integers(1, 20))
def test_mean(native, seed, h, w, c):
    rng = np.random.default_rng(seed)
    g = ConvGeom.explicit(h, w, c, c, h, w)
    s_in = float(rng.uniform(0.001, 0.2))
    q = MeanQuant.from_scales(s_in, int(rng.integers(-128, 128)), s_in * rng.uniform(0.05, 4), int(rng.integers(-128, 128)), h * w)
    x = rng.integers(-128, 128, g.in_shape).astype(np.int8)
    np.testing.assert_array_equal(native.mean_fwd_s8(g, q, x), forward.mean_fwd_s8(g, q, x))


@SETTINGS
@given(seed=seeds, n=st.integers(1, 400))
def test_hard_swish(native, seed, n):
    rng = np.random.default_rng(seed)
    s_in, zp = float(rng.uniform(0.002, 0.3)), int(rng.integers(-128, 128))
    q = HardSwishQuant.from_scales(s_in, zp, s_in * rng.uniform(0.3, 1.5), int(rng.integers(-128, 0)))
    g = HardSwishGrad.from_scale(s_in, zp)
    x = rng.integers(-128, 128, n).astype(np.int8)
    np.testing.assert_array_equal(native.hard_swish_fwd_s8(q, x), forward.hard_swish_fwd_s8(q, x))
    dy = _grad(rng, n)
    got = I.hard_swish_bwd_input_s16(g, x, dy)
    _same(native.hard_swish_bwd_input_s16(g, x, dy), got)
    real = np.float32(s_in) * (x.astype(np.float64) - zp)
    want = F.hard_swish_bwd_input_f32(real, dy.to_float())
    kink = np.isclose(np.abs(real), 3.0, atol=1e-6)  # the derivative jumps there: either side is right
    # Q14 slope (half a step of 2**-14, times |dY|) plus one final rounding.
    bound = 0.5 * 2.0**got.exp + 2.0**-14 * np.abs(dy.to_float())
    assert np.all((np.abs(got.to_float() - want) <= bound) | kink)


@SETTINGS
@given(seed=seeds, n=st.integers(1, 400))
def test_logistic(native, seed, n):
    rng = np.random.default_rng(seed)
    s_in, zp = float(10 ** rng.uniform(-3.5, -0.3)), int(rng.integers(-128, 128))
    q = LogisticQuant.from_scale(s_in, zp)
    x = rng.integers(-128, 128, n).astype(np.int8)
    np.testing.assert_array_equal(native.logistic_fwd_s8(q, x), forward.logistic_fwd_s8(q, x))
    dy = _grad(rng, n)
    got = I.logistic_bwd_input_s16(q, x, dy)
    _same(native.logistic_bwd_input_s16(q, x, dy), got)
    real = np.float32(s_in) * (x.astype(np.float64) - zp)
    want = F.logistic_bwd_input_f32(real, dy.to_float())
    # s(1 - s) from the 8-bit output (within a step of 1/256 of s, and d(s(1 - s))/ds <= 1),
    # plus one final rounding.
    assert np.all(np.abs(got.to_float() - want) <= 0.5 * 2.0**got.exp + np.abs(dy.to_float()) / 256)


def test_logistic_is_tflite_micros_on_every_input():
    """Every int8 input at 100 random input quantizations against TFLite Micro's LOGISTIC."""
    tflm = pytest.importorskip("tflite_micro", reason="needs the tflite-micro wheel").runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

    from tt_host.tflite.writer import GraphWriter

    rng = np.random.default_rng(5)
    x = np.arange(-128, 128, dtype=np.int8)
    for _ in range(100):
        scale, zp = np.float32(10 ** rng.uniform(-3.5, -0.3)), int(rng.integers(-128, 128))
        g = GraphWriter()
        t_in = g.tensor("x", (1, x.size), S.TensorType.INT8, scale, zp)
        t_out = g.tensor("y", (1, x.size), S.TensorType.INT8, np.float32(1 / 256), -128)
        g.op(S.BuiltinOperator.LOGISTIC, [t_in], [t_out])
        interp = tflm.Interpreter.from_bytes(g.finish([t_in], [t_out], "logistic"))
        interp.set_input(x[None], 0)
        interp.invoke()
        want = interp.get_output(0).reshape(-1)
        np.testing.assert_array_equal(forward.logistic_fwd_s8(LogisticQuant.from_scale(float(scale), zp), x), want,
                                      err_msg=f"input scale {scale}, zero point {zp}")


@pytest.mark.parametrize("b_shape", [(4, 5, 6), (1, 1, 6), ()])
@settings(max_examples=30, deadline=None)
@given(seed=seeds)
def test_mul(native, b_shape, seed):
    rng = np.random.default_rng(seed)
    s_a, s_b = float(rng.uniform(0.002, 0.2)), float(rng.uniform(0.002, 0.2))
    q = MulQuant.from_scales(s_a, int(rng.integers(-128, 128)), s_b, int(rng.integers(-128, 128)),
                             s_a * s_b * rng.uniform(10, 300), int(rng.integers(-128, 128)))
    gq = MulGrad.from_scales(s_a, s_b)
    a = rng.integers(-128, 128, (4, 5, 6)).astype(np.int8)
    b = rng.integers(-128, 128, b_shape).astype(np.int8)
    np.testing.assert_array_equal(native.mul_fwd_s8(q, a, b), forward.mul_fwd_s8(q, a, b))
    dy = I.Grad.from_float(rng.normal(size=a.shape), bits=15)
    b_numel = max(b.size, 1)
    da, db = I.mul_bwd_a_s16(q, gq, b, dy), I.mul_bwd_b_s16(q, gq, a, dy, b_numel)
    _same(native.mul_bwd_a_s16(q, gq, b, dy), da)
    _same(native.mul_bwd_b_s16(q, gq, a, dy, b_numel), db)
    a_real = np.float32(s_a) * (a.astype(np.float64) - q.input1_zp)
    b_real = np.float32(s_b) * (b.astype(np.float64) - q.input2_zp)
    want_a, want_b = F.mul_bwd_f32(a_real, b_real, dy.to_float())
    # TFLite's double rounding (up to one LSB) and the Q31 scale (relative 2**-30); dB also
    # rounds its exact sum once to fit 31 bits, before the scale.
    assert np.all(np.abs(da.to_float() - want_a) <= 2.0**da.exp + 1e-8 * np.abs(want_a).max() + 1e-300)
    assert np.all(np.abs(db.to_float().ravel() - want_b) <= 2.0 * 2.0**db.exp + 1e-8 * np.abs(want_b).max() + 1e-300)


@SETTINGS
@given(seed=seeds, n=st.integers(1, 300), op=st.sampled_from(["RELU", "RELU6", "LEAKY_RELU", "QUANTIZE"]))
def test_requantize(native, seed, n, op):
    rng = np.random.default_rng(seed)
    s_in, zp_in = float(rng.uniform(0.002, 0.3)), int(rng.integers(-128, 128))
    s_out, zp_out = s_in * rng.uniform(0.1, 4), int(rng.integers(-128, 128))
    alpha = float(rng.uniform(0, 1))
    q = {"QUANTIZE": lambda: RequantizeQuant.requantize(s_in, zp_in, s_out, zp_out),
         "LEAKY_RELU": lambda: RequantizeQuant.leaky_relu(alpha, s_in, zp_in, s_out, zp_out)}.get(
        op, lambda: RequantizeQuant.relu(op, s_in, zp_in, s_out, zp_out))()
    x = rng.integers(-128, 128, n).astype(np.int8)
    y = forward.requantize_s8(q, x)
    np.testing.assert_array_equal(native.requantize_s8(q, x), y)
    if op == "RELU6":  # a clamp at the input's real 0 and 6, nothing else
        six = np.clip(np.round(6 / np.float32(s_in)) + zp_in, -128, 127)
        np.testing.assert_array_equal(y, np.clip(x, zp_in, six))



@SETTINGS
@given(seed=seeds, n=st.integers(1, 300))
def test_leaky_relu_bwd(native, seed, n):
    rng = np.random.default_rng(seed)
    alpha, zp = float(rng.uniform(0, 1)), int(rng.integers(-128, 128))
    m, sh = quantize_multiplier(alpha)
    x = rng.integers(-128, 128, n).astype(np.int8)
    dy = _grad(rng, n)
    got = I.leaky_relu_bwd_input_s16(zp, m, sh, x, dy)
    _same(native.leaky_relu_bwd_input_s16(zp, m, sh, x, dy), got)
    want = F.leaky_relu_bwd_input_f32(alpha, x.astype(np.float64) - zp, dy.to_float())
    assert np.all(np.abs(got.to_float() - want) <= 2.0**got.exp)  # TFLite's double rounding of alpha * dY
