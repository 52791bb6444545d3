"""A private corner of the broker for integration tests, and reading what
arrives there: exchanges and queues under a unique prefix, removed afterwards."""
from __future__ import annotations

import json
import time
import uuid

import kombu

from seedwork.bus import ConsumerQueues, exchange_name, unrouted_name
from seedwork.config import SERVICES

from .servers import AMQP_URI


class Bus:
    """A private corner of the broker: names under a unique prefix."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.connection = kombu.Connection(AMQP_URI)
        self.channel = self.connection.channel()
        self.queues: set[str] = {unrouted_name(prefix)}

    def exchange(self, service: str) -> str:
        return exchange_name(self.prefix, service)

    def track(self, *names: str) -> None:
        self.queues.update(names)

    def track_consumer(self, queues: ConsumerQueues) -> None:
        self.track(queues.name, queues.dlq, *(queues.retry_queue(i) for i in range(len(queues.retry_delays))))

    def bind_queue(self, service: str, routing_key: str = "#") -> str:
        """A durable queue receiving the service's events (declares the exchange)."""
        from seedwork.bus import declare_exchange

        exchange = declare_exchange(self.channel, self.prefix, service)
        name = f"{self.prefix}.test.{uuid.uuid4().hex[:6]}"
        kombu.Queue(name, exchange=exchange, routing_key=routing_key, durable=True).declare(channel=self.channel)
        self.track(name)
        return name

    def depth(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).message_count

    def drain(self, queue: str, expect: int | None = None, timeout: float = 15.0) -> list:
        """Get and ack messages; with ``expect``, wait until that many arrived."""
        got, deadline = [], time.monotonic() + timeout
        while True:
            message = self.channel.basic_get(queue, no_ack=True)
            if message is not None:
                got.append(message)
                continue
            if expect is None or len(got) >= expect or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def close(self) -> None:
        for name in self.queues:
            self._quietly(self.channel.queue_delete, name)
        for service in (*SERVICES, "probe"):
            self._quietly(self.channel.exchange_delete, exchange_name(self.prefix, service))
        self._quietly(self.channel.exchange_delete, unrouted_name(self.prefix))
        self.connection.release()

    def _quietly(self, operation, name) -> None:
        try:
            operation(name)
        except Exception:  # the broker closes the channel on an error: reopen it
            self.channel = self.connection.channel()


def cloudevent(message) -> dict:
    return json.loads(message.body)


def read_all_settled(store, after: int, count: int, timeout: float = 10.0, event_type: str | None = None):
    """``read_all`` once ``count`` events (of ``event_type``, with one) are
    visible. Any transaction running anywhere in the cluster briefly holds the
    reader back (by design: it may still commit below), and other tests or
    processes run transactions too."""
    deadline = time.monotonic() + timeout
    while True:
        events = store.read_all(after, limit=100_000)
        if event_type is not None:
            events = [e for e in events if e.type == event_type]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.02)
