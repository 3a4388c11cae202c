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
from tt_host.reference.params import AddQuant, ConvGeom, ConvQuant, PoolQuant

_i32 = C.c_int32
_p8 = C.POINTER(C.c_int8)
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


_CONV_FWD = [C.POINTER(KernelCtx), C.POINTER(CConvGeom), C.POINTER(CConvQuant), _p8, _p8, _p32, _p8]
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
    """``tt_<kernel>_scratch_size(geom)``; ``geom`` is ``(in_c, out_c)`` for ``fc_fwd_s8``."""
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
