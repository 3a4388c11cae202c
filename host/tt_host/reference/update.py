"""SGD with Quantization-Aware Scaling and stochastic rounding, bit-exact with
``tt_sgd_update_s8`` / ``tt_sgd_update_s32`` (see ``firmware/include/tt/kernels/sgd.h``).

One step moves an int8 weight by ``-lr * g * 2**e * s_x / s_W[o]`` quantization steps and an
int32 bias by ``-lr * g * 2**e / (s_W[o] * s_x)`` (the QAS-scaled gradients, expressed in the
integer gradients of ``backward_int``). The step is formed in Q16 fixed point with a single
rounding, clamped to the layer's bound (``Sgd.step_max_q16``: one sample never moves a
parameter further than that, however large its gradient), and then rounded stochastically,
``floor((u + r) / 2**16)`` with ``r`` the top 16 bits of a counter-based PRNG draw, so its
expectation is exactly ``u / 2**16``.

Why counter-based (``mix(mix(counter) ^ seed)``, lowbias32) rather than xorshift/PCG: draw
``i`` is a pure function of ``counter + i``, so numpy produces thousands of draws in one
vectorised expression and a test can jump to any position; the C costs two multiplies per draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from tt_protocol.frame import LR_SCALE_ONE as SCALE_ONE  # a learning-rate scale of 1 in Q16

from tt_host.reference.fixedpoint import quantize_multiplier, rounding_divide_by_pot, saturating_rounding_doubling_high_mul

FRAC_BITS = 16
STEP_MAX = 1 << 47
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _mix32(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.uint32).copy()
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


@dataclass
class Rng:
    """``tt_rng_t``: the same stream as the C; ``draw(n)`` advances the counter by ``n``."""

    seed: int
    counter: int = 0

    def draw(self, n: int) -> np.ndarray:
        idx = (np.arange(n, dtype=np.uint64) + np.uint64(self.counter)) & np.uint64(0xFFFFFFFF)
        self.counter = (self.counter + n) & 0xFFFFFFFF
        return _mix32(_mix32(idx.astype(np.uint32)) ^ np.uint32(self.seed & 0xFFFFFFFF))


@dataclass(frozen=True)
class Sgd:
    """``tt_sgd_t``: learning rate as a Q31 pair, momentum in Q15 (0 = plain SGD, the default),
    bound on one step in Q16 (0 = unbounded)."""

    lr_multiplier: int
    lr_shift: int
    momentum_q15: int = 0
    step_max_q16: int = 0

    @classmethod
    def of(cls, lr: float, momentum: float = 0.0) -> Sgd:
        m, s = quantize_multiplier(lr)
        mom = int(round(momentum * 32768))
        if not 0 <= mom <= 32767:
            raise ValueError("momentum must be in [0, 1)")
        return cls(m, s, mom)

    @property
    def lr(self) -> float:
        return self.lr_multiplier * 2.0 ** (self.lr_shift - 31)

    def scaled(self, scale_q16: int) -> Sgd:
        """``tt_sgd_scaled``: the rate times ``scale_q16 / 2**16`` (0..65536), renormalised to a
        multiplier in [2**30, 2**31) with one rounding (half up); scale 0 gives multiplier 0."""
        if not 0 <= scale_q16 <= SCALE_ONE:
            raise ValueError(f"a learning-rate scale is in [0, {SCALE_ONE}], not {scale_q16}")
        if scale_q16 == SCALE_ONE:
            return self
        if scale_q16 == 0 or self.lr_multiplier == 0:
            return replace(self, lr_multiplier=0)
        p = self.lr_multiplier * scale_q16
        k = p.bit_length() - 31
        m = (p + (1 << (k - 1))) >> k if k > 0 else p
        if m == 1 << 31:
            m, k = 1 << 30, k + 1
        return replace(self, lr_multiplier=m, lr_shift=self.lr_shift + k - 16)


@dataclass(frozen=True)
class Qas:
    """``tt_qas_t``: per-output-channel QAS factors as Q31 pairs."""

    multiplier: np.ndarray
    shift: np.ndarray
    real: np.ndarray = field(repr=False, default=None)  #: the float64 factors they approximate

    @classmethod
    def of(cls, factors) -> Qas:
        f = np.atleast_1d(np.asarray(factors, np.float64))
        pairs = [quantize_multiplier(v) for v in f]
        return cls(np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32), f)

    @classmethod
    def weights(cls, input_scale: float, weight_scales) -> Qas:
        """``s_x / s_W[o]``: QAS's ``s_W**-2`` applied to the int8 graph's weight gradient."""
        s_x = float(np.float32(input_scale))
        return cls.of(s_x / np.asarray(weight_scales, np.float32).astype(np.float64))

    @classmethod
    def biases(cls, input_scale: float, weight_scales) -> Qas:
        """``1 / (s_W[o] * s_x)``: QAS's ``(s_W * s_x)**-2`` applied to the int32-bias gradient."""
        s_x = float(np.float32(input_scale))
        return cls.of(1.0 / (np.asarray(weight_scales, np.float32).astype(np.float64) * s_x))


@dataclass(frozen=True)
class WeightSlice:
    """``tt_weight_slice_t``: which weights a gradient covers (see ``sgd.h``)."""

    out_c: int
    taps: int
    in_c: int
    channels: tuple[int, ...]
    depthwise: bool = False

    def qas_channel(self) -> np.ndarray:
        """QAS channel of every gradient element, in gradient order."""
        n = len(self.channels)
        if self.depthwise:
            return np.tile(np.asarray(self.channels, np.int64), self.taps)
        return np.repeat(np.arange(self.out_c, dtype=np.int64), self.taps * n)

    def weight_index(self) -> np.ndarray:
        """Flat index into the full weight tensor of every gradient element."""
        ch = np.asarray(self.channels, np.int64)
        outer = 1 if self.depthwise else self.out_c
        ot = np.arange(outer * self.taps, dtype=np.int64)
        return (ot[:, None] * self.in_c + ch[None, :]).ravel()


def step_q16(sgd: Sgd, qas: Qas, channel: np.ndarray, grad: np.ndarray, grad_exp: int) -> np.ndarray:
    """``tt_sgd_step_q16``: ``lr * qas[c] * g * 2**grad_exp`` in Q16, one rounding, saturated,
    then clamped to ``sgd.step_max_q16`` when it is set."""
    c = np.asarray(channel, np.int64)
    m = saturating_rounding_doubling_high_mul(np.int64(sgd.lr_multiplier), qas.multiplier.astype(np.int64)[c])
    sh = sgd.lr_shift + qas.shift.astype(np.int64)[c] + grad_exp + FRAC_BITS - 31
    prod = np.asarray(grad, np.int64) * m
    right = rounding_divide_by_pot(prod, np.clip(-sh, 0, 62))
    right = np.where(-sh > 62, 0, right)
    shl = np.clip(sh, 0, 46)
    lim = np.int64(STEP_MAX) >> shl
    left = np.where(np.abs(prod) > lim, np.sign(prod) * STEP_MAX, prod << shl)
    left = np.where(sh >= 47, np.sign(prod) * STEP_MAX, left)
    u = np.where(sh <= 0, right, left).astype(np.int64)
    return np.clip(u, -sgd.step_max_q16, sgd.step_max_q16) if sgd.step_max_q16 else u


def stochastic_round(sgd: Sgd, u: np.ndarray, rng: Rng, velocity: np.ndarray | None = None) -> np.ndarray:
    """``tt_sgd_round`` for a whole gradient: optional momentum, then ``floor((u + r) / 2**16)``.

    ``velocity`` (int32, updated in place) is used only when ``sgd.momentum_q15`` is non-zero.
    """
    u = np.asarray(u, np.int64)
    if velocity is not None and sgd.momentum_q15 != 0:
        v = rounding_divide_by_pot(velocity.astype(np.int64) * sgd.momentum_q15, 15) + u
        v = np.clip(v, INT32_MIN, INT32_MAX)
        velocity[...] = v.astype(np.int32).reshape(velocity.shape)
        u = v
    r = (rng.draw(u.size) >> np.uint32(16)).astype(np.int64).reshape(u.shape)
    return (u + r) >> FRAC_BITS


def sgd_update_s8(slice_: WeightSlice, sgd: Sgd, qas: Qas, grad: np.ndarray, grad_exp: int, rng: Rng,
                  weights: np.ndarray, velocity: np.ndarray | None = None) -> np.ndarray:
    """``tt_sgd_update_s8``: returns the updated int8 weights (a new array)."""
    g = np.asarray(grad).ravel()
    u = step_q16(sgd, qas, slice_.qas_channel(), g, grad_exp)
    return apply_steps_s8(slice_, stochastic_round(sgd, u, rng, velocity), weights)


def apply_steps_s8(slice_: WeightSlice, steps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, np.int8).copy()
    flat = w.reshape(-1)
    idx = slice_.weight_index()
    flat[idx] = np.clip(flat[idx].astype(np.int64) - steps, -127, 127).astype(np.int8)
    return w


def sgd_update_s32(sgd: Sgd, qas: Qas, grad: np.ndarray, grad_exp: int, rng: Rng, bias: np.ndarray,
                   velocity: np.ndarray | None = None) -> np.ndarray:
    """``tt_sgd_update_s32``: returns the updated int32 biases (a new array)."""
    g = np.asarray(grad).ravel()
    u = step_q16(sgd, qas, np.arange(g.size), g, grad_exp)
    steps = stochastic_round(sgd, u, rng, velocity)
    return np.clip(np.asarray(bias, np.int64) - steps, INT32_MIN, INT32_MAX).astype(np.int32)


def step_q16_from_real(steps_real: np.ndarray) -> np.ndarray:
    """Q16 steps from real-valued steps (the float-gradient path of the accuracy benchmark),
    rounded half away from zero and saturated like ``step_q16``."""
    s = np.asarray(steps_real, np.float64) * 2.0**FRAC_BITS
    u = np.sign(s) * np.floor(np.abs(s) + 0.5)
    return np.clip(u, -STEP_MAX, STEP_MAX).astype(np.int64)
