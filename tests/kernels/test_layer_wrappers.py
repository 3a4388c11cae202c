"""The layer wrappers (tt/kernels/layer.h) pick the right kernel variant and size its scratch.

For every parameterised op and pass, every weights view (frozen, the whole tensor trained, a
slice of some input channels) and both placements (out of place, output over the input where a
variant exists), the wrapper's result equals the numpy reference on the merged weight tensor,
bit for bit, inside exactly the scratch its size function declares (guarded). The size function
is the one the executor's load check and the compiler ask, so these are also the cases a plan
can contain.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tt_host.reference import backward_int as I
from tt_host.reference import forward
from tt_host.reference import fused as Fz
from tt_host.reference.params import ConvGeom

from .strategies import biases, conv_geoms, conv_quants, int8s, seeds
from .test_backward_c_vs_numpy import assert_same_grad, grad16, grad_quant

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = ("conv2d", "pw_conv2d", "dw_conv2d", "fc")


def _geom(data, kind: str) -> ConvGeom:
    if kind == "conv2d":
        return data.draw(conv_geoms(max_hw=7, max_c=8))
    if kind == "pw_conv2d":
        return data.draw(conv_geoms(kernel=(1, 1), pad=False, max_hw=7, max_c=12))
    if kind == "dw_conv2d":
        return data.draw(conv_geoms(max_hw=8, max_c=8, same_c=True))
    return ConvGeom.explicit(1, 1, data.draw(st.integers(1, 40)), data.draw(st.integers(1, 12)), 1, 1)


def _weight_shape(kind: str, g: ConvGeom) -> tuple[int, ...]:
    if kind == "fc":
        return (g.out_c, g.in_c)
    if kind == "dw_conv2d":
        return (1, g.kernel_h, g.kernel_w, g.out_c)
    return (g.out_c, g.kernel_h, g.kernel_w, g.in_c)


def _slice(rng, view: str, in_c: int) -> list[int]:
    """The trained input channels, ascending as a plan lists them."""
    if view == "frozen":
        return []
    if view == "whole":
        return list(range(in_c))
    n = int(rng.integers(1, in_c)) if in_c > 1 else 1
    return sorted(rng.permutation(in_c)[:n].tolist())


def _in_place_expected(kind: str, pass_: str, g: ConvGeom, channels: list[int]) -> bool:
    """Where the C promises a variant that writes over its input."""
    partial = 0 < len(channels) < g.in_c
    if pass_ == "fwd" and kind == "dw_conv2d":
        return Fz.dw_inplace_supported(g)
    if pass_ == "fwd" and kind == "pw_conv2d":
        return Fz.pw_inplace_supported(g) and not partial  # the overlay kernel has no in-place form
    if pass_ == "bwd_input" and kind == "dw_conv2d":
        return Fz.dw_bwd_input_inplace_supported(g)
    return False


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("view", ["frozen", "whole", "partial"])
@SETTINGS
@given(data=st.data(), seed=seeds, with_bias=st.booleans(), in_place=st.booleans())
def test_forward_wrapper(native, kind, view, data, seed, with_bias, in_place):
    g = _geom(data, kind)
    rng = np.random.default_rng(seed)
    quant = data.draw(conv_quants(g.out_c))
    x = int8s(rng, (g.in_c,) if kind == "fc" else g.in_shape)
    w = int8s(rng, _weight_shape(kind, g))
    ch = _slice(rng, view, g.in_c)
    trained = Fz.gather_channels_s8(int8s(rng, w.shape), ch) if ch else None
    b = biases(rng, g.out_c, with_bias)
    supported = _in_place_expected(kind, "fwd", g, ch)
    size = native.layer_scratch_size(kind, "fwd", g, len(ch), len(ch) == g.in_c, in_place)
    assert (size is not None) == (supported or not in_place)
    if size is None:
        return
    merged = Fz.merge_overlay(w, ch, trained) if ch else w
    reference = {"conv2d": forward.conv2d_fwd_s8, "pw_conv2d": forward.pw_conv2d_fwd_s8,
                 "dw_conv2d": forward.dw_conv2d_fwd_s8}
    want = (forward.fc_fwd_s8(quant, x, merged, b) if kind == "fc"
            else reference[kind](g, quant, x, merged, b))
    got = native.layer_fwd(kind, g, quant, x, w, b, ch, trained, in_place)
    np.testing.assert_array_equal(got.reshape(-1), np.asarray(want).reshape(-1))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("view", ["frozen", "whole", "partial"])
@SETTINGS
@given(data=st.data(), seed=seeds, in_place=st.booleans())
def test_input_gradient_wrapper(native, kind, view, data, seed, in_place):
    g = _geom(data, kind)
    rng = np.random.default_rng(seed)
    w = int8s(rng, _weight_shape(kind, g))
    ch = _slice(rng, view, g.in_c)
    trained = Fz.gather_channels_s8(int8s(rng, w.shape), ch) if ch else None
    gq, dy = grad_quant(rng, g.out_c), grad16(rng, (g.out_c,) if kind == "fc" else g.out_shape)
    supported = _in_place_expected(kind, "bwd_input", g, ch)
    size = native.layer_scratch_size(kind, "bwd_input", g, len(ch), len(ch) == g.in_c, in_place)
    assert (size is not None) == (supported or not in_place)
    if size is None:
        return
    merged = Fz.merge_overlay(w, ch, trained) if ch else w
    reference = {"conv2d": I.conv2d_bwd_input_s16, "pw_conv2d": I.pw_conv2d_bwd_input_s16,
                 "dw_conv2d": I.dw_conv2d_bwd_input_s16}
    want = I.fc_bwd_input_s16(gq, dy, merged) if kind == "fc" else reference[kind](g, gq, dy, merged)
    got = native.layer_bwd_input(kind, g, gq, dy, w, ch, trained, in_place)
    assert_same_grad(got, want, f"{kind} dX ({view}, in place {in_place}) {g}")


@pytest.mark.parametrize("kind", KINDS)
def test_merged_variants_put_the_tensor_before_the_kernel_scratch(native, kind):
    """A partial slice costs the merged tensor (rounded to 4) in front of the plain kernel's
    scratch where the op has no overlay kernel, and the overlay's scratch where it has one."""
    g = ConvGeom.explicit(6, 6, 10, 10, 3, 3, 1, 1, 1, 1, 1, 1) if kind in ("conv2d", "dw_conv2d") else (
        ConvGeom.explicit(6, 6, 10, 7, 1, 1, 1, 1) if kind == "pw_conv2d" else ConvGeom.explicit(1, 1, 30, 7, 1, 1))
    weights = int(np.prod(_weight_shape(kind, g)))
    merged = -(-weights // 4) * 4
    fc = (g.in_c, g.out_c)
    plain_fwd = native.scratch_size("fc_fwd_s8" if kind == "fc" else f"{kind}_fwd_s8", fc if kind == "fc" else g)
    plain_bwd = native.scratch_size(f"{kind}_bwd_input_s16", fc if kind == "fc" else g)
    assert native.layer_scratch_size(kind, "fwd", g) == plain_fwd
    assert native.layer_scratch_size(kind, "bwd_input", g) == plain_bwd
    assert native.layer_scratch_size(kind, "fwd", g, g.in_c, True) == plain_fwd  # the whole slice: plain kernel
    overlay_fwd = {"conv2d": "conv2d_fwd_overlay_s8", "pw_conv2d": "conv2d_fwd_overlay_s8", "fc": "fc_fwd_overlay_s8"}
    want_fwd = (native.scratch_size(overlay_fwd[kind], fc if kind == "fc" else g) if kind in overlay_fwd
                else merged + plain_fwd)
    want_bwd = (native.scratch_size("pw_conv2d_bwd_input_overlay_s16", g) if kind == "pw_conv2d"
                else merged + plain_bwd)
    assert native.layer_scratch_size(kind, "fwd", g, 3, False) == want_fwd
    assert native.layer_scratch_size(kind, "bwd_input", g, 3, False) == want_bwd


def test_short_scratch_stops_the_host_build(native):
    """The host library is built with TT_DCHECKS: a wrapper handed less scratch than its size
    function declares aborts with the place, instead of writing past the buffer."""
    import subprocess
    import sys

    script = """
import ctypes as C
from tt_host import native
from tt_host.reference.params import ConvGeom
g = ConvGeom.explicit(8, 8, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1)
assert native.layer_scratch_size("dw_conv2d", "fwd", g) > 0
lib = native.load()
x = (C.c_int8 * (8 * 8 * 16))()
y = (C.c_int8 * (8 * 8 * 16))()
w = (C.c_int8 * (9 * 16))()
mult = (C.c_int32 * 16)(*([1 << 30] * 16))
shift = (C.c_int32 * 16)()
q = native.CConvQuant(0, 0, C.cast(mult, C.POINTER(C.c_int32)), C.cast(shift, C.POINTER(C.c_int32)), -128, 127)
view = native.CWeightsView(C.cast(w, C.POINTER(C.c_int8)), None, None, 0, 0)
ctx = native.KernelCtx(None, 0)
lib.tt_dw_conv2d_fwd_wrapper_s8(C.byref(ctx), C.byref(native.CConvGeom.of(g)), C.byref(q),
                                C.cast(x, C.POINTER(C.c_int8)), C.byref(view), None, C.cast(y, C.POINTER(C.c_int8)))
print("returned")
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "returned" not in proc.stdout, proc.stdout + proc.stderr
    assert "debug check failed" in proc.stderr and "tt_layer_wrappers.c" in proc.stderr, proc.stderr
