"""Uploaded files (services.gateway.attachments): what a file is by its first
bytes, what it may be called, where its bytes go, and a multipart body read
as it arrives into a blob store."""
from __future__ import annotations

import io
import os
import stat
import tracemalloc
from urllib.parse import unquote

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import attachments, blobs
from services.gateway.attachments import (
    ALLOWED_TYPES, DEFAULT_MAX_BYTES, content_disposition, max_bytes_from_env, receive_upload, safe_filename, sniff,
)
from services.gateway.blobs import BlobNotFound, FileBlobStore, InvalidHash, blob_store_from_env, stream
from services.gateway.http import BadRequest, PayloadTooLarge, UnsupportedMediaType, response_for_error

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 500
GIF = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 100
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 100
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"1 0 obj\n" * 50
HTML = b"<!doctype html><html><script>alert(1)</script></html>"
BOUNDARY = "----seed-boundary-7MA4YWxk"


@pytest.fixture
def store(tmp_path):
    return FileBlobStore(tmp_path / "blobs")


def leftovers(store: FileBlobStore) -> list[str]:
    return os.listdir(store.tmp)


def blob_files(store: FileBlobStore) -> list[str]:
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


def multipart(*parts: tuple[str, bytes], boundary: str = BOUNDARY) -> bytes:
    """A body of parts given as (Content-Disposition parameters, bytes)."""
    out = b""
    for disposition, data in parts:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def request_of(body, content_type: str = f"multipart/form-data; boundary={BOUNDARY}",
               length: int | None = -1) -> Request:
    environ = EnvironBuilder(method="POST").get_environ()
    environ["CONTENT_TYPE"] = content_type
    environ["wsgi.input"] = body if hasattr(body, "read") else io.BytesIO(body)
    if length == -1:
        environ["CONTENT_LENGTH"] = str(len(body))
    elif length is None:
        environ.pop("CONTENT_LENGTH", None)
    else:
        environ["CONTENT_LENGTH"] = str(length)
    return Request(environ)


def upload_of(data: bytes, filename: str = "receipt.png") -> Request:
    """A real multipart request, the way werkzeug's test client builds one."""
    environ = EnvironBuilder(method="POST", data={"file": (io.BytesIO(data), filename), "note": "hi"}).get_environ()
    return Request(environ)


# --- sniff: the first bytes decide ---------------------------------------------------------


@pytest.mark.parametrize("data, expected", [
    (PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (b"GIF87a" + b"\x00" * 10, "image/gif"),
    (WEBP, "image/webp"), (PDF, "application/pdf"),
])
def test_each_allowed_type_is_known_by_its_signature(data, expected):
    assert sniff(data[:64]) == expected
    assert expected in ALLOWED_TYPES


@pytest.mark.parametrize("data", [
    HTML, b"", b"\x89PN", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    b"PK\x03\x04", b"MZ\x90\x00", b" %PDF-1.4",
])
def test_anything_else_is_unknown_whatever_its_name(data):
    assert sniff(data) is None


# --- safe_filename: a name for display, never a path ----------------------------------------


@pytest.mark.parametrize("name", [
    "../../etc/passwd", "a/b.png", "..\\x.png", "C:\\Users\\me\\a.png", "..", "..hidden.png",
    "\x00.png", "a\nb.png", "a\x7fb.png", "evil\u202egnp.exe", "x" * 252 + ".png",
    "", "   ", None, ".", "...", ". .", "\ud800.png",
])
def test_a_name_with_a_path_control_characters_or_nothing_in_it_is_refused(name):
    with pytest.raises(BadRequest) as info:
        safe_filename(name)
    assert info.value.code == "invalid_filename"
    assert list(info.value.errors) == ["file"]


def test_arabic_and_persian_names_are_kept_stripped_and_nfc():
    assert safe_filename("صورة الفاتورة.png") == "صورة الفاتورة.png"
    assert safe_filename("نامه\u200cها.pdf") == "نامه\u200cها.pdf"  # ZWNJ stays: Persian needs it
    assert safe_filename("  caf\u0065\u0301 menu.pdf \t") == "caf\u00e9 menu.pdf"
    assert safe_filename("a..b.png") == "a..b.png"  # dots inside a name are not a path
    assert safe_filename("x" * 251 + ".png") == "x" * 251 + ".png"  # 255 characters


# --- content_disposition: an ASCII name and the exact one -----------------------------------


def test_an_arabic_name_gets_an_ascii_fallback_that_keeps_the_extension():
    header = content_disposition("صورة الفاتورة.png")
    assert header == ("attachment; filename=\"____ ________.png\"; filename*=UTF-8''"
                      "%D8%B5%D9%88%D8%B1%D8%A9%20%D8%A7%D9%84%D9%81%D8%A7%D8%AA%D9%88%D8%B1%D8%A9.png")
    assert unquote(header.split("UTF-8''")[1]) == "صورة الفاتورة.png"


def test_quotes_backslashes_and_semicolons_cannot_break_the_header():
    header = content_disposition('say "hi"; x\\y.pdf')
    fallback, encoded = header.split("; filename*=UTF-8''")
    assert fallback == 'attachment; filename="say _hi__ x_y.pdf"'
    assert all(c not in encoded for c in '"\\; ')
    assert unquote(encoded) == 'say "hi"; x\\y.pdf'
    assert content_disposition("نامه\u200cها.pdf").startswith('attachment; filename="_______.pdf"')


# --- FileBlobStore: bytes under their hash -------------------------------------------------


def test_a_blob_round_trips_under_its_hash_with_two_levels_of_fan_out(store):
    pending = store.begin()
    for i in range(0, len(PNG), 100):
        pending.write(PNG[i:i + 100])
    assert pending.head == PNG[:64] and pending.size == len(PNG)
    sha = pending.commit()
    assert sha == pending.sha256 and len(sha) == 64
    assert blob_files(store) == [f"{sha[:2]}/{sha[2:4]}/{sha}"]
    assert store.exists(sha) and store.size(sha) == len(PNG)
    with store.open(sha) as f:
        assert f.read() == PNG
    assert leftovers(store) == []


def test_the_same_bytes_twice_are_stored_once(store):
    first, second = store.begin(), store.begin()
    first.write(PDF)
    second.write(PDF)
    assert first.commit() == second.commit()
    assert len(blob_files(store)) == 1
    assert leftovers(store) == []
    assert first.commit() == first.sha256  # committing again changes nothing


def test_a_pending_blob_lives_in_tmp_until_commit_and_a_discard_leaves_nothing(store):
    pending = store.begin()
    pending.write(GIF)
    assert len(leftovers(store)) == 1 and blob_files(store) == [f"tmp/{leftovers(store)[0]}"]
    assert not store.exists(pending.sha256)  # nothing half-written is visible under its hash
    pending.discard()
    pending.discard()
    assert blob_files(store) == []
    with pytest.raises(ValueError):
        pending.write(b"more")
    with pytest.raises(ValueError):
        pending.commit()


def test_the_store_is_private_to_its_user(tmp_path):
    store = FileBlobStore(tmp_path / "new" / "blobs")
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    pending = store.begin()
    pending.write(JPEG)
    sha = pending.commit()
    assert stat.S_IMODE(store.path_of(sha).stat().st_mode) == 0o600


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "a" * 63, "g" * 64, "a" * 64 + "\n", "", None])
def test_only_a_lowercase_hex_sha256_names_a_blob(store, bad):
    for look_up in (store.open, store.exists, store.size):
        with pytest.raises(InvalidHash):
            look_up(bad)


def test_an_unknown_hash_is_not_found(store):
    with pytest.raises(BlobNotFound):
        store.open("0" * 64)
    with pytest.raises(BlobNotFound):
        store.size("0" * 64)
    assert not store.exists("0" * 64)


def test_stream_gives_the_blob_in_chunks_and_closes_it(store):
    pending = store.begin()
    pending.write(PNG)
    sha = pending.commit()
    chunks = stream(store, sha, chunk=100)
    assert b"".join(chunks) == PNG
    assert chunks._file.closed
    early = stream(store, sha)
    early.close()  # what the WSGI server does when the client goes away
    assert early._file.closed
    with pytest.raises(BlobNotFound):
        stream(store, "f" * 64)  # before any response starts


def test_the_settings_come_from_the_environment(monkeypatch, tmp_path):
    for value, expected in (("2048", 2048), ("0", DEFAULT_MAX_BYTES), ("-5", DEFAULT_MAX_BYTES),
                            ("ten", DEFAULT_MAX_BYTES), ("", DEFAULT_MAX_BYTES)):
        monkeypatch.setenv("ATTACHMENT_MAX_BYTES", value)
        assert max_bytes_from_env() == expected
    monkeypatch.setenv("ATTACHMENTS_DIR", str(tmp_path / "att"))
    assert blob_store_from_env().root == tmp_path / "att"
    assert (tmp_path / "att" / "tmp").is_dir()


# --- receive_upload: a multipart body into the store ----------------------------------------


def test_a_png_upload_is_received_but_not_committed(store):
    upload = receive_upload(upload_of(PNG, "receipt.png"), store, DEFAULT_MAX_BYTES)
    assert (upload.filename, upload.content_type, upload.size) == ("receipt.png", "image/png", len(PNG))
    assert not store.exists(upload.sha256)  # the caller commits once the tickets service agrees
    assert upload.pending.commit() == upload.sha256
    with store.open(upload.sha256) as f:
        assert f.read() == PNG


def test_the_type_comes_from_the_bytes_not_the_name_or_the_part_header(store):
    upload = receive_upload(upload_of(PDF, "scan.png"), store, DEFAULT_MAX_BYTES)
    assert upload.content_type == "application/pdf"
    upload.pending.discard()


def test_an_arabic_file_name_arrives_intact_either_way_it_is_sent(store):
    body = multipart(('name="file"; filename="صورة الفاتورة.png"', PNG))  # raw UTF-8, as browsers send it
    upload = receive_upload(request_of(body), store, DEFAULT_MAX_BYTES)
    assert upload.filename == "صورة الفاتورة.png"
    upload.pending.discard()
    encoded = "name=\"file\"; filename*=UTF-8''%D9%86%D8%A7%D9%85%D9%87%E2%80%8C%D9%87%D8%A7.pdf"
    upload = receive_upload(request_of(multipart((encoded, PDF))), store, DEFAULT_MAX_BYTES)
    assert upload.filename == "نامه\u200cها.pdf"
    upload.pending.discard()


def refusal(store, request, max_bytes=DEFAULT_MAX_BYTES):
    """The error a refused upload raises; nothing may stay in the store."""
    with pytest.raises((BadRequest, PayloadTooLarge, UnsupportedMediaType)) as info:
        receive_upload(request, store, max_bytes)
    assert leftovers(store) == [] and blob_files(store) == []
    return info.value


def test_a_file_over_the_limit_is_413_and_nothing_is_kept(store):
    error = refusal(store, upload_of(PNG), max_bytes=len(PNG) - 1)
    assert (error.code, list(error.errors)) == ("payload_too_large", ["file"])
    assert response_for_error(error, None).status_code == 413
    upload = receive_upload(upload_of(PNG), store, max_bytes=len(PNG))  # exactly the limit is fine
    upload.pending.discard()


def test_a_content_length_past_the_limit_is_refused_before_reading(store):
    class Unreadable(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise AssertionError("the body was read")

    request = request_of(Unreadable(), length=100 + attachments.MULTIPART_OVERHEAD + 1)
    assert refusal(store, request, max_bytes=100).code == "payload_too_large"


def test_an_html_file_named_png_is_415_unsupported_file_type(store):
    error = refusal(store, upload_of(HTML, "cat.png"))
    assert error.code == "unsupported_file_type" and list(error.errors) == ["file"]
    assert response_for_error(error, None).status_code == 415


def test_a_wrong_type_is_refused_from_its_first_bytes_without_reading_the_rest(store):
    body = multipart(('name="file"; filename="big.png"', HTML + b"x" * 500_000))
    arriving = io.BytesIO(body)
    assert refusal(store, request_of(arriving, length=len(body))).code == "unsupported_file_type"
    assert arriving.tell() <= blobs.CHUNK  # the first chunk told


@pytest.mark.parametrize("parts", [
    [('name="note"', b"hello")],  # no file part
    [('name="file"', PNG)],  # a plain field, not a file
    [('name="attachment"; filename="a.png"', PNG)],  # a file under another name
    [('name="file"; filename="a.png"', b"")],  # an empty file
    [('name="file"; filename="a.png"', PNG), ('name="file"; filename="b.png"', PNG)],  # two
])
def test_a_missing_empty_or_second_file_part_is_400_naming_file(store, parts):
    error = refusal(store, request_of(multipart(*parts)))
    assert (error.code, list(error.errors)) == ("invalid_file", ["file"])


@pytest.mark.parametrize("filename", ["../../etc/passwd", "a/b.png", "\x00.png", "x" * 300 + ".png", ""])
def test_a_bad_file_name_is_400_invalid_filename(store, filename):
    disposition = f'name="file"; filename="{filename}"'
    error = refusal(store, request_of(multipart((disposition, PNG))))
    assert (error.code, list(error.errors)) == ("invalid_filename", ["file"])


@pytest.mark.parametrize("content_type", [
    "application/json", "image/png", "application/x-www-form-urlencoded", "multipart/form-data",
    "multipart/mixed; boundary=" + BOUNDARY, "multipart/form-data; boundary=" + "b" * 71,
])
def test_a_body_that_is_not_multipart_form_data_is_415(store, content_type):
    error = refusal(store, request_of(multipart(('name="file"; filename="a.png"', PNG)), content_type))
    assert error.code == "unsupported_media_type"


def test_a_truncated_or_garbled_body_is_400(store):
    body = multipart(('name="file"; filename="a.png"', PNG))
    assert refusal(store, request_of(body[:-40])).code == "malformed_multipart"
    assert refusal(store, request_of(b"no boundary here at all")).code == "malformed_multipart"
    assert refusal(store, request_of(body[:-40], length=len(body))).code == "incomplete_body"
    assert refusal(store, request_of(body, length=None)).code == "length_required"


def test_a_chunked_body_is_limited_while_it_streams(store):
    body = multipart(('name="file"; filename="a.png"', PNG + b"\x00" * 300_000))
    request = request_of(body, length=None)
    request.environ["wsgi.input_terminated"] = True  # what eventlet says of a chunked body
    assert refusal(store, request, max_bytes=1000).code == "payload_too_large"
    request = request_of(body, length=None)
    request.environ["wsgi.input_terminated"] = True
    upload = receive_upload(request, store, DEFAULT_MAX_BYTES)
    assert upload.size == len(PNG) + 300_000
    upload.pending.discard()


def test_a_large_file_is_streamed_in_bounded_memory(store):
    data = PNG + bytes(range(256)) * (8 * 1024 * 1024 // 256)  # 8 MB
    body = multipart(('name="file"; filename="big.png"', data))
    request = request_of(body)
    tracemalloc.start()
    try:
        upload = receive_upload(request, store, DEFAULT_MAX_BYTES)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert upload.size == len(data)
    assert peak < 1_000_000, f"peak {peak:,} bytes"
    upload.pending.discard()
