"""Latency from append to receipt: a Relay runs in a background thread
(``relay.run(stop)``), a pika consumer thread reads a queue bound to the
exchange, and the main thread appends one event at a time, ``SPACING``
seconds apart. Latency = consumer's receipt time - the moment ``append``
returned (the same monotonic clock, one process).

Measured at the relay's default poll interval (0.02 s) and at 0.005 s.
"""
from __future__ import annotations

import threading
import time
import uuid

from seedwork import db
from seedwork.bus import unrouted_name
from seedwork.relay import Relay
from seedwork.store import EventStore

from .common import Scratch, Settings, log, median, new_event, percentile
from .rabbit import Consumer, bind_queue
from .report import Row, Verdict

SPACING = 0.004
PER_STREAM = 10
POLL_INTERVALS = (0.02, 0.005)


def one_round(settings: Settings, store: EventStore, relay: Relay, queue: str, count: int) -> list[float]:
    consumer = Consumer(settings.amqp_uri, queue)
    consumer.start()
    consumer.ready.wait(15)
    if consumer.error:
        raise consumer.error
    stop = threading.Event()
    relay_thread = threading.Thread(target=relay.run, args=(stop,), daemon=True, name="bench-relay")
    relay_thread.start()
    ready_by = time.perf_counter() + 15
    while not (relay.stats.leader and relay.publisher.connected) and time.perf_counter() < ready_by:
        time.sleep(0.005)  # connecting is not part of the latency
    sent: dict[str, float] = {}
    try:
        stream, version = "", PER_STREAM
        for i in range(count):
            if version >= PER_STREAM:
                stream, version = f"ticket-lat-{uuid.uuid4().hex}", 0
            envelope = store.append(stream, version, [new_event(i)])[0]
            sent[str(envelope.event_id)] = time.perf_counter()
            version += 1
            time.sleep(SPACING)
        deadline = time.perf_counter() + 30
        while len(consumer.received.keys() & sent.keys()) < count and time.perf_counter() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        relay_thread.join(15)
        consumer.stop()
    missing = len(sent.keys() - consumer.received.keys())
    if missing:
        raise RuntimeError(f"{missing} of {count} events never reached the consumer within 30 s")
    return [consumer.received[k] - t for k, t in sent.items()]


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    count = settings.latency_events
    section = "5. Append -> consumer latency (ms; lower is better)"
    rows = []
    for poll in POLL_INTERVALS:
        service = f"latency{int(poll * 1000)}"
        # A schema per relay: a new relay starts at checkpoint 0 and would
        # first publish every event an earlier one already had.
        schema = scratch.event_store_schema(service)
        pool = db.make_pool(settings.database_url, min_size=1, max_size=2, name="bench-latency")
        store = EventStore(pool, schema)
        try:
            relay = Relay(store, settings.database_url, settings.amqp_uri, service,
                          bus_prefix=settings.prefix, poll_interval=poll)
            queue = f"{settings.prefix}.{service}.probe"
            scratch.exchanges += [relay.exchange, unrouted_name(settings.prefix)]
            scratch.queues += [queue, unrouted_name(settings.prefix)]
            relay.declare()
            bind_queue(relay.publisher.channel, queue, relay.exchange)
            relay.publisher.close()  # run() reconnects in its own thread
            p50s, p99s = [], []
            for r in range(settings.rounds):
                ms = [x * 1e3 for x in one_round(settings, store, relay, queue, count)]
                p50s.append(percentile(ms, 50))
                p99s.append(percentile(ms, 99))
                log(f"latency poll {poll}s round {r + 1}/{settings.rounds}: p50 {p50s[-1]:.1f} ms, "
                    f"p99 {p99s[-1]:.1f} ms, max {max(ms):.1f} ms")
        finally:
            pool.close()
        what = f"poll {poll * 1000:g} ms, {count} events {SPACING * 1000:g} ms apart"
        rows.append(Row(section, f"{what}: p50", f"{median(p50s):.1f}",
                        spread=f"{min(p50s):.1f}..{max(p50s):.1f}"))
        rows.append(Row(section, f"{what}: p99", f"{median(p99s):.1f}",
                        spread=f"{min(p99s):.1f}..{max(p99s):.1f}"))
    notes = [f"latency: median over {settings.rounds} rounds of each round's p50/p99 ({count} events per round); "
             "relay, consumer and appender are threads of one process (they share the GIL)"]
    return rows, [], notes
