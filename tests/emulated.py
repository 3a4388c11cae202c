"""Helpers of the tests that talk to an emulated board (QEMU or the host twin) over its UART."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from tt_host.tooling.emulator import Emulator
from tt_host.link.session import DeviceSession
from tt_host.link.transport import SerialTransport


@contextmanager
def connected(emulator: Emulator, link_rates: Sequence[int] = (), packed: bool = True) -> Iterator[DeviceSession]:
    """A session with the emulated board, HELLO said (slow requests may take 30 s); with
    ``link_rates`` HELLO negotiates one of them, and the link returns to 115,200 at the end;
    ``packed`` False sends samples raw."""
    with SerialTransport(emulator.url) as transport:
        session = DeviceSession(transport, timeout=2.0, slow_timeout=30.0, link_rates=link_rates)
        session.packed_samples = packed
        session.hello()
        yield session
        session.restore_baud()


def measured(name: str, **values: object) -> None:
    """Print what a test measured, one JSON line (visible with ``pytest -s``)."""
    print(f"\nMEASURED {name}: {json.dumps(values, default=float)}")
