"""The committed golden vectors of the fused/sparse-update kernels are what the numpy
reference generates today."""

from __future__ import annotations

from tt_host.reference import vectors_fused


def test_fused_vectors_header_is_up_to_date():
    assert vectors_fused.HEADER.exists(), "run python -m tt_host.reference.vectors_fused"
    assert vectors_fused.HEADER.read_text() == vectors_fused.render(), (
        f"{vectors_fused.HEADER} is stale: regenerate with python -m tt_host.reference.vectors_fused"
    )
