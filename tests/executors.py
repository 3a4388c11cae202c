"""Test helper: one compiled plan stepped by the three executors that must agree bit for bit."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from tt_protocol.status import Status

from tt_host import native
from tt_host.compiler import TrainParams, serialize, simulate
from tt_host.compiler import deltas as D
from tt_host.compiler.blob import package


def assert_executors_agree(compiled, train: TrainParams, samples: Iterable[tuple[np.ndarray, int]]):
    """Train ``samples`` (image, label) on the C executor (the host build of the firmware's), the
    numpy executor of the packed plan and the numpy executor of the unplanned ops (separate
    arrays: no buffer sharing): every step is OK and all three agree on its loss and prediction
    and, after it, on every trained parameter. Returns the serialized blobs."""
    blobs = serialize(compiled.schedule, compiled.plan, train, compiled.scheme.name)
    ex = native.Executor(compiled.report["arena_bytes"])
    assert ex.load(package(blobs.plan, blobs.weights)) == (Status.OK, 0)
    planned, unplanned = simulate.planned(blobs.plan, blobs.weights), simulate.unplanned(compiled, train)
    for step, (x, label) in enumerate(samples):
        status, got = ex.step(x, label)
        want, alone = planned.step(x, label), unplanned.step(x, label)
        assert status == Status.OK, step
        assert (got.loss, got.predicted) == (np.float32(want.loss), want.predicted) == (np.float32(alone.loss),
                                                                                          alone.predicted), step
        image = D.parameters_from_image(blobs.plan, ex.params())
        for key, values in planned.parameters().items():
            np.testing.assert_array_equal(image[key], values, err_msg=f"{key} step {step}")
            np.testing.assert_array_equal(unplanned.parameters()[key], values, err_msg=f"{key} step {step}")
    return blobs
