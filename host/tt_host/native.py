"""ctypes access to the host build of the C runtime (``build/host/firmware/libtt.so``).

``load()`` finds the library (``$TT_LIBTT`` or the ``host`` preset's build folder), rebuilds
it with CMake when a firmware source is newer, and declares the kernel prototypes. The
wrappers take the same dataclasses and numpy arrays as ``tt_host.reference`` and return new
arrays, so tests can compare the two implementations call for call; the planner uses the
``*_scratch_size`` functions from here rather than re-deriving them.
"""

from __future__ import annotations

import ctypes as C
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np

from tt_host.errors import BuildError, ToolMissing
from tt_host.paths import REPO_ROOT
from tt_host.reference.backward_int import Grad
from tt_host.reference.params import AddQuant, ConvGeom, ConvQuant, GradQuant, PoolQuant
from tt_host.reference.update import SCALE_ONE, Qas, Rng, Sgd, WeightSlice

_i32 = C.c_int32
_p8 = C.POINTER(C.c_int8)
_pu8 = C.POINTER(C.c_uint8)
_p16 = C.POINTER(C.c_int16)
_p32 = C.POINTER(C.c_int32)


class KernelCtx(C.Structure):
    """``tt_kernel_ctx_t``."""

    _fields_ = [("buf", C.c_void_p), ("size", C.c_uint32)]


class CConvGeom(C.Structure):
    """``tt_conv_geom_t``."""

    _fields_ = [(name, _i32) for name in (
        "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kernel_h", "kernel_w",
        "stride_h", "stride_w", "pad_top", "pad_left", "pad_bottom", "pad_right")]

    @classmethod
    def of(cls, g: ConvGeom) -> CConvGeom:
        return cls(*(getattr(g, name) for name, _ in cls._fields_))


class CFcGeom(C.Structure):
    """``tt_fc_geom_t``."""

    _fields_ = [("in_c", _i32), ("out_c", _i32)]


class CConvQuant(C.Structure):
    """``tt_conv_quant_t`` (keeps its multiplier/shift arrays alive)."""

    _fields_ = [("input_zp", _i32), ("output_zp", _i32), ("multiplier", _p32), ("shift", _p32),
                ("act_min", _i32), ("act_max", _i32)]

    @classmethod
    def of(cls, q: ConvQuant) -> CConvQuant:
        mult = np.ascontiguousarray(q.multiplier, dtype=np.int32)
        shift = np.ascontiguousarray(q.shift, dtype=np.int32)
        obj = cls(q.input_zp, q.output_zp, mult.ctypes.data_as(_p32), shift.ctypes.data_as(_p32), q.act_min, q.act_max)
        obj._keep = (mult, shift)
        return obj


class CAddQuant(C.Structure):
    """``tt_add_quant_t``."""

    _fields_ = [(name, _i32) for name in (
        "input1_zp", "input2_zp", "output_zp", "left_shift", "input1_multiplier", "input1_shift",
        "input2_multiplier", "input2_shift", "output_multiplier", "output_shift", "act_min", "act_max")]

    @classmethod
    def of(cls, q: AddQuant) -> CAddQuant:
        return cls(*(getattr(q, name) for name, _ in cls._fields_))


class CPoolQuant(C.Structure):
    """``tt_pool_quant_t``."""

    _fields_ = [("act_min", _i32), ("act_max", _i32)]


class CGradQuant(C.Structure):
    """``tt_grad_quant_t`` (keeps its arrays alive)."""

    _fields_ = [("multiplier", _p32), ("shift", _p32), ("scale_multiplier", _i32), ("scale_shift", _i32)]

    @classmethod
    def of(cls, q: GradQuant) -> CGradQuant:
        mult = np.ascontiguousarray(q.multiplier, dtype=np.int32)
        shift = np.ascontiguousarray(q.shift, dtype=np.int32)
        obj = cls(mult.ctypes.data_as(_p32), shift.ctypes.data_as(_p32), q.scale_multiplier, q.scale_shift)
        obj._keep = (mult, shift)
        return obj


class CLogitQuant(C.Structure):
    """``tt_logit_quant_t``."""

    _fields_ = [("scale", C.c_float), ("zero_point", _i32)]


class CRng(C.Structure):
    """``tt_rng_t``."""

    _fields_ = [("seed", C.c_uint32), ("counter", C.c_uint32)]


class CSgd(C.Structure):
    """``tt_sgd_t``."""

    _fields_ = [("lr_multiplier", _i32), ("lr_shift", _i32), ("momentum_q15", _i32), ("step_max_q16", C.c_int64)]

    @classmethod
    def of(cls, sgd: Sgd) -> CSgd:
        return cls(sgd.lr_multiplier, sgd.lr_shift, sgd.momentum_q15, sgd.step_max_q16)


class CQas(C.Structure):
    """``tt_qas_t`` (keeps its arrays alive)."""

    _fields_ = [("multiplier", _p32), ("shift", _p32)]

    @classmethod
    def of(cls, q: Qas) -> CQas:
        mult = np.ascontiguousarray(q.multiplier, dtype=np.int32)
        shift = np.ascontiguousarray(q.shift, dtype=np.int32)
        obj = cls(mult.ctypes.data_as(_p32), shift.ctypes.data_as(_p32))
        obj._keep = (mult, shift)
        return obj


class CWeightSlice(C.Structure):
    """``tt_weight_slice_t`` (keeps its channel array alive)."""

    _fields_ = [("out_c", _i32), ("taps", _i32), ("in_c", _i32), ("channels", _p16), ("n_channels", _i32),
                ("depthwise", _i32)]

    @classmethod
    def of(cls, s: WeightSlice) -> CWeightSlice:
        ch = np.ascontiguousarray(s.channels, dtype=np.int16)
        obj = cls(s.out_c, s.taps, s.in_c, ch.ctypes.data_as(_p16), len(s.channels), int(s.depthwise))
        obj._keep = ch
        return obj


_CONV_FWD = [C.POINTER(KernelCtx), C.POINTER(CConvGeom), C.POINTER(CConvQuant), _p8, _p8, _p32, _p8]
_CONV_BWD_IN = [C.POINTER(KernelCtx), C.POINTER(CConvGeom), C.POINTER(CGradQuant), _p16, _i32, _p8, _p16, _p32]
_CONV_BWD_W = [C.POINTER(CConvGeom), _i32, _p16, _i32, _p8, _p16, _i32, _p32, _p32]
_PROTOTYPES = {
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
}

BUILD_DIR = REPO_ROOT / "build" / "host"
LIBRARY = BUILD_DIR / "firmware" / "libtt.so"


def _newest_source() -> float:
    newest = 0.0
    for pattern in ("firmware/**/*.c", "firmware/**/*.h", "firmware/**/*.cmake", "firmware/**/CMakeLists.txt"):
        for p in REPO_ROOT.glob(pattern):
            newest = max(newest, p.stat().st_mtime)
    return newest


def build() -> Path:
    """Configure and build the ``host`` preset (incremental); return the library path."""
    if shutil.which("cmake") is None:
        raise ToolMissing("cmake is needed to build the host runtime (apt-get install cmake gcc)")
    for cmd in (["cmake", "--preset", "host"], ["cmake", "--build", "--preset", "host", "-j2", "--target", "tt"]):
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return LIBRARY


@lru_cache(maxsize=1)
def load() -> C.CDLL:
    """The host runtime library with its kernel prototypes declared (built on demand)."""
    override = os.environ.get("TT_LIBTT")
    if override:
        path = Path(override)
    else:
        path = LIBRARY
        if not path.exists() or path.stat().st_mtime < _newest_source():
            build()
    lib = C.CDLL(str(path))
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


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


# -- backward, loss, update ----------------------------------------------------------------------

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


def add_bwd_input_s16(dy: Grad, dother: Grad) -> Grad:
    a = _in16(dy.values)
    b = _in16(dother.values)
    out = np.empty_like(a)
    e = C.c_int32(-999)
    load().tt_add_bwd_input_s16(a.size, _ptr16(a), dy.exp, _ptr16(b), dother.exp, _ptr16(out), C.byref(e))
    return Grad(out, e.value)


def _conv_bwd_weight(name: str, geom: ConvGeom, input_zp: int, channels, x, dy: Grad, shape) -> Grad:
    ch = np.ascontiguousarray(channels, dtype=np.int16)
    xv = np.ascontiguousarray(x, dtype=np.int8)
    v = _in16(dy.values)
    out = np.full(shape, 0x5A5A5A5A, dtype=np.int32)
    e = C.c_int32(-999)
    getattr(load(), f"tt_{name}")(C.byref(CConvGeom.of(geom)), input_zp, _ptr16(ch), ch.size, _ptr8(xv), _ptr16(v),
                                  dy.exp, out.ctypes.data_as(_p32), C.byref(e))
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
    load().tt_fc_bwd_weight_s16(C.byref(CFcGeom(xv.size, v.size)), input_zp, _ptr16(ch), ch.size, _ptr8(xv),
                                _ptr16(v), dy.exp, out.ctypes.data_as(_p32), C.byref(e))
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


# -- sparse update and memory-saving kernels (tt_host.reference.fused) ---------------------------

class CIrbGeom(C.Structure):
    """``tt_irb_geom_t``."""

    _fields_ = [("expand", CConvGeom), ("dw", CConvGeom), ("out_c", _i32), ("has_expand", _i32), ("residual", _i32)]

    @classmethod
    def of(cls, g) -> CIrbGeom:
        x = CConvGeom.of(g.expand) if g.expand is not None else CConvGeom()
        return cls(x, CConvGeom.of(g.dw), g.out_c, int(g.expand is not None), int(g.residual))


class CIrbQuant(C.Structure):
    """``tt_irb_quant_t`` (keeps its arrays alive)."""

    _fields_ = [("pw1", CConvQuant), ("dw", CConvQuant), ("pw2", CConvQuant), ("add", CAddQuant)]

    @classmethod
    def of(cls, q) -> CIrbQuant:
        parts = [CConvQuant.of(p) if p is not None else CConvQuant() for p in (q.pw1, q.dw, q.pw2)]
        add = CAddQuant.of(q.add) if q.add is not None else CAddQuant()
        obj = cls(*parts, add)
        obj._keep = [p._keep for p in parts if hasattr(p, "_keep")]
        return obj


class CIrbProgress(C.Structure):
    _fields_ = [("next_out", _i32), ("wlo", _i32), ("whi", _i32)]


class CIrbWeights(C.Structure):
    """``tt_irb_weights_t`` (keeps its arrays alive)."""

    _fields_ = [("pw1_weights", _p8), ("pw1_bias", _p32), ("dw_weights", _p8), ("dw_bias", _p32),
                ("pw2_weights", _p8), ("pw2_bias", _p32)]

    @classmethod
    def of(cls, w) -> CIrbWeights:
        keep = []

        def arr(a, dtype, ptr):
            if a is None:
                return None
            a = np.ascontiguousarray(a, dtype=dtype)
            keep.append(a)
            return a.ctypes.data_as(ptr)

        obj = cls(arr(w.pw1_weights, np.int8, _p8), arr(w.pw1_bias, np.int32, _p32), arr(w.dw_weights, np.int8, _p8),
                  arr(w.dw_bias, np.int32, _p32), arr(w.pw2_weights, np.int8, _p8), arr(w.pw2_bias, np.int32, _p32))
        obj._keep = keep
        return obj


_WUPDATE = [C.POINTER(CConvGeom), _i32, _i32, _p8, _p16, _i32, C.POINTER(CSgd), C.POINTER(CQas), C.POINTER(CRng),
            _p32, _p8]
_OVERLAY_TAIL = [_p8, _p8, _p16, _i32, _p8, _p32, _p8]
_PROTOTYPES.update({
    "tt_gather_channels_s8": (None, [_i32, _i32, _p16, _i32, _p8, _p8]),
    "tt_conv2d_bwd_weight_update_s8": (None, _WUPDATE),
    "tt_pw_conv2d_bwd_weight_update_s8": (None, _WUPDATE),
    "tt_dw_conv2d_bwd_weight_update_s8": (None, [C.POINTER(CConvGeom), _i32, _p16, _i32, _p8, _p16, _i32,
                                                 C.POINTER(CSgd), C.POINTER(CQas), C.POINTER(CRng), _p32, _p8]),
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
    "tt_irb_fwd_s8_rows": (_i32, [C.POINTER(KernelCtx), C.POINTER(CIrbGeom), C.POINTER(CIrbQuant), _p8, _i32, _i32,
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


def _wupdate_args(sgd: Sgd, qas: Qas, rng: Rng, slice_w, velocity):
    w = np.array(slice_w, dtype=np.int8, copy=True, order="C")
    c = CRng(rng.seed & 0xFFFFFFFF, rng.counter)
    vel = None if velocity is None else velocity.ctypes.data_as(_p32)
    return w, c, vel, C.byref(CSgd.of(sgd)), C.byref(CQas.of(qas))


def conv2d_bwd_weight_update_s8(geom: ConvGeom, input_zp: int, x_kept, dy: Grad, sgd: Sgd, qas: Qas, rng: Rng,
                                slice_w, velocity: np.ndarray | None = None, kernel: str = "conv2d") -> np.ndarray:
    """``tt_<kernel>_bwd_weight_update_s8`` (conv2d or pw_conv2d); returns the updated slice."""
    xk = np.ascontiguousarray(x_kept, dtype=np.int8)
    v = _in16(dy.values)
    w, c, vel, s, q = _wupdate_args(sgd, qas, rng, slice_w, velocity)
    getattr(load(), f"tt_{kernel}_bwd_weight_update_s8")(C.byref(CConvGeom.of(geom)), input_zp, xk.shape[-1], _ptr8(xk),
                                                          _ptr16(v), dy.exp, s, q, C.byref(c), vel, _ptr8(w))
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
    w, c, vel, s, q = _wupdate_args(sgd, qas, rng, slice_w, velocity)
    load().tt_dw_conv2d_bwd_weight_update_s8(C.byref(CConvGeom.of(geom)), input_zp, _ptr16(ch), ch.size, _ptr8(xk),
                                             _ptr16(v), dy.exp, s, q, C.byref(c), vel, _ptr8(w))
    rng.counter = c.counter
    return w


def fc_bwd_weight_update_s8(input_zp: int, x_kept, dy: Grad, sgd: Sgd, qas: Qas, rng: Rng, slice_w, in_c: int = 0,
                            velocity: np.ndarray | None = None) -> np.ndarray:
    xk = np.ascontiguousarray(x_kept, dtype=np.int8).ravel()
    v = _in16(dy.values).ravel()
    w, c, vel, s, q = _wupdate_args(sgd, qas, rng, slice_w, velocity)
    load().tt_fc_bwd_weight_update_s8(C.byref(CFcGeom(in_c or xk.size, v.size)), input_zp, xk.size, _ptr8(xk),
                                      _ptr16(v), dy.exp, s, q, C.byref(c), vel, _ptr8(w))
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
                keep = lib.tt_irb_fwd_s8_rows(C.byref(scratch.ctx), C.byref(cg), C.byref(cq),
                                              _ptr8(staging), first, max(first, r + 1), C.byref(cw),
                                              _ptr8(out), C.byref(progress))
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


# -- plan executor (tt/executor.h) -------------------------------------------------------------


class CStepResult(C.Structure):
    """``tt_step_result_t``."""

    _fields_ = [("loss", C.c_float), ("predicted", _i32), ("correct", C.c_bool), ("skipped", C.c_bool)]


_EXECUTOR_BYTES = 512  #: room for tt_executor_t (about 100 bytes), opaque here
_pex = C.c_void_p
_PROTOTYPES.update({
    "tt_executor_load": (C.c_int, [_pex, _pu8, C.c_uint32, _pu8, C.c_uint32, C.POINTER(C.c_uint32)]),
    "tt_executor_load_blobs": (C.c_int, [_pex, _pu8, C.c_uint32, _pu8, C.c_uint32, _pu8, C.c_uint32,
                                         C.POINTER(C.c_uint32)]),
    "tt_executor_unload": (None, [_pex]),
    "tt_executor_input_bytes": (C.c_uint32, [_pex]),
    "tt_executor_feed": (C.c_int, [_pex, C.c_uint32, _pu8, C.c_uint32]),
    "tt_executor_step": (C.c_int, [_pex, C.c_uint32, C.c_bool, C.c_uint32, C.POINTER(CStepResult)]),
    "tt_executor_diverged": (C.c_bool, [_pex]),
    "tt_executor_classes": (C.c_uint32, [_pex]),
    "tt_executor_arena_used": (C.c_uint32, [_pex]),
    "tt_executor_params_bytes": (C.c_uint32, [_pex]),
    "tt_executor_params_read": (None, [_pex, C.c_uint32, _pu8, C.c_uint32]),
    "tt_executor_params_write": (C.c_int, [_pex, _pu8, C.c_uint32]),
    "tt_executor_temp_size": (C.c_uint32, [C.c_uint32, C.c_uint32, C.c_uint32, C.POINTER(CConvGeom), _i32, _i32]),
})


def executor_temp_size(op_kind: int, op_flags: int, layer_kind: int, geom: ConvGeom, n_channels: int,
                       whole_slice: bool) -> int:
    """``tt_executor_temp_size``: bytes the executor takes from the start of an op's scratch."""
    cg = CConvGeom.of(geom)
    return int(load().tt_executor_temp_size(int(op_kind), int(op_flags), int(layer_kind), C.byref(cg), int(n_channels),
                                            int(bool(whole_slice))))


# -- layer wrappers (tt/kernels/layer.h): the one place that picks a kernel variant ------------


class CWeightsView(C.Structure):
    """``tt_weights_view_t``."""

    _fields_ = [("frozen", _p8), ("trained", _p8), ("channels", _p16), ("n_channels", _i32), ("whole", _i32)]


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
    _PROTOTYPES.update({
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


class Executor:
    """The C plan executor on a host arena: ``load`` a package (``blob.package``), then
    ``step`` samples. Keeps the package, arena and state alive; statuses come back as ints
    (``tt_protocol.status.Status``)."""

    def __init__(self, arena_bytes: int = 1 << 20) -> None:
        self.lib = load()
        self._state = (C.c_uint64 * (_EXECUTOR_BYTES // 8))()
        self.arena = np.zeros(-(-arena_bytes // 8), np.uint64).view(np.uint8)[:arena_bytes]
        self._package = None

    @property
    def _ex(self):
        return C.cast(self._state, C.c_void_p)

    def load(self, package: bytes, arena_limit: int | None = None) -> tuple[int, int]:
        """``(status, detail)`` of ``tt_executor_load`` on a 4-byte aligned copy of ``package``;
        ``arena_limit`` caps the arena size the executor is told about."""
        n = len(package)
        words = (C.c_uint32 * (-(-n // 4) or 1))()
        C.memmove(words, bytes(package), n)
        self._package = words
        detail = C.c_uint32(0)
        limit = self.arena.size if arena_limit is None else min(arena_limit, self.arena.size)
        status = self.lib.tt_executor_load(self._ex, C.cast(words, _pu8), n, self.arena.ctypes.data_as(_pu8), limit,
                                           C.byref(detail))
        return int(status), int(detail.value)

    def load_blobs(self, plan: bytes, weights: bytes, arena_limit: int | None = None) -> tuple[int, int]:
        """``tt_executor_load_blobs`` with the two blobs in separate aligned buffers."""
        bufs = []
        for blob in (plan, weights):
            words = (C.c_uint32 * (-(-len(blob) // 4) or 1))()
            C.memmove(words, bytes(blob), len(blob))
            bufs.append(words)
        self._package = bufs
        detail = C.c_uint32(0)
        limit = self.arena.size if arena_limit is None else min(arena_limit, self.arena.size)
        status = self.lib.tt_executor_load_blobs(self._ex, C.cast(bufs[0], _pu8), len(plan), C.cast(bufs[1], _pu8),
                                                 len(weights), self.arena.ctypes.data_as(_pu8), limit, C.byref(detail))
        return int(status), int(detail.value)

    @property
    def input_bytes(self) -> int:
        return int(self.lib.tt_executor_input_bytes(self._ex))

    def feed(self, image, chunk: int | None = None) -> int:
        """Feed ``image`` (int8, the plan's input size) in pieces of ``chunk`` bytes (all at
        once by default), as SAMPLE_DATA frames do; the first status that is not OK, else OK."""
        x = np.ascontiguousarray(image, np.int8).ravel().view(np.uint8)
        step = chunk or max(x.size, 1)
        for at in range(0, x.size, step):
            piece = x[at:at + step]
            status = int(self.lib.tt_executor_feed(self._ex, at, piece.ctypes.data_as(_pu8), piece.size))
            if status:
                return status
        return 0

    def step(self, image, label: int, train: bool = True, chunk: int | None = None,
             lr_scale: int = SCALE_ONE) -> tuple[int, CStepResult]:
        """Feed ``image`` (in ``chunk``-byte pieces; None: feed nothing) and run one step at
        ``lr_scale`` (Q16) of the plan's rates: ``(status, result)``."""
        if image is not None:
            self.feed(image, chunk)
        result = CStepResult()
        status = self.lib.tt_executor_step(self._ex, label, train, lr_scale, C.byref(result))
        return int(status), result

    @property
    def diverged(self) -> bool:
        return bool(self.lib.tt_executor_diverged(self._ex))

    @property
    def arena_used(self) -> int:
        return int(self.lib.tt_executor_arena_used(self._ex))

    @property
    def classes(self) -> int:
        return int(self.lib.tt_executor_classes(self._ex))

    def params(self) -> bytes:
        """The whole parameter image (``tt_executor_params_read``)."""
        n = int(self.lib.tt_executor_params_bytes(self._ex))
        out = (C.c_uint8 * max(n, 1))()
        self.lib.tt_executor_params_read(self._ex, 0, out, n)
        return bytes(out)[:n]

    def params_window(self, offset: int, length: int, fill: int = 0xA5) -> bytes:
        out = (C.c_uint8 * max(length, 1))(*([fill] * max(length, 1)))
        self.lib.tt_executor_params_read(self._ex, offset, out, length)
        return bytes(out)[:length]

    def params_write(self, image: bytes) -> int:
        buf = (C.c_uint8 * max(len(image), 1)).from_buffer_copy(bytes(image) or b"\0")
        return int(self.lib.tt_executor_params_write(self._ex, buf, len(image)))
