"""Backward pass, float reference (``*_f32``): input, weight and bias gradients of every
forward op, with weight gradients restricted to a list of input channels (sparse update).

These are the real-valued gradients the integer kernels approximate, so the error of the
integer path can be measured against them; they run in float32 (the on-device float
alternative, as TTE does) or in float64 when given float64 arrays (for gradient checks).
Gradients are with respect to the *dequantized* activations and weights; rounding is treated
as identity (straight-through) and the output clamp as a 0/1 mask (see ``clamp_mask``).

Layouts follow ``forward``: activations ``(H, W, C)``, conv weights OHWI, depthwise 1HWC
(depth multiplier 1), fully-connected ``(out, in)``.
"""

from __future__ import annotations

import numpy as np

from tt_host.reference.forward import maxpool_winners, taps
from tt_host.reference.params import ConvGeom


def _pad(geom: ConvGeom, x: np.ndarray) -> np.ndarray:
    return np.pad(x, ((geom.pad_top, geom.pad_bottom), (geom.pad_left, geom.pad_right), (0, 0)))


def _tap_slices(geom: ConvGeom):
    for ky in range(geom.kernel_h):
        for kx in range(geom.kernel_w):
            yield ky, kx, (slice(ky, ky + geom.stride_h * (geom.out_h - 1) + 1, geom.stride_h),
                           slice(kx, kx + geom.stride_w * (geom.out_w - 1) + 1, geom.stride_w))


def _crop(geom: ConvGeom, xp: np.ndarray) -> np.ndarray:
    return xp[geom.pad_top : geom.pad_top + geom.in_h, geom.pad_left : geom.pad_left + geom.in_w]


# -- float forward (the function whose gradients these are) ----------------------------------

def conv2d_f32(geom: ConvGeom, x, w, b=None):
    """Real-valued convolution (zero padding): the model the integer kernels quantize."""
    xp = _pad(geom, x)
    y = np.zeros(geom.out_shape, dtype=np.result_type(x, w))
    for ky, kx, view in taps(geom, xp):
        y += view @ w[:, ky, kx, :].T
    return y if b is None else y + b


def dw_conv2d_f32(geom: ConvGeom, x, w, b=None):
    xp = _pad(geom, x)
    y = np.zeros(geom.out_shape, dtype=np.result_type(x, w))
    for ky, kx, view in taps(geom, xp):
        y += view * w[0, ky, kx]
    return y if b is None else y + b


def avgpool_f32(geom: ConvGeom, x):
    ones = _pad(geom, np.ones(geom.in_shape[:2] + (1,), dtype=x.dtype))
    xp = _pad(geom, x)
    acc = np.zeros(geom.out_shape, dtype=x.dtype)
    cnt = np.zeros(geom.out_shape[:2] + (1,), dtype=x.dtype)
    for (_, _, v), (_, _, c) in zip(taps(geom, xp), taps(geom, ones)):
        acc += v
        cnt += c
    return acc / cnt


# -- backward ---------------------------------------------------------------------------------

def conv2d_bwd_input_f32(geom: ConvGeom, w, dy):
    """dL/dx of a convolution (transposed convolution of ``dy`` with OHWI ``w``)."""
    dxp = np.zeros((geom.in_h + geom.pad_top + geom.pad_bottom, geom.in_w + geom.pad_left + geom.pad_right,
                    geom.in_c), dtype=np.result_type(w, dy))
    for ky, kx, (sy, sx) in _tap_slices(geom):
        dxp[sy, sx] += dy @ w[:, ky, kx, :]
    return _crop(geom, dxp)


def conv2d_bwd_weight_f32(geom: ConvGeom, x, dy, channels=None):
    """dL/dW for the input channels ``channels`` (all when ``None``): ``(out_c, kh, kw, len(channels))``."""
    xs = x if channels is None else x[:, :, np.asarray(channels)]
    g = ConvGeom(geom.in_h, geom.in_w, xs.shape[2], geom.out_h, geom.out_w, geom.out_c, geom.kernel_h,
                 geom.kernel_w, geom.stride_h, geom.stride_w, geom.pad_top, geom.pad_left, geom.pad_bottom,
                 geom.pad_right)
    xp = _pad(g, xs)
    dw = np.zeros((geom.out_c, geom.kernel_h, geom.kernel_w, xs.shape[2]), dtype=np.result_type(x, dy))
    dyf = dy.reshape(-1, geom.out_c)
    for ky, kx, view in taps(g, xp):
        dw[:, ky, kx, :] = dyf.T @ view.reshape(-1, xs.shape[2])
    return dw


def dw_conv2d_bwd_input_f32(geom: ConvGeom, w, dy):
    if geom.out_c != geom.in_c:
        raise ValueError("depthwise backward supports depth multiplier 1")
    dxp = np.zeros((geom.in_h + geom.pad_top + geom.pad_bottom, geom.in_w + geom.pad_left + geom.pad_right,
                    geom.in_c), dtype=np.result_type(w, dy))
    for ky, kx, (sy, sx) in _tap_slices(geom):
        dxp[sy, sx] += dy * w[0, ky, kx]
    return _crop(geom, dxp)


def dw_conv2d_bwd_weight_f32(geom: ConvGeom, x, dy, channels=None):
    """dL/dW of a depthwise conv for ``channels``: ``(1, kh, kw, len(channels))``."""
    ch = np.arange(geom.in_c) if channels is None else np.asarray(channels)
    xp = _pad(geom, x[:, :, ch])
    dys = dy[:, :, ch]
    dw = np.zeros((1, geom.kernel_h, geom.kernel_w, len(ch)), dtype=np.result_type(x, dy))
    for ky, kx, view in taps(geom, xp):
        dw[0, ky, kx] = (view * dys).sum(axis=(0, 1))
    return dw


def fc_bwd_input_f32(w, dy):
    return dy @ w


def fc_bwd_weight_f32(x, dy, channels=None):
    xs = x if channels is None else x[np.asarray(channels)]
    return np.outer(dy, xs)


def bias_grad_f32(dy):
    """dL/db: the sum of ``dy`` over every position, per output channel."""
    return dy.reshape(-1, dy.shape[-1]).sum(axis=0)


def avgpool_bwd_input_f32(geom: ConvGeom, dy):
    ones = _pad(geom, np.ones(geom.in_shape[:2] + (1,), dtype=dy.dtype))
    cnt = np.zeros(geom.out_shape[:2] + (1,), dtype=dy.dtype)
    for _, _, c in taps(geom, ones):
        cnt += c
    share = dy / cnt
    dxp = np.zeros(ones.shape[:2] + (geom.in_c,), dtype=dy.dtype)
    for _, _, (sy, sx) in _tap_slices(geom):
        dxp[sy, sx] += share
    return _crop(geom, dxp)


def maxpool_bwd_input_f32(geom: ConvGeom, x, dy):
    """Each window's dY goes to its first maximum (:func:`forward.maxpool_winners`)."""
    winner = maxpool_winners(geom, x)
    dxp = np.zeros((geom.in_h + geom.pad_top + geom.pad_bottom, geom.in_w + geom.pad_left + geom.pad_right,
                    geom.in_c), dtype=dy.dtype)
    for ky, kx, (sy, sx) in _tap_slices(geom):
        dxp[sy, sx] += np.where(winner == ky * geom.kernel_w + kx, dy, 0)
    return _crop(geom, dxp)


def hard_swish_bwd_input_f32(x, dy):
    """dX = dY * h'(x) for real x: 0 below -3, x / 3 + 1/2 up to +3, 1 above."""
    x = np.asarray(x, dtype=dy.dtype)
    return dy * np.where(x < -3, 0, np.where(x <= 3, x / 3 + 0.5, 1))


def logistic_bwd_input_f32(x, dy):
    """dX = dY * s(1 - s), s = 1 / (1 + exp(-x)) for real x."""
    s = 1 / (1 + np.exp(-np.asarray(x, dtype=dy.dtype)))
    return dy * s * (1 - s)


def mul_bwd_f32(a, b, dy):
    """``(dA, dB)`` of y = a * b for real a, b, where b broadcasts over a as the MUL kernel
    broadcasts it (memory order, :func:`forward.broadcast_operand`): dB sums over the copies."""
    a = np.asarray(a, dtype=dy.dtype)
    b_flat = np.asarray(b, dtype=dy.dtype).ravel()
    b_full = np.tile(b_flat, a.size // b_flat.size).reshape(a.shape)
    return dy * b_full, (dy * a).reshape(-1, b_flat.size).sum(axis=0)


def concat_bwd_f32(outer: int, inners, dy) -> list:
    """The input gradients of a concatenation: dY's columns, split back."""
    rows = np.asarray(dy).reshape(outer, -1)
    bounds = np.cumsum([0, *inners])
    return [rows[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def leaky_relu_bwd_input_f32(alpha: float, x, dy):
    """dX = dY for x >= 0, alpha * dY below."""
    return np.where(np.asarray(x) >= 0, dy, alpha * dy)


def add_bwd_input_f32(dy):
    """Both addends receive the output gradient unchanged."""
    return dy, dy


def clamp_mask(y: np.ndarray, act_min: int, act_max: int) -> np.ndarray:
    """1 where the int8 output lies strictly inside the clamp range (gradient passes), else 0.

    Covers fused ReLU/ReLU6 (zero point -128 clamps at 0) and int8 saturation alike. Stored on
    the device as 1 bit per element (``pack_mask``).
    """
    y = np.asarray(y)
    return ((y > act_min) & (y < act_max)).astype(np.uint8)


def pack_mask(mask: np.ndarray) -> np.ndarray:
    """Element ``i`` goes to bit ``i % 8`` (LSB first) of byte ``i // 8``: the firmware's layout."""
    return np.packbits(np.asarray(mask, dtype=np.uint8).ravel(), bitorder="little")


def unpack_mask(packed: np.ndarray, shape) -> np.ndarray:
    n = int(np.prod(shape))
    return np.unpackbits(np.asarray(packed, dtype=np.uint8), count=n, bitorder="little").reshape(shape)
