"""Customer lists and selections from the ``cards`` projection.

``CustomerFilter`` is what "every customer matching a filter" means, both for
a list page and for a bulk group action; ``CustomerQuery`` adds the sort and
the keyset cursor, so page 500 costs what page 1 costs.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg

from seedwork.errors import InvalidQuery
from seedwork.instants import parse_instant
from seedwork.pagination import (DEFAULT_LIMIT, decimal, decode_cursor, encode_cursor, exactly, instant, integer, page,
                                 page_limit, seek, text, uuid_text)

from .normalise import fold_text, like_pattern, query_terms

# sort name -> column (ties broken by id), and how a cursor holds its value.
SORT_KEYS = {"registered": "registered_at", "name": "name_key", "orders": "orders_count", "spent": "total_spent"}
CURSOR_READERS = {"registered_at": instant, "name_key": text, "orders_count": integer, "total_spent": decimal}
DEFAULT_SORT = "-registered"


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
                value = parse_instant(value, name, InvalidQuery)
            elif name == "limit":
                value = page_limit(value)
            elif name in ("orders_min", "orders_max"):
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
        return query


def list_cards(conn: psycopg.Connection, schema: str, card_select: str, store_id: str, q: CustomerQuery,
               view) -> dict:
    where, params = q.filter.where(store_id)
    key = SORT_KEYS[q.sort.removeprefix("-")]
    after = decode_cursor(q.cursor, exactly(q.sort), CURSOR_READERS[key], uuid_text)[1:] if q.cursor else None
    condition, after_params, order_by = seek(q.sort, {k: f"c.{v}" for k, v in SORT_KEYS.items()}, "c.id", after)
    if condition:
        where.append(condition)
    rows = conn.execute(
        f"SELECT {card_select}, c.{key} FROM {schema}.cards c WHERE {' AND '.join(where)} "
        f"ORDER BY {order_by} LIMIT %s", params + after_params + [q.limit + 1]).fetchall()
    return page(rows, q.limit, lambda r: view(r[:-1]), lambda r: encode_cursor(q.sort, r[-1], r[0]))
