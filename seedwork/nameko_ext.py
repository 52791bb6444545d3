"""Thin Nameko extensions over the plain-Python plumbing.

- ``EventSourcing``: a dependency giving workers the service's event store, and
  running the service's outbox relay (one leader across replicas).
- ``Application``: the service layer, built once per process over that store
  (from its configuration, read when the service starts) and shared by workers.
- ``rpc``: Nameko's RPC entrypoint, refusals expected (logged in one line).
- ``bus_handler``: an entrypoint consuming events of other services from a
  declared durable queue; a failing handler is retried with backoff, then
  dead-lettered, never acked and dropped.

Everything here reads settings through ``seedwork.config`` (environment).
"""
from __future__ import annotations

import inspect
import json
import logging
import threading
import traceback
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable

import kombu
import kombu.serialization
from nameko.exceptions import deserialize_to_instance
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer, QueueConsumer
from nameko.rpc import Rpc as NamekoRpc

from . import config, db, migrations
from .bus import ConsumerQueues
from .consumer import process_once
from .envelope import CLOUDEVENTS_CONTENT_TYPE, Envelope, InvalidEvent, Upcasters, from_cloudevent
from .errors import (ConcurrencyConflict, Conflict, DomainError, Forbidden, IdempotencyKeyReused,
                     InvalidCommand, InvalidQuery, NotFound, PreconditionFailed, ServiceUnavailable, Unauthenticated)
from .relay import Relay
from .store import EventStore

log = logging.getLogger(__name__)

# Messages from the relay are CloudEvents in structured JSON mode.
kombu.serialization.register(
    "cloudevents", encoder=json.dumps, decoder=json.loads,
    content_type=CLOUDEVENTS_CONTENT_TYPE, content_encoding="utf-8",
)

ATTEMPT_HEADER = "x-seed-attempt"

# An RPC caller gets the error itself (a conflict with its stream and
# versions, a refusal with its code and fields), not a generic RemoteError.
for _error in (ConcurrencyConflict, DomainError, InvalidCommand, InvalidQuery, NotFound, Forbidden, Conflict,
               Unauthenticated, PreconditionFailed, IdempotencyKeyReused, ServiceUnavailable):
    deserialize_to_instance(_error)


class ServiceDatabase:
    """What a worker sees as ``self.db``: the store, and exactly-once processing."""

    def __init__(self, store: EventStore, consumer_name: str, relay: Relay | None):
        self.store = store
        self.pool = store.pool
        self.consumer_name = consumer_name
        self._relay = relay

    def health(self) -> dict:
        """Database reachability and this replica's relay role, for /health."""
        with self.pool.connection() as conn:
            conn.execute("SELECT 1")
        stats = self._relay.stats if self._relay else None
        return {
            "database": "ok",
            "schema": self.store.schema,
            "relay": None if stats is None else {
                "leader": stats.leader, "published": stats.published, "errors": stats.errors,
                "unrouted": stats.unrouted,
            },
        }

    def once(self, event: Envelope, effect: Callable) -> bool:
        """Run ``effect(conn)`` in a transaction unless this handler already
        processed ``event``; True if it ran now."""
        ran, _ = process_once(self.pool, self.store.schema, self.consumer_name, event.event_id, effect)
        return ran


class EventSourcing(DependencyProvider):
    """Migrates the service's schema at start-up, opens its pool and runs its relay."""

    def __init__(self, migrations_dir: str | Path | None = None, upcasters: Upcasters | None = None,
                 relay: bool = True, pool_size: int = 10):
        self.migrations_dir = migrations_dir
        self.upcasters = upcasters
        self.run_relay = relay
        self.pool_size = pool_size
        self.relay: Relay | None = None

    def setup(self):
        self.settings = config.load(self.container.service_name)
        folder = Path(self.migrations_dir) if self.migrations_dir else self._default_migrations()
        sources = [(self.container.service_name, folder)] if folder and folder.is_dir() else []
        with db.connect(self.settings.database_url, autocommit=True) as conn:
            applied = migrations.migrate(conn, self.settings.schema, sources)
        if applied:
            log.info("applied migrations to %s: %s", self.settings.schema, ", ".join(applied))
        self.pool = db.make_pool(self.settings.database_url, max_size=self.pool_size,
                                 name=self.container.service_name)
        kwargs = {"upcasters": self.upcasters} if self.upcasters else {}
        self.store = EventStore(self.pool, self.settings.schema, **kwargs)

    def _default_migrations(self) -> Path:
        """``migrations/`` beside the service's module, as ``make migrate`` finds it."""
        return Path(inspect.getfile(self.container.service_cls)).with_name("migrations")

    def start(self):
        if self.run_relay:
            s = self.settings
            self.relay = Relay(self.store, s.database_url, s.amqp_uri, s.service, s.bus_prefix,
                               s.relay_batch_size, s.relay_poll_interval)
            self._relay_stop = threading.Event()
            self._relay_thread = self.container.spawn_managed_thread(
                partial(self.relay.run, self._relay_stop), identifier="outbox-relay")

    def stop(self):
        if self.relay is not None:
            self._relay_stop.set()
            self._relay_thread.wait()
        self.pool.close()

    def kill(self):
        if self.relay is not None:
            # The relay's thread first: closing its connections under it would
            # leave eventlet waiting on a closed socket.
            self._relay_stop.set()
            self._relay_thread.kill()
            self.relay.close()
        self.pool.close()

    def get_dependency(self, worker_ctx):
        name = f"{self.container.service_name}.{worker_ctx.entrypoint.method_name}"
        return ServiceDatabase(self.store, name, self.relay)


class Application(DependencyProvider):
    """``tickets = Application(build, config=load)``: what the service's
    entrypoints call, built once per process as ``build(store, config)`` over
    the store of the service's ``EventSourcing``.

    ``config()`` (the service's settings from the environment) runs when the
    service starts, so a bad setting stops it with a clear error; the
    application itself is built at the first worker, once every dependency's
    ``setup`` (the store's migrations and pool) has run. It is shared by all
    workers: it holds settings and prepared SQL, no per-request state.
    """

    def __init__(self, build: Callable[..., Any], config: Callable[[], Any] | None = None):
        self.build = build
        self.config_factory = config
        self.app = None

    def setup(self):
        self.config = self.config_factory() if self.config_factory else None

    def _store(self) -> EventStore:
        for dependency in self.container.dependencies:
            if isinstance(dependency, EventSourcing):
                return dependency.store
        raise RuntimeError(f"{self.container.service_name} has an Application but no EventSourcing")

    def get_dependency(self, worker_ctx):
        if self.app is None:
            store = self._store()
            self.app = self.build(store, self.config) if self.config_factory else self.build(store)
        return self.app


class Rpc(NamekoRpc):
    """Nameko's RPC entrypoint, with a refused command (a ``DomainError``)
    expected: the caller gets it, and the log says so in one line
    (``context.RefusalsAsInfo``) instead of a traceback."""

    def __init__(self, expected_exceptions=DomainError, **kwargs):
        super().__init__(expected_exceptions=expected_exceptions, **kwargs)


rpc = Rpc.decorator


class DeadLetteringQueueConsumer(QueueConsumer):
    """Nameko's queue consumer, except that a body that cannot even be decoded
    (not JSON, a content type it does not accept) is rejected, so that the
    queue dead-letters it to its DLQ, instead of kombu's default: ack and drop."""

    def on_decode_error(self, message, exc):
        log.error("undecodable message on %s, dead-lettered: %r (content type %r)",
                  message.delivery_info.get("routing_key"), exc, message.content_type)
        message.reject(requeue=False)


class BusEventHandler(Consumer):
    """``@bus_handler("tickets", "ticket.opened")``: the method gets an ``Envelope``.

    Its queue ``{prefix}.{service}.{method}`` is durable and declared with its
    retry ladder and dead-letter queue before consuming starts, so events
    published while the service is down wait for it.
    """

    queue_consumer = DeadLetteringQueueConsumer()

    def __init__(self, source_service: str, *event_types: str, **kwargs):
        self.source_service = source_service
        self.event_types = event_types or ("#",)
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    def setup(self):
        self.settings = config.load(self.container.service_name)
        prefix = self.settings.bus_prefix
        self.queues = ConsumerQueues(
            name=f"{prefix}.{self.container.service_name}.{self.method_name}",
            retry_delays=self.settings.retry_delays,
            bindings=tuple((self.source_service, t) for t in self.event_types),
        )
        with kombu.Connection(self.settings.amqp_uri) as conn:
            self.queues.declare(conn.default_channel, prefix)
        self.queue = self.queues.main_queue(prefix)
        if "cloudevents" not in self.container.accept:
            self.container.accept.append("cloudevents")
        super().setup()

    def handle_message(self, body, message):
        try:
            event = from_cloudevent(body)
        except InvalidEvent as exc:
            # Retrying cannot fix a malformed message: straight to the DLQ.
            self._forward(message, self.queues.dlq, attempt=self._attempt(message), error=repr(exc))
            self.queue_consumer.ack_message(message)
            return
        context = self.unpack_message_headers(message)
        handle_result = partial(self.handle_result, message)
        self.container.spawn_worker(self, (event,), {}, context_data=context, handle_result=handle_result)

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if exc_info is not None:
            attempt = self._attempt(message)
            error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
            expiration = None
            if attempt < len(self.queues.retry_delays):
                target = self.queues.retry_queue(attempt)
                expiration = self.queues.retry_delay(attempt)
                log.warning("%s failed (attempt %d), retrying via %s: %s", self.queues.name, attempt + 1,
                            target, error)
            else:
                target = self.queues.dlq
                log.error("%s failed %d times, dead-lettered to %s: %s", self.queues.name, attempt + 1,
                          target, error)
            # Publish (confirmed) before acking: a crash in between repeats the
            # message, which the handler absorbs; it never loses it.
            self._forward(message, target, attempt + 1, error, expiration)
        self.queue_consumer.ack_message(message)
        return result, exc_info

    @staticmethod
    def _attempt(message) -> int:
        return int((message.headers or {}).get(ATTEMPT_HEADER, 0))

    def _forward(self, message, queue_name: str, attempt: int, error: str, expiration: float | None = None) -> None:
        headers = dict(message.headers or {})
        headers.update({
            ATTEMPT_HEADER: attempt,
            "x-seed-error": error[:2000],
            "x-seed-queue": self.queues.name,
            "x-seed-failed-at": datetime.now(timezone.utc).isoformat(),
        })
        props = message.properties
        # Failures are rare: a short-lived connection is simpler than sharing one
        # between green threads. confirm_publish: publish returns once the broker has it.
        with kombu.Connection(self.settings.amqp_uri, transport_options={"confirm_publish": True}) as conn:
            conn.Producer().publish(
                message.body, exchange="", routing_key=queue_name, headers=headers,
                content_type=message.content_type, content_encoding=message.content_encoding,
                delivery_mode=2, message_id=props.get("message_id"), type=props.get("type"),
                timestamp=props.get("timestamp"), expiration=expiration, mandatory=True, retry=True,
            )


bus_handler = BusEventHandler.decorator
