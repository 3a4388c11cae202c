"""Authenticated requests: what a device provisioned with a key refuses unless signed.

A device holds at most one 32-byte key, written into its firmware image when it is flashed
(``tt-host flash --key``; the image's ``.tt_key`` section holds a :data:`KeyRecord`). An
image without a key is *open*: it accepts every request, as a development board does. With a
key, every request that changes what the device runs or stores (:func:`needs_auth`) must end
with an :data:`AuthTrailer`:

- the host asks for a nonce (``Opcode.NONCE``: 16 bytes from the device's random source;
  a new nonce voids the old one, a reset voids it too);
- each authenticated request carries a counter above the last one accepted under that nonce,
  and ``HMAC-SHA256(key, "tt-auth1" | nonce | counter | opcode | payload | bound)``, where
  ``payload`` is the request's payload without the trailer and ``bound`` is the SHA-256 of
  what the request commits the device to beyond its payload: the stored package (LOAD_END)
  or the sample's input bytes (a training SAMPLE_RUN); empty otherwise.

A request that fails is answered ``Status.UNAUTHORIZED`` with an :class:`AuthFailure` as its
detail, and changes nothing. A package loaded under a key also gets a *seal*
(:func:`package_seal`) programmed after it in the model area, so that a device that boots
only runs a package its key holder approved (a chunk injected into a transfer, then a reset,
cannot plant a plan). Reading requests (HELLO, STATS, PULL, PROFILE, evaluation runs) stay
open, as do the sample bytes themselves (a training run authenticates their digest).
"""

from __future__ import annotations

import enum
import hashlib
import hmac

from construct import Bytes, Const, Int32ul, Struct

from .frame import LoadBeginPayload, Opcode, SampleFlag, SampleRunPayload, crc32

KEY_BYTES = 32
NONCE_BYTES = 16
TAG_BYTES = 32
KEY_ID_BYTES = 8
SEAL_BYTES = 32
#: Domain separation: a tag for one purpose never verifies for another.
_REQUEST_DOMAIN = b"tt-auth1"
_SEAL_DOMAIN = b"tt-seal1"
_KEY_ID_DOMAIN = b"tt-key-id"

AuthTrailer = Struct(
    "counter" / Int32ul,  # above the last counter the device accepted under its current nonce
    "tag" / Bytes(TAG_BYTES),  # request_tag() over the request
)
TRAILER_BYTES = AuthTrailer.sizeof()

#: The firmware image's ``.tt_key`` section (64 bytes). Erased (all 0xFF) in a fresh image:
#: the device is open. A record whose magic is present but whose CRC fails locks the device
#: (every authenticated request is refused): a damaged key never opens it.
KEY_MAGIC = b"TTK1"
KeyRecord = Struct(
    "magic" / Const(KEY_MAGIC),
    "key" / Bytes(KEY_BYTES),
    "key_id" / Bytes(KEY_ID_BYTES),  # key_id(key), what INFO reports
    "reserved" / Bytes(16),  # 0xFF
    "crc32" / Int32ul,  # CRC-32 of the 60 bytes before it
)
KEY_RECORD_BYTES = KeyRecord.sizeof()
KEY_SECTION = ".tt_key"


class AuthMode(enum.IntEnum):
    """``InfoPayload.auth``: what the device asks of state-changing requests."""

    OPEN = 0  #: no key provisioned: every request is accepted
    REQUIRED = 1  #: a key is provisioned: state-changing requests must be authenticated
    LOCKED = 2  #: the key record is damaged: state-changing requests are all refused


class AuthFailure(enum.IntEnum):
    """``ErrorPayload.detail`` of an UNAUTHORIZED answer."""

    MISSING = 1  #: the request has no trailer (its payload has only the plain layout)
    BAD_TAG = 2  #: the tag does not verify: another key, another nonce, or altered bytes
    REPLAYED = 3  #: the counter is not above the last one accepted under this nonce
    NO_NONCE = 4  #: no nonce was issued since the device started (ask for one)
    LOCKED = 5  #: the device's key record is damaged (AuthMode.LOCKED)


#: Requests whose payload has a fixed size: an authenticated one is that size + TRAILER_BYTES.
_PLAIN_BYTES = {
    Opcode.LOAD_BEGIN: LoadBeginPayload.sizeof(),
    Opcode.LOAD_END: 0,
    Opcode.COMMIT: 0,
    Opcode.ROLLBACK: 0,
    Opcode.REVERT: 0,
    Opcode.SAMPLE_RUN: SampleRunPayload.sizeof(),
}


def needs_auth(opcode: int, payload: bytes) -> bool:
    """Whether a request changes what the device runs or stores: LOAD_BEGIN (a transfer
    unloads the plan; model replacement), LOAD_END, COMMIT, ROLLBACK, REVERT and a training
    SAMPLE_RUN. ``payload`` is the plain payload (a SAMPLE_RUN's flags decide)."""
    if opcode == Opcode.SAMPLE_RUN:
        return len(payload) >= SampleRunPayload.sizeof() and bool(
            SampleRunPayload.parse(payload[:SampleRunPayload.sizeof()]).flags & SampleFlag.TRAIN)
    return opcode in _PLAIN_BYTES


def plain_bytes(opcode: int) -> int:
    """The payload size of an authenticated request without its trailer."""
    return _PLAIN_BYTES[Opcode(opcode)]


def key_id(key: bytes) -> bytes:
    """The key's public name (INFO.key_id): which key file on the host signs for a device."""
    return hashlib.sha256(_KEY_ID_DOMAIN + key).digest()[:KEY_ID_BYTES]


def request_tag(key: bytes, nonce: bytes, counter: int, opcode: int, payload: bytes, bound: bytes = b"") -> bytes:
    """The HMAC an authenticated request carries (see the module docstring)."""
    message = _REQUEST_DOMAIN + nonce + Int32ul.build(counter) + bytes([int(opcode)]) + payload + bound
    return hmac.new(key, message, hashlib.sha256).digest()


def sign(key: bytes, nonce: bytes, counter: int, opcode: int, payload: bytes, bound: bytes = b"") -> bytes:
    """``payload`` with its trailer appended."""
    tag = request_tag(key, nonce, counter, opcode, payload, bound)
    return payload + AuthTrailer.build(dict(counter=counter, tag=tag))


def package_seal(key: bytes, package: bytes) -> bytes:
    """What a device provisioned with ``key`` programs after a package it accepted (the next
    word-aligned offset), and checks at boot before it runs the package."""
    return hmac.new(key, _SEAL_DOMAIN + hashlib.sha256(package).digest(), hashlib.sha256).digest()


def sealed(key: bytes, package: bytes) -> bytes:
    """``package`` as a board provisioned with ``key`` keeps it in its model area: padded to a
    word with 0xFF (erased flash), then its seal (what ``tt-host flash --key`` writes)."""
    return package.ljust(seal_offset(len(package)), b"\xff") + package_seal(key, package)


def seal_offset(package_len: int) -> int:
    """Where a package's seal sits in the model area."""
    return (package_len + 3) // 4 * 4


def key_record(key: bytes) -> bytes:
    """The ``.tt_key`` section's bytes for ``key``."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key is {KEY_BYTES} bytes, not {len(key)}")
    body = KEY_MAGIC + key + key_id(key) + b"\xff" * 16
    return body + Int32ul.build(crc32(body))
