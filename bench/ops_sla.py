"""Figure 16: the SLA timer's lag, from a target's due moment to its
``sla.breached`` event, with ``ops_sla_tickets`` (100,000) open tickets in
one store, with one and then two tickets replicas (each replica ticks its
timer once a second: ``services/tickets/service.py``).

The store's policy (``ops_seed.SLA_POLICY``): around the clock, a first
response due 24 hours after a ticket opens, no warnings, no resolution
target: one timer row per open ticket. Most of the tickets were seeded with
the big store (due 2 to 26 hours later: they wait in ``sla_timers`` as a
real backlog does). Before each phase the bench writes that phase's tickets
(opened 24 hours before their due moments) while the service runs: events by
``COPY``, then the service's own ``ReadModels.project`` for each. Each phase:

- steady: ``rate`` tickets fall due per second for ``seconds`` seconds;
- burst: ``burst`` tickets fall due at the same moment, two seconds later.

Lag to the event: the event's ``occurred_at`` (the clock reading at the
start of the tick's batch that fired it) minus its ``due_at``. Lag to
visible: when this process first read the event with ``EventStore.read_all``
(polled every 20 ms, so +0..20 ms) minus ``due_at``: what a consumer of the
log can see, the batch's commit included. Checks: each of the phase's
tickets got exactly one ``sla.breached``, and no other ticket of the store did.

Baselines, same run, on the same table, before the phases: the claim query
alone (``SELECT ... FROM sla_timers WHERE due_at <= now() ORDER BY due_at
LIMIT 200 FOR UPDATE SKIP LOCKED`` in a transaction, rolled back), and the
query the timer now runs instead (``SELECT ticket_id ... GROUP BY ticket_id
ORDER BY min(due_at) LIMIT 200``, no locks: ``services/tickets/sla_timer.py``),
each when nothing is due (every idle tick) and with a backlog: every timer due
by ``now() + 30 hours`` (nearly the whole table), of which 200 come back.

The timer (``SlaTimer.fire_due``): one reading of the due tickets (200 at
most, up to 10 batches a tick), then one short transaction per ticket that
tries its stream lock, folds it, appends the event and re-projects it. The
events' ``occurred_at`` is the clock reading at the start of the batch, so
it understates the lag of a batch's later tickets: the visible lag does not.
"""
from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timedelta

import psycopg

from seedwork import db
from seedwork.envelope import utcnow
from seedwork.instants import parse_instant
from seedwork.store import EventStore
from tests.support.system import serving

from . import ops_seed
from .common import Settings, log, percentile
from .ops_seed import Builder
from .processes import Client, System
from .report import Row, Verdict

SECTION = "16. Agent operations: SLA timer lag, due moment to sla.breached, {n:,} open tickets (ms)"
POLL = 0.02
DRAIN_TIMEOUT = 180.0
# Seconds allowed per ticket for writing a phase's tickets before the first is due: writing
# takes ~8 ms a ticket on an idle machine, ~13 ms when other work loads it (load average 10-20).
LEAD_PER_TICKET = 0.02


def phase_sizes(settings: Settings) -> tuple[int, int, int]:
    """(due per second, seconds, burst) of one phase."""
    return (20, 10, 500) if settings.quick else (20, 30, 2000)


def live_count(settings: Settings) -> int:
    rate, seconds, burst = phase_sizes(settings)
    return 2 * (rate * seconds + burst)


def start_tickets(system: System, replica: int) -> None:
    """Start a tickets replica and wait until the system serves again."""
    process = system.supervisor.start("tickets", replica)
    process.wait_for_output("starting services: tickets", timeout=90)
    probe = Client(system.base_url)
    try:
        system.supervisor.wait_until(lambda: serving(probe.http, system.base_url, ["tickets"]), 90,
                                     f"tickets replica {replica} serving")
    finally:
        probe.close()


class Poller:
    """Reads the store's ``sla.breached`` events as they become visible."""

    def __init__(self, settings: Settings, schema: str, store_id: str):
        self.pool = db.make_pool(settings.database_url, min_size=1, max_size=1, name="bench-ops-poll")
        self.store = EventStore(self.pool, schema)
        self.store_id = store_id
        with self.pool.connection() as conn:
            self.after = conn.execute(f"SELECT coalesce(max(position), 0) FROM {schema}.events").fetchone()[0]
        self.seen: dict[str, tuple[datetime, datetime, datetime]] = {}  # ticket -> (due, occurred, seen)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        try:
            while not self.stop.is_set():
                events = self.store.read_all(self.after, 1000, store_id=self.store_id)
                now = utcnow()
                for e in events:
                    if e.type == "sla.breached":
                        if e.stream_id in self.seen:
                            raise RuntimeError(f"ticket {e.stream_id}: a second sla.breached")
                        self.seen[e.stream_id] = (parse_instant(e.data["due_at"]), e.occurred_at, now)
                if events:
                    self.after = events[-1].position
                if len(events) < 1000:
                    time.sleep(POLL)
        except BaseException as exc:
            self.error = exc

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.pool.close()
        if self.error:
            raise self.error


def claim_timings(settings: Settings, schema: str, calls: int) -> dict[str, list[float]]:
    """The raw claim and the timer's own due query, in rolled-back transactions: nothing due, and 200 due."""
    queries = {
        "claim": (f"SELECT ticket_id, kind, cycle, event_type FROM {schema}.sla_timers WHERE due_at <= {{until}} "
                  "ORDER BY due_at LIMIT 200 FOR UPDATE SKIP LOCKED"),
        "due": (f"SELECT ticket_id FROM {schema}.sla_timers WHERE due_at <= {{until}} GROUP BY ticket_id "
                "ORDER BY min(due_at) LIMIT 200"),
    }
    out: dict[str, list[float]] = {}
    with psycopg.connect(settings.database_url) as conn:
        for kind, sql in queries.items():
            for name, until in (("idle", "now()"), ("batch", "now() + interval '30 hours'")):
                statement = sql.format(until=until)
                ms = []
                for k in range(calls + 5):
                    start = time.perf_counter()
                    with conn.transaction(force_rollback=True):
                        rows = conn.execute(statement).fetchall()
                    if k >= 5:  # after psycopg has prepared it
                        ms.append((time.perf_counter() - start) * 1e3)
                expected = 0 if name == "idle" else 200
                if len(rows) != expected:
                    raise RuntimeError(f"the raw {kind} query ({name}) found {len(rows)} rows, not {expected}")
                out[f"{kind} {name}"] = ms
    return out


def measure(settings: Settings, system: System, store_id: str, seeded: dict
            ) -> tuple[list[Row], list[Verdict], list[str]]:
    schema = system.schemas["tickets"]
    rate, seconds, burst = phase_sizes(settings)
    claims = claim_timings(settings, schema, 50 if settings.quick else 200)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        timer_rows, backlog = conn.execute(
            f"SELECT count(*), count(*) FILTER (WHERE due_at <= now() + interval '30 hours') "
            f"FROM {schema}.sla_timers").fetchone()
    rnd = random.Random(17)
    results = {}
    fired_tickets: set[str] = set()
    for replicas in (1, 2):
        if replicas == 2:
            log("ops sla: starting a second tickets replica")
            start_tickets(system, 2)
            time.sleep(2.0)  # its timer is ticking
        count = rate * seconds + burst
        lead = timedelta(seconds=5 + count * LEAD_PER_TICKET)
        window = utcnow() + lead
        steady = [window + timedelta(seconds=j / rate) for j in range(rate * seconds)]
        burst_at = window + timedelta(seconds=seconds + 2)
        dues = steady + [burst_at] * burst
        builder = Builder(schema, store_id, seeded["versions"], utcnow(), rnd)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            first = ops_seed.reserve_numbers(conn, schema, store_id, len(dues))
        tickets = [builder.sla_ticket(k, first + k, due) for k, due in enumerate(dues)]
        poller = Poller(settings, schema, store_id)
        try:
            log(f"ops sla: {replicas} replica(s): writing {count:,} tickets due from "
                f"{lead.total_seconds():.0f} s from now")
            ops_seed.seed_live(settings, schema, tickets)
            written = utcnow()
            if written >= window:
                raise RuntimeError(f"ops sla: writing the phase's tickets took until {written}, after the first "
                                   f"was due ({window}): raise the lead")
            expected = {t[0] for t in tickets}
            deadline = time.monotonic() + (burst_at - utcnow()).total_seconds() + DRAIN_TIMEOUT
            while not expected <= set(poller.seen) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.5)  # a doubled event would show now
        finally:
            poller.close()
        missing = expected - set(poller.seen)
        strays = set(poller.seen) - expected
        if missing or strays:
            raise RuntimeError(f"ops sla: {len(missing)} tickets got no sla.breached within {DRAIN_TIMEOUT:g} s "
                               f"of the burst; {len(strays)} tickets not due fired")
        fired_tickets |= expected
        results[replicas] = _phase_stats(poller.seen, {t[0] for t in tickets[:rate * seconds]}, burst_at)
        log(f"ops sla: {replicas} replica(s): " + results[replicas]["line"])
    system.supervisor.processes.pop("tickets.2").stop()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        counts = conn.execute(
            f"SELECT count(*), count(DISTINCT stream_id) FROM {schema}.events WHERE store_id = %s "
            "AND type = 'sla.breached'", (store_id,)).fetchone()
    if counts != (len(fired_tickets), len(fired_tickets)):
        raise RuntimeError(f"ops sla: {counts[0]} sla.breached events on {counts[1]} tickets, "
                           f"expected one on each of {len(fired_tickets)}")
    return _rows(settings, results, claims, timer_rows, backlog, rate, seconds, burst)


def _phase_stats(seen: dict, steady_ids: set[str], burst_at: datetime) -> dict:
    def lags(ids, k):
        return [(seen[t][k] - seen[t][0]).total_seconds() * 1e3 for t in ids]

    burst_ids = set(seen) - steady_ids
    out = {
        "steady_event": lags(steady_ids, 1), "steady_seen": lags(steady_ids, 2),
        "burst_event": lags(burst_ids, 1), "burst_seen": lags(burst_ids, 2),
    }
    drained = max(seen[t][2] for t in burst_ids)
    out["drain_s"] = (drained - burst_at).total_seconds()
    out["drain_rate"] = len(burst_ids) / max(out["drain_s"], 1e-3)
    out["line"] = (f"steady lag to event p50 {percentile(out['steady_event'], 50):.0f} ms, p99 "
                   f"{percentile(out['steady_event'], 99):.0f} ms; burst of {len(burst_ids)} drained in "
                   f"{out['drain_s']:.1f} s ({out['drain_rate']:,.0f} events/s)")
    return out


def _rows(settings, results, claims, timer_rows, backlog, rate, seconds, burst):
    section = SECTION.format(n=settings.ops_sla_tickets)

    def three(values):
        return (f"p50 {percentile(values, 50):,.0f}, p99 {percentile(values, 99):,.0f}, "
                f"max {max(values):,.0f}")

    def p(values):
        return f"p50 {percentile(values, 50):.2f}, p99 {percentile(values, 99):.2f}"

    batch = claims["claim batch"]
    rows = [
        Row(section, "raw claim query (FOR UPDATE SKIP LOCKED, LIMIT 200), nothing due (baseline)",
            p(claims["claim idle"]), spread=f"{len(batch)} calls"),
        Row(section, f"raw claim query, {backlog:,} timer rows due, 200 returned (baseline)", p(batch),
            spread=f"{len(batch)} calls"),
        Row(section, "the timer's own due query (GROUP BY ticket, no locks), nothing due", p(claims["due idle"])),
        Row(section, f"the timer's own due query, {backlog:,} timer rows due, 200 returned",
            p(claims["due batch"])),
    ]
    for replicas, r in results.items():
        who = f"{replicas} replica{'s' if replicas > 1 else ''}"
        per_batch = 200 / r["drain_rate"] * 1e3
        rows += [
            Row(section, f"{who}: steady {rate}/s for {seconds} s, due -> event occurred_at",
                three(r["steady_event"]), spread=f"{len(r['steady_event'])} tickets"),
            Row(section, f"{who}: steady, due -> visible in the event log", three(r["steady_seen"])),
            Row(section, f"{who}: burst of {burst} due at once, due -> event occurred_at", three(r["burst_event"])),
            Row(section, f"{who}: burst, due -> visible (max = the drain)", three(r["burst_seen"]),
                f"claim of 200: {percentile(batch, 50):.2f}", per_batch / percentile(batch, 50),
                "200 fired / raw claim of 200",
                spread=f"{r['drain_rate']:,.0f} events/s drained"),
        ]
    notes = [
        f"ops sla: sla_timers held {timer_rows:,} rows (both stores) when the phases began; each replica ticks once "
        f"a second; a phase's {rate * seconds + burst:,} tickets were written by ReadModels.project while the "
        "service ran; every one got exactly one sla.breached and no other ticket did",
        "ops sla: the ratio compares the time the timer took per 200 events fired in the burst (per ticket a "
        "transaction: stream lock, load, fold, append, list row, counters, timers) with the raw claim of 200 alone",
    ]
    return rows, [], notes
