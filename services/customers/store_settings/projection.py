"""The ``settings`` table: each store's customer settings as its stream
folds them (no row: the defaults). Every part of the service reads them here."""
from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from seedwork.config import checked_name

from .domain import DEFAULTS, SettingsState


class SettingsProjection:
    def __init__(self, schema: str):
        self.schema = checked_name(schema, "schema")

    def values(self, conn: psycopg.Connection, store_id: str) -> dict:
        row = conn.execute(f"SELECT settings FROM {self.schema}.settings WHERE store_id = %s",
                           (store_id,)).fetchone()
        return {**DEFAULTS, **(row[0] if row else {})}

    def default_region(self, conn: psycopg.Connection, store_id: str) -> str:
        """The country of the store's mobiles typed without a country code."""
        return self.values(conn, store_id)["default_country"]

    def save(self, conn: psycopg.Connection, state: SettingsState) -> None:
        conn.execute(
            f"INSERT INTO {self.schema}.settings (store_id, settings, version) VALUES (%s, %s, %s) "
            "ON CONFLICT (store_id) DO UPDATE SET settings = EXCLUDED.settings, version = EXCLUDED.version "
            f"WHERE {self.schema}.settings.version < EXCLUDED.version",
            (state.store_id, Jsonb(dict(state.values)), state.version))
