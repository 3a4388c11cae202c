"""The layer wrappers (``tt/kernels/layer.h``): per parameterised op and pass the one entry
that picks the kernel variant (plain / in place / overlay / merged), and its scratch size, which
the executor's load check and the planner (:mod:`tt_host.compiler.scratch`) both ask."""

from __future__ import annotations

import ctypes as C

import numpy as np

from tt_host.native.abi import (
    CConvGeom,
    CConvQuant,
    CFcGeom,
    CGradQuant,
    CWeightsView,
    KernelCtx,
    _i32,
    _p16,
    _p32,
    _p8,
)
from tt_host.native.kernels import _in16, _ptr8, _ptr16, _ptr32
from tt_host.native.library import PROTOTYPES, load
from tt_host.native.sparse import _GuardedScratch
from tt_host.reference.backward_int import Grad
from tt_host.reference.params import ConvGeom, ConvQuant, GradQuant


#: The parameterised ops with a layer wrapper, and the wrappers' passes.
LAYER_KINDS = ("conv2d", "pw_conv2d", "dw_conv2d", "fc")
LAYER_PASSES = ("fwd", "bwd_input")


#: ``TT_SCRATCH_UNSUPPORTED``: no variant serves the request (in place where none exists).
SCRATCH_UNSUPPORTED = 0xFFFFFFFF


def _wrapper(kind: str, pass_: str) -> str:
    if kind not in LAYER_KINDS or pass_ not in LAYER_PASSES:
        raise ValueError(f"no layer wrapper for {kind} {pass_}: kinds {LAYER_KINDS}, passes {LAYER_PASSES}")
    return f"tt_{kind}_{pass_}_wrapper_{'s8' if pass_ == 'fwd' else 's16'}"


for _kind in LAYER_KINDS:
    _geom = C.POINTER(CFcGeom if _kind == "fc" else CConvGeom)
    _view = C.POINTER(CWeightsView)
    PROTOTYPES.update({
        _wrapper(_kind, "fwd") + "_scratch_size": (C.c_uint32, [_geom, _view, C.c_int]),
        _wrapper(_kind, "bwd_input") + "_scratch_size": (C.c_uint32, [_geom, _view, C.c_int]),
        _wrapper(_kind, "fwd"): (None, [C.POINTER(KernelCtx), _geom, C.POINTER(CConvQuant), _p8, _view, _p32, _p8]),
        _wrapper(_kind, "bwd_input"): (None, [C.POINTER(KernelCtx), _geom, C.POINTER(CGradQuant), _p16, _i32, _view,
                                              _p16, _p32]),
    })


def _c_geom(kind: str, geom: ConvGeom):
    return CFcGeom(geom.in_c, geom.out_c) if kind == "fc" else CConvGeom.of(geom)


def _view(weights, channels, trained, in_c: int) -> tuple[CWeightsView, list]:
    """The view and the arrays it points into (kept alive by the caller)."""
    w = np.ascontiguousarray(weights, dtype=np.int8)
    ch = np.ascontiguousarray(channels, dtype=np.int16)
    keep = [w, ch]
    view = CWeightsView(_ptr8(w), None, _ptr16(ch), ch.size, int(ch.size == in_c and bool(np.all(ch == np.arange(in_c)))))
    if ch.size:
        t = np.ascontiguousarray(trained, dtype=np.int8)
        keep.append(t)
        view.trained = _ptr8(t)
    return view, keep


def layer_scratch_size(kind: str, pass_: str, geom: ConvGeom, n_channels: int = 0, whole: bool = False,
                       in_place: bool = False) -> int | None:
    """``<wrapper>_scratch_size``: scratch bytes of the variant the wrapper of ``kind``
    (``LAYER_KINDS``; FC as a 1x1 geometry of ``in_c`` -> ``out_c``) runs for ``pass_`` with a
    slice of ``n_channels`` trained input channels (``whole``: every channel, in order) and the
    output over the input or not; None where no variant can run in place."""
    view = CWeightsView(None, None, None, int(n_channels), int(bool(whole) and n_channels > 0))
    n = getattr(load(), _wrapper(kind, pass_) + "_scratch_size")(C.byref(_c_geom(kind, geom)), C.byref(view),
                                                                  int(in_place))
    return None if n == SCRATCH_UNSUPPORTED else int(n)


def layer_fwd(kind: str, geom: ConvGeom, quant: ConvQuant, x, weights, bias, channels=(), trained=None,
              in_place: bool = False) -> np.ndarray:
    """The forward wrapper of ``kind`` (frozen ``weights``, optionally the ``trained`` slice of
    ``channels``), on one buffer when ``in_place``; scratch guarded as the size function says."""
    name = _wrapper(kind, "fwd")
    view, keep = _view(weights, channels, trained, geom.in_c)
    n_out = int(np.prod(geom.out_shape))
    x = np.ascontiguousarray(x, dtype=np.int8).ravel()
    size = layer_scratch_size(kind, "fwd", geom, view.n_channels, view.whole, in_place)
    if size is None:
        raise ValueError(f"{name} has no in-place variant for this geometry and slice")
    scratch = _GuardedScratch(size)
    out = np.full(max(x.size, n_out) if in_place else n_out, 0x5A, dtype=np.int8)
    if in_place:
        out[: x.size] = x
    b = None if bias is None else np.ascontiguousarray(bias, dtype=np.int32)
    getattr(load(), name)(C.byref(scratch.ctx), C.byref(_c_geom(kind, geom)), C.byref(CConvQuant.of(quant)),
                          _ptr8(out if in_place else x), C.byref(view), _ptr32(b), _ptr8(out))
    scratch.check(name)
    del keep
    return out[:n_out].reshape(geom.out_shape).copy()


def layer_bwd_input(kind: str, geom: ConvGeom, gq: GradQuant, dy: Grad, weights, channels=(), trained=None,
                    in_place: bool = False) -> Grad:
    """The input-gradient wrapper of ``kind``, dX written over a copy of dY when ``in_place``."""
    name = _wrapper(kind, "bwd_input")
    view, keep = _view(weights, channels, trained, geom.in_c)
    v = _in16(dy.values).ravel()
    n_in = int(np.prod(geom.in_shape))
    size = layer_scratch_size(kind, "bwd_input", geom, view.n_channels, view.whole, in_place)
    if size is None:
        raise ValueError(f"{name} has no in-place variant for this geometry and slice")
    scratch = _GuardedScratch(size)
    out = np.full(max(v.size, n_in) if in_place else n_in, 0x5A5A, dtype=np.int16)
    if in_place:
        out[: v.size] = v
    e = C.c_int32(-999)
    getattr(load(), name)(C.byref(scratch.ctx), C.byref(_c_geom(kind, geom)), C.byref(CGradQuant.of(gq)),
                          _ptr16(out if in_place else v), dy.exp, C.byref(view), _ptr16(out), C.byref(e))
    scratch.check(name)
    del keep
    return Grad(out[:n_in].reshape(geom.in_shape).copy(), e.value)
