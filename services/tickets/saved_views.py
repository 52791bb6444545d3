"""Views: the built-in ones (``domain.queues.BUILT_IN``) and the ones a store
or an agent saves, each a stream (``view:{id}``) of ``view.*`` events and a
row of the ``saved_views`` table written in the same transaction; their
counts (``read_models.ViewCounts``) and their tickets.

A saved view is counted from the moment it exists: its creation takes the
store's views lock exclusively, counts the store's tickets once with the
view's SQL, and every ticket change takes the same lock shared before it
moves counts, so no change is counted twice or missed.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable

import psycopg
from psycopg.types.json import Jsonb

from seedwork.caller import Caller
from seedwork.envelope import NewEvent
from seedwork.errors import Conflict, Forbidden, InvalidCommand, NotFound
from seedwork.instants import iso
from seedwork.store import TX_SHIFT, EventStore, expect_version, lock

from .domain import queues

COLUMNS = ("id", "store_id", "owner_id", "name", "filter", "sort", "columns", "version", "created_at", "updated_at")
SAVED_PREFIX = "saved:"


def stream_of(view_id: str) -> str:
    return f"view:{view_id}"


def key_of(view_id: str) -> str:
    """The counters' key of a saved view (built-in views count under their own id)."""
    return SAVED_PREFIX + view_id


class SavedViews:
    def __init__(self, store: EventStore, clock: Callable[[], datetime]):
        self.store, self.clock = store, clock
        self.schema = s = store.schema
        self._select = f"SELECT {', '.join(COLUMNS)} FROM {s}.saved_views WHERE store_id = %s"
        self._keyed = f"SELECT id, filter FROM {s}.saved_views WHERE store_id = %s"
        self._insert = (f"INSERT INTO {s}.saved_views ({', '.join(COLUMNS)}) "
                        f"VALUES ({', '.join(['%s'] * len(COLUMNS))})")
        self._update = (f"UPDATE {s}.saved_views SET name = %s, filter = %s, sort = %s, columns = %s, version = %s, "
                        "updated_at = %s WHERE id = %s")
        self._delete = f"DELETE FROM {s}.saved_views WHERE id = %s"
        self._count_saved = f"SELECT count(*) FROM {s}.saved_views WHERE store_id = %s"
        # Every event of the store up to here is counted (the event feed's "next_after").
        # The row comparison walks the (store_id, position) index from the store's newest
        # event; max(position) walked the primary key back past every other store's newer
        # events instead (80-140 ms at a million tickets, the ops bench found).
        self._position = (
            f"SELECT coalesce((SELECT position FROM {s}.events WHERE store_id = %(store)s "
            f"AND (store_id, position) < (%(store)s, pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
            f"<< {TX_SHIFT}) ORDER BY position DESC LIMIT 1), 0)")

    # --- what the counts projection asks ------------------------------------------------

    def keyed(self, conn: psycopg.Connection, store_id: str) -> list[tuple[str, dict]]:
        """Every view of the store that keeps counts: ``(counter key, filter)``."""
        saved = [(key_of(r[0]), r[1]) for r in conn.execute(self._keyed, (store_id,))]
        return [(v.id, v.filter) for v in queues.BUILT_IN] + saved

    def lock_exclusive(self, conn: psycopg.Connection, store_id: str) -> None:
        lock(conn, f"{self.schema}:views-of:{store_id}")

    # --- reads -----------------------------------------------------------------------

    def visible(self, conn: psycopg.Connection, caller: Caller) -> list[dict]:
        """The built-in views, the store's saved ones and the caller's own."""
        rows = conn.execute(self._select + " AND owner_id IN ('', %s) ORDER BY owner_id, name",
                            (caller.store_id, caller.id or "")).fetchall()
        built_in = [{"id": v.id, "name": v.name, "filter": dict(v.filter), "sort": v.sort, "columns": list(v.columns),
                     "built_in": True, "owner_id": None, "version": 0} for v in queues.BUILT_IN]
        return built_in + [_view(dict(zip(COLUMNS, r))) for r in rows]

    def get_in(self, conn: psycopg.Connection, caller: Caller, view_id: Any) -> dict:
        built_in = queues.BUILT_IN_BY_ID.get(view_id) if isinstance(view_id, str) else None
        if built_in is not None:
            return {"id": built_in.id, "name": built_in.name, "filter": dict(built_in.filter), "sort": built_in.sort,
                    "columns": list(built_in.columns), "built_in": True, "owner_id": None, "version": 0}
        row = None
        if isinstance(view_id, str) and len(view_id) <= 64:
            row = conn.execute(self._select + " AND id = %s AND owner_id IN ('', %s)",
                               (caller.store_id, view_id, caller.id or "")).fetchone()
        if row is None:
            raise NotFound("view_not_found", f"no view {view_id}")
        return _view(dict(zip(COLUMNS, row)))

    def counts(self, conn: psycopg.Connection, caller: Caller, views: list[dict],
               viewer: queues.Viewer, counts_of: Callable) -> tuple[dict[str, int], int]:
        """Each view's count for this viewer, and the event position the counts reflect.
        ``counts_of(conn, store_id)`` is the counters' cells."""
        cells = counts_of(conn, caller.store_id)
        position = conn.execute(self._position, {"store": caller.store_id}).fetchone()[0]
        by_key: dict[str, list[tuple[str, str, int]]] = {}
        for key, team, assignee, n in cells:
            by_key.setdefault(key, []).append((team, assignee, n))
        totals = {}
        for view in views:
            key = view["id"] if view["built_in"] else key_of(view["id"])
            totals[view["id"]] = sum(n for team, assignee, n in by_key.get(key, ())
                                     if queues.viewer_condition(view["filter"], viewer, team, assignee))
        return totals, position

    # --- writes ----------------------------------------------------------------------

    def create(self, caller: Caller, fields: dict, count_in: Callable) -> dict:
        """A view for the store (``shared``, admins) or for the caller alone.
        ``count_in(conn, store_id, key, filter)`` counts the store's tickets into it."""
        fields = dict(fields)
        shared = fields.pop("shared", False)
        if not isinstance(shared, bool):
            raise InvalidCommand.field("shared", "must be true or false")
        if shared and caller.role not in ("owner", "admin"):
            raise Forbidden("admin_only", "only the owner or an admin saves a view for the whole store",
                            {"shared": ["only the owner or an admin may share a view"]})
        clean = queues.clean_view(fields)
        view_id = str(uuid.uuid4())
        owner = "" if shared else caller.id or ""
        with self.store.transaction() as conn:
            self.lock_exclusive(conn, caller.store_id)
            if conn.execute(self._count_saved, (caller.store_id,)).fetchone()[0] >= queues.MAX_SAVED_VIEWS:
                raise Conflict("too_many_views", f"a store keeps at most {queues.MAX_SAVED_VIEWS} saved views")
            [event] = self.store.append(stream_of(view_id), 0, [NewEvent(
                "view.created", {"view_id": view_id, "owner_id": owner or None, **clean},
                actor=caller.actor, store_id=caller.store_id, occurred_at=self.clock())], conn=conn)
            row = {"id": view_id, "store_id": caller.store_id, "owner_id": owner, **clean, "version": event.version,
                   "created_at": event.occurred_at, "updated_at": event.occurred_at}
            self._write(conn, self._insert, [row[c] for c in COLUMNS], clean["name"])
            count_in(conn, caller.store_id, key_of(view_id), clean["filter"])
            return _view(row)

    def update(self, caller: Caller, view_id: str, fields: dict, expected_version: int | None,
               count_in: Callable, drop: Callable) -> dict:
        with self.store.transaction() as conn:
            self.lock_exclusive(conn, caller.store_id)
            row = self._own(conn, caller, view_id, expected_version)
            clean = queues.clean_view(fields, partial=True)
            changed = {k: v for k, v in clean.items() if row[k] != v}
            if not changed:
                return _view(row)
            [event] = self.store.append(stream_of(view_id), row["version"], [NewEvent(
                "view.updated", {"view_id": view_id, "changes": changed,
                                 **{k: row[k] for k in ("name", "filter", "sort", "columns")}, **changed},
                actor=caller.actor, store_id=caller.store_id, occurred_at=self.clock())], conn=conn)
            row.update(changed, version=event.version, updated_at=event.occurred_at)
            self._write(conn, self._update, (row["name"], Jsonb(row["filter"]), row["sort"], row["columns"],
                                             row["version"], row["updated_at"], view_id), row["name"])
            if "filter" in changed:  # counted again from scratch with the new filter
                drop(conn, caller.store_id, key_of(view_id))
                count_in(conn, caller.store_id, key_of(view_id), row["filter"])
            return _view(row)

    def delete(self, caller: Caller, view_id: str, drop: Callable) -> None:
        with self.store.transaction() as conn:
            self.lock_exclusive(conn, caller.store_id)
            row = self._own(conn, caller, view_id, None)
            self.store.append(stream_of(view_id), row["version"], [NewEvent(
                "view.deleted", {"view_id": view_id}, actor=caller.actor, store_id=caller.store_id,
                occurred_at=self.clock())], conn=conn)
            conn.execute(self._delete, (view_id,))
            drop(conn, caller.store_id, key_of(view_id))

    def _own(self, conn: psycopg.Connection, caller: Caller, view_id: str, expected_version: int | None) -> dict:
        """A saved view the caller may change: their own, or (admins) the store's."""
        if isinstance(view_id, str) and view_id in queues.BUILT_IN_BY_ID:
            raise Conflict("built_in_view", "built-in views cannot be changed; save a view of your own")
        view = self.get_in(conn, caller, view_id)
        self.store.lock_stream(conn, stream_of(view_id))
        if view["owner_id"] is None and caller.role not in ("owner", "admin"):
            raise Forbidden("admin_only", "only the owner or an admin changes the store's views")
        expect_version(f"view {view_id}", expected_version, view["version"])
        row = conn.execute(self._select + " AND id = %s", (caller.store_id, view_id)).fetchone()
        return dict(zip(COLUMNS, row))

    @staticmethod
    def _write(conn: psycopg.Connection, sql: str, params, name: str) -> None:
        params = [Jsonb(p) if isinstance(p, dict) else p for p in params]
        try:
            with conn.transaction():
                conn.execute(sql, params)
        except psycopg.errors.UniqueViolation:
            raise Conflict("name_taken", f"a view is already called {name!r}",
                           {"name": ["already used by another view"]}) from None


def _view(row: dict) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "filter": dict(row["filter"]), "sort": row["sort"],
            "columns": list(row["columns"]), "built_in": False, "owner_id": row["owner_id"] or None,
            "version": row["version"], "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"])}
