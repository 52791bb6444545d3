"""The store's canned responses: each one a stream (``canned:{id}``) of
``canned_response.*`` events, and the ``canned_responses`` table, written in
the same transaction, that lists and reads them. What may be saved and how a
reply is filled from one is ``domain.canned``'s."""
from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from typing import Any, Callable, Iterator

import psycopg

from seedwork.caller import Caller
from seedwork.envelope import NewEvent
from seedwork.errors import Conflict, InvalidCommand, NotFound
from seedwork.idempotency import IdempotencyKeys
from seedwork.instants import iso
from seedwork.store import EventStore, expect_version

from .customer_replica import CustomerSummaries
from .domain import canned
from .domain.ticket import TicketState

COLUMNS = ("id", "store_id", "title", "body", "version", "created_at", "updated_at")


def stream_of(canned_id: str) -> str:
    return f"canned:{canned_id}"


def view(row: dict) -> dict[str, Any]:
    return {"id": row["id"], "title": row["title"], "body": row["body"], "version": row["version"],
            "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"])}


class CannedResponses:
    def __init__(self, store: EventStore, keys: IdempotencyKeys, replica: CustomerSummaries,
                 clock: Callable[[], datetime]):
        self.store, self.keys, self.replica, self.clock = store, keys, replica, clock
        self.schema = s = store.schema
        self._select = f"SELECT {', '.join(COLUMNS)} FROM {s}.canned_responses WHERE store_id = %s"
        self._exists = f"SELECT 1 FROM {s}.canned_responses WHERE store_id = %s AND id = %s"
        self._insert = (f"INSERT INTO {s}.canned_responses ({', '.join(COLUMNS)}) "
                        f"VALUES ({', '.join(['%s'] * len(COLUMNS))})")
        self._update = (f"UPDATE {s}.canned_responses SET title = %s, body = %s, version = %s, updated_at = %s "
                        "WHERE id = %s")
        self._delete = f"DELETE FROM {s}.canned_responses WHERE id = %s"

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
        return conn.execute(self._exists, (store_id, canned_id)).fetchone() is not None

    def list(self, caller: Caller) -> dict:
        with self.store.pool.connection() as conn:
            rows = conn.execute(self._select + " ORDER BY title", (caller.store_id,)).fetchall()
        return {"items": [view(dict(zip(COLUMNS, r))) for r in rows]}

    def get(self, caller: Caller, canned_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return view(self.get_in(conn, caller.store_id, canned_id))

    def fill(self, conn: psycopg.Connection, caller: Caller, state: TicketState, canned_id: Any,
             context: dict) -> str:
        """A reply's body from a canned response, its placeholders filled from
        the ticket, its customer, and ``context`` (what the gateway knows:
        the store's and the agent's names)."""
        response = self.get_in(conn, caller.store_id, canned_id, "canned_response_id")
        summary = self.replica.for_ticket(conn, state.store_id, [state.customer_id]).get(state.customer_id)
        return canned.render_canned(response["body"], {
            "customer_name": summary and summary["name"], "order_id": state.order_id,
            "ticket_number": str(state.number), "store_name": context.get("store_name"),
            "agent_name": context.get("agent_name"),
        })

    # --- writes --------------------------------------------------------------------

    def create(self, caller: Caller, fields: dict, idempotency=None) -> dict:
        with self.store.transaction() as conn:
            return self.keys.run(conn, caller, idempotency, lambda: {
                "canned_response": self._create(conn, caller, fields), "created": True})

    def _create(self, conn: psycopg.Connection, caller: Caller, fields: dict) -> dict:
        clean = canned.clean_canned(fields)
        canned_id = str(uuid.uuid4())
        [event] = self.store.append(stream_of(canned_id), 0, [self._event(caller, "canned_response.created", {
            "canned_response_id": canned_id, **clean})], conn=conn)
        row = {"id": canned_id, "store_id": caller.store_id, **clean, "version": event.version,
               "created_at": event.occurred_at, "updated_at": event.occurred_at}
        with _title_unique(clean["title"]):
            conn.execute(self._insert, [row[c] for c in COLUMNS])
        return view(row)

    def update(self, caller: Caller, canned_id: str, fields: dict, expected_version: int | None = None) -> dict:
        with self.store.transaction() as conn:
            row = self._locked(conn, caller, canned_id, expected_version)
            clean = canned.clean_canned(fields, partial=True)
            changed = {k: v for k, v in clean.items() if row[k] != v}
            if not changed:
                return view(row)
            [event] = self.store.append(stream_of(canned_id), row["version"], [self._event(
                caller, "canned_response.updated", {"canned_response_id": canned_id, "title": row["title"],
                                                    "body": row["body"], **changed})], conn=conn)
            row.update(changed, version=event.version, updated_at=event.occurred_at)
            with _title_unique(row["title"]):
                conn.execute(self._update, (row["title"], row["body"], row["version"], row["updated_at"], canned_id))
            return view(row)

    def delete(self, caller: Caller, canned_id: str) -> None:
        with self.store.transaction() as conn:
            row = self._locked(conn, caller, canned_id, None)
            self.store.append(stream_of(canned_id), row["version"], [self._event(
                caller, "canned_response.deleted", {"canned_response_id": canned_id})], conn=conn)
            conn.execute(self._delete, (canned_id,))

    def _locked(self, conn: psycopg.Connection, caller: Caller, canned_id: str, expected_version: int | None) -> dict:
        self.store.lock_stream(conn, stream_of(canned_id))
        row = self.get_in(conn, caller.store_id, canned_id)
        expect_version(f"canned response {canned_id}", expected_version, row["version"])
        return row

    def _event(self, caller: Caller, event_type: str, data: dict) -> NewEvent:
        return NewEvent(event_type, data, actor=caller.actor, store_id=caller.store_id, occurred_at=self.clock())


@contextlib.contextmanager
def _title_unique(title: str) -> Iterator[None]:
    """Turns the table's (store, title) unique key into a 409 naming the field."""
    try:
        yield
    except psycopg.errors.UniqueViolation:
        raise Conflict("title_taken", f"a canned response is already called {title!r}",
                       {"title": ["already used by another canned response"]}) from None
