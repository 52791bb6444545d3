"""Relay throughput: events/s reaching RabbitMQ, confirmed, through
``Relay.publish_batch`` (read the outbox after the checkpoint, publish with
confirms, move the checkpoint), against raw pika publishing the same bodies
and properties with the same window of 100 unconfirmed messages.

``N`` events are appended once; every round resets the relay's checkpoint and
drains them all again, then purges the queue. The queue is durable and bound
to every routing key of the exchange, like a consumer's; messages are
persistent and published ``mandatory`` in both cases.
"""
from __future__ import annotations

import time

from seedwork import db
from seedwork.bus import event_message, unrouted_name
from seedwork.relay import Relay
from seedwork.store import EventStore

from .common import Scratch, Settings, log, median, new_event, spread
from .rabbit import bind_queue, outgoing, pika_publish
from .report import Row, Verdict

SERVICE = "tickets"
PER_STREAM = 20
BATCH = 500
WINDOW = 100
TARGET = 0.5
STALL_SECONDS = 60


def fill(store: EventStore, count: int, tag: str) -> None:
    """``count`` events in streams of ``PER_STREAM``, one append per stream."""
    done = 0
    while done < count:
        n = min(PER_STREAM, count - done)
        store.append(f"ticket-{tag}-{done // PER_STREAM}", 0, [new_event(done + k) for k in range(n)])
        done += n


def drain(relay: Relay, count: int) -> float:
    """Seconds for the relay to publish ``count`` events from its checkpoint."""
    published, idle_since = 0, None
    start = time.perf_counter()
    while published < count:
        n = relay.publish_batch()
        published += n
        if n:
            idle_since = None
        elif idle_since is None:
            idle_since = time.perf_counter()
        elif time.perf_counter() - idle_since > STALL_SECONDS:
            # read_all stops below the oldest running transaction of the cluster
            raise RuntimeError(
                f"relay stalled at {published}/{count}: a long transaction elsewhere in this "
                "PostgreSQL cluster holds back pg_snapshot_xmin")
        else:
            time.sleep(0.005)
    elapsed = time.perf_counter() - start
    if published != count:
        raise AssertionError(f"relay published {published}, expected {count}")
    return elapsed


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    count = settings.relay_events
    schema = scratch.event_store_schema("relay")
    pool = db.make_pool(settings.database_url, min_size=1, max_size=2, name="bench-relay")
    store = EventStore(pool, schema)
    bus_prefix = settings.prefix
    relay = Relay(store, settings.database_url, settings.amqp_uri, SERVICE, bus_prefix=bus_prefix,
                  batch_size=BATCH)
    queue = f"{bus_prefix}.relay.probe"
    scratch.exchanges += [relay.exchange, unrouted_name(bus_prefix)]
    scratch.queues += [queue, unrouted_name(bus_prefix)]
    ours, raw = [], []
    try:
        log(f"relay: appending {count:,} events")
        fill(store, count, "relay")
        if not relay.try_lead():
            raise RuntimeError("relay could not take its advisory lock")
        relay.declare()
        channel = relay.publisher.channel
        bind_queue(channel, queue, relay.exchange)
        # The same bodies and properties, built outside pika's timing.
        messages, after = [], 0
        while len(messages) < count:
            events = store.read_all(after, 5000)
            if not events:
                raise RuntimeError("could not read back the appended events")
            messages += [outgoing(event_message(e, SERVICE), e.type) for e in events]
            after = events[-1].position

        def reset():
            with db.connect(settings.database_url, autocommit=True) as conn:
                conn.execute(f"DELETE FROM {schema}.relay_checkpoint")
            channel.queue_purge(queue)

        def run_ours():
            reset()
            ours.append(count / drain(relay, count))

        def run_raw():
            reset()
            raw.append(count / pika_publish(settings.amqp_uri, relay.exchange, messages, WINDOW))

        run_ours()  # warm-up round, not counted
        run_raw()
        ours.clear(), raw.clear()
        for r in range(settings.rounds):
            for fn in ((run_ours, run_raw) if r % 2 == 0 else (run_raw, run_ours)):
                fn()
            log(f"relay round {r + 1}/{settings.rounds}: ours {ours[-1]:,.0f}/s raw pika {raw[-1]:,.0f}/s")
        channel.queue_purge(queue)
    finally:
        relay.close()
        pool.close()

    ratio = median(ours) / median(raw)
    met = ratio >= TARGET
    row = Row("4. Relay to RabbitMQ with publisher confirms (events/s)",
              f"{count:,} events, batch {BATCH}, window {WINDOW} vs raw pika",
              f"{median(ours):,.0f}", f"{median(raw):,.0f}", ratio, "ours/pika", f">= {TARGET}", met,
              f"{spread(ours)} | {spread(raw)}")
    verdict = Verdict(f"relay >= {TARGET} x raw pika", met,
                      f"ours {median(ours):,.0f}/s vs pika {median(raw):,.0f}/s = {ratio:.3g}")
    notes = [f"relay: durable queue bound '#', persistent messages, mandatory; pika = SelectConnection, "
             f"confirm window {WINDOW}, same bodies/properties prebuilt; ours includes reading the outbox, "
             "serialising CloudEvents and saving the checkpoint"]
    return [row], [verdict], notes
