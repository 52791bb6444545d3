"""The event store: append-only streams in PostgreSQL, one schema per service.

- ``append`` adds events to a stream at an expected version, atomically; a
  lost race raises ``ConcurrencyConflict`` naming the stream and both versions.
- ``load`` rebuilds a stream (from a version, or after a snapshot).
- ``read_all`` reads every stream in one global order and never skips an event
  that a slower transaction commits late.
- ``lock_stream`` queues the writers of one stream; ``expect_version`` is the
  ``If-Match`` check; ``latest_event`` reads a stream's head.

Global order without a global lock. Each event's ``position`` is
``(id of the appending transaction << 20) + n``. Transactions run in
parallel; a reader only returns positions below the oldest transaction still
running (``pg_snapshot_xmin``), so any event it has not seen yet will get a
higher position than everything it has returned. Positions are increasing
but not dense; consumers compare them, they never count them.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from . import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from .config import checked_name
from .envelope import NO_UPCASTERS, Actor, Envelope, NewEvent, Upcasters
from .errors import ConcurrencyConflict, PreconditionFailed, TransactionTooLarge

TX_SHIFT = 20  # bits of a position that number the events of one transaction
PER_TX = 1 << TX_SHIFT
ANY_VERSION = -1  # append without checking the stream's version

_COLUMNS = (
    "event_id, type, schema_version, stream_id, version, position, store_id, "
    "actor_kind, actor_id, correlation_id, causation_id, occurred_at, data"
)


def lock(conn: psycopg.Connection, key: str, *, shared: bool = False) -> None:
    """Hold the advisory lock named ``key`` until ``conn``'s transaction ends:
    writers of one thing (a stream, a store's orders, a mobile) queue here
    instead of racing and retrying. ``shared`` holders run side by side and
    only keep an exclusive holder out (and wait for one)."""
    if shared:
        conn.execute("SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))", (key,))
    else:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


def try_lock(conn: psycopg.Connection, key: str) -> bool:
    """``lock`` if nobody holds it now; False (and no lock) otherwise. For
    background work that must never wait on a request (and so never deadlock with one)."""
    return conn.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (key,)).fetchone()[0]


def expect_version(what: str, expected: int | None, actual: int) -> None:
    """``If-Match``: a command that names the version it decided on (``expected``)
    is refused with 412 once the object (``what``, e.g. "ticket 42") has moved on."""
    if expected is not None and expected != actual:
        raise PreconditionFailed(
            "version_mismatch", f"{what} is at version {actual}, not {expected}: reload it and decide again",
            {"If-Match": [f"current version is {actual}"]})


@dataclass(frozen=True)
class Snapshot:
    stream_id: str
    version: int
    schema_version: int
    state: Any


class EventStore:
    def __init__(self, pool: ConnectionPool, schema: str, upcasters: Upcasters = NO_UPCASTERS):
        self.pool = pool
        self.schema = s = checked_name(schema, "schema")
        self.upcasters = upcasters
        # The statements are built once: the schema name is checked above.
        many = """unnest(%(ids)s::uuid[], %(types)s::text[], %(schema_versions)s::int[],
                        %(store_ids)s::text[], %(actor_kinds)s::text[], %(actor_ids)s::text[],
                        %(correlation_ids)s::uuid[], %(causation_ids)s::uuid[],
                        %(occurred)s::timestamptz[], %(data)s::jsonb[]) WITH ORDINALITY"""
        # One event (the common case) as plain parameters: no arrays to build.
        one = """(VALUES (%(ids)s::uuid, %(types)s::text, %(schema_versions)s::int, %(store_ids)s::text,
                         %(actor_kinds)s::text, %(actor_ids)s::text, %(correlation_ids)s::uuid,
                         %(causation_ids)s::uuid, %(occurred)s::timestamptz, %(data)s::jsonb, 1::bigint))"""
        # Keyed by (one event?, in the caller's transaction?).
        self._append_sql = {
            (single, joined): self._append_statement(one if single else many, joined)
            for single in (True, False) for joined in (True, False)
        }
        self._head_sql = f"SELECT coalesce(max(version), 0) FROM {s}.events WHERE stream_id = %s"
        self._load_sql = (
            f"SELECT {_COLUMNS} FROM {s}.events WHERE stream_id = %s AND version > %s ORDER BY version"
        )
        self._latest_sql = f"SELECT {_COLUMNS} FROM {s}.events WHERE stream_id = %s ORDER BY version DESC LIMIT 1"
        self._load_until_sql = (
            f"SELECT {_COLUMNS} FROM {s}.events WHERE stream_id = %s AND version > %s AND version <= %s "
            "ORDER BY version"
        )
        below_running = f"position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << {TX_SHIFT})"
        self._read_all_sql = (
            f"SELECT {_COLUMNS} FROM {s}.events WHERE position > %s AND {below_running} "
            "ORDER BY position LIMIT %s"
        )
        self._read_store_sql = (
            f"SELECT {_COLUMNS} FROM {s}.events WHERE store_id = %s AND position > %s AND {below_running} "
            "ORDER BY position LIMIT %s"
        )

    def _append_statement(self, source: str, joined: bool) -> str:
        """INSERT the events from ``source`` after the stream's head, in one statement.

        ``joined``: the statement runs in a transaction that may already have
        appended, so it looks up the positions it took; a statement that is a
        transaction of its own starts at the beginning of its range.
        """
        s = self.schema
        used = f"""SELECT coalesce(max(e.position) + 1 - tx.base, 0) AS n
                FROM tx LEFT JOIN {s}.events e
                  ON e.position >= tx.base AND e.position < tx.base + {PER_TX}
                GROUP BY tx.base""" if joined else "SELECT 0 AS n"
        return f"""
            WITH head AS (
                -- The stream's last event: one probe of the (stream_id, version) index.
                SELECT coalesce(last.version, 0) AS v, last.position AS p
                FROM (SELECT 1) AS one LEFT JOIN LATERAL (
                    SELECT version, position FROM {s}.events WHERE stream_id = %(stream)s
                    ORDER BY version DESC LIMIT 1) AS last ON true
            ), tx AS (
                SELECT pg_current_xact_id()::text::bigint << {TX_SHIFT} AS base
            ), used AS (
                -- Positions this transaction already took (earlier appends in it).
                {used}
            )
            INSERT INTO {s}.events ({_COLUMNS})
            SELECT e.event_id, e.type, e.schema_version, %(stream)s,
                   CASE WHEN %(expected)s = {ANY_VERSION} THEN head.v ELSE %(expected)s END + e.ord,
                   tx.base + used.n + e.ord - 1,
                   e.store_id, e.actor_kind, e.actor_id, e.correlation_id, e.causation_id,
                   e.occurred_at, e.data
            FROM head, tx, used,
                 {source} AS e(event_id, type, schema_version, store_id, actor_kind, actor_id,
                               correlation_id, causation_id, occurred_at, data, ord)
            WHERE (%(expected)s = {ANY_VERSION} OR head.v = %(expected)s)
              -- A transaction whose id is older than the stream's last writer
              -- would put the new version below the previous one in the global
              -- order: refuse, so that the caller retries in a new transaction.
              -- (Its own earlier events, in [base, base + PER_TX), are fine.)
              AND (head.p IS NULL OR head.p < tx.base + {PER_TX})
            RETURNING position, version,
                      (position >> {TX_SHIFT}) <> pg_current_xact_id()::text::bigint AS spilled"""

    # --- transactions ---------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A pooled connection inside one transaction: append events and write
        any other state in it, and they commit or roll back together."""
        with self.pool.connection() as conn, conn.transaction():
            yield conn

    @contextlib.contextmanager
    def _using(self, conn: psycopg.Connection | None) -> Iterator[psycopg.Connection]:
        if conn is not None:
            yield conn
        else:
            with self.pool.connection() as own:
                yield own

    def lock_stream(self, conn: psycopg.Connection, stream_id: str) -> None:
        """Writers of one stream queue here for the rest of ``conn``'s
        transaction. Taken before the transaction writes anything, the lock
        makes transaction ids follow the queue, so the global order never
        refuses a writer that waited (see ``_append_statement``)."""
        lock(conn, f"{self.schema}:{stream_id}")

    def try_lock_stream(self, conn: psycopg.Connection, stream_id: str) -> bool:
        """``lock_stream`` if no writer holds the stream now; False otherwise."""
        return try_lock(conn, f"{self.schema}:{stream_id}")

    # --- writing --------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        conn: psycopg.Connection | None = None,
    ) -> list[Envelope]:
        """Append ``events`` after version ``expected_version`` (0: a new stream).

        With ``conn``, the append joins the caller's transaction; otherwise it
        commits on its own. Returns the stored envelopes, positions included.
        """
        if not events:
            return []
        if expected_version < ANY_VERSION:
            raise ValueError("expected_version is 0 for a new stream, or the stream's current version")
        if len(events) >= PER_TX:
            raise TransactionTooLarge(f"{len(events)} events in one append (fewer than {PER_TX} fit)")
        single = len(events) == 1
        column = (lambda values: values[0]) if single else list
        sql = self._append_sql[single, conn is not None]
        params = {
            "stream": stream_id,
            "expected": expected_version,
            "ids": column([e.event_id for e in events]),
            "types": column([e.type for e in events]),
            "schema_versions": column([e.schema_version for e in events]),
            "store_ids": column([e.store_id for e in events]),
            "actor_kinds": column([e.actor.kind for e in events]),
            "actor_ids": column([e.actor.id for e in events]),
            "correlation_ids": column([e.correlation_id for e in events]),
            "causation_ids": column([e.causation_id for e in events]),
            "occurred": column([e.occurred_at for e in events]),
            "data": column([Jsonb(e.data) for e in events]),
        }
        try:
            if conn is None:
                # Pooled connections are in autocommit: one statement is one
                # transaction, with no BEGIN/COMMIT round trips around it.
                with self.pool.connection() as own:
                    rows = self._insert(own, sql, params)
            elif conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
                # A savepoint keeps the caller's transaction usable after a lost
                # race, so the conflict can name the version on the same connection.
                with conn.transaction():
                    rows = self._insert(conn, sql, params)
            else:
                rows = self._insert(conn, sql, params)
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "events_stream_id_version_key":
                raise
            actual = self.stream_version(stream_id, conn)
            raise ConcurrencyConflict(stream_id, expected_version, actual) from None
        if not rows:
            actual = self.stream_version(stream_id, conn)
            if actual == expected_version or expected_version == ANY_VERSION:
                raise ConcurrencyConflict(
                    stream_id, expected_version, actual,
                    "a newer transaction wrote to the stream since this one began; retry in a new transaction",
                )
            raise ConcurrencyConflict(stream_id, expected_version, actual)
        rows.sort()  # RETURNING order is not guaranteed; positions follow input order
        return [
            Envelope(
                e.event_id, e.type, e.schema_version, stream_id, version, position, e.store_id,
                e.actor, e.correlation_id, e.causation_id, e.occurred_at, e.data,
            )
            for e, (position, version, _) in zip(events, rows)
        ]

    def _insert(self, conn: psycopg.Connection, sql: str, params: dict) -> list[tuple]:
        rows = conn.execute(sql, params).fetchall()
        # Raising here rolls the transaction back: positions past the
        # transaction's range would collide with the next transaction's.
        if any(spilled for _, _, spilled in rows):
            raise TransactionTooLarge(f"{PER_TX} or more events in one transaction")
        return rows

    # --- reading a stream -----------------------------------------------------

    def stream_version(self, stream_id: str, conn: psycopg.Connection | None = None) -> int:
        with self._using(conn) as c:
            return c.execute(self._head_sql, (stream_id,)).fetchone()[0]

    def load(
        self,
        stream_id: str,
        after_version: int = 0,
        until_version: int | None = None,
        conn: psycopg.Connection | None = None,
    ) -> list[Envelope]:
        """The stream's events with ``after_version < version <= until_version``."""
        if until_version is None:
            return self._read(conn, self._load_sql, (stream_id, after_version))
        return self._read(conn, self._load_until_sql, (stream_id, after_version, until_version))

    def latest_event(self, stream_id: str, conn: psycopg.Connection | None = None) -> Envelope | None:
        """The stream's last event (a stream whose events each carry the whole
        state reads one row), or None for a stream with no events."""
        events = self._read(conn, self._latest_sql, (stream_id,))
        return events[0] if events else None

    # --- snapshots ------------------------------------------------------------

    def save_snapshot(
        self, stream_id: str, version: int, state: Any, schema_version: int = 1,
        conn: psycopg.Connection | None = None,
    ) -> None:
        """Record a stream's folded state at ``version`` (idempotent)."""
        with self._using(conn) as c:
            if not c.execute(f"SELECT 1 FROM {self.schema}.events WHERE stream_id = %s AND version = %s",
                             (stream_id, version)).fetchone():
                # A snapshot past the head would hide the events written after it.
                raise ValueError(f"stream {stream_id!r} has no version {version} to snapshot")
            c.execute(
                f"INSERT INTO {self.schema}.snapshots (stream_id, version, schema_version, state) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (stream_id, version) DO NOTHING",
                (stream_id, version, schema_version, Jsonb(state)),
            )

    def latest_snapshot(
        self, stream_id: str, at_most_version: int | None = None, conn: psycopg.Connection | None = None
    ) -> Snapshot | None:
        query = f"SELECT version, schema_version, state FROM {self.schema}.snapshots WHERE stream_id = %s"
        params: tuple = (stream_id,)
        if at_most_version is not None:
            query += " AND version <= %s"
            params += (at_most_version,)
        with self._using(conn) as c:
            row = c.execute(query + " ORDER BY version DESC LIMIT 1", params).fetchone()
        return Snapshot(stream_id, *row) if row else None

    def load_with_snapshot(
        self, stream_id: str, conn: psycopg.Connection | None = None
    ) -> tuple[Snapshot | None, list[Envelope]]:
        """The newest snapshot and the events after it: fold those onto the snapshot."""
        with self._using(conn) as c:
            snapshot = self.latest_snapshot(stream_id, conn=c)
            events = self.load(stream_id, after_version=snapshot.version if snapshot else 0, conn=c)
        return snapshot, events

    # --- the global order -----------------------------------------------------

    def read_all(
        self, after_position: int = 0, limit: int = 1000, conn: psycopg.Connection | None = None,
        store_id: str | None = None,
    ) -> list[Envelope]:
        """Up to ``limit`` events after ``after_position``, in global order
        (only one store's, with ``store_id``).

        Only returns events below the oldest running transaction, so a later
        call never returns a position lower than one already returned.
        """
        if store_id is None:
            return self._read(conn, self._read_all_sql, (after_position, limit))
        return self._read(conn, self._read_store_sql, (store_id, after_position, limit))

    def iter_streams(self, conn: psycopg.Connection, itersize: int = 2000) -> Iterator[list[Envelope]]:
        """Every stream's events, one stream at a time, reading the log once in
        (stream, version) order through a server-side cursor: what a rebuild of
        a projection folds. ``conn`` must be in a transaction."""
        current: list[Envelope] = []
        with conn.cursor(name=f"iter_streams_{self.schema}") as cur:
            cur.itersize = itersize
            cur.execute(f"SELECT {_COLUMNS} FROM {self.schema}.events ORDER BY stream_id, version")
            while rows := cur.fetchmany(itersize):
                for event in self._envelopes(rows):
                    if current and event.stream_id != current[0].stream_id:
                        yield current
                        current = []
                    current.append(event)
        if current:
            yield current

    def head_position(self, conn: psycopg.Connection | None = None) -> int:
        with self._using(conn) as c:
            return c.execute(f"SELECT coalesce(max(position), 0) FROM {self.schema}.events").fetchone()[0]

    # --- rows to envelopes ----------------------------------------------------

    def _read(self, conn: psycopg.Connection | None, sql: str, params: tuple) -> list[Envelope]:
        with self._using(conn) as c:
            return self._envelopes(c.execute(sql, params).fetchall())

    def _envelopes(self, rows) -> list[Envelope]:
        upcast, lifted = self.upcasters.upcast, self.upcasters.event_types
        actors: dict[tuple, Actor] = {}
        out = []
        for (event_id, type_, schema_version, stream_id, version, position, store_id,
             actor_kind, actor_id, correlation_id, causation_id, occurred_at, data) in rows:
            actor = actors.get((actor_kind, actor_id))
            if actor is None:
                actor = actors[(actor_kind, actor_id)] = Actor(actor_kind, actor_id)
            if type_ in lifted:
                schema_version, data = upcast(type_, schema_version, data)
            out.append(Envelope(
                event_id, type_, schema_version, stream_id, version, position, store_id, actor,
                correlation_id, causation_id, occurred_at, data,
            ))
        return out
