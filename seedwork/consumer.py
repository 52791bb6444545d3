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


class _AlreadyProcessed(Exception):
    """Rolls back an effect whose event a concurrent duplicate recorded first."""


def process_once(
    pool: ConnectionPool,
    schema: str,
    consumer: str,
    event_id: UUID,
    effect: Callable[[psycopg.Connection], T],
) -> tuple[bool, T | None]:
    """Run ``effect(conn)`` in a transaction unless ``consumer`` already processed
    ``event_id``. Returns (ran, result).

    The record is written *after* the effect, in the same transaction: the
    transaction then takes its id at the effect's first write, not before it,
    so it holds back event readers no longer than the effect itself. A
    concurrent duplicate loses on the record's key and rolls back entirely.
    """
    schema = checked_name(schema, "schema")
    seen = f"SELECT 1 FROM {schema}.processed_events WHERE consumer = %s AND event_id = %s"
    record = f"INSERT INTO {schema}.processed_events (consumer, event_id) VALUES (%s, %s)"
    with pool.connection() as conn:
        if conn.execute(seen, (consumer, event_id)).fetchone():
            return False, None
        try:
            with conn.transaction():
                result = effect(conn)
                try:
                    conn.execute(record, (consumer, event_id))
                except psycopg.errors.UniqueViolation:
                    raise _AlreadyProcessed from None
        except _AlreadyProcessed:
            return False, None
        return True, result
