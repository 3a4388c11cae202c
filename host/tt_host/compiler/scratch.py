"""Kernel scratch sizes, from the C library whenever the kernel exists there.

The planner must reserve exactly what the firmware's kernels ask for, so it calls the same
``tt_<kernel>_scratch_size()`` functions through :mod:`tt_host.native` (STYLE.md, point 1).
For kernels that do not exist in C yet (backward, fused blocks, the loss) a documented formula
stands in; every such size is reported as ``exact=False`` and listed in the compile report
so nobody mistakes it for a measured number.
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
        # Mirrors the C of conv2d (two im2col columns of int16); TODO only without the library.
        n = 2 * geom.kernel_h * geom.kernel_w * geom.in_c * 2 if kind == "conv2d" else 0
        return Scratch(n, False, "2*kh*kw*in_c*2 (im2col, two columns of int16)")
    if kind == "fc":
        if _c_function("fc_fwd_s8"):
            return Scratch(_native().scratch_size("fc_fwd_s8", fc_shape), True, "tt_fc_fwd_s8_scratch_size")
        return Scratch(0, False, "0 (fc)")
    return Scratch.none()


def backward_input(kind: str, geom: ConvGeom | None, out_c: int, fc_shape: tuple[int, int] | None = None) -> Scratch:
    """Scratch of an input-gradient kernel (pooling and ADD need none).

    Without the library: one output row of dY pre-scaled by the per-channel weight scales
    (``out_w*out_c*2``; ``out_c*2`` for FC), marked TODO.
    """
    kernel = f"{kind}_bwd_input_s16"
    if kind in ("conv2d", "pw_conv2d", "dw_conv2d", "fc") and _c_function(kernel):
        return Scratch(_native().scratch_size(kernel, fc_shape if kind == "fc" else geom), True, f"tt_{kernel}_scratch_size")
    if kind in ("conv2d", "pw_conv2d", "dw_conv2d"):
        return Scratch(geom.out_w * out_c * 2, False, "TODO: out_w*out_c*2 (one pre-scaled dY row)")
    if kind == "fc":
        return Scratch(out_c * 2, False, "TODO: out_c*2 (pre-scaled dY)")
    return Scratch.none()


def streamed_weight_update(kind: str, geom: ConvGeom | None, n_channels: int) -> Scratch:
    """Fused weight gradient + SGD/QAS update, one output channel at a time (TODO(kernels
    issue)): that channel's int32 dW (``kh*kw*n_channels*4``; ``kh*kw*4`` per depthwise
    channel; ``n_channels*4`` for FC)."""
    if kind == "fc":
        return Scratch(4 * n_channels, False, "TODO: n_channels*4 (one output row of int32 dW)")
    taps = geom.kernel_h * geom.kernel_w
    n = taps * 4 if kind == "dw_conv2d" else taps * n_channels * 4
    return Scratch(n, False, "TODO: kh*kw*n_channels*4 (one output channel of int32 dW)")


def loss(n_classes: int) -> Scratch:
    """Softmax cross-entropy on the int8 logits. TODO(loss kernel): one int32 per class."""
    return Scratch(4 * n_classes, False, "TODO: 4*n_classes (softmax numerators)")


def fused_channel(in_hw: int, out_hw: int, has_pw1: bool) -> Scratch:
    """Per-channel rows of a fused inverted bottleneck (TODO(fusion kernel)): one expanded
    channel of pw1's output (``H*W``) and of the depthwise output (``Ho*Wo``), int8."""
    n = (in_hw if has_pw1 else 0) + out_hw
    return Scratch(n, False, "TODO: H*W + Ho*Wo (one expanded channel, int8)")


#: Source prefix of the in-place variants' scratch (the schedule drops it when it falls back).
INPLACE_PREFIX = "TODO: in-place"


def inplace_depthwise(in_hw: int) -> Scratch:
    """In-place depthwise (TODO(kernels issue)): a copy of one input channel (``H*W``) is
    taken before that channel's outputs overwrite it. Legal for any stride in NHWC when the
    depth multiplier is 1: output channel *c* is only ever written over input channel *c*."""
    return Scratch(in_hw, False, f"{INPLACE_PREFIX} depthwise: H*W (one input channel copy)")


def inplace_pointwise(in_c: int) -> Scratch:
    """In-place pointwise projection (TODO(kernels issue)), ``out_c <= in_c``: output pixel
    *p* only overlaps input pixels up to *p*, so one input pixel (``in_c``) is copied aside."""
    return Scratch(in_c, False, f"{INPLACE_PREFIX} pointwise: in_c (one input pixel copy)")
