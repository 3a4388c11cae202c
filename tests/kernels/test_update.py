"""SGD + QAS + stochastic rounding: the numerics, checked against their formulas.

* QAS: the Q16 step equals ``lr * s_W**-2 * dL/dW_int`` (in weight steps) and
  ``lr * s_b**-2 * dL/db_int`` for biases, within the Q31 rounding of the multipliers
  (relative 1e-8) plus half a Q16 unit.
* Stochastic rounding is unbiased: over N draws the mean step of a constant fractional update
  is within 5 standard errors (``5 * 0.5 / sqrt(N)``, plus the 2**-17 of the Q16 rounding) of the
  exact value, and a 0.3-step update moves a weight by 0.3 per step on average instead of 0
  (TTE truncates it away).
"""

from __future__ import annotations

import numpy as np
import pytest
from tt_host.reference import update as U


def test_qas_weight_step_matches_formula():
    rng = np.random.default_rng(3)
    s_x = 0.0235
    s_w = rng.uniform(1e-4, 2e-2, 6).astype(np.float32)
    lr = 0.0375
    qas, sgd = U.Qas.weights(s_x, s_w), U.Sgd.of(lr)
    g = rng.integers(-(2**24), 2**24, (6, 20)).astype(np.int32)
    e = -23
    # dL/dW_real = g * s_x * 2**e; dL/dW_int = s_W * dL/dW_real; QAS multiplies by s_W**-2.
    dl_dwint = s_w.astype(np.float64)[:, None] * g * np.float64(np.float32(s_x)) * 2.0**e
    want = lr * dl_dwint / s_w.astype(np.float64)[:, None] ** 2 * 2.0**U.FRAC_BITS
    u = U.step_q16(sgd, qas, np.repeat(np.arange(6), 20), g.ravel(), e).reshape(6, 20)
    np.testing.assert_allclose(u, want, rtol=1e-8, atol=0.5 + 1e-9)


def test_qas_bias_step_matches_formula():
    rng = np.random.default_rng(4)
    s_x = 0.0117
    s_w = rng.uniform(1e-4, 2e-2, 9).astype(np.float32)
    lr = 0.01
    qas, sgd = U.Qas.biases(s_x, s_w), U.Sgd.of(lr)
    g = rng.integers(-(2**28), 2**28, 9).astype(np.int32)
    e = -30
    s_b = s_w.astype(np.float64) * np.float64(np.float32(s_x))
    dl_dbint = s_b * g * 2.0**e  # dL/db_real = g * 2**e
    want = lr * dl_dbint / s_b**2 * 2.0**U.FRAC_BITS
    u = U.step_q16(sgd, qas, np.arange(9), g, e)
    np.testing.assert_allclose(u, want, rtol=1e-8, atol=0.5 + 1e-9)


@pytest.mark.parametrize("frac", [0.3, -0.3, 0.01, 1.75, -2.5])
def test_stochastic_rounding_unbiased(frac):
    n = 200_000
    u = np.full(n, int(round(frac * 2**U.FRAC_BITS)), np.int64)
    steps = U.stochastic_round(U.Sgd.of(0.1), u, U.Rng(2024))
    exact = u[0] / 2**U.FRAC_BITS
    assert set(np.unique(steps)) <= {np.floor(exact), np.floor(exact) + 1}
    assert abs(steps.mean() - exact) <= 5 * 0.5 / np.sqrt(n) + 2.0**-17


def test_sub_step_updates_do_not_vanish():
    """Weights receiving a +-0.3-step update 300 times move by ~90 steps (truncation: by 0)."""
    sl = U.WeightSlice(1, 1, 4, (0, 2))
    qas, sgd = U.Qas.of([1.0]), U.Sgd.of(0.3)
    rng = U.Rng(7)
    w = np.zeros((1, 1, 4), np.int8)
    w[0, 0, 2] = 100
    moved = []
    for _ in range(300):
        before = w.copy()
        w = U.sgd_update_s8(sl, sgd, qas, np.array([[-(2**16)], [2**16]], np.int32).reshape(1, 1, 2), -16, rng, w)
        moved.append((w.astype(int) - before.astype(int)).reshape(-1)[[0, 2]])
    moved = np.array(moved)
    # Channel 0 is pushed up (negative gradient), channel 2 down; each by 0.3 per step on average.
    assert abs(moved[:, 0].mean() - 0.3) < 0.08 and abs(moved[:, 1].mean() + 0.3) < 0.08
    assert w.reshape(-1)[1] == 0 and w.reshape(-1)[3] == 0  # untrained channels untouched
    # Truncation (TTE) would have left both at their initial values.
    assert int(w.reshape(-1)[0]) > 50


def test_saturation():
    sl = U.WeightSlice(2, 1, 1, (0,))
    w = np.array([120, -120], np.int8).reshape(2, 1, 1)
    out = U.sgd_update_s8(sl, U.Sgd.of(1.0), U.Qas.of([1.0, 1.0]), np.array([-100, 100], np.int32), 16, U.Rng(1), w)
    assert out.ravel().tolist() == [127, -127]  # symmetric int8 range
    b = U.sgd_update_s32(U.Sgd.of(1.0), U.Qas.of([1.0]), np.array([-(2**30)], np.int32), 30, U.Rng(1),
                         np.array([2**31 - 10], np.int32))
    assert b.tolist() == [2**31 - 1]


def test_momentum_accumulates():
    sgd = U.Sgd.of(0.25, momentum=0.5)
    vel = np.zeros(1, np.int32)
    rng = U.Rng(3)
    for _ in range(30):
        U.stochastic_round(sgd, np.array([1 << 16]), rng, vel)
    # v -> u / (1 - mu) = 2 steps in Q16.
    assert abs(int(vel[0]) - (2 << 16)) <= 4
