"""Random small models (tests/kernels/tflite_builder.py: every supported operator, chained
differently per seed: standalone RELU / RELU6 / QUANTIZE, hard swish, squeeze-excite MULs, max
and average pools, MEAN, padded depthwise, residual ADD) compiled with every layer trained: the
C executor, the numpy executor of the packed plan and the numpy executor of the unplanned ops
agree on every step's loss and every parameter. A depthwise convolution with depth multiplier 2
(a third of the seeds) runs in the reference but has no plan kernel yet: those models are
refused at import with exit code 2 naming the operator. Their forward against TFLite Micro:
tests/kernels/test_random_models_tflm.py."""

from __future__ import annotations

import numpy as np
import pytest
from tt_protocol.status import Status

from tt_host import native
from tt_host.compiler import TrainParams, compile_model, serialize, simulate
from tt_host.compiler import deltas as D
from tt_host.compiler.blob import package
from tt_host.compiler.errors import UnsupportedOperator
from tt_host.compiler.ir import import_model
from tt_host.tflite import load

from kernels.tflite_builder import random_model


@pytest.mark.parametrize("seed", range(30))
def test_random_model_trains_bit_exact(seed):
    buf, shape = random_model(seed)
    model = load(buf)
    if any(op.options.get("depth_multiplier", 1) > 1 for op in model.operators):
        with pytest.raises(UnsupportedOperator, match=r"DEPTHWISE_CONV_2D \(depth multiplier 2") as err:
            import_model(model, f"random{seed}")
        assert err.value.exit_code == 2
        return
    graph = import_model(model, f"random{seed}")
    compiled = compile_model(graph, "full", classes=3)
    train = TrainParams(seed=seed)
    blobs = serialize(compiled.schedule, compiled.plan, train, "random")
    ex = native.Executor(compiled.report["arena_bytes"])
    assert ex.load(package(blobs.plan, blobs.weights)) == (Status.OK, 0)
    planned, unplanned = simulate.planned(blobs.plan, blobs.weights), simulate.unplanned(compiled, train)
    rng = np.random.default_rng(seed)
    for step in range(3):
        x = rng.integers(-128, 128, shape[1:]).astype(np.int8)
        status, got = ex.step(x, step % 3)
        want, alone = planned.step(x, step % 3), unplanned.step(x, step % 3)
        assert status == Status.OK
        assert (got.loss, got.predicted) == (np.float32(want.loss), want.predicted) == (np.float32(alone.loss),
                                                                                          alone.predicted)
        image = D.parameters_from_image(blobs.plan, ex.params())
        for key, values in planned.parameters().items():
            np.testing.assert_array_equal(image[key], values, err_msg=f"{key} step {step}")
            np.testing.assert_array_equal(unplanned.parameters()[key], values, err_msg=f"{key} step {step}")
