"""The ticket list: one row per ticket, derived from the ticket's folded state,
and the per-store ticket numbers.

Live, ``upsert`` runs in the transaction of every append, with the row
``read_models.ReadModels`` computed from the state the command handler just
folded; its ``rebuild`` folds every stream again and rewrites the table. The
list's pages are ``listing.py``'s; the few other lookups of the table are here.
"""
from __future__ import annotations

from typing import Iterable

import psycopg

from seedwork.config import checked_name

from .domain import queues
from .domain.fields import PRIORITY_RANK
from .domain.ticket import TicketState

COLUMNS = (
    "ticket_id", "store_id", "number", "status", "status_label", "priority", "priority_rank", "type",
    "subject", "customer_id", "order_id", "assignee_id", "team", "tags", "message_count", "version",
    "created_at", "updated_at", "search_text", "handled_by", "topic_id",
)
# What agent operations add (read_models.py computes them: channel, SLA, waiting on staff,
# the version of the last customer message: domain.reading).
DERIVED = ("channel", "sla_state", "sla_due_at", "sla_policy_version", "awaiting_staff", "sla",
           "last_customer_version")
ALL_COLUMNS = COLUMNS + DERIVED
# What a view reads of a row (domain.queues.Row), in its field order.
VIEW_COLUMNS = ("status", "priority", "assignee_id", "team", "topic_id", "type", "tags", "customer_id", "channel",
                "sla_state", "handled_by")


def row_from_state(state: TicketState, derived: dict) -> tuple:
    """The list row: the ticket's own fields, then ``DERIVED`` (from ``derived``)."""
    public = state.public_messages()
    search = "\n".join([state.subject, *(m.body for m in public)]).lower()
    return (
        state.id, state.store_id, state.number, state.status, state.status_label, state.priority,
        PRIORITY_RANK[state.priority], state.type, state.subject, state.customer_id, state.order_id,
        state.assignee_id, state.team, list(state.tags), len(public), state.version,
        state.created_at, state.updated_at, search, state.handled_by, state.topic_id,
    ) + tuple(derived[c] for c in DERIVED)


class TicketList:
    def __init__(self, schema: str):
        self.schema = s = checked_name(schema, "schema")
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in ALL_COLUMNS[1:])
        self._upsert = (
            f"INSERT INTO {s}.ticket_list ({', '.join(ALL_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(ALL_COLUMNS))}) "
            f"ON CONFLICT (ticket_id) DO UPDATE SET {updates} "
            # Never move a row back to an older version of the ticket. The same
            # version again is a recomputation (an SLA policy changed).
            f"WHERE {s}.ticket_list.version <= EXCLUDED.version"
        )
        self._next_number = (
            f"INSERT INTO {s}.ticket_numbers (store_id, last) VALUES (%s, 1001) "
            f"ON CONFLICT (store_id) DO UPDATE SET last = {s}.ticket_numbers.last + 1 RETURNING last"
        )
        self._cells = f"SELECT ticket_id, team, assignee_id FROM {s}.ticket_list WHERE ticket_id = ANY(%s)"
        self._sla = f"SELECT sla FROM {s}.ticket_list WHERE ticket_id = %s AND version = %s"
        self._current = f"SELECT {', '.join(VIEW_COLUMNS)} FROM {s}.ticket_list WHERE ticket_id = %s FOR UPDATE"
        self._platform_handled = (f"SELECT ticket_id FROM {s}.ticket_list "
                                  "WHERE ticket_id = ANY(%s) AND handled_by = 'platform'")
        self._open_delayed = (
            f"SELECT ticket_id FROM {s}.ticket_list WHERE store_id = %s AND customer_id = %s "
            "AND order_id = %s AND type = 'order_delayed' AND status <> 'closed' ORDER BY created_at DESC LIMIT 1"
        )

    def next_number(self, conn: psycopg.Connection, store_id: str) -> int:
        """The store's next ticket number (#1042), drawn in the opening's transaction."""
        return conn.execute(self._next_number, (store_id,)).fetchone()[0]

    def platform_handled(self, conn: psycopg.Connection, ticket_ids: Iterable[str]) -> set[str]:
        """Which of these tickets the platform handles."""
        return {row[0] for row in conn.execute(self._platform_handled, (list(ticket_ids),))}

    def open_delayed_ticket(self, conn: psycopg.Connection, store_id: str, customer_id: str,
                            order_id: str) -> str | None:
        """The shopper's late-order ticket for this order that is not closed yet, if any."""
        row = conn.execute(self._open_delayed, (store_id, customer_id, order_id)).fetchone()
        return row and row[0]

    def current(self, conn: psycopg.Connection, ticket_id: str) -> queues.Row | None:
        """The ticket's row as views read it (locked until the transaction ends), or None."""
        found = conn.execute(self._current, (ticket_id,)).fetchone()
        return None if found is None else queues.Row(*found[:6], tuple(found[6]), *found[7:])

    def cells(self, conn: psycopg.Connection, ticket_ids: Iterable[str]) -> list[tuple[str, str | None, str | None]]:
        """``(ticket id, team, assignee)`` of these tickets (other ids: left out)."""
        return conn.execute(self._cells, (list(ticket_ids),)).fetchall()

    def sla_of(self, conn: psycopg.Connection, ticket_id: str, version: int) -> dict | None:
        """The SLA the row shows, if the row is of this version of the ticket."""
        found = conn.execute(self._sla, (ticket_id, version)).fetchone()
        return found and found[0]

    def upsert(self, conn: psycopg.Connection, row: tuple) -> bool:
        """Write a ``row_from_state`` row; False if the table already shows a newer version."""
        return conn.execute(self._upsert, row).rowcount == 1

    def insert_many(self, conn: psycopg.Connection, rows: list[tuple]) -> int:
        if rows:
            with conn.cursor() as cur:
                cur.executemany(self._upsert, rows)
        return len(rows)
