"""Customer groups, one command per transaction: lock the group's stream,
read its head, decide, append, project (``groups/projection.py``)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import psycopg

from seedwork.caller import Caller
from seedwork.errors import InvalidCommand
from seedwork.idempotency import IdempotencyKeys
from seedwork.store import EventStore

from ..listing import CustomerFilter
from .domain import (EVENT_TYPES, ChangeMembers, CreateGroup, DeleteGroup, GroupState, RenameGroup, decide, evolve,
                     group_id_of, group_name, member_op, not_found)
from .projection import GroupsProjection

MAX_BULK_IDS = 10000


@dataclass(frozen=True)
class Groups:
    store: EventStore
    projection: GroupsProjection
    keys: IdempotencyKeys
    clock: Callable[[], datetime]

    def _load(self, conn: psycopg.Connection, store_id: str, group_id: str) -> GroupState:
        """The group (locked for this transaction) as its stream's last event names it."""
        group_id = group_id_of(group_id)
        self.store.lock_stream(conn, group_id)
        head = self.store.latest_event(group_id, conn=conn)
        if head is None or head.type not in EVENT_TYPES:  # no stream, or another aggregate's
            raise not_found(group_id)
        state = evolve(None, head)
        if state.store_id != store_id or state.deleted:
            raise not_found(group_id)
        return state

    def _run(self, conn: psycopg.Connection, state: GroupState | None, stream_id: str, command) -> None:
        events = decide(state, command, self.clock())
        if events:
            stored = self.store.append(stream_id, state.version if state else 0, events, conn=conn)
            self.projection.apply(conn, stored)

    def _view(self, conn: psycopg.Connection, store_id: str, group_id: str) -> dict:
        view = self.projection.group(conn, store_id, group_id)
        if view is None:
            raise not_found(group_id)
        return view

    # --- commands -------------------------------------------------------------------

    def create(self, caller: Caller, fields: dict, idempotency=None) -> dict:
        name = group_name(fields.get("name"))
        with self.store.transaction() as conn:
            return self.keys.run(conn, caller, idempotency, lambda: self._create(conn, caller, name))

    def _create(self, conn: psycopg.Connection, caller: Caller, name: str) -> dict:
        group_id = str(uuid.uuid4())
        self._run(conn, None, group_id, CreateGroup(actor=caller.actor, group_id=group_id, store_id=caller.store_id,
                                                    name=name))
        return {"group": self._view(conn, caller.store_id, group_id), "created": True}

    def rename(self, caller: Caller, group_id: str, fields: dict) -> dict:
        name = group_name(fields.get("name"))
        with self.store.transaction() as conn:
            state = self._load(conn, caller.store_id, group_id)
            self._run(conn, state, state.id, RenameGroup(actor=caller.actor, name=name))
            return {"group": self._view(conn, caller.store_id, state.id)}

    def delete(self, caller: Caller, group_id: str) -> None:
        with self.store.transaction() as conn:
            state = self._load(conn, caller.store_id, group_id)
            self._run(conn, state, state.id, DeleteGroup(actor=caller.actor))

    def change_members(self, caller: Caller, group_id: str, op: str, selection: dict) -> dict:
        """Add or remove customers, by ids or by a list filter, in one transaction."""
        op = member_op(op)
        with self.store.transaction() as conn:
            state = self._load(conn, caller.store_id, group_id)
            where, params = self._selection(conn, caller.store_id, selection)
            changed = self.projection.selected(conn, state.id, op, where, params)
            self._run(conn, state, state.id, ChangeMembers(actor=caller.actor, op=op, customer_ids=changed))
            return {"changed": len(changed), "group": self._view(conn, caller.store_id, state.id)}

    def _selection(self, conn: psycopg.Connection, store_id: str, selection: dict) -> tuple[list, list]:
        """SQL conditions over ``cards c`` for the customers a bulk action names."""
        has_ids, has_filter = "customer_ids" in selection, "filter" in selection
        if has_ids == has_filter:
            raise InvalidCommand("invalid_fields", "give either customer_ids or filter",
                                 {"customer_ids": ["give either customer_ids or filter"],
                                  "filter": ["give either customer_ids or filter"]})
        if has_filter:
            if not isinstance(selection["filter"], dict):
                raise InvalidCommand.field("filter", "an object of list filters")
            return CustomerFilter.from_dict(selection["filter"]).where(store_id)
        ids = selection["customer_ids"]
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BULK_IDS:
            raise InvalidCommand.field("customer_ids", f"a list of 1 to {MAX_BULK_IDS} customer ids")
        try:
            ids = sorted({str(uuid.UUID(str(i))) for i in ids})
        except ValueError:
            raise InvalidCommand.field("customer_ids", "every item must be a customer id") from None
        missing = self.projection.missing_cards(conn, store_id, ids)
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise InvalidCommand.field("customer_ids", f"not customers of this store: {shown}")
        return ["c.store_id = %s", "c.id = ANY(%s::uuid[])"], [store_id, ids]

    # --- reads ----------------------------------------------------------------------

    def get(self, caller: Caller, group_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return self._view(conn, caller.store_id, group_id_of(group_id))

    def list(self, caller: Caller) -> dict:
        with self.store.pool.connection() as conn:
            return {"items": self.projection.groups(conn, caller.store_id)}
