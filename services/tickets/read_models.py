"""Every read model a ticket change updates, in the change's own transaction:
the ticket's list row, the view counts and the SLA timers (``project``), and
all of them again from the event log (``rebuild``).

Both paths compute a row with ``row_of`` from the ticket's fold, its history
and the SLA policy ``SlaPolicies.policy_for`` picks, so a rebuilt table can
differ from the live one only if an event was lost, which the tests check.
"""
from __future__ import annotations

import logging
import zlib
from collections import Counter
from typing import Iterable, Sequence

import psycopg
from psycopg.types.json import Jsonb

from seedwork.config import checked_name
from seedwork.store import EventStore, lock

from .domain import queues, reading, sla
from .domain.ticket import TicketState, fold
from .listing import view_conditions
from .projection import TicketList, row_from_state
from .read_marks import InboxCounts
from .saved_views import SavedViews
from .sla_policies import SlaPolicies

log = logging.getLogger(__name__)

SHARDS = 4  # counter rows per (view, cell): writers of one busy cell spread over them


def shard_of(ticket_id: str) -> int:
    return zlib.crc32(ticket_id.encode()) % SHARDS


def sla_of(state: TicketState, history: Sequence, version: int, policy: dict):
    """The ticket's ``domain.sla`` state, or None for a ticket the platform handles (no store SLA)."""
    if state.handled_by != "store":
        return None
    return sla.sla_state(policy, version, history)


def queue_row(state: TicketState, sla_state: str) -> queues.Row:
    return queues.Row(status=state.status, priority=state.priority, assignee_id=state.assignee_id, team=state.team,
                      topic_id=getattr(state, "topic_id", None), type=state.type, tags=state.tags,
                      customer_id=state.customer_id, channel=state.channel, sla_state=sla_state,
                      handled_by=state.handled_by)


class ViewCounts:
    """The ``view_counts`` table: +1/-1 per (view, cell) as tickets move."""

    def __init__(self, schema: str):
        s = checked_name(schema, "schema")
        self._add = (f"INSERT INTO {s}.view_counts (store_id, view_key, team, assignee, shard, n) "
                     "VALUES (%s, %s, %s, %s, %s, %s) "
                     f"ON CONFLICT (store_id, view_key, team, assignee, shard) DO UPDATE "
                     f"SET n = {s}.view_counts.n + EXCLUDED.n")
        self._cells = (f"SELECT view_key, team, assignee, sum(n) FROM {s}.view_counts "
                       "WHERE store_id = %s GROUP BY view_key, team, assignee HAVING sum(n) <> 0")
        self._drop_view = f"DELETE FROM {s}.view_counts WHERE store_id = %s AND view_key = %s"
        self.schema = s

    def count_in(self, conn: psycopg.Connection, store_id: str, key: str, view_filter: dict) -> None:
        """Count the store's tickets into a new view's counters, all in shard 0
        (a shard only spreads writers; readers sum the shards)."""
        where, params = view_conditions(view_filter, None)
        conn.execute(
            f"INSERT INTO {self.schema}.view_counts (store_id, view_key, team, assignee, shard, n) "
            f"SELECT store_id, %s, coalesce(team, ''), coalesce(assignee_id, ''), 0, count(*) "
            f"FROM {self.schema}.ticket_list WHERE store_id = %s AND {' AND '.join(where)} "
            "GROUP BY store_id, coalesce(team, ''), coalesce(assignee_id, '')",
            [key, store_id, *params])

    def apply(self, conn: psycopg.Connection, store_id: str, ticket_id: str,
              changes: Iterable[tuple[str, str, str, int]]) -> None:
        shard = shard_of(ticket_id)
        rows = [(store_id, key, team, assignee, shard, delta) for key, team, assignee, delta in changes]
        if rows:
            with conn.cursor() as cur:
                cur.executemany(self._add, rows)

    def insert_many(self, conn: psycopg.Connection, rows: list[tuple]) -> None:
        if rows:
            with conn.cursor() as cur:
                cur.executemany(self._add, rows)

    def cells(self, conn: psycopg.Connection, store_id: str) -> list[tuple[str, str, str, int]]:
        """Every non-zero ``(view key, team, assignee, count)`` of the store."""
        return [(k, t, a, int(n)) for k, t, a, n in conn.execute(self._cells, (store_id,))]

    def drop_view(self, conn: psycopg.Connection, store_id: str, key: str) -> None:
        conn.execute(self._drop_view, (store_id, key))


class SlaTimers:
    """The ``sla_timers`` table: a ticket's coming warnings and breaches."""

    def __init__(self, schema: str):
        s = checked_name(schema, "schema")
        self._clear = f"DELETE FROM {s}.sla_timers WHERE ticket_id = %s"
        self._insert = (f"INSERT INTO {s}.sla_timers (ticket_id, kind, cycle, event_type, store_id, due_at) "
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")

    def replace(self, conn: psycopg.Connection, state: TicketState, sla_state) -> None:
        conn.execute(self._clear, (state.id,))
        if sla_state is None:
            return
        rows = [(state.id, kind, cycle, event_type, state.store_id, moment)
                for moment, event_type, kind, cycle in sla.due_moments(sla_state)
                if (kind, cycle, event_type) not in sla_state.emitted]
        if rows:
            with conn.cursor() as cur:
                cur.executemany(self._insert, rows)


class ReadModels:
    def __init__(self, store: EventStore, policies: SlaPolicies, views: SavedViews):
        self.store, self.policies, self.views = store, policies, views
        self.schema = store.schema
        self.list = TicketList(store.schema)
        self.counts = ViewCounts(store.schema)
        self.timers = SlaTimers(store.schema)
        self.inbox = InboxCounts(store.schema)  # each topic's unread counts (read_marks.py)

    def row_of(self, conn: psycopg.Connection, state: TicketState, history: Sequence,
               versions=None) -> tuple[tuple, queues.Row, object]:
        """The list row, the view row and the SLA state of a ticket."""
        version, policy = self.policies.policy_for(conn, state, versions)
        sla_state = sla_of(state, history, version, policy)
        column, due = queues.sla_summary(sla_state)
        extra = {"channel": state.channel, "sla_state": column, "sla_due_at": due, "sla_policy_version": version,
                 "awaiting_staff": awaiting_staff(state),
                 "last_customer_version": reading.point_version(reading.read_point(state, history)),
                 "sla": Jsonb(sla_state.to_dict()) if sla_state is not None else None}
        return row_from_state(state, extra), queue_row(state, column), sla_state

    def project(self, conn: psycopg.Connection, state: TicketState, history: Sequence) -> None:
        """After an append: the list row, the counts it moves, its timers.
        ``history`` is the ticket's whole stream, the new events included."""
        row, after, sla_state = self.row_of(conn, state, history)
        # Saved views may not appear or vanish while this change counts itself in them.
        lock(conn, f"{self.schema}:views-of:{state.store_id}", shared=True)
        before = self.list.current(conn, state.id)
        inbox_before = self.inbox.entry(conn, state.id) if before is not None else None
        if not self.list.upsert(conn, row):
            return  # the row already shows a newer version
        changes = queues.count_changes(self.views.keyed(conn, state.store_id), before, after)
        self.counts.apply(conn, state.store_id, state.id, changes)
        self.inbox.move(conn, state.store_id, state.id, inbox_before, self.inbox.entry_of_row(row))
        self.timers.replace(conn, state, sla_state)

    def reproject(self, conn: psycopg.Connection, ticket_id: str) -> TicketState | None:
        """Fold one ticket again and project it (an SLA policy changed)."""
        history = self.store.load(ticket_id, conn=conn)
        state = fold(history) if history else None
        if state is not None:
            self.project(conn, state, history)
        return state

    def rebuild(self, batch: int = 1000) -> int:
        """Rewrite the list, the counts and the timers from the event log.

        The table locks wait for running writers and hold new ones back until
        the rebuilt tables commit: their rows land on top, never underneath.
        """
        s = self.schema
        count = 0
        with self.store.transaction() as conn:
            for table in ("ticket_list", "view_counts", "sla_timers"):
                conn.execute(f"LOCK TABLE {s}.{table} IN EXCLUSIVE MODE")
                conn.execute(f"DELETE FROM {s}.{table}")
            versions: dict[str, list] = {}
            views: dict[str, list] = {}
            counted: Counter = Counter()
            rows = []
            for history in self.store.iter_streams(conn):
                if history[0].type != "ticket.opened":
                    continue  # settings, canned responses, teams, views: not tickets
                state = fold(history)
                if state.store_id not in versions:
                    versions[state.store_id] = self.policies.versions(conn, state.store_id)
                    views[state.store_id] = self.views.keyed(conn, state.store_id)
                row, view_row, sla_state = self.row_of(conn, state, history, versions[state.store_id])
                rows.append(row)
                for key, team, assignee in queues.counted_in(views[state.store_id], view_row):
                    counted[state.store_id, key, team, assignee, shard_of(state.id)] += 1
                self.timers.replace(conn, state, sla_state)
                if len(rows) >= batch:
                    count += self.list.insert_many(conn, rows)
                    rows.clear()
            count += self.list.insert_many(conn, rows)
            self.counts.insert_many(conn, [(*cell, n) for cell, n in sorted(counted.items())])
        log.info("rebuilt %s.ticket_list, view_counts and sla_timers: %d tickets", s, count)
        return count


def awaiting_staff(state: TicketState) -> bool:
    """The last public message is the customer's: the ticket waits on an answer."""
    public = state.public_messages()
    return bool(public) and public[-1].author_kind == "customer"
