"""Integer backward pass, prototype of what the C kernels will compute (numpy only so far).

Gradient representation (chosen for the Cortex-M7 and the 256 KB budget):

* A gradient tensor is **int16 values with one power-of-two exponent per tensor**
  (``real = value * 2**exp``), block floating point. int16 because SMLAD multiplies 16x16
  pairs at the same speed as widened int8, so 16-bit gradients cost no MAC throughput over
  int8 while keeping ~12 significant bits instead of ~7; half the bytes of float32 in the
  arena. A power-of-two exponent makes rescaling a shift and keeps the per-op integer
  constants (weight-scale multipliers) fixed at compile time.
* Values are aimed at ``|g| <= 2**12`` (``TARGET_BITS``), leaving 3 bits of headroom below
  int16 saturation, so the exponent can be chosen *before* the tensor is computed: on the
  device from the previous training step's observed maximum (the kernel reports it), as in
  dynamic loss scaling; saturation is counted, never wraps. The numpy reference picks the
  exponent from the exact accumulator maximum (``exp_for``), the ideal the device approaches.
* Per-output-channel weight scales are folded into dY first: ``dY'[o] = dY[o] * s_W[o]/S``
  (``S = max s_W``, a Q31 multiplier <= 1 per channel, round half away from zero), then the
  transposed op accumulates ``W_int8 * dY'_int16`` exactly in int32 (products < 2**22) and one
  per-tensor multiplier ``S * 2**(e_dY - e_dX)`` requantizes to int16.
* Weight gradients accumulate ``dY_int16 * (x_int8 - zp)`` in int64 (SMLALD on the M7) over
  the kernel's positions: ``dW_real = acc * s_x * 2**e_dY``. Bias gradients are the int64 sum
  of dY: ``db_real = acc * 2**e_dY``. The QAS update consumes these accumulators directly.
* The clamp / ReLU backward multiplies by the saved 1-bit mask (``backward.clamp_mask``);
  ADD passes dY to both inputs unchanged; average pooling divides by the window count with
  a Q31 multiplier.

Accuracy against the float reference is measured in tests/kernels/test_backward_int.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tt_host.reference import backward as F
from tt_host.reference.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from tt_host.reference.params import ConvGeom

TARGET_BITS = 12
INT16_MIN, INT16_MAX = -32768, 32767


@dataclass(frozen=True)
class Grad:
    """int16 gradient values with a per-tensor power-of-two exponent."""

    values: np.ndarray  #: int16
    exp: int

    def to_float(self) -> np.ndarray:
        return self.values.astype(np.float64) * 2.0**self.exp

    @classmethod
    def from_float(cls, x: np.ndarray, bits: int = TARGET_BITS) -> Grad:
        e = exp_for(float(np.abs(x).max()), bits)
        v = np.clip(np.round(np.asarray(x, np.float64) / 2.0**e), INT16_MIN, INT16_MAX)
        return cls(v.astype(np.int16), e)


def exp_for(max_abs_real: float, bits: int = TARGET_BITS) -> int:
    """Smallest exponent with ``max_abs_real / 2**exp <= 2**bits``."""
    if max_abs_real <= 0:
        return -30
    return math.ceil(math.log2(max_abs_real / 2.0**bits))


def _sat16(v: np.ndarray) -> np.ndarray:
    return np.clip(v, INT16_MIN, INT16_MAX).astype(np.int16)


def prescale(dy: Grad, weight_scales: np.ndarray) -> tuple[np.ndarray, float]:
    """Fold per-channel weight scales into dY: returns (int16 dY', S) with real dY'*S == dY*s_W."""
    s = np.asarray(weight_scales, np.float64)
    big = float(s.max())
    pairs = [quantize_multiplier(v / big) for v in s]
    mult = np.array([m for m, _ in pairs], np.int64)
    shift = np.array([sh for _, sh in pairs], np.int64)
    # dY is shifted up 16 bits first so the high multiply keeps 16 fraction bits and the
    # final rounding shift is the only significant rounding (error <= 0.5 + 2**-16 LSB).
    return _sat16(multiply_by_quantized_multiplier(dy.values.astype(np.int64) << 16, mult, shift - 16)), big


def _requant_out(acc: np.ndarray, real_per_unit: float, exp_out: int | None) -> Grad:
    if exp_out is None:
        exp_out = exp_for(float(np.abs(acc).max()) * real_per_unit)
    m, sh = quantize_multiplier(real_per_unit / 2.0**exp_out)
    return Grad(_sat16(multiply_by_quantized_multiplier(acc, m, sh)), exp_out)


def conv2d_bwd_input_s16(geom: ConvGeom, w: np.ndarray, weight_scales, dy: Grad, exp_out: int | None = None) -> Grad:
    """dX of a general/pointwise convolution: transposed conv of the prescaled dY with int8 OHWI weights."""
    dyp, big = prescale(dy, weight_scales)
    acc = F.conv2d_bwd_input_f32(geom, w.astype(np.float64), dyp.astype(np.float64))  # exact integers
    return _requant_out(acc.astype(np.int64), big * 2.0**dy.exp, exp_out)


def dw_conv2d_bwd_input_s16(geom: ConvGeom, w: np.ndarray, weight_scales, dy: Grad, exp_out: int | None = None) -> Grad:
    dyp, big = prescale(dy, weight_scales)
    acc = F.dw_conv2d_bwd_input_f32(geom, w.astype(np.int64), dyp.astype(np.int64))
    return _requant_out(acc, big * 2.0**dy.exp, exp_out)


def fc_bwd_input_s16(w: np.ndarray, weight_scales, dy: Grad, exp_out: int | None = None) -> Grad:
    dyp, big = prescale(dy, weight_scales)
    acc = dyp.astype(np.int64) @ w.astype(np.int64)
    return _requant_out(acc, big * 2.0**dy.exp, exp_out)


def avgpool_bwd_input_s16(geom: ConvGeom, dy: Grad) -> Grad:
    """Same exponent as dY; each share is dY / count (count known per output position)."""
    dx = F.avgpool_bwd_input_f32(geom, dy.values.astype(np.float64))
    return Grad(_sat16(np.sign(dx) * np.floor(np.abs(dx) + 0.5)), dy.exp)


def mask_bwd_s16(dy: Grad, mask: np.ndarray) -> Grad:
    """Clamp/ReLU backward through the saved 1-bit mask (unpacked here)."""
    return Grad((dy.values * mask.astype(np.int16)).astype(np.int16), dy.exp)


def conv2d_bwd_weight_acc(geom: ConvGeom, x: np.ndarray, input_zp: int, dy: Grad, channels=None) -> np.ndarray:
    """int64 weight-gradient accumulator: dW_real = acc * s_x * 2**dy.exp."""
    xc = x.astype(np.int64) - input_zp
    return F.conv2d_bwd_weight_f32(geom, xc, dy.values.astype(np.int64), channels)


def dw_conv2d_bwd_weight_acc(geom: ConvGeom, x: np.ndarray, input_zp: int, dy: Grad, channels=None) -> np.ndarray:
    xc = x.astype(np.int64) - input_zp
    return F.dw_conv2d_bwd_weight_f32(geom, xc, dy.values.astype(np.int64), channels)


def fc_bwd_weight_acc(x: np.ndarray, input_zp: int, dy: Grad, channels=None) -> np.ndarray:
    return F.fc_bwd_weight_f32(x.astype(np.int64) - input_zp, dy.values.astype(np.int64), channels)


def bias_grad_acc(dy: Grad) -> np.ndarray:
    """int64 bias-gradient accumulator: db_real = acc * 2**dy.exp."""
    return dy.values.reshape(-1, dy.values.shape[-1]).astype(np.int64).sum(axis=0)
