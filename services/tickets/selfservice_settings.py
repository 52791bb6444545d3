"""A store's self-service settings, kept in one short stream per store
(``self-service-settings:{store_id}``). Each event carries the whole settings
after the change, so loading them reads the stream's head only. The rules
(defaults, what a PATCH may change) are ``domain.selfservice_settings``."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

import psycopg

from seedwork.caller import Caller
from seedwork.envelope import NewEvent
from seedwork.errors import InvalidCommand
from seedwork.instants import iso
from seedwork.store import EventStore, expect_version

from .domain import selfservice_settings as rules

EVENT = "self_service.settings_updated"


def stream_of(store_id: str) -> str:
    return f"self-service-settings:{store_id}"


class SelfServiceSettings:
    def __init__(self, store: EventStore, canned_exists: Callable[[psycopg.Connection, str, str], bool],
                 clock: Callable[[], datetime]):
        self.store, self.clock = store, clock
        self._canned_exists = canned_exists  # (conn, store_id, canned_id): may a setting name it?

    def load(self, conn: psycopg.Connection, store_id: str) -> dict[str, Any]:
        """The settings with their ``version`` (0: never changed) and ``updated_at``."""
        head = self.store.latest_event(stream_of(store_id), conn)
        if head is None:
            return {**rules.with_defaults({}), "version": 0, "updated_at": None}
        return {**rules.with_defaults(head.data["settings"]), "version": head.version,
                "updated_at": iso(head.occurred_at)}

    def current(self, caller: Caller) -> dict[str, Any]:
        with self.store.pool.connection() as conn:
            return self.load(conn, caller.store_id)

    def update(self, caller: Caller, patch: dict, expected_version: int | None = None) -> dict[str, Any]:
        """Merge ``patch`` into the store's settings. Same values again: nothing written."""
        store_id = caller.store_id
        with self.store.transaction() as conn:
            self.store.lock_stream(conn, stream_of(store_id))
            current = self.load(conn, store_id)
            expect_version("the self-service configuration", expected_version, current["version"])
            clean = rules.clean_settings_patch(patch)
            template = clean.get("default_reply_template_id")
            if template is not None and not self._canned_exists(conn, store_id, template):
                raise InvalidCommand.field("default_reply_template_id", "no such canned response in this store")
            stored = {k: v for k, v in current.items() if k not in ("version", "updated_at")}
            settings, changes = rules.merge_settings(stored, clean)
            if not changes:
                return current
            self.store.append(stream_of(store_id), current["version"], [NewEvent(
                EVENT, {"changes": changes, "settings": settings}, actor=caller.actor, store_id=store_id,
                occurred_at=self.clock())], conn=conn)
            return self.load(conn, store_id)
