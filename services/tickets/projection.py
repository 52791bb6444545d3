"""The ticket list: one row per ticket, derived from the ticket's folded state.

Live, ``upsert`` runs in the transaction of every append, with the state the
command handler just folded. ``rebuild`` folds every stream from the event log
again and rewrites the table; both go through ``row_from_state``, so the list
can only differ from the fold if an event was lost, which the tests check.
"""
from __future__ import annotations

import logging
from seedwork import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg

from seedwork.config import checked_name
from seedwork.store import EventStore

from .domain import PRIORITY_RANK, TicketState, fold

log = logging.getLogger(__name__)

COLUMNS = (
    "ticket_id", "store_id", "number", "status", "status_label", "priority", "priority_rank", "type",
    "subject", "customer_id", "order_id", "assignee_id", "team", "tags", "message_count", "version",
    "created_at", "updated_at", "search_text", "handled_by",
)


def row_from_state(state: TicketState) -> tuple:
    public = state.public_messages()
    search = "\n".join([state.subject, *(m.body for m in public)]).lower()
    return (
        state.id, state.store_id, state.number, state.status, state.status_label, state.priority,
        PRIORITY_RANK[state.priority], state.type, state.subject, state.customer_id, state.order_id,
        state.assignee_id, state.team, list(state.tags), len(public), state.version,
        state.created_at, state.updated_at, search, state.handled_by,
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
