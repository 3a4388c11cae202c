"""The sparse-update and memory-saving kernels of the host library (the C side of
``tt_host.reference.fused``): channel gather, fused weight gradient + update, trainable-overlay
forward and input gradient, in-place depthwise/pointwise, the fused inverted bottleneck."""

from __future__ import annotations

import ctypes as C

import numpy as np

from tt_host.native.abi import (
    CBwdWeightParams,
    CChannels,
    CConvGeom,
    CConvQuant,
    CFcGeom,
    CGradS16,
    CGradQuant,
    CIrbGeom,
    CIrbProgress,
    CIrbQuant,
    CIrbRows,
    CIrbWeights,
    CQas,
    CRng,
    CSgd,
    CUpdate,
    KernelCtx,
    _i32,
    _p16,
    _p32,
    _p8,
)
from tt_host.native.kernels import _in8, _in16, _ptr8, _ptr16, _ptr32, _Scratch, bwd_weight_params, grad_s16
from tt_host.native.library import PROTOTYPES, load
from tt_host.reference.backward_int import Grad
from tt_host.reference.params import ConvGeom, ConvQuant, GradQuant
from tt_host.reference.update import Qas, Rng, Sgd


_WUPDATE = [C.POINTER(CConvGeom), C.POINTER(CBwdWeightParams), _p8, C.POINTER(CGradS16), C.POINTER(CUpdate), _p8]


_OVERLAY_TAIL = [_p8, _p8, _p16, _i32, _p8, _p32, _p8]


PROTOTYPES.update({
    "tt_gather_channels_s8": (None, [_i32, _i32, _p16, _i32, _p8, _p8]),
    "tt_conv2d_bwd_weight_update_s8": (None, _WUPDATE),
    "tt_pw_conv2d_bwd_weight_update_s8": (None, _WUPDATE),
    "tt_dw_conv2d_bwd_weight_update_s8": (None, _WUPDATE),
    "tt_fc_bwd_weight_update_s8": (None, [C.POINTER(CFcGeom)] + _WUPDATE[1:]),
    "tt_conv2d_fwd_overlay_s8_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_conv2d_fwd_overlay_s8": (None, [C.POINTER(KernelCtx), C.POINTER(CConvGeom), C.POINTER(CConvQuant)] + _OVERLAY_TAIL),
    "tt_pw_conv2d_bwd_input_overlay_s16_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_pw_conv2d_bwd_input_overlay_s16": (None, [C.POINTER(KernelCtx), C.POINTER(CConvGeom), C.POINTER(CGradQuant),
                                                  _p16, _i32, _p8, _p16, _i32, _p8, _p16, _p32]),
    "tt_fc_fwd_overlay_s8_scratch_size": (C.c_uint32, [C.POINTER(CFcGeom)]),
    "tt_fc_fwd_overlay_s8": (None, [C.POINTER(KernelCtx), C.POINTER(CFcGeom), C.POINTER(CConvQuant)] + _OVERLAY_TAIL),
    "tt_dw_conv2d_fwd_inplace_s8_supported": (C.c_int, [C.POINTER(CConvGeom)]),
    "tt_dw_conv2d_fwd_inplace_s8_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_dw_conv2d_fwd_inplace_s8": (None, [C.POINTER(KernelCtx), C.POINTER(CConvGeom), C.POINTER(CConvQuant), _p8, _p32,
                                           _p8]),
    "tt_dw_conv2d_bwd_input_inplace_s16_supported": (C.c_int, [C.POINTER(CConvGeom)]),
    "tt_dw_conv2d_bwd_input_inplace_s16_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_dw_conv2d_bwd_input_inplace_s16": (None, [C.POINTER(KernelCtx), C.POINTER(CConvGeom), C.POINTER(CGradQuant),
                                                  _i32, _p8, _p16, _p32]),
    "tt_pw_conv2d_fwd_inplace_s8_supported": (C.c_int, [C.POINTER(CConvGeom)]),
    "tt_pw_conv2d_fwd_inplace_s8_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_pw_conv2d_fwd_inplace_s8": (None, [C.POINTER(KernelCtx), C.POINTER(CConvGeom), C.POINTER(CConvQuant), _p8, _p32,
                                           _p8]),
    "tt_irb_geom_check": (C.c_int, [C.POINTER(CIrbGeom)]),
    "tt_irb_fwd_s8_scratch_size": (C.c_uint32, [C.POINTER(CIrbGeom)]),
    "tt_irb_fwd_s8_can_alias": (C.c_int, [C.POINTER(CIrbGeom)]),
    "tt_irb_fwd_s8": (None, [C.POINTER(KernelCtx), C.POINTER(CIrbGeom), C.POINTER(CIrbQuant), _p8,
                             C.POINTER(CIrbWeights), _p8]),
    "tt_irb_fwd_s8_rows_span": (_i32, [C.POINTER(CIrbGeom)]),
    "tt_irb_fwd_s8_rows": (_i32, [C.POINTER(KernelCtx), C.POINTER(CIrbGeom), C.POINTER(CIrbQuant), C.POINTER(CIrbRows),
                                  C.POINTER(CIrbWeights), _p8, C.POINTER(CIrbProgress)]),
})


class _GuardedScratch(_Scratch):
    """A scratch buffer of exactly the declared size followed by guard bytes that ``check()``
    verifies, so a kernel writing past its ``..._scratch_size()`` fails the Python tests too."""

    GUARD = 64

    def __init__(self, size: int) -> None:
        super().__init__(int(size) + self.GUARD)
        self.size = int(size)
        self.ctx = KernelCtx(self.buf.ctypes.data_as(C.c_void_p), self.size)

    def check(self, kernel: str) -> None:
        if not np.all(self.buf[self.size:] == 0xA5):
            raise AssertionError(f"{kernel} wrote past its {self.size}-byte scratch")


def gather_channels_s8(x, channels) -> np.ndarray:
    xv = np.ascontiguousarray(x, dtype=np.int8)
    ch = np.ascontiguousarray(channels, dtype=np.int16)
    in_c = xv.shape[-1]
    pixels = xv.size // in_c
    out = np.full(xv.shape[:-1] + (ch.size,), 0x5A, dtype=np.int8)
    load().tt_gather_channels_s8(pixels, in_c, _ptr16(ch), ch.size, _ptr8(xv), _ptr8(out))
    return out


def _wupdate_args(sgd: Sgd, qas: Qas, rng: Rng, slice_w, velocity) -> tuple[np.ndarray, CRng, CUpdate]:
    """(the slice to update, the PRNG state, the ``tt_update_t`` pointing at both)."""
    w = np.array(slice_w, dtype=np.int8, copy=True, order="C")
    c = CRng(rng.seed & 0xFFFFFFFF, rng.counter)
    cs, cq = CSgd.of(sgd), CQas.of(qas)
    update = CUpdate(C.pointer(cs), C.pointer(cq), C.pointer(c),
                     None if velocity is None else velocity.ctypes.data_as(_p32))
    update._keep = (cs, cq, c, velocity)
    return w, c, update


def conv2d_bwd_weight_update_s8(geom: ConvGeom, input_zp: int, x_kept, dy: Grad, sgd: Sgd, qas: Qas, rng: Rng,
                                slice_w, velocity: np.ndarray | None = None, kernel: str = "conv2d") -> np.ndarray:
    """``tt_<kernel>_bwd_weight_update_s8`` (conv2d or pw_conv2d); returns the updated slice."""
    xk = np.ascontiguousarray(x_kept, dtype=np.int8)
    v = _in16(dy.values)
    w, c, update = _wupdate_args(sgd, qas, rng, slice_w, velocity)
    params = CBwdWeightParams(input_zp, CChannels(None, xk.shape[-1]))  # a compact input: only the count is read
    getattr(load(), f"tt_{kernel}_bwd_weight_update_s8")(C.byref(CConvGeom.of(geom)), C.byref(params), _ptr8(xk),
                                                          C.byref(grad_s16(v, dy.exp)), C.byref(update), _ptr8(w))
    rng.counter = c.counter
    return w


def pw_conv2d_bwd_weight_update_s8(geom: ConvGeom, input_zp: int, x_kept, dy: Grad, sgd: Sgd, qas: Qas, rng: Rng,
                                   slice_w, velocity: np.ndarray | None = None) -> np.ndarray:
    return conv2d_bwd_weight_update_s8(geom, input_zp, x_kept, dy, sgd, qas, rng, slice_w, velocity, "pw_conv2d")


def dw_conv2d_bwd_weight_update_s8(geom: ConvGeom, input_zp: int, channels, x_kept, dy: Grad, sgd: Sgd, qas: Qas,
                                   rng: Rng, slice_w, velocity: np.ndarray | None = None) -> np.ndarray:
    ch = np.ascontiguousarray(channels, dtype=np.int16)
    xk = np.ascontiguousarray(x_kept, dtype=np.int8)
    v = _in16(dy.values)
    w, c, update = _wupdate_args(sgd, qas, rng, slice_w, velocity)
    load().tt_dw_conv2d_bwd_weight_update_s8(C.byref(CConvGeom.of(geom)), C.byref(bwd_weight_params(input_zp, ch)),
                                             _ptr8(xk), C.byref(grad_s16(v, dy.exp)), C.byref(update), _ptr8(w))
    rng.counter = c.counter
    return w


def fc_bwd_weight_update_s8(input_zp: int, x_kept, dy: Grad, sgd: Sgd, qas: Qas, rng: Rng, slice_w, in_c: int = 0,
                            velocity: np.ndarray | None = None) -> np.ndarray:
    xk = np.ascontiguousarray(x_kept, dtype=np.int8).ravel()
    v = _in16(dy.values).ravel()
    w, c, update = _wupdate_args(sgd, qas, rng, slice_w, velocity)
    params = CBwdWeightParams(input_zp, CChannels(None, xk.size))  # a compact input: only the count is read
    load().tt_fc_bwd_weight_update_s8(C.byref(CFcGeom(in_c or xk.size, v.size)), C.byref(params), _ptr8(xk),
                                      C.byref(grad_s16(v, dy.exp)), C.byref(update), _ptr8(w))
    rng.counter = c.counter
    return w


def conv2d_fwd_overlay_s8(geom: ConvGeom, quant: ConvQuant, x, weights, channels, trained, bias) -> np.ndarray:
    lib = load()
    cg = CConvGeom.of(geom)
    x = _in8(x, geom.in_shape)
    w = np.ascontiguousarray(weights, dtype=np.int8)
    ch = np.ascontiguousarray(channels, dtype=np.int16)
    t = np.ascontiguousarray(trained, dtype=np.int8)
    b = None if bias is None else np.ascontiguousarray(bias, dtype=np.int32)
    out = np.full(geom.out_shape, 0x5A, dtype=np.int8)
    scratch = _GuardedScratch(lib.tt_conv2d_fwd_overlay_s8_scratch_size(C.byref(cg)))
    lib.tt_conv2d_fwd_overlay_s8(C.byref(scratch.ctx), C.byref(cg), C.byref(CConvQuant.of(quant)), _ptr8(x), _ptr8(w),
                                 _ptr16(ch), ch.size, _ptr8(t), _ptr32(b), _ptr8(out))
    scratch.check("tt_conv2d_fwd_overlay_s8")
    return out


def pw_conv2d_bwd_input_overlay_s16(geom: ConvGeom, gq: GradQuant, dy: Grad, weights, channels, trained) -> Grad:
    lib = load()
    cg = CConvGeom.of(geom)
    v = _in16(dy.values)
    w = np.ascontiguousarray(weights, dtype=np.int8)
    ch = np.ascontiguousarray(channels, dtype=np.int16)
    t = np.ascontiguousarray(trained, dtype=np.int8)
    out = np.full(geom.in_shape, 0x5A5A, dtype=np.int16)
    e = C.c_int32(-999)
    scratch = _GuardedScratch(lib.tt_pw_conv2d_bwd_input_overlay_s16_scratch_size(C.byref(cg)))
    lib.tt_pw_conv2d_bwd_input_overlay_s16(C.byref(scratch.ctx), C.byref(cg), C.byref(CGradQuant.of(gq)), _ptr16(v),
                                           dy.exp, _ptr8(w), _ptr16(ch), ch.size, _ptr8(t), _ptr16(out), C.byref(e))
    scratch.check("tt_pw_conv2d_bwd_input_overlay_s16")
    return Grad(out, e.value)


def fc_fwd_overlay_s8(quant: ConvQuant, x, weights, channels, trained, bias) -> np.ndarray:
    lib = load()
    w = np.ascontiguousarray(weights, dtype=np.int8)
    out_c, in_c = w.shape
    g = CFcGeom(in_c, out_c)
    x = _in8(x, (in_c,))
    ch = np.ascontiguousarray(channels, dtype=np.int16)
    t = np.ascontiguousarray(trained, dtype=np.int8)
    b = None if bias is None else np.ascontiguousarray(bias, dtype=np.int32)
    out = np.full(out_c, 0x5A, dtype=np.int8)
    scratch = _GuardedScratch(lib.tt_fc_fwd_overlay_s8_scratch_size(C.byref(g)))
    lib.tt_fc_fwd_overlay_s8(C.byref(scratch.ctx), C.byref(g), C.byref(CConvQuant.of(quant)), _ptr8(x), _ptr8(w),
                             _ptr16(ch), ch.size, _ptr8(t), _ptr32(b), _ptr8(out))
    scratch.check("tt_fc_fwd_overlay_s8")
    return out


def _inplace(kind: str, geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    """Runs the in-place kernel on a buffer of max(input, output) bytes; returns the output."""
    lib = load()
    cg = CConvGeom.of(geom)
    x = _in8(x, geom.in_shape)
    n_out = int(np.prod(geom.out_shape))
    buf = np.full(max(x.size, n_out), 0x5A, dtype=np.int8)
    buf[: x.size] = x.ravel()
    w = np.ascontiguousarray(weights, dtype=np.int8)
    b = None if bias is None else np.ascontiguousarray(bias, dtype=np.int32)
    scratch = _GuardedScratch(getattr(lib, f"tt_{kind}_fwd_inplace_s8_scratch_size")(C.byref(cg)))
    getattr(lib, f"tt_{kind}_fwd_inplace_s8")(C.byref(scratch.ctx), C.byref(cg), C.byref(CConvQuant.of(quant)), _ptr8(w),
                                              _ptr32(b), _ptr8(buf))
    scratch.check(f"tt_{kind}_fwd_inplace_s8")
    return buf[:n_out].reshape(geom.out_shape).copy()


def dw_conv2d_fwd_inplace_s8(geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    return _inplace("dw_conv2d", geom, quant, x, weights, bias)


def pw_conv2d_fwd_inplace_s8(geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    return _inplace("pw_conv2d", geom, quant, x, weights, bias)


def inplace_supported(kind: str, geom: ConvGeom) -> bool:
    """``tt_<kind>_fwd_inplace_s8_supported`` (kind: dw_conv2d or pw_conv2d)."""
    return bool(getattr(load(), f"tt_{kind}_fwd_inplace_s8_supported")(C.byref(CConvGeom.of(geom))))


def dw_conv2d_bwd_input_inplace_s16(geom: ConvGeom, gq: GradQuant, dy: Grad, weights) -> Grad:
    """``tt_dw_conv2d_bwd_input_inplace_s16`` on a copy of dY (one buffer, dX written over it)."""
    lib = load()
    cg = CConvGeom.of(geom)
    buf = np.array(dy.values, dtype=np.int16, order="C")
    if buf.size != geom.out_h * geom.out_w * geom.out_c:
        raise ValueError("dY does not match the geometry")
    w = np.ascontiguousarray(weights, dtype=np.int8)
    e = C.c_int32(-999)
    scratch = _GuardedScratch(lib.tt_dw_conv2d_bwd_input_inplace_s16_scratch_size(C.byref(cg)))
    lib.tt_dw_conv2d_bwd_input_inplace_s16(C.byref(scratch.ctx), C.byref(cg), C.byref(CGradQuant.of(gq)), dy.exp,
                                           _ptr8(w), _ptr16(buf), C.byref(e))
    scratch.check("tt_dw_conv2d_bwd_input_inplace_s16")
    return Grad(buf.reshape(geom.in_shape), e.value)


def dw_bwd_input_inplace_supported(geom: ConvGeom) -> bool:
    """``tt_dw_conv2d_bwd_input_inplace_s16_supported``."""
    return bool(load().tt_dw_conv2d_bwd_input_inplace_s16_supported(C.byref(CConvGeom.of(geom))))


def irb_geom_check(geom) -> bool:
    return bool(load().tt_irb_geom_check(C.byref(CIrbGeom.of(geom))))


def irb_fwd_s8_scratch_size(geom) -> int:
    return int(load().tt_irb_fwd_s8_scratch_size(C.byref(CIrbGeom.of(geom))))


def irb_can_alias(geom) -> bool:
    return bool(load().tt_irb_fwd_s8_can_alias(C.byref(CIrbGeom.of(geom))))


def irb_rows_span(geom) -> int:
    return int(load().tt_irb_fwd_s8_rows_span(C.byref(CIrbGeom.of(geom))))


def irb_fwd_s8_streamed(geom, quant, x, weights, chunks) -> np.ndarray:
    """``tt_irb_fwd_s8_rows`` fed the way the executor feeds a streamed sample: the input's bytes
    arrive in pieces of the sizes ``chunks`` cycles through, into a buffer of
    ``tt_irb_fwd_s8_rows_span`` rows; a piece runs whenever a row completes, and the rows below
    the one it returns are dropped. Raises when the buffer would overflow."""
    lib = load()
    cg = CIrbGeom.of(geom)
    x = _in8(x, geom.in_shape).ravel()
    in_h = geom.in_shape[0]
    row = x.size // in_h
    span = lib.tt_irb_fwd_s8_rows_span(C.byref(cg))
    staging = np.full(span * row + _GuardedScratch.GUARD, 0x5A, dtype=np.int8)
    out = np.full(geom.out_shape, 0x5A, dtype=np.int8)
    scratch = _GuardedScratch(lib.tt_irb_fwd_s8_scratch_size(C.byref(cg)))
    progress = CIrbProgress(0, 0, 0)
    cw, cq = CIrbWeights.of(weights), CIrbQuant.of(quant)
    first = 0  # staging holds rows [first, ...) from its start
    sent, k = 0, 0
    while sent < x.size:
        n = min(int(chunks[k % len(chunks)]), x.size - sent)
        k += 1
        for at in range(sent, sent + n):
            r = at // row
            if r >= first:
                if (r - first + 1) * row > span * row:
                    raise AssertionError(f"row {r} does not fit {span} rows from row {first}")
                staging[(r - first) * row + at % row] = x[at]
            if at % row == row - 1:  # row r complete: run what it allows, drop what is done
                held = CIrbRows(_ptr8(staging), first, max(first, r + 1))
                keep = lib.tt_irb_fwd_s8_rows(C.byref(scratch.ctx), C.byref(cg), C.byref(cq), C.byref(held),
                                              C.byref(cw), _ptr8(out), C.byref(progress))
                if keep > first:
                    held = max(0, r + 1 - keep)
                    staging[: held * row] = staging[(keep - first) * row:(keep - first + held) * row].copy()
                    first = keep
        sent += n
    scratch.check("tt_irb_fwd_s8_rows")
    if not np.all(staging[span * row:] == 0x5A):
        raise AssertionError("a piece wrote into the input rows")
    if progress.next_out != geom.dw.out_h:
        raise AssertionError(f"stopped at output row {progress.next_out} of {geom.dw.out_h}")
    return out


def irb_fwd_s8(geom, quant, x, weights, alias: bool = False) -> np.ndarray:
    """``tt_irb_fwd_s8``; ``alias``: run with output == input (needs ``irb_can_alias``), in a
    buffer of max(input, output) bytes."""
    lib = load()
    cg = CIrbGeom.of(geom)
    x = _in8(x, geom.in_shape)
    n_out = int(np.prod(geom.out_shape))
    scratch = _GuardedScratch(lib.tt_irb_fwd_s8_scratch_size(C.byref(cg)))
    cw = CIrbWeights.of(weights)
    cq = CIrbQuant.of(quant)
    if alias:
        buf = np.full(max(x.size, n_out), 0x5A, dtype=np.int8)
        buf[: x.size] = x.ravel()
        lib.tt_irb_fwd_s8(C.byref(scratch.ctx), C.byref(cg), C.byref(cq), _ptr8(buf), C.byref(cw), _ptr8(buf))
        scratch.check("tt_irb_fwd_s8")
        return buf[:n_out].reshape(geom.out_shape).copy()
    out = np.full(geom.out_shape, 0x5A, dtype=np.int8)
    lib.tt_irb_fwd_s8(C.byref(scratch.ctx), C.byref(cg), C.byref(cq), _ptr8(x), C.byref(cw), _ptr8(out))
    scratch.check("tt_irb_fwd_s8")
    return out
