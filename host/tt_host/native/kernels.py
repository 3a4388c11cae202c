"""The kernels of the host library, called with the same dataclasses and numpy arrays as
``tt_host.reference`` and returning new arrays, so tests compare the two implementations call
for call; scratch is sized by each kernel's own ``..._scratch_size()`` (guarded where a kernel
must not write past it). The layer wrappers' size functions are what the planner asks
(:mod:`tt_host.compiler.scratch`)."""

from __future__ import annotations

import ctypes as C

import numpy as np

from tt_host.native.abi import (
    CAddQuant,
    CBwdWeightParams,
    CChannels,
    CConvGeom,
    CConvQuant,
    CFcGeom,
    CGradQuant,
    CGradS16,
    CLogitQuant,
    CHardSwishGrad,
    CHardSwishQuant,
    CLogisticQuant,
    CMeanQuant,
    CMulGrad,
    CMulQuant,
    CPadGeom,
    CPoolQuant,
    CRequantizeQuant,
    CQas,
    CRng,
    CSgd,
    CWeightSlice,
    KernelCtx,
    _i32,
    _p16,
    _p32,
    _p8,
    _pu8,
)
from tt_host.native.library import PROTOTYPES, load
from tt_host.reference.backward_int import Grad
from tt_host.reference.params import (
    AddQuant,
    ConcatGeom,
    ConvGeom,
    ConvQuant,
    GradQuant,
    HardSwishGrad,
    HardSwishQuant,
    LogisticQuant,
    MeanQuant,
    MulGrad,
    MulQuant,
    PoolQuant,
    RequantizeQuant,
)
from tt_host.reference.update import Qas, Rng, Sgd, WeightSlice


_CONV_FWD = [C.POINTER(KernelCtx), C.POINTER(CConvGeom), C.POINTER(CConvQuant), _p8, _p8, _p32, _p8]
_CONV_BWD_IN = [C.POINTER(KernelCtx), C.POINTER(CConvGeom), C.POINTER(CGradQuant), _p16, _i32, _p8, _p16, _p32]


_CONV_BWD_W = [C.POINTER(CConvGeom), C.POINTER(CBwdWeightParams), _p8, C.POINTER(CGradS16), _p32, _p32]


PROTOTYPES.update({
    "tt_conv_geom_check": (C.c_int, [C.POINTER(CConvGeom)]),
    "tt_conv2d_fwd_s8_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_conv2d_fwd_s8": (None, _CONV_FWD),
    "tt_pw_conv2d_fwd_s8_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_pw_conv2d_fwd_s8": (None, _CONV_FWD),
    "tt_dw_conv2d_fwd_s8_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_dw_conv2d_fwd_s8": (None, _CONV_FWD),
    "tt_fc_fwd_s8_scratch_size": (C.c_uint32, [C.POINTER(CFcGeom)]),
    "tt_fc_fwd_s8": (None, [C.POINTER(KernelCtx), C.POINTER(CFcGeom), C.POINTER(CConvQuant), _p8, _p8, _p32, _p8]),
    "tt_add_fwd_s8": (None, [_i32, C.POINTER(CAddQuant), _p8, _p8, _p8]),
    "tt_avgpool_fwd_s8": (None, [C.POINTER(CConvGeom), C.POINTER(CPoolQuant), _p8, _p8]),
    "tt_mean_fwd_s8": (None, [C.POINTER(CConvGeom), C.POINTER(CMeanQuant), _p8, _p8]),
    "tt_mul_fwd_s8": (None, [_i32, C.POINTER(CMulQuant), _p8, _p8, _i32, _p8]),
    "tt_pad_s8": (None, [C.POINTER(CPadGeom), _i32, _p8, _p8]),
    "tt_crop_s16": (None, [C.POINTER(CPadGeom), _p16, _p16]),
    "tt_concat_s8": (None, [_i32, _i32, _p32, C.POINTER(_p8), _p8]),
    "tt_slice_s16": (None, [_i32, _i32, _i32, _i32, _p16, _p16]),
    "tt_requantize_s8": (None, [_i32, C.POINTER(CRequantizeQuant), _p8, _p8]),
    "tt_leaky_relu_bwd_input_s16": (None, [_i32, _i32, _i32, _i32, _p8, _p16, _p16]),
    "tt_hard_swish_fwd_s8": (None, [_i32, C.POINTER(CHardSwishQuant), _p8, _p8]),
    "tt_logistic_fwd_s8": (None, [_i32, C.POINTER(CLogisticQuant), _p8, _p8]),
    "tt_maxpool_fwd_s8": (None, [C.POINTER(CConvGeom), C.POINTER(CPoolQuant), _p8, _p8]),
    "tt_mask_pack_s8": (None, [_i32, _i32, _i32, _p8, _pu8]),
    "tt_mask_bwd_s16": (None, [_i32, _pu8, _p16, _p16]),
    "tt_conv2d_bwd_input_s16_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_conv2d_bwd_input_s16": (None, _CONV_BWD_IN),
    "tt_pw_conv2d_bwd_input_s16_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_pw_conv2d_bwd_input_s16": (None, _CONV_BWD_IN),
    "tt_dw_conv2d_bwd_input_s16_scratch_size": (C.c_uint32, [C.POINTER(CConvGeom)]),
    "tt_dw_conv2d_bwd_input_s16": (None, _CONV_BWD_IN),
    "tt_fc_bwd_input_s16_scratch_size": (C.c_uint32, [C.POINTER(CFcGeom)]),
    "tt_fc_bwd_input_s16": (None, [C.POINTER(KernelCtx), C.POINTER(CFcGeom), C.POINTER(CGradQuant), _p16, _i32, _p8,
                                   _p16, _p32]),
    "tt_avgpool_bwd_input_s16": (None, [C.POINTER(CConvGeom), _p16, _i32, _p16, _p32]),
    "tt_mul_bwd_a_s16": (None, [_i32, C.POINTER(CMulQuant), C.POINTER(CMulGrad), _p8, _i32, _p16, _i32, _p16, _p32]),
    "tt_mul_bwd_b_s16": (None, [_i32, C.POINTER(CMulQuant), C.POINTER(CMulGrad), _p8, _i32, _p16, _i32, _p16, _p32]),
    "tt_hard_swish_bwd_input_s16": (None, [_i32, C.POINTER(CHardSwishGrad), _p8, _p16, _i32, _p16, _p32]),
    "tt_logistic_bwd_input_s16": (None, [_i32, C.POINTER(CLogisticQuant), _p8, _p16, _i32, _p16, _p32]),
    "tt_maxpool_bwd_input_s16": (None, [C.POINTER(CConvGeom), _p8, _p16, _i32, _p16, _p32]),
    "tt_add_bwd_input_s16": (None, [_i32, _p16, _i32, _p16, _i32, _p16, _p32]),
    "tt_conv2d_bwd_weight_s16": (None, _CONV_BWD_W),
    "tt_pw_conv2d_bwd_weight_s16": (None, _CONV_BWD_W),
    "tt_dw_conv2d_bwd_weight_s16": (None, _CONV_BWD_W),
    "tt_fc_bwd_weight_s16": (None, [C.POINTER(CFcGeom)] + _CONV_BWD_W[1:]),
    "tt_bias_bwd_s16": (None, [_i32, _i32, _p16, _i32, _p32, _p32]),
    "tt_softmax_xent_s8": (_i32, [_i32, C.POINTER(CLogitQuant), _p8, _i32, C.POINTER(C.c_float), _p16, _p32]),
    "tt_expf_neg": (C.c_float, [C.c_float]),
    "tt_logf_ge1": (C.c_float, [C.c_float]),
    "tt_rng_next": (C.c_uint32, [C.POINTER(CRng)]),
    "tt_sgd_update_s8": (None, [C.POINTER(CWeightSlice), C.POINTER(CSgd), C.POINTER(CQas), _p32, _i32, C.POINTER(CRng),
                                _p32, _p8]),
    "tt_sgd_update_s32": (None, [_i32, C.POINTER(CSgd), C.POINTER(CQas), _p32, _i32, C.POINTER(CRng), _p32, _p32]),
    "tt_sgd_scaled": (CSgd, [C.POINTER(CSgd), C.c_uint32]),
})


def _in8(a: np.ndarray, shape: tuple) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.int8)
    if a.size != int(np.prod(shape)):
        raise ValueError(f"expected {int(np.prod(shape))} int8 elements for shape {shape}, got {a.size}")
    return a


def _ptr8(a: np.ndarray):
    return a.ctypes.data_as(_p8)


def _ptr32(a: np.ndarray | None):
    if a is None:
        return None
    return np.ascontiguousarray(a, dtype=np.int32).ctypes.data_as(_p32)


class _Scratch:
    """A scratch buffer of the kernel's declared size, filled with junk so no kernel can
    depend on its contents."""

    def __init__(self, size: int) -> None:
        self.buf = np.full(max(int(size), 1), 0xA5, dtype=np.uint8)
        self.ctx = KernelCtx(self.buf.ctypes.data_as(C.c_void_p), int(size))


def conv_geom_check(geom: ConvGeom) -> bool:
    return bool(load().tt_conv_geom_check(C.byref(CConvGeom.of(geom))))


def scratch_size(kernel: str, geom: ConvGeom | tuple[int, int]) -> int:
    """``tt_<kernel>_scratch_size(geom)``; ``geom`` is ``(in_c, out_c)`` for the ``fc_*`` kernels."""
    fn = getattr(load(), f"tt_{kernel}_scratch_size")
    cg = CFcGeom(*geom) if kernel.startswith("fc_") else CConvGeom.of(geom)
    return int(fn(C.byref(cg)))


def _conv_like(name: str, geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    lib = load()
    cg = CConvGeom.of(geom)
    cq = CConvQuant.of(quant)
    x = _in8(x, geom.in_shape)
    w = np.ascontiguousarray(weights, dtype=np.int8)
    b = None if bias is None else np.ascontiguousarray(bias, dtype=np.int32)
    out = np.empty(geom.out_shape, dtype=np.int8)
    scratch = _Scratch(getattr(lib, f"tt_{name}_scratch_size")(C.byref(cg)))
    getattr(lib, f"tt_{name}")(C.byref(scratch.ctx), C.byref(cg), C.byref(cq), _ptr8(x), _ptr8(w), _ptr32(b), _ptr8(out))
    return out


def conv2d_fwd_s8(geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    return _conv_like("conv2d_fwd_s8", geom, quant, x, weights, bias)


def pw_conv2d_fwd_s8(geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    return _conv_like("pw_conv2d_fwd_s8", geom, quant, x, weights, bias)


def dw_conv2d_fwd_s8(geom: ConvGeom, quant: ConvQuant, x, weights, bias) -> np.ndarray:
    return _conv_like("dw_conv2d_fwd_s8", geom, quant, x, weights, bias)


def fc_fwd_s8(quant: ConvQuant, x, weights, bias) -> np.ndarray:
    lib = load()
    w = np.ascontiguousarray(weights, dtype=np.int8)
    out_c, in_c = w.shape
    g = CFcGeom(in_c, out_c)
    x = _in8(x, (in_c,))
    b = None if bias is None else np.ascontiguousarray(bias, dtype=np.int32)
    out = np.empty(out_c, dtype=np.int8)
    scratch = _Scratch(lib.tt_fc_fwd_s8_scratch_size(C.byref(g)))
    lib.tt_fc_fwd_s8(C.byref(scratch.ctx), C.byref(g), C.byref(CConvQuant.of(quant)), _ptr8(x), _ptr8(w), _ptr32(b), _ptr8(out))
    return out


def add_fwd_s8(quant: AddQuant, a, b) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.int8)
    b = _in8(b, a.shape)
    out = np.empty(a.shape, dtype=np.int8)
    load().tt_add_fwd_s8(a.size, C.byref(CAddQuant.of(quant)), _ptr8(a), _ptr8(b), _ptr8(out))
    return out


def avgpool_fwd_s8(geom: ConvGeom, quant: PoolQuant, x) -> np.ndarray:
    x = _in8(x, geom.in_shape)
    out = np.empty(geom.out_shape, dtype=np.int8)
    load().tt_avgpool_fwd_s8(C.byref(CConvGeom.of(geom)), C.byref(CPoolQuant(quant.act_min, quant.act_max)), _ptr8(x), _ptr8(out))
    return out


def maxpool_fwd_s8(geom: ConvGeom, quant: PoolQuant, x) -> np.ndarray:
    x = _in8(x, geom.in_shape)
    out = np.empty(geom.out_shape, dtype=np.int8)
    load().tt_maxpool_fwd_s8(C.byref(CConvGeom.of(geom)), C.byref(CPoolQuant(quant.act_min, quant.act_max)), _ptr8(x), _ptr8(out))
    return out


def mean_fwd_s8(geom: ConvGeom, quant: MeanQuant, x) -> np.ndarray:
    x = _in8(x, geom.in_shape)
    out = np.empty(geom.out_shape, dtype=np.int8)
    load().tt_mean_fwd_s8(C.byref(CConvGeom.of(geom)), C.byref(CMeanQuant.of(quant)), _ptr8(x), _ptr8(out))
    return out


def mul_fwd_s8(quant: MulQuant, a, b) -> np.ndarray:
    a8 = np.ascontiguousarray(a, dtype=np.int8)
    b8 = np.ascontiguousarray(b, dtype=np.int8).ravel()
    out = np.empty(a8.shape, dtype=np.int8)
    load().tt_mul_fwd_s8(a8.size, C.byref(CMulQuant.of(quant)), _ptr8(a8), _ptr8(b8), b8.size, _ptr8(out))
    return out


def _pad_geom(in_shape: tuple[int, int, int], pads: tuple[int, int, int, int]) -> CPadGeom:
    g = CPadGeom()
    g.in_h, g.in_w, g.c = in_shape
    g.top, g.left, g.bottom, g.right = pads
    return g


def pad_s8(pads: tuple[int, int, int, int], fill: int, x) -> np.ndarray:
    x8 = np.ascontiguousarray(x, dtype=np.int8)
    h, w, c = x8.shape
    t, l, b, r = pads
    out = np.empty((h + t + b, w + l + r, c), dtype=np.int8)
    load().tt_pad_s8(C.byref(_pad_geom((h, w, c), pads)), fill, _ptr8(x8), _ptr8(out))
    return out


def crop_s16(in_shape: tuple[int, int, int], pads: tuple[int, int, int, int], dy: Grad) -> Grad:
    v = _in16(dy.values)
    out = np.full(int(np.prod(in_shape)), 0x5A5A, dtype=np.int16)
    load().tt_crop_s16(C.byref(_pad_geom(in_shape, pads)), _ptr16(v), _ptr16(out))
    return Grad(out, dy.exp)


def concat_s8(geom: ConcatGeom, inputs) -> np.ndarray:
    arrays = [np.ascontiguousarray(x, dtype=np.int8) for x in inputs]
    pointers = (_p8 * len(arrays))(*(_ptr8(a) for a in arrays))
    inners = np.asarray(geom.inners, dtype=np.int32)
    out = np.empty(geom.outer * geom.total, dtype=np.int8)
    load().tt_concat_s8(geom.outer, len(arrays), inners.ctypes.data_as(_p32), pointers, _ptr8(out))
    return out.reshape(geom.out_shape)


def slice_s16(outer: int, total: int, offset: int, inner: int, dy: Grad) -> Grad:
    v = _in16(dy.values)
    out = np.full(outer * inner, 0x5A5A, dtype=np.int16)
    load().tt_slice_s16(outer, total, offset, inner, _ptr16(v), _ptr16(out))
    return Grad(out, dy.exp)


def requantize_s8(quant: RequantizeQuant, x) -> np.ndarray:
    x8 = np.ascontiguousarray(x, dtype=np.int8)
    out = np.empty(x8.shape, dtype=np.int8)
    load().tt_requantize_s8(x8.size, C.byref(CRequantizeQuant.of(quant)), _ptr8(x8), _ptr8(out))
    return out


def leaky_relu_bwd_input_s16(input_zp: int, alpha_multiplier: int, alpha_shift: int, x, dy: Grad) -> Grad:
    x8 = np.ascontiguousarray(x, dtype=np.int8)
    v = _in16(dy.values)
    out = np.full(v.shape, 0x5A5A, dtype=np.int16)
    load().tt_leaky_relu_bwd_input_s16(v.size, input_zp, alpha_multiplier, alpha_shift, _ptr8(x8), _ptr16(v),
                                       _ptr16(out))
    return Grad(out, dy.exp)


def hard_swish_fwd_s8(quant: HardSwishQuant, x) -> np.ndarray:
    x8 = np.ascontiguousarray(x, dtype=np.int8)
    out = np.empty(x8.shape, dtype=np.int8)
    load().tt_hard_swish_fwd_s8(x8.size, C.byref(CHardSwishQuant.of(quant)), _ptr8(x8), _ptr8(out))
    return out


def _in16(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int16)


def _ptr16(a: np.ndarray):
    return a.ctypes.data_as(_p16)


def mask_pack_s8(y, act_min: int, act_max: int) -> np.ndarray:
    y = np.ascontiguousarray(y, dtype=np.int8).ravel()
    out = np.full((y.size + 7) // 8, 0xA5, dtype=np.uint8)
    load().tt_mask_pack_s8(y.size, act_min, act_max, _ptr8(y), out.ctypes.data_as(_pu8))
    return out


def mask_bwd_s16(packed_mask, dy: Grad) -> Grad:
    v = _in16(dy.values)
    m = np.ascontiguousarray(packed_mask, dtype=np.uint8)
    out = np.empty_like(v)
    load().tt_mask_bwd_s16(v.size, m.ctypes.data_as(_pu8), _ptr16(v), _ptr16(out))
    return Grad(out, dy.exp)


def _conv_bwd_input(name: str, geom: ConvGeom, gq: GradQuant, dy: Grad, weights) -> Grad:
    lib = load()
    cg = CConvGeom.of(geom)
    v = _in16(dy.values)
    if v.size != geom.out_h * geom.out_w * geom.out_c:
        raise ValueError("dY does not match the geometry")
    w = np.ascontiguousarray(weights, dtype=np.int8)
    out = np.full(geom.in_shape, 0x5A5A, dtype=np.int16)
    e = C.c_int32(-999)
    scratch = _Scratch(getattr(lib, f"tt_{name}_scratch_size")(C.byref(cg)))
    getattr(lib, f"tt_{name}")(C.byref(scratch.ctx), C.byref(cg), C.byref(CGradQuant.of(gq)), _ptr16(v), dy.exp,
                               _ptr8(w), _ptr16(out), C.byref(e))
    return Grad(out, e.value)


def conv2d_bwd_input_s16(geom: ConvGeom, gq: GradQuant, dy: Grad, weights) -> Grad:
    return _conv_bwd_input("conv2d_bwd_input_s16", geom, gq, dy, weights)


def pw_conv2d_bwd_input_s16(geom: ConvGeom, gq: GradQuant, dy: Grad, weights) -> Grad:
    return _conv_bwd_input("pw_conv2d_bwd_input_s16", geom, gq, dy, weights)


def dw_conv2d_bwd_input_s16(geom: ConvGeom, gq: GradQuant, dy: Grad, weights) -> Grad:
    return _conv_bwd_input("dw_conv2d_bwd_input_s16", geom, gq, dy, weights)


def fc_bwd_input_s16(gq: GradQuant, dy: Grad, weights) -> Grad:
    lib = load()
    w = np.ascontiguousarray(weights, dtype=np.int8)
    out_c, in_c = w.shape
    g = CFcGeom(in_c, out_c)
    v = _in16(dy.values).ravel()
    out = np.full(in_c, 0x5A5A, dtype=np.int16)
    e = C.c_int32(-999)
    scratch = _Scratch(lib.tt_fc_bwd_input_s16_scratch_size(C.byref(g)))
    lib.tt_fc_bwd_input_s16(C.byref(scratch.ctx), C.byref(g), C.byref(CGradQuant.of(gq)), _ptr16(v), dy.exp, _ptr8(w),
                            _ptr16(out), C.byref(e))
    return Grad(out, e.value)


def avgpool_bwd_input_s16(geom: ConvGeom, dy: Grad) -> Grad:
    v = _in16(dy.values)
    out = np.full(geom.in_shape, 0x5A5A, dtype=np.int16)
    e = C.c_int32(-999)
    load().tt_avgpool_bwd_input_s16(C.byref(CConvGeom.of(geom)), _ptr16(v), dy.exp, _ptr16(out), C.byref(e))
    return Grad(out, e.value)


def maxpool_bwd_input_s16(geom: ConvGeom, x, dy: Grad) -> Grad:
    x = _in8(x, geom.in_shape)
    v = _in16(dy.values)
    out = np.full(geom.in_shape, 0x5A5A, dtype=np.int16)
    e = C.c_int32(-999)
    load().tt_maxpool_bwd_input_s16(C.byref(CConvGeom.of(geom)), _ptr8(x), _ptr16(v), dy.exp, _ptr16(out), C.byref(e))
    return Grad(out, e.value)


def mul_bwd_a_s16(quant: MulQuant, grad: MulGrad, b, dy: Grad) -> Grad:
    b8 = np.ascontiguousarray(b, dtype=np.int8).ravel()
    v = _in16(dy.values)
    out = np.full(v.shape, 0x5A5A, dtype=np.int16)
    e = C.c_int32(-999)
    load().tt_mul_bwd_a_s16(v.size, C.byref(CMulQuant.of(quant)), C.byref(CMulGrad.of(grad)), _ptr8(b8), b8.size,
                            _ptr16(v), dy.exp, _ptr16(out), C.byref(e))
    return Grad(out, e.value)


def mul_bwd_b_s16(quant: MulQuant, grad: MulGrad, a, dy: Grad, b_numel: int) -> Grad:
    a8 = np.ascontiguousarray(a, dtype=np.int8)
    v = _in16(dy.values)
    out = np.full(b_numel, 0x5A5A, dtype=np.int16)
    e = C.c_int32(-999)
    load().tt_mul_bwd_b_s16(v.size, C.byref(CMulQuant.of(quant)), C.byref(CMulGrad.of(grad)), _ptr8(a8), b_numel,
                            _ptr16(v), dy.exp, _ptr16(out), C.byref(e))
    return Grad(out, e.value)


def logistic_fwd_s8(quant: LogisticQuant, x) -> np.ndarray:
    x8 = np.ascontiguousarray(x, dtype=np.int8)
    out = np.empty(x8.shape, dtype=np.int8)
    load().tt_logistic_fwd_s8(x8.size, C.byref(CLogisticQuant.of(quant)), _ptr8(x8), _ptr8(out))
    return out


def logistic_bwd_input_s16(quant: LogisticQuant, x, dy: Grad) -> Grad:
    x8 = np.ascontiguousarray(x, dtype=np.int8)
    v = _in16(dy.values)
    out = np.full(v.shape, 0x5A5A, dtype=np.int16)
    e = C.c_int32(-999)
    load().tt_logistic_bwd_input_s16(v.size, C.byref(CLogisticQuant.of(quant)), _ptr8(x8), _ptr16(v), dy.exp,
                                     _ptr16(out), C.byref(e))
    return Grad(out, e.value)


def hard_swish_bwd_input_s16(grad: HardSwishGrad, x, dy: Grad) -> Grad:
    x8 = np.ascontiguousarray(x, dtype=np.int8)
    v = _in16(dy.values)
    out = np.full(v.shape, 0x5A5A, dtype=np.int16)
    e = C.c_int32(-999)
    load().tt_hard_swish_bwd_input_s16(v.size, C.byref(CHardSwishGrad.of(grad)), _ptr8(x8), _ptr16(v), dy.exp,
                                       _ptr16(out), C.byref(e))
    return Grad(out, e.value)


def add_bwd_input_s16(dy: Grad, dother: Grad) -> Grad:
    a = _in16(dy.values)
    b = _in16(dother.values)
    out = np.empty_like(a)
    e = C.c_int32(-999)
    load().tt_add_bwd_input_s16(a.size, _ptr16(a), dy.exp, _ptr16(b), dother.exp, _ptr16(out), C.byref(e))
    return Grad(out, e.value)


def bwd_weight_params(input_zp: int, channels: np.ndarray) -> CBwdWeightParams:
    """``tt_bwd_weight_params_t`` for int16 ``channels`` (kept alive by the caller)."""
    return CBwdWeightParams(input_zp, CChannels(_ptr16(channels) if channels.size else None, channels.size))


def grad_s16(values: np.ndarray, exp: int) -> CGradS16:
    """``tt_grad_s16_t`` over contiguous int16 ``values`` (kept alive by the caller)."""
    return CGradS16(_ptr16(values), exp)


def _conv_bwd_weight(name: str, geom: ConvGeom, input_zp: int, channels, x, dy: Grad, shape) -> Grad:
    ch = np.ascontiguousarray(channels, dtype=np.int16)
    xv = np.ascontiguousarray(x, dtype=np.int8)
    v = _in16(dy.values)
    out = np.full(shape, 0x5A5A5A5A, dtype=np.int32)
    e = C.c_int32(-999)
    getattr(load(), f"tt_{name}")(C.byref(CConvGeom.of(geom)), C.byref(bwd_weight_params(input_zp, ch)), _ptr8(xv),
                                  C.byref(grad_s16(v, dy.exp)), out.ctypes.data_as(_p32), C.byref(e))
    return Grad(out, e.value)


def conv2d_bwd_weight_s16(geom: ConvGeom, input_zp: int, channels, x, dy: Grad) -> Grad:
    shape = (geom.out_c, geom.kernel_h, geom.kernel_w, len(channels))
    return _conv_bwd_weight("conv2d_bwd_weight_s16", geom, input_zp, channels, x, dy, shape)


def pw_conv2d_bwd_weight_s16(geom: ConvGeom, input_zp: int, channels, x, dy: Grad) -> Grad:
    shape = (geom.out_c, 1, 1, len(channels))
    return _conv_bwd_weight("pw_conv2d_bwd_weight_s16", geom, input_zp, channels, x, dy, shape)


def dw_conv2d_bwd_weight_s16(geom: ConvGeom, input_zp: int, channels, x, dy: Grad) -> Grad:
    shape = (1, geom.kernel_h, geom.kernel_w, len(channels))
    return _conv_bwd_weight("dw_conv2d_bwd_weight_s16", geom, input_zp, channels, x, dy, shape)


def fc_bwd_weight_s16(input_zp: int, channels, x, dy: Grad) -> Grad:
    ch = np.ascontiguousarray(channels, dtype=np.int16)
    xv = np.ascontiguousarray(x, dtype=np.int8).ravel()
    v = _in16(dy.values).ravel()
    out = np.full((v.size, ch.size), 0x5A5A5A5A, dtype=np.int32)
    e = C.c_int32(-999)
    load().tt_fc_bwd_weight_s16(C.byref(CFcGeom(xv.size, v.size)), C.byref(bwd_weight_params(input_zp, ch)), _ptr8(xv),
                                C.byref(grad_s16(v, dy.exp)), out.ctypes.data_as(_p32), C.byref(e))
    return Grad(out, e.value)


def bias_bwd_s16(dy: Grad, out_c: int | None = None) -> Grad:
    v = _in16(dy.values)
    out_c = v.shape[-1] if out_c is None else out_c
    out = np.full(out_c, 0x5A5A5A5A, dtype=np.int32)
    e = C.c_int32(-999)
    load().tt_bias_bwd_s16(v.size // out_c, out_c, _ptr16(v), dy.exp, out.ctypes.data_as(_p32), C.byref(e))
    return Grad(out, e.value)


def softmax_xent_s8(logits, scale: float, zero_point: int, label: int) -> tuple[int, float, np.ndarray, int]:
    q = np.ascontiguousarray(logits, dtype=np.int8).ravel()
    loss = C.c_float()
    grad = np.empty(q.size, dtype=np.int16)
    e = C.c_int32(-999)
    arg = load().tt_softmax_xent_s8(q.size, C.byref(CLogitQuant(scale, zero_point)), _ptr8(q), label, C.byref(loss),
                                    _ptr16(grad), C.byref(e))
    return int(arg), float(np.float32(loss.value)), grad, e.value


def expf_neg(x: float) -> float:
    return float(np.float32(load().tt_expf_neg(float(np.float32(x)))))


def logf_ge1(x: float) -> float:
    return float(np.float32(load().tt_logf_ge1(float(np.float32(x)))))


def rng_draw(rng: Rng, n: int) -> np.ndarray:
    """``n`` draws of ``tt_rng_next``, advancing ``rng`` like ``Rng.draw``."""
    c = CRng(rng.seed & 0xFFFFFFFF, rng.counter)
    out = np.array([load().tt_rng_next(C.byref(c)) for _ in range(n)], dtype=np.uint32)
    rng.counter = c.counter
    return out


def sgd_update_s8(slice_: WeightSlice, sgd: Sgd, qas: Qas, grad, grad_exp: int, rng: Rng, weights,
                  velocity: np.ndarray | None = None) -> np.ndarray:
    g = np.ascontiguousarray(grad, dtype=np.int32)
    w = np.array(weights, dtype=np.int8, copy=True, order="C")
    c = CRng(rng.seed & 0xFFFFFFFF, rng.counter)
    vel = None if velocity is None else velocity.ctypes.data_as(_p32)
    load().tt_sgd_update_s8(C.byref(CWeightSlice.of(slice_)), C.byref(CSgd.of(sgd)),
                            C.byref(CQas.of(qas)), g.ctypes.data_as(_p32), grad_exp, C.byref(c), vel, _ptr8(w))
    rng.counter = c.counter
    return w


def sgd_update_s32(sgd: Sgd, qas: Qas, grad, grad_exp: int, rng: Rng, bias, velocity: np.ndarray | None = None) -> np.ndarray:
    g = np.ascontiguousarray(grad, dtype=np.int32).ravel()
    b = np.array(bias, dtype=np.int32, copy=True, order="C").ravel()
    c = CRng(rng.seed & 0xFFFFFFFF, rng.counter)
    vel = None if velocity is None else velocity.ctypes.data_as(_p32)
    load().tt_sgd_update_s32(g.size, C.byref(CSgd.of(sgd)), C.byref(CQas.of(qas)),
                             g.ctypes.data_as(_p32), grad_exp, C.byref(c), vel, b.ctypes.data_as(_p32))
    rng.counter = c.counter
    return b


def sgd_scaled(sgd: Sgd, scale_q16: int) -> Sgd:
    """``tt_sgd_scaled``."""
    r = load().tt_sgd_scaled(C.byref(CSgd.of(sgd)), scale_q16)
    return Sgd(r.lr_multiplier, r.lr_shift, r.momentum_q15, r.step_max_q16)
