"""Versioned, ordered, idempotent SQL migrations, one PostgreSQL schema per service.

A migration is a file ``NNNN_name.sql`` in a folder; ``{schema}`` in it is
replaced by the service's schema name. Each file is applied once, in order,
all pending ones in one transaction, and recorded with its checksum; an applied file that
was later edited is refused rather than silently skipped. Replicas starting
at the same time serialise on an advisory lock, so running it twice is safe.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from . import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg

from .config import checked_name

CORE = Path(__file__).with_name("migrations")
_FILE = re.compile(r"^([0-9]{4})_([a-z0-9_]+)\.sql\Z")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(component: str, folder: Path) -> list[Migration]:
    found = []
    for path in sorted(Path(folder).iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
        found.append(Migration(component, int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{folder}: two migrations share a version number")
    return found


def migrate(conn: psycopg.Connection, schema: str, sources: list[tuple[str, Path]] | None = None) -> list[str]:
    """Apply pending migrations to ``schema``; returns the names applied now.

    ``sources`` lists (component, folder); the event store's own tables come first.
    """
    schema = checked_name(schema, "schema")
    sources = [("eventstore", CORE)] + list(sources or [])
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"seed-migrate:{schema}",))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    component  text        NOT NULL,
                    version    integer     NOT NULL,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (component, version))"""
        )
        done = {
            (c, v): checksum
            for c, v, checksum in conn.execute(f"SELECT component, version, checksum FROM {schema}.schema_migrations")
        }
        for component, folder in sources:
            for migration in discover(component, folder):
                key = (component, migration.version)
                if key in done:
                    if done[key] != migration.checksum:
                        raise MigrationError(
                            f"{component} migration {migration.version:04d}_{migration.name} changed after it "
                            f"was applied to schema {schema}; add a new migration instead"
                        )
                    continue
                conn.execute(migration.sql.replace("{schema}", schema))
                conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (component, version, name, checksum) "
                    "VALUES (%s, %s, %s, %s)",
                    (component, migration.version, migration.name, migration.checksum),
                )
                applied_now.append(f"{component}/{migration.version:04d}_{migration.name}")
    return applied_now
