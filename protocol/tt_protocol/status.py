"""Status codes shared by the firmware and the host.

This enum is the single source of truth: ``tt_protocol.codegen`` writes it into
``firmware/include/tt/protocol_gen.h`` and a test fails when the two drift apart.
Every status also fixes the exit code of the ``tt-host`` command that received it, so a
script driving the CLI can tell "the device rejected the sample" from "no device".

Ranges: 0x00-0x0F framing and transport, 0x10-0x2F request content, 0x30-0x3F device state.
"""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """One byte on the wire; the numbers never change once released."""

    OK = 0x00
    #: The frame's CRC-32 did not match its contents.
    BAD_CRC = 0x01
    #: The frame was longer than the device's receive buffer (``MAX_FRAME_BYTES``).
    TOO_LARGE = 0x02
    #: The frame was shorter than a header plus CRC, or its length field disagreed
    #: with the number of bytes that arrived.
    TRUNCATED = 0x03
    #: The bytes between two delimiters were not valid COBS.
    BAD_FRAMING = 0x04
    #: The header's protocol version is not the one this firmware speaks.
    BAD_VERSION = 0x05
    #: The opcode is not a request this firmware implements.
    UNKNOWN_OPCODE = 0x06
    #: The payload does not have the layout the opcode requires, or holds a value the device
    #: cannot take: a rate its UART cannot make (SET_BAUD; ``detail``: the nearest it makes), a
    #: malformed compressed sample (SAMPLE_PACKED; ``detail``: the stream byte where it failed).
    BAD_PAYLOAD = 0x10
    #: A LOAD_CHUNK or SAMPLE_DATA whose offset is not the next byte the device expects
    #: (``detail``: the bytes it has, where the host resumes), or a training SAMPLE_RUN whose
    #: step is not the number of samples trained so far (``detail``: that number).
    OUT_OF_ORDER = 0x11
    #: The package is larger than the device's model area; ``detail`` is its capacity.
    NO_SPACE = 0x12
    #: The uploaded package's CRC-32 differs from the one LOAD_BEGIN announced;
    #: ``detail`` is the CRC the device computed over what it stored.
    BLOB_CORRUPT = 0x13
    #: The stored package is not a plan this firmware can run: a check of the loader
    #: (``tt_protocol.plan.validate``, plus the kernels' scratch sizes and the arena the
    #: executor needs) failed; ``detail`` is the ``tt_protocol.plan.Check`` code.
    BAD_PLAN = 0x14
    #: A sample's label is not below the plan's number of classes; ``detail`` is that number.
    LABEL_RANGE = 0x15
    #: Sample data past the end of the plan's input, or a SAMPLE_RUN before the whole input
    #: arrived; ``detail`` is the input's size in bytes.
    SAMPLE_SIZE = 0x16
    #: A package for another model than the loaded plan's, without ``LoadFlag.REPLACE_MODEL``
    #: (LOAD_BEGIN; nothing changes), or a package whose model is not the one its LOAD_BEGIN
    #: announced (LOAD_END; it is not run).
    MODEL_MISMATCH = 0x17
    #: A request that changes what the device runs or stores, on a device provisioned with a
    #: key, without a valid authentication trailer (``tt_protocol.auth``): nothing changed.
    #: ``detail`` is an ``auth.AuthFailure`` (missing, bad tag, replayed counter, no nonce).
    UNAUTHORIZED = 0x18
    #: The device hit a condition that should be impossible; please report it.
    INTERNAL = 0x30
    #: LOAD_CHUNK or LOAD_END without a transfer in progress (none was begun, or the
    #: device was reset since): begin again.
    NO_TRANSFER = 0x31
    #: The flash driver failed to erase or program; ``detail`` is the address it failed at (the
    #: device's bus address: 0x08xxxxxx internal flash, 0x90xxxxxx the Discovery's QSPI flash).
    FLASH_ERROR = 0x32
    #: A training or parameter request while no plan is loaded.
    NO_PLAN = 0x33
    #: A training SAMPLE_RUN after the divergence guard stopped training: the plan's
    #: ``diverge_after`` consecutive training samples, of more than one label, had identical
    #: logits (the network's output no longer depends on its input). Nothing is applied;
    #: evaluation still runs. REVERT, ROLLBACK or a new load clears it. ``detail``: the samples
    #: trained.
    DIVERGED = 0x34


#: Statuses that mean "the request never reached the dispatcher intact": the
#: device could not trust the header, so it answers with ``SEQ_UNKNOWN`` and the host
#: may retransmit.
FRAMING_STATUSES = frozenset(
    {Status.BAD_CRC, Status.TOO_LARGE, Status.TRUNCATED, Status.BAD_FRAMING}
)


def exit_code(status: Status) -> int:
    """Exit code of ``tt-host`` when the device answers ``status``.

    Device statuses map to 64 + code (64..127), leaving 1..63 for host-side failures
    (see ``tt_host.errors``). OK is 0.
    """
    return 0 if status == Status.OK else 64 + int(status)
