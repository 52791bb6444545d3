"""Append rate: one event per transaction, 1/4/16 concurrent writers.

Three writers of the same load, run interleaved in every round so that the
machine's noise hits them alike:

- ours: ``EventStore.append`` of one event at its expected version, from a
  pooled connection (``seedwork.db.make_pool``).
- raw: psycopg on a dedicated connection per thread, ``BEGIN; INSERT; COMMIT``
  of one row into a copy of the events table (``LIKE ... INCLUDING ALL``: same
  columns, primary key, unique constraints and checks; no trigger, which only
  fires on UPDATE/DELETE anyway). The writer knows its stream version and
  takes positions from a counter, so the database does no reading.
- eventsourcing: ``PostgresApplicationRecorder.insert_events`` of one
  ``StoredEvent`` (the library's PostgreSQL recorder, 9.5.6), in its own schema.

Every writer appends to its own streams (a new stream every
``EVENTS_PER_STREAM`` events, like tickets), with the same ~300-byte payload.
"""
from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field

import psycopg
from psycopg import conninfo

from seedwork import db
from seedwork.store import EventStore

from .common import (Run, raw_append, Scratch, Settings, backend_cpu, log, median, new_event, payload, run_threads,
                     spread)
from .report import Row, Verdict

EVENTS_PER_STREAM = 10
TARGET_VS_RAW = 0.7
TARGET_VS_ES = 4.0



class Streams:
    """A writer's streams: ``EVENTS_PER_STREAM`` events each, then a new one.
    ``next()`` is the stream to write to and the version it is at."""

    def __init__(self):
        self.stream, self.version = "", EVENTS_PER_STREAM

    def next(self) -> tuple[str, int]:
        if self.version >= EVENTS_PER_STREAM:
            self.stream, self.version = f"ticket-{uuid.uuid4().hex}", 0
        self.version += 1
        return self.stream, self.version - 1

class Ours:
    name = "ours"

    def __init__(self, settings: Settings, scratch: Scratch, max_writers: int):
        self.schema = scratch.event_store_schema("append")
        self.pool = db.make_pool(settings.database_url, min_size=max_writers, max_size=max_writers,
                                 name="bench-append")
        self.store = EventStore(self.pool, self.schema)

    def worker(self, i: int):
        store, streams, counter = self.store, Streams(), itertools.count()

        def op():
            stream, version = streams.next()
            store.append(stream, version, [new_event(next(counter))])

        return op

    def backend_pids(self) -> list[int]:
        return _pool_pids(self.pool)

    def close(self):
        self.pool.close()


def _pool_pids(pool) -> list[int]:
    conns = [pool.getconn() for _ in range(pool.max_size)]
    try:
        return [c.info.backend_pid for c in conns]
    finally:
        for c in conns:
            pool.putconn(c)


class Raw:
    name = "raw psycopg"

    def __init__(self, settings: Settings, scratch: Scratch, max_writers: int, like: str):
        schema = scratch.plain_schema("raw")
        self.conns = [psycopg.connect(settings.database_url, autocommit=True) for _ in range(max_writers)]
        self.conns[0].execute(f"CREATE TABLE {schema}.events (LIKE {like}.events INCLUDING ALL)")
        self.insert = (
            f"INSERT INTO {schema}.events (event_id, type, schema_version, stream_id, version, position, "
            "store_id, actor_kind, actor_id, correlation_id, causation_id, occurred_at, data) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        self.positions = itertools.count(1)  # next() is atomic under the GIL
        self.indexes = sorted(r[0] for r in self.conns[0].execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s", (schema,)))

    def worker(self, i: int):
        conn, insert, positions = self.conns[i], self.insert, self.positions
        streams, counter = Streams(), itertools.count()

        def op():
            stream, version = streams.next()
            raw_append(conn, insert, stream, version + 1, next(positions), next(counter))

        return op

    def backend_pids(self) -> list[int]:
        return [c.info.backend_pid for c in self.conns]

    def close(self):
        for c in self.conns:
            c.close()


class EventSourcingLib:
    name = "eventsourcing"

    def __init__(self, settings: Settings, scratch: Scratch, max_writers: int):
        from eventsourcing.persistence import StoredEvent
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

        self.StoredEvent = StoredEvent
        schema = scratch.plain_schema("es")
        info = conninfo.conninfo_to_dict(settings.database_url)
        self.datastore = PostgresDatastore(
            dbname=info.get("dbname", "postgres"), host=info.get("host", "127.0.0.1"),
            port=info.get("port", 5432), user=info.get("user", "postgres"),
            password=info.get("password", ""), pool_size=max_writers, schema=schema,
        )
        self.recorder = PostgresApplicationRecorder(self.datastore, events_table_name="stored_events")
        self.recorder.create_table()

    def worker(self, i: int):
        recorder, StoredEvent = self.recorder, self.StoredEvent
        counter = itertools.count()
        stream, version = uuid.uuid4(), EVENTS_PER_STREAM

        def op():
            nonlocal stream, version
            if version >= EVENTS_PER_STREAM:
                stream, version = uuid.uuid4(), 0
            version += 1
            recorder.insert_events([StoredEvent(
                originator_id=stream, originator_version=version, topic="tickets.domain:Ticket.Commented",
                state=json.dumps(payload(next(counter))).encode(),
            )])

        return op

    def backend_pids(self) -> list[int]:
        return _pool_pids(self.datastore.pool)

    def close(self):
        self.datastore.close()


@dataclass
class Tally:
    rates: list[float] = field(default_factory=list)
    ops: int = 0
    client_cpu: float = 0.0
    server_cpu: float | None = 0.0

    def add(self, run: Run, server_cpu: float | None) -> None:
        self.rates.append(run.rate)
        self.ops += run.ops
        self.client_cpu += run.client_cpu
        self.server_cpu = None if server_cpu is None or self.server_cpu is None else self.server_cpu + server_cpu

    def cpu_per_event(self) -> str:
        """Microseconds of CPU per event: this process (client) + its backends (server)."""
        client = self.client_cpu / self.ops * 1e6
        if self.server_cpu is None:
            return f"client {client:.0f} us/event"
        return f"client {client:.0f} + server {self.server_cpu / self.ops * 1e6:.0f} us/event"


def measure(system, n: int, seconds: float, pids: list[int]) -> tuple[Run, float | None]:
    before = backend_cpu(pids)
    result = run_threads(n, system.worker, seconds)
    after = backend_cpu(pids)
    return result, (after - before if before is not None and after is not None else None)


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    top = max(settings.writers)
    ours = Ours(settings, scratch, top)
    systems = [ours, Raw(settings, scratch, top, like=ours.schema), EventSourcingLib(settings, scratch, top)]
    tallies: dict[tuple[str, int], Tally] = {(s.name, n): Tally() for s in systems for n in settings.writers}
    try:
        log("append: warming up (connections, prepared statements)")
        for system in systems:
            for n in (1, top):
                run_threads(n, system.worker, 0.3)
        pids = {system.name: system.backend_pids() for system in systems}
        for r in range(settings.rounds):
            order = systems[r % len(systems):] + systems[: r % len(systems)]
            for n in settings.writers:
                for system in order:
                    tallies[(system.name, n)].add(*measure(system, n, settings.seconds, pids[system.name]))
            log("append round %d/%d: %s" % (r + 1, settings.rounds, ", ".join(
                f"{n}w ours {tallies[('ours', n)].rates[-1]:,.0f} raw {tallies[('raw psycopg', n)].rates[-1]:,.0f} "
                f"es {tallies[('eventsourcing', n)].rates[-1]:,.0f}" for n in settings.writers)))
    finally:
        for system in systems:
            system.close()

    rows, verdicts = [], []
    for n in settings.writers:
        o, raw, es = (tallies[(name, n)] for name in ("ours", "raw psycopg", "eventsourcing"))
        vs_raw = median(o.rates) / median(raw.rates)
        vs_es = median(o.rates) / median(es.rates)
        label = f"{n} writer{'s' if n > 1 else ''}"
        rows.append(Row(
            "1. Append, 1 event/transaction (events/s)", f"{label} vs raw psycopg",
            f"{median(o.rates):,.0f}", f"{median(raw.rates):,.0f}", vs_raw, "ours/raw",
            f">= {TARGET_VS_RAW}" if n == top else "", (vs_raw >= TARGET_VS_RAW) if n == top else None,
            f"{spread(o.rates)} | {spread(raw.rates)}",
        ))
        rows.append(Row(
            "2. Append vs the eventsourcing library (events/s)", f"{label} vs eventsourcing",
            f"{median(o.rates):,.0f}", f"{median(es.rates):,.0f}", vs_es, "ours/es",
            f">= {TARGET_VS_ES:g}" if n == top else "", (vs_es >= TARGET_VS_ES) if n == top else None,
            f"{spread(o.rates)} | {spread(es.rates)}",
        ))
        if n == top:
            verdicts.append(Verdict(
                f"append at {n} writers >= {TARGET_VS_RAW} x raw psycopg", vs_raw >= TARGET_VS_RAW,
                f"ours {median(o.rates):,.0f}/s vs raw {median(raw.rates):,.0f}/s = {vs_raw:.3g}; "
                f"CPU per event: ours {o.cpu_per_event()}, raw {raw.cpu_per_event()}"))
            verdicts.append(Verdict(
                f"append at {n} writers >= {TARGET_VS_ES:g} x eventsourcing", vs_es >= TARGET_VS_ES,
                f"ours {median(o.rates):,.0f}/s vs eventsourcing {median(es.rates):,.0f}/s = {vs_es:.3g}"))
    notes = [
        "append: raw table = LIKE events INCLUDING ALL (" + "; ".join(
            i.split(" USING ")[1] for i in systems[1].indexes) + "); "
        f"every writer its own streams, {EVENTS_PER_STREAM} events each; "
        f"{settings.seconds:g}s per run, systems interleaved and rotated each round",
        f"append CPU per event at {top} writers (all rounds): " + "; ".join(
            f"{name} {tallies[(name, top)].cpu_per_event()}" for name in ("ours", "raw psycopg", "eventsourcing")),
    ]
    return rows, verdicts, notes
