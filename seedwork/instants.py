"""Moments in time as every Seed API and event writes them: RFC 3339 in UTC
with a ``Z`` (``iso``), read back from any ISO 8601 date-time with a UTC
offset (``parse_instant``). One place, so a cursor, an order's timestamps
and a list filter accept and refuse the same strings."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .errors import InvalidCommand

INSTANT_FORMAT = "an ISO 8601 date-time with a UTC offset"


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: how every Seed API and event writes time."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def parse_instant(value: Any, name: str = "time", error: type[InvalidCommand] = InvalidCommand) -> datetime:
    """``value`` as an aware ``datetime``: a string like ``2024-05-01T09:00:00Z``
    or ``...+03:00``, or an aware ``datetime``. Anything else (no offset, not
    a date-time) raises ``error`` naming ``name``: ``InvalidCommand`` (422) for
    a body, ``InvalidQuery`` (400) for a query or a cursor."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise error.field(name, INSTANT_FORMAT) from None
    else:
        raise error.field(name, INSTANT_FORMAT)
    if parsed.tzinfo is None:
        raise error.field(name, INSTANT_FORMAT)
    return parsed
