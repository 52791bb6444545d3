"""Figure 8: the ticket list over HTTP with ``http_tickets`` (100,000) tickets
in one store, one client.

The tickets are written without HTTP into the schema the running tickets
service reads: the domain's ``decide`` builds each ticket's events (opened;
some tagged, some pending or solved by an agent), one ``COPY`` per
transaction of ``SEED_BATCH`` tickets writes them at the positions
``EventStore.append`` would give them, and ``TicketList.upsert`` writes the
list rows in the same transaction (see ``seed``). The service's relay then
publishes them, which the bench waits for. Then one client times ``GET
/v1/tickets`` (first page, a page ``DEEP_PAGES`` pages down by cursor, a
status filter, a tag filter, ``q`` text search with and without matches)
against the same query run in this process with
``services.tickets.listing.list_tickets`` on a direct connection
(``time_list``).
"""
from __future__ import annotations

import math
import time
import uuid
from collections import defaultdict
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

from .common import Settings, log, median, percentile, wait_for_relay
from .http_load import BODY, SUBJECTS, check_status
from .processes import Client, System
from .report import Row

SEED_BATCH = 1000  # tickets per transaction while seeding
DEEP_PAGES = 20
SEARCH_HIT = "warranty"  # in the subject of 1 ticket in 100
SEARCH_MISS = "no-such-words-anywhere"


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


# --- part 2: timing the list ---------------------------------------------------------------


def time_list(settings: Settings, system: System, client: Client) -> tuple[list[Row], list[str]]:
    """Seed ``http_tickets`` tickets into a new store, wait for the relay, then time its list (figure 8)."""
    count = settings.http_tickets
    big = system.new_store(client, "Bench store with many tickets")
    log(f"http: seeding {count:,} tickets into store {big.id} ({SEED_BATCH} tickets per transaction)")
    schema = system.schemas["tickets"]
    seed_seconds = seed(settings, schema, big.id, count)
    log(f"http: seeded {count:,} tickets in {seed_seconds:.1f}s ({count / seed_seconds:,.0f}/s); "
        "waiting for the tickets relay to publish them")
    relay_seconds = wait_for_relay(settings, schema, "tickets")
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(f"ANALYZE {schema}.ticket_list")
        conn.execute(f"ANALYZE {schema}.events")
    return _time_list_cases(settings, system, client, big, schema, count, seed_seconds, relay_seconds)


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


def _time_list_cases(settings, system, client, big, schema, count, seed_seconds, relay_seconds):
    samples_total = 20 if settings.quick else 50
    per_round = max(1, math.ceil(samples_total / settings.rounds))
    auth = {"Authorization": f"Bearer {big.owner_token}"}
    base = system.base_url

    def get(params):
        r = client.http.get(base + "/v1/tickets", params={"limit": 25, **params}, headers=auth, timeout=60)
        check_status(r, 200, f"GET /v1/tickets {params}")
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
        check_status(r, 200, "GET /v1/tickets/{id} of a seeded ticket")
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
                        check_status(client.http.get(live_url, timeout=60), 200, "GET /health/live")
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
