"""A store's settings kept in one short stream per store (``<prefix>:<store_id>``):
each event carries the whole settings after the change, so loading them reads
the stream's head only, and every version stays in the log.

The rules are the service's: ``SettingsRules`` says what the defaults are, how a
patch is checked and how it merges (plain Python, in the service's domain).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Protocol

import psycopg

from .caller import Caller
from .envelope import NewEvent
from .instants import iso
from .store import EventStore, expect_version


class SettingsRules(Protocol):
    def with_defaults(self, stored: dict) -> dict: ...

    def clean_settings_patch(self, patch: dict) -> dict: ...

    def merge_settings(self, current: dict, patch: dict) -> tuple[dict, dict]: ...


class SettingsStream:
    def __init__(self, store: EventStore, prefix: str, event_type: str, what: str, rules: SettingsRules,
                 clock: Callable[[], datetime]):
        self.store, self.prefix, self.event_type, self.what = store, prefix, event_type, what
        self.rules, self.clock = rules, clock

    def stream_of(self, store_id: str) -> str:
        return f"{self.prefix}:{store_id}"

    def load(self, conn: psycopg.Connection, store_id: str) -> dict[str, Any]:
        """The settings with their ``version`` (0: never changed) and ``updated_at``."""
        head = self.store.latest_event(self.stream_of(store_id), conn)
        if head is None:
            return {**self.rules.with_defaults({}), "version": 0, "updated_at": None}
        return {**self.rules.with_defaults(head.data["settings"]), "version": head.version,
                "updated_at": iso(head.occurred_at)}

    def current(self, caller: Caller) -> dict[str, Any]:
        with self.store.pool.connection() as conn:
            return self.load(conn, caller.store_id)

    def update(self, caller: Caller, patch: dict, expected_version: int | None = None,
               check: Callable[[psycopg.Connection, str, dict], None] | None = None) -> dict[str, Any]:
        """Merge ``patch`` into the store's settings (``check(conn, store_id,
        clean patch)`` may refuse it first). The same values again: nothing written."""
        store_id = caller.store_id
        stream = self.stream_of(store_id)
        with self.store.transaction() as conn:
            self.store.lock_stream(conn, stream)
            current = self.load(conn, store_id)
            expect_version(self.what, expected_version, current["version"])
            clean = self.rules.clean_settings_patch(patch)
            if check is not None:
                check(conn, store_id, clean)
            stored = {k: v for k, v in current.items() if k not in ("version", "updated_at")}
            settings, changes = self.rules.merge_settings(stored, clean)
            if not changes:
                return current
            self.store.append(stream, current["version"], [NewEvent(
                self.event_type, {"changes": changes, "settings": settings}, actor=caller.actor, store_id=store_id,
                occurred_at=self.clock())], conn=conn)
            return self.load(conn, store_id)
