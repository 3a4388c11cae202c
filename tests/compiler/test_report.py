"""compile_model and its report: the numbers a user sees, and the budget error."""

from __future__ import annotations

import json

import pytest
from tt_host.compiler import PlanBudgetExceeded, PlanOptions, compile_model
from tt_host.compiler import report as R
from tt_host.compiler.report import FIRMWARE_MEASURED, FirmwareFootprint

from .conftest import SCHEME_100KB, model_path

FW = FirmwareFootprint(5000, 8192, 6000, "test")

KEYS = ("peak_sram_bytes", "arena_bytes", "flash_bytes", "macs_forward", "macs_backward", "trainable_params", "scheme",
        "layers", "timeline", "breakdown")


def test_report_of_tiny_model(tiny_graph):
    c = compile_model(tiny_graph, "full", firmware=FW)
    r = c.report
    for key in KEYS:
        assert key in r
    json.dumps(r)  # JSON-ready
    assert r["peak_sram_bytes"] == r["arena_bytes"] + FW.sram
    assert r["planned_bytes"] == c.plan.peak
    assert r["arena_bytes"] == r["planned_bytes"] + r["exponent_table_bytes"]  # one int32 per gradient buffer
    assert r["flash_bytes"] > tiny_graph.param_bytes + FW.flash
    assert r["macs_forward"] == tiny_graph.macs
    # Full training: dX of every layer but the first conv, dW of every layer.
    first = tiny_graph.conv(0).macs
    assert r["macs_backward_input"] == tiny_graph.macs - first
    assert r["macs_backward_weight"] == tiny_graph.macs
    assert r["trainable_params"] == sum(layer.weight_count() + layer.out_channels for layer in tiny_graph.layers if layer.has_params)
    assert len(r["timeline"]) == r["n_ops"] == len(c.schedule.ops)
    assert max(row["high_water"] for row in r["timeline"]) == r["planned_bytes"]
    assert [row["name"] for row in r["layers"]] == [layer.name for layer in tiny_graph.layers]


def test_budget_error_names_budget_and_overflow(tiny_graph):
    need = compile_model(tiny_graph, "last-layer", firmware=FW).peak_sram_bytes
    compile_model(tiny_graph, "last-layer", budget=need, firmware=FW)
    with pytest.raises(PlanBudgetExceeded, match=rf"needs {need} bytes of SRAM .*over the budget of {need - 1} by 1; the smallest feasible budget .* is {need} bytes") as info:
        compile_model(tiny_graph, "last-layer", budget=need - 1, firmware=FW)
    assert info.value.exit_code == 8


def test_firmware_constants_add_up():
    assert FIRMWARE_MEASURED.sram == 16 + 4872 + 8192


@pytest.mark.parametrize("name", ["mbv2-w0.35"])
def test_shared_model_report(shared_dir, name):
    path = model_path(shared_dir, name)
    scheme = shared_dir / "schemes" / f"{SCHEME_100KB[name]}.json"
    layer = compile_model(path, scheme, classes=10, firmware=FW, options=PlanOptions.layer_by_layer()).report
    fused = compile_model(path, scheme, classes=10, firmware=FW,
                          options=PlanOptions.layer_by_layer(fuse_blocks="auto", inplace_kernels=True)).report
    assert fused["peak_sram_bytes"] < layer["peak_sram_bytes"]
    assert fused["fused_blocks"] and not layer["fused_blocks"]
    product = compile_model(path, scheme, classes=10, firmware=FW).report
    assert product["input"] == {"sample_bytes": 128 * 128 * 3, "buffer_bytes": 4 * 128 * 3, "streamed": True}
    assert layer["input"] == {"sample_bytes": 128 * 128 * 3, "buffer_bytes": 128 * 128 * 3, "streamed": False}
    assert product["peak_sram_bytes"] < fused["peak_sram_bytes"]
    assert any(line.startswith("sample 49,152 B: streamed through 1,536 B") for line in R.summary_lines(product))
    # Of the 8 blocks whose expansion trains on every input channel, those under the peak
    # rebuild their masks; the recompute is backward work, and nothing else is.
    n = len(product["recomputed_blocks"])
    assert 0 < n <= 8 and not fused["recomputed_blocks"]
    assert product["macs_backward"] - fused["macs_backward"] == product["macs_backward_recompute"] > 0
    assert any(line.startswith(f"masks of {n} blocks rebuilt in the backward") for line in R.summary_lines(product))
    assert layer["macs_forward"] == fused["macs_forward"] == 16_758_912 - 112 * 1000 + 112 * 10
    # README: the layer-by-layer peak is 245,760 bytes of activations, plus the kernel's scratch
    assert 245_760 <= layer["breakdown"]["forward_activation_peak"] <= 245_760 + 4096
