"""A store's report settings (``domain.report_settings``): one settings
stream per store, ``report-settings:{store_id}``."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

import psycopg

from seedwork.caller import Caller
from seedwork.errors import Forbidden
from seedwork.settings import SettingsStream
from seedwork.store import EventStore

from .domain import report_settings as rules

EVENT = "report_settings.updated"


class ReportSettings:
    def __init__(self, store: EventStore, clock: Callable[[], datetime]):
        self.stream = SettingsStream(store, "report-settings", EVENT, "the report settings", rules, clock)

    def load(self, conn: psycopg.Connection, store_id: str) -> dict[str, Any]:
        return self.stream.load(conn, store_id)

    def current(self, caller: Caller) -> dict[str, Any]:
        if not caller.is_staff:
            raise Forbidden("staff_only", "the report settings are the store's staff's")
        return self.stream.current(caller)

    def update(self, caller: Caller, patch: dict, expected_version: int | None = None) -> dict[str, Any]:
        if caller.role not in ("owner", "admin"):
            raise Forbidden("admin_only", "only the store's owner or an admin changes the report settings")
        return self.stream.update(caller, patch, expected_version)
