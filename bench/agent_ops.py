"""Agent operations (the ``ops`` section): view counts, ``POST
/v1/queue/next`` and assignment throughput for 50 agents in one store of
``ops_tickets`` (1,000,000) tickets, and the SLA timer's lag with
``ops_sla_tickets`` (100,000) open tickets, with one and two tickets
replicas; each against a same-run baseline in raw PostgreSQL.

The services run as processes (``processes.System``, a private vhost). Set-up
through HTTP: two stores, 50 agents in 5 teams (agent ``i`` in team ``i %
5``). Then the tickets service is stopped, the stores are seeded without
HTTP (``ops_seed``: real streams, and the list rows, view counters and SLA
timers the service's own code computes), the seeded history is marked as
published (the relay's checkpoint moved to the head: publishing millions of
old events would only load RabbitMQ for minutes), and the service is
started again. ``check_sample`` re-projects a sample of the seeded tickets
with the service's ``ReadModels.reproject`` and requires that nothing
changes. The measurements are ``ops_views``, ``ops_queue`` and ``ops_sla``.
"""
from __future__ import annotations

import contextlib
import random
import time
from datetime import timedelta

import psycopg

from seedwork.bus import exchange_name
from seedwork.envelope import utcnow
from seedwork.store import EventStore
from services.tickets.projection import ALL_COLUMNS
from services.tickets.read_models import ReadModels
from services.tickets.saved_views import SavedViews
from services.tickets.sla_policies import SlaPolicies
from tests.support.servers import vhosts_unavailable

from . import ops_queue, ops_seed, ops_sla, ops_views
from .common import Scratch, Settings, log
from .ops_seed import BIG_POLICY, SLA_POLICY, YEAR, Builder, Job, Staff
from .processes import Client, System
from .report import Row, Verdict

AGENTS, TEAMS = 50, 5
SAMPLE = 300  # seeded tickets re-projected by the service's code to check the seeding


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    why_not = vhosts_unavailable()
    if why_not:
        log(f"ops: skipped ({why_not})")
        return [], [], [f"ops: skipped: {why_not} (a private RabbitMQ vhost is needed)"]
    started = time.perf_counter()
    system = System(settings, scratch)
    schema = system.schemas["tickets"]
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(system.stop)
        cleanup.callback(log, "ops: stopping the services, deleting the vhost")
        log(f"ops: starting the services on port {system.port}, vhost {system.vhost.name}")
        system.start()
        client = cleanup.enter_context(contextlib.closing(Client(system.base_url)))
        big = system.new_store(client, "Bench ops store")
        staff = make_staff(system, client, big)
        sla_store = system.new_store(client, "Bench SLA timer store")

        log("ops: stopping the tickets service to seed its schema")
        system.supervisor.processes.pop("tickets.1").stop()
        seeded, notes = seed(settings, schema, staff, sla_store.id)
        ops_sla.start_tickets(system, 1)
        checked = check_sample(settings, schema, big.id)
        notes.append(f"ops: seeding checked: {checked}")

        rows, verdicts = [], []
        for module, args in ((ops_views, (staff,)), (ops_queue, (staff,)), (ops_sla, (sla_store.id, seeded))):
            r, v, n = module.measure(settings, system, *args)
            rows += r
            verdicts += v
            notes += n
        notes.append(f"ops: the whole section took {time.perf_counter() - started:.0f} s")
        return rows, verdicts, notes


# --- set-up --------------------------------------------------------------------------------


def make_staff(system: System, client: Client, store) -> Staff:
    staff = Staff(store.id, store.owner_token)
    for t in range(TEAMS):
        staff.teams.append(client.call("POST", "/v1/teams", store.owner_token, 201,
                                       json={"name": f"Bench team {t + 1}"})["id"])
    for i in range(AGENTS):
        agent = system.new_agent(client, store, name=f"Bench agent {i + 1}")
        staff.agents.append(agent["id"])
        staff.tokens.append(agent["token"])
        client.call("POST", f"/v1/teams/{staff.team_of(i)}/members", store.owner_token,
                    json={"agent_id": agent["id"]})
    return staff


def seed(settings: Settings, schema: str, staff: Staff, sla_store_id: str) -> tuple[dict, list[str]]:
    """Both stores' seeded history; what ``ops_sla`` needs to know about the SLA store, and notes."""
    now = utcnow()
    since = now - YEAR - timedelta(days=1)
    with psycopg.connect(settings.database_url) as conn:
        big_versions = ops_seed.write_policy(conn, schema, staff.store_id, BIG_POLICY, since)
        sla_versions = ops_seed.write_policy(conn, schema, sla_store_id, SLA_POLICY, since)
        conn.commit()
    rnd = random.Random(15)
    shapes, solved = Builder(schema, staff.store_id, big_versions, now, rnd).big_shapes(settings.ops_tickets)
    # The SLA store's bulk: due between 2 and 26 hours from now, after every measurement.
    bulk = settings.ops_sla_tickets - ops_sla.live_count(settings)
    dues = sorted(now + timedelta(hours=2) + timedelta(hours=24) * rnd.random() for _ in range(bulk))
    jobs = [Job(settings.database_url, schema, staff.store_id, big_versions, now, 15, 0, list(enumerate(shapes)),
                staff, solved),
            Job(settings.database_url, schema, sla_store_id, sla_versions, now, 16, 0, list(enumerate(dues)))]
    log(f"ops: seeding {settings.ops_tickets:,} tickets into the big store and {bulk:,} open tickets into the "
        "SLA store")
    big_stats, sla_stats = ops_seed.seed_bulk(settings, schema, jobs, "seeding")
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        head = conn.execute(f"SELECT coalesce(max(position), 0) FROM {schema}.events").fetchone()[0]
        conn.execute(f"INSERT INTO {schema}.relay_checkpoint (exchange, position) VALUES (%s, %s) "
                     "ON CONFLICT (exchange) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
                     (exchange_name("seed", "tickets"), head))
        sizes = conn.execute(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE n.nspname = %s AND relname IN ('events', 'ticket_list', 'sla_timers', "
            "'view_counts')", (schema,)).fetchall()
        cells = conn.execute(f"SELECT count(*) FROM {schema}.view_counts WHERE store_id = %s",
                             (staff.store_id,)).fetchone()[0]
    total = big_stats.tickets + sla_stats.tickets
    log(f"ops: seeded {total:,} tickets in {big_stats.seconds:.0f} s")
    notes = [
        f"ops seeding (no HTTP; tickets service stopped): {big_stats.tickets:,} + {sla_stats.tickets:,} tickets, "
        f"{big_stats.events + sla_stats.events:,} events ({big_stats.fired:,} sla.* events a lag-free timer "
        f"would have appended), {big_stats.timers + sla_stats.timers:,} SLA timers, {cells:,} view-count rows "
        f"in {big_stats.seconds:.0f} s ({total / big_stats.seconds:,.0f} tickets/s; building in Python "
        f"{(big_stats.build_seconds + sla_stats.build_seconds) / ops_seed.WORKERS:.0f} s per worker x "
        f"{ops_seed.WORKERS}, list indexes rebuilt in {big_stats.index_seconds:.0f} s, VACUUM ANALYZE "
        f"{big_stats.vacuum_seconds:.0f} s); relay checkpoint moved to the head",
        "ops big store: stories " + ", ".join(f"{k} {v:,}" for k, v in big_stats.shapes.most_common())
        + "; SLA states " + ", ".join(f"{k} {v:,}" for k, v in big_stats.states.most_common())
        + f"; {big_stats.resampled:,} unsolved stories re-drawn to keep their timers out of the first "
        f"{ops_seed.GAP.total_seconds() / 60:.0f} minutes",
        "ops sizes: " + ", ".join(f"{name} {size / 2 ** 20:,.0f} MB" for name, size in sorted(sizes)),
    ]
    return {"now": now, "versions": sla_versions, "bulk": bulk}, notes


# --- checking the seeding with the service's own code -----------------------------------------


def check_sample(settings: Settings, schema: str, store_id: str) -> str:
    """Re-project ``SAMPLE`` random seeded tickets with ``ReadModels.reproject`` in a
    transaction that is rolled back: their list rows, timers and the store's
    view and unread counters must come out unchanged. Raises otherwise."""
    columns = ", ".join(ALL_COLUMNS)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("SET TimeZone TO 'UTC'")
        # All the sampled pages' rows, then a random few: the seeding writes the solved and closed
        # tickets first, so a LIMIT on the sample would keep only those (no timers) in a big table.
        ids = [r[0] for r in conn.execute(
            f"SELECT ticket_id FROM {schema}.ticket_list TABLESAMPLE SYSTEM (1) WHERE store_id = %s",
            (store_id,)).fetchall()]
        ids = random.Random(7).sample(ids, min(SAMPLE, len(ids)))

        def snapshot():
            rows = conn.execute(f"SELECT {columns} FROM {schema}.ticket_list WHERE ticket_id = ANY(%s) "
                                "ORDER BY ticket_id", (ids,)).fetchall()
            timers = conn.execute(f"SELECT * FROM {schema}.sla_timers WHERE ticket_id = ANY(%s) "
                                  "ORDER BY 1, 2, 3, 4", (ids,)).fetchall()
            counts = conn.execute(f"SELECT view_key, team, assignee, sum(n) FROM {schema}.view_counts "
                                  "WHERE store_id = %s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", (store_id,)).fetchall()
            inbox = conn.execute(f"SELECT topic, team, assignee, sum(n) FROM {schema}.inbox_counts "
                                 "WHERE store_id = %s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", (store_id,)).fetchall()
            return rows, timers, counts, inbox

        before = snapshot()
        store = EventStore(None, schema)
        read_models = ReadModels(store, SlaPolicies(store, utcnow), SavedViews(store, utcnow))
        with conn.transaction(force_rollback=True):
            for ticket_id in ids:
                read_models.reproject(conn, ticket_id)
            after = snapshot()
        for what, b, a in zip(("list rows", "SLA timers", "view counters", "unread counters"), before, after):
            if b != a:
                diff = next(((x, y) for x, y in zip(b, a) if x != y), (len(b), len(a)))
                raise RuntimeError(f"ops: the seeded {what} differ from what ReadModels.reproject writes: {diff}")
    return (f"ReadModels.reproject of {len(ids)} random seeded tickets left their list rows "
            f"({len(before[0])}), SLA timers ({len(before[1])}) and the store's view and unread counters unchanged")

