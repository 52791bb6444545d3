"""Webhook secrets, signatures and event subscriptions (Standard Webhooks).

A delivery carries ``webhook-id`` (the event id: receivers de-duplicate on
it), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: one
``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` per active secret,
space-separated, so a receiver verifies with either secret while a rotation
overlaps. Signatures come from the ``standardwebhooks`` library itself, the
one receivers verify with.
"""
from __future__ import annotations

import base64
import re
import secrets as random_bytes
from datetime import datetime, timezone

from standardwebhooks import Webhook

from seedwork.errors import InvalidCommand

SECRET_PREFIX = "whsec_"
MAX_PATTERNS = 50
_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)\Z")


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(random_bytes.token_bytes(32)).decode("ascii")


def sign_headers(event_id: str, body: bytes, secrets: list[str], timestamp: int) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery, signed with every secret given."""
    if not secrets:
        raise ValueError("a webhook delivery needs at least one secret")
    moment = datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
    data = body.decode("utf-8")
    signatures = [Webhook(secret).sign(msg_id=event_id, timestamp=moment, data=data) for secret in secrets]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": " ".join(signatures),
    }


def matches(patterns: list[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to ``patterns`` receives ``event_type``:
    an exact type, ``prefix.*`` (any type below ``prefix``) or ``*`` (all)."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def clean_patterns(value) -> list[str]:
    """The ``events`` of an endpoint: 1 to 50 event types or prefixes, without repeats, in order."""
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidCommand.field("events", "must be a list of 1 to 50 event types or prefixes")
    if len(value) > MAX_PATTERNS:
        raise InvalidCommand.field("events", f"must list at most {MAX_PATTERNS} event types or prefixes")
    clean: list[str] = []
    for pattern in value:
        if not isinstance(pattern, str) or not _PATTERN.match(pattern):
            raise InvalidCommand.field(
                "events", f"{pattern!r} is not an event type (ticket.opened), a prefix (ticket.*) or *")
        if pattern not in clean:
            clean.append(pattern)
    return clean
