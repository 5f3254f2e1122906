"""Content-addressed file storage under instance/storage/: one file per (tenant folder, sha256).

A file is checked before anything is kept: the content type against the caller's allow-list
first, then the size while it is read into a temporary file beside the store (so an oversized
stream is never held in memory). Only a file that passed both is moved into place, atomically,
under its sha256; identical content in the same folder is stored once. A refused upload leaves
nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from app.core.errors import ValidationFailed

CHUNK = 1024 * 1024
_FOLDER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEY = re.compile(r"^([A-Za-z0-9_-]{1,64})/([0-9a-f]{2})/([0-9a-f]{64})$")


@dataclass(frozen=True)
class StoredFile:
    key: str
    sha256: str
    size: int
    created: bool  # False when identical content was already stored


def storage_root() -> Path:
    return Path(current_app.instance_path) / "storage"


def path_for(key: str) -> Path:
    """The file behind a storage key; refuses anything that is not a key we made."""
    if not _KEY.match(key):
        raise ValueError(f"not a storage key: {key[:80]!r}")
    return storage_root() / key


def check_content_type(content_type: str, allowed: Iterable[str], *, field: str = "file") -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in set(allowed):
        raise ValidationFailed({field: [f"Files of type {kind or 'unknown'!r} are not accepted; "
                                        f"use one of: {', '.join(sorted(set(allowed)))}."]})
    return kind


def _too_big(max_bytes: int, field: str) -> ValidationFailed:
    return ValidationFailed({field: [f"The file is larger than the limit of {max_bytes:,} bytes."]})


def store(folder: str, stream: BinaryIO | bytes, *, content_type: str, allowed_types: Iterable[str],
          max_bytes: int, declared_size: int | None = None, field: str = "file") -> StoredFile:
    """Check type and size, then keep the bytes under folder/ab/<sha256>; nothing is kept on refusal."""
    if not _FOLDER.match(folder):
        raise ValueError(f"not a storage folder: {folder[:80]!r}")
    check_content_type(content_type, allowed_types, field=field)
    if declared_size is not None and declared_size > max_bytes:
        raise _too_big(max_bytes, field)
    if isinstance(stream, bytes | bytearray):
        if len(stream) > max_bytes:
            raise _too_big(max_bytes, field)
        chunks: Iterable[bytes] = [bytes(stream)]
    else:
        chunks = iter(lambda: stream.read(CHUNK), b"")
    tmp_dir = storage_root() / ".incoming"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as tmp:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise _too_big(max_bytes, field)
                digest.update(chunk)
                tmp.write(chunk)
        sha = digest.hexdigest()
        key = f"{folder}/{sha[:2]}/{sha}"
        final = path_for(key)
        if final.exists():
            return StoredFile(key, sha, size, created=False)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_name, final)  # atomic: a reader never sees a half-written file
        return StoredFile(key, sha, size, created=True)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def discard(key: str) -> None:
    """Remove a stored file (used to undo a file stored by a transaction that rolled back)."""
    with_path = path_for(key)
    if with_path.exists():
        with_path.unlink()
