"""Kernel scratch sizes, from the C library whenever the kernel exists there.

The planner must reserve exactly what the firmware's kernels ask for, so it calls the same
``tt_<kernel>_scratch_size()`` functions through :mod:`tt_host.native` (STYLE.md, point 1).
Only when the library cannot be built does a documented formula stand in; every such size is
reported as ``exact=False`` and listed in the compile report so nobody mistakes it for a
measured number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from tt_host.errors import TtError
from tt_host.reference.params import ConvGeom


@dataclass(frozen=True)
class Scratch:
    """Bytes a kernel invocation needs besides its inputs and outputs."""

    nbytes: int
    exact: bool  #: from the C library's ``..._scratch_size()``; False = formula (TODO)
    source: str  #: the C function, or the formula used

    @classmethod
    def none(cls) -> Scratch:
        return cls(0, True, "no scratch")


@lru_cache(maxsize=1)
def _native():
    """``tt_host.native`` with the library loaded, or ``None`` when it cannot be built."""
    try:
        from tt_host import native

        native.load()
        return native
    except (TtError, OSError):
        return None


def _c_function(kernel: str) -> bool:
    native = _native()
    return native is not None and f"tt_{kernel}_scratch_size" in native._PROTOTYPES


def forward(kind: str, geom: ConvGeom | None, fc_shape: tuple[int, int] | None = None) -> Scratch:
    """Scratch of a forward kernel (``kind`` as in :class:`tt_host.reference.graph.Step`)."""
    if kind in ("conv2d", "pw_conv2d", "dw_conv2d"):
        kernel = f"{kind}_fwd_s8"
        if _c_function(kernel):
            return Scratch(_native().scratch_size(kernel, geom), True, f"tt_{kernel}_scratch_size")
        # Mirrors the C of conv2d (two int8 windows and their two im2col columns of int16, each
        # kh*kw*in_c rounded up to 4, and the weights widened to int16 when that fits 1 KB);
        # TODO only without the library.
        n = 0
        if kind == "conv2d":
            k = geom.kernel_h * geom.kernel_w * geom.in_c
            n4 = (k + 3) // 4 * 4
            pairs = (geom.out_c + 1) // 2
            wide = pairs * 4 * n4 if 4 <= k <= 256 and pairs <= 256 else 0
            n = 2 * n4 * 2 + 2 * n4 + (wide if wide <= 1024 else 0)
        return Scratch(n, False, "6*ceil4(kh*kw*in_c) + widened weights if <= 1 KB (im2col)")
    if kind == "fc":
        if _c_function("fc_fwd_s8"):
            return Scratch(_native().scratch_size("fc_fwd_s8", fc_shape), True, "tt_fc_fwd_s8_scratch_size")
        return Scratch(0, False, "0 (fc)")
    return Scratch.none()


def backward_input(kind: str, geom: ConvGeom | None, out_c: int, fc_shape: tuple[int, int] | None = None,
                   overlay: bool = False) -> Scratch:
    """Scratch of an input-gradient kernel (pooling and ADD need none); ``overlay``: a partially
    trained pointwise layer, whose kernel reads the frozen tensor and the slice where they lie
    (``tt_pw_conv2d_bwd_input_overlay_s16``).

    Without the library: one output row of dY pre-scaled by the per-channel weight scales
    (``out_w*out_c*2``; ``out_c*2`` for FC), marked TODO.
    """
    if overlay and kind == "pw_conv2d" and _c_function("pw_conv2d_bwd_input_overlay_s16"):
        return Scratch(_native().scratch_size("pw_conv2d_bwd_input_overlay_s16", geom), True,
                       "tt_pw_conv2d_bwd_input_overlay_s16_scratch_size")
    kernel = f"{kind}_bwd_input_s16"
    if kind in ("conv2d", "pw_conv2d", "dw_conv2d", "fc") and _c_function(kernel):
        return Scratch(_native().scratch_size(kernel, fc_shape if kind == "fc" else geom), True, f"tt_{kernel}_scratch_size")
    if kind in ("conv2d", "pw_conv2d", "dw_conv2d"):
        return Scratch(geom.out_w * out_c * 2, False, "TODO: out_w*out_c*2 (one pre-scaled dY row)")
    if kind == "fc":
        return Scratch(out_c * 2, False, "TODO: out_c*2 (pre-scaled dY)")
    return Scratch.none()


def streamed_weight_update(kind: str, geom: ConvGeom | None, n_channels: int) -> Scratch:
    """Fused weight gradient + SGD/QAS update (``tt_<kind>_bwd_weight_update_s8``,
    ``tt/kernels/weight_update.h``): each gradient element is applied as soon as it is
    computed, so the kernel takes no scratch at all (and no int32 gradient buffer exists).
    Its input is the compact saved input (``tt_gather_channels_s8``, no scratch either)."""
    kernel = f"{kind}_bwd_weight_update_s8"
    if _c_function_exists(kernel):
        return Scratch(0, True, f"tt_{kernel} takes no scratch")
    return Scratch(0, False, "0 (element-wise fused weight update)")


def loss(n_classes: int) -> Scratch:
    """Softmax cross-entropy on the int8 logits (``tt_softmax_xent_s8``): no scratch (two
    passes over the logits)."""
    if _c_function_exists("softmax_xent_s8"):
        return Scratch(0, True, "tt_softmax_xent_s8 takes no scratch")
    return Scratch(4 * n_classes, False, "TODO: 4*n_classes (softmax numerators)")


def _c_function_exists(kernel: str) -> bool:
    native = _native()
    return native is not None and f"tt_{kernel}" in native._PROTOTYPES


def fused_block(expand: ConvGeom | None, dw: ConvGeom, out_c: int, residual: bool) -> Scratch:
    """Scratch of the fused frozen inverted bottleneck ``tt_irb_fwd_s8`` (row-streamed; see
    ``tt/kernels/irb.h``): ``expand`` is the expansion layer's geometry (pw1, or the stem
    convolution before a block without pw1; ``None`` for none), ``dw`` the depthwise's."""
    from tt_host.reference.fused import IrbGeom

    g = IrbGeom(expand, dw, out_c, residual)
    if _c_function("irb_fwd_s8"):
        return Scratch(_native().irb_fwd_s8_scratch_size(g), True, "tt_irb_fwd_s8_scratch_size")
    rows = min(dw.kernel_h, dw.in_h) * dw.in_w * dw.in_c
    n = -(-rows // 4) * 4 + -(-(dw.out_w * dw.out_c) // 4) * 4 + (-(-(dw.out_w * out_c) // 4) * 4 if residual else 0)
    return Scratch(n, False, "min(kh,H)*W*E + out_w*E [+ out_w*out_c] (tt_irb_fwd_s8 without sub-kernel scratch)")


def fused_block_can_alias(expand: ConvGeom | None, dw: ConvGeom, out_c: int, residual: bool) -> bool:
    """May ``tt_irb_fwd_s8`` write the block output over its input (``tt_irb_fwd_s8_can_alias``)?"""
    from tt_host.reference.fused import IrbGeom, irb_can_alias

    g = IrbGeom(expand, dw, out_c, residual)
    if _c_function("irb_fwd_s8"):
        return _native().irb_can_alias(g)
    return irb_can_alias(g)


def fused_block_rows_span(expand: ConvGeom | None, dw: ConvGeom, out_c: int, residual: bool) -> int:
    """Input rows the fused block reads at once when run as they arrive (``tt_irb_fwd_s8_rows_span``)."""
    from tt_host.reference.fused import IrbGeom, irb_rows_span

    g = IrbGeom(expand, dw, out_c, residual)
    if _c_function("irb_fwd_s8"):
        return _native().irb_rows_span(g)
    return irb_rows_span(g)


#: Source prefix of the in-place variants' scratch (the schedule drops it when it falls back).
INPLACE_PREFIX = "in-place"


def inplace_depthwise(in_hw: int, geom: ConvGeom | None = None) -> Scratch:
    """In-place depthwise, depth multiplier 1 (``tt_dw_conv2d_fwd_inplace_s8``): the
    out-of-place kernel's planar ring (``kernel_h`` padded rows of four channels as int16, and
    their weight tables), which it runs over its own input, or a window of ``kernel_h`` input
    rows of one channel (``kernel_h*in_w``), whichever is larger; from the C library when
    ``geom`` is given. Legal for any stride when ``out_h <= in_h`` and ``out_w <= in_w``:
    output channel *c* is only ever written over input channel *c*, pixel *p* over pixel *p*."""
    if geom is not None and _c_function("dw_conv2d_fwd_inplace_s8"):
        return Scratch(_native().scratch_size("dw_conv2d_fwd_inplace_s8", geom), True,
                       f"{INPLACE_PREFIX} depthwise: tt_dw_conv2d_fwd_inplace_s8_scratch_size")
    return Scratch(in_hw, False, f"{INPLACE_PREFIX} depthwise: H*W (one input channel copy, an estimate)")


def inplace_pointwise(in_c: int, geom: ConvGeom | None = None) -> Scratch:
    """In-place pointwise projection (``tt_pw_conv2d_fwd_inplace_s8``), ``out_c <= in_c``, any
    stride: output pixel *p* only overlaps input pixels up to *p*, so runs of pixels whose
    outputs end below their inputs run on the tensor itself and the others go through a copy
    of ``TT_PW_INPLACE_PIXELS`` (4) input pixels, plus the out-of-place kernel's scratch for
    those runs; from the C library when ``geom`` is given."""
    if geom is not None and _c_function("pw_conv2d_fwd_inplace_s8"):
        return Scratch(_native().scratch_size("pw_conv2d_fwd_inplace_s8", geom), True,
                       f"{INPLACE_PREFIX} pointwise: tt_pw_conv2d_fwd_inplace_s8_scratch_size")
    return Scratch(-(-4 * in_c // 4) * 4, False, f"{INPLACE_PREFIX} pointwise: 4*in_c (four input pixels)")


def inplace_depthwise_bwd_input_supported(geom: ConvGeom) -> bool:
    """May the depthwise input gradient write dX over dY (``tt_dw_conv2d_bwd_input_inplace_s16_supported``):
    depth multiplier 1, stride 1, dX shaped like dY, kernel up to 7x7."""
    if _c_function_exists("dw_conv2d_bwd_input_inplace_s16"):
        return _native().dw_bwd_input_inplace_supported(geom)
    from tt_host.reference.fused import dw_bwd_input_inplace_supported

    return dw_bwd_input_inplace_supported(geom)


def inplace_depthwise_bwd_input(geom: ConvGeom) -> Scratch:
    """In-place depthwise input gradient (``tt_dw_conv2d_bwd_input_inplace_s16``): the dY values
    of one group of ``min(in_c, 32)`` channels at the most recent pixels that dX has overwritten
    and later dX pixels still read, ``(kernel_h - 1 - pad_top) * in_w + kernel_w - pad_left`` of
    them (one row and two pixels for a 3x3 SAME kernel), from the C library when it is built."""
    if _c_function("dw_conv2d_bwd_input_inplace_s16"):
        return Scratch(_native().scratch_size("dw_conv2d_bwd_input_inplace_s16", geom), True,
                       f"{INPLACE_PREFIX} depthwise input gradient: tt_dw_conv2d_bwd_input_inplace_s16_scratch_size")
    pixels = (geom.kernel_h - 1 - geom.pad_top) * geom.in_w + geom.kernel_w - geom.pad_left
    return Scratch(pixels * min(geom.in_c, 32) * 2, False,
                   f"{INPLACE_PREFIX} depthwise input gradient: ((kh-1-pad_top)*W + kw-pad_left) pixels"
                   " x min(C, 32) channels x int16")


def overlay_forward(kind: str, geom: ConvGeom | None, fc_shape: tuple[int, int] | None = None) -> Scratch:
    """Forward of a partially trained layer with its trainable slice overlaid on the frozen
    weights (``tt_conv2d_fwd_overlay_s8`` for conv and pointwise, ``tt_fc_fwd_overlay_s8``):
    one merged weight row."""
    if kind == "fc":
        if _c_function("fc_fwd_overlay_s8"):
            return Scratch(_native().scratch_size("fc_fwd_overlay_s8", fc_shape), True, "tt_fc_fwd_overlay_s8_scratch_size")
        return Scratch(-(-fc_shape[0] // 4) * 4, False, "in_c (one merged weight row)")
    if _c_function("conv2d_fwd_overlay_s8"):
        return Scratch(_native().scratch_size("conv2d_fwd_overlay_s8", geom), True, "tt_conv2d_fwd_overlay_s8_scratch_size")
    return Scratch(-(-geom.kernel_h * geom.kernel_w * geom.in_c // 4) * 4, False, "kh*kw*in_c (one merged weight row)")


def executor_temp(op_kind: int, op_flags: int, layer_kind: int, geom: ConvGeom, n_channels: int,
                  whole_slice: bool) -> Scratch:
    """What the plan executor itself takes from the start of an op's scratch buffer, before the
    kernel's scratch (``tt_executor_temp_size``, ``tt/executor.h``): the merged weight tensor of a
    partially trained layer's depthwise forward or input gradient, a depthwise layer's compact
    input expanded, an identity channel list, a sliced QAS table, gathered channels, the int32
    bias gradient of a fused bias update. ``op_kind`` is a plan ``OpKind``, ``layer_kind`` a
    ``LayerKind``, ``geom`` the geometry of the op's LAYER block."""
    native = _native()
    if native is not None and "tt_executor_temp_size" in native._PROTOTYPES:
        n = native.executor_temp_size(op_kind, op_flags, layer_kind, geom, n_channels, whole_slice)
        return Scratch(n, True, "tt_executor_temp_size") if n else Scratch.none()
    from tt_protocol.plan import BWD_INPUT_OF, LayerKind, OpFlag, OpKind

    a4 = lambda v: -(-v // 4) * 4
    depthwise = layer_kind == LayerKind.DW_CONV2D
    g, n = geom, n_channels
    taps, pixels = g.kernel_h * g.kernel_w, g.in_h * g.in_w
    compact = bool(op_flags & OpFlag.COMPACT_INPUT)
    t = 0
    if op_kind == OpKind.DW_CONV2D or op_kind in BWD_INPUT_OF.values():
        t = (taps * g.out_c if depthwise else taps * g.out_c * g.in_c) if n and not whole_slice else 0
    elif op_kind == OpKind.WEIGHT_GRAD and compact:
        t = pixels * g.in_c if depthwise else 2 * n
    elif op_kind == OpKind.WEIGHT_UPDATE:
        t = a4(2 * n) + (8 * n if depthwise else 0)
    elif op_kind == OpKind.WEIGHT_GRAD_UPDATE:
        t = pixels * n if not compact and not whole_slice else 0
    elif op_kind == OpKind.BIAS_GRAD_UPDATE:
        t = 4 * g.out_c
    return Scratch(a4(t), False, "executor temporaries (formula of tt_executor_temp_size)") if t else Scratch.none()


def with_temp(temp: Scratch, kernel: Scratch) -> Scratch:
    """An op's scratch buffer: the executor's temporaries, then the kernel's scratch."""
    if not temp.nbytes:
        return kernel
    if not kernel.nbytes:
        return temp
    return Scratch(temp.nbytes + kernel.nbytes, temp.exact and kernel.exact, f"{kernel.source} + {temp.source}")


def irb_forward(graph, block) -> Scratch:
    """The schedule's hook for a fused block (``schedule.Block``: layer indices ``pw1`` (or
    ``None``), ``dw``, ``pw2``, ``add``): :func:`fused_block` on those layers' geometries. The
    expansion layer may also be a general convolution (the stem before a block without pw1)."""
    L = graph.layers
    expand = L[block.pw1].step.geom if getattr(block, "pw1", None) is not None else None
    return fused_block(expand, L[block.dw].step.geom, L[block.pw2].out_channels, block.add is not None)
