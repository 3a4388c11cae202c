"""Kernel scratch sizes and kernel-variant legality, asked of the C library.

The planner must reserve exactly what the firmware's kernels ask for and plan an op in place
only where the firmware has a kernel for it, so every answer here comes from the functions the
executor's load check calls, through :mod:`tt_host.native` (STYLE.md, point 1): a layer's
forward and input gradient from its wrapper (``tt/kernels/layer.h``: which of plain / in place
/ overlay / merged runs is decided there and only there), the fused block from
``tt_irb_fwd_s8_*``, the executor's own temporaries from ``tt_executor_temp_size``. The host
library is therefore required to compile a plan: without a C compiler,
:func:`tt_host.native.load` raises :class:`tt_host.errors.ToolMissing` saying what to install.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from tt_host.reference.params import ConvGeom


@dataclass(frozen=True)
class Scratch:
    """Bytes a kernel invocation needs besides its inputs and outputs."""

    nbytes: int
    source: str  #: the C function that said so

    @classmethod
    def none(cls) -> Scratch:
        return cls(0, "no scratch")


@lru_cache(maxsize=1)
def _native():
    """``tt_host.native`` with the library loaded (built on first use)."""
    from tt_host import native

    native.load()
    return native


def layer(kind: str, pass_: str, geom: ConvGeom, n_channels: int, whole: bool, in_place: bool) -> Scratch | None:
    """Scratch of the variant the layer wrapper of ``kind`` (conv2d, pw_conv2d, dw_conv2d, fc;
    FC as a 1x1 geometry) runs for ``pass_`` ("fwd" or "bwd_input") with ``n_channels`` trained
    input channels (``whole``: all of them, in order) and its output written over its input or
    not; None where no variant can run in place."""
    n = _native().layer_scratch_size(kind, pass_, geom, n_channels, whole, in_place)
    if n is None:
        return None
    suffix = "s8" if pass_ == "fwd" else "s16"
    return Scratch(n, f"tt_{kind}_{pass_}_wrapper_{suffix}_scratch_size(in_place={int(in_place)})")


def executor_temp(op_kind: int, op_flags: int, layer_kind: int, geom: ConvGeom, n_channels: int,
                  whole_slice: bool) -> Scratch:
    """What the plan executor itself takes from the start of an update op's scratch buffer
    (``tt_executor_temp_size``, ``tt/executor.h``): a depthwise layer's compact input expanded,
    an identity channel list, a sliced QAS table, gathered channels, the int32 bias gradient of
    a fused bias update. ``op_kind`` is a plan ``OpKind``, ``layer_kind`` a ``LayerKind``,
    ``geom`` the geometry of the op's LAYER block."""
    n = _native().executor_temp_size(op_kind, op_flags, layer_kind, geom, n_channels, whole_slice)
    return Scratch(n, "tt_executor_temp_size") if n else Scratch.none()


def with_temp(temp: Scratch, kernel: Scratch) -> Scratch:
    """An op's scratch buffer: the executor's temporaries, then the kernel's scratch."""
    if not temp.nbytes:
        return kernel
    if not kernel.nbytes:
        return temp
    return Scratch(temp.nbytes + kernel.nbytes, f"{kernel.source} + {temp.source}")


def _irb_geom(expand: ConvGeom | None, dw: ConvGeom, out_c: int, residual: bool):
    from tt_host.reference.fused import IrbGeom

    return IrbGeom(expand, dw, out_c, residual)


def fused_block(expand: ConvGeom | None, dw: ConvGeom, out_c: int, residual: bool) -> Scratch:
    """Scratch of the fused frozen inverted bottleneck ``tt_irb_fwd_s8`` (row-streamed; see
    ``tt/kernels/irb.h``): ``expand`` is the expansion layer's geometry (pw1, or the stem
    convolution before a block without pw1; ``None`` for none), ``dw`` the depthwise's."""
    return Scratch(_native().irb_fwd_s8_scratch_size(_irb_geom(expand, dw, out_c, residual)),
                   "tt_irb_fwd_s8_scratch_size")


def fused_block_can_alias(expand: ConvGeom | None, dw: ConvGeom, out_c: int, residual: bool) -> bool:
    """May ``tt_irb_fwd_s8`` write the block output over its input (``tt_irb_fwd_s8_can_alias``)?"""
    return _native().irb_can_alias(_irb_geom(expand, dw, out_c, residual))


def fused_block_rows_span(expand: ConvGeom | None, dw: ConvGeom, out_c: int, residual: bool) -> int:
    """Input rows the fused block reads at once when run as they arrive (``tt_irb_fwd_s8_rows_span``)."""
    return _native().irb_rows_span(_irb_geom(expand, dw, out_c, residual))


class _CachedScratch:
    """This module with its size functions memoised: they are pure functions of frozen
    geometries, and ``--scheme auto`` schedules hundreds of candidates of one model."""

    def __getattr__(self, name: str):
        value = globals()[name]
        if callable(value) and not isinstance(value, type) and not name.startswith("_"):
            value = lru_cache(maxsize=None)(value)
        setattr(self, name, value)
        return value


#: This module, memoised (what the scheduler calls).
cached = _CachedScratch()
