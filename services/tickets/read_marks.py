"""Read state per agent: marking a ticket read (``POST /v1/tickets/{id}/read``),
whether a ticket is unread for the calling agent (a view, a list's items),
and each topic's unread count (``GET /v1/topics/unread``).

A mark is an ``agent.ticket_read`` event of the agent's stream
(``reads:{store}:{agent}``) and a ``ticket_reads`` row written from it in
the same transaction; ``rebuild`` folds the streams again into the same rows.
A ticket is unread for an agent while its list row's
``last_customer_version`` (``domain.reading.read_point``) is later than the
agent's mark. Each topic's unread count is kept as counters (``InboxCounts``),
moved in the transaction of every ticket change and every read, never counted
per request. The rules are ``domain.reading``'s.
"""
from __future__ import annotations

import logging
import time
import zlib
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
from .projection import ALL_COLUMNS

if TYPE_CHECKING:
    from .reads import TicketReads, ViewerOf
    from .topics import Topics

log = logging.getLogger(__name__)

SHARDS = 4  # counter rows per cell (as read_models.ViewCounts): writers of one busy cell spread over them
ATTEMPTS = 3  # a read that lost a deadlock (with a merge moving the same counters) runs again
_ENTRY = ("status", "handled_by", "tags", "topic_id", "team", "assignee_id", "last_customer_version")
_IN_ROW = tuple(ALL_COLUMNS.index(c) for c in _ENTRY)


def shard_of(ticket_id: str) -> int:
    return zlib.crc32(ticket_id.encode()) % SHARDS


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
        self._inbox = f"FROM {s}.ticket_list WHERE store_id = %s AND {inbox_condition()}"

    def marked(self, conn: psycopg.Connection, store_id: str, agent_id: str, ticket_id: str) -> reading.Mark | None:
        row = conn.execute(self._marked, (store_id, agent_id, ticket_id)).fetchone()
        return row and reading.Mark(ticket_id, row[0], row[1], row[2])

    def unread(self, conn: psycopg.Connection, agent_id: str, ticket_id: str) -> bool:
        """Whether the ticket (as its list row is now) has a customer message the agent has not read."""
        row = conn.execute(self._unread, (agent_id, ticket_id)).fetchone()
        return bool(row) and reading.is_unread(row[0], row[1])

    def write(self, conn: psycopg.Connection, store_id: str, agent_id: str, mark: reading.Mark) -> None:
        conn.execute(self._write, (store_id, agent_id, mark.ticket_id, mark.version, mark.message_id, mark.read_at))

    def counted(self, conn: psycopg.Connection, store_id: str, agent_id: str,
                scope: tuple[list[str], list]) -> dict[str | None, int]:
        """What ``InboxCounts`` keeps, counted from the tables instead: one
        query whose cost grows with the store's open tickets (the tests hold the
        two equal; docs/agent-operations/forward-and-unread.md compares them)."""
        unread, params = unread_condition(self.schema, agent_id)
        where = "".join(f" AND {condition}" for condition in [unread, *scope[0]])
        rows = conn.execute(f"SELECT topic_id, count(*) {self._inbox}{where} GROUP BY topic_id",
                            [store_id, *params, *scope[1]]).fetchall()
        return {topic_id: int(n) for topic_id, n in rows}


def inbox_condition(table: str = "") -> str:
    """``domain.reading.inbox_entry``'s rule as SQL over ``ticket_list`` (``table``: its alias, if any)."""
    t = f"{table}." if table else ""
    unsolved = ", ".join(f"'{status}'" for status in reading.INBOX_STATUSES)
    return (f"{t}handled_by = 'store' AND {t}status IN ({unsolved}) AND {t}last_customer_version > 0 "
            f"AND NOT ({t}tags @> ARRAY['{queues.SPAM_TAG}']::text[])")


class InboxCounts:
    """The ``inbox_counts`` and ``inbox_read_counts`` tables: each topic's
    inbox by cell, and what each agent has read of it (``domain.reading``)."""

    def __init__(self, schema: str):
        self.schema = s = checked_name(schema, "schema")
        self._entry = f"SELECT {', '.join(_ENTRY)} FROM {s}.ticket_list WHERE ticket_id = %s"
        self._marks = f"SELECT agent_id, version FROM {s}.ticket_reads WHERE store_id = %s AND ticket_id = %s"
        self._add = (f"INSERT INTO {s}.inbox_counts (store_id, topic, team, assignee, shard, n) "
                     "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (store_id, topic, team, assignee, shard) "
                     f"DO UPDATE SET n = {s}.inbox_counts.n + EXCLUDED.n")
        self._add_read = (f"INSERT INTO {s}.inbox_read_counts (store_id, agent_id, topic, team, assignee, shard, n) "
                          "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (store_id, agent_id, topic, team, "
                          f"assignee, shard) DO UPDATE SET n = {s}.inbox_read_counts.n + EXCLUDED.n")
        self._cells = (f"SELECT topic, team, assignee, sum(n) FROM {s}.inbox_counts WHERE store_id = %s "
                       "GROUP BY topic, team, assignee HAVING sum(n) <> 0")
        self._read_cells = (f"SELECT topic, team, assignee, sum(n) FROM {s}.inbox_read_counts WHERE store_id = %s "
                            "AND agent_id = %s GROUP BY topic, team, assignee HAVING sum(n) <> 0")

    def entry(self, conn: psycopg.Connection, ticket_id: str, store_id: str | None = None,
              lock: bool = False) -> reading.InboxEntry | None:
        """The ticket's place in the inboxes as its list row says now (locked: a
        read keeps a ticket's change from moving its counters meanwhile)."""
        sql = self._entry + (" AND store_id = %s" if store_id else "") + (" FOR UPDATE" if lock else "")
        row = conn.execute(sql, (ticket_id, store_id) if store_id else (ticket_id,)).fetchone()
        return row and reading.inbox_entry(*row)

    @staticmethod
    def entry_of_row(row: tuple) -> reading.InboxEntry:
        """The place of a ``projection.row_from_state`` row."""
        return reading.inbox_entry(*(row[i] for i in _IN_ROW))

    def move(self, conn: psycopg.Connection, store_id: str, ticket_id: str, before: reading.InboxEntry | None,
             after: reading.InboxEntry | None) -> None:
        """A ticket changed (its list row is locked by this transaction)."""
        if before == after or (getattr(before, "cell", None) is None and getattr(after, "cell", None) is None):
            return
        marks = {} if before is None else dict(conn.execute(self._marks, (store_id, ticket_id)).fetchall())
        inbox, agents = reading.inbox_changes(before, after, marks)
        self._write(conn, store_id, ticket_id, inbox, agents)

    def read(self, conn: psycopg.Connection, store_id: str, ticket_id: str, agents: list) -> None:
        self._write(conn, store_id, ticket_id, [], agents)

    def _write(self, conn: psycopg.Connection, store_id: str, ticket_id: str, inbox: list, agents: list) -> None:
        shard = shard_of(ticket_id)
        with conn.cursor() as cur:
            if inbox:
                cur.executemany(self._add, [(store_id, *cell, shard, n) for cell, n in inbox])
            if agents:
                cur.executemany(self._add_read, [(store_id, agent, *cell, shard, n) for agent, cell, n in agents])

    def cells(self, conn: psycopg.Connection, store_id: str, agent_id: str) -> tuple[list, list]:
        """``([(cell, inbox tickets)], [(cell, of them read by the agent)])``, non-zero cells only."""
        inbox = [((t, m, a), int(n)) for t, m, a, n in conn.execute(self._cells, (store_id,))]
        read = [((t, m, a), int(n)) for t, m, a, n in conn.execute(self._read_cells, (store_id, agent_id))]
        return inbox, read

    def rebuild(self, conn: psycopg.Connection) -> None:
        """Count the (emptied) counters again from ``ticket_list`` and ``ticket_reads``, in shard 0."""
        s = self.schema
        cell = "coalesce(l.topic_id, ''), coalesce(l.team, ''), coalesce(l.assignee_id, '')"
        conn.execute(f"INSERT INTO {s}.inbox_counts (store_id, topic, team, assignee, shard, n) "
                     f"SELECT l.store_id, {cell}, 0, count(*) FROM {s}.ticket_list l WHERE {inbox_condition('l')} "
                     "GROUP BY 1, 2, 3, 4")
        conn.execute(f"INSERT INTO {s}.inbox_read_counts (store_id, agent_id, topic, team, assignee, shard, n) "
                     f"SELECT l.store_id, r.agent_id, {cell}, 0, count(*) FROM {s}.ticket_list l "
                     f"JOIN {s}.ticket_reads r ON r.store_id = l.store_id AND r.ticket_id = l.ticket_id "
                     f"AND r.version >= l.last_customer_version WHERE {inbox_condition('l')} GROUP BY 1, 2, 3, 4, 5")


class ReadMarks:
    def __init__(self, store: EventStore, reads: "TicketReads", topics: "Topics", viewer_of: "ViewerOf",
                 clock: Callable[[], datetime]):
        self.store, self.reads, self.topics, self.viewer_of, self.clock = store, reads, topics, viewer_of, clock
        self.table = ReadMarkTable(store.schema)
        self.inbox = InboxCounts(store.schema)

    def mark_read(self, caller: Caller, ticket_id: str) -> dict:
        """Mark the ticket read up to its last customer message, for the caller;
        again, with nothing new from the customer, records nothing."""
        _store_staff(caller)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._mark_read(caller, ticket_id)
            except psycopg.errors.DeadlockDetected:
                if attempt == ATTEMPTS:
                    raise
                log.info("read of ticket %s lost a deadlock (attempt %d): again", ticket_id, attempt)
                time.sleep(0.01 * attempt)

    def _mark_read(self, caller: Caller, ticket_id: str) -> dict:
        stream = reading.stream_of(caller.store_id, caller.id)
        with self.store.transaction() as conn:
            # One agent's marks queue here (two tabs at once record one mark).
            self.store.lock_stream(conn, stream)
            # The ticket's row, locked: its changes wait, then move the counters knowing this mark.
            entry = self.inbox.entry(conn, ticket_id, caller.store_id, lock=True)
            history = self.store.load(ticket_id, conn=conn)
            state = self.reads.visible(conn, caller, ticket_id, history)
            point = reading.read_point(state, history)
            mark = self.table.marked(conn, caller.store_id, caller.id, ticket_id)
            before = mark and mark.version
            new = reading.decide_read(caller.store_id, caller.actor, ticket_id, point, before, self.clock())
            if new:
                [event] = self.store.append(stream, ANY_VERSION, new, conn=conn)
                mark = reading.Mark(ticket_id, event.data["version"], event.data["message_id"], event.occurred_at)
                self.table.write(conn, caller.store_id, caller.id, mark)
                self.inbox.read(conn, caller.store_id, ticket_id,
                                reading.read_changes(caller.id, entry, before, mark.version))
        return {"ticket_id": ticket_id, "unread": False, "marked": bool(new),
                "read_up_to": mark and {"version": mark.version, "message_id": mark.message_id,
                                        "read_at": iso(mark.read_at)}}

    def unread_by_topic(self, caller: Caller) -> dict:
        """Each of the store's topics (in their order), then any other topic
        id tickets still carry (a deleted topic's), then no topic: the tickets
        with customer messages the caller has not read, among the unsolved
        ones they may see (spam left out)."""
        _store_staff(caller)
        with self.store.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # both counters in one snapshot
            viewer = self.viewer_of(conn, caller)
            inbox, read = self.inbox.cells(conn, caller.store_id, caller.id)
        counts = reading.unread_by_topic(inbox, read, viewer.sees_cell)
        topic_ids = [t["id"] for t in self.topics.list(caller)["items"]]
        others = sorted(t for t in counts if t is not None and t not in topic_ids)
        items = [{"topic_id": t, "unread": counts.get(t, 0)} for t in (*topic_ids, *others, None)]
        return {"items": items, "total": sum(counts.values())}

    def counted(self, caller: Caller) -> dict[str | None, int]:
        """Each topic's unread count for the caller, counted from the tables (what the counters must say)."""
        with self.store.pool.connection() as conn:
            return self.table.counted(conn, caller.store_id, caller.id, scope_conditions(self.viewer_of(conn, caller)))

    def rebuild(self) -> int:
        """Rewrite ``ticket_reads`` from the agents' read streams, then the
        inbox counters from it and the ticket list (rebuild the list first);
        the marks written. The table locks wait for running writers and hold
        new ones back until the rebuilt tables commit."""
        s = self.table.schema
        count = 0
        with self.store.transaction() as conn:
            for table in ("ticket_reads", "inbox_counts", "inbox_read_counts"):
                conn.execute(f"LOCK TABLE {s}.{table} IN EXCLUSIVE MODE")
                conn.execute(f"DELETE FROM {s}.{table}")
            for events in self.store.iter_streams(conn):
                count += self._write_stream(conn, events)
            self.inbox.rebuild(conn)
        log.info("rebuilt %s.ticket_reads and the inbox counters: %d marks", s, count)
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
