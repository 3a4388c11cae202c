"""The host's half of request authentication (``tt_protocol.auth``): nonces and signatures.

A session with a board provisioned with a key sends its state-changing requests through a
:class:`Signer`: the first one asks the board for a nonce, every one carries the next counter
and the tag over it. A board that lost its nonce (it was reset, or another host asked for one)
answers UNAUTHORIZED/NO_NONCE or BAD_TAG; the signer then asks for a fresh nonce and signs the
request again, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from tt_protocol import auth
from tt_protocol.frame import NoncePayload, Opcode
from tt_protocol.status import Status

from .. import keys
from ..errors import DeviceError, ProtocolError

log = logging.getLogger(__name__)

#: ``request(opcode, payload, timeout) -> (opcode, payload)``: a session's plain request.
Send = Callable[[int, bytes, "float | None"], tuple[int, bytes]]

#: Refusals after which a request is signed again under a fresh nonce.
_RENEW = frozenset({auth.AuthFailure.NO_NONCE, auth.AuthFailure.BAD_TAG})


class Signer:
    """Signs requests with ``key`` under nonces of the board it talks to."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._nonce: bytes | None = None
        self._counter = 0

    def forget_nonce(self) -> None:
        """The board's nonce is gone (it reset): the next request asks for a new one."""
        self._nonce = None

    def request(self, send: Send, opcode: int, payload: bytes, bound: bytes = b"",
                timeout: float | None = None) -> tuple[int, bytes]:
        """Send ``payload`` signed (``bound``: the digest the tag also covers, see auth.py)."""
        for renewed in (False, True):
            if self._nonce is None:
                self._renew(send)
            self._counter += 1
            signed = auth.sign(self.key, self._nonce, self._counter, opcode, payload, bound)
            try:
                return send(opcode, signed, timeout)
            except DeviceError as exc:
                if renewed or exc.status != Status.UNAUTHORIZED or exc.detail not in _RENEW:
                    raise
                log.info("the board refused the signature (%s): asking for a new nonce",
                         auth.AuthFailure(exc.detail).name)
                self._nonce = None
        raise AssertionError("unreachable")

    def _renew(self, send: Send) -> None:
        _, answer = send(Opcode.NONCE, b"", None)
        if len(answer) != NoncePayload.sizeof():
            raise ProtocolError(f"NONCE_ISSUED of {len(answer)} bytes, expected {NoncePayload.sizeof()}")
        self._nonce, self._counter = bytes(answer), 0


def signer_for(mode: int, key_id: bytes, key_file: Path | None) -> Signer | None:
    """The signer a board reporting ``mode`` and ``key_id`` in INFO needs: None for an open
    board; for a provisioned one, with its key (``key_file``, else the one in ``$TT_HOME/keys``;
    :class:`~tt_host.errors.KeyMissing` when there is none). A locked board (damaged key record)
    gets none: it refuses every state-changing request whatever is sent, and says so."""
    if mode != auth.AuthMode.REQUIRED:
        return None
    return Signer(keys.for_device(key_id, key_file))
