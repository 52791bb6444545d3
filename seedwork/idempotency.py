"""Idempotency keys, recorded in the transaction of the command they guard.

``claim`` runs first in the command's transaction. A concurrent request with
the same key waits on the primary key until the first one commits (then it
gets the recorded response) or rolls back (then it runs the command itself).
A refused command rolls back and records nothing, so a retry runs it again.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from . import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg
from psycopg.types.json import Jsonb

from .config import checked_name
from .errors import IdempotencyKeyReused

MAX_KEY_LENGTH = 255


def fingerprint(*parts: Any) -> str:
    """A stable hash of the request (method, path, body): the same key with
    another request is refused, not answered with the wrong response."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyKeys:
    def __init__(self, schema: str):
        s = checked_name(schema, "schema")
        self._insert = (f"INSERT INTO {s}.idempotency_keys (scope, key, fingerprint, response) "
                        "VALUES (%s, %s, %s, 'null') ON CONFLICT DO NOTHING")
        self._select = f"SELECT fingerprint, response FROM {s}.idempotency_keys WHERE scope = %s AND key = %s"
        self._update = f"UPDATE {s}.idempotency_keys SET response = %s WHERE scope = %s AND key = %s"

    def claim(self, conn: psycopg.Connection, scope: str, key: str, print_: str) -> Any | None:
        """None: the key is new and now held by this transaction; run the
        command, then ``record``. Otherwise the response recorded first."""
        if conn.execute(self._insert, (scope, key, print_)).rowcount == 1:
            return None
        stored_print, response = conn.execute(self._select, (scope, key)).fetchone()
        if stored_print != print_:
            raise IdempotencyKeyReused(
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request",
                {"Idempotency-Key": ["already used with a different request"]},
            )
        return response

    def record(self, conn: psycopg.Connection, scope: str, key: str, response: Any) -> None:
        conn.execute(self._update, (Jsonb(response), scope, key))
