"""PostgreSQL connections (psycopg 3) that cooperate with eventlet.

psycopg's default C wait function blocks the whole OS thread while a query
runs, so under eventlet one slow query would freeze every green thread of a
Nameko service. Where eventlet has patched ``select``, psycopg must use its
pure-Python ``wait_select``, which eventlet turns into a cooperative wait.
That choice is read from ``PSYCOPG_WAIT_FUNC`` when psycopg is first
imported, so this module sets it before importing psycopg and refuses to run
if someone imported psycopg earlier with the blocking wait.
"""
from __future__ import annotations

import os
import sys


def _eventlet_patched() -> bool:
    if "eventlet" not in sys.modules:
        return False
    from eventlet import patcher

    return patcher.is_monkey_patched("select")


if _eventlet_patched():
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import psycopg  # noqa: E402
import psycopg.waiting  # noqa: E402
from psycopg import conninfo, errors, sql  # noqa: E402
from psycopg_pool import ConnectionPool  # noqa: E402


class BlockingWaitError(RuntimeError):
    pass


def assert_cooperative() -> None:
    """Fail loudly instead of silently serialising every green thread."""
    if _eventlet_patched() and psycopg.waiting.wait is psycopg.waiting.wait_c:
        raise BlockingWaitError(
            "psycopg was imported with its blocking C wait under eventlet; "
            "set PSYCOPG_WAIT_FUNC=wait_select before anything imports psycopg"
        )


def connect(url: str, **kwargs) -> psycopg.Connection:
    assert_cooperative()
    return psycopg.connect(url, **kwargs)


def make_pool(url: str, min_size: int = 1, max_size: int = 10, name: str | None = None) -> ConnectionPool:
    """A pool of autocommit connections; callers open transactions explicitly."""
    assert_cooperative()

    def configure(conn: psycopg.Connection) -> None:
        conn.autocommit = True
        # Timestamps come back in UTC whatever the server's default zone is.
        conn.execute("SET TimeZone TO 'UTC'")

    pool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        configure=configure,
        name=name,
        open=False,
    )
    pool.open(wait=True, timeout=30)
    return pool


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` if it does not exist yet. True if created."""
    info = conninfo.conninfo_to_dict(url)
    dbname = info.get("dbname") or "postgres"
    admin_url = conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        except errors.DuplicateDatabase:  # another replica won the race
            return False
        return True
