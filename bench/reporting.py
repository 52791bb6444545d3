"""Reports (the ``reports`` section): the summary report over a year of
``reports_tickets`` (1,000,000) tickets in one store, grouped by agent, day,
week and month, against a raw SQL aggregate over the per-ticket metrics in
the same run (figure 17, ``reports_summary``); and the rollup lag from a
ticket's opening to the report showing it, against a bare RabbitMQ message
(figure 18, ``reports_lag``).

The services run as processes (``processes.System`` with the reports
service, a private vhost). A store is made through HTTP; then the reports
service is stopped, its schema seeded without HTTP or the bus
(``reports_seed``: the tickets domain decides each ticket's events, the
reports' own domain code measures them), checked with the service's own
code (``check_sample``: ``ReportsProjection.measure`` of 300 seeded
tickets changes nothing; ``check_rebuild``: ``ReportsProjection.rebuild``
of a small second store gives exactly the seeded rows), and the service is
started again.
"""
from __future__ import annotations

import contextlib
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from seedwork.envelope import utcnow
from services.reports.config import ReportsConfig
from tests.support.servers import vhosts_unavailable
from tests.support.system import serving

from . import reports_lag, reports_seed, reports_summary
from .common import Scratch, Settings, log
from .processes import Client, System
from .report import Row, Verdict

SERVICES = ("tickets", "customers", "reports", "gateway")
SAMPLE = 300  # seeded tickets re-measured by the service's code
CHECK_TICKETS = 500  # the second store, rebuilt whole by the service's code (200 with --quick)
LAG_TICKETS = 200  # tickets opened one at a time for the lag (50 with --quick)


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    why_not = vhosts_unavailable()
    if why_not:
        log(f"reports: skipped ({why_not})")
        return [], [], [f"reports: skipped: {why_not} (a private RabbitMQ vhost is needed)"]
    started = time.perf_counter()
    system = System(settings, scratch, services=SERVICES)
    schema = system.schemas["reports"]
    fcr_days = ReportsConfig.from_env(system.env).fcr_window_days
    check_tickets = 200 if settings.quick else CHECK_TICKETS
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(system.stop)
        cleanup.callback(log, "reports: stopping the services, deleting the vhost")
        log(f"reports: starting the services on port {system.port}, vhost {system.vhost.name}")
        system.start()
        client = cleanup.enter_context(contextlib.closing(Client(system.base_url)))
        store = system.new_store(client, "Bench reports store")
        check_store = f"bench-reports-check-{settings.run_id}"  # only ever seen by the reports service

        log("reports: stopping the reports service to seed its schema")
        system.supervisor.processes.pop("reports.1").stop()
        now = utcnow()
        big, small = reports_seed.seed(settings, schema, [(store.id, settings.reports_tickets, 17),
                                                          (check_store, check_tickets, 18)], now, fcr_days)
        log(f"reports: seeded {big.tickets + small.tickets:,} tickets in {big.seconds:.0f} s; checking")
        notes = seeding_notes(settings, schema, big, small)
        notes.append("reports seeding checked: " + reports_seed.check_sample(
            settings, schema, store.id, settings.reports_tickets, fcr_days, SAMPLE))
        rebuilt, seconds, count = reports_seed.check_rebuild(settings, schema, check_store, fcr_days)
        notes.append(f"reports seeding checked: {rebuilt}; the rebuild took {seconds:.1f} s "
                     f"({seconds / count * 1e3:.1f} ms a ticket, in one transaction)")
        start_reports(system)

        time_zone = reports_seed.POLICY["time_zone"]
        today = datetime.now(ZoneInfo(time_zone)).date()
        summaries = reports_summary.Summaries(settings, system, store.id, store.owner_token, time_zone, today)
        cleanup.callback(summaries.close)
        rows, verdicts, more = reports_summary.measure(settings, summaries, settings.reports_tickets)
        notes += more
        lag_rows, lag_verdicts, more = reports_lag.measure(settings, system, summaries,
                                                           50 if settings.quick else LAG_TICKETS)
        rows += lag_rows
        verdicts += lag_verdicts
        notes += more
        notes.append(f"reports: the whole section took {time.perf_counter() - started:.0f} s")
        return rows, verdicts, notes


def start_reports(system: System) -> None:
    """Start the reports service again and wait until the system serves it."""
    process = system.supervisor.start("reports", 1)
    process.wait_for_output("starting services: reports", timeout=90)
    probe = Client(system.base_url)
    try:
        system.supervisor.wait_until(lambda: serving(probe.http, system.base_url, ["reports"]), 90,
                                     "the reports service serving")
    finally:
        probe.close()


def seeding_notes(settings: Settings, schema: str, big: reports_seed.SeedStats,
                  small: reports_seed.SeedStats) -> list[str]:
    import psycopg

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        sizes = conn.execute(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE n.nspname = %s AND relname = ANY(%s) ORDER BY 1",
            (schema, list(reports_seed.TABLES))).fetchall()
    total = big.tickets + small.tickets
    build = (big.build_seconds + small.build_seconds) / reports_seed.WORKERS
    return [
        f"reports seeding (no HTTP, no bus; reports service stopped): {big.tickets:,} tickets over a year in the "
        f"store + {small.tickets:,} in a check store, {big.events + small.events:,} events "
        f"({(big.events + small.events) / total:.1f} a ticket), {big.rollup_rows:,} rollup rows in the store, in "
        f"{big.seconds:.0f} s ({total / big.seconds:,.0f} tickets/s; deciding, measuring and contributions in "
        f"Python {build:.0f} s per worker x {reports_seed.WORKERS} ({build / total * reports_seed.WORKERS * 1e3:.1f} "
        f"ms a ticket), keys and indexes rebuilt in {big.index_seconds:.0f} s, VACUUM ANALYZE "
        f"{big.vacuum_seconds:.0f} s)",
        "reports store: events " + ", ".join(f"{k} {v:,}" for k, v in big.types.most_common())
        + f"; {big.cut_short:,} stories stopped short by now",
        "reports sizes: " + ", ".join(f"{name} {size / 2 ** 20:,.0f} MB" for name, size in sizes),
    ]
