"""Ticket lists from the ``ticket_list`` projection: filters, sorts and
keyset (cursor) pagination, so page 500 costs what page 1 costs."""
from __future__ import annotations

from dataclasses import dataclass, replace

import psycopg

from seedwork.errors import InvalidQuery
from seedwork.instants import iso
from seedwork.pagination import (CURSOR_HELP, DEFAULT_LIMIT, decode_cursor, encode_cursor, exactly, instant, integer,
                                 page, page_limit, seek)

from .domain import queues
from .domain.fields import PRIORITIES, STATUSES

# sort name -> the projection column it orders by (ties broken by number).
SORT_KEYS = {"created": "created_at", "updated": "updated_at", "priority": "priority_rank"}
DEFAULT_SORT = "-created"


@dataclass(frozen=True)
class TicketQuery:
    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    assignee_id: str | None = None  # "none": unassigned tickets
    team: str | None = None
    type: str | None = None
    tag: str | None = None
    customer_id: str | None = None
    topic_id: str | None = None
    q: str | None = None
    sort: str = DEFAULT_SORT
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_dict(cls, raw: dict) -> "TicketQuery":
        query = cls(**{k: tuple(v) if k in ("status", "priority") else page_limit(v) if k == "limit" else v
                       for k, v in raw.items()})
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
        page_limit(self.limit)

    def only_customer(self, customer_id: str) -> "TicketQuery":
        return replace(self, customer_id=customer_id)


def next_cursor(sort: str, key, number: int) -> str:
    """The cursor of the page after a row: the sort, the row's sort key and its number."""
    return encode_cursor(sort, key, number)


def after(cursor: str, sort: str) -> tuple:
    """``(sort key, number)`` of the row a cursor of this sort continues after;
    ``InvalidQuery`` naming ``cursor`` for any other cursor."""
    column = SORT_KEYS.get(sort.removeprefix("-"))
    if column is None:  # no list has this sort, so no cursor is of it
        raise InvalidQuery.field("cursor", CURSOR_HELP)
    key = integer if column == "priority_rank" else instant  # a rank, or a time with its offset
    _, key_value, number = decode_cursor(cursor, exactly(sort), key, integer)
    return key_value, number


def conditions(store_id: str | None, q: TicketQuery, handled_by: str | None = None) -> tuple[list[str], list]:
    """The SQL conditions (and their parameters) of a query's filters: one
    list's, or a bulk action's selection (``matching_ids``)."""
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
    for column in ("team", "type", "customer_id", "topic_id"):
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
    return where, params


def matching_ids(conn: psycopg.Connection, schema: str, store_id: str, q: TicketQuery, limit: int,
                 also: tuple[list[str], list] = ([], [])) -> list[str]:
    """The ids of up to ``limit`` of the store's tickets the query's filters
    (and ``also``: a view's conditions) match, by ticket number (a bulk
    action's selection; no sort, no cursor)."""
    where, params = conditions(store_id, q)
    where, params = where + also[0], params + also[1]
    rows = conn.execute(f"SELECT ticket_id FROM {schema}.ticket_list WHERE {' AND '.join(where)} "
                        "ORDER BY number LIMIT %s", params + [limit]).fetchall()
    return [r[0] for r in rows]


def list_tickets(conn: psycopg.Connection, schema: str, store_id: str | None, q: TicketQuery,
                 handled_by: str | None = None, also: tuple[list[str], list] = ([], []),
                 unread: tuple[str, list] | None = None) -> dict:
    """One page of a store's tickets; ``store_id`` None with ``handled_by``
    "platform" is the platform review team's queue across stores. ``also``:
    more conditions and their parameters (a view's, ``view_conditions``).
    ``unread``: an SQL expression (and its parameters) each item's ``unread``
    is, computed in the page's query (``read_marks.unread_condition``)."""
    if store_id is None and handled_by != "platform":
        raise ValueError("only the platform's queue spans stores")
    where, params = conditions(store_id, q, handled_by)
    where, params = where + also[0], params + also[1]

    key = SORT_KEYS[q.sort.removeprefix("-")]
    condition, after_params, order_by = seek(q.sort, SORT_KEYS, "number", after(q.cursor, q.sort) if q.cursor else None)
    if condition:
        where.append(condition)
    unread_sql, unread_params = unread or ("NULL", [])
    rows = conn.execute(
        f"SELECT ticket_id, number, status, status_label, priority, type, subject, customer_id, order_id, "
        f"assignee_id, team, tags, message_count, version, created_at, updated_at, handled_by, store_id, topic_id, "
        f"{unread_sql}, {key} "
        f"FROM {schema}.ticket_list WHERE {' AND '.join(where)} ORDER BY {order_by} LIMIT %s",
        unread_params + params + after_params + [q.limit + 1],
    ).fetchall()
    item = list_item if unread is None else (lambda r: {**list_item(r), "unread": r[19]})
    return page(rows, q.limit, item, lambda r: next_cursor(q.sort, r[20], r[1]))


def list_item(r: tuple) -> dict:
    return {
        "id": r[0], "number": r[1], "status": r[2], "status_label": r[3], "priority": r[4],
        "type": r[5], "subject": r[6], "customer_id": r[7], "order_id": r[8], "assignee_id": r[9],
        "team": r[10], "tags": r[11], "message_count": r[12], "version": r[13],
        "created_at": iso(r[14]), "updated_at": iso(r[15]), "handled_by": r[16], "store_id": r[17],
        "topic_id": r[18],
    }


def view_conditions(view_filter: dict, viewer: queues.Viewer | None) -> tuple[list[str], list]:
    """A view's filter (``domain.queues``) as SQL conditions on ``ticket_list``,
    for the viewer: what ``queues.matches`` and ``queues.viewer_condition``
    say in Python, which keep the counts (the tests hold the two together).
    Without a viewer, only ``matches``: what a view's counters count. What a
    team-scoped viewer may see at all is ``scope_conditions``, added by every list."""
    f = view_filter
    where: list[str] = ["handled_by = 'store'"]
    params: list = []
    if f.get("tag") != queues.SPAM_TAG:
        where.append("NOT tags @> ARRAY[%s]::text[]")
        params.append(queues.SPAM_TAG)
    for key, column in (("status", "status"), ("priority", "priority"), ("sla", "sla_state")):
        if key in f:
            where.append(f"{column} = ANY(%s)")
            params.append(list(f[key]))
    if "tag" in f:
        where.append("tags @> ARRAY[%s]::text[]")
        params.append(f["tag"])
    for key in ("assignee_id", "team"):
        value = f.get(key)
        if value == queues.NONE:
            where.append(f"{key} IS NULL")
        elif value in (queues.ME, queues.MINE) and viewer is None:
            continue
        elif value == queues.ME:
            where.append(f"{key} = %s")
            params.append(viewer.agent_id or "")
        elif value == queues.MINE:
            where.append(f"{key} = ANY(%s)")
            params.append(sorted(viewer.team_ids))
        elif value is not None:
            where.append(f"{key} = %s")
            params.append(value)
    for key in ("topic_id", "type", "customer_id", "channel"):
        if key in f:
            where.append(f"{key} = %s")
            params.append(f[key])
    return where, params


def scope_conditions(viewer: queues.Viewer) -> tuple[list[str], list]:
    """What a team-scoped agent may see (``Viewer.sees``) as SQL: their teams' tickets and their own."""
    if not viewer.scoped:
        return [], []
    return ["(team = ANY(%s) OR assignee_id = %s)"], [sorted(viewer.team_ids), viewer.agent_id or ""]
