"""A store's plan: the limits the platform sets on its staff seats, teams and
contact topics (docs/agent-operations.md, "Plan limits"). Kept on the store's
row, each change recorded as a ``store.plan_changed`` event in the same
transaction. Staff seats are counted here (``Identity.create_agent``); teams
and topics by the tickets service, which is given the limits with each create.
"""
from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from seedwork.caller import Caller
from seedwork.envelope import NewEvent
from seedwork.errors import Conflict, Forbidden, InvalidCommand, NotFound
from seedwork.instants import iso_or_none
from seedwork.store import EventStore

LIMITS = ("staff_seats", "teams", "topics")
LIMIT_MAX = 1_000_000
NOUNS = {"staff_seats": ("staff seat", "staff seats"), "teams": ("team", "teams"), "topics": ("topic", "topics")}
EVENT = "store.plan_changed"


def unlimited() -> dict[str, int | None]:
    return {name: None for name in LIMITS}


def clean_limits(sent: Any) -> dict[str, int | None]:
    """``{staff_seats, teams, topics}``: integers 0..1,000,000, or null (a limit left out is null: none)."""
    if not isinstance(sent, dict):
        raise InvalidCommand.field("limits", "must be an object {staff_seats, teams, topics}")
    unknown = sorted(set(sent) - set(LIMITS))
    if unknown:
        raise InvalidCommand.field(f"limits.{unknown[0][:40]}", "unknown limit")
    clean = unlimited()
    for name in LIMITS:
        value = sent.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value <= LIMIT_MAX):
            raise InvalidCommand.field(f"limits.{name}", f"must be an integer from 0 to {LIMIT_MAX}, or null")
        clean[name] = value
    return clean


def check_room(limits: dict[str, Any], name: str, count: int) -> None:
    """409 ``plan_limit_reached`` naming the limit when the store already has all the plan allows."""
    limit = limits.get(name)
    if limit is not None and count >= limit:
        singular, plural = NOUNS[name]
        message = f"the plan allows {limit} {singular if limit == 1 else plural}"
        raise Conflict("plan_limit_reached", message, {name: [message]})


class StorePlans:
    def __init__(self, store: EventStore):
        self.store = store
        s = store.schema
        self._select = f"SELECT plan_limits, plan_updated_at FROM {s}.stores WHERE store_id = %s"
        self._update = f"UPDATE {s}.stores SET plan_limits = %s, plan_updated_at = now() WHERE store_id = %s"

    def limits_in(self, conn: psycopg.Connection, store_id: str, lock: bool = False) -> dict[str, int | None]:
        """The store's limits (every one null for a store without a plan). With
        ``lock`` the store's row is held: a create that counts under it cannot race another."""
        return self._row(conn, store_id, lock)[0]

    def _row(self, conn: psycopg.Connection, store_id: str, lock: bool = False) -> tuple[dict, Any]:
        row = conn.execute(self._select + (" FOR UPDATE" if lock else ""), (store_id,)).fetchone()
        if row is None:
            raise NotFound("store_not_found", f"no store {store_id}")
        return {**unlimited(), **{k: v for k, v in row[0].items() if k in LIMITS}}, row[1]

    def limits(self, store_id: str) -> dict[str, int | None]:
        with self.store.pool.connection() as conn:
            return self.limits_in(conn, store_id)

    def get(self, caller: Caller, store_id: str) -> dict:
        """The plan, for the store's own staff or the platform; 404 for anyone else."""
        if not (caller.is_platform or caller.store_id == store_id):
            raise NotFound("store_not_found", f"no store {store_id}")
        with self.store.pool.connection() as conn:
            return self._plan(conn, store_id)

    def put(self, caller: Caller, store_id: str, sent: Any) -> dict:
        """Set the store's limits (the platform only). Lowering a limit under what
        the store has removes nothing: it only refuses new ones."""
        if not caller.is_platform:
            raise Forbidden("platform_only", "only the platform sets a store's plan")
        limits = clean_limits(sent)
        with self.store.transaction() as conn:
            previous = self.limits_in(conn, store_id, lock=True)
            if previous != limits:
                stream = f"store-{store_id}"
                self.store.append(stream, self.store.stream_version(stream, conn), [NewEvent(
                    EVENT, {"store_id": store_id, "limits": limits, "previous": previous},
                    actor=caller.actor, store_id=store_id)], conn=conn)
                conn.execute(self._update, (Jsonb(limits), store_id))
            return self._plan(conn, store_id)

    def _plan(self, conn: psycopg.Connection, store_id: str) -> dict:
        limits, updated_at = self._row(conn, store_id)
        return {"store_id": store_id, "limits": limits, "updated_at": iso_or_none(updated_at)}
