"""Appending into a table that already holds history.

The append benchmark starts from empty tables, as a new service would. Here
the events table first receives ``FILL`` events in streams of ``PER_STREAM``
(written server-side in one transaction, positions from that transaction's
range like the store's own), then is analysed, as autovacuum would do. The
raw baseline's table is a copy with the same rows and indexes.

Measured, one writer, median milliseconds per append:

- the first event of a new stream (a new ticket), and
- the next event of an old stream, each sample a different stream whose last
  event lies ~``FILL`` events back in the global order (an old ticket reopened).

There is no target in the brief for this; it checks that the cost of an
append does not grow with the size of the table (ours/raw <= ``CHECK_RATIO``).
"""
from __future__ import annotations

import itertools
import random
import time
import uuid

import psycopg
from psycopg.types.json import Jsonb

from seedwork import db
from seedwork.store import TX_SHIFT, EventStore

from .common import CUSTOMER, Scratch, raw_append, Settings, log, median, new_event, payload
from .report import Row, Verdict

FILL = 200_000
PER_STREAM = 100
SAMPLES = 40  # appends per case and round
WARMUP = 12  # past psycopg's prepare threshold (5) and PostgreSQL's 5 custom plans
CHECK_RATIO = 3.0


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    schema = scratch.event_store_schema("scale")
    raw_schema = scratch.plain_schema("scaleraw")
    conn = psycopg.connect(settings.database_url, autocommit=True)
    pool = db.make_pool(settings.database_url, min_size=1, max_size=1, name="bench-scale")
    store = EventStore(pool, schema)
    streams = FILL // PER_STREAM
    try:
        log(f"scale: filling {FILL:,} events in streams of {PER_STREAM}")
        conn.execute(
            f"""INSERT INTO {schema}.events (event_id, type, schema_version, stream_id, version, position,
                    store_id, actor_kind, actor_id, correlation_id, causation_id, occurred_at, data)
                SELECT gen_random_uuid(), 'ticket.commented', 1, 'ticket-old-' || (g / {PER_STREAM}),
                       g %% {PER_STREAM} + 1, (pg_current_xact_id()::text::bigint << {TX_SHIFT}) + g,
                       'store_0001', %s, %s, gen_random_uuid(), NULL, now(), %s
                FROM generate_series(0, {FILL - 1}) AS g
                ORDER BY g""",
            (CUSTOMER.kind, CUSTOMER.id, Jsonb(payload(0))),
        )
        conn.execute(f"CREATE TABLE {raw_schema}.events (LIKE {schema}.events INCLUDING ALL)")
        conn.execute(f"INSERT INTO {raw_schema}.events SELECT * FROM {schema}.events")
        for s in (schema, raw_schema):
            conn.execute(f"VACUUM ANALYZE {s}.events")
        top = conn.execute(f"SELECT max(position) FROM {raw_schema}.events").fetchone()[0]
        positions = itertools.count(top + 1)
        insert = (
            f"INSERT INTO {raw_schema}.events (event_id, type, schema_version, stream_id, version, position, "
            "store_id, actor_kind, actor_id, correlation_id, causation_id, occurred_at, data) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        counter = itertools.count()

        def raw(stream: str, version: int) -> None:
            raw_append(conn, insert, stream, version, next(positions), next(counter))

        def ours_append(stream: str, version: int) -> None:
            store.append(stream, version - 1, [new_event(next(counter))])

        # Old streams, each reopened once: ours and raw get the same ones, each in its own table.
        old = random.Random(7).sample(range(streams), k=min(streams, (settings.rounds + 1) * SAMPLES))
        picks = {"ours": iter(old), "raw": iter(old)}
        cases = {
            ("new", "ours"): lambda: ours_append(f"ticket-{uuid.uuid4().hex}", 1),
            ("new", "raw"): lambda: raw(f"ticket-{uuid.uuid4().hex}", 1),
            ("old", "ours"): lambda: ours_append(f"ticket-old-{next(picks['ours'])}", PER_STREAM + 1),
            ("old", "raw"): lambda: raw(f"ticket-old-{next(picks['raw'])}", PER_STREAM + 1),
        }
        for _ in range(WARMUP):
            cases[("new", "ours")]()
            cases[("new", "raw")]()
        for key in (("old", "ours"), ("old", "raw")):
            for _ in range(min(SAMPLES, WARMUP)):
                cases[key]()
        times: dict = {key: [] for key in cases}
        keys = list(cases)
        for r in range(settings.rounds):
            for key in keys[r % 4:] + keys[: r % 4]:
                samples = []
                for _ in range(SAMPLES):
                    start = time.perf_counter()
                    cases[key]()
                    samples.append(time.perf_counter() - start)
                times[key].append(median(samples))
            log(f"scale round {r + 1}/{settings.rounds}: new stream ours {times[('new', 'ours')][-1] * 1e3:.2f} ms "
                f"raw {times[('new', 'raw')][-1] * 1e3:.2f} ms; old stream ours "
                f"{times[('old', 'ours')][-1] * 1e3:.2f} ms raw {times[('old', 'raw')][-1] * 1e3:.2f} ms")
    finally:
        pool.close()
        conn.close()

    section = f"6. Append into a table that holds {FILL:,} events, streams of {PER_STREAM} (ms per append, 1 writer)"
    rows, verdicts = [], []
    labels = {"new": "first event of a new stream", "old": f"event {PER_STREAM + 1} of an old stream"}
    for case in ("new", "old"):
        o, b = times[(case, "ours")], times[(case, "raw")]
        ratio = median(o) / median(b)
        ok = ratio <= CHECK_RATIO
        rows.append(Row(section, labels[case], f"{median(o) * 1e3:.2f} ms", f"{median(b) * 1e3:.2f} ms", ratio,
                        "ours/raw", "", None,
                        f"{min(o) * 1e3:.2f}..{max(o) * 1e3:.2f} | {min(b) * 1e3:.2f}..{max(b) * 1e3:.2f}"))
        verdicts.append(Verdict(
            f"append ({labels[case]}) into {FILL:,} events <= {CHECK_RATIO:g} x raw", ok,
            f"ours {median(o) * 1e3:.2f} ms vs raw {median(b) * 1e3:.2f} ms = {ratio:.3g}"
            + ("" if ok else "; the cost grows with the table (see docs/performance.md)"),
            check=True,
        ))
    notes = [f"scale: {FILL:,} events written server-side then VACUUM ANALYZE; median of {SAMPLES} appends "
             "per case and round; raw = BEGIN; INSERT; COMMIT into a copy of the same rows"]
    return rows, verdicts, notes
