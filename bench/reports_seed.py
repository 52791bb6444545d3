"""Seeding the ``reports`` section's store without HTTP or the bus: a year
of tickets written straight into the reports service's schema, as the
service would have written them had it heard every event.

Per ticket: the tickets domain's ``decide`` makes the events of its story
(opened by a shopper or by an agent on a channel, tags, assigned, replies
from both sides, notes, pending, solved, rated, reopened by the shopper's
reply, reassigned, closed; ``sla.warning`` / ``sla.breached`` events as the
SLA timer appends them when the first response is late), each step at its
own moment of the year. Then the reports service's own domain code measures
it: ``metrics.measure`` and ``rollups.contributions`` (with
``keywords.opened_terms`` and ``reasons.self_service_reasons``), exactly as
``ReportsProjection.measure`` calls them (``check_sample`` fails if they
drift apart). Its ``report_events`` and ``ticket_metrics`` rows are ``COPY``'d; its
contributions are summed in memory per (day, dimension, key) and the
``rollups`` rows written once at the end (calling ``ReportsProjection.measure``
per ticket, with its round trips and row locks, would take hours for
1,000,000 tickets).

Two worker processes (two cores) build and write their share of the
tickets, each with a writer thread doing the ``COPY`` while it builds the
next batch; the tables' primary keys and indexes are dropped first and
rebuilt from their own definitions afterwards. ``check_sample`` and
``check_rebuild`` then prove the result with the service's own code.
"""
from __future__ import annotations

import multiprocessing
import queue as queues_
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from seedwork.envelope import Actor, NewEvent
from seedwork.instants import iso
from services.reports.domain import keywords
from services.reports.domain import metrics as measuring
from services.reports.domain import reasons, rollups
from services.reports.domain.rollups import BUCKETS, HISTOGRAMS, Measures
from services.reports.projection import HeardEvent, ReportsProjection, contributions_to_json
from services.tickets.domain import commands, sla, sla_policy
from services.tickets.domain.decisions import decide
from services.tickets.domain.ticket import fold
from services.tickets.sla_timer import TIMER_ACTOR

from .common import Settings, log
from .http_list import _as_stored
from .http_load import BODY, REPLY, SUBJECTS
from .ops_seed import rebuild_indexes

YEAR = timedelta(days=365)
SEED_BATCH = 2000  # tickets per transaction
WORKERS = 2  # processes building and writing tickets (two cores)
POSITIONS = 64  # positions per ticket: ticket k's events are at k * POSITIONS + version (its stream's order)
# The store's SLA policy: the tickets service's default (Riyadh, Sunday to Thursday 9:00-17:00, targets by
# priority), as the reports service keeps it when it hears sla_policy.updated; dated before every ticket.
POLICY = sla.clean_policy(sla_policy.DEFAULT_POLICY)
TABLES = ("report_events", "ticket_metrics", "rollups")

AGENTS, TEAMS, TOPICS = 50, 5, 6
TAGS = (("shipping", 0.20), ("refund", 0.12), ("damaged", 0.06), ("size", 0.06), ("exchange", 0.05),
        ("payment", 0.04), ("late", 0.08), ("vip", 0.01))
CHANNELS = (("email", 0.45), ("chat", 0.20), ("whatsapp", 0.20), ("phone", 0.10), ("instagram", 0.05))
PRIORITIES = (("urgent", 0.05), ("high", 0.15), ("normal", 0.70), ("low", 0.10))
SCORES = ((5, 0.50), (4, 0.25), (3, 0.10), (2, 0.07), (1, 0.08))
CUSTOMER_AGAIN = ("It has not arrived yet, could you check again?", "Thanks, but the size is still wrong.",
                  "I sent the photos you asked for.")
NOTE = "Checked with the warehouse: the courier has the parcel."


@dataclass
class Cast:
    """The store's people and places: agents (agent ``i`` in team ``i % TEAMS``), teams, topics (topic ``j``
    routes to team ``j % TEAMS``)."""

    agents: list[str]
    teams: list[str]
    topics: list[str]

    @classmethod
    def make(cls, rnd: random.Random) -> "Cast":
        ids = lambda n: [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(n)]  # noqa: E731
        return cls(ids(AGENTS), ids(TEAMS), ids(TOPICS))

    def members(self, team: str) -> list[str]:
        k = self.teams.index(team)
        return [a for i, a in enumerate(self.agents) if i % TEAMS == k]


class _Now(Exception):
    """The story's next step would happen after now: it stops where it is."""


class Story:
    """One ticket's events, decided step by step by the tickets domain at moments of its own."""

    def __init__(self, open_cmd: commands.OpenTicket, at: datetime, now: datetime):
        self.at, self.now = at, now
        self.events = decide(None, open_cmd, at)
        self.state = fold(_as_stored(self.events, 0))

    def do(self, minutes: float, command) -> None:
        at = self.at + timedelta(minutes=minutes)
        if at > self.now:
            raise _Now
        self._append(decide(self.state, command, at), at)

    def timer(self, minutes: float, event_type: str, target: str, due: datetime) -> None:
        """What ``SlaTimer.fire_due`` appends when a target falls due (its data as the timer writes it)."""
        at = self.at + timedelta(minutes=minutes)
        if at > self.now:
            raise _Now
        self._append([NewEvent(event_type, {"ticket_id": self.state.id, "target": target, "cycle": 1,
                                            "due_at": iso(due), "policy_version": 1,
                                            "time_zone": POLICY["time_zone"]},
                               actor=TIMER_ACTOR, store_id=self.state.store_id, occurred_at=at)], at)

    def _append(self, new: list, at: datetime) -> None:
        self.state = fold(_as_stored(new, self.state.version), self.state)
        self.events += new
        self.at = at


class Builder:
    """The tickets of one store and what the reports service makes of them."""

    def __init__(self, store_id: str, cast: Cast, start: datetime, now: datetime, count: int, offset: int,
                 fcr_days: int, rnd: random.Random):
        self.store_id, self.cast, self.start, self.now, self.count = store_id, cast, start, now, count
        self.offset = offset  # tickets of the stores seeded before: where this store's positions start
        self.fcr_days, self.rnd = fcr_days, rnd
        self.span = now - start - timedelta(minutes=5)
        self.sums = Sums()
        self.stats = SeedStats()

    def pick(self, shares):
        x, total = self.rnd.random(), 0.0
        for value, share in shares:
            total += share
            if x < total:
                return value
        return shares[-1][0]

    def story(self, k: int) -> tuple[str, list]:
        """Ticket ``k`` of ``count``, opened at its share of the year (in order), and its story's events."""
        rnd, cast = self.rnd, self.cast
        ticket_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        customer = Actor("customer", f"cus_{rnd.randrange(200_000):06d}")
        topic = rnd.randrange(TOPICS) if rnd.random() < 0.85 else None
        team = cast.teams[topic % TEAMS] if topic is not None else (rnd.choice(cast.teams) if rnd.random() < 0.5
                                                                    else None)
        agent = Actor("agent", rnd.choice(cast.members(team) if team else cast.agents))
        opener = customer if rnd.random() < 0.55 else agent
        open_cmd = commands.OpenTicket(
            actor=opener, ticket_id=ticket_id, store_id=self.store_id, number=k + 1,
            customer_id=None if opener is customer else customer.id,
            channel=None if opener is customer else self.pick(CHANNELS),
            subject=SUBJECTS[rnd.randrange(len(SUBJECTS))], body=BODY,
            type="order_delayed" if rnd.random() < 0.35 else "general", priority=self.pick(PRIORITIES),
            topic_id=None if topic is None else cast.topics[topic], team=team)
        story = Story(open_cmd, self.start + self.span * ((k + rnd.random()) / self.count), self.now)
        try:
            self._play(story, agent, customer, team)
        except _Now:
            self.stats.cut_short += 1
        return ticket_id, story.events

    def _play(self, s: Story, agent: Actor, customer: Actor, team: str | None) -> None:
        rnd, chance = self.rnd, self.rnd.random

        def reply():  # a new message each time, by the agent holding the ticket then
            return commands.PostReply(actor=agent, body=REPLY)

        for tag, share in TAGS:
            if chance() < share:
                s.do(rnd.uniform(0.5, 5), commands.AddTag(actor=agent, tag=tag))
        if chance() < 0.95:
            s.do(rnd.uniform(1, 30), commands.Assign(actor=agent, assignee_id=agent.id, team=team))
            if chance() < 0.3:
                s.do(rnd.uniform(1, 20), commands.AddNote(actor=agent, body=NOTE))
        first = min(rnd.lognormvariate(3.7, 1.3), 4320.0)  # minutes to the first response: median ~40
        if first > 240:  # late: the timer warns an hour before the target and then breaches it
            due = s.at + timedelta(minutes=240)
            s.timer(180, "sla.warning", "first_response", due)
            s.timer(60, "sla.breached", "first_response", due)
            first -= 240
        if chance() < 0.04:
            s.do(rnd.uniform(1, 20), commands.SetPriority(actor=agent, priority="high"))
        s.do(first, reply())
        for again in (0.7, 0.4):
            if chance() < again:
                s.do(rnd.uniform(10, 600), commands.PostReply(actor=customer, body=rnd.choice(CUSTOMER_AGAIN)))
                if chance() < 0.3:
                    s.do(rnd.uniform(2, 30), commands.AddNote(actor=agent, body=NOTE))
                s.do(min(rnd.lognormvariate(4.0, 1.2), 2880.0), reply())
        if chance() < 0.06:  # handed over to another agent of the team
            other = Actor("agent", rnd.choice(self.cast.members(team) if team else self.cast.agents))
            if other != agent:
                s.do(rnd.uniform(5, 120), commands.Assign(actor=other, assignee_id=other.id))
                agent = other  # the replies below are theirs
        if chance() < 0.3:
            s.do(rnd.uniform(1, 10), commands.ChangeStatus(actor=agent, status="pending"))
            if chance() < 0.6:  # the shopper answers: the ticket opens again
                s.do(rnd.uniform(30, 2880), commands.PostReply(actor=customer, body=rnd.choice(CUSTOMER_AGAIN)))
                s.do(min(rnd.lognormvariate(4.0, 1.2), 2880.0), reply())
        if chance() < 0.08:
            return  # left open (or pending)
        s.do(rnd.uniform(5, 600), commands.Solve(actor=agent))
        if chance() < 0.35:
            s.do(rnd.uniform(10, 2880), commands.Rate(actor=customer, score=self.pick(SCORES)))
        if chance() < 0.08:  # reopened by the shopper's reply, answered and solved again
            s.do(rnd.uniform(60, 7 * 1440), commands.PostReply(actor=customer, body=rnd.choice(CUSTOMER_AGAIN)))
            s.do(min(rnd.lognormvariate(4.0, 1.2), 2880.0), reply())
            s.do(rnd.uniform(5, 600), commands.Solve(actor=agent))
        if chance() < 0.15:
            s.do(rnd.uniform(1440, 5 * 1440), commands.Close(actor=agent))

    def measured(self, k: int) -> tuple[list[tuple], tuple]:
        """Ticket ``k``'s ``report_events`` rows and ``ticket_metrics`` row, by the reports' own code; its
        contributions are added to ``sums``."""
        ticket_id, events = self.story(k)
        base = (self.offset + k) * POSITIONS
        if len(events) >= POSITIONS:
            raise AssertionError(f"a story of {len(events)} events does not fit in {POSITIONS} positions")
        heard = [HeardEvent(type=e.type, data=e.data, actor=e.actor, occurred_at=e.occurred_at, version=v,
                            store_id=self.store_id, position=base + v) for v, e in enumerate(events, 1)]
        # As ReportsProjection.measure: the policy, the metrics, the contributions (no order: no products).
        metrics = measuring.measure(heard, POLICY, self.fcr_days)
        contributions = rollups.contributions(metrics, POLICY["time_zone"], (), keywords.opened_terms(heard[0]),
                                              reasons.self_service_reasons(heard[0]))
        self.sums.add(contributions)
        event_rows = [(ticket_id, h.version, self.store_id, h.position, h.type, h.actor.kind, h.actor.id,
                       h.occurred_at, Jsonb(h.data)) for h in heard]
        metrics_row = (ticket_id, self.store_id, metrics.created_at, metrics.customer_id, metrics.order_id,
                       heard[0].position, Jsonb(measuring.to_document(metrics)),
                       Jsonb(contributions_to_json(contributions)), heard[-1].position)
        self.stats.tickets += 1
        self.stats.events += len(events)
        self.stats.types.update(e.type for e in events)
        return event_rows, metrics_row


# --- the rollups, summed -----------------------------------------------------------------------

COUNTS = tuple(f.name for f in fields(Measures) if f.name not in HISTOGRAMS)
_NO_HISTOGRAM = (0,) * BUCKETS


class Sums:
    """The tickets' contributions summed per (day, dimension, key): what the
    ``rollups`` rows hold. Plain counters (``Measures.add`` walks every bucket
    of four histograms: too slow for millions of additions)."""

    def __init__(self):
        self.cells: dict[tuple, tuple[list[int], list[dict[int, int]]]] = {}

    def add(self, contributions) -> None:
        for where, m in contributions.items():
            cell = self.cells.get(where)
            if cell is None:
                cell = self.cells[where] = ([0] * len(COUNTS), [{} for _ in HISTOGRAMS])
            counts, histograms = cell
            for i, name in enumerate(COUNTS):
                value = getattr(m, name)
                if value:
                    counts[i] += value
            for histogram, name in zip(histograms, HISTOGRAMS):
                buckets = getattr(m, name)
                if buckets != _NO_HISTOGRAM:
                    for index, n in enumerate(buckets):
                        if n:
                            histogram[index] = histogram.get(index, 0) + n

    def merge(self, other: "Sums") -> None:
        for where, (counts, histograms) in other.cells.items():
            mine = self.cells.get(where)
            if mine is None:
                self.cells[where] = (counts, histograms)
                continue
            for i, n in enumerate(counts):
                mine[0][i] += n
            for histogram, theirs in zip(mine[1], histograms):
                for index, n in theirs.items():
                    histogram[index] = histogram.get(index, 0) + n

    def rows(self, store_id: str):
        """``rollups`` rows ``(store_id, day, dimension, key, measures)``."""
        for (day, dimension, key), (counts, histograms) in sorted(self.cells.items()):
            measures = Measures(**dict(zip(COUNTS, counts)), **{
                name: tuple(h.get(i, 0) for i in range(BUCKETS)) for name, h in zip(HISTOGRAMS, histograms)})
            yield store_id, day, dimension, key, Jsonb(measures.to_row())


@dataclass
class SeedStats:
    tickets: int = 0
    events: int = 0
    cut_short: int = 0  # stories stopped by now (the year's last days)
    build_seconds: float = 0.0  # building and measuring in Python (summed over the workers)
    types: Counter = field(default_factory=Counter)
    seconds: float = 0.0  # in all
    index_seconds: float = 0.0
    vacuum_seconds: float = 0.0
    rollup_rows: int = 0

    def merge(self, other: "SeedStats") -> None:
        for name in ("tickets", "events", "cut_short", "build_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.types.update(other.types)


# --- writing -------------------------------------------------------------------------------------

EVENT_COLUMNS = ("ticket_id", "version", "store_id", "position", "type", "actor_kind", "actor_id", "occurred_at",
                 "data")
METRICS_COLUMNS = ("ticket_id", "store_id", "created_at", "customer_id", "order_id", "opened_position", "metrics",
                   "contributions", "position")


class Writer:
    """A thread that ``COPY``s batches while the caller builds the next."""

    def __init__(self, database_url: str, schema: str):
        self.schema = schema
        self.conn = psycopg.connect(database_url)
        self.queue: queues_.Queue = queues_.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def put(self, batch: list) -> None:
        if self.error:
            raise self.error
        self.queue.put(batch)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.conn.close()
        if self.error:
            raise self.error

    def _loop(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self._write(batch)
                except BaseException as exc:  # surfaced by put/close
                    self.error = exc

    def _write(self, batch: list) -> None:
        s = self.schema
        with self.conn.transaction(), self.conn.cursor() as cur:
            with cur.copy(f"COPY {s}.report_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for event_rows, _ in batch:
                    for row in event_rows:
                        copy.write_row(row)
            with cur.copy(f"COPY {s}.ticket_metrics ({', '.join(METRICS_COLUMNS)}) FROM STDIN") as copy:
                for _, metrics_row in batch:
                    copy.write_row(metrics_row)


@dataclass
class Job:
    """One worker's share of one store: its tickets ``first``..``last - 1`` of ``count``; ``offset``: the
    tickets of the stores before it (their positions come first)."""

    database_url: str
    schema: str
    store_id: str
    cast: Cast
    start: datetime
    now: datetime
    count: int
    offset: int
    first: int
    last: int
    seed: int
    fcr_days: int


def _work(jobs: list[Job]) -> list[tuple[Sums, SeedStats]]:
    """A worker process: build, measure and write its share of each store, batch by batch."""
    writer = Writer(jobs[0].database_url, jobs[0].schema)
    out = []
    try:
        for job in jobs:
            builder = Builder(job.store_id, job.cast, job.start, job.now, job.count, job.offset, job.fcr_days,
                              random.Random(job.seed))
            batch = []
            built = time.perf_counter()
            for k in range(job.first, job.last):
                batch.append(builder.measured(k))
                if len(batch) == SEED_BATCH:
                    builder.stats.build_seconds += time.perf_counter() - built
                    writer.put(batch)
                    built, batch = time.perf_counter(), []
            builder.stats.build_seconds += time.perf_counter() - built
            if batch:
                writer.put(batch)
            out.append((builder.sums, builder.stats))
    finally:
        writer.close()
    return out


def drop_indexes(conn: psycopg.Connection, schema: str) -> list[str]:
    """Drop the primary keys and indexes of the tables seeded; the statements that make them again."""
    rows = conn.execute(
        "SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid), c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid "
        "WHERE n.nspname = %s AND t.relname = ANY(%s) ORDER BY c.conname IS NULL, 1, 2",
        (schema, list(TABLES))).fetchall()
    remake = []
    for table, index, definition, constraint, constraint_definition in rows:
        if constraint:
            conn.execute(f"ALTER TABLE {schema}.{table} DROP CONSTRAINT {constraint}")
            remake.append(f"ALTER TABLE {schema}.{table} ADD CONSTRAINT {constraint} {constraint_definition}")
        else:
            conn.execute(f"DROP INDEX {schema}.{index}")
            remake.append(definition)
    return remake


def write_policy(conn: psycopg.Connection, schema: str, store_id: str) -> None:
    """The store's SLA policy as heard before any of its tickets (version 1, position 0)."""
    conn.execute(f"INSERT INTO {schema}.store_policies (store_id, version, position, policy) VALUES (%s, 1, 0, %s)",
                 (store_id, Jsonb(POLICY)))


def seed(settings: Settings, schema: str, stores: list[tuple[str, int, int]], now: datetime,
         fcr_days: int) -> list[SeedStats]:
    """Seed each ``(store_id, tickets, seed)`` with a year up to ``now``, in ``WORKERS`` processes; each
    store's stats."""
    start = time.perf_counter()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        for table in TABLES:
            if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {schema}.{table})").fetchone()[0]:
                raise RuntimeError(f"{schema}.{table} is not empty before the seeding")
        remake = drop_indexes(conn, schema)
        for store_id, _, _ in stores:
            write_policy(conn, schema, store_id)
    shares: list[list[Job]] = [[] for _ in range(WORKERS)]
    offset = 0
    for store_id, count, seed_ in stores:
        cast = Cast.make(random.Random(seed_))
        step = -(-count // (WORKERS * SEED_BATCH)) * SEED_BATCH  # whole batches per worker
        for w in range(WORKERS):
            shares[w].append(Job(settings.database_url, schema, store_id, cast, now - YEAR, now, count, offset,
                                 min(count, w * step), min(count, (w + 1) * step), seed_ * 100 + w, fcr_days))
        offset += count
    log(f"reports: seeding {sum(c for _, c, _ in stores):,} tickets in {WORKERS} processes")
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        results = pool.map(_work, shares)
    t0 = time.perf_counter()
    log(f"reports: written in {t0 - start:.0f}s; rebuilding {len(remake)} primary keys and indexes")
    rebuild_indexes(settings, remake)
    t1 = time.perf_counter()
    stats = []
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        for n, (store_id, _, _) in enumerate(stores):
            sums, merged = Sums(), SeedStats()
            for result in results:
                part_sums, part = result[n]
                sums.merge(part_sums)
                merged.merge(part)
            with conn.transaction(), conn.cursor() as cur, cur.copy(
                    f"COPY {schema}.rollups (store_id, day, dimension, key, measures) FROM STDIN") as copy:
                for row in sums.rows(store_id):
                    copy.write_row(row)
            merged.rollup_rows = len(sums.cells)
            stats.append(merged)
        t2 = time.perf_counter()
        for table in ("ticket_metrics", "rollups"):
            conn.execute(f"VACUUM ANALYZE {schema}.{table}")
        conn.execute(f"ANALYZE {schema}.report_events")
    for s in stats:
        s.index_seconds, s.vacuum_seconds = t1 - t0, time.perf_counter() - t2
        s.seconds = time.perf_counter() - start
    return stats


# --- checking the seeding with the service's own code -------------------------------------------------


def _snapshot(conn, schema: str, store_id: str, ids: list[str] | None):
    where = "store_id = %s" + ("" if ids is None else " AND ticket_id = ANY(%s)")
    args = (store_id,) if ids is None else (store_id, ids)
    tickets = conn.execute(f"SELECT {', '.join(METRICS_COLUMNS)} FROM {schema}.ticket_metrics WHERE {where} "
                           "ORDER BY ticket_id", args).fetchall()
    rows = conn.execute(f"SELECT dimension, day, key, measures FROM {schema}.rollups WHERE store_id = %s "
                        "ORDER BY dimension, day, key", (store_id,)).fetchall()
    return tickets, rows


def _compare(what: str, before, after) -> None:
    for name, b, a in zip(("ticket_metrics rows", "rollups rows"), before, after):
        if b != a:
            diff = next(((x, y) for x, y in zip(b, a) if x != y), (len(b), len(a)))
            raise RuntimeError(f"reports: {what}: the seeded {name} differ from the service's: {str(diff)[:600]}")


def check_sample(settings: Settings, schema: str, store_id: str, tickets: int, fcr_days: int, sample: int) -> str:
    """Re-measure ``sample`` random seeded tickets (of the store's ``tickets``) with
    ``ReportsProjection.measure`` in a transaction that is rolled back: their metrics rows and the
    store's rollups must not change."""
    projection = ReportsProjection(schema, fcr_days)
    share = min(100.0, 400.0 * sample / tickets)  # percent of the table's pages: about 4 x sample rows
    with psycopg.connect(settings.database_url) as conn:
        ids = [r[0] for r in conn.execute(
            f"SELECT ticket_id FROM {schema}.ticket_metrics TABLESAMPLE SYSTEM ({share:.4f}) WHERE store_id = %s",
            (store_id,)).fetchall()]
        ids = random.Random(7).sample(ids, min(sample, len(ids)))
        before = _snapshot(conn, schema, store_id, ids)
        with conn.transaction(force_rollback=True):
            for ticket_id in ids:
                projection.measure(conn, ticket_id)
            after = _snapshot(conn, schema, store_id, ids)
        conn.rollback()
    _compare("ReportsProjection.measure", before, after)
    return (f"ReportsProjection.measure of {len(ids)} random seeded tickets left their ticket_metrics rows and "
            f"the store's {len(before[1]):,} rollup rows unchanged")


def check_rebuild(settings: Settings, schema: str, store_id: str, fcr_days: int) -> tuple[str, float, int]:
    """``ReportsProjection.rebuild`` of a whole (small) seeded store, rolled back: every metrics row
    and rollup row equal to the seeded ones (so the rollups summed here are the service's). The
    note, the rebuild's seconds and its tickets."""
    projection = ReportsProjection(schema, fcr_days)
    with psycopg.connect(settings.database_url) as conn:
        before = _snapshot(conn, schema, store_id, None)
        with conn.transaction(force_rollback=True):
            start = time.perf_counter()
            count = projection.rebuild(conn, store_id)
            seconds = time.perf_counter() - start
            after = _snapshot(conn, schema, store_id, None)
        conn.rollback()
    _compare("ReportsProjection.rebuild", before, after)
    return (f"ReportsProjection.rebuild of the {count:,}-ticket check store made its {len(before[0]):,} "
            f"ticket_metrics rows and {len(before[1]):,} rollup rows exactly as seeded", seconds, count)
