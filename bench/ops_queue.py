"""Figures 14 and 15: ``POST /v1/queue/next`` with 50 agents calling at once,
and the assignments per second that makes, in the store of ``ops_tickets``
tickets (6% of them waiting: open, unassigned, on a team, the shopper's
message last).

Ours: 50 threads, each an agent with its own token and keep-alive
connection, calling ``POST /v1/queue/next`` in a loop for a fixed time;
every call must answer 200 with a ticket now assigned to the caller. Each
agent is in one team, so the service's candidates (its teams' tickets, or
none's: no waiting ticket is on no team) are exactly the baseline's.

Baseline, same run, same table: 50 threads, each on its own connection (as
many as the server has free), each running in one transaction
``SELECT ticket_id FROM ticket_list WHERE <the queue index's predicate> AND
team = <the agent's> ORDER BY sla_due_at, priority_rank DESC, created_at
LIMIT 1 FOR UPDATE SKIP LOCKED`` then ``UPDATE ticket_list SET assignee_id``.
The rows it took are put back (``assignee_id = NULL``) right after each run,
so the list stays what the event log says.

Checks: no ticket is handed out twice (answers, and ``ticket.assigned``
events per stream), and afterwards every agent's view counts still equal the
raw count (``ops_views.Views.check``).
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, defaultdict
from types import SimpleNamespace

import psycopg
import requests

from seedwork.caller import Caller
from seedwork.store import EventStore
from services.tickets.application import build

from .common import Settings, log, median, percentile, run_threads
from .http_load import check_status
from .ops_seed import Staff
from .ops_views import Views, _plan_text, free_connections
from .processes import System
from .report import Row, Verdict

SECTION_14 = "14. Agent operations: POST /v1/queue/next, 50 agents at once, {n:,} tickets (ms)"
SECTION_15 = "15. Agent operations: assignment throughput, 50 agents (tickets assigned/s)"

RAW_TAKE = """SELECT ticket_id FROM {schema}.ticket_list
WHERE store_id = %s AND team = %s AND assignee_id IS NULL AND status = 'open' AND awaiting_staff
  AND handled_by = 'store' AND NOT tags @> ARRAY['spam']
ORDER BY sla_due_at, priority_rank DESC, created_at LIMIT 1 FOR UPDATE SKIP LOCKED"""
RAW_ASSIGN = "UPDATE {schema}.ticket_list SET assignee_id = %s WHERE ticket_id = %s"


def measure(settings: Settings, system: System, staff: Staff) -> tuple[list[Row], list[Verdict], list[str]]:
    schema = system.schemas["tickets"]
    n = len(staff.agents)
    seconds = 1.0 if settings.quick else 3.0
    take, assign = RAW_TAKE.format(schema=schema), RAW_ASSIGN.format(schema=schema)
    conns = min(n, free_connections(settings))
    raw_conns = [psycopg.connect(settings.database_url, autocommit=True) for _ in range(conns)]
    conn_locks = [threading.Lock() for _ in range(conns)]
    sessions = [requests.Session() for _ in range(n)]
    url = system.base_url + "/v1/queue/next"
    handed: list[str] = []  # every ticket ours handed out
    taken_raw: list[str] = []
    lock = threading.Lock()
    samples: dict[str, list[float]] = defaultdict(list)
    tallies: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    admin = psycopg.connect(settings.database_url, autocommit=True)
    start_position = admin.execute(f"SELECT coalesce(max(position), 0) FROM {schema}.events").fetchone()[0]
    waiting_before = _waiting(admin, schema, staff.store_id)
    waits: Counter = Counter()

    def ours(i):
        session, out, auth = sessions[i], [], {"Authorization": f"Bearer {staff.tokens[i]}"}
        with lock:
            samples["ours:lists"].append(out)

        def op():
            start = time.perf_counter()
            r = session.post(url, headers=auth, timeout=60)
            out.append(time.perf_counter() - start)
            check_status(r, 200, "POST /v1/queue/next")
            ticket = r.json()
            if ticket["assignee_id"] != staff.agents[i]:
                raise RuntimeError(f"queue/next gave agent {i} a ticket assigned to {ticket['assignee_id']}")
            with lock:
                handed.append(ticket["id"])
        return op

    def raw(i):
        out = []
        c, c_lock = raw_conns[i % conns], conn_locks[i % conns]
        params = (staff.store_id, staff.team_of(i))
        with lock:
            samples["raw:lists"].append(out)

        def op():
            with c_lock:
                start = time.perf_counter()
                with c.transaction():
                    row = c.execute(take, params).fetchone()
                    if row is None:
                        raise RuntimeError("raw queue: nothing waits any more in a team: seed more tickets "
                                           "(--ops-tickets)")
                    c.execute(assign, (staff.agents[i], row[0]))
                out.append(time.perf_counter() - start)
            with lock:
                taken_raw.append(row[0])
        return op

    def put_back():
        with lock:
            ids = list(taken_raw)
            taken_raw.clear()
        admin.execute(f"UPDATE {schema}.ticket_list SET assignee_id = NULL WHERE ticket_id = ANY(%s)", (ids,))
        return len(ids)

    try:
        plans = _plans(admin, schema, staff)
        for make in (ours, raw):  # warm up
            run_threads(n, make, 0.5)
        put_back()
        warm = len(handed)
        single = _one_at_a_time(sessions[0], url, staff, handed, 30 if settings.quick else 100)
        samples.clear()
        for r in range(settings.rounds):
            for name in (("ours", "raw") if r % 2 == 0 else ("raw", "ours")):
                lists = samples[name + ":lists"]
                before = len(lists)
                sampler = WaitSampler(settings) if name == "ours" else None
                run = run_threads(n, ours if name == "ours" else raw, seconds)
                if sampler:
                    waits.update(sampler.close())
                ms = [x * 1e3 for s in lists[before:] for x in s]
                tallies[name].append((run.rate, percentile(ms, 50), percentile(ms, 99)))
                samples[name] += ms
                if name == "raw":
                    put_back()
            log(f"ops queue round {r + 1}/{settings.rounds}: " + ", ".join(
                f"{name} {tallies[name][-1][0]:,.0f}/s p50 {tallies[name][-1][1]:.1f}ms p99 "
                f"{tallies[name][-1][2]:.1f}ms" for name in ("ours", "raw")))
        # Checks: nobody got a ticket twice; each ticket was assigned once since the start.
        twice = [t for t, c in Counter(handed).items() if c > 1]
        assigned = admin.execute(
            f"SELECT stream_id, count(*) FROM {schema}.events WHERE position > %s AND type = 'ticket.assigned' "
            "AND store_id = %s GROUP BY stream_id HAVING count(*) > 1", (start_position, staff.store_id)).fetchall()
        if twice or assigned:
            raise RuntimeError(f"queue/next handed out tickets twice: {twice[:5]}, assigned twice: {assigned[:5]}")
        waiting_after = _waiting(admin, schema, staff.store_id)
        if waiting_before - waiting_after != len(handed):
            raise RuntimeError(f"waiting tickets went from {waiting_before} to {waiting_after}, "
                               f"but queue/next handed out {len(handed)}")
        views = Views(settings, system, staff)
        try:
            checked = views.check(admin, "after the queue's assignments")
        finally:
            views.close()
    finally:
        for s in sessions:
            s.close()
        for c in raw_conns:
            c.close()
        admin.close()

    o, w = tallies["ours"], tallies["raw"]
    o_rate, w_rate = median([x[0] for x in o]), median([x[0] for x in w])
    o50, o99 = median([x[1] for x in o]), median([x[2] for x in o])
    w50, w99 = median([x[1] for x in w]), median([x[2] for x in w])
    s14, s15 = SECTION_14.format(n=settings.ops_tickets), SECTION_15
    rows = [
        Row(s14, f"raw SELECT ... FOR UPDATE SKIP LOCKED + UPDATE, 50 threads on {conns} connections (baseline)",
            f"p50 {w50:.2f}, p99 {w99:.2f}", spread=_rng(w, 1)),
        Row(s14, "POST /v1/queue/next through HTTP, 50 agents at once", f"p50 {o50:.1f}, p99 {o99:.1f}",
            f"raw p50 {w50:.2f}", o50 / w50, "ours/raw p50", spread=_rng(o, 1)),
        Row(s14, "POST /v1/queue/next, 1 agent at a time (context)",
            f"p50 {percentile(single, 50):.1f}, p99 {percentile(single, 99):.1f}", spread=f"{len(single)} calls"),
        Row(s15, "raw take + assign, 50 threads (baseline)", f"{w_rate:,.0f}/s", spread=_rng(w, 0)),
        Row(s15, "through the queue: POST /v1/queue/next, 50 agents", f"{o_rate:,.0f}/s", f"raw {w_rate:,.0f}/s",
            o_rate / w_rate, "ours/raw", spread=_rng(o, 0)),
        Row(s15, "through routing (the automatic assignment process manager)", "to come",
            spread="not measured yet"),
    ]
    notes = [
        f"ops queue: {seconds:g} s per run, {settings.rounds} rounds, ours and raw alternated; "
        f"{len(handed) - warm:,} tickets assigned by queue/next in the timed runs ({len(handed):,} in all), "
        f"{waiting_before:,} waiting at the start; raw baseline on {conns} connections, its rows put back after "
        "each run",
        f"ops queue: checks passed: no ticket handed out twice, none assigned twice in the event log, the waiting "
        f"count fell by exactly the tickets handed out; {checked}",
        f"ops queue plans: {plans}",
        "ops queue: what the database's busy backends were doing during queue/next (pg_stat_activity sampled "
        "every 10 ms; CPU = no wait event): " + _shares(waits),
    ]
    return rows, [], notes


class WaitSampler:
    """Samples what this database's active backends wait on, every 10 ms, until closed."""

    SQL = ("SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity "
           "WHERE datname = current_database() AND backend_type = 'client backend' AND state = 'active' "
           "AND pid <> pg_backend_pid()")

    def __init__(self, settings: Settings):
        self.conn = psycopg.connect(settings.database_url, autocommit=True)
        self.counts: Counter = Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(0.01):
            self.counts.update(r[0] for r in self.conn.execute(self.SQL).fetchall())

    def close(self) -> Counter:
        self.stop.set()
        self.thread.join()
        self.conn.close()
        return self.counts


def _shares(waits: Counter) -> str:
    total = sum(waits.values()) or 1
    return ", ".join(f"{k} {v / total:.0%}" for k, v in waits.most_common(6))


def _waiting(conn, schema: str, store_id: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {schema}.ticket_list WHERE store_id = %s AND assignee_id IS NULL "
                        "AND status = 'open' AND awaiting_staff AND handled_by = 'store'", (store_id,)).fetchone()[0]


def _one_at_a_time(session, url: str, staff: Staff, handed: list[str], calls: int) -> list[float]:
    ms = []
    for k in range(calls):
        i = k % len(staff.agents)
        start = time.perf_counter()
        r = session.post(url, headers={"Authorization": f"Bearer {staff.tokens[i]}"}, timeout=60)
        ms.append((time.perf_counter() - start) * 1e3)
        check_status(r, 200, "POST /v1/queue/next")
        handed.append(r.json()["id"])
    return ms


def _plans(conn, schema: str, staff: Staff) -> str:
    """How PostgreSQL runs the service's candidates query and the baseline's.

    The service's statement and its parameters are the ones ``next_ticket``
    itself executes (``_service_take``), so the plan follows the service's
    code as it changes."""
    service_sql, service_params = _service_take(conn, schema, staff)
    out = []
    with conn.transaction(force_rollback=True):
        for label, sql, params in (
                ("service candidates", service_sql, service_params),
                ("baseline", RAW_TAKE.format(schema=schema), (staff.store_id, staff.team_of(0)))):
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params).fetchone()[0][0]
            out.append(f"{label}: {_plan_text(plan)}")
    return "; ".join(out)


def _service_take(conn, schema: str, staff: Staff) -> tuple[str, object]:
    """The statement (and its parameters) with which ``AgentQueues.next_ticket``
    takes its candidates for agent 1: the tickets application is built over a
    connection that runs every statement but records, and does not run, the
    one that locks ``... SKIP LOCKED``; it answers no rows, so the call
    returns without assigning anything (and everything else it did is rolled
    back)."""
    recording = _Recording(conn)
    app = build(EventStore(SimpleNamespace(connection=lambda: contextlib.nullcontext(recording)), schema))
    with conn.transaction(force_rollback=True):
        answer = app.queues.next_ticket(Caller("agent", staff.agents[0], staff.store_id, "agent"))
    if answer is not None or len(recording.taken) != 1:
        raise RuntimeError(f"ops queue plans: expected next_ticket to run exactly one SKIP LOCKED statement, "
                           f"it ran {len(recording.taken)} (answer {answer!r}): update bench/ops_queue.py")
    return recording.taken[0]


class _Recording:
    """A connection that runs what it is given, except the queue's locking
    read (``SKIP LOCKED``), which it records and answers with no rows."""

    def __init__(self, conn):
        self._conn, self.taken = conn, []

    def execute(self, sql, params=None, **kwargs):
        if "SKIP LOCKED" in str(sql).upper():
            self.taken.append((sql, params))
            return _NoRows()
        return self._conn.execute(sql, params, **kwargs)

    def __getattr__(self, name):
        return getattr(self._conn, name)


class _NoRows:
    def fetchall(self):
        return []

    def fetchone(self):
        return None

    def __iter__(self):
        return iter(())


def _rng(tally, k: int) -> str:
    values = [x[k] for x in tally]
    return f"{min(values):,.0f}..{max(values):,.0f}/s" if k == 0 else f"p50 {min(values):.1f}..{max(values):.1f}"
