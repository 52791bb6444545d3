"""Seeding the ``ops`` section's stores without HTTP, consistently: every
ticket is a real stream of events, and its ``ticket_list`` row, its view
counters and its SLA timers are what the service itself would have written.

Per ticket: the domain's ``decide`` makes the events of a short story (a
shopper opens it; an agent takes it, answers, solves it, ...), each step at
its own moment in the past; between the steps (and up to now) an SLA timer
with no lag is played: the ``sla.warning`` / ``sla.breached`` events
``SlaTimer.fire_due`` would have appended, at their due moments. Then
``ReadModels.row_of`` gives the list row and the SLA state (the service's
own code, with the store's policy versions), ``queues.counted_in`` the view
counters and ``sla.due_moments`` the timer rows, exactly as
``ReadModels.project`` and ``SlaTimers.replace`` compute them.

Writing: one transaction per batch of tickets, events ``COPY``'d at the
positions ``EventStore.append`` would give them (as ``http_list.seed``),
list rows and timers ``COPY``'d too; the view counters are added up in
memory and written once, each topic's unread counters by the service's own
``InboxCounts.rebuild`` from the list rows. The tickets service is stopped meanwhile, so nothing
else writes; the list's secondary indexes are dropped first and rebuilt
from their own definitions afterwards (much faster than 1,000,000 inserts
into 14 indexes). A writer thread does the ``COPY`` while this thread builds
the next batch.

The stores' SLA policies are written as ``sla.policy_updated`` events dated
a year back (the store has had them since), so no ticket needs recomputing.
``check_sample`` then proves the result with the service's own code.
"""
from __future__ import annotations

import multiprocessing
import queue as queues_
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import SimpleNamespace

import psycopg
from psycopg.types.json import Jsonb

from seedwork import db
from seedwork.envelope import Actor, NewEvent, utcnow
from seedwork.instants import iso
from seedwork.store import TX_SHIFT, EventStore
from services.tickets.domain import commands, queues, sla
from services.tickets.domain.decisions import decide
from services.tickets.domain.fields import PRIORITIES
from services.tickets.domain.ticket import CLOCK_EVENTS, fold
from services.tickets.projection import ALL_COLUMNS
from services.tickets.read_models import ReadModels, ViewCounts, shard_of, sla_of
from services.tickets.saved_views import SavedViews
from services.tickets.read_marks import InboxCounts
from services.tickets.sla_policies import EVENT as POLICY_EVENT
from services.tickets.sla_policies import SlaPolicies
from services.tickets.sla_policies import stream_of as policy_stream
from services.tickets.sla_timer import TIMER_ACTOR

from .common import Settings, log
from .http_list import EVENT_COLUMNS, _as_stored
from .http_load import BODY, SUBJECTS

SEED_BATCH = 2000  # tickets per transaction
# No seeded timer of the big store falls due within this long after seeding
# starts: its SLA clock stays still while the views and the queue are timed.
GAP = timedelta(minutes=60)
YEAR = timedelta(days=365)

# The big store: around the clock (a run's figures do not depend on the
# weekday it runs on), warnings 90 minutes ahead.
BIG_POLICY = sla.clean_policy({
    "time_zone": "UTC", "business_hours": [], "pause_on": ["pending", "on_hold"], "warning_minutes": 90,
    "targets": {p: dict(zip(("first_response_minutes", "next_response_minutes", "resolution_minutes"), t))
                for p, t in (("urgent", (120, 240, 480)), ("high", (240, 480, 960)),
                             ("normal", (480, 960, 1440)), ("low", (960, 1440, 2880)))}})
# A solved ticket's story ends this soon after it opened: before any warning
# could fire, so it needs no timer played (checked here, once).
SOLVED_WITHIN = timedelta(minutes=25)
_EARLIEST = min(min(t["first_response_minutes"], t["resolution_minutes"]) for t in BIG_POLICY["targets"].values())
assert timedelta(minutes=_EARLIEST - BIG_POLICY["warning_minutes"]) > SOLVED_WITHIN

# The SLA store: one breach per open ticket, 24 hours after it opened.
SLA_TARGET = timedelta(minutes=1440)
SLA_POLICY = sla.clean_policy({
    "time_zone": "UTC", "business_hours": [], "pause_on": ["pending", "on_hold"], "warning_minutes": None,
    "targets": {p: {"first_response_minutes": 1440, "next_response_minutes": 1440, "resolution_minutes": None}
                for p in PRIORITIES}})

# The big store's stories, as shares of its tickets (the rest is solved).
SHAPES = (
    ("waiting", 0.06),  # open, unassigned, on a team, the shopper's message last: what queue/next takes
    ("answered", 0.03),  # open, assigned, the agent answered last
    ("customer_again", 0.02),  # open, assigned, the shopper wrote again after the answer
    ("pending", 0.025),  # assigned, answered, pending on the shopper
    ("on_hold", 0.005),
    ("spam", 0.005),  # open, unassigned, tagged spam
    ("closed", 0.255),
)
PRIORITY_SHARES = (("urgent", 0.05), ("high", 0.15), ("normal", 0.70), ("low", 0.10))
SEEDER = Actor("system", "bench-seed")


@dataclass
class Staff:
    """A store's staff, made through HTTP: agents (ids, tokens) and teams (agent ``i`` is in team ``i % len``)."""

    store_id: str
    owner_token: str
    agents: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)

    def team_of(self, i: int) -> str:
        return self.teams[i % len(self.teams)]

    def members(self, team: str) -> list[str]:
        k = self.teams.index(team)
        return [a for i, a in enumerate(self.agents) if i % len(self.teams) == k]


@dataclass
class Seeded:
    """One ticket, ready to write."""

    events: list
    row: tuple
    view_row: queues.Row
    timers: list[tuple]
    sla_state: str
    fired: int = 0  # sla.* events the played timer appended


@dataclass
class SeedStats:
    tickets: int = 0
    events: int = 0
    timers: int = 0
    resampled: int = 0
    fired: int = 0  # sla.* events the played timer appended
    seconds: float = 0.0  # in all, indexes and vacuum included
    build_seconds: float = 0.0  # building the tickets in Python (summed over the workers)
    index_seconds: float = 0.0
    vacuum_seconds: float = 0.0
    states: Counter = field(default_factory=Counter)
    shapes: Counter = field(default_factory=Counter)

    def merge(self, other: "SeedStats") -> None:
        for name in ("tickets", "events", "timers", "resampled", "fired", "build_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.states.update(other.states)
        self.shapes.update(other.shapes)


class Builder:
    """Builds seeded tickets of one store with the service's own read-model code."""

    def __init__(self, schema: str, store_id: str, versions: list, now: datetime, rnd: random.Random):
        store = EventStore(None, schema)  # row_of never touches the pool when given the versions
        policies = SlaPolicies(store, utcnow)
        self.read_models = ReadModels(store, policies, SavedViews(store, utcnow))
        self.policies = policies
        self.store_id, self.versions, self.now, self.rnd = store_id, versions, now, rnd
        self.keyed = [(v.id, v.filter) for v in queues.BUILT_IN]  # no saved views in a new store
        self.counts: Counter = Counter()
        self.stats = SeedStats()

    # --- one story ---------------------------------------------------------------

    def story(self, open_cmd: commands.OpenTicket, opened_at: datetime, steps: list, play_timer: bool) -> Seeded:
        events = decide(None, open_cmd, opened_at)
        history = _as_stored(events, 0)
        state = fold(history)
        for at, cmd in steps:
            if play_timer:
                state, history = self._fire(state, history, events, at)
            more = decide(state, cmd, at)
            stored = _as_stored(more, state.version)
            state, history = fold(stored, state), history + stored
            events += more
        while True:
            row, view_row, sla_state = self.read_models.row_of(None, state, history, self.versions)
            if not play_timer:
                break
            fired = self._due_events(state, sla_state, self.now)
            if not fired:
                break
            state, history = self._append(state, history, events, fired)
        timers = [] if sla_state is None else [
            (state.id, kind, cycle, event_type, state.store_id, moment)
            for moment, event_type, kind, cycle in sla.due_moments(sla_state)
            if (kind, cycle, event_type) not in sla_state.emitted]
        fired = sum(e.type in CLOCK_EVENTS for e in events)
        return Seeded(events, row, view_row, timers, view_row.sla_state, fired)

    def _fire(self, state, history, events, until: datetime):
        """Play a timer with no lag up to ``until``: what ``SlaTimer.fire_due`` appends."""
        while True:
            version, policy = self.policies.policy_for(None, state, self.versions)
            fired = self._due_events(state, sla_of(state, history, version, policy), until)
            if not fired:
                return state, history
            state, history = self._append(state, history, events, fired)

    def _due_events(self, state, sla_state, until: datetime) -> list[NewEvent]:
        if sla_state is None:
            return []
        due = [d for d in sla.due_moments(sla_state) if d[0] <= until]
        if not due:
            return []
        moment = due[0][0]  # a tick at the first due moment fires what is due then
        version, policy = self.policies.policy_for(None, state, self.versions)
        return [NewEvent(event_type, {"ticket_id": state.id, "target": kind, "cycle": cycle, "due_at": iso(m),
                                      "policy_version": version, "time_zone": policy["time_zone"]},
                         actor=TIMER_ACTOR, store_id=state.store_id, occurred_at=moment)
                for m, event_type, kind, cycle in due if m == moment]

    @staticmethod
    def _append(state, history, events, fired):
        stored = _as_stored(fired, state.version)
        events += fired
        return fold(stored, state), history + stored

    def count(self, ticket_id: str, seeded: Seeded) -> None:
        shard = shard_of(ticket_id)
        for key, team, assignee in queues.counted_in(self.keyed, seeded.view_row):
            self.counts[self.store_id, key, team, assignee, shard] += 1
        self.stats.tickets += 1
        self.stats.events += len(seeded.events)
        self.stats.timers += len(seeded.timers)
        self.stats.fired += seeded.fired
        self.stats.states[seeded.sla_state] += 1

    # --- the big store's tickets -----------------------------------------------------

    def pick(self, shares) -> str:
        x, total = self.rnd.random(), 0.0
        for name, share in shares:
            total += share
            if x < total:
                return name
        return shares[-1][0]

    def big_ticket(self, k: int, number: int, shape: str, staff: Staff, solved_count: int) -> tuple[str, Seeded]:
        """Ticket ``k`` of the big store: solved and closed ones (``k < solved_count``)
        opened over the past year in order, then the unsolved ones over the last 14 days."""
        rnd = self.rnd
        self.stats.shapes[shape] += 1
        priority = self.pick(PRIORITY_SHARES)
        ticket_id = str(uuid.uuid4())
        customer = Actor("customer", f"cus_{rnd.randrange(20000):05d}")
        team = staff.team_of(rnd.randrange(len(staff.teams)))
        if shape in ("answered", "customer_again", "closed", "solved") and rnd.random() < 0.1:
            team = None  # some tickets were never put on a team
        agent = Actor("agent", rnd.choice(staff.members(team) if team else staff.agents))
        open_cmd = commands.OpenTicket(
            actor=customer, ticket_id=ticket_id, store_id=self.store_id, number=number,
            subject=f"{SUBJECTS[k % len(SUBJECTS)]} ({k})", body=BODY, priority=priority,
            team=None if shape == "spam" else team)
        tags = [commands.AddTag(actor=agent, tag=t) for t, share in (("refund", 0.1), ("shipping", 0.14))
                if rnd.random() < share]
        answer = commands.PostReply(actor=agent, body="Thanks, we are on it: the parcel left the warehouse today.")
        assign = commands.Assign(actor=agent, assignee_id=agent.id)
        if shape in ("solved", "closed"):
            opened_at = self.now - YEAR + (YEAR - timedelta(days=14)) * (k / max(1, solved_count))
            end = commands.Solve(actor=agent) if shape == "solved" else commands.Close(actor=agent)
            # Answered and solved by an agent (who is not recorded as its assignee: a lean story,
            # since 85% of the store is this and no view or queue reads a solved ticket's assignee).
            plan = [*((2, t) for t in tags), (rnd.randint(8, 20), answer), (SOLVED_WITHIN.total_seconds() / 60, end)]
            steps = [(opened_at + timedelta(minutes=m), c) for m, c in plan]
            seeded = self.story(open_cmd, opened_at, steps, play_timer=False)
            if seeded.timers or seeded.sla_state != "met":
                raise AssertionError(f"a solved seeded ticket has SLA {seeded.sla_state} and timers {seeded.timers}")
            return ticket_id, seeded
        story = {
            "waiting": [*tags],
            "answered": [assign, *tags, answer],
            "customer_again": [assign, *tags, answer,
                               commands.PostReply(actor=customer, body="It has not arrived yet, please check.")],
            "pending": [assign, *tags, answer, commands.ChangeStatus(actor=agent, status="pending")],
            "on_hold": [assign, *tags, commands.ChangeStatus(actor=agent, status="on_hold",
                                                             label="waiting for the courier")],
            "spam": [commands.AddTag(actor=agent, tag=queues.SPAM_TAG)],
        }[shape]
        for _ in range(50):
            # Half opened in the last 8 hours, half over the 14 days before.
            age = timedelta(hours=8) * rnd.random() if rnd.random() < 0.5 else \
                timedelta(hours=8) + timedelta(days=14) * rnd.random()
            opened_at = self.now - age
            steps = [(opened_at + age * (n + 1) / (len(story) + 2), c) for n, c in enumerate(story)]
            seeded = self.story(open_cmd, opened_at, steps, play_timer=True)
            if not any(self.now < t[5] <= self.now + GAP for t in seeded.timers):
                return ticket_id, seeded
            self.stats.resampled += 1
        raise AssertionError("no story of this ticket keeps its timers out of the gap")

    def big_shapes(self, count: int) -> tuple[list[str], int]:
        """Each ticket's story, in writing order: the solved and closed first, then the rest shuffled."""
        unsolved = [name for name, share in SHAPES if name != "closed" for _ in range(round(share * count))]
        closed = ["closed"] * round(dict(SHAPES)["closed"] * count)
        solved = ["solved"] * (count - len(unsolved) - len(closed))
        done = solved + closed
        self.rnd.shuffle(done)
        self.rnd.shuffle(unsolved)
        return done + unsolved, len(done)

    # --- the SLA store's tickets --------------------------------------------------------

    def sla_ticket(self, k: int, number: int, due_at: datetime) -> tuple[str, Seeded]:
        """An open, unassigned ticket whose first response is due (its one timer) at ``due_at``."""
        ticket_id = str(uuid.uuid4())
        open_cmd = commands.OpenTicket(
            actor=Actor("customer", f"cus_{k % 20000:05d}"), ticket_id=ticket_id, store_id=self.store_id,
            number=number, subject=f"{SUBJECTS[k % len(SUBJECTS)]} ({k})", body=BODY)
        seeded = self.story(open_cmd, due_at - SLA_TARGET, [], play_timer=False)
        if [t[5] for t in seeded.timers] != [due_at]:
            raise AssertionError(f"an SLA-store ticket's timers are {seeded.timers}, not one at {due_at}")
        self.stats.shapes["sla"] += 1
        return ticket_id, seeded


# --- writing ---------------------------------------------------------------------------------


def write_policy(conn: psycopg.Connection, schema: str, store_id: str, policy: dict, at: datetime) -> list:
    """The store's SLA policy as its version 1, dated ``at``; returns its versions (``SlaPolicies.versions``)."""
    store = EventStore(None, schema)
    store.append(policy_stream(store_id), 0, [NewEvent(
        POLICY_EVENT, {"policy": policy, "previous_version": 0}, actor=SEEDER, store_id=store_id,
        occurred_at=at)], conn=conn)
    return SlaPolicies(store, utcnow).versions(conn, store_id)


def reserve_numbers(conn: psycopg.Connection, schema: str, store_id: str, count: int) -> int:
    """Take ``count`` ticket numbers from the store's counter, as the service hands them out; the first."""
    last = conn.execute(
        f"INSERT INTO {schema}.ticket_numbers (store_id, last) VALUES (%s, %s) "
        f"ON CONFLICT (store_id) DO UPDATE SET last = {schema}.ticket_numbers.last + %s RETURNING last",
        (store_id, 1000 + count, count)).fetchone()[0]
    return last - count + 1


class Writer:
    """A thread that writes batches (``COPY``) while the caller builds the next."""

    TIMER_COLUMNS = ("ticket_id", "kind", "cycle", "event_type", "store_id", "due_at")

    def __init__(self, settings: Settings, schema: str):
        self.schema = schema
        self.conn = psycopg.connect(settings.database_url)
        self.queue: queues_.Queue = queues_.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def put(self, batch: list[tuple[str, Seeded]]) -> None:
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

    def _write(self, batch: list[tuple[str, Seeded]]) -> None:
        s, conn = self.schema, self.conn
        with conn.transaction():
            base = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0] << TX_SHIFT
            n = 0
            with conn.cursor() as cur, cur.copy(f"COPY {s}.events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for ticket_id, seeded in batch:
                    for version, e in enumerate(seeded.events, 1):
                        copy.write_row((e.event_id, e.type, e.schema_version, ticket_id, version, base + n,
                                        e.store_id, e.actor.kind, e.actor.id, e.correlation_id, e.causation_id,
                                        e.occurred_at, Jsonb(e.data)))
                        n += 1
            with conn.cursor() as cur, cur.copy(
                    f"COPY {s}.ticket_list ({', '.join(ALL_COLUMNS)}) FROM STDIN") as copy:
                for _, seeded in batch:
                    copy.write_row(seeded.row)
            with conn.cursor() as cur, cur.copy(
                    f"COPY {s}.sla_timers ({', '.join(self.TIMER_COLUMNS)}) FROM STDIN") as copy:
                for _, seeded in batch:
                    for timer in seeded.timers:
                        copy.write_row(timer)


def drop_list_indexes(conn: psycopg.Connection, schema: str) -> list[str]:
    """Drop ``ticket_list``'s secondary indexes (not those of its constraints); their definitions."""
    rows = conn.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = %s AND t.relname = 'ticket_list' "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)", (schema,)).fetchall()
    for name, _ in rows:
        conn.execute(f"DROP INDEX {schema}.{name}")
    return [definition for _, definition in rows]


def rebuild_indexes(settings: Settings, definitions: list[str]) -> None:
    """Rebuild the dropped indexes, two at a time (two cores)."""
    pending = list(definitions)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work():
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '256MB'")
            conn.execute("SET max_parallel_maintenance_workers = 0")
            while True:
                with lock:
                    if not pending or errors:
                        return
                    definition = pending.pop(0)
                try:
                    conn.execute(definition)
                except BaseException as exc:
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def write_counts(conn: psycopg.Connection, schema: str, counts: Counter) -> None:
    """The counters, as ``ReadModels.rebuild`` writes them (``ViewCounts.insert_many``: adding to what is there)."""
    ViewCounts(schema).insert_many(conn, [(*cell, n) for cell, n in sorted(counts.items())])


@dataclass
class Job:
    """One worker's share of one store: ``specs`` are ``(k, shape or due moment)``."""

    database_url: str
    schema: str
    store_id: str
    versions: list
    now: datetime
    seed: int
    first_number: int
    specs: list
    staff: Staff | None = None
    solved_count: int = 0


def _work(jobs: list[Job]) -> list[tuple[Counter, SeedStats]]:
    """A worker process: build and write its share of each store, batch by batch."""
    settings = Settings(database_url=jobs[0].database_url)
    writer = Writer(settings, jobs[0].schema)
    out = []
    try:
        for job in jobs:
            builder = Builder(job.schema, job.store_id, job.versions, job.now, random.Random(job.seed))
            batch = []
            built = time.perf_counter()
            for k, spec in job.specs:
                if job.staff is not None:
                    made = builder.big_ticket(k, job.first_number + k, spec, job.staff, job.solved_count)
                else:
                    made = builder.sla_ticket(k, job.first_number + k, spec)
                builder.count(*made)
                batch.append(made)
                if len(batch) == SEED_BATCH:
                    builder.stats.build_seconds += time.perf_counter() - built
                    writer.put(batch)
                    built, batch = time.perf_counter(), []
            builder.stats.build_seconds += time.perf_counter() - built
            if batch:
                writer.put(batch)
            out.append((builder.counts, builder.stats))
    finally:
        writer.close()
    return out


WORKERS = 2  # processes building and writing tickets (two cores)


def seed_bulk(settings: Settings, schema: str, stores: list[Job], what: str) -> list[SeedStats]:
    """Build and write every store's tickets in ``WORKERS`` processes (each store's
    specs dealt out in slices), with the list's indexes dropped meanwhile; then
    rebuild the indexes, write the counters, vacuum and analyze. Each store's stats."""
    start = time.perf_counter()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        definitions = drop_list_indexes(conn, schema)
        for job in stores:
            job.first_number = reserve_numbers(conn, schema, job.store_id, len(job.specs))
    shares: list[list[Job]] = [[] for _ in range(WORKERS)]
    for job in stores:
        step = -(-len(job.specs) // (WORKERS * SEED_BATCH)) * SEED_BATCH  # whole batches per worker
        for w in range(WORKERS):
            shares[w].append(replace(job, seed=job.seed * 100 + w, specs=job.specs[w * step:(w + 1) * step]))
    log(f"ops: {what}: {sum(len(j.specs) for j in stores):,} tickets in {WORKERS} processes")
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        results = pool.map(_work, shares)
    t0 = time.perf_counter()
    log(f"ops: {what}: written in {t0 - start:.0f}s; rebuilding {len(definitions)} ticket_list indexes")
    rebuild_indexes(settings, definitions)
    stats = []
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        with conn.transaction():
            # Each topic's unread counters, counted from the list rows by the service's own rebuild
            # (nothing else has counted any yet: no ticket existed before the seeding).
            if conn.execute(f"SELECT count(*) FROM {schema}.inbox_counts").fetchone()[0]:
                raise RuntimeError("inbox_counts is not empty before the seeding's counters are written")
            InboxCounts(schema).rebuild(conn)
            for n, _ in enumerate(stores):
                counts = Counter()
                merged = SeedStats()
                for result in results:
                    part_counts, part = result[n]
                    counts.update(part_counts)
                    merged.merge(part)
                write_counts(conn, schema, counts)
                stats.append(merged)
        t1 = time.perf_counter()
        for table in ("ticket_list", "sla_timers", "view_counts", "inbox_counts"):
            conn.execute(f"VACUUM ANALYZE {schema}.{table}")
        conn.execute(f"ANALYZE {schema}.events")
    for s in stats:
        s.index_seconds, s.vacuum_seconds = t1 - t0, time.perf_counter() - t1
        s.seconds = time.perf_counter() - start
    return stats


def seed_live(settings: Settings, schema: str, tickets: list[tuple[str, Seeded]]) -> None:
    """Write a few tickets while the service runs: events by ``COPY``, then the
    service's own ``ReadModels.project`` for each (list row, counters, timers)."""
    pool = db.make_pool(settings.database_url, min_size=1, max_size=1, name="bench-ops-seed")
    store = EventStore(pool, schema)
    read_models = ReadModels(store, SlaPolicies(store, utcnow), SavedViews(store, utcnow))
    try:
        for begin in range(0, len(tickets), 500):
            batch = tickets[begin:begin + 500]
            with pool.connection() as conn, conn.transaction():
                base = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0] << TX_SHIFT
                n = 0
                histories = []
                with conn.cursor() as cur, cur.copy(
                        f"COPY {schema}.events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                    for ticket_id, seeded in batch:
                        history = []
                        for version, e in enumerate(seeded.events, 1):
                            copy.write_row((e.event_id, e.type, e.schema_version, ticket_id, version, base + n,
                                            e.store_id, e.actor.kind, e.actor.id, e.correlation_id,
                                            e.causation_id, e.occurred_at, Jsonb(e.data)))
                            n += 1
                            history.append(SimpleNamespace(type=e.type, data=e.data, actor=e.actor,
                                                           store_id=e.store_id, occurred_at=e.occurred_at,
                                                           version=version))
                        histories.append(history)
                for history in histories:
                    read_models.project(conn, fold(history), history)
    finally:
        pool.close()
