"""A store's self-service settings, kept in one short stream per store
(``self-service-settings:{store_id}``, ``seedwork.settings``). The rules
(defaults, what a PATCH may change) are ``domain.selfservice_settings``."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

import psycopg

from seedwork.caller import Caller
from seedwork.errors import InvalidCommand
from seedwork.settings import SettingsStream
from seedwork.store import EventStore

from .domain import selfservice_settings as rules

EVENT = "self_service.settings_updated"


class SelfServiceSettings:
    def __init__(self, store: EventStore, canned_exists: Callable[[psycopg.Connection, str, str], bool],
                 clock: Callable[[], datetime]):
        self.stream = SettingsStream(store, "self-service-settings", EVENT, "the self-service configuration", rules,
                                     clock)
        self._canned_exists = canned_exists  # (conn, store_id, canned_id): may a setting name it?

    def load(self, conn: psycopg.Connection, store_id: str) -> dict[str, Any]:
        """The settings with their ``version`` (0: never changed) and ``updated_at``."""
        return self.stream.load(conn, store_id)

    def current(self, caller: Caller) -> dict[str, Any]:
        return self.stream.current(caller)

    def update(self, caller: Caller, patch: dict, expected_version: int | None = None) -> dict[str, Any]:
        """Merge ``patch`` into the store's settings. Same values again: nothing written."""
        return self.stream.update(caller, patch, expected_version, self._check)

    def _check(self, conn: psycopg.Connection, store_id: str, clean: dict) -> None:
        template = clean.get("default_reply_template_id")
        if template is not None and not self._canned_exists(conn, store_id, template):
            raise InvalidCommand.field("default_reply_template_id", "no such canned response in this store")
