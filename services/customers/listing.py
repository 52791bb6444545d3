"""Customer lists and selections from the ``cards`` projection.

``CustomerFilter`` is what "every customer matching a filter" means, both for
a list page and for a bulk group action; ``CustomerQuery`` adds the sort and
the keyset cursor, so page 500 costs what page 1 costs.
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from seedwork import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg

from seedwork.envelope import iso
from seedwork.errors import InvalidQuery

from .normalise import fold_text, like_pattern, query_terms
from .orders import moment

# sort name -> column (ties broken by id).
SORT_KEYS = {"registered": "registered_at", "name": "name_key", "orders": "orders_count", "spent": "total_spent"}
DEFAULT_SORT = "-registered"
MAX_LIMIT = 100
DEFAULT_LIMIT = 25


def _uuid(name: str, value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidQuery.field(name, "not an id") from None


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidQuery.field(name, "an integer")
    try:
        number = int(value)
    except ValueError:
        raise InvalidQuery.field(name, "an integer") from None
    if number < 0:
        raise InvalidQuery.field(name, "zero or more")
    return number


def _money(name: str, value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidQuery.field(name, "a decimal amount like 150.50") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidQuery.field(name, "a decimal amount of zero or more")
    return amount


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise InvalidQuery.field(name, "true or false")


@dataclass(frozen=True)
class CustomerFilter:
    q: str | None = None
    group: str | None = None
    blocked: bool | None = None
    flagged: bool | None = None
    city: str | None = None
    registered_from: datetime | None = None
    registered_to: datetime | None = None
    orders_min: int | None = None
    orders_max: int | None = None
    spent_min: Decimal | None = None
    spent_max: Decimal | None = None

    @classmethod
    def from_dict(cls, raw: dict) -> "CustomerFilter":
        return cls(**cls.clean(raw, allowed={f.name for f in fields(cls)}))

    @staticmethod
    def clean(raw: dict, allowed: set[str]) -> dict:
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise InvalidQuery("invalid_request", f"unknown filter {unknown[0]!r}",
                               {name: ["not a filter"] for name in unknown})
        out = {}
        for name, value in raw.items():
            if value is None:
                continue
            if name == "group":
                value = _uuid(name, value)
            elif name in ("blocked", "flagged"):
                value = _bool(name, value)
            elif name in ("registered_from", "registered_to"):
                value = moment(name, value, InvalidQuery)
            elif name in ("orders_min", "orders_max", "limit"):
                value = _int(name, value)
            elif name in ("spent_min", "spent_max"):
                value = _money(name, value)
            elif name in ("q", "city", "sort", "cursor") and not isinstance(value, str):
                raise InvalidQuery.field(name, "text")
            out[name] = value
        return out

    def where(self, store_id: str) -> tuple[list[str], list]:
        """SQL conditions over ``cards`` (alias ``c``) and their parameters."""
        where, params = ["c.store_id = %s"], [store_id]
        for term in query_terms(self.q or ""):
            where.append("c.search_text LIKE %s")
            params.append(like_pattern(term))
        if self.group is not None:
            where.append("c.groups @> ARRAY[%s]::uuid[]")
            params.append(self.group)
        for name in ("blocked", "flagged"):
            if getattr(self, name) is not None:
                where.append(f"c.{name} = %s")
                params.append(getattr(self, name))
        if self.city:
            where.append("c.city_key = %s")
            params.append(fold_text(self.city))
        for name, column, op in (("registered_from", "registered_at", ">="), ("registered_to", "registered_at", "<"),
                                 ("orders_min", "orders_count", ">="), ("orders_max", "orders_count", "<="),
                                 ("spent_min", "total_spent", ">="), ("spent_max", "total_spent", "<=")):
            if getattr(self, name) is not None:
                where.append(f"c.{column} {op} %s")
                params.append(getattr(self, name))
        return where, params


@dataclass(frozen=True)
class CustomerQuery:
    filter: CustomerFilter
    sort: str = DEFAULT_SORT
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_dict(cls, raw: dict) -> "CustomerQuery":
        page = {k: raw[k] for k in ("sort", "cursor", "limit") if raw.get(k) is not None}
        page = CustomerFilter.clean(page, {"sort", "cursor", "limit"})
        query = cls(CustomerFilter.from_dict({k: v for k, v in raw.items() if k not in ("sort", "cursor", "limit")}),
                    **page)
        if query.sort.removeprefix("-") not in SORT_KEYS:
            options = ", ".join(f"{k}, -{k}" for k in SORT_KEYS)
            raise InvalidQuery.field("sort", f"{query.sort!r} is not one of {options}")
        if not 1 <= query.limit <= MAX_LIMIT:
            raise InvalidQuery.field("limit", f"must be between 1 and {MAX_LIMIT}")
        return query


def encode_cursor(sort: str, key: Any, row_id: str) -> str:
    if isinstance(key, datetime):
        key = iso(key)
    elif isinstance(key, Decimal):
        key = str(key)
    raw = json.dumps([sort, key, row_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, key, row_id = json.loads(base64.urlsafe_b64decode(padded))
        if cursor_sort != sort:
            raise ValueError("sort changed")
        column = SORT_KEYS[sort.removeprefix("-")]
        if column == "registered_at":
            key = datetime.fromisoformat(key.replace("Z", "+00:00"))
        elif column == "orders_count":
            if type(key) is not int:  # noqa: E721 - a bool is not a count
                raise ValueError("a count is an integer")
        elif column == "total_spent":
            key = Decimal(key)
        elif not isinstance(key, str):
            raise ValueError("a name is text")
        return key, str(uuid.UUID(row_id))
    except (ValueError, TypeError, KeyError, binascii.Error, json.JSONDecodeError, AttributeError,
            InvalidOperation):
        raise InvalidQuery.field(
            "cursor", "not a cursor from this list with this sort: start again without it") from None


def list_cards(conn: psycopg.Connection, schema: str, card_select: str, store_id: str, q: CustomerQuery,
               view) -> dict:
    where, params = q.filter.where(store_id)
    descending = q.sort.startswith("-")
    key = SORT_KEYS[q.sort.removeprefix("-")]
    if q.cursor:
        after_key, after_id = decode_cursor(q.cursor, q.sort)
        where.append(f"(c.{key}, c.id) {'<' if descending else '>'} (%s, %s)")
        params += [after_key, after_id]
    direction = "DESC" if descending else "ASC"
    rows = conn.execute(
        f"SELECT {card_select}, c.{key} FROM {schema}.cards c WHERE {' AND '.join(where)} "
        f"ORDER BY c.{key} {direction}, c.id {direction} LIMIT %s",
        params + [q.limit + 1],
    ).fetchall()
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    items = [view(r[:-1]) for r in rows]
    next_cursor = encode_cursor(q.sort, rows[-1][-1], str(rows[-1][0])) if more else None
    return {"items": items, "next_cursor": next_cursor}
