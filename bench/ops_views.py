"""Figure 13: view counts for 50 agents in one store of ``ops_tickets`` tickets.

Ours: ``GET /v1/views`` through HTTP with each agent's token, and the same
service call alone in this process (``AgentQueues.list_views`` of the tickets
application built over the same schema: a pooled connection, the viewer's
teams and settings, the saved views, the counters' cells summed for the
viewer, the feed position, in one REPEATABLE READ snapshot). Baselines in
the same run: one raw query computing the same nine counts for the agent
with ``count(*) FILTER (...)`` over ``ticket_list``, indexed (a BitmapOr of
the status and tags indexes), and the projection's own read alone (the SUM
over ``view_counts``' cells that ``ViewCounts.cells`` runs).

Every agent's answer is checked: the service's nine counts equal the raw
query's, before and after the queue's concurrent assignments (``check``).
One client at a time (each round: 20 agents, taking turns, once per case; cases rotated),
then 50 clients at once for a fixed time (each agent its own thread and
keep-alive connection; the raw query on as many connections as the server
has free, up to 50).
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict

import psycopg
from psycopg_pool import ConnectionPool

from seedwork import db
from seedwork.caller import Caller
from seedwork.store import EventStore
from services.tickets.application import build
from services.tickets.domain import queues

from .common import Settings, log, median, percentile, run_threads
from .http_load import check_status
from .ops_seed import Staff
from .processes import System
from .report import Row, Verdict

SECTION = "13. Agent operations: view counts, {n:,} tickets in one store, 50 agents (ms)"
VIEW_IDS = tuple(v.id for v in queues.BUILT_IN)
PER_ROUND = 20  # agents timed one at a time per round

RAW_COUNTS = """
SELECT count(*) FILTER (WHERE unsolved AND NOT spam AND assignee_id = %(agent)s),
       count(*) FILTER (WHERE unsolved AND NOT spam AND assignee_id IS NULL),
       count(*) FILTER (WHERE unsolved AND NOT spam AND team = ANY(%(teams)s)),
       count(*) FILTER (WHERE unsolved AND NOT spam),
       count(*) FILTER (WHERE status = 'pending' AND NOT spam),
       count(*) FILTER (WHERE status = 'on_hold' AND NOT spam),
       count(*) FILTER (WHERE unsolved AND NOT spam AND sla_state = 'warning'),
       count(*) FILTER (WHERE unsolved AND NOT spam AND sla_state = 'breached'),
       count(*) FILTER (WHERE spam)
FROM (SELECT status, assignee_id, team, sla_state, status = ANY(%(unsolved)s) AS unsolved,
             tags @> ARRAY['spam'] AS spam
      FROM {schema}.ticket_list
      WHERE store_id = %(store)s AND handled_by = 'store'
        AND (status = ANY(%(unsolved)s) OR tags @> ARRAY['spam'])) t"""
CELLS = ("SELECT view_key, team, assignee, sum(n) FROM {schema}.view_counts WHERE store_id = %s "
         "GROUP BY view_key, team, assignee HAVING sum(n) <> 0")


def free_connections(settings: Settings, reserve: int = 20) -> int:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        most = int(conn.execute("SHOW max_connections").fetchone()[0])
        used = conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()[0]
    return max(1, most - used - reserve)


class Views:
    """What the timings call: HTTP, the service in process, the raw query, the cells read."""

    def __init__(self, settings: Settings, system: System, staff: Staff):
        self.settings, self.system, self.staff = settings, system, staff
        self.schema = system.schemas["tickets"]
        self.pool = db.make_pool(settings.database_url, min_size=2, max_size=4, name="bench-ops-views")
        self.app = build(EventStore(self.pool, self.schema))
        self.callers = [Caller("agent", a, staff.store_id, "agent") for a in staff.agents]
        self.raw_sql = RAW_COUNTS.format(schema=self.schema)
        self.cells_sql = CELLS.format(schema=self.schema)

    def params(self, i: int) -> dict:
        return {"agent": self.staff.agents[i], "teams": [self.staff.team_of(i)], "store": self.staff.store_id,
                "unsolved": list(queues.UNSOLVED)}

    def service(self, i: int) -> dict[str, int]:
        items = self.app.queues.list_views(self.callers[i])["items"]
        return {v["id"]: v["count"] for v in items if v["id"] in VIEW_IDS}

    def raw(self, conn, i: int) -> dict[str, int]:
        return dict(zip(VIEW_IDS, conn.execute(self.raw_sql, self.params(i)).fetchone()))

    def cells(self, conn) -> int:
        return len(conn.execute(self.cells_sql, (self.staff.store_id,)).fetchall())

    def http(self, session, i: int) -> dict[str, int]:
        r = session.get(self.system.base_url + "/v1/views", timeout=60,
                        headers={"Authorization": f"Bearer {self.staff.tokens[i]}"})
        check_status(r, 200, "GET /v1/views")
        return {v["id"]: v["count"] for v in r.json()["items"] if v["id"] in VIEW_IDS}

    def check(self, conn, when: str) -> str:
        """Every agent: the service's counts (in process and over HTTP) equal the raw query's."""
        import requests

        with requests.Session() as session:
            for i in range(len(self.staff.agents)):
                raw, ours, http = self.raw(conn, i), self.service(i), self.http(session, i)
                if not raw == ours == http:
                    raise RuntimeError(f"ops views {when}: agent {i}: raw {raw}, service {ours}, http {http}")
        sample = self.raw(conn, 0)
        return f"{when}: all {len(self.staff.agents)} agents' counts equal the raw query's (agent 1: {sample})"

    def close(self) -> None:
        self.pool.close()


def measure(settings: Settings, system: System, staff: Staff) -> tuple[list[Row], list[Verdict], list[str]]:
    import requests

    views = Views(settings, system, staff)
    conn = psycopg.connect(settings.database_url, autocommit=True)
    session = requests.Session()
    try:
        notes = [f"ops views: {views.check(conn, 'before the queue runs')}"]
        plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + views.raw_sql, views.params(0)).fetchone()
        notes.append("ops views: raw count plan: " + _plan_text(plan[0][0]))
        cases = {
            "http": lambda i: views.http(session, i),
            "service": views.service,
            "raw": lambda i: views.raw(conn, i),
            "cells": lambda i: views.cells(conn),
        }
        for call in cases.values():  # warm up: prepared statements, caches
            for i in range(10):
                call(i)
        ms: dict[str, list[float]] = defaultdict(list)
        rounds: dict[str, list[float]] = defaultdict(list)
        names = list(cases)
        n = len(staff.agents)
        for r in range(settings.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            this: dict[str, list[float]] = defaultdict(list)
            # PER_ROUND agents a round, taking turns: every agent is timed over the rounds.
            for i in ((r * PER_ROUND + j) % n for j in range(PER_ROUND)):
                for name in order:
                    start = time.perf_counter()
                    cases[name](i)
                    this[name].append((time.perf_counter() - start) * 1e3)
            for name in names:
                ms[name] += this[name]
                rounds[name].append(median(this[name]))
            log(f"ops views round {r + 1}/{settings.rounds}: " + ", ".join(
                f"{name} {rounds[name][-1]:.2f}ms" for name in names))
        section = SECTION.format(n=settings.ops_tickets)
        concurrent, cnotes = _concurrent(settings, views, section)
        notes += cnotes
    finally:
        session.close()
        conn.close()
        views.close()
    raw = ms["raw"]
    rows = [
        Row(section, "1 client: raw count(*) FILTER over ticket_list, 9 views for the agent (baseline)",
            _p(raw), spread=_rng(rounds["raw"])),
        Row(section, "1 client: the projection's own read (SUM over view_counts' cells, baseline)",
            _p(ms["cells"]), "", spread=_rng(rounds["cells"])),
        Row(section, "1 client: service call alone (AgentQueues.list_views in process)", _p(ms["service"]),
            f"raw p50 {percentile(raw, 50):.2f}", percentile(ms["service"], 50) / percentile(raw, 50),
            "ours/raw p50", spread=_rng(rounds["service"])),
        Row(section, "1 client: GET /v1/views through HTTP", _p(ms["http"]), f"raw p50 {percentile(raw, 50):.2f}",
            percentile(ms["http"], 50) / percentile(raw, 50), "ours/raw p50", spread=_rng(rounds["http"])),
        *concurrent,
    ]
    notes.append(f"ops views: one client: {len(ms['raw'])} calls per case ({settings.rounds} rounds x "
                 f"{PER_ROUND} of the {len(staff.agents)} agents, taking turns), cases rotated per round")
    return rows, [], notes


def _concurrent(settings: Settings, views: Views, section: str) -> tuple[list[Row], list[str]]:
    """50 agents at once: HTTP, and the raw query on up to 50 connections."""
    import requests

    n = len(views.staff.agents)
    seconds = 1.0 if settings.quick else 3.0
    conns = min(n, free_connections(settings))
    raw_pool = ConnectionPool(settings.database_url, min_size=conns, max_size=conns, open=True,
                              kwargs={"autocommit": True}, name="bench-ops-raw-views")
    raw_pool.wait(30)
    sessions = [requests.Session() for _ in range(n)]
    results: dict[str, list] = defaultdict(list)
    lock = threading.Lock()
    try:
        def make(name):
            def make_worker(i):
                session, out = sessions[i], []
                with lock:
                    results[name + ":samples"].append(out)
                if name == "http":
                    def op():
                        start = time.perf_counter()
                        views.http(session, i)
                        out.append(time.perf_counter() - start)
                else:
                    def op():
                        start = time.perf_counter()
                        with raw_pool.connection() as conn:
                            views.raw(conn, i)
                        out.append(time.perf_counter() - start)
                return op
            return make_worker

        for name in ("http", "raw"):
            run_threads(n, make(name), 0.5)  # warm up
        results.clear()
        for r in range(settings.rounds):
            for name in (("http", "raw") if r % 2 == 0 else ("raw", "http")):
                before = len(results[name + ":samples"])
                run = run_threads(n, make(name), seconds)
                samples = [x * 1e3 for s in results[name + ":samples"][before:] for x in s]
                results[name].append((run.rate, percentile(samples, 50), percentile(samples, 99)))
            log(f"ops views 50 clients round {r + 1}/{settings.rounds}: " + ", ".join(
                f"{name} {results[name][-1][0]:,.0f}/s p50 {results[name][-1][1]:.1f}ms" for name in ("http", "raw")))
    finally:
        for s in sessions:
            s.close()
        raw_pool.close()
    h, w = results["http"], results["raw"]

    def line(t):
        return (f"{median([x[0] for x in t]):,.0f}/s, p50 {median([x[1] for x in t]):.1f}, "
                f"p99 {median([x[2] for x in t]):.1f}")

    rows = [
        Row(section, f"50 clients: raw count query on {conns} connections (baseline)", line(w),
            spread=f"{min(x[0] for x in w):,.0f}..{max(x[0] for x in w):,.0f}/s"),
        Row(section, "50 clients: GET /v1/views through HTTP", line(h), f"raw {median([x[0] for x in w]):,.0f}/s",
            median([x[0] for x in h]) / median([x[0] for x in w]), "ours/raw requests/s",
            spread=f"{min(x[0] for x in h):,.0f}..{max(x[0] for x in h):,.0f}/s"),
    ]
    notes = [f"ops views: 50 clients: {seconds:g} s per run, {settings.rounds} rounds, http and raw alternated; "
             f"the raw query ran on {conns} connections (what the server had free, up to 50)"]
    return rows, notes


def _p(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.2f}, p99 {percentile(values, 99):.2f}"


def _rng(values: list[float]) -> str:
    return f"p50 {min(values):.2f}..{max(values):.2f}"


def _plan_text(plan: dict) -> str:
    nodes = []

    def walk(node):
        label = node["Node Type"]
        if "Index Name" in node:
            label += f" {node['Index Name']}"
        if "Actual Rows" in node:
            label += f" ({node['Actual Rows']:,} rows)"
        nodes.append(label)
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan["Plan"])
    buffers = plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0)
    return f"{' > '.join(nodes)}; {plan.get('Execution Time', 0):.1f} ms, {buffers:,} buffers"
