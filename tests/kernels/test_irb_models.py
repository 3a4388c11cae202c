"""The fused inverted bottleneck on every block of the shared models: bit-exact with the
layer-by-layer reference on real weights and activations, and the memory it saves.

The numbers asserted here are the ones quoted in firmware/include/tt/kernels/irb.h."""

from __future__ import annotations

import numpy as np
import pytest
from tt_host.reference import fused as Fz
from tt_host.reference import graph

from .conftest import MODEL_NAMES


def _block_memory(native, geom: Fz.IrbGeom) -> dict[str, int]:
    d = geom.dw
    n_in, n_out = int(np.prod(geom.in_shape)), int(np.prod(geom.out_shape))
    e_in, e_out = d.in_h * d.in_w * d.in_c, d.out_h * d.out_w * d.in_c
    skip = n_in if geom.residual else 0
    unfused = max(n_in + e_in if geom.has_expand else 0, e_in + e_out + skip, e_out + n_out + skip)
    alias = native.irb_can_alias(geom)
    row = (max(n_in, n_out) if alias else n_in + n_out) + native.irb_fwd_s8_scratch_size(geom)
    channel = max(n_in, n_out) + geom.channel_streamed_scratch()
    return {"unfused": unfused, "row": row, "channel": channel, "alias": int(alias)}


@pytest.fixture(scope="module")
def model_blocks(models_dir):
    from tt_host.tflite import load

    out = {}
    for name in MODEL_NAMES:
        model = load(models_dir / f"{name}-int8.tflite")
        steps = graph.lower(model)
        out[name] = (model, steps, Fz.inverted_bottlenecks(steps))
    return out


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fused_blocks_match_the_layer_by_layer_forward(native, model_blocks, name):
    model, steps, blocks = model_blocks[name]
    x = np.random.default_rng(5).integers(-128, 128, model.tensors[model.inputs[0]].shape, dtype=np.int8)
    tensors = graph.run(model, x, steps=steps)
    for b in blocks:
        xin = tensors[b.input].reshape(b.geom.in_shape)
        want = tensors[b.output].reshape(b.geom.out_shape)
        np.testing.assert_array_equal(native.irb_fwd_s8(b.geom, b.quant, xin, b.weights), want)
        if native.irb_can_alias(b.geom):
            np.testing.assert_array_equal(native.irb_fwd_s8(b.geom, b.quant, xin, b.weights, alias=True), want)
        if b.input == model.inputs[0]:  # the stem block: what a streamed sample runs through
            span = native.irb_rows_span(b.geom)  # 4: the first output row reads expanded rows 0-1, input rows 0-3
            assert span <= 4, f"{name}: {span} input rows"
            np.testing.assert_array_equal(native.irb_fwd_s8_streamed(b.geom, b.quant, xin, b.weights, [1000]), want)


def test_fused_block_memory(native, model_blocks):
    counts = {name: len(blocks) for name, (_, _, blocks) in model_blocks.items()}
    assert counts == {"mcunet-5fps": 14, "mbv2-w0.35": 17, "proxyless-w0.3": 20}
    mem = [_block_memory(native, b.geom) for _, _, blocks in model_blocks.values() for b in blocks]
    worst = {k: max(m[k] for m in mem) for k in ("unfused", "row", "channel")}
    # row: 48 KB input + 5.7 KB scratch on the stem + first block, 1.7 KB of which is the
    # depthwise kernel's int16 ring and weight tables (tt_dw_conv2d_fwd_s8_scratch_size(), its
    # Cortex-M7 path).
    assert worst == {"unfused": 245760, "row": 54976, "channel": 188416}
    assert sum(m["alias"] for m in mem) == 45
    # The row-streamed variant is the smaller one wherever a block is large.
    for m in mem:
        if m["unfused"] >= 32768:
            assert m["row"] < m["channel"]
        assert m["row"] < m["unfused"]
