"""Figure 17: ``GET /v1/reports/summary`` over a year of one store's tickets,
grouped by agent, day, week and month.

Ours: the gateway route through HTTP (gateway -> RPC -> reports service ->
rollups), and the same service call alone in this process
(``Reports.summary`` of the reports application built over the same schema:
the store's report settings and time zone, the rollup rows of one dimension
over the period, summed in Python by ``domain/summary.summarise``).
Baseline in the same run: one raw SQL aggregate over the per-ticket metrics
projection (``ticket_metrics``: one jsonb document per ticket) computing the
same figures per group: tickets created, solved, first responses and their
median (``percentile_disc(0.5)`` over the tickets' business minutes), each
fact on the store's local day it happened.

Every grouping's answer is checked (``check``): the service's created,
solved and first-response counts per key equal the raw aggregate's, its
median first response is the bucket bound holding the raw median, and the
HTTP answer's items are the service's.
"""
from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, timedelta

import psycopg
import requests

from seedwork import db
from seedwork.caller import Caller
from seedwork.store import EventStore
from services.reports.application import build
from services.reports.domain.rollups import BOUNDS, bucket_of

from .common import Settings, log, median, percentile
from .http_load import check_status
from .ops_views import _plan_text
from .processes import System
from .report import Row, Verdict

SECTION = "17. Reports: GET /v1/reports/summary, a year of {n:,} tickets in one store (ms)"
GROUPINGS = ("agent", "day", "week", "month")
MIN_CALLS, MAX_CALLS, ROUND_SECONDS = 1, 10, 1.0  # calls of one case per round: until a second has gone
TARGET_MS = 1000.0  # the aim: well under a second (Chatwoot: 201 s for one report)

GROUP_EXPR = {"agent": "coalesce(m.assignee_id, '')", "day": "f.day",
              "week": "date_trunc('week', f.day)::date", "month": "date_trunc('month', f.day)::date"}
RAW = """
SELECT {group} AS key,
       count(*) FILTER (WHERE f.kind = 'c') AS created,
       count(*) FILTER (WHERE f.kind = 's') AS solved,
       count(f.minutes) FILTER (WHERE f.kind = 'f') AS first_responses,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY f.minutes) FILTER (WHERE f.kind = 'f') AS median_first_response
FROM {schema}.ticket_metrics t,
     LATERAL jsonb_to_record(t.metrics) AS m(assignee_id text, solved_at timestamptz, first_response_at timestamptz,
                                             first_response_business_minutes float8),
     LATERAL (VALUES ('c', (t.created_at AT TIME ZONE %(tz)s)::date, NULL::float8),
                     ('s', (m.solved_at AT TIME ZONE %(tz)s)::date, NULL),
                     ('f', (m.first_response_at AT TIME ZONE %(tz)s)::date, m.first_response_business_minutes))
             AS f(kind, day, minutes)
WHERE t.store_id = %(store)s AND f.day BETWEEN %(from)s AND %(to)s
GROUP BY 1 ORDER BY 1"""


class Summaries:
    """What the timings call: HTTP, the service in process, the raw aggregate."""

    def __init__(self, settings: Settings, system: System, store_id: str, owner_token: str, time_zone: str,
                 today: date):
        self.system, self.store_id, self.owner_token, self.time_zone = system, store_id, owner_token, time_zone
        self.schema = system.schemas["reports"]
        self.pool = db.make_pool(settings.database_url, min_size=1, max_size=2, name="bench-reports")
        self.app = build(EventStore(self.pool, self.schema))
        self.owner = Caller("agent", "bench-owner", store_id, "owner")
        self.start, self.end = today - timedelta(days=364), today
        self.conn = psycopg.connect(settings.database_url, autocommit=True)
        self.session = requests.Session()

    def query(self, group_by: str) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "group_by": group_by}

    def service(self, group_by: str) -> list[dict]:
        return self.app.summary(self.owner, self.query(group_by))["items"]

    def http(self, group_by: str) -> list[dict]:
        r = self.session.get(self.system.base_url + "/v1/reports/summary", params=self.query(group_by), timeout=120,
                             headers={"Authorization": f"Bearer {self.owner_token}"})
        check_status(r, 200, "GET /v1/reports/summary")
        return r.json()["items"]

    def raw_sql(self, group_by: str) -> str:
        return RAW.format(group=GROUP_EXPR[group_by], schema=self.schema)

    def raw_params(self) -> dict:
        return {"tz": self.time_zone, "store": self.store_id, "from": self.start, "to": self.end}

    def raw(self, group_by: str) -> list[tuple]:
        return self.conn.execute(self.raw_sql(group_by), self.raw_params()).fetchall()

    def rows(self, group_by: str) -> int:
        """The rollup rows the service reads for the answer (``ReportReads.rows``' query), fetched and
        their jsonb decoded, and nothing more: no ``Measures``, no sums."""
        dimension = "all" if group_by in ("day", "week", "month") else group_by
        return len(self.conn.execute(
            f"SELECT day, key, measures FROM {self.schema}.rollups WHERE store_id = %s AND dimension = %s "
            "AND day BETWEEN %s AND %s", (self.store_id, dimension, self.start, self.end)).fetchall())

    def check(self, group_by: str) -> str:
        """The service's answer, over HTTP and in process, agrees with the raw aggregate's."""
        ours, http, raw = self.service(group_by), self.http(group_by), self.raw(group_by)
        if http != ours:
            raise RuntimeError(f"reports summary by {group_by}: the HTTP items differ from the service's")

        def key(value) -> str | None:
            if isinstance(value, date):
                return value.isoformat()
            return value or None

        def bound(minutes) -> int | None:  # the upper bound of the histogram bucket holding ``minutes``
            return None if minutes is None else BOUNDS[min(bucket_of(minutes), len(BOUNDS) - 1)]

        want = {key(k): (created, solved, firsts, bound(mid)) for k, created, solved, firsts, mid in raw}
        got = {i["key"]: (i["created"], i["solved"], i["first_response"]["count"],
                          i["first_response"]["median_minutes"])
               for i in ours if i["created"] or i["solved"] or i["first_response"]["count"]}
        if got != want:
            diff = sorted((k, got.get(k), want.get(k)) for k in got.keys() | want.keys() if got.get(k) != want.get(k))
            raise RuntimeError(f"reports summary by {group_by}: (created, solved, first responses, median) differ "
                               f"from the raw aggregate's for {len(diff)} keys, e.g. (key, ours, raw): {diff[:3]}")
        return (f"by {group_by}: {len(want)} keys, created {sum(v[0] for v in want.values()):,}, solved "
                f"{sum(v[1] for v in want.values()):,}, first responses {sum(v[2] for v in want.values()):,} and "
                "each key's median bucket equal to the raw aggregate's")

    def close(self) -> None:
        self.session.close()
        self.conn.close()
        self.pool.close()


def measure(settings: Settings, summaries: Summaries, tickets: int) -> tuple[list[Row], list[Verdict], list[str]]:
    s = summaries
    notes = [f"reports summary: the period {s.start} .. {s.end} (365 local days, {s.time_zone}); "
             "checked: " + "; ".join(s.check(g) for g in GROUPINGS)]
    with s.pool.connection() as conn:
        rows_read = dict(conn.execute(
            f"SELECT dimension, count(*) FROM {s.schema}.rollups WHERE store_id = %s AND day BETWEEN %s AND %s "
            "AND dimension IN ('agent', 'all') GROUP BY 1", (s.store_id, s.start, s.end)).fetchall())
    notes.append(f"reports summary: rollup rows read per answer: by agent {rows_read.get('agent', 0):,}, by day, "
                 f"week or month {rows_read.get('all', 0):,} (the 'all' rows)")
    plan = s.conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + s.raw_sql("agent"), s.raw_params()).fetchone()
    notes.append("reports summary: raw aggregate plan (by agent): " + _plan_text(plan[0][0]))
    cases = {"http": s.http, "service": s.service, "raw": s.raw, "rows": s.rows}
    for group_by in GROUPINGS:  # the check above warmed up the others (the raw aggregate takes seconds)
        s.rows(group_by)
    ms: dict[tuple, list[float]] = defaultdict(list)
    rounds: dict[tuple, list[float]] = defaultdict(list)
    names = list(cases)
    for r in range(settings.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for group_by in GROUPINGS:
            for name in order:
                this, spent = [], 0.0
                while len(this) < MIN_CALLS or (spent < ROUND_SECONDS and len(this) < MAX_CALLS):
                    start = time.perf_counter()
                    cases[name](group_by)
                    this.append((time.perf_counter() - start) * 1e3)
                    spent += this[-1] / 1e3
                ms[group_by, name] += this
                rounds[group_by, name].append(median(this))
        log(f"reports summary round {r + 1}/{settings.rounds} (ms, {'/'.join(names)}): " + ", ".join(
            f"{g} {'/'.join(f'{rounds[g, n][-1]:.0f}' for n in names)}" for g in GROUPINGS))
    section = SECTION.format(n=tickets)
    rows, verdicts = [], []
    for group_by in GROUPINGS:
        raw = percentile(ms[group_by, "raw"], 50)
        rows.append(Row(section, f"by {group_by}: raw SQL aggregate over ticket_metrics (baseline)",
                        _p(ms[group_by, "raw"]), spread=_rng(rounds[group_by, "raw"])))
        rows.append(Row(section, f"by {group_by}: the rollup rows' read alone (the service's query, no sums)",
                        _p(ms[group_by, "rows"]), spread=_rng(rounds[group_by, "rows"])))
        for name, label in (("service", "Reports.summary in process"), ("http", "GET /v1/reports/summary (HTTP)")):
            ours = percentile(ms[group_by, name], 50)
            rows.append(Row(section, f"by {group_by}: {label}", _p(ms[group_by, name]), f"raw p50 {raw:,.1f}",
                            ours / raw, "ours/raw p50",
                            target=f"p50 < {TARGET_MS:,.0f}" if name == "http" else "",
                            met=ours < TARGET_MS if name == "http" else None, spread=_rng(rounds[group_by, name])))
        http = percentile(ms[group_by, "http"], 50)
        verdicts.append(Verdict(f"summary over a year by {group_by} well under a second", http < TARGET_MS,
                                f"HTTP p50 {http:,.0f} ms (in process {percentile(ms[group_by, 'service'], 50):,.0f} "
                                f"ms; raw SQL over ticket_metrics {raw:,.0f} ms; Chatwoot's one report: 201 s)"))
    notes.append(f"reports summary: per case and round, calls until {ROUND_SECONDS:g} s had gone (at least "
                 f"{MIN_CALLS}, at most {MAX_CALLS}); cases rotated per round; p50/p99 over every call")
    return rows, verdicts, notes


def _p(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):,.1f}, p99 {percentile(values, 99):,.1f}"


def _rng(values: list[float]) -> str:
    return f"p50 {min(values):,.1f}..{max(values):,.1f}"
