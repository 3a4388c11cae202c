"""SAMPLE_PACKED's compression: the Python encoder and decoder, and the C decoder (the host
build of the runtime, through ctypes) on arbitrary bytes, as a device receives them."""

from __future__ import annotations

import ctypes as C

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tt_protocol import packbits
from tt_protocol.frame import PACKED_MAX_STRIDE

from tt_host import native

GUARD = 32
STATUS_OK = 0

_SINK = C.CFUNCTYPE(None, C.c_void_p, C.POINTER(C.c_uint8), C.c_uint32)


@pytest.fixture(scope="module")
def lib():
    lib = native.load()
    lib.tt_packbits_check.restype = C.c_int
    lib.tt_packbits_check.argtypes = [C.c_char_p, C.c_uint32, C.POINTER(C.c_uint32), C.POINTER(C.c_uint32)]
    lib.tt_packbits_unpack.restype = C.c_uint32
    lib.tt_packbits_unpack.argtypes = [C.c_char_p, C.c_uint32, C.c_uint32, C.c_void_p, C.c_uint32, _SINK,
                                       C.c_void_p]
    return lib


# Byte streams that are mostly runs (so they decode to something), or anything at all.
_streams = st.one_of(
    st.binary(max_size=600),
    st.lists(st.one_of(st.tuples(st.integers(0x81, 0xFF), st.binary(min_size=1, max_size=1)),
                       st.binary(min_size=1, max_size=129).map(lambda b: (len(b) - 1, b))),
             max_size=20).map(lambda runs: b"".join(bytes([c]) + d for c, d in runs)),
)


@settings(max_examples=400, deadline=None)
@given(stream=_streams, stride=st.integers(0, PACKED_MAX_STRIDE + 3), cap=st.integers(1, 96))
def test_c_decoder_stays_in_its_buffer_and_agrees_with_the_model(lib, stream, stride, cap):
    buf = (C.c_uint8 * (GUARD + cap + GUARD))(*([0xA5] * (GUARD + cap + GUARD)))
    pieces: list[bytes] = []

    @_SINK
    def sink(ctx, data, n):
        assert 1 <= n <= cap
        pieces.append(C.string_at(data, n))

    total = lib.tt_packbits_unpack(stream, len(stream), stride, C.addressof(buf) + GUARD, cap, sink, None)
    assert all(b == 0xA5 for b in buf[:GUARD]) and all(b == 0xA5 for b in buf[GUARD + cap:])
    out = b"".join(pieces)
    assert total == len(out)
    decoded, bad_at = C.c_uint32(), C.c_uint32()
    status = lib.tt_packbits_check(stream, len(stream), C.byref(decoded), C.byref(bad_at))
    if stride > PACKED_MAX_STRIDE:
        assert total == 0
        return
    try:
        want = packbits.decode(stream)
    except packbits.PackedInvalid as exc:
        assert status != STATUS_OK and bad_at.value == exc.at
        return
    assert status == STATUS_OK and decoded.value == len(want)
    assert out == packbits.undelta(want, stride)


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=3000),
                      st.lists(st.tuples(st.integers(0, 255), st.integers(1, 300)), max_size=30)
                      .map(lambda runs: b"".join(bytes([v]) * n for v, n in runs))),
       budget=st.integers(2, 1100), stride=st.integers(0, 4))
def test_encode_fills_its_budget_and_round_trips(data, budget, stride):
    deltas = packbits.delta(data, stride)
    stream, n = packbits.encode(deltas, budget)
    assert len(stream) <= budget
    assert packbits.undelta(packbits.decode(stream), stride) == data[:n]
    if budget >= len(data) + (len(data) + 127) // 128:  # all literals fit
        assert n == len(data)
