"""Figure 7: the HTTP API with concurrent clients, against same-run baselines.

Client -> gateway -> RPC over RabbitMQ -> tickets service -> PostgreSQL, with
both services running as real processes (``processes.System``, started by
``httpapi.run``). 8 and 32 threads of this process, each with its own
``requests.Session``, i.e. its own keep-alive connection, each run lasting a
fixed time:

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
connection per thread. Latency is measured by the client, per request; CPU
per request by process (``CpuMeter``).
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

from .common import (Settings, backend_cpu, local_ports, log, median, percentile, rabbit_pids, run_threads,
                     socket_inodes)
from .processes import Client, System
from .report import Row

CLIENT_COUNTS = (8, 32)
REPLY_TICKETS = 256
WARMUP_SECONDS = 0.4

# What the tickets say (part 2's seeded tickets too, see http_list).
SUBJECTS = (
    "Parcel arrived damaged", "Refund not received yet", "Wrong size delivered", "Where is my order?",
    "Cannot log in to my account", "Discount code does not work", "Change the delivery address",
    "I need an invoice for my order", "Item missing from the box", "Cancel my subscription",
)
BODY = ("Hello, I ordered two items last week and only one of them arrived. The tracking page says "
        "delivered. Could you check what happened and send the other one? Thanks, Alex")
REPLY = "Thanks for waiting. I checked with the warehouse: the second parcel left today, tracking follows."


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
                check_status(r, 201, "POST /v1/tickets")
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
                        check_status(r, expect, "POST /v1/tickets/{id}/replies")
                    return op

                def op():
                    start = clock()
                    r = http.get(f"{base}/v1/tickets/{next(mine)}", headers=self.agent_auth, timeout=60)
                    out.append(clock() - start)
                    check_status(r, expect, "GET /v1/tickets/{id}")
                return op

            def op():
                start = clock()
                r = http.request(method, url, data=body, headers=headers, timeout=60)
                out.append(clock() - start)
                check_status(r, expect, f"{method} {url}")
            return op

        return make

    def close(self):
        for c in self.clients:
            c.close()
        for conn in self.pg_conns:
            conn.close()


def check_status(r, expect: int, what: str) -> None:
    """Stop the section at an unexpected status: timings of errors would mean nothing."""
    if r.status_code != expect:
        raise RuntimeError(f"{what}: expected {expect}, got {r.status_code}: {r.text[:300]}")


# --- CPU per request, by process ----------------------------------------------------------


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
        ports = local_ports(set().union(*(socket_inodes(p) for p in pids.values())))
        rows = self.conn.execute("SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL")
        backends = [pid for pid, port in rows.fetchall() if port in ports]
        self.groups = {"gateway": [pids["gateway"]], "tickets": [pids["tickets"]], "postgres": backends,
                       "rabbitmq": rabbit_pids()}

    def read(self) -> dict[str, float | None]:
        return {who: backend_cpu(pids) if pids else None for who, pids in self.groups.items()}

    def close(self) -> None:
        self.conn.close()


# --- timing the loads -------------------------------------------------------------------------


def time_clients(settings: Settings, load: Load, meter: CpuMeter, seconds: float) -> tuple[list[Row], list[str]]:
    """Every load of ``Load.OPS`` at each of ``CLIENT_COUNTS``, runs of ``seconds``, ops rotated each round;
    figure 7's rows and notes."""
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
    return _part1_rows(tallies, seconds, settings)


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

