"""Softmax cross-entropy on dequantized int8 logits, bit-exact with ``tt_softmax_xent_s8``.

Why float32 and not fixed point: the vector is 10..1000 elements, the Cortex-M7 has a
single-precision FPU, and IEEE-754 float32 add/multiply/divide round identically everywhere
as long as the *order* of operations is fixed, nothing is fused (the C file is built with
``-ffp-contract=off``) and no library function is called. So exp and log are our own
(range reduction + polynomial, constants given as exact float32 hex values) and every step
below is written as the same float32 operation, in the same order, as in the C. The sum of
exponentials is sequential (``np.add.accumulate``, not numpy's pairwise ``sum``).

The gradient ``p - onehot(label)`` leaves as int16 values with an exponent chosen from its
exact maximum (the largest value has 15 significant bits), rounded half away from zero.
"""

from __future__ import annotations

import numpy as np

f32 = np.float32

LOG2E = f32(float.fromhex("0x1.715476p+0"))
LN2_HI = f32(float.fromhex("0x1.63p-1"))
LN2_LO = f32(float.fromhex("-0x1.bd0106p-13"))
SQRT2 = f32(float.fromhex("0x1.6a09e6p+0"))
EXP_POLY = [f32(float.fromhex(h)) for h in ("0x1.6c16c2p-10", "0x1.111112p-7", "0x1.555556p-5", "0x1.555556p-3")] + [
    f32(0.5), f32(1.0), f32(1.0)]
LOG_POLY = [f32(float.fromhex(h)) for h in ("0x1.c71c72p-3", "0x1.24924ap-2", "0x1.99999ap-2", "0x1.555556p-1")] + [
    f32(2.0)]
EXP_MIN = f32(-80.0)


def _pow2(k) -> np.ndarray:
    return ((np.atleast_1d(np.asarray(k, np.int64)) + 127).astype(np.uint32) << np.uint32(23)).view(np.float32)


def expf_neg(x) -> np.ndarray:
    """``tt_expf_neg``: exp(x) for float32 ``x <= 0`` (0 below -80), vectorised."""
    x = np.atleast_1d(np.asarray(x, np.float32))
    ok = x >= EXP_MIN
    xs = np.where(ok, x, f32(0))
    k = np.trunc(xs * LOG2E - f32(0.5)).astype(np.int32)
    kf = k.astype(np.float32)
    r = (xs - kf * LN2_HI) - kf * LN2_LO
    p = np.full_like(r, EXP_POLY[0])
    for c in EXP_POLY[1:]:
        p = p * r + c
    return np.where(ok, p * _pow2(k), f32(0)).astype(np.float32)


def logf_ge1(x) -> np.ndarray:
    """``tt_logf_ge1``: natural log for float32 ``x >= 1``, vectorised."""
    x = np.atleast_1d(np.asarray(x, np.float32))
    b = x.view(np.uint32)
    e = ((b >> np.uint32(23)) & np.uint32(0xFF)).astype(np.int32) - 127
    m = ((b & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)).view(np.float32)
    big = m > SQRT2
    m = np.where(big, m * f32(0.5), m)
    e = e + big.astype(np.int32)
    f = m - f32(1)
    s = f / (f32(2) + f)
    z = s * s
    p = np.full_like(z, LOG_POLY[0])
    for c in LOG_POLY[1:]:
        p = p * z + c
    ef = e.astype(np.float32)
    return (ef * LN2_HI + (s * p + ef * LN2_LO)).astype(np.float32)


def softmax_xent_s8(logits: np.ndarray, scale: float, zero_point: int, label: int) -> tuple[int, float, np.ndarray, int]:
    """``tt_softmax_xent_s8``: ``(predicted class, loss, int16 gradient, gradient exponent)``.

    ``zero_point`` cancels in ``z_i - z_max`` and is accepted only to mirror the C signature.
    """
    del zero_point
    q = np.asarray(logits, np.int8).ravel().astype(np.int32)
    arg = int(np.argmax(q))  # first maximum, as the C
    sc = f32(scale)
    x = sc * (q - q[arg]).astype(np.float32)
    e = expf_neg(x)
    total = np.add.accumulate(e, dtype=np.float32)[-1]
    loss = f32(logf_ge1(total)[0] - x[label])
    # p_label - 1 = -(sum of the other exponentials) / sum: no cancellation when confident.
    others = np.add.accumulate(np.where(np.arange(q.size) == label, f32(0), e), dtype=np.float32)[-1]
    g = e / total
    g[label] = -(others / total)
    gmax = np.abs(g).max()
    e2 = int((np.asarray(gmax, np.float32).view(np.uint32) >> np.uint32(23)) & np.uint32(0xFF)) - 126
    e2 = max(e2, -100)
    v = g * _pow2(15 - e2)[0]
    a = np.abs(v)
    qv = np.minimum(np.trunc(a + f32(0.5)), f32(32767)).astype(np.int32)
    return arg, float(loss), np.where(v < 0, -qv, qv).astype(np.int16), e2 - 15


def softmax_xent_f32(logits_real: np.ndarray, label: int) -> tuple[float, np.ndarray]:
    """Float reference (float64): ``(loss, dL/dlogits)`` for gradient checks and the float path."""
    z = np.asarray(logits_real, np.float64)
    e = np.exp(z - z.max())
    g = e / e.sum()
    loss = float(np.log(e.sum()) - (z[label] - z.max()))
    g[label] = -np.delete(e, label).sum() / e.sum()  # p - 1 without cancellation
    return loss, g
