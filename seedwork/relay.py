"""The outbox relay: publishes committed events to RabbitMQ, in order.

The event log is the outbox. An event becomes visible to ``read_all`` only
after its transaction commits, so nothing is published that could still roll
back, and nothing committed is forgotten: the relay's checkpoint (last
position confirmed by the broker) moves only after the broker confirmed the
whole batch. A crash anywhere re-publishes at most the unconfirmed batch;
consumers absorb the duplicates by event id.

Every replica of a service runs a relay, but only the holder of a PostgreSQL
advisory lock publishes. The lock lives with the leader's database session,
so when the leader dies PostgreSQL frees it and a standby takes over.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from . import db  # first: it picks psycopg's wait function
import psycopg

from .bus import ConfirmingPublisher, declare_exchange, event_message, exchange_name, unrouted_name
from .store import EventStore

log = logging.getLogger(__name__)

UNROUTED_CHECK_SECONDS = 30.0


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    leader: bool = False
    last_position: int = 0
    errors: int = 0
    unrouted: int = 0  # events waiting in {prefix}.unrouted (all services), at the last check


class Relay:
    def __init__(
        self,
        store: EventStore,
        database_url: str,
        amqp_uri: str,
        service: str,
        bus_prefix: str = "seed",
        batch_size: int = 500,
        poll_interval: float = 0.02,
        sleep=time.sleep,
    ):
        # Events go out exactly as stored (no upcasting): what is published
        # must not depend on which replica's code happens to lead.
        self.store = EventStore(store.pool, store.schema)
        self.database_url = database_url
        self.service = service
        self.exchange = exchange_name(bus_prefix, service)
        self.bus_prefix = bus_prefix
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publisher = ConfirmingPublisher(amqp_uri)
        self.stats = RelayStats()
        self._sleep = sleep
        self._lock_conn: psycopg.Connection | None = None
        self._stopping = threading.Event()

    # --- leadership -----------------------------------------------------------

    @property
    def lock_key(self) -> str:
        return f"seed-relay:{self.store.schema}:{self.exchange}"

    def try_lead(self) -> bool:
        """Take the advisory lock if nobody holds it; True if we are the leader."""
        if self._lock_conn is None or self._lock_conn.closed or self._lock_conn.broken:
            self._drop_lock()
            self._lock_conn = db.connect(self.database_url, autocommit=True)
        got = self._lock_conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self.lock_key,)).fetchone()[0]
        if got and not self.stats.leader:
            log.info("relay for %s is now the leader", self.exchange)
        self.stats.leader = bool(got)
        return self.stats.leader

    def _drop_lock(self) -> None:
        self.stats.leader = False
        if self._lock_conn is not None:
            try:
                self._lock_conn.close()
            except psycopg.Error:
                pass
        self._lock_conn = None

    # --- checkpoint -----------------------------------------------------------

    def checkpoint(self) -> int:
        row = self._lock_conn.execute(
            f"SELECT position FROM {self.store.schema}.relay_checkpoint WHERE exchange = %s", (self.exchange,)
        ).fetchone()
        return row[0] if row else 0

    def _save_checkpoint(self, position: int) -> None:
        self._lock_conn.execute(
            f"INSERT INTO {self.store.schema}.relay_checkpoint (exchange, position) VALUES (%s, %s) "
            "ON CONFLICT (exchange) DO UPDATE SET position = excluded.position, updated_at = now()",
            (self.exchange, position),
        )

    # --- publishing -----------------------------------------------------------

    def declare(self) -> None:
        if not self.publisher.connected:
            self.publisher.connect()
        declare_exchange(self.publisher.channel, self.bus_prefix, self.service)

    def publish_batch(self) -> int:
        """Publish the next batch after the checkpoint; the number published."""
        after = self.checkpoint()
        events = self.store.read_all(after, self.batch_size)
        if not events:
            return 0
        messages = [(self.exchange, e.type, event_message(e, self.service)) for e in events]
        self.publisher.publish(messages)
        self._save_checkpoint(events[-1].position)
        self.stats.published += len(events)
        self.stats.batches += 1
        self.stats.last_position = events[-1].position
        return len(events)

    def check_unrouted(self) -> int:
        """How many events wait in the catch-all for events no queue was bound
        for; a growing count is logged, so an unroutable event is noticed."""
        count = self.publisher.channel.queue_declare(unrouted_name(self.bus_prefix), passive=True).message_count
        if count > self.stats.unrouted:
            log.warning("%d event(s) in %s were published with no queue bound for their type; they are kept "
                        "there for 7 days (and in the event log for ever)", count, unrouted_name(self.bus_prefix))
        self.stats.unrouted = count
        return count

    def run(self, stop: threading.Event | None = None) -> None:
        """Lead or stand by until ``stop`` is set; survive broker and database outages."""
        stop = stop or self._stopping
        backoff = self.poll_interval
        next_unrouted_check = 0.0
        while not stop.is_set():
            try:
                if not self.stats.leader and not self.try_lead():
                    self._sleep(1.0)  # standby: check for a vacant lock once a second
                    continue
                if not self.publisher.connected:
                    self.declare()
                published = self.publish_batch()
                backoff = self.poll_interval
                if time.monotonic() >= next_unrouted_check:
                    self.check_unrouted()
                    next_unrouted_check = time.monotonic() + UNROUTED_CHECK_SECONDS
                if published < self.batch_size:
                    # Each batch reads the checkpoint on the lock's session, so a
                    # lost session (and with it the lock) fails the next batch.
                    self._sleep(self.poll_interval)
            except Exception:
                self.stats.errors += 1
                log.exception("relay for %s failed; retrying in %.1fs", self.exchange, backoff)
                self.publisher.close()
                if self._lock_conn is not None and (self._lock_conn.broken or self._lock_conn.closed):
                    log.warning("relay for %s lost its database session, and with it the lock", self.exchange)
                    self._drop_lock()
                self._sleep(backoff)
                backoff = min(backoff * 2 + 0.1, 5.0)
        self.close()

    def stop(self) -> None:
        self._stopping.set()

    def close(self) -> None:
        self.publisher.close()
        self._drop_lock()
