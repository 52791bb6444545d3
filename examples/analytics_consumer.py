"""An analytics consumer written with plain pika: no Nameko, no service code.

It owns a durable queue bound to the services' event exchanges, so nothing
published while it is down is lost. On start it first catches up from the
event history (``read_all`` from its last position, 0 the first time), then
follows the live stream. It remembers the last global position it handled per
source service, so the overlap between history and live messages, and any
re-send after a relay crash, is skipped: no gap, no duplicate.

    python examples/analytics_consumer.py --queue analytics.demo \\
        --services tickets,customers --state var/analytics.json

Each handled event is written as one JSON line (the CloudEvent) to --output
(stdout by default). Settings come from the same environment as the services
(AMQP_URI, DATABASE_URL or <SERVICE>_DATABASE_URL, <SERVICE>_DB_SCHEMA, BUS_PREFIX).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Callable, Iterator

import pika

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seedwork import config, db  # noqa: E402
from seedwork.envelope import to_cloudevent  # noqa: E402
from seedwork.store import EventStore  # noqa: E402

log = logging.getLogger("analytics")


class AnalyticsConsumer:
    def __init__(self, amqp_uri: str, queue: str, histories: dict[str, EventStore | None], bus_prefix: str,
                 handle: Callable[[dict], None], positions: dict[str, int] | None = None,
                 save_positions: Callable[[dict], None] = lambda positions: None):
        self.amqp_uri = amqp_uri
        self.queue = queue
        self.histories = histories  # each followed service's event store (None where ``history`` is overridden)
        self.services = list(histories)
        self.bus_prefix = bus_prefix
        self.handle = handle
        self.positions = {service: 0 for service in histories} | dict(positions or {})
        self.save_positions = save_positions
        self.skipped = 0

    def _accept(self, event: dict) -> bool:
        """Handle the event unless its source's position was already passed."""
        source = event["source"].rsplit("/", 1)[-1]
        if int(event["position"]) <= self.positions.get(source, 0):
            self.skipped += 1
            return False
        self.handle(event)
        self.positions[source] = int(event["position"])
        return True

    def bind(self, channel) -> None:
        """The durable queue and its bindings, before catching up: every event
        published from here on waits in the queue."""
        channel.queue_declare(self.queue, durable=True)
        for service in self.services:
            exchange = f"{self.bus_prefix}.{service}"
            channel.exchange_declare(exchange, "topic", durable=True,
                                     arguments={"alternate-exchange": f"{self.bus_prefix}.unrouted"})
            channel.queue_bind(self.queue, exchange, routing_key="#")

    def history(self, page: int = 1000) -> Iterator[list[dict]]:
        """The events published before the bind, page after page, as CloudEvents:
        here each service's event store read directly (``read_all``) from the
        position handled last. Another history (the HTTP feed, say) overrides this."""
        for service, store in self.histories.items():
            while events := store.read_all(self.positions[service], page):
                yield [to_cloudevent(envelope, service) for envelope in events]

    def catch_up(self, keep_alive=lambda: None) -> int:
        handled = 0
        for page in self.history():
            for event in page:
                handled += self._accept(event)
            self.save_positions(self.positions)
            keep_alive()  # a long history must not starve the broker connection's heartbeats
        log.info("caught up from history: %d events", handled)
        return handled

    def run(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_uri))
        channel = connection.channel()
        self.bind(channel)
        self.catch_up(keep_alive=lambda: connection.process_data_events(time_limit=0))
        channel.basic_qos(prefetch_count=200)

        def on_message(ch, method, properties, body):
            if self._accept(json.loads(body)):
                self.save_positions(self.positions)
            ch.basic_ack(method.delivery_tag)  # after handling: a crash re-delivers, never drops

        channel.basic_consume(self.queue, on_message)
        signal.signal(signal.SIGTERM, lambda *_: channel.stop_consuming())
        log.info("following the live stream on %s", self.queue)
        try:
            channel.start_consuming()
        except KeyboardInterrupt:
            pass
        finally:
            log.info("stopped; %d duplicate(s) skipped", self.skipped)
            connection.close()


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue", required=True, help="this consumer's durable queue")
    parser.add_argument("--services", default="tickets,customers,notifications")
    parser.add_argument("--state", type=Path, help="file remembering the last position per service")
    parser.add_argument("--output", type=Path, help="JSON lines file (default: stdout)")
    args = parser.parse_args(argv)

    services = [s.strip() for s in args.services.split(",") if s.strip()]
    histories = {}
    for service in services:
        settings = config.load(service)
        histories[service] = EventStore(db.make_pool(settings.database_url, max_size=1), settings.schema)
    positions = json.loads(args.state.read_text()) if args.state and args.state.exists() else {}

    def save_positions(current):
        if args.state:  # write-then-rename: a crash never leaves a torn file
            tmp = args.state.with_suffix(".tmp")
            tmp.write_text(json.dumps(current))
            os.replace(tmp, args.state)

    out = open(args.output, "a") if args.output else sys.stdout

    def handle(event):
        out.write(json.dumps(event) + "\n")
        out.flush()

    settings = config.load(services[0])
    AnalyticsConsumer(settings.amqp_uri, args.queue, histories, settings.bus_prefix, handle,
                      positions, save_positions).run()


if __name__ == "__main__":
    main()
