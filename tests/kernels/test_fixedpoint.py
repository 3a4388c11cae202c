"""TFLite's fixed-point helpers on their edge cases (saturation, ties, flush to zero)."""

from __future__ import annotations

import numpy as np
from tt_host.reference.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)


def test_fixedpoint_edge_cases():
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    # Ties round away from zero in both steps.
    assert rounding_divide_by_pot(np.array([5, -5, 6, -6, 7, -7]), 1).tolist() == [3, -3, 3, -3, 4, -4]
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(2.0**-40) == (0, 0)
    m, s = quantize_multiplier(0.0078431377 * 0.01 / 0.05)
    assert 1 << 30 <= m < 1 << 31 and abs(m * 2.0 ** (s - 31) - 0.0078431377 * 0.01 / 0.05) < 1e-9
