"""Agents' routing profiles (availability, capacity, skills): one stream per
agent (``agent-profile:{store_id}:{agent_id}``) of ``agent.profile_updated``
events, each carrying the whole profile after the change, and the
``agent_profiles`` table written in the same transaction. An agent never
patched has no row and the defaults. Who may change what is
``domain.agent_profiles``'s; that the agent is staff of the store, the gateway's."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable

import psycopg

from seedwork.caller import Caller
from seedwork.envelope import Envelope, NewEvent
from seedwork.errors import InvalidCommand
from seedwork.store import EventStore

from .domain import agent_profiles as rules
from .teams import Teams

EVENT = "agent.profile_updated"
COLUMNS = ("agent_id", "availability", "capacity", "skills", "version", "updated_at")
ID_MAX = 200


def stream_of(store_id: str, agent_id: str) -> str:
    return f"agent-profile:{store_id}:{agent_id}"


def _profile(row: dict | None) -> dict[str, Any]:
    """``{availability, capacity, skills, version, updated_at}``; version 0: never changed."""
    if row is None:
        return {**rules.with_defaults(None), "version": 0, "updated_at": None}
    return {**rules.with_defaults(row), "version": row["version"], "updated_at": row["updated_at"]}


class AgentProfiles:
    def __init__(self, store: EventStore, teams: Teams, clock: Callable[[], datetime]):
        self.store, self.teams, self.clock = store, teams, clock
        self.schema = s = store.schema
        self._select = f"SELECT {', '.join(COLUMNS)} FROM {s}.agent_profiles WHERE store_id = %s"
        self._upsert = (f"INSERT INTO {s}.agent_profiles (store_id, {', '.join(COLUMNS)}) "
                        f"VALUES (%s, {', '.join(['%s'] * len(COLUMNS))}) ON CONFLICT (store_id, agent_id) DO UPDATE "
                        "SET availability = EXCLUDED.availability, capacity = EXCLUDED.capacity, "
                        "skills = EXCLUDED.skills, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at")

    # --- lookups ------------------------------------------------------------------------

    def get_in(self, conn: psycopg.Connection, store_id: str, agent_id: str) -> dict[str, Any]:
        """The agent's profile, the defaults if never changed."""
        row = conn.execute(self._select + " AND agent_id = %s", (store_id, agent_id)).fetchone()
        return _profile(dict(zip(COLUMNS, row)) if row else None)

    def for_store(self, conn: psycopg.Connection, store_id: str) -> dict[str, dict[str, Any]]:
        """``{agent_id: profile}`` of every agent of the store whose profile was ever
        changed; the others have ``get_in``'s defaults."""
        return {row[0]: _profile(dict(zip(COLUMNS, row))) for row in conn.execute(self._select, (store_id,))}

    # --- what the gateway shows with its staff list ----------------------------------------

    def of_agents(self, caller: Caller, agent_ids: list[str]) -> dict[str, dict[str, Any]]:
        """``{agent_id: {availability, capacity, skills, teams}}`` for each of
        ``agent_ids``: one call for a whole staff list."""
        ids = [a for a in agent_ids if isinstance(a, str)]
        with self.store.pool.connection() as conn:
            stored = self.for_store(conn, caller.store_id) if len(ids) > 1 else {
                a: self.get_in(conn, caller.store_id, a) for a in ids}
            teams = self.teams.teams_of_agents(conn, caller.store_id, ids)
        return {a: {**_shown(stored.get(a) or _profile(None)), "teams": teams.get(a, [])} for a in ids}

    # --- the change ----------------------------------------------------------------------

    def update(self, caller: Caller, agent_id: str, patch: dict) -> dict[str, Any]:
        """Merge ``patch`` into the agent's profile; the answer is ``of_agents``'
        for this agent. The same values again: nothing written."""
        if not isinstance(agent_id, str) or not 0 < len(agent_id) <= ID_MAX:
            raise InvalidCommand.field("agent_id", "must be an agent's id")
        rules.check_may_patch(caller.role, caller.id, agent_id, patch if isinstance(patch, dict) else {})
        clean = rules.clean_profile_patch(patch)
        stream = stream_of(caller.store_id, agent_id)
        with self.store.transaction() as conn:
            self.store.lock_stream(conn, stream)
            current = self.get_in(conn, caller.store_id, agent_id)
            profile, changes = rules.merge(current, clean)
            if changes:
                [event] = self.store.append(stream, current["version"], [NewEvent(
                    EVENT, {"agent_id": agent_id, "changes": changes, "profile": profile}, actor=caller.actor,
                    store_id=caller.store_id, occurred_at=self.clock())], conn=conn)
                self.write(conn, event)
        return self.of_agents(caller, [agent_id])[agent_id]

    # --- the table --------------------------------------------------------------------

    def write(self, conn: psycopg.Connection, event: Envelope) -> None:
        profile = rules.with_defaults(event.data["profile"])
        conn.execute(self._upsert, (event.store_id, event.data["agent_id"], profile["availability"],
                                    profile["capacity"], profile["skills"], event.version, event.occurred_at))

    def rebuild(self, conn: psycopg.Connection, streams: Iterable[list[Envelope]]) -> int:
        """Write the (emptied) table from the ``agent-profile:`` streams: each one's last event is the profile."""
        count = 0
        for events in streams:
            self.write(conn, events[-1])
            count += 1
        return count


def _shown(profile: dict[str, Any]) -> dict[str, Any]:
    return {"availability": profile["availability"], "capacity": profile["capacity"],
            "skills": list(profile["skills"])}
