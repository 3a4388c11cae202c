"""Frames: the unit of every exchange between host and device.

On the wire a frame is ``0x00 COBS(header | payload | crc32) 0x00``. The leading zero is
optional for the receiver but the host always sends it: it ends whatever garbage the
device may have been accumulating, so the frame that follows is parsed from a clean
start. Empty frames (two zeros in a row) are ignored by both sides.

All integers are little-endian. The CRC is CRC-32/ISO-HDLC (the zlib/Ethernet CRC:
reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF) over header and payload.

Requests carry an opcode below 0x80; a successful response carries ``opcode | 0x80``; a
failed request is answered with ``Opcode.ERROR`` whose payload names the status. The
device echoes the request's sequence number, or ``SEQ_UNKNOWN`` when it could not trust
the header (a framing error).
"""

from __future__ import annotations

import enum
import zlib

from construct import (
    Bytes,
    Checksum,
    ConstructError,
    Default,
    Int8ul,
    Int16ul,
    Int32ul,
    Int64ul,
    Float32l,
    RawCopy,
    Struct,
    Terminated,
    this,
)

from . import cobs
from .errors import MalformedBytes
from .status import Status

#: The protocol version this package speaks; a header with another version is refused.
#: Version 2: SAMPLE_RUN carries the step's learning-rate scale; REVERT; the divergence guard.
PROTOCOL_VERSION = 2

#: Largest payload either side sends or accepts. A device's receive buffer is sized for
#: exactly one frame of this payload, so larger data (plans, samples) travels in chunks.
MAX_PAYLOAD = 1024

#: The UART rate every device starts at, after a reset too, and returns to when a switch
#: (``SET_BAUD``) is not confirmed in time.
DEFAULT_BAUD = 115200

#: How far the rate a device's UART makes may be from the rate asked for: a UART receiver
#: samples each bit mid-way, so the two ends may drift apart by about half a bit over a
#: 10-bit character; 2 % keeps a margin for the other end's own error.
BAUD_TOLERANCE_PERCENT = 2

#: Sequence number the device uses when it answers a frame whose header it could not trust.
SEQ_UNKNOWN = 0xFFFF

DELIMITER = b"\x00"


class Opcode(enum.IntEnum):
    """What a frame asks for (requests) or answers (responses = request | 0x80)."""

    #: Start a session: the device answers ``INFO`` with its identity and budgets.
    HELLO = 0x01
    #: Echo the payload back (``PONG``): link check and round-trip timing.
    PING = 0x02
    #: Start uploading a package (``LoadBeginPayload``) into the model area, or resume the
    #: transfer of the same package; answered with ``LOAD_STARTED`` (a ``LoadProgressPayload``).
    #: A new transfer unloads the running plan (its package is about to be overwritten). While
    #: a plan is loaded, a package for another model (``model_hash``) is refused with
    #: MODEL_MISMATCH unless ``LoadFlag.REPLACE_MODEL`` is set: nothing changes.
    LOAD_BEGIN = 0x10
    #: The next bytes of the package (``LoadChunkHeader`` then data; every chunk but the
    #: last a multiple of 4 bytes); answered with ``LOAD_PROGRESS``.
    LOAD_CHUNK = 0x11
    #: All bytes sent: the device checks the package's CRC-32 over what it stored, then
    #: validates it as a plan (``tt_protocol.plan.validate`` and the C-only checks) and makes
    #: it the running plan with its factory parameters; answers ``LOAD_DONE``, or ERROR
    #: BLOB_CORRUPT, BAD_PLAN (detail: the ``plan.Check``) or MODEL_MISMATCH (the package's
    #: model is not the one LOAD_BEGIN announced). A refused package is never run.
    LOAD_END = 0x12

    #: The next bytes of the sample the next SAMPLE_RUN uses (``SampleDataHeader`` then int8
    #: data, the plan's input tensor in NHWC order). ``offset`` 0 starts a new sample; every
    #: other chunk continues where the device stopped (OUT_OF_ORDER, detail: bytes held,
    #: otherwise). Data past the input's end: SAMPLE_SIZE (detail: the input's bytes).
    #: Answered with ``SAMPLE_ACCEPTED`` (a ``SampleProgressPayload``).
    SAMPLE_DATA = 0x20
    #: Run the sample sent with SAMPLE_DATA (``SampleRunPayload``): forward and loss, and with
    #: ``SampleFlag.TRAIN`` the planned backward and updates. Answered with ``SAMPLE_RESULT``.
    #: Refused, with nothing run: NO_PLAN; SAMPLE_SIZE when the whole input has not arrived
    #: (detail: the input's bytes); LABEL_RANGE (detail: the plan's classes); OUT_OF_ORDER for a
    #: training run whose ``step`` is not the number of samples trained so far (detail: that
    #: number), which makes a training request idempotent across reconnects; BAD_PAYLOAD for a
    #: learning-rate scale above 1; DIVERGED for a training run after the divergence guard
    #: stopped training (detail: samples trained). A run consumes the sample (the step reuses
    #: its memory): the next one starts at offset 0.
    SAMPLE_RUN = 0x21
    #: Counters since the plan was loaded, timing and memory: ``STATS`` (``StatsPayload``).
    #: Answered with or without a plan (then with zeros where a plan is needed).
    STATS = 0x22
    #: Read part of the parameter image (``PullPayload``): the trained weight slices and biases
    #: and the stochastic-rounding PRNG counter, as ``tt_executor_params_read`` defines it.
    #: Answered with ``PULL_DATA`` (``PullDataHeader`` then the bytes). NO_PLAN without a plan;
    #: BAD_PAYLOAD when ``offset`` is past the image (detail: the image's bytes).
    PULL = 0x23
    #: Persist the trained parameters in the flash A/B store, tagged with the plan hash (empty
    #: payload); answered with ``COMMITTED`` (``CommitPayload``). After a reset the device
    #: restores them when the same plan is loaded. NO_PLAN; NO_SPACE (detail: slot capacity);
    #: FLASH_ERROR.
    COMMIT = 0x24
    #: Back to the factory parameters of the loaded package, persistently (a factory record in
    #: the store) and at once (the plan is loaded afresh, counters zeroed); answered with
    #: ``ROLLED_BACK`` (``CommitPayload``). NO_PLAN; FLASH_ERROR.
    ROLLBACK = 0x25
    #: Answer ``RESETTING`` (empty), finish sending it, then reset the device. Uncommitted
    #: training is lost; a committed state is restored at boot.
    RESET = 0x26
    #: Back to the newest committed state of the loaded plan, at once: the plan is loaded afresh
    #: and the store's newest record restored when it is this plan's (the factory parameters
    #: otherwise), counters as after a reset; nothing is written to flash. Answered with
    #: ``REVERTED`` (``CommitPayload``: that record's sequence, 0 when none; bytes restored).
    #: How a host keeps the best of several evaluated states: COMMIT each better one, REVERT
    #: at the end. NO_PLAN.
    REVERT = 0x27
    #: Read the per-op profile (``ProfilePayload``): for each op of the plan, how often it ran
    #: and the ticks it took, since the plan was loaded or the profile last reset. Answered with
    #: ``PROFILE_DATA`` (``ProfileDataHeader``, then ``count`` ``ProfileRecord``s from op
    #: ``first`` on, as many as fit). ``ProfileFlag.RESET`` zeroes the profile after answering.
    #: NO_PLAN; BAD_PAYLOAD when ``first`` is past the op table (detail: its ops); NO_SPACE when
    #: the plan leaves no room in the arena for the counters (detail: the bytes they need).
    PROFILE = 0x28
    #: Switch the UART to another rate (``SetBaudPayload``). The device answers ``BAUD_SET``
    #: (``BaudPayload``: the rate its UART makes, within ``BAUD_TOLERANCE_PERCENT`` of the one
    #: asked for, and its confirm window) at the old rate, finishes sending it, then switches.
    #: Unless the new rate is ``DEFAULT_BAUD``, it must be confirmed: when no valid frame (CRC
    #: intact) arrives at the new rate within ``confirm_ms``, the device returns to
    #: ``DEFAULT_BAUD`` by itself, so a rate the cable cannot carry never strands the link. A
    #: reset always returns to ``DEFAULT_BAUD``. Refused, with nothing changed: BAD_PAYLOAD for a
    #: rate the UART cannot make within the tolerance (detail: the nearest rate it makes, e.g.
    #: its highest for a rate above it) or a payload that is not 4 bytes (detail: 4).
    SET_BAUD = 0x29
    #: ``SAMPLE_DATA`` compressed (``SamplePackedHeader`` then a PackBits stream, see
    #: ``tt_protocol.packbits``): the stream decodes to ``decoded`` bytes that go where a
    #: SAMPLE_DATA with the same ``offset`` would put them, after undoing the left-neighbour
    #: delta when ``stride`` is not 0. Each chunk decodes on its own (no state crosses chunks).
    #: Answered like SAMPLE_DATA (``SAMPLE_ACCEPTED``), with its refusals (NO_PLAN,
    #: OUT_OF_ORDER, SAMPLE_SIZE for ``offset + decoded`` past the input), and BAD_PAYLOAD when
    #: the stream is malformed or does not decode to exactly ``decoded`` bytes (detail: the
    #: stream byte where decoding failed), or ``stride`` is above ``PACKED_MAX_STRIDE`` (detail:
    #: that limit). A refused chunk changes nothing.
    SAMPLE_PACKED = 0x2A
    #: Issue a fresh authentication nonce (empty payload), answered ``NONCE_ISSUED``
    #: (``NoncePayload``). Authenticated requests (``tt_protocol.auth``) carry a counter that
    #: must rise from one request to the next under this nonce; a new NONCE restarts it and
    #: voids the previous nonce. A reset voids it too. Open on every device.
    NONCE = 0x2B

    INFO = 0x81
    PONG = 0x82
    LOAD_STARTED = 0x90
    LOAD_PROGRESS = 0x91
    LOAD_DONE = 0x92
    SAMPLE_ACCEPTED = 0xA0
    SAMPLE_RESULT = 0xA1
    STATS_REPORT = 0xA2
    PULL_DATA = 0xA3
    COMMITTED = 0xA4
    ROLLED_BACK = 0xA5
    RESETTING = 0xA6
    REVERTED = 0xA7
    PROFILE_DATA = 0xA8
    BAUD_SET = 0xA9
    SAMPLE_PACKED_ACCEPTED = 0xAA
    NONCE_ISSUED = 0xAB
    #: Any request that failed; the payload is an ``ErrorPayload``.
    ERROR = 0xFF

    @property
    def is_request(self) -> bool:
        return self < 0x80

    def response(self) -> Opcode:
        """The opcode of a successful answer to this request."""
        return Opcode(self | 0x80)


class LoadFlag(enum.IntFlag):
    """Bits of ``LoadBeginPayload.flags``."""

    #: Accept a package for another model than the loaded plan's (re-provisioning a device
    #: with a new network is deliberate, never a side effect of streaming samples).
    REPLACE_MODEL = 1


class ProfileFlag(enum.IntFlag):
    """Bits of ``ProfilePayload.flags``."""

    #: Zero the profile (every op's counters and the step totals) once the answer is built:
    #: the next read covers only what runs after this one.
    RESET = 1


class SampleFlag(enum.IntFlag):
    """Bits of ``SampleRunPayload.flags``."""

    #: Train on the sample (backward and update); without it the run only evaluates.
    TRAIN = 1
    #: (answers only) A training run whose logits all sat at an int8 bound: no gradient passes
    #: such logits, so nothing was applied (the step still counts).
    SKIPPED = 2


Header = Struct(
    "version" / Int8ul,  # PROTOCOL_VERSION of the sender
    "opcode" / Int8ul,  # an Opcode; kept raw so unknown opcodes still parse
    "seq" / Int16ul,  # chosen by the host, echoed by the device
    "length" / Int16ul,  # payload bytes that follow the header
)
HEADER_BYTES = Header.sizeof()
CRC_BYTES = 4

#: Decoded size of the largest frame: the device's receive buffer.
MAX_FRAME_BYTES = HEADER_BYTES + MAX_PAYLOAD + CRC_BYTES
#: Smallest decoded frame: a header with an empty payload, and its CRC.
MIN_FRAME_BYTES = HEADER_BYTES + CRC_BYTES
#: Largest frame on the wire, both delimiters included.
MAX_WIRE_BYTES = cobs.encoded_size_max(MAX_FRAME_BYTES) + 2


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC, as computed by ``tt_crc32`` in the firmware."""
    return zlib.crc32(data) & 0xFFFFFFFF


Frame = Struct(
    "body"
    / RawCopy(
        Struct(
            "header" / Header,
            "payload" / Bytes(this.header.length),
        )
    ),
    "crc" / Checksum(Int32ul, crc32, this.body.data),
    Terminated,
)


ErrorPayload = Struct(
    "status" / Int8ul,  # a Status
    "opcode" / Int8ul,  # the request's opcode, 0 when the header was not trusted
    "detail" / Int32ul,  # what was expected: max payload for TOO_LARGE, version for BAD_VERSION...
)

InfoPayload = Struct(
    "protocol_version" / Int8ul,
    "firmware_version" / Struct("major" / Int8ul, "minor" / Int8ul, "patch" / Int8ul),
    "board" / Bytes(16),  # board name, NUL-padded ASCII (e.g. b"f746-qemu")
    "sram_bytes" / Int32ul,  # total SRAM of the part
    "flash_bytes" / Int32ul,  # total flash of the part
    "arena_bytes" / Int32ul,  # size of the static training arena in this image
    "core_clock_hz" / Int32ul,  # core clock the firmware configured
    "max_payload" / Int16ul,  # MAX_PAYLOAD of this firmware
    "plan_hash" / Bytes(32),  # hash of the loaded training plan; all zero when none
    "model_hash" / Bytes(32),  # SHA-256 of the base .tflite of the loaded plan; zero when none
    # Fields after model_hash were added later; a shorter INFO (older firmware) leaves them 0.
    "model_area_bytes" / Int32ul,  # flash for an uploaded package (plan + weights): LOAD_BEGIN's limit
    "param_store_bytes" / Int32ul,  # the largest COMMIT record (trained parameters) the A/B store holds
    "auth" / Default(Int8ul, 0),  # an auth.AuthMode: whether state-changing requests must be authenticated
    "reserved" / Default(Bytes(3), bytes(3)),  # 0
    # auth.key_id() of the provisioned key (which key file on the host signs); zero when open
    "key_id" / Default(Bytes(8), bytes(8)),
)
#: INFO's size before ``model_area_bytes``: what firmware older than those fields sends.
INFO_BASE_BYTES = 102


LoadBeginPayload = Struct(
    "total_bytes" / Int32ul,  # size of the whole package
    "crc32" / Int32ul,  # CRC-32 of the whole package
    "flags" / Int32ul,  # LoadFlag
    "model_hash" / Bytes(32),  # the package's PlanHeader.model_hash
)

LoadChunkHeader = Struct(
    "offset" / Int32ul,  # where the data that follows goes; must equal the bytes received so far
)

#: Largest data a LOAD_CHUNK carries: the payload limit less the header, kept a multiple
#: of 4 because flash is programmed in words.
LOAD_CHUNK_MAX_DATA = (MAX_PAYLOAD - LoadChunkHeader.sizeof()) // 4 * 4

LoadProgressPayload = Struct(
    "received" / Int32ul,  # package bytes stored so far: the offset of the next chunk
    "capacity" / Int32ul,  # size of the device's model area
)

LoadDonePayload = Struct(
    "total_bytes" / Int32ul,
    "crc32" / Int32ul,  # as computed by the device over the stored package
)

SampleDataHeader = Struct(
    "offset" / Int32ul,  # input byte the data that follows starts at; 0 starts a new sample
)

#: Largest data a SAMPLE_DATA carries.
SAMPLE_CHUNK_MAX_DATA = MAX_PAYLOAD - SampleDataHeader.sizeof()

SampleProgressPayload = Struct(
    "received" / Int32ul,  # bytes of the current sample held: the offset of the next chunk
    "input_bytes" / Int32ul,  # size of the plan's input tensor
)

#: ``SampleRunPayload.lr_scale`` of 1: the plan's own rates (the most a step may use).
LR_SCALE_ONE = 1 << 16

SampleRunPayload = Struct(
    "step" / Int32ul,  # training runs: the number of samples trained so far (ignored for eval)
    "label" / Int16ul,  # class index, below the plan's n_classes
    "flags" / Int16ul,  # SampleFlag
    # training runs: this step's learning-rate scale in Q16 (65536 = the plan's rates, the
    # most allowed; 0 = nothing is applied): the host's schedule over the stream
    "lr_scale" / Int32ul,
)

SampleResultPayload = Struct(
    "trained" / Int32ul,  # samples trained so far, this one included when it trained
    "loss" / Float32l,  # softmax cross-entropy of the sample before any update (natural log)
    "predicted" / Int16ul,  # class with the largest logit (first on ties)
    "correct" / Int8ul,  # 1: predicted == label
    "flags" / Int8ul,  # the run's SampleFlag
    "ticks" / Int32ul,  # tt_port_ticks() spent on the sample: the step, and a streamed plan's first block as it arrived
)

StatsPayload = Struct(
    "trained" / Int32ul,  # training runs since the plan was loaded (or restored: see COMMIT)
    "train_correct" / Int32ul,  # of which predicted correctly (before their update)
    "train_loss_sum" / Float32l,  # sum of their losses
    "evaluated" / Int32ul,  # evaluation runs since the plan was loaded
    "eval_correct" / Int32ul,
    "eval_loss_sum" / Float32l,
    "train_ticks" / Int64ul,  # ticks spent in training runs
    "eval_ticks" / Int64ul,  # ticks spent in evaluation runs
    "tick_hz" / Int32ul,  # ticks per second (SysTick; under QEMU -icount shift=0 one tick is
    #                       1e9 / tick_hz instructions)
    "arena_bytes" / Int32ul,  # the static arena of this image
    "arena_used" / Int32ul,  # what the loaded plan uses of it (plan buffers + executor workspace)
    "stack_bytes" / Int32ul,  # the stack reserved by the image
    "stack_peak" / Int32ul,  # deepest stack use since boot (painted stack high-water mark)
    "params_bytes" / Int32ul,  # size of the parameter image (PULL)
    "commit_sequence" / Int32ul,  # sequence number of the newest store record; 0 when none
    "skipped" / Int32ul,  # training runs whose logits all sat at an int8 bound (nothing applied)
    "diverged" / Int32ul,  # 1 once the divergence guard has stopped training (until REVERT, ROLLBACK or a load)
)

PullPayload = Struct(
    "offset" / Int32ul,  # first byte of the parameter image wanted
    "length" / Int16ul,  # bytes wanted, at most PULL_MAX_DATA (fewer come back at the end)
)

PullDataHeader = Struct(
    "offset" / Int32ul,  # the request's offset
    "total" / Int32ul,  # size of the whole parameter image
)

#: Largest data a PULL_DATA carries.
PULL_MAX_DATA = MAX_PAYLOAD - PullDataHeader.sizeof()

CommitPayload = Struct(
    "sequence" / Int32ul,  # sequence number of the store record just written
    "bytes" / Int32ul,  # payload bytes persisted (0 for a rollback)
)

SetBaudPayload = Struct(
    "baud" / Int32ul,  # the rate wanted, bits per second
)

BaudPayload = Struct(
    "baud" / Int32ul,  # the rate the UART makes for it (its clock over the divider), from now on
    "confirm_ms" / Int32ul,  # a valid frame must arrive at the new rate within this, or the device
    #                          returns to DEFAULT_BAUD (0: no confirmation needed: it is DEFAULT_BAUD)
)

#: Largest left-neighbour distance (``SamplePackedHeader.stride``) a device undoes: the
#: channels of the widest input a delta helps (an image's 3, a sensor's few).
PACKED_MAX_STRIDE = 16

SamplePackedHeader = Struct(
    "offset" / Int32ul,  # input byte the decoded data starts at, as SAMPLE_DATA's offset
    "decoded" / Int16ul,  # bytes the stream decodes to
    # 0: the decoded bytes are the data; n: each decoded byte is the difference to the data
    # byte n before it (mod 256), the first n of the chunk differences to 0
    "stride" / Int8ul,
    "reserved" / Int8ul,  # 0
)

#: Largest compressed stream a SAMPLE_PACKED carries.
SAMPLE_PACKED_MAX_DATA = MAX_PAYLOAD - SamplePackedHeader.sizeof()

NoncePayload = Struct(
    "nonce" / Bytes(16),  # from the device's random source; binds the next authenticated requests
)

ProfilePayload = Struct(
    "first" / Int16ul,  # index of the first op wanted (0: the first LOAD op)
    "flags" / Int16ul,  # ProfileFlag
)

ProfileDataHeader = Struct(
    "n_ops" / Int16ul,  # ops in the plan (records for them all take several requests)
    "first" / Int16ul,  # the request's first
    "count" / Int16ul,  # ProfileRecords that follow
    "reserved" / Int16ul,  # 0
    "tick_hz" / Int32ul,  # ticks per second, as in STATS
    "trained" / Int32ul,  # training runs since the profile began (plan load or RESET)
    "evaluated" / Int32ul,  # evaluation runs since then
    "train_ticks" / Int64ul,  # ticks of those training runs (ops and the step's own work)
    "eval_ticks" / Int64ul,  # ... of the evaluation runs
)

ProfileRecord = Struct(
    "kind" / Int8ul,  # the op's plan.OpKind
    "phase" / Int8ul,  # its plan.Phase
    "layer" / Int16ul,  # its IR layer (plan.NONE16 if none)
    "runs" / Int32ul,  # times it ran since the profile began
    "ticks" / Int64ul,  # ticks it took in all, its kernel and the executor's work for it
)

#: Most ProfileRecords one PROFILE_DATA carries.
PROFILE_MAX_RECORDS = (MAX_PAYLOAD - ProfileDataHeader.sizeof()) // ProfileRecord.sizeof()

#: Fixed-size payloads whose field offsets the firmware gets from the generated header,
#: by C macro prefix.
PAYLOAD_LAYOUTS = {
    "TT_ERROR": ErrorPayload,
    "TT_INFO": InfoPayload,
    "TT_LOAD_BEGIN": LoadBeginPayload,
    "TT_LOAD_CHUNK": LoadChunkHeader,
    "TT_LOAD_PROGRESS": LoadProgressPayload,
    "TT_LOAD_DONE": LoadDonePayload,
    "TT_SAMPLE_DATA": SampleDataHeader,
    "TT_SAMPLE_PROGRESS": SampleProgressPayload,
    "TT_SAMPLE_RUN": SampleRunPayload,
    "TT_SAMPLE_RESULT": SampleResultPayload,
    "TT_STATS": StatsPayload,
    "TT_PULL": PullPayload,
    "TT_PULL_DATA": PullDataHeader,
    "TT_COMMIT": CommitPayload,
    "TT_PROFILE": ProfilePayload,
    "TT_SET_BAUD": SetBaudPayload,
    "TT_BAUD": BaudPayload,
    "TT_SAMPLE_PACKED": SamplePackedHeader,
    "TT_PROFILE_DATA": ProfileDataHeader,
    "TT_PROFILE_RECORD": ProfileRecord,
    "TT_NONCE": NoncePayload,
}


class FrameError(MalformedBytes):
    """Bytes that do not form a valid frame; ``status`` says which check failed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def encode_frame(opcode: int, seq: int, payload: bytes = b"", version: int = PROTOCOL_VERSION) -> bytes:
    """Build the decoded bytes of a frame (header | payload | crc)."""
    body = Header.build(dict(version=version, opcode=int(opcode), seq=seq, length=len(payload)))
    body += payload
    return body + Int32ul.build(crc32(body))


def to_wire(frame: bytes) -> bytes:
    """COBS-encode a decoded frame and delimit it on both sides."""
    return DELIMITER + cobs.encode(frame) + DELIMITER


def parse_frame(frame: bytes):
    """Parse decoded frame bytes; raises :class:`FrameError` with the matching status.

    The checks run in the firmware's order, so the status here is the one the device
    would answer with.
    """
    if len(frame) > MAX_FRAME_BYTES:
        raise FrameError(Status.TOO_LARGE, f"frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
    if len(frame) < MIN_FRAME_BYTES:
        raise FrameError(Status.TRUNCATED, f"frame of {len(frame)} bytes is shorter than {MIN_FRAME_BYTES}")
    if crc32(frame[:-CRC_BYTES]) != Int32ul.parse(frame[-CRC_BYTES:]):
        raise FrameError(Status.BAD_CRC, "CRC-32 mismatch")
    try:
        return Frame.parse(frame)
    except ConstructError as exc:  # the CRC held, so only the length field can be off
        raise FrameError(Status.TRUNCATED, f"length field disagrees with frame size: {exc}") from exc
