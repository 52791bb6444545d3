"""Ticket lists from the ``ticket_list`` projection: filters, sorts and
keyset (cursor) pagination, so page 500 costs what page 1 costs."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from datetime import datetime

from seedwork import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg

from seedwork.envelope import iso
from seedwork.errors import InvalidQuery

from .domain import PRIORITIES, STATUSES

# sort name -> the projection column it orders by (ties broken by number).
SORT_KEYS = {"created": "created_at", "updated": "updated_at", "priority": "priority_rank"}
DEFAULT_SORT = "-created"
MAX_LIMIT = 100
DEFAULT_LIMIT = 25


@dataclass(frozen=True)
class TicketQuery:
    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    assignee_id: str | None = None  # "none": unassigned tickets
    team: str | None = None
    type: str | None = None
    tag: str | None = None
    customer_id: str | None = None
    q: str | None = None
    sort: str = DEFAULT_SORT
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_dict(cls, raw: dict) -> "TicketQuery":
        query = cls(**{k: tuple(v) if k in ("status", "priority") else v for k, v in raw.items()})
        query.check()
        return query

    def check(self) -> None:
        for name, allowed in (("status", STATUSES), ("priority", PRIORITIES)):
            for value in getattr(self, name):
                if value not in allowed:
                    raise InvalidQuery.field(name, f"{value!r} is not one of {', '.join(allowed)}")
        if self.sort.removeprefix("-") not in SORT_KEYS:
            options = ", ".join(f"{k}, -{k}" for k in SORT_KEYS)
            raise InvalidQuery.field("sort", f"{self.sort!r} is not one of {options}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery.field("limit", f"must be between 1 and {MAX_LIMIT}")

    def only_customer(self, customer_id: str) -> "TicketQuery":
        return replace(self, customer_id=customer_id)


def encode_cursor(sort: str, key, number: int) -> str:
    raw = json.dumps([sort, iso(key) if isinstance(key, datetime) else key, number])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, key, number = json.loads(base64.urlsafe_b64decode(padded))
        if cursor_sort != sort:
            raise ValueError("sort changed")
        if SORT_KEYS[sort.removeprefix("-")] == "priority_rank":
            if type(key) is not int:  # noqa: E721 - bool is an int too, and is not a rank
                raise ValueError("a priority rank is an integer")
        else:
            key = datetime.fromisoformat(key.replace("Z", "+00:00"))
            if key.tzinfo is None:
                raise ValueError("a cursor's time has a UTC offset")
        if type(number) is not int:  # noqa: E721
            raise ValueError("a ticket number is an integer")
        return key, number
    except (ValueError, TypeError, KeyError, binascii.Error, json.JSONDecodeError, AttributeError):
        raise InvalidQuery.field(
            "cursor", "not a cursor from this list with this sort: start again without it") from None


def list_tickets(conn: psycopg.Connection, schema: str, store_id: str | None, q: TicketQuery,
                 handled_by: str | None = None) -> dict:
    """One page of a store's tickets; ``store_id`` None with ``handled_by``
    "platform" is the platform review team's queue across stores."""
    if store_id is None and handled_by != "platform":
        raise ValueError("only the platform's queue spans stores")
    where, params = ["true"], []
    if store_id is not None:
        where, params = ["store_id = %s"], [store_id]
    if handled_by is not None:
        where.append("handled_by = %s")
        params.append(handled_by)
    if q.status:
        where.append("status = ANY(%s)")
        params.append(list(q.status))
    if q.priority:
        where.append("priority = ANY(%s)")
        params.append(list(q.priority))
    if q.assignee_id == "none":
        where.append("assignee_id IS NULL")
    elif q.assignee_id is not None:
        where.append("assignee_id = %s")
        params.append(q.assignee_id)
    for column in ("team", "type", "customer_id"):
        if getattr(q, column) is not None:
            where.append(f"{column} = %s")
            params.append(getattr(q, column))
    if q.tag is not None:
        where.append("tags @> ARRAY[%s]::text[]")
        params.append(q.tag.strip().lower())
    if q.q:
        escaped = q.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("search_text LIKE %s")
        params.append(f"%{escaped}%")

    descending = q.sort.startswith("-")
    key = SORT_KEYS[q.sort.removeprefix("-")]
    if q.cursor:
        after_key, after_number = decode_cursor(q.cursor, q.sort)
        where.append(f"({key}, number) {'<' if descending else '>'} (%s, %s)")
        params += [after_key, after_number]
    direction = "DESC" if descending else "ASC"
    rows = conn.execute(
        f"SELECT ticket_id, number, status, status_label, priority, type, subject, customer_id, order_id, "
        f"assignee_id, team, tags, message_count, version, created_at, updated_at, handled_by, store_id, {key} "
        f"FROM {schema}.ticket_list WHERE {' AND '.join(where)} "
        f"ORDER BY {key} {direction}, number {direction} LIMIT %s",
        params + [q.limit + 1],
    ).fetchall()
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    items = [
        {
            "id": r[0], "number": r[1], "status": r[2], "status_label": r[3], "priority": r[4],
            "type": r[5], "subject": r[6], "customer_id": r[7], "order_id": r[8], "assignee_id": r[9],
            "team": r[10], "tags": r[11], "message_count": r[12], "version": r[13],
            "created_at": iso(r[14]), "updated_at": iso(r[15]), "handled_by": r[16], "store_id": r[17],
        }
        for r in rows
    ]
    next_cursor = encode_cursor(q.sort, rows[-1][18], rows[-1][1]) if more else None
    return {"items": items, "next_cursor": next_cursor}
