"""Ops commands: ``python -m seedwork <command>`` (the Makefile calls these).

  migrate [SERVICE ...]        create the database, migrate each service's schema,
                               declare its exchange and its consumers' queues
  relay SERVICE                run one outbox relay in the foreground (stands by
                               while another holds the lock)
  dlq list                     dead-letter queues and how many messages wait in each
  dlq show QUEUE [--limit N]   the dead-lettered messages of one consumer queue
  dlq replay QUEUE [--limit N] move them back to the consumer queue, attempts reset
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from . import config, db, migrations

ROOT = Path(__file__).resolve().parent.parent


def service_migrations(service: str) -> list[tuple[str, Path]]:
    folder = ROOT / "services" / service / "migrations"
    return [(service, folder)] if folder.is_dir() else []


def service_class(service: str):
    module = importlib.import_module(f"services.{service}.service")
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if getattr(cls, "name", None) == service and cls.__module__ == module.__name__:
            return cls
    raise LookupError(f"no Nameko service named {service!r} in {module.__name__}")


def consumer_queues(service: str, cls=None):
    """The queues of every ``@bus_handler`` a service class declares."""
    from .bus import ConsumerQueues
    from .nameko_ext import BusEventHandler

    settings = config.load(service)
    cls = cls or service_class(service)
    found = []
    for method_name, method in inspect.getmembers(cls, callable):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, BusEventHandler):
                found.append(ConsumerQueues(
                    name=f"{settings.bus_prefix}.{service}.{method_name}",
                    retry_delays=settings.retry_delays,
                    bindings=tuple((entrypoint.source_service, t) for t in entrypoint.event_types),
                ))
    return found


def has_event_store(cls) -> bool:
    from .nameko_ext import EventSourcing

    return any(isinstance(v, EventSourcing) for _, v in inspect.getmembers(cls))


def cmd_migrate(services: list[str]) -> None:
    import kombu

    from .bus import declare_exchange

    for service in services:
        settings = config.load(service)
        if has_event_store(service_class(service)):
            if db.ensure_database(settings.database_url):
                print(f"created database for {service}")
            with db.connect(settings.database_url, autocommit=True) as conn:
                applied = migrations.migrate(conn, settings.schema, service_migrations(service))
            print(f"{service}: schema {settings.schema} "
                  + (f"migrated: {', '.join(applied)}" if applied else "up to date"))
        with kombu.Connection(settings.amqp_uri, connect_timeout=10) as conn:
            channel = conn.default_channel
            declare_exchange(channel, settings.bus_prefix, service)
            queues = consumer_queues(service)
            for queue in queues:
                queue.declare(channel, settings.bus_prefix)
        print(f"{service}: exchange {settings.exchange} and {len(queues)} consumer queue(s) declared")


def cmd_relay(service: str) -> None:
    from .relay import Relay
    from .store import EventStore

    settings = config.load(service)
    pool = db.make_pool(settings.database_url, max_size=2)
    relay = Relay(EventStore(pool, settings.schema), settings.database_url, settings.amqp_uri, service,
                  settings.bus_prefix, settings.relay_batch_size, settings.relay_poll_interval)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"relay for {settings.exchange} running (pid lock key {relay.lock_key!r})", flush=True)
    relay.run(stop)
    pool.close()


def _all_dlqs():
    return [q for service in config.SERVICES for q in consumer_queues(service)]


def cmd_dlq(action: str, queue: str | None, limit: int) -> int:
    import kombu

    amqp_uri = config.load("gateway").amqp_uri
    # confirm_publish: a replayed message is acked off the DLQ only once the broker has it.
    with kombu.Connection(amqp_uri, connect_timeout=10, transport_options={"confirm_publish": True}) as conn:
        channel = conn.default_channel
        if action == "list":
            for q in _all_dlqs():
                _, count, _ = channel.queue_declare(q.dlq, passive=True)
                print(f"{q.dlq}\t{count}")
            return 0
        if not queue:
            print("dlq show/replay need the consumer queue name (see 'dlq list')", file=sys.stderr)
            return 2
        dlq = queue if queue.endswith(".dlq") else f"{queue}.dlq"
        target = dlq[: -len(".dlq")]
        moved = 0
        while moved < limit:
            message = channel.basic_get(dlq, no_ack=False)
            if message is None:
                break
            headers = dict(message.headers or {})
            if action == "show":
                print(json.dumps({
                    "message_id": message.properties.get("message_id"),
                    "type": message.properties.get("type"),
                    "attempts": headers.get("x-seed-attempt"),
                    "error": headers.get("x-seed-error"),
                    "failed_at": headers.get("x-seed-failed-at"),
                }, default=str))
            else:
                headers["x-seed-attempt"] = 0
                headers["x-seed-replayed"] = True
                conn.Producer(channel=channel).publish(
                    message.body, exchange="", routing_key=target, headers=headers,
                    content_type=message.content_type, content_encoding=message.content_encoding,
                    delivery_mode=2, message_id=message.properties.get("message_id"),
                    type=message.properties.get("type"), mandatory=True,
                )
                channel.basic_ack(message.delivery_tag)
            moved += 1
        if action == "show":
            # Unacked messages return to the queue when the channel closes.
            channel.basic_recover(requeue=True)
        else:
            print(f"replayed {moved} message(s) from {dlq} to {target}")
    return 0


def main(argv=None) -> int:
    from .launch import quiet_eventlet_notice

    quiet_eventlet_notice()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m seedwork", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("migrate")
    p.add_argument("services", nargs="*", default=list(config.SERVICES))
    p = sub.add_parser("relay")
    p.add_argument("service")
    p = sub.add_parser("dlq")
    p.add_argument("action", choices=["list", "show", "replay"])
    p.add_argument("queue", nargs="?")
    p.add_argument("--limit", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    if args.command == "migrate":
        cmd_migrate(args.services)
    elif args.command == "relay":
        cmd_relay(args.service)
    elif args.command == "dlq":
        return cmd_dlq(args.action, args.queue, args.limit)
    return 0
