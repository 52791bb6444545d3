"""RabbitMQ topology and confirmed publishing.

Names (``prefix`` is ``BUS_PREFIX``, ``seed`` by default):

- ``{prefix}.{service}``: one durable topic exchange per service; routing key
  = event type. Its alternate exchange ``{prefix}.unrouted`` catches events
  no queue is bound for, so nothing published vanishes silently.
- ``{prefix}.{service}.{handler}``: a consumer's durable queue, with
  ``.retry.N`` delay queues (messages expire back after their delay) and a ``.dlq``
  dead-letter queue that ops list and replay (``make dlq-list``/``dlq-replay``).
"""
from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Iterable

import amqp
import kombu

from .config import checked_name
from .envelope import CLOUDEVENTS_CONTENT_TYPE, Envelope, to_cloudevent

UNROUTED_TTL_MS = 7 * 24 * 3600 * 1000  # the event log keeps them forever anyway


def exchange_name(prefix: str, service: str) -> str:
    return f"{checked_name(prefix, 'bus prefix')}.{checked_name(service, 'service')}"


def unrouted_name(prefix: str) -> str:
    return f"{checked_name(prefix, 'bus prefix')}.unrouted"


def declare_exchange(channel, prefix: str, service: str) -> kombu.Exchange:
    """The service's event exchange and the catch-all behind it."""
    unrouted = kombu.Exchange(unrouted_name(prefix), type="fanout", durable=True, auto_delete=False)
    unrouted.declare(channel=channel)
    kombu.Queue(
        unrouted_name(prefix), exchange=unrouted, durable=True, auto_delete=False,
        queue_arguments={"x-message-ttl": UNROUTED_TTL_MS},
    ).declare(channel=channel)
    exchange = kombu.Exchange(
        exchange_name(prefix, service), type="topic", durable=True, auto_delete=False,
        arguments={"alternate-exchange": unrouted_name(prefix)},
    )
    exchange.declare(channel=channel)
    return exchange


@dataclass(frozen=True)
class ConsumerQueues:
    """A consumer's queue with its retry ladder and dead-letter queue."""

    name: str
    retry_delays: tuple[float, ...]
    bindings: tuple[tuple[str, str], ...] = field(default=())  # (source service, routing key)

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    def retry_queue(self, attempt: int) -> str:
        return f"{self.name}.retry.{attempt}"

    def retry_delay(self, attempt: int) -> float:
        """Seconds a message waits in ``retry_queue(attempt)`` (at least 1 ms)."""
        return max(0.001, self.retry_delays[attempt])

    def main_queue(self, prefix: str) -> kombu.Queue:
        bindings = [
            kombu.binding(kombu.Exchange(exchange_name(prefix, source), type="topic", durable=True,
                                         auto_delete=False,
                                         arguments={"alternate-exchange": unrouted_name(prefix)}),
                          routing_key=key)
            for source, key in self.bindings
        ]
        return kombu.Queue(
            self.name, bindings=bindings, durable=True, auto_delete=False,
            # A message the consumer rejects (undecodable) goes straight to the DLQ.
            queue_arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.dlq},
        )

    def declare(self, channel, prefix: str) -> None:
        for source, _ in self.bindings:
            declare_exchange(channel, prefix, source)
        self.main_queue(prefix).declare(channel=channel)
        # The delay travels on each message (``expiration``), not on the queue:
        # changing CONSUMER_RETRY_DELAYS then never conflicts with a queue
        # declared earlier. Every message in one retry queue has the same delay,
        # so the one at the head always expires first.
        for attempt in range(len(self.retry_delays)):
            kombu.Queue(
                self.retry_queue(attempt), durable=True, auto_delete=False,
                queue_arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.name},
            ).declare(channel=channel)
        kombu.Queue(self.dlq, durable=True, auto_delete=False).declare(channel=channel)


# --- confirmed publishing ------------------------------------------------------


class PublishFailed(RuntimeError):
    pass


def event_message(event: Envelope, service: str) -> amqp.Message:
    """A persistent AMQP message whose body is the event as a CloudEvent."""
    return amqp.Message(
        json.dumps(to_cloudevent(event, service), separators=(",", ":"), default=str).encode(),
        content_type=CLOUDEVENTS_CONTENT_TYPE,
        content_encoding="utf-8",
        delivery_mode=2,
        message_id=str(event.event_id),
        type=event.type,
        timestamp=int(event.occurred_at.timestamp()),
        application_headers={"position": event.position, "stream_id": event.stream_id},
    )


class ConfirmingPublisher:
    """Publishes with ``mandatory`` and publisher confirms, keeping up to
    ``window`` messages in flight instead of waiting for each confirm."""

    def __init__(self, amqp_uri: str, window: int = 100, confirm_timeout: float = 30.0):
        self.amqp_uri = amqp_uri
        self.window = window
        self.confirm_timeout = confirm_timeout
        self._kombu = None
        self.channel = None

    def connect(self) -> None:
        self.close()
        self._kombu = kombu.Connection(self.amqp_uri, connect_timeout=10, heartbeat=0)
        self._kombu.connect()
        self.channel = self._kombu.channel()
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.channel.events["basic_return"].add(self._on_return)
        self._next_tag = 1
        # Delivery tags not yet acked or nacked. RabbitMQ may confirm out of
        # order, so "the highest tag confirmed so far" proves nothing.
        self._unconfirmed: set[int] = set()
        self._failures: list[str] = []

    @property
    def connected(self) -> bool:
        return self.channel is not None and self._kombu is not None and self._kombu.connected

    def close(self) -> None:
        if self._kombu is not None:
            try:
                self._kombu.close()
            except Exception:  # already broken; nothing to release
                pass
        self._kombu = None
        self.channel = None

    def _settle(self, tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed = {t for t in self._unconfirmed if t > tag}
        else:
            self._unconfirmed.discard(tag)

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._failures.append(f"broker nacked delivery {tag}{' and earlier' if multiple else ''}")
        self._settle(tag, multiple)

    def _on_return(self, exc, exchange, routing_key, message) -> None:
        # Only possible if even the alternate exchange is missing.
        self._failures.append(
            f"unroutable: {message.properties.get('message_id')} to {exchange}/{routing_key}: {exc}"
        )

    def _wait_until(self, in_flight: int) -> None:
        """Process confirms until at most ``in_flight`` deliveries are unconfirmed."""
        while len(self._unconfirmed) > in_flight:
            try:
                self._kombu.connection.drain_events(timeout=self.confirm_timeout)
            except socket.timeout:
                raise PublishFailed(f"no confirm within {self.confirm_timeout}s") from None

    def publish(self, messages: Iterable[tuple[str, str, amqp.Message]]) -> int:
        """Publish (exchange, routing key, message) triples; return when all are
        confirmed, or raise ``PublishFailed`` if any was nacked or returned."""
        if not self.connected:
            self.connect()
        count = 0
        for exchange, routing_key, message in messages:
            if len(self._unconfirmed) >= self.window:
                # Let half the window clear: confirms then arrive (and are
                # read) in groups instead of one per message sent.
                self._wait_until(self.window // 2)
            self.channel.basic_publish(message, exchange=exchange, routing_key=routing_key, mandatory=True)
            self._unconfirmed.add(self._next_tag)
            self._next_tag += 1
            count += 1
        self._wait_until(0)
        if self._failures:
            failures, self._failures = self._failures, []
            raise PublishFailed("; ".join(failures[:5]))
        return count
