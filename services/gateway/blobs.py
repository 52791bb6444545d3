"""Where uploaded files' bytes are kept: a ``BlobStore``, keyed by SHA-256.

The same file uploaded twice is stored once. ``begin()`` opens a
``PendingBlob`` that counts and hashes what is written; ``commit()`` puts it
in place under its hash, or ``discard()`` drops it. ``FileBlobStore`` writes
to a temporary file and renames it; an S3-compatible store implements the
same four methods with a multipart upload to a staging key, then a copy to
``<sha256>`` (or an abort), ``HeadObject`` for ``exists``/``size`` and
``GetObject`` for ``open``.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 64 * 1024
HEAD_BYTES = 64  # what ``PendingBlob.head`` keeps
HASH = re.compile(r"^[0-9a-f]{64}\Z")


class InvalidHash(ValueError):
    """Not a SHA-256 in lowercase hex: no store looks such a name up."""


class BlobNotFound(LookupError):
    """No blob under that hash."""


class PendingBlob(Protocol):
    """Bytes on their way into a store; ``sha256``, ``size`` and ``head``
    describe what has been written so far."""

    sha256: str
    size: int
    head: bytes

    def write(self, chunk: bytes) -> None: ...

    def commit(self) -> str: ...

    def discard(self) -> None: ...


class BlobStore(Protocol):
    def begin(self) -> PendingBlob: ...

    def exists(self, sha256: str) -> bool: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def size(self, sha256: str) -> int: ...


def _checked(sha256: str) -> str:
    if not isinstance(sha256, str) or not HASH.match(sha256):
        raise InvalidHash("a blob is named by its SHA-256 in lowercase hex")
    return sha256


class FilePendingBlob(PendingBlob):
    """A temporary file in ``<root>/tmp`` that becomes ``<root>/ab/cd/<sha256>``."""

    def __init__(self, store: FileBlobStore):
        self._store = store
        fd, self._path = tempfile.mkstemp(dir=store.tmp, prefix="upload-")  # mode 0o600
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._done: str | None = None  # "committed" or "discarded"
        self.size = 0
        self.head = b""

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, chunk: bytes) -> None:
        if self._done:
            raise ValueError(f"the blob is already {self._done}")
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[:HEAD_BYTES - len(self.head)]

    def commit(self) -> str:
        if self._done == "discarded":
            raise ValueError("the blob is already discarded")
        if self._done is None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            target = self._store.path_of(self.sha256)
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if target.exists():  # the same bytes are there already
                os.unlink(self._path)
            else:
                os.replace(self._path, target)  # atomic: readers see all of it or nothing
                _fsync_dir(target.parent)
            self._done = "committed"
        return self.sha256

    def discard(self) -> None:
        if self._done is None:
            self._file.close()
            os.unlink(self._path)
            self._done = "discarded"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileBlobStore(BlobStore):
    """Blobs in a directory: ``<root>/ab/cd/<sha256>``, private to this user."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        # Users' uploads: a directory this store creates is for its user alone.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.tmp.mkdir(mode=0o700, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        sha256 = _checked(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def begin(self) -> FilePendingBlob:
        return FilePendingBlob(self)

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        try:
            return open(self.path_of(sha256), "rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def size(self, sha256: str) -> int:
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None


def blob_store_from_env() -> FileBlobStore:
    """``ATTACHMENTS_DIR``, or ``var/attachments`` in the repository."""
    default = Path(__file__).resolve().parents[2] / "var" / "attachments"
    return FileBlobStore(os.environ.get("ATTACHMENTS_DIR") or default)


class BlobChunks:
    """A blob's bytes for a werkzeug ``Response``; the server's ``close()``
    (or the last chunk) closes the file."""

    def __init__(self, file: BinaryIO, chunk: int):
        self._file = file
        self._chunk = chunk

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        data = self._file.read(self._chunk) if not self._file.closed else b""
        if not data:
            self.close()
            raise StopIteration
        return data

    def close(self) -> None:
        self._file.close()


def stream(store: BlobStore, sha256: str, chunk: int = CHUNK) -> BlobChunks:
    """The blob's chunks; the blob is opened now, so a missing one raises
    ``BlobNotFound`` before any response starts."""
    return BlobChunks(store.open(sha256), chunk)


