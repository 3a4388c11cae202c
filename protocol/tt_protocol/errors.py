"""The root of the project's one exception tree, shared by the wire protocol and the host tools.

``tt_host.errors`` grows the tree (with the table of ``tt-host`` exit codes); the protocol's own
errors hang from the same root, so a command line that catches :class:`TtError` reports a
malformed frame or plan with its exit code instead of as a crash.
"""

from __future__ import annotations


class TtError(Exception):
    """Base of every error ``tt_protocol`` and ``tt_host`` raise on purpose."""

    #: Exit code of ``tt-host`` when this error ends the command.
    exit_code: int = 1


class MalformedBytes(TtError, ValueError):
    """Bytes that do not follow the protocol's formats (a frame, its COBS encoding)."""

    exit_code = 9  #: as tt_host.errors.ProtocolError: something malformed arrived


class MalformedInput(TtError, ValueError):
    """A file the user passed that a loader must refuse (a plan blob)."""

    exit_code = 2  #: as tt_host.errors.UsageError
