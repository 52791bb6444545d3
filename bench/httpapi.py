"""The HTTP API end to end (the ``http`` section: figures 7 and 8): client ->
gateway -> RPC over RabbitMQ -> tickets service -> PostgreSQL, with both
services running as real processes (``python -m seedwork.launch
tickets|gateway``, see ``processes.py``), started and stopped here.

Part 1, throughput and latency with 8 and 32 concurrent clients (create,
reply, get, list) against same-run baselines at the same concurrency, a
trivial route of the same gateway and a raw psycopg round trip; CPU per
request by process: ``http_load``.

Part 2, the ticket list with ``http_tickets`` (100,000) tickets seeded into
one store without HTTP, timed over HTTP against the same query in this
process: ``http_list``.
"""
from __future__ import annotations

import contextlib
import time

import psycopg

from tests.support.servers import vhosts_unavailable

from .common import Scratch, Settings, log, median
from .http_list import time_list
from .http_load import CLIENT_COUNTS, REPLY_TICKETS, CpuMeter, Load, time_clients
from .processes import System
from .report import Row, Verdict


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    why_not = vhosts_unavailable()
    if why_not:
        log(f"http: skipped ({why_not})")
        return [], [], [f"http: skipped: {why_not} (a private RabbitMQ vhost is needed)"]
    seconds = 0.6 if settings.quick else settings.seconds
    top = max(CLIENT_COUNTS)
    system = System(settings, scratch)
    pg_schema = scratch.plain_schema("httppg")
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(system.stop)  # last: the callbacks run in reverse
        cleanup.callback(log, "http: stopping the services, deleting the vhost")
        log(f"http: starting tickets + gateway on port {system.port}, vhost {system.vhost.name}")
        t0 = time.perf_counter()
        system.start()
        log(f"http: up in {time.perf_counter() - t0:.1f}s; creating a store, an agent, {top} customer sessions "
            f"and {REPLY_TICKETS} tickets")
        load = cleanup.enter_context(contextlib.closing(Load(system, settings, pg_schema, top)))
        meter = cleanup.enter_context(contextlib.closing(CpuMeter(system, settings)))
        rows, notes = time_clients(settings, load, meter, seconds)
        reply_events = _events_per_ticket(settings, system.schemas["tickets"], load.tickets)
        rows2, notes2 = time_list(settings, system, load.clients[0])
        rows += rows2
        notes += notes2
        notes.append(f"http: the {REPLY_TICKETS} reply/get tickets ended with {reply_events} events each "
                     "(median); get and reply load and fold the whole stream")
        return rows, [], notes


def _events_per_ticket(settings: Settings, schema: str, tickets: list[str]) -> float:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        rows = conn.execute(f"SELECT count(*) FROM {schema}.events WHERE stream_id = ANY(%s) GROUP BY stream_id",
                            (tickets,)).fetchall()
    return median([r[0] for r in rows])


