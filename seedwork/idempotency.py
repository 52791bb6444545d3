"""Idempotency keys, recorded in the transaction of the command they guard.

``claim`` runs first in the command's transaction. A concurrent request with
the same key waits on the primary key until the first one commits (then it
gets the recorded response) or rolls back (then it runs the command itself).
A refused command rolls back and records nothing, so a retry runs it again.

``run`` is the whole dance for one command: claim the caller's key, run the
command or replay the first answer, record it. Keys are kept per caller
(``Caller.scope``), so two callers cannot collide or read each other's answers.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Sequence

from . import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg
from psycopg.types.json import Jsonb

from .caller import Caller
from .config import checked_name
from .errors import IdempotencyKeyReused

MAX_KEY_LENGTH = 255

# What a client's request brings: its Idempotency-Key and a fingerprint of the
# request. Over RPC it travels as a two-item list; None when there is no key.
Idempotency = Sequence[str] | None


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

    def run(self, conn: psycopg.Connection, caller: Caller | dict, idempotency: Idempotency,
            command: Callable[[], dict], remember: Callable[[dict], Any] | None = None,
            recall: Callable[[Any], dict] | None = None) -> dict:
        """``command()`` once per key, in ``conn``'s transaction. A repeat
        of the same request gets the first answer with ``"replayed": True``.

        What is recorded is ``remember(answer)`` (by default the answer itself);
        a replay answers ``recall(recorded)`` (by default the record), e.g. a
        ticket reloaded at the recorded version, or a token signed again from
        its recorded id: what must not be stored is not.
        """
        if not idempotency:
            return command()
        key, request_print = idempotency
        scope = Caller.of(caller).scope
        recorded = self.claim(conn, scope, key, request_print)
        if recorded is not None:
            return {**(recall(recorded) if recall else recorded), "replayed": True}
        answer = command()
        self.record(conn, scope, key, remember(answer) if remember else answer)
        return answer

