"""The store's category rules: each one a stream (``rule:{id}``) of ``rule.*``
events, and the ``rules`` table, written in the same transaction from the
fold of the stream (``domain.rules.evolve``), so ``rebuild`` gives the same
rows. ``enabled_in`` and ``groups_of`` are what opening a ticket asks
(``TicketWrites.open_in``); what the rules do is ``domain.rules.apply``."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable, Iterable

import psycopg
from psycopg.types.json import Jsonb

from seedwork.caller import Caller
from seedwork.envelope import Envelope, NewEvent
from seedwork.errors import Conflict, InvalidCommand, NotFound
from seedwork.idempotency import IdempotencyKeys
from seedwork.instants import iso
from seedwork.store import EventStore, expect_version

from .customer_replica import CustomerSummaries
from .domain import rules as domain
from .teams import Teams
from .topics import Topics

COLUMNS = ("id", "store_id", "name", "position", "enabled", "conditions", "actions", "team_id", "version",
           "created_at", "updated_at")
ID_MAX = 64
ORDER = " ORDER BY position, created_at, id"


def stream_of(rule_id: str) -> str:
    return f"rule:{rule_id}"


def count_lock(store_id: str) -> str:
    """Held while a rule is created: the store's rules are counted under it."""
    return f"rules-of:{store_id}"


def view(rule: dict) -> dict[str, Any]:
    return {"id": rule["id"], "name": rule["name"], "position": rule["position"], "enabled": rule["enabled"],
            "conditions": rule["conditions"], "actions": rule["actions"], "version": rule["version"],
            "created_at": iso(rule["created_at"]), "updated_at": iso(rule["updated_at"])}


class Rules:
    def __init__(self, store: EventStore, keys: IdempotencyKeys, teams: Teams, topics: Topics,
                 replica: CustomerSummaries, clock: Callable[[], datetime]):
        self.store, self.keys, self.teams, self.topics, self.replica, self.clock = (
            store, keys, teams, topics, replica, clock)
        self.schema = s = store.schema
        self._select = f"SELECT {', '.join(COLUMNS)} FROM {s}.rules WHERE store_id = %s"
        self._count = f"SELECT count(*), max(position) FROM {s}.rules WHERE store_id = %s"
        self._insert = f"INSERT INTO {s}.rules ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
        self._update = (f"UPDATE {s}.rules SET name = %s, position = %s, enabled = %s, conditions = %s, "
                        "actions = %s, team_id = %s, version = %s, updated_at = %s WHERE id = %s")
        self._delete = f"DELETE FROM {s}.rules WHERE id = %s"

    # --- what opening a ticket asks --------------------------------------------------------

    def enabled_in(self, conn: psycopg.Connection, store_id: str) -> list[dict]:
        """The store's enabled rules in their order (position, then oldest first)."""
        rows = conn.execute(self._select + " AND enabled" + ORDER, (store_id,)).fetchall()
        return [dict(zip(COLUMNS, r)) for r in rows]

    def groups_of(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> list[str]:
        """The ids of the customer's groups, as the replica of the customers service knows them."""
        summary = self.replica.for_ticket(conn, store_id, [customer_id]).get(customer_id)
        return [g["id"] for g in summary["groups"]] if summary else []

    # --- reads -----------------------------------------------------------------------------

    def list(self, caller: Caller) -> dict:
        with self.store.pool.connection() as conn:
            rows = conn.execute(self._select + ORDER, (caller.store_id,)).fetchall()
        return {"items": [view(dict(zip(COLUMNS, r))) for r in rows]}

    def get(self, caller: Caller, rule_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return view(self._found(conn, caller.store_id, rule_id))

    def _found(self, conn: psycopg.Connection, store_id: str, rule_id: Any) -> dict:
        row = None
        if isinstance(rule_id, str) and 0 < len(rule_id) <= ID_MAX:
            row = conn.execute(self._select + " AND id = %s", (store_id, rule_id)).fetchone()
        if row is None:
            raise NotFound("rule_not_found", f"no rule {rule_id}")
        return dict(zip(COLUMNS, row))

    # --- writes ----------------------------------------------------------------------------

    def create(self, caller: Caller, fields: dict, idempotency=None) -> dict:
        """A new rule; a store keeps at most ``MAX_RULES``, counted under a per-store lock."""
        with self.store.transaction() as conn:
            self.store.lock_stream(conn, count_lock(caller.store_id))
            return self.keys.run(conn, caller, idempotency, lambda: {
                "rule": self._create(conn, caller, fields), "created": True})

    def _create(self, conn: psycopg.Connection, caller: Caller, fields: dict) -> dict:
        clean = domain.clean_rule(fields)
        count, highest = conn.execute(self._count, (caller.store_id,)).fetchone()
        if count >= domain.MAX_RULES:
            raise Conflict("too_many_rules", f"a store keeps at most {domain.MAX_RULES} rules",
                           {"rules": [f"at most {domain.MAX_RULES} rules: delete one first"]})
        clean.setdefault("position", domain.next_position(highest))
        self._check_references(conn, caller.store_id, clean)
        rule = {key: clean[key] for key in domain.FIELDS}
        return view(self._record(conn, caller, str(uuid.uuid4()), None, [("rule.created", rule)]))

    def update(self, caller: Caller, rule_id: str, fields: dict, expected_version: int | None = None) -> dict:
        with self.store.transaction() as conn:
            rule = self._locked(conn, caller, rule_id, expected_version)
            merged, changed = domain.merge(rule, domain.clean_rule(fields, partial=True))
            if not changed:
                return view(rule)
            if "conditions" in changed or "actions" in changed:
                self._check_references(conn, caller.store_id, merged)
            return view(self._record(conn, caller, rule_id, rule, [("rule.updated", {"changes": changed,
                                                                                        **merged})]))

    def delete(self, caller: Caller, rule_id: str) -> None:
        """Tickets the rule changed keep what it did; their history still names it."""
        with self.store.transaction() as conn:
            rule = self._locked(conn, caller, rule_id, None)
            self._record(conn, caller, rule_id, rule, [("rule.deleted", {"name": rule["name"]})])

    def _check_references(self, conn: psycopg.Connection, store_id: str, rule: dict) -> None:
        """Every team and topic the rule names is the store's (422 naming where).
        Teams are locked: one cannot be deleted before this rule, naming it, commits."""
        for path, kind, value in domain.references(rule):
            if kind == "team":
                found = self.teams.exists(conn, store_id, value, lock=True)
            else:
                found = self.topics.get_in(conn, store_id, value) is not None
            if not found:
                raise InvalidCommand.field(path, f"no such {kind} in this store")

    def _locked(self, conn: psycopg.Connection, caller: Caller, rule_id: str, expected_version: int | None) -> dict:
        self.store.lock_stream(conn, stream_of(rule_id))
        rule = self._found(conn, caller.store_id, rule_id)
        expect_version(f"rule {rule_id}", expected_version, rule["version"])
        return rule

    def _record(self, conn: psycopg.Connection, caller: Caller, rule_id: str, rule: dict | None,
                changes: list[tuple[str, dict]]) -> dict | None:
        now = self.clock()
        stored = self.store.append(stream_of(rule_id), rule["version"] if rule else 0, [
            NewEvent(event_type, {"rule_id": rule_id, **data}, actor=caller.actor, store_id=caller.store_id,
                     occurred_at=now) for event_type, data in changes], conn=conn)
        after = domain.fold(stored, rule)
        self.write(conn, rule, after)
        return after

    # --- the table ---------------------------------------------------------------------------

    def write(self, conn: psycopg.Connection, before: dict | None, after: dict | None) -> None:
        if after is None:
            if before is not None:
                conn.execute(self._delete, (before["id"],))
            return
        row = (after["id"], after["store_id"], after["name"], after["position"], after["enabled"],
               Jsonb(after["conditions"]), Jsonb(after["actions"]), after["actions"].get("team_id"),
               after["version"], after["created_at"], after["updated_at"])
        if before is None:
            conn.execute(self._insert, row)
        else:
            conn.execute(self._update, (*row[2:9], after["updated_at"], after["id"]))

    def rebuild(self, conn: psycopg.Connection, streams: Iterable[list[Envelope]]) -> int:
        """Write the (emptied) table from the ``rule:`` streams (after the teams: a rule names one)."""
        count = 0
        for events in streams:
            rule = domain.fold(events)
            if rule is not None:
                self.write(conn, None, rule)
                count += 1
        return count
