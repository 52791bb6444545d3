"""Read state per agent: marking a ticket read (``POST /v1/tickets/{id}/read``),
whether a ticket is unread for the calling agent (a view, a list's items),
and each topic's unread count (``GET /v1/topics/unread``).

A mark is an ``agent.ticket_read`` event of the agent's stream
(``reads:{store}:{agent}``) and a ``ticket_reads`` row written from it in
the same transaction; ``rebuild`` folds the streams again into the same rows.
A ticket is unread for an agent while its list row's
``last_customer_version`` (``domain.reading.read_point``) is later than the
agent's mark. The rules are ``domain.reading``'s.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Iterable

import psycopg

from seedwork.caller import Caller
from seedwork.config import checked_name
from seedwork.envelope import Envelope
from seedwork.errors import Forbidden
from seedwork.instants import iso
from seedwork.store import ANY_VERSION, EventStore

from .domain import queues, reading
from .listing import scope_conditions

if TYPE_CHECKING:
    from .reads import TicketReads, ViewerOf
    from .topics import Topics

log = logging.getLogger(__name__)


def unread_condition(schema: str, agent_id: str) -> tuple[str, list]:
    """SQL over a ``ticket_list`` row: it has a customer message ``agent_id`` has not read.
    One primary-key lookup per row, in the row's own query (a page's, not one per item)."""
    s = checked_name(schema, "schema")
    return (f"(ticket_list.last_customer_version > coalesce((SELECT r.version FROM {s}.ticket_reads r "
            "WHERE r.store_id = ticket_list.store_id AND r.agent_id = %s AND r.ticket_id = ticket_list.ticket_id), 0))",
            [agent_id])


class ReadMarkTable:
    """The ``ticket_reads`` table: how far each agent has read each ticket."""

    def __init__(self, schema: str):
        self.schema = s = checked_name(schema, "schema")
        self._marked = (f"SELECT version, message_id, read_at FROM {s}.ticket_reads "
                        "WHERE store_id = %s AND agent_id = %s AND ticket_id = %s")
        self._unread = (f"SELECT l.last_customer_version, r.version FROM {s}.ticket_list l "
                        f"LEFT JOIN {s}.ticket_reads r ON r.store_id = l.store_id AND r.agent_id = %s "
                        "AND r.ticket_id = l.ticket_id WHERE l.ticket_id = %s")
        # Only forward: a mark never moves back, whatever order its events are written in.
        self._write = (f"INSERT INTO {s}.ticket_reads (store_id, agent_id, ticket_id, version, message_id, read_at) "
                       "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (store_id, agent_id, ticket_id) DO UPDATE "
                       "SET version = EXCLUDED.version, message_id = EXCLUDED.message_id, read_at = EXCLUDED.read_at "
                       f"WHERE {s}.ticket_reads.version < EXCLUDED.version")
        unsolved = ", ".join(f"'{status}'" for status in queues.UNSOLVED)
        # The partial index ticket_list_unread has exactly these conditions.
        self._by_topic = (
            f"SELECT topic_id, count(*) FROM {s}.ticket_list l WHERE l.store_id = %s AND l.handled_by = 'store' "
            f"AND l.status IN ({unsolved}) AND l.last_customer_version > 0 "
            f"AND NOT (l.tags @> ARRAY['{queues.SPAM_TAG}']::text[]) "
            f"AND NOT EXISTS (SELECT 1 FROM {s}.ticket_reads r WHERE r.store_id = l.store_id AND r.agent_id = %s "
            "AND r.ticket_id = l.ticket_id AND r.version >= l.last_customer_version)")

    def marked(self, conn: psycopg.Connection, store_id: str, agent_id: str, ticket_id: str) -> reading.Mark | None:
        row = conn.execute(self._marked, (store_id, agent_id, ticket_id)).fetchone()
        return row and reading.Mark(ticket_id, row[0], row[1], row[2])

    def unread(self, conn: psycopg.Connection, agent_id: str, ticket_id: str) -> bool:
        """Whether the ticket (as its list row is now) has a customer message the agent has not read."""
        row = conn.execute(self._unread, (agent_id, ticket_id)).fetchone()
        return bool(row) and reading.is_unread(row[0], row[1])

    def write(self, conn: psycopg.Connection, store_id: str, agent_id: str, mark: reading.Mark) -> None:
        conn.execute(self._write, (store_id, agent_id, mark.ticket_id, mark.version, mark.message_id, mark.read_at))

    def by_topic(self, conn: psycopg.Connection, store_id: str, agent_id: str,
                 scope: tuple[list[str], list]) -> dict[str | None, int]:
        """``{topic id (None: no topic): tickets with unread customer messages}``, one query."""
        where = "".join(f" AND {condition}" for condition in scope[0])
        rows = conn.execute(self._by_topic + where + " GROUP BY topic_id",
                            [store_id, agent_id, *scope[1]]).fetchall()
        return {topic_id: int(n) for topic_id, n in rows}


class ReadMarks:
    def __init__(self, store: EventStore, reads: "TicketReads", topics: "Topics", viewer_of: "ViewerOf",
                 clock: Callable[[], datetime]):
        self.store, self.reads, self.topics, self.viewer_of, self.clock = store, reads, topics, viewer_of, clock
        self.table = ReadMarkTable(store.schema)

    def mark_read(self, caller: Caller, ticket_id: str) -> dict:
        """Mark the ticket read up to its last customer message, for the caller;
        again, with nothing new from the customer, records nothing."""
        _store_staff(caller)
        stream = reading.stream_of(caller.store_id, caller.id)
        with self.store.transaction() as conn:
            # One agent's marks queue here (two tabs at once record one mark).
            self.store.lock_stream(conn, stream)
            history = self.store.load(ticket_id, conn=conn)
            state = self.reads.visible(conn, caller, ticket_id, history)
            point = reading.read_point(state, history)
            mark = self.table.marked(conn, caller.store_id, caller.id, ticket_id)
            new = reading.decide_read(caller.store_id, caller.actor, ticket_id, point, mark and mark.version,
                                      self.clock())
            if new:
                [event] = self.store.append(stream, ANY_VERSION, new, conn=conn)
                mark = reading.Mark(ticket_id, event.data["version"], event.data["message_id"], event.occurred_at)
                self.table.write(conn, caller.store_id, caller.id, mark)
        return {"ticket_id": ticket_id, "unread": False, "marked": bool(new),
                "read_up_to": mark and {"version": mark.version, "message_id": mark.message_id,
                                        "read_at": iso(mark.read_at)}}

    def unread_by_topic(self, caller: Caller) -> dict:
        """Each of the store's topics (in their order), then any other topic
        id tickets still carry (a deleted topic's), then no topic: the tickets
        with customer messages the caller has not read, among the unsolved
        ones they may see (spam left out)."""
        _store_staff(caller)
        with self.store.pool.connection() as conn:
            scope = scope_conditions(self.viewer_of(conn, caller))
            counts = self.table.by_topic(conn, caller.store_id, caller.id, scope)
        topic_ids = [t["id"] for t in self.topics.list(caller)["items"]]
        others = sorted(t for t in counts if t is not None and t not in topic_ids)
        items = [{"topic_id": t, "unread": counts.get(t, 0)} for t in (*topic_ids, *others, None)]
        return {"items": items, "total": sum(counts.values())}

    def rebuild(self) -> int:
        """Rewrite ``ticket_reads`` from the agents' read streams; the marks written."""
        s = self.table.schema
        count = 0
        with self.store.transaction() as conn:
            conn.execute(f"LOCK TABLE {s}.ticket_reads IN EXCLUSIVE MODE")
            conn.execute(f"DELETE FROM {s}.ticket_reads")
            for events in self.store.iter_streams(conn):
                count += self._write_stream(conn, events)
        log.info("rebuilt %s.ticket_reads: %d marks", s, count)
        return count

    def _write_stream(self, conn: psycopg.Connection, events: Iterable[Envelope]) -> int:
        events = list(events)
        if not events[0].stream_id.startswith(reading.STREAM_PREFIX):
            return 0
        _, store_id, agent_id = events[0].stream_id.split(":", 2)
        marks = reading.fold_marks(events)
        for mark in marks.values():
            self.table.write(conn, store_id, agent_id, mark)
        return len(marks)


def _store_staff(caller: Caller) -> None:
    if caller.kind != "agent":
        raise Forbidden("staff_only", "read marks are the store's staff's")
