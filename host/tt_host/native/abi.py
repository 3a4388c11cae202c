"""ctypes mirrors of the runtime's public structs (each checked against the C ``sizeof`` by
tests/test_native_abi.py) and the pointer types the prototypes use."""

from __future__ import annotations

import ctypes as C

import numpy as np

from tt_host.native.library import load
from tt_host.reference.params import AddQuant, ConvGeom, ConvQuant, GradQuant
from tt_host.reference.update import Qas, Sgd, WeightSlice


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


class CMeanQuant(C.Structure):
    """``tt_mean_quant_t``."""

    _fields_ = [(n, _i32) for n in ("input_zp", "output_zp", "multiplier", "shift", "act_min", "act_max")]

    @classmethod
    def of(cls, q) -> CMeanQuant:
        return cls(q.input_zp, q.output_zp, q.multiplier, q.shift, q.act_min, q.act_max)


def _i32_struct(c_name: str, fields: tuple[str, ...]) -> type:
    """A ctypes mirror of a C struct of int32 fields, built from the reference dataclass of the
    same fields (``of``)."""

    class Mirror(C.Structure):
        _fields_ = [(n, _i32) for n in fields]

        @classmethod
        def of(cls, q):
            return cls(*(getattr(q, n) for n in fields))

    Mirror.__name__ = Mirror.__qualname__ = "C" + "".join(w.title() for w in c_name[3:-2].split("_"))
    Mirror.__doc__ = f"``{c_name}``."
    return Mirror


CMulQuant = _i32_struct("tt_mul_quant_t", ("input1_zp", "input2_zp", "output_zp", "multiplier", "shift", "act_min",
                                          "act_max"))
CMulGrad = _i32_struct("tt_mul_grad_t", ("a_multiplier", "a_shift", "b_multiplier", "b_shift"))
CHardSwishQuant = _i32_struct("tt_hard_swish_quant_t", ("input_zp", "output_zp", "output_multiplier",
                                                        "output_exponent", "reluish_multiplier", "reluish_exponent"))
CPadGeom = _i32_struct("tt_pad_geom_t", ("in_h", "in_w", "c", "top", "left", "bottom", "right"))
CRequantizeQuant = _i32_struct("tt_requantize_quant_t", ("input_zp", "output_zp", "multiplier", "shift",
                                                          "negative_multiplier", "negative_shift", "act_min", "act_max"))
CHardSwishGrad = _i32_struct("tt_hard_swish_grad_t", ("input_zp", "multiplier", "shift", "lo", "hi"))
CLogisticQuant = _i32_struct("tt_logistic_quant_t", ("input_zp", "range_radius", "multiplier", "left_shift"))


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
    """``tt_irb_progress_t``."""

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


class CStepResult(C.Structure):
    """``tt_step_result_t``."""

    _fields_ = [("loss", C.c_float), ("predicted", _i32), ("correct", C.c_bool), ("skipped", C.c_bool)]


class CWeightsView(C.Structure):
    """``tt_weights_view_t``."""

    _fields_ = [("frozen", _p8), ("trained", _p8), ("channels", _p16), ("n_channels", _i32), ("whole", _i32)]


class CIrbRows(C.Structure):
    """``tt_irb_rows_t``."""

    _fields_ = [("data", _p8), ("first", _i32), ("avail", _i32)]


class CGradS16(C.Structure):
    """``tt_grad_s16_t``."""

    _fields_ = [("values", _p16), ("exp", _i32)]


class CChannels(C.Structure):
    """``tt_channels_t``."""

    _fields_ = [("list", _p16), ("n", _i32)]


class CBwdWeightParams(C.Structure):
    """``tt_bwd_weight_params_t``."""

    _fields_ = [("input_zp", _i32), ("channels", CChannels)]


class CUpdate(C.Structure):
    """``tt_update_t``."""

    _fields_ = [("sgd", C.POINTER(CSgd)), ("qas", C.POINTER(CQas)), ("rng", C.POINTER(CRng)), ("velocity", _p32)]


#: Every ctypes mirror of a runtime struct and the C type it mirrors (sizes checked against
#: ``tt_abi_sizeof`` in tests/test_native_abi.py; add a new mirror here).
ABI_MIRRORS = {
    KernelCtx: "tt_kernel_ctx_t", CConvGeom: "tt_conv_geom_t", CFcGeom: "tt_fc_geom_t",
    CConvQuant: "tt_conv_quant_t", CAddQuant: "tt_add_quant_t", CPoolQuant: "tt_pool_quant_t",
    CGradQuant: "tt_grad_quant_t", CLogitQuant: "tt_logit_quant_t", CRng: "tt_rng_t", CSgd: "tt_sgd_t",
    CQas: "tt_qas_t", CWeightSlice: "tt_weight_slice_t", CWeightsView: "tt_weights_view_t",
    CIrbGeom: "tt_irb_geom_t", CIrbQuant: "tt_irb_quant_t", CIrbProgress: "tt_irb_progress_t",
    CIrbWeights: "tt_irb_weights_t", CStepResult: "tt_step_result_t", CGradS16: "tt_grad_s16_t",
    CChannels: "tt_channels_t", CBwdWeightParams: "tt_bwd_weight_params_t", CUpdate: "tt_update_t",
    CIrbRows: "tt_irb_rows_t", CMeanQuant: "tt_mean_quant_t", CMulQuant: "tt_mul_quant_t", CMulGrad: "tt_mul_grad_t",
    CHardSwishQuant: "tt_hard_swish_quant_t", CHardSwishGrad: "tt_hard_swish_grad_t",
    CLogisticQuant: "tt_logistic_quant_t",
    CRequantizeQuant: "tt_requantize_quant_t", CPadGeom: "tt_pad_geom_t",
}


def c_sizeof(type_name: str) -> int:
    """``sizeof`` of a runtime struct as the C compiler lays it out (0: not in the table)."""
    return int(load().tt_abi_sizeof(type_name.encode()))
