"""A store's SLA policy, kept in one short stream per store
(``sla-policy:{store_id}``): each ``sla_policy.updated`` event carries the
whole policy, so every version stays readable. The rules (the format, the
business-hours clock, a ticket's deadlines) are ``domain.sla``'s.

Which version a ticket's SLA is computed with: an unsolved ticket's, the
current one (a change recomputes them: ``SlaRecompute``); a solved or closed
ticket's, the version in force at its last event. Live writes and the
rebuild both ask ``policy_for``, so both give the same answer.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import psycopg

from seedwork.caller import Caller
from seedwork.envelope import NewEvent
from seedwork.errors import Forbidden
from seedwork.instants import iso
from seedwork.store import EventStore, expect_version

from .domain import sla
from .domain.queues import UNSOLVED
from .domain.ticket import TicketState

EVENT = "sla_policy.updated"


def stream_of(store_id: str) -> str:
    return f"sla-policy:{store_id}"


class SlaPolicies:
    def __init__(self, store: EventStore, clock: Callable[[], datetime]):
        self.store, self.clock = store, clock
        s = store.schema
        self._mark_recompute = (
            f"INSERT INTO {s}.sla_recompute (store_id, policy_version) VALUES (%s, %s) "
            "ON CONFLICT (store_id) DO UPDATE SET policy_version = EXCLUDED.policy_version")

    # --- reads -----------------------------------------------------------------------

    def versions(self, conn: psycopg.Connection, store_id: str) -> list[tuple[int, datetime, dict]]:
        """Every version of the store's policy: ``(version, since, policy)``, oldest first;
        version 0 is the default policy, in force until the store first sets one."""
        events = self.store.load(stream_of(store_id), conn=conn)
        return [(0, datetime.min.replace(tzinfo=timezone.utc), sla.DEFAULT_POLICY)] + [
            (e.version, e.occurred_at, e.data["policy"]) for e in events]

    def policy_for(self, conn: psycopg.Connection, state: TicketState,
                   versions: list[tuple[int, datetime, dict]] | None = None) -> tuple[int, dict]:
        """``(version, policy)`` a ticket's SLA is computed with (see the module's doc)."""
        if versions is None:
            versions = self.versions(conn, state.store_id)
        if state.status in UNSOLVED:
            version, _, policy = versions[-1]
            return version, policy
        chosen = versions[0]
        for entry in versions[1:]:
            if entry[1] <= state.updated_at:
                chosen = entry
        return chosen[0], chosen[2]

    def current(self, caller: Caller) -> dict[str, Any]:
        with self.store.pool.connection() as conn:
            return self._view(self.store.latest_event(stream_of(caller.store_id), conn))

    @staticmethod
    def _view(head) -> dict[str, Any]:
        if head is None:
            return {**sla.DEFAULT_POLICY, "version": 0, "updated_at": None}
        return {**head.data["policy"], "version": head.version, "updated_at": iso(head.occurred_at)}

    # --- writes ----------------------------------------------------------------------

    def replace(self, caller: Caller, raw: dict, expected_version: int | None = None) -> dict[str, Any]:
        """``PUT /v1/settings/sla``: the whole policy. The store's unsolved
        tickets are then recomputed in the background (``SlaRecompute``)."""
        if caller.role not in ("owner", "admin"):
            raise Forbidden("admin_only", "only the store's owner or an admin sets the SLA policy")
        policy = sla.clean_policy(raw)
        store_id = caller.store_id
        with self.store.transaction() as conn:
            self.store.lock_stream(conn, stream_of(store_id))
            head = self.store.latest_event(stream_of(store_id), conn)
            version = head.version if head else 0
            expect_version("the SLA policy", expected_version, version)
            if head is not None and head.data["policy"] == policy:
                return self._view(head)
            [event] = self.store.append(stream_of(store_id), version, [NewEvent(
                EVENT, {"policy": policy, "previous_version": version}, actor=caller.actor, store_id=store_id,
                occurred_at=self.clock())], conn=conn)
            conn.execute(self._mark_recompute, (store_id, event.version))
            return self._view(event)
