"""The ticket list: one row per ticket, derived from the ticket's folded state,
and the per-store ticket numbers.

Live, ``upsert`` runs in the transaction of every append, with the state the
command handler just folded. ``rebuild`` folds every stream from the event log
again and rewrites the table; both go through ``row_from_state``, so the list
can only differ from the fold if an event was lost, which the tests check.
The list's pages are ``listing.py``'s; the few other lookups of the table are here.
"""
from __future__ import annotations

import logging
from typing import Iterable

import psycopg

from seedwork.config import checked_name
from seedwork.store import EventStore

from .domain.fields import PRIORITY_RANK
from .domain.ticket import TicketState, fold

log = logging.getLogger(__name__)

COLUMNS = (
    "ticket_id", "store_id", "number", "status", "status_label", "priority", "priority_rank", "type",
    "subject", "customer_id", "order_id", "assignee_id", "team", "tags", "message_count", "version",
    "created_at", "updated_at", "search_text", "handled_by", "topic_id",
)


def row_from_state(state: TicketState) -> tuple:
    public = state.public_messages()
    search = "\n".join([state.subject, *(m.body for m in public)]).lower()
    return (
        state.id, state.store_id, state.number, state.status, state.status_label, state.priority,
        PRIORITY_RANK[state.priority], state.type, state.subject, state.customer_id, state.order_id,
        state.assignee_id, state.team, list(state.tags), len(public), state.version,
        state.created_at, state.updated_at, search, state.handled_by, state.topic_id,
    )


class TicketList:
    def __init__(self, schema: str):
        self.schema = s = checked_name(schema, "schema")
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
        self._upsert = (
            f"INSERT INTO {s}.ticket_list ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
            f"ON CONFLICT (ticket_id) DO UPDATE SET {updates} "
            # Never move a row back to an older version of the ticket.
            f"WHERE {s}.ticket_list.version < EXCLUDED.version"
        )
        self._next_number = (
            f"INSERT INTO {s}.ticket_numbers (store_id, last) VALUES (%s, 1001) "
            f"ON CONFLICT (store_id) DO UPDATE SET last = {s}.ticket_numbers.last + 1 RETURNING last"
        )
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

    def upsert(self, conn: psycopg.Connection, state: TicketState) -> None:
        conn.execute(self._upsert, row_from_state(state))

    def rebuild(self, store: EventStore, batch: int = 1000) -> int:
        """Rewrite the table from the event log; returns the number of tickets.

        The table lock waits for running writers and holds new ones back until
        the rebuilt table commits: their rows land on top, never underneath.
        """
        s = self.schema
        count = 0
        with store.transaction() as conn:
            conn.execute(f"LOCK TABLE {s}.ticket_list IN EXCLUSIVE MODE")
            conn.execute(f"DELETE FROM {s}.ticket_list")
            rows = []
            with conn.cursor() as cur:
                for events in store.iter_streams(conn):
                    if events[0].type != "ticket.opened":
                        continue  # settings, canned responses, self-service answers: not tickets
                    rows.append(row_from_state(fold(events)))
                    if len(rows) >= batch:
                        cur.executemany(self._upsert, rows)
                        count += len(rows)
                        rows.clear()
                if rows:
                    cur.executemany(self._upsert, rows)
                    count += len(rows)
        log.info("rebuilt %s.ticket_list: %d tickets", s, count)
        return count
