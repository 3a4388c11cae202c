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
from executors import assert_executors_agree

from tt_host.compiler import TrainParams, compile_model
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
    rng = np.random.default_rng(seed)
    samples = [(rng.integers(-128, 128, shape[1:]).astype(np.int8), step % 3) for step in range(3)]
    assert_executors_agree(compile_model(graph, "full", classes=3), TrainParams(seed=seed), samples)
