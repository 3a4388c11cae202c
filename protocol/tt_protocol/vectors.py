"""Golden protocol vectors: wire bytes sent to a fresh device and the exact bytes it answers.

Written once here, checked against the Python :class:`~tt_protocol.responder.Responder`
and generated into ``firmware/tests/protocol_vectors.h`` for the C tests, so the firmware,
the Python model and these expectations cannot disagree silently.
"""

from __future__ import annotations

import dataclasses
import random

from . import cobs
from . import plan as P
from .frame import (
    DELIMITER,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    LoadBeginPayload,
    LoadChunkHeader,
    LoadFlag,
    Opcode,
    ProfileFlag,
    ProfilePayload,
    PullPayload,
    SampleDataHeader,
    SampleFlag,
    SamplePackedHeader,
    SetBaudPayload,
    SampleRunPayload,
    crc32,
    encode_frame,
    to_wire,
)
from .responder import MODEL_AREA_BYTES, BoardIdentity, Responder

VECTOR_BOARD = BoardIdentity(
    name="vector-board", sram_bytes=327680, flash_bytes=1048576, arena_bytes=229376, core_clock_hz=216000000,
    tick_hz=1_000_000,
)

#: Model hashes of the vectors' packages.
MODEL_A = bytes(range(0xA0, 0xC0))
MODEL_B = bytes(range(0xB0, 0xD0))


def tiny_package(model_hash: bytes, n_classes: int = 4, seed: int = 7) -> bytes:
    """The smallest package the executor runs: the sample (1x1xn_classes int8) is the logits,
    LOSS is the only step op, nothing trains (the parameter image is the PRNG counter alone).
    Built here from the format, so the vectors depend on no compiler."""
    C = n_classes
    weights = bytes(P.seal(bytearray(P.WeightsHeader.build(dict(
        version=P.FORMAT_VERSION, header_bytes=P.WEIGHTS_HEADER_BYTES, total_bytes=0, crc32=0,
        model_hash=model_hash, n_tensors=0, table_offset=P.WEIGHTS_HEADER_BYTES,
        data_offset=P.WEIGHTS_HEADER_BYTES)))))
    grad_at, input_at = 0, P.align(2 * C)
    exp_at = input_at + P.align(C)
    buffers = b"".join(P.BufferRecord.build(b) for b in (
        dict(offset=grad_at, size=2 * C, dtype=P.DType.INT16, kind=P.BufferKind.GRAD, layer=P.NONE16),
        dict(offset=input_at, size=C, dtype=P.DType.INT8, kind=P.BufferKind.INPUT, layer=P.NONE16)))
    none4, none3 = [P.NONE16] * 4, [P.NONE16] * 3
    ops = P.OpRecord.build(dict(kind=P.OpKind.INPUT, phase=P.Phase.FORWARD, flags=0, layer=P.NONE16,
                                scratch=P.NONE16, ins=none4, outs=[1] + none3[1:], params=P.NONE32))
    ops += P.OpRecord.build(dict(kind=P.OpKind.LOSS, phase=P.Phase.BACKWARD, flags=0, layer=P.NONE16,
                                 scratch=P.NONE16, ins=[1] + none4[1:], outs=[0] + none3[1:], params=0))
    pool = P.LossBlock.build(dict(header=dict(type=P.ParamType.LOSS, kind=0, bytes=P.LossBlock.sizeof()),
                                  n_classes=C, scale=0.125, zero_point=0))
    H = P.PLAN_HEADER_BYTES
    buffer_at, op_at = H, H + len(buffers)
    pool_at = op_at + len(ops)
    end = pool_at + len(pool)
    header = P.PlanHeader.build(dict(
        version=P.FORMAT_VERSION, header_bytes=H, total_bytes=0, crc32=0, model_hash=model_hash,
        plan_hash=bytes(32), weights_bytes=len(weights), weights_crc32=int.from_bytes(weights[12:16], "little"),
        arena_bytes=exp_at + 4, exp_table_offset=exp_at, n_exp_slots=1, n_buffers=2, n_ops=2, n_classes=C,
        n_labels=0, input_buffer=1, buffer_table_offset=buffer_at, op_table_offset=op_at, param_pool_offset=pool_at,
        param_pool_bytes=len(pool), label_table_offset=end, label_bytes=0, input_h=1, input_w=1, input_c=C,
        logits_buffer=1, input_scale=0.125, input_zp=0, seed=seed, lr_multiplier=1 << 30, lr_shift=-10,
        momentum_q15=0, lr=2.0 ** -11, trainable_params=0, scheme_name=P.name_bytes("vectors"),
        head_lr_multiplier=1 << 30, head_lr_shift=-10, head_lr=2.0 ** -11, diverge_after=0))
    plan = bytearray(header + buffers + ops + pool)
    P.seal(plan)
    plan[48:80] = P.plan_hash(bytes(plan), weights)
    P.seal(plan)
    return bytes(plan) + weights


@dataclasses.dataclass(frozen=True)
class ProtocolVector:
    name: str
    description: str
    wire_in: bytes
    wire_out: bytes


def _ping(seq: int, payload: bytes = b"") -> bytes:
    return to_wire(encode_frame(Opcode.PING, seq, payload))


def _begin(seq: int, package: bytes, crc: int | None = None, flags: int = 0, model: bytes | None = None) -> bytes:
    """LOAD_BEGIN announcing ``package``; its model hash is the package's plan header's unless
    ``model`` says otherwise (zeros for packages too short to have one)."""
    if model is None:
        model = package[16:48] if len(package) >= P.PLAN_HEADER_BYTES else bytes(32)
    payload = LoadBeginPayload.build(dict(total_bytes=len(package), crc32=crc32(package) if crc is None else crc,
                                          flags=flags, model_hash=model))
    return to_wire(encode_frame(Opcode.LOAD_BEGIN, seq, payload))


def _upload(seq: int, package: bytes, **begin) -> bytes:
    """A whole transfer in LOAD_CHUNKs of up to 512 bytes; uses ``seq`` .. ``seq + n + 1``."""
    chunks = [package[i:i + 512] for i in range(0, len(package), 512)]
    wire = _begin(seq, package, **begin)
    for k, data in enumerate(chunks):
        wire += _chunk(seq + 1 + k, 512 * k, data)
    return wire + _end(seq + 1 + len(chunks))


def _request(opcode: int, seq: int, payload: bytes = b"") -> bytes:
    return to_wire(encode_frame(opcode, seq, payload))


def _chunk(seq: int, offset: int, data: bytes) -> bytes:
    return to_wire(encode_frame(Opcode.LOAD_CHUNK, seq, LoadChunkHeader.build(dict(offset=offset)) + data))


def _end(seq: int, payload: bytes = b"") -> bytes:
    return to_wire(encode_frame(Opcode.LOAD_END, seq, payload))


def _upload_inputs() -> list[tuple[str, str, bytes]]:
    pkg = bytes(range(1, 11))  # 10 bytes: two word chunks would leave a 2-byte tail
    other = b"another package!"
    huge = LoadBeginPayload.build(dict(total_bytes=MODEL_AREA_BYTES + 1, crc32=0, flags=0, model_hash=bytes(32)))
    return [
        ("upload", "begin, two chunks (the last ends mid-word), end",
         _begin(30, pkg) + _chunk(31, 0, pkg[:8]) + _chunk(32, 8, pkg[8:]) + _end(33)),
        ("upload_resume", "beginning the same package again resumes it",
         _begin(34, pkg) + _chunk(35, 0, pkg[:8]) + _begin(36, pkg) + _chunk(37, 8, pkg[8:]) + _end(38)),
        ("upload_restart", "beginning another package starts over",
         _begin(39, pkg) + _chunk(40, 0, pkg[:8]) + _begin(41, other) + _chunk(42, 8, other[:8])),
        ("upload_out_of_order", "a chunk past the next expected byte", _begin(43, pkg) + _chunk(44, 4, pkg[4:8])),
        ("upload_unaligned", "a chunk that is not a word multiple and not the last",
         _begin(45, pkg) + _chunk(46, 0, pkg[:6])),
        ("upload_overrun", "a chunk beyond the announced size", _begin(47, pkg) + _chunk(48, 0, pkg + b"xx")),
        ("upload_no_transfer", "chunk and end before any begin", _chunk(49, 0, pkg[:4]) + _end(50)),
        ("upload_no_space", "a package larger than the model area",
         to_wire(encode_frame(Opcode.LOAD_BEGIN, 51, huge))),
        ("upload_corrupt", "the stored bytes do not match the announced CRC; the transfer is abandoned",
         _begin(52, pkg, crc=0x12345678) + _chunk(53, 0, pkg[:8]) + _chunk(54, 8, pkg[8:]) + _end(55) + _end(56)),
        ("upload_end_early", "end before every byte arrived", _begin(57, pkg) + _chunk(58, 0, pkg[:8]) + _end(59)),
        ("upload_bad_payloads", "malformed begin, chunk and end payloads",
         to_wire(encode_frame(Opcode.LOAD_BEGIN, 60, b"\0" * 7))
         + to_wire(encode_frame(Opcode.LOAD_BEGIN, 61, LoadBeginPayload.build(
             dict(total_bytes=0, crc32=0, flags=0, model_hash=bytes(32)))))
         + to_wire(encode_frame(Opcode.LOAD_CHUNK, 62, b"\0" * 3)) + _end(63, b"?")),
    ]  # fmt: skip


def _training_inputs() -> list[tuple[str, str, bytes]]:
    """The training requests' refusals that need no executor, and package validation."""
    pkg_a, pkg_b = tiny_package(MODEL_A), tiny_package(MODEL_B)
    broken = bytearray(pkg_a)
    broken[P.PLAN_HEADER_BYTES + 8] ^= 0x40  # a buffer's dtype; the plan's CRC then fails
    run = SampleRunPayload.build(dict(step=0, label=0, flags=SampleFlag.TRAIN, lr_scale=1 << 16))
    pull = PullPayload.build(dict(offset=0, length=16))
    profile = ProfilePayload.build(dict(first=0, flags=ProfileFlag.RESET))
    past_the_ops = ProfilePayload.build(dict(first=0xFFFF, flags=0))
    sample = SampleDataHeader.build(dict(offset=0)) + b"\x01\x02"
    n = 2 + (len(pkg_a) + 511) // 512  # sequence numbers one _upload takes
    return [
        ("no_plan_training", "every training request without a plan",
         _request(Opcode.SAMPLE_DATA, 100, sample) + _request(Opcode.SAMPLE_RUN, 101, run)
         + _request(Opcode.PULL, 102, pull) + _request(Opcode.COMMIT, 103) + _request(Opcode.ROLLBACK, 104)
         + _request(Opcode.PROFILE, 113, profile)),
        ("training_bad_payloads", "training requests whose payload has the wrong size",
         _request(Opcode.SAMPLE_DATA, 105, b"\0\0\0") + _request(Opcode.SAMPLE_RUN, 106, run + b"x")
         + _request(Opcode.SAMPLE_RUN, 107, run[:-1]) + _request(Opcode.STATS, 108, b"?")
         + _request(Opcode.PULL, 109, pull[:-1]) + _request(Opcode.COMMIT, 110, b"\0")
         + _request(Opcode.ROLLBACK, 111, b"\0\0\0\0") + _request(Opcode.PROFILE, 114, profile[:-1])
         + _request(Opcode.RESET, 112, b"now")),
        ("load_package", "a valid package loads; INFO names its plan and model",
         _upload(120, pkg_a) + _request(Opcode.HELLO, 120 + n)),
        ("profile_past_the_ops", "a loaded plan's profile asked from past its op table",
         _upload(240, pkg_a) + _request(Opcode.PROFILE, 240 + n, past_the_ops)),
        ("load_bad_plan", "a package whose CRC-32 holds but whose plan does not validate",
         _upload(140, bytes(broken)) + _end(140 + n) + _request(Opcode.HELLO, 141 + n)),
        ("load_end_model_mismatch", "the package is for another model than LOAD_BEGIN announced",
         _upload(160, pkg_a, model=MODEL_B) + _request(Opcode.HELLO, 160 + n)),
        ("load_begin_model_mismatch", "a plan is loaded: another model's package is refused, nothing changes",
         _upload(180, pkg_a) + _begin(180 + n, pkg_b) + _request(Opcode.HELLO, 181 + n)),
        ("load_replace_model", "with REPLACE_MODEL another model's package is accepted and unloads the plan",
         _upload(200, pkg_a) + _begin(200 + n, pkg_b, flags=LoadFlag.REPLACE_MODEL)
         + _request(Opcode.HELLO, 201 + n) + _chunk(202 + n, 0, pkg_b[:512])),
        ("load_same_model", "a new package for the loaded model needs no flag",
         _upload(220, pkg_a) + _upload(220 + n, tiny_package(MODEL_A, n_classes=6))
         + _request(Opcode.HELLO, 220 + 2 * n)),
    ]  # fmt: skip


def _set_baud(seq: int, baud: int) -> bytes:
    return _request(Opcode.SET_BAUD, seq, SetBaudPayload.build(dict(baud=baud)))


def _link_inputs() -> list[tuple[str, str, bytes]]:
    """SET_BAUD and SAMPLE_PACKED. An accepted switch ends its vector: the device drops what
    arrived with the request (it came at the old rate)."""
    packed = SamplePackedHeader.build(dict(offset=0, decoded=4, stride=0, reserved=0)) + b"\xfd\x07"
    return [
        ("set_baud", "921,600 baud: answered at the old rate with the rate USART1 makes (108 MHz / 117) and "
         "the confirm window", _set_baud(300, 921_600)),
        ("set_baud_default", "back to 115,200 baud: no confirmation needed", _set_baud(301, 115_200)),
        ("set_baud_refused", "rates the UART cannot make within 2 %: above its highest (detail 108 MHz / 16), "
         "between two dividers, 0 (detail its lowest); a payload of 3 bytes; the link is unchanged",
         _set_baud(302, 7_000_000) + _set_baud(303, 6_550_000) + _set_baud(304, 0)
         + _request(Opcode.SET_BAUD, 305, b"\0\0\0") + _ping(306, b"still here")),
        ("sample_packed_refused", "SAMPLE_PACKED without a plan, and with a short header",
         _request(Opcode.SAMPLE_PACKED, 307, packed) + _request(Opcode.SAMPLE_PACKED, 308, packed[:7])),
    ]  # fmt: skip


def _corrupt_crc(frame: bytes) -> bytes:
    return frame[:-1] + bytes([frame[-1] ^ 0x5A])


def _inputs() -> list[tuple[str, str, bytes]]:
    rng = random.Random(2026)
    pattern = bytes(i % 251 for i in range(MAX_PAYLOAD))  # includes zeros and 0xFF-block runs
    garbage = bytes(rng.randrange(1, 256) for _ in range(300))
    ping = encode_frame(Opcode.PING, 9, b"abc")
    # The header claims 9 payload bytes, 4 follow, and the CRC is right: only the length lies.
    length_lies = encode_frame(Opcode.PING, 10, b"abcd")[:4] + bytes([9, 0]) + b"abcd"
    length_lies += crc32(length_lies).to_bytes(4, "little")
    return [
        ("hello", "HELLO answers INFO with the board's identity", to_wire(encode_frame(Opcode.HELLO, 1))),
        ("ping_empty", "PING with no payload", _ping(2)),
        ("ping_zeros", "payload with zero bytes survives COBS", _ping(3, b"\0a\0\0b\0")),
        ("ping_max", "largest payload", _ping(4, pattern)),
        ("ping_no_leading_delimiter", "frames need only the trailing delimiter", _ping(5)[1:]),
        ("empty_frames", "runs of delimiters are ignored", b"\0\0\0\0"),
        ("too_large", "one byte over the payload limit", _ping(6, pattern + b"x")),
        ("bad_crc", "a flipped CRC byte", to_wire(_corrupt_crc(ping))),
        ("truncated", "shorter than header plus CRC", DELIMITER + cobs.encode(b"\x01\x02\x03") + DELIMITER),
        ("bad_cobs", "a delimiter inside a COBS block", b"\0\x05ab\0"),
        ("length_mismatch", "valid CRC, but the length field lies", to_wire(length_lies)),
        ("wrong_version", "a header from a future protocol", to_wire(encode_frame(Opcode.PING, 11, b"v", PROTOCOL_VERSION + 1))),
        ("unknown_opcode", "a request this firmware lacks", to_wire(encode_frame(0x55, 12))),
        ("response_as_request", "a response opcode sent to the device", to_wire(encode_frame(Opcode.PONG, 13))),
        ("hello_with_payload", "HELLO takes no payload", to_wire(encode_frame(Opcode.HELLO, 14, b"?"))),
        ("retransmission", "a repeated request is answered twice, executed once", _ping(15, b"r") + _ping(15, b"r")),
        ("same_seq_new_request", "same seq, different bytes: a new request", _ping(16, b"a") + _ping(16, b"b")),
        ("garbage_then_ping", "noise without delimiters, then a valid request", garbage + _ping(17, b"after")),
        ("noise_with_zeros", "random bytes with delimiters, then a valid request",
         bytes(rng.choice((0, rng.randrange(1, 256))) for _ in range(200)) + _ping(18)),
        ("long_garbage", "noise far beyond the buffer, then a valid request",
         bytes(rng.randrange(1, 256) for _ in range(3000)) + _ping(19)),
        *_upload_inputs(),
        *_training_inputs(),
        *_link_inputs(),
    ]


def sync_sequence(seq: int) -> bytes:
    """Wire bytes that bring any device into the state of a fresh one, as far as the
    vectors can tell: no plan, no upload in progress (a transfer abandoned by a bad CRC) and a
    HELLO as the last request. Uses sequence numbers ``seq`` to ``seq + 3``."""
    word = seq.to_bytes(4, "little")
    # REPLACE_MODEL: the begin is accepted (and unloads) whatever plan the device runs.
    abandon = _begin(seq, word, crc=crc32(word) ^ 1, flags=LoadFlag.REPLACE_MODEL) + _chunk(seq + 1, 0, word) + _end(seq + 2)
    return abandon + to_wire(encode_frame(Opcode.HELLO, seq + 3))


def all_vectors() -> list[ProtocolVector]:
    out = []
    for name, description, wire_in in _inputs():
        wire_out = Responder(VECTOR_BOARD).feed(wire_in)
        out.append(ProtocolVector(name, description, wire_in, wire_out))
    return out
