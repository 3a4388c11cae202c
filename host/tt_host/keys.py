"""Device keys on the host: made by ``tt-host keygen``, kept where only their owner reads them.

A key is 32 random bytes that authenticate the requests which change what a board runs or
stores (``tt_protocol.auth``). ``tt-host flash --key FILE`` writes it into the board's image;
every later command finds it again by the key id the board reports in INFO: the file
``$TT_HOME/keys/<key id>.key`` (hex text, mode 0600, in a 0700 folder). ``--key FILE`` names
another file. A key file that others can read is refused, as ssh refuses such a private key.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from tt_protocol import auth

from .errors import KeyMissing, UsageError
from .workflows.cache import default_root


def keys_dir() -> Path:
    """Where ``tt-host keygen`` keeps keys: ``$TT_HOME/keys``."""
    return default_root() / "keys"


def key_path(key_id: bytes) -> Path:
    """The file a key with ``key_id`` is kept in."""
    return keys_dir() / f"{key_id.hex()}.key"


def generate(out: Path | None = None) -> tuple[Path, bytes]:
    """Make a new key from the operating system's random source and save it at ``out``
    (default: :func:`key_path` of its id). Returns the file and the key."""
    key = secrets.token_bytes(auth.KEY_BYTES)
    path = out if out is not None else key_path(auth.key_id(key))
    save(path, key)
    return path, key


def save(path: Path, key: bytes) -> None:
    """Write ``key`` to a new file readable by its owner only (its folder too, when made here)."""
    if path.exists():
        raise UsageError(f"{path} exists: a key file is never overwritten (choose another --out)")
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")


def load(path: Path) -> bytes:
    """Read a key file; refuses one that is missing, malformed or readable by others."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise UsageError(f"key file {path} does not exist (make one with `tt-host keygen`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read key file {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(f"key file {path} is accessible by others (mode {stat.S_IMODE(mode):04o}); "
                         f"it must be readable by its owner only: chmod 600 {path}")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != auth.KEY_BYTES:
        raise UsageError(f"{path} is not a tt key file: expected {2 * auth.KEY_BYTES} hex digits")
    return key


def for_device(key_id: bytes, explicit: Path | None = None) -> bytes:
    """The key for a board that reports ``key_id``: from ``explicit`` (``--key``), else from
    :func:`key_path`. Raises :class:`KeyMissing` when there is none, or when ``explicit``
    holds another key."""
    if explicit is not None:
        key = load(explicit)
        if auth.key_id(key) != key_id:
            raise KeyMissing(f"{explicit} holds key {auth.key_id(key).hex()}, but the board was provisioned "
                             f"with key {key_id.hex()}")
        return key
    path = key_path(key_id)
    if not path.exists():
        raise KeyMissing(f"the board requires authentication with key {key_id.hex()}, and there is no "
                         f"{path}: pass --key FILE with the key it was flashed with")
    return load(path)
