"""Every ctypes mirror in tt_host.native has the size of the C struct it mirrors, and the
executor's opaque state is allocated at the C size: a field added on one side only fails here
rather than corrupting memory in a kernel call."""

from __future__ import annotations

import ctypes
import inspect
import shutil

import pytest

pytestmark = pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("cc") is None,
                                reason="needs cmake and a host C compiler to build libtt (apt-get install cmake gcc)")


def test_every_mirror_is_listed_and_has_the_c_size():
    from tt_host import native

    native.load()
    defined = {cls for _, cls in inspect.getmembers(native, inspect.isclass)
               if issubclass(cls, ctypes.Structure) and cls.__module__.startswith(native.__name__)}
    assert defined == set(native.ABI_MIRRORS), "add new ctypes mirrors to native.ABI_MIRRORS"
    for mirror, c_name in native.ABI_MIRRORS.items():
        c_size = native.c_sizeof(c_name)
        assert c_size > 0, f"{c_name} is missing from firmware/tests/host_abi.c"
        assert ctypes.sizeof(mirror) == c_size, f"{mirror.__name__}: ctypes {ctypes.sizeof(mirror)} B, C {c_size} B"


def test_executor_state_is_allocated_at_its_c_size():
    from tt_host import native

    ex = native.Executor(1024)
    state = native.c_sizeof("tt_executor_t")
    assert state == ex.lib.tt_executor_state_bytes() > 0
    assert ctypes.sizeof(ex._state) >= state and ctypes.sizeof(ex._state) - state < 8
    assert native.c_sizeof("no_such_t") == 0
