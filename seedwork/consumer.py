"""Exactly one effect from at-least-once delivery.

RabbitMQ may deliver an event twice (a relay crash, a redelivery after a
consumer crash). A consumer records each event id it has processed in the
same transaction as the effect, so a duplicate finds the record and does
nothing, and a failed effect rolls back the record with it.
"""
from __future__ import annotations

from typing import Callable, TypeVar
from uuid import UUID

from . import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg
from psycopg_pool import ConnectionPool

from .config import checked_name

T = TypeVar("T")


def process_once(
    pool: ConnectionPool,
    schema: str,
    consumer: str,
    event_id: UUID,
    effect: Callable[[psycopg.Connection], T],
) -> tuple[bool, T | None]:
    """Run ``effect(conn)`` in a transaction unless ``consumer`` already processed
    ``event_id``. Returns (ran, result). Concurrent duplicates wait on the
    record's key, then see it and skip."""
    schema = checked_name(schema, "schema")
    with pool.connection() as conn, conn.transaction():
        fresh = conn.execute(
            f"INSERT INTO {schema}.processed_events (consumer, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (consumer, event_id),
        ).rowcount
        if not fresh:
            return False, None
        return True, effect(conn)
