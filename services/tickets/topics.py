"""The store's contact topics: each one a stream (``topic:{id}``) of
``topic.*`` events, and the ``topics`` table, written in the same transaction
from the fold of the stream (``domain.topics.evolve``). A topic's team is a
team of the store (``Teams.exists``); ``get_in`` is what opening a ticket asks."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable, Iterable

import psycopg
from psycopg.types.json import Jsonb

from seedwork.caller import Caller
from seedwork.envelope import Envelope, NewEvent
from seedwork.errors import InvalidCommand, NotFound
from seedwork.idempotency import IdempotencyKeys
from seedwork.instants import iso
from seedwork.store import EventStore, expect_version

from .domain import plan_limits
from .domain import topics as rules
from .teams import Teams

COLUMNS = ("id", "store_id", "names", "descriptions", "team_id", "email", "position", "version", "created_at",
           "updated_at")
ID_MAX = 64


def stream_of(topic_id: str) -> str:
    return f"topic:{topic_id}"


def count_lock(store_id: str) -> str:
    """Held while a topic is created: the plan's limit is counted under it."""
    return f"topics-of:{store_id}"


def view(topic: dict, staff: bool = True) -> dict[str, Any]:
    """A topic as staff see it; a shopper's help widget gets ``rules.SHOPPER_FIELDS``."""
    shown = {"id": topic["id"], "names": dict(topic["names"]), "descriptions": dict(topic["descriptions"]),
             "team_id": topic["team_id"], "email": topic["email"], "position": topic["position"],
             "version": topic["version"], "created_at": iso(topic["created_at"]),
             "updated_at": iso(topic["updated_at"])}
    return shown if staff else rules.shopper_view(shown)


class Topics:
    def __init__(self, store: EventStore, keys: IdempotencyKeys, teams: Teams, clock: Callable[[], datetime]):
        self.store, self.keys, self.teams, self.clock = store, keys, teams, clock
        self.schema = s = store.schema
        self._select = f"SELECT {', '.join(COLUMNS)} FROM {s}.topics WHERE store_id = %s"
        self._count = f"SELECT count(*) FROM {s}.topics WHERE store_id = %s"
        self._insert = f"INSERT INTO {s}.topics ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
        self._update = (f"UPDATE {s}.topics SET names = %s, descriptions = %s, team_id = %s, email = %s, "
                        "position = %s, version = %s, updated_at = %s WHERE id = %s")
        self._delete = f"DELETE FROM {s}.topics WHERE id = %s"

    # --- lookups ----------------------------------------------------------------------

    def get_in(self, conn: psycopg.Connection, store_id: str, topic_id: Any) -> dict | None:
        """The topic as staff see it (``view``), or None if the store has no such topic."""
        if not isinstance(topic_id, str) or not 0 < len(topic_id) <= ID_MAX:
            return None
        row = conn.execute(self._select + " AND id = %s", (store_id, topic_id)).fetchone()
        return view(dict(zip(COLUMNS, row))) if row else None

    # --- reads ------------------------------------------------------------------------

    def list(self, caller: Caller) -> dict:
        with self.store.pool.connection() as conn:
            rows = conn.execute(self._select + " ORDER BY position, created_at, id", (caller.store_id,)).fetchall()
        return {"items": [view(dict(zip(COLUMNS, r)), caller.is_staff) for r in rows]}

    def get(self, caller: Caller, topic_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return view(self._found(conn, caller.store_id, topic_id), caller.is_staff)

    def _found(self, conn: psycopg.Connection, store_id: str, topic_id: Any) -> dict:
        row = None
        if isinstance(topic_id, str) and 0 < len(topic_id) <= ID_MAX:
            row = conn.execute(self._select + " AND id = %s", (store_id, topic_id)).fetchone()
        if row is None:
            raise NotFound("topic_not_found", f"no topic {topic_id}")
        return dict(zip(COLUMNS, row))

    # --- writes -----------------------------------------------------------------------

    def create(self, caller: Caller, fields: dict, idempotency=None, limits: dict | None = None) -> dict:
        """A new topic; the plan's ``topics`` limit is counted under a per-store lock."""
        with self.store.transaction() as conn:
            self.store.lock_stream(conn, count_lock(caller.store_id))
            return self.keys.run(conn, caller, idempotency, lambda: {
                "topic": self._create(conn, caller, fields, limits), "created": True})

    def _create(self, conn: psycopg.Connection, caller: Caller, fields: dict, limits: dict | None) -> dict:
        clean = rules.clean_topic(fields)
        rules.check_locales(clean)
        self._check_team(conn, caller.store_id, clean["team_id"])
        plan_limits.check_room(limits, "topics", conn.execute(self._count, (caller.store_id,)).fetchone()[0])
        return view(self._record(conn, caller, str(uuid.uuid4()), None, [("topic.created", clean)]))

    def update(self, caller: Caller, topic_id: str, fields: dict, expected_version: int | None = None) -> dict:
        with self.store.transaction() as conn:
            topic = self._locked(conn, caller, topic_id, expected_version)
            merged, changed = rules.merge(topic, rules.clean_topic(fields, partial=True))
            if not changed:
                return view(topic)
            if "team_id" in changed:
                self._check_team(conn, caller.store_id, changed["team_id"])
            return view(self._record(conn, caller, topic_id, topic, [("topic.updated", {"changes": changed,
                                                                                           **merged})]))

    def delete(self, caller: Caller, topic_id: str) -> None:
        """Tickets opened on the topic keep its id."""
        with self.store.transaction() as conn:
            topic = self._locked(conn, caller, topic_id, None)
            self._record(conn, caller, topic_id, topic, [("topic.deleted", {})])

    def _check_team(self, conn: psycopg.Connection, store_id: str, team_id: str | None) -> None:
        # Locked: the team cannot be deleted before this topic, naming it, commits.
        if team_id is not None and not self.teams.exists(conn, store_id, team_id, lock=True):
            raise InvalidCommand.field("team_id", "no such team in this store")

    def _locked(self, conn: psycopg.Connection, caller: Caller, topic_id: str, expected_version: int | None) -> dict:
        self.store.lock_stream(conn, stream_of(topic_id))
        topic = self._found(conn, caller.store_id, topic_id)
        expect_version(f"topic {topic_id}", expected_version, topic["version"])
        return topic

    def _record(self, conn: psycopg.Connection, caller: Caller, topic_id: str, topic: dict | None,
                changes: list[tuple[str, dict]]) -> dict | None:
        now = self.clock()
        stored = self.store.append(stream_of(topic_id), topic["version"] if topic else 0, [
            NewEvent(event_type, {"topic_id": topic_id, **data}, actor=caller.actor, store_id=caller.store_id,
                     occurred_at=now) for event_type, data in changes], conn=conn)
        after = rules.fold(stored, topic)
        self.write(conn, topic, after)
        return after

    # --- the table ----------------------------------------------------------------------

    def write(self, conn: psycopg.Connection, before: dict | None, after: dict | None) -> None:
        if after is None:
            if before is not None:
                conn.execute(self._delete, (before["id"],))
            return
        row = (after["id"], after["store_id"], Jsonb(after["names"]), Jsonb(after["descriptions"]), after["team_id"],
               after["email"], after["position"], after["version"], after["created_at"], after["updated_at"])
        if before is None:
            conn.execute(self._insert, row)
        else:
            conn.execute(self._update, (*row[2:8], after["updated_at"], after["id"]))

    def rebuild(self, conn: psycopg.Connection, streams: Iterable[list[Envelope]]) -> int:
        """Write the (emptied) table from the ``topic:`` streams (after the teams: a topic names one)."""
        count = 0
        for events in streams:
            topic = rules.fold(events)
            if topic is not None:
                self.write(conn, None, topic)
                count += 1
        return count
