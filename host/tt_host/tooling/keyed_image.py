"""Provisioning a key: a copy of a firmware image with its key record written in.

Every tt image (the F746's ELF, the QEMU twin's, the host twin's executable) has a
``.tt_key`` section of ``tt_protocol.auth.KEY_RECORD_BYTES``, erased when built. Provisioning
writes ``auth.key_record(key)`` at that section's file offset in a copy of the image, which is
then flashed (or run), so the build itself stays key-free and reproducible. The copy holds the
key: it is written readable by its owner only.
"""

from __future__ import annotations

import os
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from tt_protocol import auth

from ..errors import UsageError
from ..workflows.cache import default_root


def key_record_offset(image: Path) -> int:
    """The file offset of ``image``'s key record."""
    try:
        with image.open("rb") as f:
            section = ELFFile(f).get_section_by_name(auth.KEY_SECTION)
            found = None if section is None else (section["sh_offset"], section["sh_size"], section["sh_type"])
    except (OSError, ELFError) as exc:
        raise UsageError(f"cannot read firmware image {image}: {exc}") from None
    if found is None or found[1] != auth.KEY_RECORD_BYTES or found[2] == "SHT_NOBITS":
        raise UsageError(f"{image} has no {auth.KEY_SECTION} section of {auth.KEY_RECORD_BYTES} bytes: "
                         "it is not a tt image of this version (rebuild it with `tt-host build`)")
    return found[0]


def keyed_copy(image: Path, key: bytes, out: Path | None = None) -> Path:
    """Write a copy of ``image`` provisioned with ``key`` (default: under ``$TT_HOME/keyed``,
    named after the key id and the image) and return its path."""
    offset = key_record_offset(image)
    data = bytearray(image.read_bytes())
    data[offset:offset + auth.KEY_RECORD_BYTES] = auth.key_record(key)
    if out is None:
        folder = default_root() / "keyed"
        folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        out = folder / f"{auth.key_id(key).hex()}-{image.parent.name}-{image.name}"
    executable = os.access(image, os.X_OK)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700 if executable else 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return out
