"""The HTTP API end to end: client -> gateway -> RPC over RabbitMQ -> tickets
service -> PostgreSQL, with both services running as real processes
(``python -m seedwork.launch tickets|gateway``, see ``processes.py``).

Part 1, throughput and latency with concurrent clients (8 and 32 threads of
this process, each with its own ``requests.Session``, i.e. its own keep-alive
connection), each run lasting a fixed time:

- create: ``POST /v1/tickets`` by customers (one customer session per thread);
- reply: ``POST /v1/tickets/{id}/replies`` by an agent, each thread cycling
  through its own share of ``REPLY_TICKETS`` tickets (no two threads write
  to the same ticket, so there are no version conflicts to retry);
- get: ``GET /v1/tickets/{id}`` by the agent, over the same tickets;
- list: ``GET /v1/tickets?limit=25`` by the agent (the first page of a store
  that holds the tickets made so far: a few thousand).

Same-run baselines at the same concurrency: ``GET /health/live`` (the
gateway's cheapest route: no token, no RPC, no database), and a raw psycopg
``INSERT ... RETURNING`` + ``SELECT`` by primary key on a dedicated
connection per thread. Latency is measured by the client, per request.

Part 2, the ticket list with ``http_tickets`` (100,000) tickets in one store:
the tickets are written without HTTP into the schema the running tickets
service reads: the domain's ``decide`` builds each ticket's events (opened;
some tagged, some pending or solved by an agent), one ``COPY`` per
transaction of ``SEED_BATCH`` tickets writes them at the positions
``EventStore.append`` would give them, and ``TicketList.upsert`` writes the
list rows in the same transaction (see ``seed``). The service's relay then
publishes them, which the bench waits for. Then one
client times ``GET /v1/tickets`` (first page, a page ``DEEP_PAGES`` pages down
by cursor, a status filter, a tag filter, ``q`` text search with and without
matches) against the same query run in this process with
``services.tickets.listing.list_tickets`` on a direct connection.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace

import psycopg
from psycopg.types.json import Jsonb

from seedwork import db
from seedwork.envelope import Actor, utcnow
from seedwork.store import TX_SHIFT
from services.tickets.domain import commands
from services.tickets.domain.decisions import decide
from services.tickets.domain.ticket import fold
from services.tickets.listing import TicketQuery, list_tickets
from services.tickets.projection import TicketList

from .common import Scratch, Settings, backend_cpu, log, median, percentile, run_threads, wait_for_relay
from tests.support.servers import vhosts_unavailable

from .processes import Client, System
from .report import Row, Verdict

CLIENT_COUNTS = (8, 32)
REPLY_TICKETS = 256
WARMUP_SECONDS = 0.4
SEED_BATCH = 1000  # tickets per transaction while seeding
DEEP_PAGES = 20

SUBJECTS = (
    "Parcel arrived damaged", "Refund not received yet", "Wrong size delivered", "Where is my order?",
    "Cannot log in to my account", "Discount code does not work", "Change the delivery address",
    "I need an invoice for my order", "Item missing from the box", "Cancel my subscription",
)
BODY = ("Hello, I ordered two items last week and only one of them arrived. The tracking page says "
        "delivered. Could you check what happened and send the other one? Thanks, Alex")
REPLY = "Thanks for waiting. I checked with the warehouse: the second parcel left today, tracking follows."
SEARCH_HIT = "warranty"  # in the subject of 1 ticket in 100
SEARCH_MISS = "no-such-words-anywhere"


# --- part 1: concurrent clients ---------------------------------------------------------


@dataclass
class Tally:
    rates: list[float] = field(default_factory=list)
    p50s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    ops: int = 0
    cpu: dict = field(default_factory=lambda: defaultdict(float))  # who -> CPU seconds
    cpu_known: set = field(default_factory=set)

    def line(self) -> str:
        return f"{median(self.rates):,.0f}/s, p50 {median(self.p50s):.1f}, p99 {median(self.p99s):.1f}"


class Load:
    """The clients, tokens and tickets part 1 runs with; ``worker(op, i, samples)``
    is what ``run_threads`` calls in a loop."""

    OPS = ("live", "pg", "create", "reply", "get", "list")
    LABELS = {
        "live": "GET /health/live (gateway only: baseline)",
        "pg": "raw psycopg INSERT+SELECT (database only: baseline)",
        "create": "POST /v1/tickets (customer creates)",
        "reply": "POST /v1/tickets/{id}/replies (agent)",
        "get": "GET /v1/tickets/{id} (agent)",
        "list": "GET /v1/tickets?limit=25 (agent)",
    }
    EXPECT = {"live": 200, "create": 201, "reply": 200, "get": 200, "list": 200}

    def __init__(self, system: System, settings: Settings, pg_schema: str, clients: int):
        self.system = system
        self.base = system.base_url
        self.clients = [Client(self.base) for _ in range(clients)]
        setup = self.clients[0]
        store = system.new_store(setup, "Bench load store")
        agent = system.new_agent(setup, store)
        self.agent_auth = {"Authorization": f"Bearer {agent['token']}"}
        self.customer_auth = []
        for i in range(clients):
            token = system.customer_session(setup, store, i)
            self.customer_auth.append({"Authorization": f"Bearer {token}",
                                       "Content-Type": "application/json"})
        self.create_body = json.dumps({"subject": SUBJECTS[1], "body": BODY}).encode()
        self.reply_body = json.dumps({"body": REPLY}).encode()
        self.agent_post = {**self.agent_auth, "Content-Type": "application/json"}
        self.pg_conns = [psycopg.connect(settings.database_url, autocommit=True) for _ in range(clients)]
        self.pg_conns[0].execute(f"CREATE TABLE {pg_schema}.rows (id bigint GENERATED ALWAYS AS IDENTITY "
                                 "PRIMARY KEY, data jsonb NOT NULL)")
        self.pg_insert = f"INSERT INTO {pg_schema}.rows (data) VALUES (%s) RETURNING id"
        self.pg_select = f"SELECT data FROM {pg_schema}.rows WHERE id = %s"
        self.pg_payload = {"subject": SUBJECTS[1], "body": BODY, "customer_id": "cus_bench_000"}
        # Tickets for replies and gets, made by the customers through the API.
        self.tickets: list[str] = []
        lock = threading.Lock()

        def make(i):
            client, auth = self.clients[i], self.customer_auth[i]

            def op():
                r = client.http.post(self.base + "/v1/tickets", data=self.create_body, headers=auth, timeout=60)
                _check(r, 201, "POST /v1/tickets")
                with lock:
                    if len(self.tickets) < REPLY_TICKETS:
                        self.tickets.append(r.json()["id"])
            return op

        while len(self.tickets) < REPLY_TICKETS:
            run_threads(8, make, 0.3)
        self.tickets = self.tickets[:REPLY_TICKETS]

    def worker(self, name: str, n: int, samples: list[list[float]]):
        base, clock = self.base, time.perf_counter

        def make(i):
            out = samples[i]
            client = self.clients[i]
            http = client.http
            if name == "pg":
                conn, payload = self.pg_conns[i], Jsonb(self.pg_payload)
                insert, select = self.pg_insert, self.pg_select

                def op():
                    start = clock()
                    row_id = conn.execute(insert, (payload,)).fetchone()[0]
                    conn.execute(select, (row_id,)).fetchone()
                    out.append(clock() - start)
                return op
            expect = self.EXPECT[name]
            if name == "live":
                url, method, body, headers = base + "/health/live", "GET", None, None
            elif name == "create":
                url, method, body, headers = base + "/v1/tickets", "POST", self.create_body, self.customer_auth[i]
            elif name == "list":
                url, method, body, headers = base + "/v1/tickets?limit=25", "GET", None, self.agent_auth
            else:
                mine = itertools.cycle(self.tickets[i::n])
                if name == "reply":
                    def op():
                        start = clock()
                        r = http.post(f"{base}/v1/tickets/{next(mine)}/replies", data=self.reply_body,
                                      headers=self.agent_post, timeout=60)
                        out.append(clock() - start)
                        _check(r, expect, "POST /v1/tickets/{id}/replies")
                    return op

                def op():
                    start = clock()
                    r = http.get(f"{base}/v1/tickets/{next(mine)}", headers=self.agent_auth, timeout=60)
                    out.append(clock() - start)
                    _check(r, expect, "GET /v1/tickets/{id}")
                return op

            def op():
                start = clock()
                r = http.request(method, url, data=body, headers=headers, timeout=60)
                out.append(clock() - start)
                _check(r, expect, f"{method} {url}")
            return op

        return make

    def close(self):
        for c in self.clients:
            c.close()
        for conn in self.pg_conns:
            conn.close()


def _check(r, expect: int, what: str) -> None:
    if r.status_code != expect:
        raise RuntimeError(f"{what}: expected {expect}, got {r.status_code}: {r.text[:300]}")


# --- CPU per request, by process ----------------------------------------------------------


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _local_ports(inodes: set[str]) -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[9] in inodes:
                        ports.add(int(cols[1].rsplit(":", 1)[1], 16))
        except (OSError, IndexError, ValueError):
            pass
    return ports


def _rabbit_pids() -> list[int]:
    """The RabbitMQ node's Erlang VM (``beam.smp``), if it runs on this machine."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", "rb") as f:
                comm = f.read().strip()
            if comm.startswith(b"beam"):
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if b"rabbit" in f.read():
                        pids.append(int(entry))
        except OSError:
            pass
    return pids


class CpuMeter:
    """CPU seconds used by the gateway, the tickets service, the PostgreSQL
    backends serving those two, and RabbitMQ (``/proc/<pid>/stat``)."""

    def __init__(self, system: System, settings: Settings):
        self.system = system
        self.conn = psycopg.connect(settings.database_url, autocommit=True)
        self.groups: dict[str, list[int]] = {}
        self.refresh()

    def refresh(self) -> None:
        pids = self.system.pids()
        ports = _local_ports(set().union(*(_socket_inodes(p) for p in pids.values())))
        rows = self.conn.execute("SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL")
        backends = [pid for pid, port in rows.fetchall() if port in ports]
        self.groups = {"gateway": [pids["gateway"]], "tickets": [pids["tickets"]], "postgres": backends,
                       "rabbitmq": _rabbit_pids()}

    def read(self) -> dict[str, float | None]:
        return {who: backend_cpu(pids) if pids else None for who, pids in self.groups.items()}

    def close(self) -> None:
        self.conn.close()


# --- part 2: seeding a store with many tickets -------------------------------------------


def ticket_events(k: int, store_id: str, number: int, agent: Actor) -> tuple[str, list]:
    """The events of seeded ticket ``k``: opened by a customer; some tagged,
    some moved to pending or solved by an agent. Built with ``decide``."""
    customer = f"cus_{k % 5000:05d}"
    ticket_id = str(uuid.uuid4())
    subject = f"Warranty claim for order {k}" if k % 100 == 7 else f"{SUBJECTS[k % len(SUBJECTS)]} ({k})"
    command = commands.OpenTicket(
        actor=Actor("customer", customer), ticket_id=ticket_id, store_id=store_id, number=number,
        subject=subject, body=BODY, priority="high" if k % 13 == 0 else "normal")
    now = utcnow()
    events = decide(None, command, now)
    follow = []
    if k % 10 == 0:
        follow.append(commands.AddTag(actor=agent, tag="refund"))
    if k % 7 == 0:
        follow.append(commands.AddTag(actor=agent, tag="shipping"))
    if k % 1000 == 3:
        follow.append(commands.AddTag(actor=agent, tag="vip"))
    bucket = k % 20
    if k % 1000 == 11:
        follow.append(commands.ChangeStatus(actor=agent, status="on_hold", label="waiting for the courier"))
    elif 1 <= bucket <= 5:
        follow.append(commands.ChangeStatus(actor=agent, status="pending"))
    elif bucket in (6, 7):
        follow.append(commands.ChangeStatus(actor=agent, status="solved"))
    if follow:
        state = fold(_as_stored(events, 0))
        for cmd in follow:
            more = decide(state, cmd, now)
            state = fold(_as_stored(more, state.version), state)
            events += more
    return ticket_id, events


def _as_stored(events, after_version: int):
    """New events as ``evolve`` reads them, numbered after ``after_version``."""
    return [SimpleNamespace(type=e.type, data=e.data, actor=e.actor, store_id=e.store_id,
                            occurred_at=e.occurred_at, version=after_version + n)
            for n, e in enumerate(events, 1)]


EVENT_COLUMNS = ("event_id", "type", "schema_version", "stream_id", "version", "position", "store_id",
                 "actor_kind", "actor_id", "correlation_id", "causation_id", "occurred_at", "data")


def seed(settings: Settings, schema: str, store_id: str, count: int) -> float:
    """Write ``count`` tickets into ``store_id``; returns the seconds it took.

    Per transaction of ``SEED_BATCH`` tickets: the events go in with one
    ``COPY``, each at the position ``EventStore.append`` would give it (the
    transaction's id << TX_SHIFT, plus its number in the transaction), so the
    relay and ``read_all`` see them as any other transaction's; each ticket's
    list row is written with ``TicketList.upsert`` (pipelined) in the same
    transaction. ``EventStore.append`` itself costs one round trip and a
    savepoint per ticket: ~1,000-1,400 tickets/s here (2 to 4 threads), too
    slow for 100,000; this runs at ~7,000/s on one connection (more threads
    were slower on 2 cores).
    """
    pool = db.make_pool(settings.database_url, min_size=1, max_size=1, name="bench-http-seed")
    projection = TicketList(schema)
    agent = Actor("agent", "agt_bench_seeder")
    copy_sql = f"COPY {schema}.events ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
    start = time.perf_counter()
    try:
        with pool.connection() as conn:
            # Reserve the ticket numbers as the service's counter would hand them out.
            last = conn.execute(
                f"INSERT INTO {schema}.ticket_numbers (store_id, last) VALUES (%s, %s) "
                f"ON CONFLICT (store_id) DO UPDATE SET last = {schema}.ticket_numbers.last + %s RETURNING last",
                (store_id, 1000 + count, count)).fetchone()[0]
        first = last - count + 1
        for begin in range(0, count, SEED_BATCH):
            tickets = [ticket_events(k, store_id, first + k, agent)
                       for k in range(begin, min(begin + SEED_BATCH, count))]
            states = []
            with pool.connection() as conn, conn.transaction():
                base = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0] << TX_SHIFT
                n = 0
                with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                    for ticket_id, events in tickets:
                        stored = []
                        for version, e in enumerate(events, 1):
                            copy.write_row((e.event_id, e.type, e.schema_version, ticket_id, version, base + n,
                                            e.store_id, e.actor.kind, e.actor.id, e.correlation_id,
                                            e.causation_id, e.occurred_at, Jsonb(e.data)))
                            n += 1
                            stored.append(SimpleNamespace(type=e.type, data=e.data, actor=e.actor,
                                                          store_id=e.store_id, occurred_at=e.occurred_at,
                                                          version=version))
                        states.append(fold(stored))
                with conn.pipeline():
                    for state in states:
                        projection.upsert(conn, state)
            done = begin + len(states)
            if done % 20_000 == 0 and done < count:
                log(f"http: seeded {done:,}/{count:,} tickets")
        return time.perf_counter() - start
    finally:
        pool.close()


# --- the section ----------------------------------------------------------------------------


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    why_not = vhosts_unavailable()
    if why_not:
        log(f"http: skipped ({why_not})")
        return [], [], [f"http: skipped: {why_not} (a private RabbitMQ vhost is needed)"]
    seconds = 0.6 if settings.quick else settings.seconds
    top = max(CLIENT_COUNTS)
    system = System(settings, scratch)
    pg_schema = scratch.plain_schema("httppg")
    load = meter = None
    try:
        log(f"http: starting tickets + gateway on port {system.port}, vhost {system.vhost.name}")
        t0 = time.perf_counter()
        system.start()
        log(f"http: up in {time.perf_counter() - t0:.1f}s; creating a store, an agent, {top} customer sessions "
            f"and {REPLY_TICKETS} tickets")
        load = Load(system, settings, pg_schema, top)
        meter = CpuMeter(system, settings)
        log("http: warming up")
        for op in Load.OPS:
            for n in CLIENT_COUNTS:
                run_threads(n, load.worker(op, n, [[] for _ in range(n)]), WARMUP_SECONDS)
        meter.refresh()  # the pools have grown to their working size
        tallies = {(op, n): Tally() for op in Load.OPS for n in CLIENT_COUNTS}
        for r in range(settings.rounds):
            for n in CLIENT_COUNTS:
                order = Load.OPS[r % len(Load.OPS):] + Load.OPS[: r % len(Load.OPS)]
                for op in order:
                    samples = [[] for _ in range(n)]
                    before = meter.read()
                    result = run_threads(n, load.worker(op, n, samples), seconds)
                    after = meter.read()
                    ms = [x * 1e3 for s in samples for x in s]
                    t = tallies[(op, n)]
                    t.rates.append(result.rate)
                    t.p50s.append(percentile(ms, 50))
                    t.p99s.append(percentile(ms, 99))
                    t.ops += result.ops
                    t.cpu["client"] += result.client_cpu
                    t.cpu_known.add("client")
                    for who in before:
                        if before[who] is not None and after[who] is not None:
                            t.cpu[who] += after[who] - before[who]
                            t.cpu_known.add(who)
            log(f"http round {r + 1}/{settings.rounds}: " + "; ".join(
                f"{n}c " + " ".join(f"{op} {tallies[(op, n)].rates[-1]:,.0f}/s {tallies[(op, n)].p50s[-1]:.1f}ms"
                                    for op in Load.OPS) for n in CLIENT_COUNTS))
        rows, notes = _part1_rows(tallies, seconds, settings)
        reply_events = _events_per_ticket(settings, system.schemas["tickets"], load.tickets)

        # --- part 2 ---
        count = settings.http_tickets
        setup = load.clients[0]
        big = system.new_store(setup, "Bench store with many tickets")
        log(f"http: seeding {count:,} tickets into store {big.id} ({SEED_BATCH} tickets per transaction)")
        schema = system.schemas["tickets"]
        seed_seconds = seed(settings, schema, big.id, count)
        log(f"http: seeded {count:,} tickets in {seed_seconds:.1f}s ({count / seed_seconds:,.0f}/s); "
            "waiting for the tickets relay to publish them")
        relay_seconds = wait_for_relay(settings, schema, "tickets")
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(f"ANALYZE {schema}.ticket_list")
            conn.execute(f"ANALYZE {schema}.events")
        rows2, notes2 = _part2(settings, system, load, big, schema, count, seed_seconds, relay_seconds)
        rows += rows2
        notes += notes2
        notes.append(f"http: the {REPLY_TICKETS} reply/get tickets ended with {reply_events} events each "
                     "(median); get and reply load and fold the whole stream")
        return rows, [], notes
    finally:
        if meter is not None:
            meter.close()
        if load is not None:
            load.close()
        log("http: stopping the services, deleting the vhost")
        system.stop()


def _events_per_ticket(settings: Settings, schema: str, tickets: list[str]) -> float:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        rows = conn.execute(f"SELECT count(*) FROM {schema}.events WHERE stream_id = ANY(%s) GROUP BY stream_id",
                            (tickets,)).fetchall()
    return median([r[0] for r in rows])


def _part1_rows(tallies, seconds: float, settings: Settings) -> tuple[list[Row], list[str]]:
    section = "7. HTTP API through the gateway, concurrent clients (requests/s, p50, p99 latency in ms)"
    rows = []
    pg_ratios = []
    for n in CLIENT_COUNTS:
        live, pg = tallies[("live", n)], tallies[("pg", n)]
        for op in Load.OPS:
            t = tallies[(op, n)]
            what = f"{n} clients: {Load.LABELS[op]}"
            spread = f"{min(t.rates):,.0f}..{max(t.rates):,.0f}/s; p50 {min(t.p50s):.1f}..{max(t.p50s):.1f}"
            if op in ("live", "pg"):
                rows.append(Row(section, what, t.line(), spread=spread))
                continue
            ratio = median(t.p50s) / median(live.p50s)
            rows.append(Row(section, what, t.line(), f"live p50 {median(live.p50s):.1f}", ratio, "p50 / live p50",
                            spread=spread))
            pg_ratios.append(f"{op}@{n} {median(t.p50s) / median(pg.p50s):.0f}x")
    notes = [
        f"http: {seconds:g}s per run, ops rotated each round, {settings.rounds} rounds; clients are threads of the "
        "bench process (requests.Session each); services run with their defaults (max_workers 10, "
        "tickets pool 10, INFO logging to a file)",
        "http: p50 over raw psycopg INSERT+SELECT p50 at the same concurrency: " + ", ".join(pg_ratios),
    ]
    for n in CLIENT_COUNTS:
        parts = []
        for op in ("create", "reply", "get", "list", "live"):
            t = tallies[(op, n)]
            who = [w for w in ("client", "gateway", "tickets", "postgres", "rabbitmq") if w in t.cpu_known]
            parts.append(f"{op} " + " + ".join(f"{w} {t.cpu[w] / t.ops * 1e3:.2f}" for w in who)
                         + f" = {sum(t.cpu[w] for w in who) / t.ops * 1e3:.2f}")
        notes.append(f"http: CPU ms per request at {n} clients (all rounds): " + "; ".join(parts))
    missing = {"gateway", "tickets", "postgres", "rabbitmq"} - set().union(*(t.cpu_known for t in tallies.values()))
    if missing:
        notes.append(f"http: CPU of {', '.join(sorted(missing))} could not be read from /proc (not counted above)")
    return rows, notes


LIST_CASES = (
    ("first", "first page (limit 25, newest first)", {}),
    ("deep", f"page {DEEP_PAGES + 1} by cursor", {}),
    ("status", "status=pending (25% of tickets)", {"status": "pending"}),
    ("tag", "tag=refund (10% of tickets)", {"tag": "refund"}),
    ("rare_status", "status=on_hold (0.1% of tickets)", {"status": "on_hold"}),
    ("rare_tag", "tag=vip (0.1% of tickets)", {"tag": "vip"}),
    ("q", f"q={SEARCH_HIT} (subject of 1% of tickets)", {"q": SEARCH_HIT}),
    ("miss", "q with no match (scans the store)", {"q": SEARCH_MISS}),
)


def _part2(settings, system, load, big, schema, count, seed_seconds, relay_seconds):
    samples_total = 20 if settings.quick else 50
    per_round = max(1, math.ceil(samples_total / settings.rounds))
    client = load.clients[0]
    auth = {"Authorization": f"Bearer {big.owner_token}"}
    base = system.base_url

    def get(params):
        r = client.http.get(base + "/v1/tickets", params={"limit": 25, **params}, headers=auth, timeout=60)
        _check(r, 200, f"GET /v1/tickets {params}")
        return r.json()

    # The cursor DEEP_PAGES pages down, and what a walk there costs.
    walk_start = time.perf_counter()
    cursor = None
    for _ in range(DEEP_PAGES):
        page = get({"cursor": cursor} if cursor else {})
        cursor = page["next_cursor"]
    walk_ms = (time.perf_counter() - walk_start) * 1e3
    if not cursor:
        raise RuntimeError("the seeded store has fewer pages than expected")
    params = {name: dict(p) for name, _, p in LIST_CASES}
    params["deep"]["cursor"] = cursor
    found = {name: len(get(p)["items"]) for name, p in params.items()}
    rare = ("rare_status", "rare_tag")
    if (found["miss"] != 0 or min(v for k, v in found.items() if k not in rare + ("miss",)) < 25
            or min(found[k] for k in rare) < 1):
        raise RuntimeError(f"unexpected page sizes from the seeded store: {found}")
    # The service reads the seeded streams as its own: its fold matches the list rows.
    for item in get({"tag": "refund"})["items"][:3] + get({"status": "solved"})["items"][:2]:
        r = client.http.get(f"{base}/v1/tickets/{item['id']}", headers=auth, timeout=60)
        _check(r, 200, "GET /v1/tickets/{id} of a seeded ticket")
        ticket = r.json()
        fields = ("number", "status", "tags", "version", "subject", "updated_at")
        if any(ticket[f] != item[f] for f in fields):
            folded, listed = {f: ticket[f] for f in fields}, {f: item[f] for f in fields}
            raise RuntimeError(f"seeded ticket {item['id']}: the stream folds to {folded}, the list row says {listed}")

    conn = psycopg.connect(settings.database_url, autocommit=True)
    conn.execute("SET TimeZone TO 'UTC'")
    queries = {name: TicketQuery.from_dict({"limit": 25, **({"status": [p["status"]]} if "status" in p else {}),
                                            **{k: v for k, v in p.items() if k != "status"}})
               for name, p in params.items()}
    http_ms: dict[str, list[float]] = defaultdict(list)
    local_ms: dict[str, list[float]] = defaultdict(list)
    http_rounds: dict[str, list[float]] = defaultdict(list)
    live_url = base + "/health/live"
    try:
        for name, q in queries.items():  # warm up: prepared statements, caches
            for _ in range(3):
                list_tickets(conn, schema, big.id, q)
                get(params[name])
        names = [name for name, _, _ in LIST_CASES] + ["live"]
        for r in range(settings.rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                this_round = []
                for _ in range(per_round):
                    start = time.perf_counter()
                    if name == "live":
                        _check(client.http.get(live_url, timeout=60), 200, "GET /health/live")
                    else:
                        get(params[name])
                    this_round.append((time.perf_counter() - start) * 1e3)
                    if name != "live":
                        start = time.perf_counter()
                        list_tickets(conn, schema, big.id, queries[name])
                        local_ms[name].append((time.perf_counter() - start) * 1e3)
                http_ms[name] += this_round
                http_rounds[name].append(median(this_round))
            log(f"http list round {r + 1}/{settings.rounds}: " + ", ".join(
                f"{name} {http_rounds[name][-1]:.1f}ms" for name in names))
        plans = {name: _plan(conn, schema, big.id, queries[name]) for name, _, _ in LIST_CASES}
    finally:
        conn.close()

    section = f"8. Ticket list over HTTP, {count:,} tickets in one store (1 client; ms)"
    rows = [
        Row(section, f"seeding {count:,} tickets without HTTP (decide; COPY events; TicketList.upsert)",
            f"{count / seed_seconds:,.0f} tickets/s", spread=f"{seed_seconds:.1f} s in all"),
        Row(section, "then: the tickets service's relay publishes the seeded events", f"{relay_seconds:.1f} s",
            spread="waited for before measuring"),
        Row(section, "GET /health/live (baseline)", f"p50 {percentile(http_ms['live'], 50):.1f}, "
            f"p99 {percentile(http_ms['live'], 99):.1f}", spread=_rng(http_rounds["live"])),
    ]
    for name, label, _ in LIST_CASES:
        h, loc = http_ms[name], local_ms[name]
        rows.append(Row(section, f"GET /v1/tickets {label}",
                        f"p50 {percentile(h, 50):.1f}, p99 {percentile(h, 99):.1f}",
                        f"p50 {percentile(loc, 50):.1f}, p99 {percentile(loc, 99):.1f}",
                        percentile(h, 50) / percentile(loc, 50), "http / in-process p50",
                        spread=_rng(http_rounds[name])))
    notes = [
        f"http list: {len(http_ms['first'])} requests per case over {settings.rounds} rounds, cases rotated; "
        "baseline = the same query in this process (listing.list_tickets on a direct connection); "
        f"walking the first {DEEP_PAGES} pages by cursor took {walk_ms:.0f} ms in all; "
        "ticket_list and events ANALYZEd after seeding",
        "http list plans: " + "; ".join(f"{k}: {v}" for k, v in plans.items()),
    ]
    return rows, notes


def _rng(values: list[float]) -> str:
    return f"p50 {min(values):.1f}..{max(values):.1f}"


def _plan(conn, schema: str, store_id: str, q: TicketQuery) -> str:
    """The plan's node types, to say which index a list query walked."""
    captured = {}

    class Spy:
        def execute(self, sql, params):
            captured["sql"], captured["params"] = sql, params
            return SimpleNamespace(fetchall=lambda: [])

    try:
        list_tickets(Spy(), schema, store_id, q)
    except Exception:  # noqa: BLE001 - a plan is a nicety
        pass
    if "sql" not in captured:
        return "?"
    plan = conn.execute("EXPLAIN (FORMAT JSON) " + captured["sql"], captured["params"]).fetchone()[0][0]["Plan"]
    nodes = []

    def walk(node):
        label = node["Node Type"]
        if "Index Name" in node:
            label += f" {node['Index Name']}"
        nodes.append(label)
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan)
    return " > ".join(nodes)
