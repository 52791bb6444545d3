"""Uploaded files for ``POST /v1/tickets/{id}/attachments``.

``receive_upload`` reads a ``multipart/form-data`` body as it arrives (one
part named ``file``) into a ``BlobStore`` (``blobs.py``): the file is never
whole in memory. Its type is decided by its first bytes (``sniff``), never by
its name or the client's ``Content-Type``; its name is kept for display only
(``safe_filename``).
"""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from .blobs import CHUNK, BlobStore, PendingBlob
from .http import BadRequest, PayloadTooLarge, UnsupportedMediaType

ALLOWED_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
SNIFF_BYTES = 12  # the longest signature ``sniff`` needs (WebP)
# Room for the boundaries, part headers and small form fields around the file:
# Content-Length may pass max_bytes by this much; the file's own bytes may not.
MULTIPART_OVERHEAD = 64 * 1024
MAX_PARTS = 16
MAX_FILENAME = 255

# RFC 2046: 1 to 70 characters, the last one not a space.
BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]\Z")
ZWNJ = "\u200c"  # Persian writes it inside words: نامه‌ها


def max_bytes_from_env() -> int:
    """``ATTACHMENT_MAX_BYTES`` when it is a positive integer, else 10 MB."""
    try:
        value = int(os.environ.get("ATTACHMENT_MAX_BYTES", ""))
    except ValueError:
        return DEFAULT_MAX_BYTES
    return value if value > 0 else DEFAULT_MAX_BYTES


# --- what a file is, and what it is called -------------------------------------------


def sniff(head: bytes) -> str | None:
    """The content type its first bytes declare, or None for anything else."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _name_problem(name: str) -> str | None:
    if not name:
        return "the file has no name"
    if len(name) > MAX_FILENAME:
        return f"the file name is longer than {MAX_FILENAME} characters"
    if "/" in name or "\\" in name or name.startswith(".."):
        return "the file name must not contain a path (/, \\ or ..)"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") and c != ZWNJ for c in name):
        return "the file name must not contain control characters"
    if not name.strip(". "):
        return "the file name must not be only dots and spaces"
    return None


def safe_filename(name: str | None) -> str:
    """The display name, stripped and NFC-normalised; a ``BadRequest``
    (``invalid_filename`` naming ``file``) for one that is not a plain name."""
    cleaned = unicodedata.normalize("NFC", name or "").strip()
    reason = _name_problem(cleaned)
    if reason:
        raise BadRequest("invalid_filename", reason, {"file": [reason]})
    return cleaned


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and the exact
    name in ``filename*`` (RFC 6266)."""
    fallback = "".join(c if " " <= c < "\x7f" and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# --- the upload -------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A received file, not yet committed: the caller commits ``pending``
    once the tickets service has the record, or discards it."""

    filename: str
    content_type: str
    size: int
    sha256: str
    pending: PendingBlob


def _file_error(message: str) -> BadRequest:
    return BadRequest("invalid_file", message, {"file": [message]})


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge("payload_too_large", f"the file is over {limit:,} bytes", {"file": [
        f"at most {limit:,} bytes"]})


def _wrong_type() -> UnsupportedMediaType:
    message = "the file's contents are not an allowed type: only PNG, JPEG, GIF, WebP or PDF"
    return UnsupportedMediaType("unsupported_file_type", message, {"file": [message]})


def _body(request, max_bytes: int):
    """The body as a stream, after its type and declared size pass; and its boundary."""
    boundary = request.mimetype_params.get("boundary", "")
    if request.mimetype != "multipart/form-data" or not BOUNDARY.match(boundary):
        raise UnsupportedMediaType("unsupported_media_type",
                                   "send the file as multipart/form-data with a part named file")
    limit = max_bytes + MULTIPART_OVERHEAD
    request.max_content_length = limit  # this request only
    if (request.content_length is None and "eventlet.input" in request.environ
            and request.headers.get("Transfer-Encoding", "").lower() == "chunked"):
        request.environ["wsgi.input_terminated"] = True  # eventlet ends a chunked body itself
    if request.content_length is None and "wsgi.input_terminated" not in request.environ:
        raise BadRequest("length_required", "send a Content-Length, or the body chunked")
    try:
        return request.stream, boundary.encode("ascii")
    except RequestEntityTooLarge:  # the Content-Length says so: nothing is read
        raise _too_large(max_bytes) from None


class _Receiver:
    """Follows the decoder's events into one pending blob."""

    def __init__(self, store: BlobStore, max_bytes: int):
        self.store = store
        self.max_bytes = max_bytes
        self.pending: PendingBlob | None = None
        self.filename: str | None = None
        self.content_type: str | None = None
        self.in_file = False
        self.file_done = False

    def on(self, event) -> None:
        if isinstance(event, (File, Field)):
            self.in_file = event.name == "file"
            if not self.in_file:
                return  # other fields are ignored; the body limit bounds them
            if self.filename is not None or isinstance(event, Field):
                raise _file_error("send exactly one file, in a part named file")
            self.filename = safe_filename(event.filename)
            self.pending = self.store.begin()
        elif isinstance(event, Data) and self.in_file:
            if self.pending.size + len(event.data) > self.max_bytes:
                raise _too_large(self.max_bytes)
            self.pending.write(event.data)
            self._check_type(final=not event.more_data)
            self.file_done = not event.more_data

    def _check_type(self, final: bool) -> None:
        if self.content_type is None and (final or self.pending.size >= SNIFF_BYTES):
            if self.pending.size == 0:
                raise _file_error("the file is empty")
            self.content_type = sniff(self.pending.head)
            if self.content_type not in ALLOWED_TYPES:
                raise _wrong_type()


def receive_upload(request, store: BlobStore, max_bytes: int) -> Upload:
    """The ``file`` part of a werkzeug request, streamed into ``store.begin()``.

    Refusals: 415 ``unsupported_media_type`` (not multipart), 413
    ``payload_too_large``, 400 ``invalid_file`` (no file, an empty one, two),
    400 ``invalid_filename``, 415 ``unsupported_file_type``; nothing is kept.
    """
    body, boundary = _body(request, max_bytes)
    receiver = _Receiver(store, max_bytes)
    decoder = MultipartDecoder(boundary, max_form_memory_size=CHUNK + MULTIPART_OVERHEAD, max_parts=MAX_PARTS)
    try:
        ended = False
        while not ended:
            chunk = body.read(CHUNK)
            decoder.receive_data(chunk or None)
            event = decoder.next_event()
            while not isinstance(event, NeedData):
                receiver.on(event)
                if isinstance(event, Epilogue):
                    ended = True
                    break
                event = decoder.next_event()
        if not receiver.file_done:
            raise _file_error("send the file in a multipart part named file")
    except RequestEntityTooLarge:
        _discard(receiver)
        raise _too_large(max_bytes) from None
    except ClientDisconnected:
        _discard(receiver)
        raise BadRequest("incomplete_body", "the body ended before its Content-Length") from None
    except ValueError:  # the decoder's word for a body that is not multipart as declared
        _discard(receiver)
        raise BadRequest("malformed_multipart", "the body is not valid multipart/form-data",
                         {"file": ["the body is not valid multipart/form-data"]}) from None
    except BaseException:
        _discard(receiver)
        raise
    pending = receiver.pending
    return Upload(receiver.filename, receiver.content_type, pending.size, pending.sha256, pending)


def _discard(receiver: _Receiver) -> None:
    if receiver.pending is not None:
        receiver.pending.discard()
