"""The rules for what people and systems send: each check returns the
normalised value or raises ``InvalidCommand`` naming the field. Free text is
stripped and has card numbers redacted before its length is checked, so
every stored value keeps within the documented limits. Plain Python.
"""
from __future__ import annotations

import re
from typing import Any

from seedwork.cards import contains_card_number, redact_card_numbers
from seedwork.errors import InvalidCommand

from .commands import Attachment

STATUSES = ("open", "pending", "on_hold", "under_review", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_RANK = {priority: rank for rank, priority in enumerate(PRIORITIES)}

SUBJECT_MAX, BODY_MAX, COMMENT_MAX, LABEL_MAX = 200, 10_000, 2_000, 100
ID_MAX = 200
MAX_TAGS, MAX_ATTACHMENTS = 20, 10
FILENAME_MAX, URL_MAX, CONTENT_TYPE_MAX = 255, 2_000, 255
TAG = re.compile(r"[a-z0-9][a-z0-9_:\-]{0,49}")
TYPE = re.compile(r"[a-z][a-z0-9_]{0,49}")
# The types clients rely on (docs/self-service.md). Other slugs stay open to
# staff as their own categories; the reserved ones only come from their flow,
# which carries the data they need (payment details, requested changes).
TICKET_TYPES = ("general", "order_delayed", "product_exchange", "charged_without_order", "customer_data_change")
RESERVED_TYPES = ("charged_without_order", "customer_data_change")
HANDLERS = ("store", "platform")
# Where a conversation came from: the help widget, email, the contact form, a
# phone call typed in by staff, live chat, messaging apps, or another system.
CHANNELS = ("widget", "email", "contact_form", "phone", "chat", "whatsapp", "instagram", "api")


def _storable(value: str, name: str) -> str:
    # PostgreSQL's jsonb refuses NUL, and lone surrogates are not UTF-8.
    if "\x00" in value:
        raise InvalidCommand.field(name, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidCommand.field(name, "must be valid Unicode text") from None
    return value


def text(value: Any, name: str, max_len: int, *, optional: bool = False) -> str | None:
    """Free text typed by a person: stripped, card numbers redacted, 1..max_len characters."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidCommand.field(name, "must be a string")
    value = redact_card_numbers(_storable(value, name).strip())
    if not value:
        if optional:
            return None
        raise InvalidCommand.field(name, "must not be empty")
    if len(value) > max_len:
        raise InvalidCommand.field(name, f"must be at most {max_len} characters")
    return value


def identifier(value: Any, name: str, *, optional: bool = False) -> str | None:
    """An id another system gave (customer, order, agent, team): kept exactly as sent."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand.field(name, "must be a non-empty string")
    if len(value) > ID_MAX:
        raise InvalidCommand.field(name, f"must be at most {ID_MAX} characters")
    return _storable(value, name)


def number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidCommand.field("number", "must be a positive integer")
    return value


def priority(value: Any) -> str:
    if value not in PRIORITIES:
        raise InvalidCommand.field("priority", f"must be one of {', '.join(PRIORITIES)}")
    return value


def ticket_type(value: Any, *, reserved_ok: bool = False) -> str:
    if not isinstance(value, str) or not TYPE.fullmatch(value):
        raise InvalidCommand.field("type", "must be lowercase letters, digits and _, starting with a letter (max 50)")
    _no_card(value, "type")
    if value in RESERVED_TYPES and not reserved_ok:
        raise InvalidCommand.field("type", f"{value} tickets come only from their self-service flow")
    return value


def tag(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidCommand.field("tag", "must be a string")
    value = value.strip().lower()
    if not TAG.fullmatch(value):
        raise InvalidCommand.field("tag", "must be lowercase letters, digits, _, : and -, starting with a "
                                          "letter or digit (max 50)")
    _no_card(value, "tag")
    return value


def status(value: Any) -> str:
    if value not in STATUSES:
        raise InvalidCommand.field("status", f"must be one of {', '.join(STATUSES)}")
    return value


def channel(value: Any) -> str:
    if value not in CHANNELS:
        raise InvalidCommand.field("channel", f"must be one of {', '.join(CHANNELS)}")
    return value


def default_channel(actor_kind: str) -> str:
    """A ticket's channel when nobody named one: staff's through the API, the rest through the widget."""
    return "api" if actor_kind == "agent" else "widget"


def score(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidCommand.field("score", "must be an integer from 1 to 5")
    return value


def attachments(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, (tuple, list)):
        raise InvalidCommand.field("attachments", "must be a list")
    if len(value) > MAX_ATTACHMENTS:
        raise InvalidCommand.field("attachments", f"at most {MAX_ATTACHMENTS} per message")
    return [_attachment(item, n) for n, item in enumerate(value, 1)]


def _attachment(item: Any, n: int) -> dict[str, Any]:
    def refuse(message: str) -> InvalidCommand:
        return InvalidCommand.field("attachments", f"#{n}: {message}")

    if not isinstance(item, Attachment):
        raise refuse("must be an attachment")
    try:
        filename = text(item.filename, "attachments", FILENAME_MAX)
    except InvalidCommand:
        raise refuse(f"filename must be 1 to {FILENAME_MAX} characters") from None
    if item.id is not None:
        return _uploaded(item, filename, refuse)
    url = item.url
    if (not isinstance(url, str) or not url.lower().startswith(("https://", "http://"))
            or len(url) > URL_MAX or url.strip() != url or url.lower() in ("https://", "http://")):
        raise refuse(f"url must start with https:// or http:// (max {URL_MAX} characters)")
    _storable(url, "attachments")
    content_type = item.content_type
    if content_type is not None and (not isinstance(content_type, str) or not content_type
                                     or len(content_type) > CONTENT_TYPE_MAX):
        raise refuse(f"content_type must be a string of at most {CONTENT_TYPE_MAX} characters")
    if content_type is not None:
        _storable(content_type, "attachments")
    size = item.size
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise refuse("size must be an integer >= 0")
    return {"filename": filename, "url": url, "content_type": content_type, "size": size}


SHA256 = re.compile(r"[0-9a-f]{64}")


def _uploaded(item: Attachment, filename: str, refuse) -> dict[str, Any]:
    # A file uploaded to the ticket: the application resolved it from its
    # record, so these only guard against a caller building one by hand.
    if not isinstance(item.id, str) or not 1 <= len(item.id) <= ID_MAX:
        raise refuse("id must be an attachment id")
    if not isinstance(item.sha256, str) or not SHA256.fullmatch(item.sha256):
        raise refuse("sha256 must be 64 lowercase hex digits")
    if not isinstance(item.content_type, str) or isinstance(item.size, bool) or not isinstance(item.size, int):
        raise refuse("an uploaded file has a content type and a size")
    return {"id": item.id, "filename": filename, "url": None, "content_type": item.content_type,
            "size": item.size, "sha256": item.sha256}


def _no_card(value: str, name: str) -> None:
    # Codes cannot be masked without breaking their pattern: refuse them instead.
    if contains_card_number(value):
        raise InvalidCommand.field(name, "must not contain a payment card number")


# The files a ticket accepts as uploads (the gateway keeps their bytes).
CONTENT_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


def uploaded_file(meta: dict) -> dict[str, Any]:
    """What the gateway says of a file it stored: ``{sha256, content_type, size, filename}`` checked."""
    sha256, content_type, size = meta.get("sha256"), meta.get("content_type"), meta.get("size")
    if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
        raise InvalidCommand.field("sha256", "64 lowercase hex digits")
    if content_type not in CONTENT_TYPES:
        raise InvalidCommand.field("content_type", f"one of {', '.join(CONTENT_TYPES)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidCommand.field("size", "an integer >= 0")
    return {"sha256": sha256, "content_type": content_type, "size": size,
            "filename": text(meta.get("filename"), "filename", FILENAME_MAX)}


def echo(key: object) -> str:
    """A caller's key, safe to repeat in an error: card numbers masked, length capped."""
    return redact_card_numbers(str(key))[:60]
