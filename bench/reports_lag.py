"""Figure 18: rollup lag, from a ticket's opening to the summary report
showing it, with the reports service running as a process that follows the
bus, in the store seeded with a year of tickets.

One ticket at a time: a shopper opens it through the tickets service's own
code in this process (``TicketWrites.open`` over the running service's
schema: its outbox relay, in the service's process, publishes the events);
the clock starts when ``open`` returns, just after its commit. This process
then polls ``Reports.summary`` (in process, the same call the gateway's
route makes: tickets created in the store from yesterday to tomorrow, its
local days) until the count has grown by one. The next ticket opens 10-60 ms
after that. A probe queue bound to the tickets exchange in the same vhost
notes when the ``ticket.opened`` message reached the bus: the lag splits
into the relay's part (commit -> on the bus) and the reports service's
(hearing, measuring, committing, and the poll that sees it).

Baseline in the same run: a bare message published to a queue on the same
vhost with pika and consumed by a pika consumer thread in this process
(``rabbit.Consumer``), one at a time, 10-60 ms apart: RabbitMQ's own
publish -> consume latency.
"""
from __future__ import annotations

import contextlib
import random
import time
import uuid
from datetime import timedelta

import pika
import psycopg

from seedwork import db
from seedwork.bus import exchange_name
from seedwork.caller import Caller
from seedwork.store import EventStore
from services.tickets.application import build as build_tickets

from .common import Settings, log, median, percentile
from .http_load import BODY, SUBJECTS
from .processes import System
from .rabbit import Consumer, bind_queue
from .report import Row, Verdict
from .reports_summary import Summaries

SECTION = "18. Reports: rollup lag, ticket opened (commit) -> summary report shows it (ms)"
WAIT = 30.0  # seconds a ticket may take to show before the section fails
POLL_SLEEP = 0.002


def measure(settings: Settings, system: System, summaries: Summaries,
            count: int) -> tuple[list[Row], list[Verdict], list[str]]:
    uri = system.env["AMQP_URI"]
    probe_queue = f"{settings.prefix}.reports-lag.probe"
    bare_queue = f"{settings.prefix}.reports-lag.bare"
    with contextlib.closing(pika.BlockingConnection(pika.URLParameters(uri))) as c:
        ch = c.channel()
        bind_queue(ch, probe_queue, exchange_name("seed", "tickets"))
        ch.queue_declare(bare_queue, durable=True, auto_delete=False)
    lag, bus, polls = _tickets(settings, system, summaries, probe_queue, count)
    bare = _bare(uri, bare_queue, count)
    rows = [
        Row(SECTION, f"baseline: bare RabbitMQ publish -> consume, {count} messages", _p(bare),
            spread=f"max {max(bare):.1f}"),
        Row(SECTION, f"relay alone: commit -> ticket.opened on the bus, {count} tickets", _p(bus),
            f"bare p50 {percentile(bare, 50):.1f}", percentile(bus, 50) / percentile(bare, 50), "relay/bare p50",
            spread=f"max {max(bus):.1f}"),
        Row(SECTION, f"commit -> the summary report shows it, {count} tickets", _p(lag),
            f"bare p50 {percentile(bare, 50):.1f}", percentile(lag, 50) / percentile(bare, 50), "ours/bare p50",
            spread=f"max {max(lag):.1f}"),
        Row(SECTION, "  of which: on the bus -> the report shows it (the reports service, and the poll)",
            _p([a - b for a, b in zip(lag, bus)])),
    ]
    notes = [f"reports lag: {count} tickets opened one at a time in the seeded store, 10-60 ms after the previous "
             f"one showed; the summary polled in process every ~{POLL_SLEEP * 1e3:g} ms (one poll took "
             f"{median(polls):.1f} ms at the median: the resolution of the figure); the tickets relay polls its "
             "outbox every 20 ms (its default)",
             "reports lag baseline: bare pika publish (default exchange, durable queue on the same vhost, "
             "persistent message) -> a pika consumer thread of this process; no such helper existed in "
             "bench/rabbit.py, so it is built here from rabbit.Consumer"]
    return rows, [], notes


def _tickets(settings: Settings, system: System, summaries: Summaries, probe_queue: str,
             count: int) -> tuple[list[float], list[float], list[float]]:
    schema = system.schemas["tickets"]
    pool = db.make_pool(settings.database_url, min_size=1, max_size=2, name="bench-reports-lag")
    tickets = build_tickets(EventStore(pool, schema))
    consumer = Consumer(system.env["AMQP_URI"], probe_queue)
    consumer.start()
    consumer.ready.wait(15)
    if consumer.error:
        raise consumer.error
    rnd = random.Random(18)
    s = summaries
    around = {"from": (s.end - timedelta(days=1)).isoformat(), "to": (s.end + timedelta(days=1)).isoformat(),
              "group_by": "month"}

    def created() -> int:
        return sum(i["created"] for i in s.app.summary(s.owner, around)["items"])

    lags, opened, polls = [], [], []
    try:
        shown = created()
        for n in range(count + 3):  # the first three warm up (connections, prepared statements)
            shopper = Caller("customer", f"cus_lag_{n % 50:04d}", s.store_id, "customer")
            fields = {"subject": SUBJECTS[n % len(SUBJECTS)], "body": BODY}
            ticket = tickets.writes.open(shopper, fields)["ticket"]
            committed = time.perf_counter()
            deadline = committed + WAIT
            while True:
                before = time.perf_counter()
                now = created()
                seen = time.perf_counter()
                polls.append((seen - before) * 1e3)
                if now > shown:
                    break
                if seen > deadline:
                    raise RuntimeError(f"reports lag: ticket {ticket['id']} not in the summary within {WAIT:g} s")
                time.sleep(POLL_SLEEP)
            if now != shown + 1:
                raise RuntimeError(f"reports lag: the summary's count went from {shown} to {now}, not by one")
            shown = now
            if n >= 3:
                lags.append((seen - committed) * 1e3)
                opened.append((ticket["id"], committed))
            if n % 50 == 49:
                log(f"reports lag: {n + 1 - 3}/{count}, p50 so far {percentile(lags, 50):.1f} ms")
            time.sleep(rnd.uniform(0.01, 0.06))
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            ids = dict(conn.execute(f"SELECT stream_id, event_id::text FROM {schema}.events WHERE "
                                    "stream_id = ANY(%s) AND version = 1", ([t for t, _ in opened],)).fetchall())
        deadline = time.perf_counter() + 10
        while not all(ids[t] in consumer.received for t, _ in opened) and time.perf_counter() < deadline:
            time.sleep(0.05)
        missing = [t for t, _ in opened if ids[t] not in consumer.received]
        if missing:
            raise RuntimeError(f"reports lag: {len(missing)} ticket.opened never reached the probe queue")
        bus = [(consumer.received[ids[t]] - at) * 1e3 for t, at in opened]
    finally:
        consumer.stop()
        pool.close()
    return lags, bus, polls


def _bare(uri: str, queue: str, count: int) -> list[float]:
    """Publish -> consume of ``count`` bare persistent messages, one at a time."""
    consumer = Consumer(uri, queue)
    consumer.start()
    consumer.ready.wait(15)
    if consumer.error:
        raise consumer.error
    rnd = random.Random(19)
    sent: dict[str, float] = {}
    try:
        with contextlib.closing(pika.BlockingConnection(pika.URLParameters(uri))) as c:
            ch = c.channel()
            for n in range(count + 3):
                message_id = uuid.uuid4().hex
                at = time.perf_counter()
                ch.basic_publish("", queue, b'{"probe": true}', pika.BasicProperties(
                    message_id=message_id, delivery_mode=2, content_type="application/json"))
                deadline = at + WAIT
                while message_id not in consumer.received:
                    if time.perf_counter() > deadline:
                        raise RuntimeError("reports lag baseline: a bare message never arrived")
                    time.sleep(0.0005)
                if n >= 3:
                    sent[message_id] = at
                time.sleep(rnd.uniform(0.01, 0.06))
    finally:
        consumer.stop()
    return [(consumer.received[m] - at) * 1e3 for m, at in sent.items()]


def _p(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):,.1f}, p99 {percentile(values, 99):,.1f}"
