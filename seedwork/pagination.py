"""Keyset pagination: the cursor a list hands out with a page, and the page
limit, shared by every list of every service.

A cursor is the sort key and id of the last row shown, as base64url JSON
(``encode_cursor("-created", moment, 1042)``). ``decode_cursor`` reads it
back with one reader per value, each of which refuses what it does not
expect, so any cursor that did not come from this list with this sort is a
400 (``InvalidQuery`` naming ``cursor``), never a SQL error or a wrong page.

A list reads ``limit + 1`` rows from where the cursor points (``seek``: the
condition and the order) and answers ``page(rows, limit, ...)``: the first
``limit`` rows and, if there was one more, the cursor of the page after.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping, Sequence

from .errors import InvalidQuery
from .instants import iso, parse_instant

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
CURSOR_HELP = "not a cursor from this list with this sort: start again without it"
MAX_CURSOR = 1000  # characters; the gateway allows 500
MAX_MAGNITUDE = 20  # a decimal key's power of ten either way: far past any sum of money, far inside numeric's

Reader = Callable[[Any], Any]


def page_limit(value: Any = None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """The number of rows a page may hold: ``default`` when not given; a whole
    number from 1 to ``maximum`` (a query string's digits are taken too)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidQuery.field("limit", "an integer")
    try:
        limit = int(value)
    except ValueError:
        raise InvalidQuery.field("limit", "an integer") from None
    if not 1 <= limit <= maximum:
        raise InvalidQuery.field("limit", f"must be between 1 and {maximum}")
    return limit


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    return value


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([_json_ready(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *readers: Reader) -> tuple:
    """The cursor's values, each through its reader; ``InvalidQuery`` on anything else."""
    try:
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR:
            raise ValueError("not a cursor")
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(readers):
            raise ValueError("another list's cursor")
        return tuple(read(value) for read, value in zip(readers, values))
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error, InvalidOperation, InvalidQuery,
            UnicodeDecodeError):
        raise InvalidQuery.field("cursor", CURSOR_HELP) from None


def seek(sort: str, columns: Mapping[str, str], tiebreak: str, after: tuple | None) -> tuple[str | None, list, str]:
    """For a list sorted by ``sort`` ("created" or "-created", one of
    ``columns``' keys; ties broken by the unique ``tiebreak`` column): the
    condition that starts after the cursor's ``(key, id)`` (None for the first
    page), its parameters, and the ORDER BY."""
    descending = sort.startswith("-")
    column = columns[sort.removeprefix("-")]
    direction = "DESC" if descending else "ASC"
    order_by = f"{column} {direction}, {tiebreak} {direction}"
    if after is None:
        return None, [], order_by
    return f"({column}, {tiebreak}) {'<' if descending else '>'} (%s, %s)", list(after), order_by


def page(rows: Sequence, limit: int, view: Callable[[Any], Any], cursor_of: Callable[[Any], str]) -> dict:
    """A list's answer from the ``limit + 1`` rows it read: the first ``limit``
    as ``view`` shows them, and the cursor of the page after (``cursor_of``
    its last row shown), None on the last page."""
    shown = rows[:limit]
    return {"items": [view(row) for row in shown], "next_cursor": cursor_of(shown[-1]) if len(rows) > limit else None}


# --- readers: each returns the value as the query needs it, or raises ----------------


def exactly(expected: Any) -> Reader:
    """The value the list put there (its sort, say): a cursor of another sort is refused."""
    def read(value: Any) -> Any:
        if value != expected or type(value) is not type(expected):
            raise ValueError(f"expected {expected!r}")
        return value
    return read


def integer(value: Any) -> int:
    if type(value) is not int:  # a bool is an int too, and is no row's key
        raise ValueError("an integer")
    return value


def text(value: Any) -> str:
    # PostgreSQL text holds no NUL, and psycopg cannot send a lone surrogate (JSON's "\ud800").
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("text")
    value.encode()  # raises UnicodeEncodeError, a ValueError, on a surrogate
    return value


def matching(pattern: re.Pattern) -> Reader:
    """Text the list's ids match (an order id, say): anything else would only find no row."""
    def read(value: Any) -> str:
        if not pattern.match(text(value)):
            raise ValueError(f"matching {pattern.pattern}")
        return value
    return read


def instant(value: Any) -> datetime:
    return parse_instant(value, "cursor", InvalidQuery) if isinstance(value, str) else _refuse("a time")


def decimal(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValueError("a decimal string")
    amount = Decimal(value)
    # "1e999999999" is a Decimal but no numeric: PostgreSQL would refuse it with a 500.
    if not amount.is_finite() or abs(amount.adjusted()) > MAX_MAGNITUDE:
        raise ValueError("a finite amount of a sane size")
    return amount


def uuid_text(value: Any) -> str:
    return str(uuid.UUID(text(value)))


def _refuse(what: str):
    raise ValueError(what)
