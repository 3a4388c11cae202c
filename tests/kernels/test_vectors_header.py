"""The committed C golden vectors are what the numpy reference generates today."""

from __future__ import annotations

from tt_host.reference import vectors


def test_kernel_vectors_header_is_up_to_date():
    assert vectors.HEADER.exists(), "run python -m tt_host.reference.vectors"
    assert vectors.HEADER.read_text() == vectors.render(), (
        f"{vectors.HEADER} is stale: regenerate with python -m tt_host.reference.vectors"
    )

