"""Loading one stream: ``EventStore.load`` of 1,000 and 10,000 events, against
a raw ``SELECT ... ORDER BY version`` of the same columns (``data`` fetched as
text) plus ``json.loads`` of every payload, on a dedicated psycopg connection.

Then the same streams with a snapshot ``SNAPSHOT_GAP`` events before the end:
``load_with_snapshot`` (newest snapshot + the events after it) against the raw
pair of queries doing the same, and against the full load.
"""
from __future__ import annotations

import gc
import json
import time

import psycopg

from seedwork import db
from seedwork.store import EventStore

from .common import Scratch, Settings, log, median, new_event
from .report import Row, Verdict

SIZES = (1_000, 10_000)
CHUNK = 500  # events per append while filling the streams
SNAPSHOT_GAP = 10
TARGET = 1.5
COLUMNS = (
    "event_id, type, schema_version, stream_id, version, position, store_id, "
    "actor_kind, actor_id, correlation_id, causation_id, occurred_at, data::text"
)


def _repeats(size: int) -> int:
    """Timed calls per round: enough to outlast the timer's granularity and a GC pause."""
    return max(7, 20_000 // size)


def _ticket_state(version: int) -> dict:
    """A folded ticket, as a snapshot would hold it (~1.5 kB)."""
    return {
        "ticket_id": "T-00000001", "status": "open", "priority": "normal", "version": version,
        "customer": {"id": "cus_000042", "email": "alex@example.com", "name": "Alex Martin"},
        "assignee": "agt_000007", "tags": ["shipping", "size-exchange"], "comment_count": version,
        "last_comments": [{"id": n, "author": "cus_000042", "excerpt": "Hello, my order arrived yesterday"}
                          for n in range(version - 20, version)],
    }


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    schema = scratch.event_store_schema("load")
    pool = db.make_pool(settings.database_url, min_size=1, max_size=1, name="bench-load")
    store = EventStore(pool, schema)
    raw = psycopg.connect(settings.database_url, autocommit=True)
    rows, verdicts = [], []
    try:
        streams = {}
        for size in SIZES:
            stream = f"ticket-load-{size}"
            version = 0
            while version < size:
                n = min(CHUNK, size - version)
                store.append(stream, version, [new_event(version + k) for k in range(n)])
                version += n
            store.save_snapshot(stream, size - SNAPSHOT_GAP, _ticket_state(size - SNAPSHOT_GAP))
            streams[size] = stream
        raw.execute(f"VACUUM ANALYZE {schema}.events")
        raw.execute(f"VACUUM ANALYZE {schema}.snapshots")
        select_all = f"SELECT {COLUMNS} FROM {schema}.events WHERE stream_id = %s ORDER BY version"
        select_after = f"SELECT {COLUMNS} FROM {schema}.events WHERE stream_id = %s AND version > %s ORDER BY version"
        select_snapshot = (f"SELECT version, schema_version, state::text FROM {schema}.snapshots "
                           "WHERE stream_id = %s ORDER BY version DESC LIMIT 1")

        def raw_load(stream):
            result = raw.execute(select_all, (stream,)).fetchall()
            return [json.loads(r[12]) for r in result]

        def raw_snapshot(stream):
            version, _, state = raw.execute(select_snapshot, (stream,)).fetchone()
            result = raw.execute(select_after, (stream, version)).fetchall()
            return json.loads(state), [json.loads(r[12]) for r in result]

        cases = {}
        for size, stream in streams.items():
            cases[(size, "ours")] = lambda s=stream, n=size: _check(len(store.load(s)), n)
            cases[(size, "raw")] = lambda s=stream, n=size: _check(len(raw_load(s)), n)
            cases[(size, "ours+snap")] = lambda s=stream: _check(len(store.load_with_snapshot(s)[1]), SNAPSHOT_GAP)
            cases[(size, "raw+snap")] = lambda s=stream: _check(len(raw_snapshot(s)[1]), SNAPSHOT_GAP)
        for fn in cases.values():  # warm up: prepared statements, caches
            for _ in range(6):
                fn()
        times: dict = {key: [] for key in cases}
        keys = list(cases)
        for r in range(settings.rounds):
            order = keys[r % len(keys):] + keys[: r % len(keys)]
            for key in order:
                size = key[0]
                n = _repeats(size) if "snap" not in key[1] else 50
                per_call = []
                gc.collect()  # every case starts from the same collector state
                for _ in range(n):
                    start = time.perf_counter()
                    cases[key]()
                    per_call.append(time.perf_counter() - start)
                times[key].append(median(per_call))
            log(f"load round {r + 1}/{settings.rounds}: " + ", ".join(
                f"{size} ours {times[(size, 'ours')][-1] * 1e3:.2f}ms raw {times[(size, 'raw')][-1] * 1e3:.2f}ms"
                for size in SIZES))
    finally:
        raw.close()
        pool.close()

    def ms(values):
        return f"{median(values) * 1e3:.2f} ms"

    def rng(a, b):
        return (f"{min(a) * 1e3:.2f}..{max(a) * 1e3:.2f} | {min(b) * 1e3:.2f}..{max(b) * 1e3:.2f}")

    section = "3. Loading a stream (time per load; lower is better)"
    for size in SIZES:
        o, b = times[(size, "ours")], times[(size, "raw")]
        ratio = median(o) / median(b)
        met = ratio <= TARGET
        rows.append(Row(section, f"{size:,} events: load vs raw SELECT+json.loads", ms(o), ms(b), ratio,
                        "ours/raw", f"<= {TARGET}", met, rng(o, b)))
        verdicts.append(Verdict(f"load of {size:,} events <= {TARGET} x raw", met,
                                f"ours {median(o) * 1e3:.2f} ms vs raw {median(b) * 1e3:.2f} ms = {ratio:.3g}"))
    for size in SIZES:
        o, b = times[(size, "ours+snap")], times[(size, "raw+snap")]
        rows.append(Row(section, f"{size:,} events, snapshot {SNAPSHOT_GAP} before end: load_with_snapshot vs raw",
                        ms(o), ms(b), median(o) / median(b), "ours/raw", "", None, rng(o, b)))
        full = times[(size, "ours")]
        rows.append(Row(section, f"{size:,} events: load_with_snapshot vs full load", ms(o), ms(full),
                        median(full) / median(o), "x faster", "", None, rng(o, full)))
    notes = [f"load: median per call of {_repeats(SIZES[0])} ({SIZES[0]:,} events) / {_repeats(SIZES[1])} "
             f"({SIZES[1]:,}) / 50 (snapshot) calls each round; raw fetches the same 13 columns, data::text"]
    return rows, verdicts, notes


def _check(got: int, want: int) -> None:
    if got != want:
        raise AssertionError(f"loaded {got} events, expected {want}")
