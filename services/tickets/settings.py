"""A store's self-service settings: one short stream per store
(``self-service-settings:{store_id}``), each event carrying the whole
settings after the change, so loading them reads one row."""
from __future__ import annotations

import copy
from typing import Any

from seedwork import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg

from seedwork.envelope import Actor, NewEvent, iso
from seedwork.errors import InvalidCommand, PreconditionFailed
from seedwork.store import EventStore

from . import selfservice

EVENT = "self_service.settings_updated"


def stream_of(store_id: str) -> str:
    return f"self-service-settings:{store_id}"


class SelfServiceSettings:
    def __init__(self, store: EventStore):
        self.store = store
        self._latest = (f"SELECT version, data, occurred_at FROM {store.schema}.events "
                        "WHERE stream_id = %s ORDER BY version DESC LIMIT 1")

    def load(self, conn: psycopg.Connection, store_id: str) -> dict[str, Any]:
        """The settings with their ``version`` (0: never changed) and ``updated_at``."""
        row = conn.execute(self._latest, (stream_of(store_id),)).fetchone()
        if row is None:
            return {**copy.deepcopy(selfservice.DEFAULT_SETTINGS), "version": 0, "updated_at": None}
        version, data, occurred_at = row
        # Settings added after this event was written take their defaults.
        settings = copy.deepcopy(selfservice.DEFAULT_SETTINGS)
        settings.update({k: v for k, v in data["settings"].items() if k != "texts"})
        settings["texts"].update(data["settings"].get("texts", {}))
        return {**settings, "version": version, "updated_at": iso(occurred_at)}

    def update(self, conn: psycopg.Connection, caller: dict, patch: dict, expected_version: int | None,
               canned_exists) -> dict[str, Any]:
        """Merge ``patch`` into the store's settings; ``canned_exists(id)``
        checks a default reply template. Same values again: nothing written."""
        store_id = caller["store_id"]
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (stream_of(store_id),))
        current = self.load(conn, store_id)
        if expected_version is not None and current["version"] != expected_version:
            raise PreconditionFailed("version_mismatch",
                                     f"the settings are at version {current['version']}, not {expected_version}",
                                     {"If-Match": [f"current version is {current['version']}"]})
        clean = selfservice.clean_settings_patch(patch)
        template = clean.get("default_reply_template_id")
        if template is not None and not canned_exists(template):
            raise InvalidCommand.field("default_reply_template_id", "no such canned response in this store")
        stored = {k: v for k, v in current.items() if k not in ("version", "updated_at")}
        settings, changes = selfservice.merge_settings(stored, clean)
        if not changes:
            return current
        self.store.append(stream_of(store_id), current["version"], [NewEvent(
            EVENT, {"changes": changes, "settings": settings}, actor=Actor(caller["kind"], caller["id"]),
            store_id=store_id)], conn=conn)
        return self.load(conn, store_id)
