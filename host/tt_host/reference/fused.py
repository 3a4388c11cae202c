"""Sparse-update and memory-saving kernels, bit-exact with their C twins.

* ``gather_channels_s8``: the compact saved input of a layer trained on a channel list K
  (``tt_gather_channels_s8``).
* ``<op>_bwd_weight_update_s8``: weight gradient and SGD+QAS step fused element by element on
  the trainable slice (``tt_<op>_bwd_weight_update_s8`` in ``tt/kernels/<op>.h``; docs/KERNELS.md). Defined here as exactly the unfused
  sequence (``backward_int.<op>_bwd_weight_s16`` then ``update``'s step), which is what the C
  must reproduce; tests also check it against ``update.sgd_update_s8`` on the full tensor.
* ``conv2d_fwd_overlay_s8`` / ``fc_fwd_overlay_s8``: forward with the trained channels'
  weights taken from the slice (the overlay kernels; docs/KERNELS.md).
* ``irb_fwd_s8``: a frozen inverted bottleneck, defined as the unfused sequence pw1 ->
  depthwise -> pw2 [-> add] (``tt/kernels/irb.h``); ``irb_trace`` returns its intermediates.
* The in-place kernels (``tt_<op>_..._inplace_*`` in ``tt/kernels/<op>.h``) compute exactly ``forward.dw_conv2d_fwd_s8``,
  ``forward.pw_conv2d_fwd_s8`` and ``backward_int.dw_conv2d_bwd_input_s16``;
  ``dw_inplace_supported`` / ``pw_inplace_supported`` / ``dw_bwd_input_inplace_supported``
  state when they apply.

Slice layouts: conv/pointwise ``(out_c, kh, kw, |K|)``, FC ``(out_c, |K|)``, depthwise
``(1, kh, kw, |K|)``: the gradient layout of the ``*_bwd_weight_s16`` kernels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tt_host.reference import backward_int as I
from tt_host.reference import forward
from tt_host.reference import update as U
from tt_host.reference.params import AddQuant, ConvGeom, ConvQuant

# -- compact saved input -------------------------------------------------------------------------


def gather_channels_s8(x: np.ndarray, channels) -> np.ndarray:
    """``tt_gather_channels_s8``: ``x[..., channels]`` (NHWC or a vector), int8."""
    x = np.asarray(x, np.int8)
    return np.ascontiguousarray(x[..., np.asarray(channels, np.int64)])


def scatter_channels(compact: np.ndarray, channels, in_c: int, fill: int) -> np.ndarray:
    """The inverse of the gather, other channels set to ``fill`` (tests and the reference)."""
    compact = np.asarray(compact)
    full = np.full(compact.shape[:-1] + (in_c,), fill, dtype=compact.dtype)
    full[..., np.asarray(channels, np.int64)] = compact
    return full


# -- fused weight gradient + update --------------------------------------------------------------


def _apply(slice_w: np.ndarray, qas_channel: np.ndarray, grad: I.Grad, sgd: U.Sgd, qas: U.Qas, rng: U.Rng,
           velocity: np.ndarray | None) -> np.ndarray:
    g = np.asarray(grad.values).ravel()
    u = U.step_q16(sgd, qas, qas_channel, g, grad.exp)
    vel = None if velocity is None else velocity.reshape(-1)
    steps = U.stochastic_round(sgd, u, rng, vel)
    w = np.asarray(slice_w, np.int8)
    return np.clip(w.ravel().astype(np.int64) - steps, -127, 127).astype(np.int8).reshape(w.shape)


def conv2d_bwd_weight_update_s8(geom: ConvGeom, input_zp: int, x_kept: np.ndarray, dy: I.Grad, sgd: U.Sgd,
                                qas: U.Qas, rng: U.Rng, slice_w: np.ndarray,
                                velocity: np.ndarray | None = None) -> np.ndarray:
    """``tt_conv2d_bwd_weight_update_s8``: the updated slice ``(out_c, kh, kw, n)`` (a new
    array); ``x_kept`` is the compact input ``(in_h, in_w, n)``; ``rng`` and ``velocity``
    advance as in the C."""
    n = np.asarray(x_kept).shape[-1]
    g = I.conv2d_bwd_weight_s16(replace(geom, in_c=n), input_zp, range(n), x_kept, dy)
    taps = geom.kernel_h * geom.kernel_w
    return _apply(slice_w, np.repeat(np.arange(geom.out_c), taps * n), g, sgd, qas, rng, velocity)


def pw_conv2d_bwd_weight_update_s8(geom: ConvGeom, input_zp: int, x_kept, dy: I.Grad, sgd: U.Sgd, qas: U.Qas,
                                   rng: U.Rng, slice_w, velocity: np.ndarray | None = None) -> np.ndarray:
    """``tt_pw_conv2d_bwd_weight_update_s8``: as the general convolution for a 1x1 kernel."""
    return conv2d_bwd_weight_update_s8(geom, input_zp, x_kept, dy, sgd, qas, rng, slice_w, velocity)


def dw_conv2d_bwd_weight_update_s8(geom: ConvGeom, input_zp: int, channels, x_kept, dy: I.Grad, sgd: U.Sgd,
                                   qas: U.Qas, rng: U.Rng, slice_w, velocity: np.ndarray | None = None) -> np.ndarray:
    """``tt_dw_conv2d_bwd_weight_update_s8``: the updated slice ``(1, kh, kw, n)``; ``channels``
    (K) index dY and the QAS factors."""
    ch = list(channels)
    full = scatter_channels(np.asarray(x_kept, np.int8), ch, geom.in_c, np.int8(np.clip(input_zp, -128, 127)))
    g = I.dw_conv2d_bwd_weight_s16(geom, input_zp, ch, full, dy)
    qc = np.tile(np.asarray(ch, np.int64), geom.kernel_h * geom.kernel_w)
    return _apply(slice_w, qc, g, sgd, qas, rng, velocity)


def fc_bwd_weight_update_s8(input_zp: int, x_kept, dy: I.Grad, sgd: U.Sgd, qas: U.Qas, rng: U.Rng, slice_w,
                            velocity: np.ndarray | None = None) -> np.ndarray:
    """``tt_fc_bwd_weight_update_s8``: the updated slice ``(out_c, n)``."""
    xk = np.asarray(x_kept, np.int8).ravel()
    g = I.fc_bwd_weight_s16(input_zp, range(xk.size), xk, dy)
    out_c = np.asarray(dy.values).size
    return _apply(slice_w, np.repeat(np.arange(out_c), xk.size), g, sgd, qas, rng, velocity)


# -- forward with a trainable overlay ------------------------------------------------------------


def merge_overlay(weights: np.ndarray, channels, trained: np.ndarray) -> np.ndarray:
    """The weight tensor the overlay forward computes with: ``weights`` (OHWI or ``(out, in)``)
    with its values at input channels ``channels`` replaced by the slice ``trained``."""
    w = np.array(weights, np.int8, copy=True)
    if len(channels):
        w[..., np.asarray(channels, np.int64)] = np.asarray(trained, np.int8).reshape(w.shape[:-1] + (len(channels),))
    return w


def conv2d_fwd_overlay_s8(geom: ConvGeom, quant: ConvQuant, x, weights, channels, trained, bias) -> np.ndarray:
    """``tt_conv2d_fwd_overlay_s8`` (general or pointwise convolution)."""
    return forward.conv2d_fwd_s8(geom, quant, x, merge_overlay(weights, channels, trained), bias)


def fc_fwd_overlay_s8(quant: ConvQuant, x, weights, channels, trained, bias) -> np.ndarray:
    """``tt_fc_fwd_overlay_s8``."""
    return forward.fc_fwd_s8(quant, x, merge_overlay(weights, channels, trained), bias)


# -- in-place ------------------------------------------------------------------------------------


def dw_inplace_supported(geom: ConvGeom) -> bool:
    """``tt_dw_conv2d_fwd_inplace_s8_supported``."""
    return geom.problem() is None and geom.out_c == geom.in_c and geom.out_h <= geom.in_h and geom.out_w <= geom.in_w


def dw_bwd_input_inplace_supported(geom: ConvGeom) -> bool:
    """``tt_dw_conv2d_bwd_input_inplace_s16_supported``: dX can be written over dY (it computes
    exactly ``backward_int.dw_conv2d_bwd_input_s16``)."""
    return (geom.problem() is None and geom.out_c == geom.in_c and (geom.stride_h, geom.stride_w) == (1, 1)
            and (geom.out_h, geom.out_w) == (geom.in_h, geom.in_w) and geom.kernel_h <= 7 and geom.kernel_w <= 7)


def pw_inplace_supported(geom: ConvGeom) -> bool:
    """``tt_pw_conv2d_fwd_inplace_s8_supported``."""
    return (geom.problem() is None and (geom.kernel_h, geom.kernel_w) == (1, 1)
            and (geom.pad_top, geom.pad_left, geom.pad_bottom, geom.pad_right) == (0, 0, 0, 0)
            and geom.out_c <= geom.in_c)


# -- fused inverted bottleneck -------------------------------------------------------------------


@dataclass(frozen=True)
class IrbGeom:
    """``tt_irb_geom_t``: ``expand`` is the expansion layer (a pointwise or any convolution, e.g.
    the stem before a block without pw1) or ``None``; ``dw`` the depthwise over the expanded
    tensor."""

    expand: ConvGeom | None
    dw: ConvGeom
    out_c: int
    residual: bool

    @property
    def has_expand(self) -> bool:
        return self.expand is not None

    @property
    def in_shape(self) -> tuple[int, int, int]:
        g = self.expand if self.expand is not None else self.dw
        return (g.in_h, g.in_w, g.in_c)

    @property
    def in_c(self) -> int:
        return self.in_shape[2]

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.dw.out_h, self.dw.out_w, self.out_c)

    @property
    def expand_c(self) -> int:
        return self.dw.in_c

    @property
    def pw2(self) -> ConvGeom:
        d = self.dw
        return ConvGeom.explicit(d.out_h, d.out_w, d.out_c, self.out_c, 1, 1)

    def problem(self) -> str | None:
        """Why the block is invalid, or ``None`` (``tt_irb_geom_check``)."""
        d, x = self.dw, self.expand
        if d.problem() is not None or d.out_c != d.in_c or self.out_c < 1:
            return "depthwise geometry must be valid with multiplier 1"
        if x is not None and (x.problem() is not None or (x.out_h, x.out_w, x.out_c) != (d.in_h, d.in_w, d.in_c)):
            return "the expansion layer must produce the depthwise input"
        if self.residual and self.out_shape != self.in_shape:
            return "a residual block keeps its shape"
        return None

    def channel_streamed_scratch(self) -> int:
        """Scratch of the channel-streamed alternative (not implemented: larger where it
        matters, see irb.h): one expanded plane, one depthwise plane, the int32 pw2 accumulator."""
        d = self.dw
        return (d.in_h * d.in_w if self.has_expand else 0) + d.out_h * d.out_w + 4 * d.out_h * d.out_w * self.out_c


@dataclass(frozen=True)
class IrbQuant:
    """``tt_irb_quant_t`` (``add``: input1 = block input, input2 = projection)."""

    pw1: ConvQuant | None
    dw: ConvQuant
    pw2: ConvQuant
    add: AddQuant | None = None


@dataclass(frozen=True)
class IrbWeights:
    """``tt_irb_weights_t``."""

    pw1_weights: np.ndarray | None
    pw1_bias: np.ndarray | None
    dw_weights: np.ndarray
    dw_bias: np.ndarray | None
    pw2_weights: np.ndarray
    pw2_bias: np.ndarray | None


@dataclass(frozen=True)
class IrbTrace:
    """Every intermediate of one block (the golden vectors store them)."""

    expanded: np.ndarray  #: the expansion layer's output (the block input without one)
    depthwise: np.ndarray
    projected: np.ndarray  #: pw2 output
    output: np.ndarray  #: after the residual add (= projected without one)


def irb_trace(geom: IrbGeom, quant: IrbQuant, x, weights: IrbWeights) -> IrbTrace:
    """The unfused sequence the fused kernel must reproduce."""
    x = np.asarray(x, np.int8).reshape(geom.in_shape)
    e = (forward.conv2d_fwd_s8(geom.expand, quant.pw1, x, weights.pw1_weights, weights.pw1_bias)
         if geom.has_expand else x)
    d = forward.dw_conv2d_fwd_s8(geom.dw, quant.dw, e, weights.dw_weights, weights.dw_bias)
    p = forward.pw_conv2d_fwd_s8(geom.pw2, quant.pw2, d, weights.pw2_weights, weights.pw2_bias)
    y = forward.add_fwd_s8(quant.add, x, p) if geom.residual else p
    return IrbTrace(e, d, p, y)


def irb_fwd_s8(geom: IrbGeom, quant: IrbQuant, x, weights: IrbWeights) -> np.ndarray:
    """``tt_irb_fwd_s8``."""
    return irb_trace(geom, quant, x, weights).output


def _row_window(g: ConvGeom, r: int) -> tuple[int, int]:
    y0 = r * g.stride_h - g.pad_top
    return max(0, y0), min(g.in_h, y0 + g.kernel_h)


def irb_can_alias(geom: IrbGeom) -> bool:
    """``tt_irb_fwd_s8_can_alias``: may the output be written over the input?"""
    d = geom.dw
    in_h, in_w, in_c = geom.in_shape

    def needed_from(r: int) -> int:  # first input row expanded rows r, r+1, ... still read
        if r >= d.in_h:
            return in_h
        return _row_window(geom.expand, r)[0] if geom.has_expand else r

    for oy in range(d.out_h):
        hi = _row_window(d, oy)[1]
        if (oy + 1) * d.out_w * geom.out_c > needed_from(hi) * in_w * in_c:
            return False
    return True


def irb_rows_span(geom: IrbGeom) -> int:
    """``tt_irb_fwd_s8_rows_span``: input rows the row-by-row fused forward reads at once."""
    d = geom.dw
    in_h = geom.in_shape[0]

    def needed_from(r: int) -> int:
        if r >= d.in_h:
            return in_h
        return _row_window(geom.expand, r)[0] if geom.has_expand else r

    span = whi = 0
    for oy in range(d.out_h):
        lo, hi = _row_window(d, oy)
        need = 0
        if hi > whi and hi > lo:
            need = _row_window(geom.expand, hi - 1)[1] if geom.has_expand else hi
        if geom.residual:
            need = max(need, oy + 1)
        first = needed_from(whi)
        if geom.residual:
            first = min(first, oy)
        span = max(span, need - first)
        whi = max(whi, hi)
    return span


@dataclass(frozen=True)
class IrbBlock:
    """An inverted bottleneck found in a lowered model (``graph.lower`` steps)."""

    geom: IrbGeom
    quant: IrbQuant
    weights: IrbWeights
    input: int  #: tensor index of the block input
    output: int  #: tensor index of the block output (the ADD's, for a residual block)
    steps: tuple[int, ...]  #: indices of the fused steps


def inverted_bottlenecks(steps) -> list[IrbBlock]:
    """Every ``[pw1 ->] depthwise -> pw2 [-> add]`` chain of ``steps`` whose intermediate
    tensors have no other consumer, i.e. what ``tt_irb_fwd_s8`` can run fused."""
    consumers: dict[int, list[int]] = {}
    for i, s in enumerate(steps):
        for t in s.inputs:
            consumers.setdefault(t, []).append(i)

    def only(t, i):
        return consumers.get(t, []) == [i]

    blocks = []
    for i, d in enumerate(steps):
        if d.kind != "dw_conv2d" or d.geom.out_c != d.geom.in_c or i + 1 >= len(steps):
            continue
        p2 = steps[i + 1]
        if p2.kind != "pw_conv2d" or p2.inputs[0] != d.output or not only(d.output, i + 1):
            continue
        p1 = steps[i - 1] if i > 0 else None
        expand = (p1 is not None and p1.kind in ("pw_conv2d", "conv2d") and p1.output == d.inputs[0]
                  and only(p1.output, i))
        first = i - 1 if expand else i
        block_in = p1.inputs[0] if expand else d.inputs[0]
        add = steps[i + 2] if i + 2 < len(steps) else None
        residual = (add is not None and add.kind == "add" and only(p2.output, i + 2)
                    and set(add.inputs) == {p2.output, block_in})
        aq = None
        if residual:
            aq = add.quant
            if add.inputs[0] != block_in:  # input1 must be the skip: swap the operands' parameters
                aq = replace(aq, input1_zp=aq.input2_zp, input2_zp=aq.input1_zp,
                             input1_multiplier=aq.input2_multiplier, input1_shift=aq.input2_shift,
                             input2_multiplier=aq.input1_multiplier, input2_shift=aq.input1_shift)
        geom = IrbGeom(p1.geom if expand else None, d.geom, p2.geom.out_c, residual)
        quant = IrbQuant(p1.quant if expand else None, d.quant, p2.quant, aq)
        weights = IrbWeights(p1.weights if expand else None, p1.bias if expand else None, d.weights, d.bias,
                             p2.weights, p2.bias)
        last = i + 2 if residual else i + 1
        blocks.append(IrbBlock(geom, quant, weights, block_in, steps[last].output, tuple(range(first, last + 1))))
    return blocks
