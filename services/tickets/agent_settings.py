"""How a store's staff work tickets (``domain.agent_settings``): one settings
stream per store (``agent-settings:{store_id}``), and the ``Viewer`` every
read of tickets is scoped by (its teams, and whether the store limits it to them)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

import psycopg

from seedwork.caller import Caller
from seedwork.errors import Forbidden
from seedwork.settings import SettingsStream
from seedwork.store import EventStore

from .domain import agent_settings as rules
from .domain.queues import Viewer
from .teams import Teams

EVENT = "agent_settings.updated"


class AgentSettings:
    def __init__(self, store: EventStore, teams: Teams, clock: Callable[[], datetime]):
        self.stream = SettingsStream(store, "agent-settings", EVENT, "the agent settings", rules, clock)
        self.teams = teams

    def load(self, conn: psycopg.Connection, store_id: str) -> dict[str, Any]:
        return self.stream.load(conn, store_id)

    def current(self, caller: Caller) -> dict[str, Any]:
        if not caller.is_staff:
            raise Forbidden("staff_only", "the agent settings are the store's staff's")
        return self.stream.current(caller)

    def update(self, caller: Caller, patch: dict, expected_version: int | None = None) -> dict[str, Any]:
        if caller.role not in ("owner", "admin"):
            raise Forbidden("admin_only", "only the store's owner or an admin changes the agent settings")
        return self.stream.update(caller, patch, expected_version)

    def viewer_of(self, conn: psycopg.Connection, caller: Caller) -> Viewer:
        """Who reads tickets: a staff member's teams, and whether the store
        scopes them to those (and their own); nobody else is scoped here."""
        if caller.kind != "agent" or caller.id is None:
            return Viewer(agent_id=caller.id)
        team_ids = self.teams.team_ids_of(conn, caller.store_id, caller.id)
        scoped = rules.is_team_scoped(self.load(conn, caller.store_id), caller.role)
        return Viewer(agent_id=caller.id, team_ids=team_ids, scoped=scoped)
