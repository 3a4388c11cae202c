"""The protocol spec in Python: COBS, frames, the streaming decoder, the device's rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tt_protocol import cobs, vectors
from tt_protocol.frame import (
    MAX_FRAME_BYTES,
    MAX_PAYLOAD,
    SEQ_UNKNOWN,
    ErrorPayload,
    FrameError,
    Opcode,
    encode_frame,
    parse_frame,
    to_wire,
)
from tt_protocol.responder import Responder
from tt_protocol.status import FRAMING_STATUSES, Status, exit_code
from tt_protocol.stream import FrameDecoder, FrameEvent


@given(st.binary(max_size=2000))
def test_cobs_round_trip_has_no_zeros(data):
    encoded = cobs.encode(data)
    assert 0 not in encoded
    assert len(encoded) <= cobs.encoded_size_max(len(data))
    assert cobs.decode(encoded) == data


@pytest.mark.parametrize("bad", [b"\x05ab", b"\x02a\x00", b"\x00"])
def test_cobs_rejects_malformed(bad):
    with pytest.raises(cobs.CobsError):
        cobs.decode(bad)


@given(st.integers(0, 0x7F), st.integers(0, 0xFFFE), st.binary(max_size=MAX_PAYLOAD))
def test_frame_round_trip_through_stream_decoder(opcode, seq, payload):
    frame = encode_frame(opcode, seq, payload)
    events = list(FrameDecoder().feed(to_wire(frame)))
    assert events == [FrameEvent(Status.OK, frame)]
    parsed = parse_frame(frame)
    assert (parsed.body.value.header.opcode, parsed.body.value.header.seq) == (opcode, seq)
    assert parsed.body.value.payload == payload


@given(st.binary(max_size=3 * MAX_FRAME_BYTES))
def test_stream_decoder_survives_any_bytes(noise):
    """Garbage never crashes the decoder, and a valid frame right after it decodes."""
    decoder = FrameDecoder()
    list(decoder.feed(noise))
    frame = encode_frame(Opcode.PING, 1, b"ok")
    assert list(decoder.feed(to_wire(frame)))[-1] == FrameEvent(Status.OK, frame)


def test_parse_frame_names_each_failure():
    frame = encode_frame(Opcode.PING, 3, b"abc")
    with pytest.raises(FrameError) as err:
        parse_frame(frame[:-1] + bytes([frame[-1] ^ 1]))
    assert err.value.status == Status.BAD_CRC
    with pytest.raises(FrameError) as err:
        parse_frame(frame[:5])
    assert err.value.status == Status.TRUNCATED
    with pytest.raises(FrameError) as err:
        parse_frame(encode_frame(Opcode.PING, 3, bytes(MAX_PAYLOAD + 1)))
    assert err.value.status == Status.TOO_LARGE


def _answers(wire: bytes) -> list:
    responder = Responder(vectors.VECTOR_BOARD)
    return [parse_frame(ev.frame).body.value for ev in FrameDecoder().feed(responder.feed(wire))]


def test_responder_answers_framing_errors_with_unknown_seq():
    frame = encode_frame(Opcode.PING, 7, b"x")
    [answer] = _answers(to_wire(frame[:-1] + b"\x00"))
    assert answer.header.opcode == Opcode.ERROR and answer.header.seq == SEQ_UNKNOWN
    assert ErrorPayload.parse(answer.payload).status in FRAMING_STATUSES


def test_responder_names_the_unknown_opcode():
    [answer] = _answers(to_wire(encode_frame(0x42, 5)))
    error = ErrorPayload.parse(answer.payload)
    assert (answer.header.seq, error.status, error.opcode) == (5, Status.UNKNOWN_OPCODE, 0x42)


def test_every_vector_answers_every_frame():
    """Each vector's input frames (non-empty) get exactly one answer each."""
    for vec in vectors.all_vectors():
        n_in = sum(1 for _ in FrameDecoder().feed(vec.wire_in))
        n_out = sum(1 for _ in FrameDecoder().feed(vec.wire_out))
        assert n_in == n_out, vec.name


def test_status_exit_codes_are_distinct_and_documented_range():
    codes = [exit_code(s) for s in Status]
    assert exit_code(Status.OK) == 0
    assert len(set(codes)) == len(codes)
    assert all(64 <= c < 128 for c in codes if c)


def test_protocol_errors_join_the_one_tree_with_their_exit_codes() -> None:
    """A malformed frame or COBS stream exits 9 (as ProtocolError), an invalid plan file 2 (as
    UsageError), a planner bug 1: the CLI's ``except TtError`` reports each with its code."""
    from tt_host.compiler import PlanError
    from tt_host.errors import ProtocolError, TtError, UsageError
    from tt_protocol import cobs, frame
    from tt_protocol import plan as P

    for error, code in ((cobs.CobsError("x"), ProtocolError.exit_code), (frame.FrameError(1, "x"), ProtocolError.exit_code),
                        (P.PlanInvalid(P.Check.BAD_MAGIC, "x"), UsageError.exit_code), (PlanError("x"), 1)):
        assert isinstance(error, TtError) and error.exit_code == code, type(error).__name__
    assert isinstance(cobs.CobsError("x"), ValueError)  # callers catching ValueError still do
    with pytest.raises(P.PlanInvalid):
        P.validate(b"not a plan")
