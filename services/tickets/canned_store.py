"""The store's canned responses: each one a stream (``canned:{id}``) of
``canned_response.*`` events, and the ``canned_responses`` table, written in
the same transaction, that lists and reads them."""
from __future__ import annotations

import uuid
from typing import Any

from seedwork import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg

from seedwork.envelope import Actor, NewEvent, iso
from seedwork.errors import Conflict, InvalidCommand, NotFound, PreconditionFailed
from seedwork.store import EventStore

from . import canned

COLUMNS = ("id", "store_id", "title", "body", "version", "created_at", "updated_at")


def stream_of(canned_id: str) -> str:
    return f"canned:{canned_id}"


def view(row: dict) -> dict[str, Any]:
    return {"id": row["id"], "title": row["title"], "body": row["body"], "version": row["version"],
            "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"])}


class CannedResponses:
    def __init__(self, store: EventStore):
        self.store = store
        self.schema = s = store.schema
        self._select = f"SELECT {', '.join(COLUMNS)} FROM {s}.canned_responses WHERE store_id = %s"

    # --- reads ---------------------------------------------------------------------

    def get_in(self, conn: psycopg.Connection, store_id: str, canned_id: Any, field: str = "id") -> dict:
        row = None
        if isinstance(canned_id, str) and len(canned_id) <= 64:
            row = conn.execute(self._select + " AND id = %s", (store_id, canned_id)).fetchone()
        if row is None:
            if field != "id":  # named in a request body: the body is what is wrong
                raise InvalidCommand.field(field, "no such canned response in this store")
            raise NotFound("canned_response_not_found", f"no canned response {canned_id}")
        return dict(zip(COLUMNS, row))

    def exists(self, conn: psycopg.Connection, store_id: str, canned_id: str) -> bool:
        return conn.execute(f"SELECT 1 FROM {self.schema}.canned_responses WHERE store_id = %s AND id = %s",
                            (store_id, canned_id)).fetchone() is not None

    def list(self, caller: dict) -> dict:
        with self.store.pool.connection() as conn:
            rows = conn.execute(self._select + " ORDER BY title", (caller["store_id"],)).fetchall()
        return {"items": [view(dict(zip(COLUMNS, r))) for r in rows]}

    def get(self, caller: dict, canned_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return view(self.get_in(conn, caller["store_id"], canned_id))

    # --- writes --------------------------------------------------------------------

    def create(self, conn: psycopg.Connection, caller: dict, fields: dict) -> dict:
        clean = canned.clean_canned(fields)
        canned_id = str(uuid.uuid4())
        [event] = self.store.append(stream_of(canned_id), 0, [self._event(caller, "canned_response.created", {
            "canned_response_id": canned_id, **clean})], conn=conn)
        row = {"id": canned_id, "store_id": caller["store_id"], **clean, "version": event.version,
               "created_at": event.occurred_at, "updated_at": event.occurred_at}
        with self._title_unique(clean["title"]):
            conn.execute(f"INSERT INTO {self.schema}.canned_responses ({', '.join(COLUMNS)}) "
                         f"VALUES ({', '.join(['%s'] * len(COLUMNS))})", [row[c] for c in COLUMNS])
        return view(row)

    def update(self, conn: psycopg.Connection, caller: dict, canned_id: str, fields: dict,
               expected_version: int | None) -> dict:
        row = self._locked(conn, caller, canned_id, expected_version)
        clean = canned.clean_canned(fields, partial=True)
        changed = {k: v for k, v in clean.items() if row[k] != v}
        if not changed:
            return view(row)
        [event] = self.store.append(stream_of(canned_id), row["version"], [self._event(
            caller, "canned_response.updated", {"canned_response_id": canned_id, "title": row["title"],
                                                "body": row["body"], **changed})], conn=conn)
        row.update(changed, version=event.version, updated_at=event.occurred_at)
        with self._title_unique(row["title"]):
            conn.execute(f"UPDATE {self.schema}.canned_responses SET title = %s, body = %s, version = %s, "
                         "updated_at = %s WHERE id = %s",
                         (row["title"], row["body"], row["version"], row["updated_at"], canned_id))
        return view(row)

    def delete(self, conn: psycopg.Connection, caller: dict, canned_id: str) -> None:
        row = self._locked(conn, caller, canned_id, None)
        self.store.append(stream_of(canned_id), row["version"], [self._event(
            caller, "canned_response.deleted", {"canned_response_id": canned_id})], conn=conn)
        conn.execute(f"DELETE FROM {self.schema}.canned_responses WHERE id = %s", (canned_id,))

    def _locked(self, conn, caller: dict, canned_id: str, expected_version: int | None) -> dict:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (stream_of(canned_id),))
        row = self.get_in(conn, caller["store_id"], canned_id)
        if expected_version is not None and row["version"] != expected_version:
            raise PreconditionFailed("version_mismatch",
                                     f"canned response {canned_id} is at version {row['version']}, "
                                     f"not {expected_version}", {"If-Match": [f"current version is {row['version']}"]})
        return row

    @staticmethod
    def _event(caller: dict, event_type: str, data: dict) -> NewEvent:
        return NewEvent(event_type, data, actor=Actor(caller["kind"], caller["id"]), store_id=caller["store_id"])

    @staticmethod
    def _title_unique(title: str):
        return _TitleUnique(title)


class _TitleUnique:
    """Turns the table's (store, title) unique key into a 409 naming the field."""

    def __init__(self, title: str):
        self.title = title

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, psycopg.errors.UniqueViolation):
            raise Conflict("title_taken", f"a canned response is already called {self.title!r}",
                           {"title": ["already used by another canned response"]}) from None
        return False
