"""One KPI, tickets opened per day, built from the platform's event feed over
HTTP and then kept up to date from the bus.

It is ``analytics_consumer.AnalyticsConsumer`` with another history: the
durable queue is bound first, then the past is read from ``GET /v1/events``
(every service's events merged, ``source=all``, page after page by the opaque
cursor) instead of from the event stores, then the queue is followed. Both
carry each event's ``source`` and ``position``, so the consumer's
per-source positions skip what the feed already gave: no gap, no duplicate.
The counts, the positions and the cursor are saved together in one file
(written, then renamed), so a restart neither loses nor counts twice.

    HELPDESK_PLATFORM_KEY=... python examples/feed_kpi.py --api http://127.0.0.1:8000 \\
        --queue analytics.kpi --state var/kpi.json [--store STORE_ID]

Following the bus is for the platform's own analytics (the bus is not scoped
to a store): the feed is read with the platform key (``--token``, default
``$HELPDESK_PLATFORM_KEY``), of one store with ``--store`` (the bus's events
are then filtered to it too). Each change of a day's count is printed as a
JSON line: ``{"day": "2026-11-23", "tickets_opened": 12}``. Settings of the
bus come from the services' environment (AMQP_URI, BUS_PREFIX).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from analytics_consumer import AnalyticsConsumer  # noqa: E402
from seedwork import config  # noqa: E402

log = logging.getLogger("feed-kpi")
SOURCES = ("tickets", "customers", "notifications", "gateway")  # every source of GET /v1/events?source=all


class TicketsPerDay(AnalyticsConsumer):
    def __init__(self, api: str, token: str, store_id: str | None, amqp_uri: str, queue: str, bus_prefix: str,
                 state: Path | None):
        saved = json.loads(state.read_text()) if state and state.exists() else {}
        self.api, self.token, self.store_id, self.state = api.rstrip("/"), token, store_id, state
        self.cursor: str | None = saved.get("cursor")
        self.per_day: dict[str, int] = saved.get("tickets_opened", {})
        super().__init__(amqp_uri, queue, dict.fromkeys(SOURCES), bus_prefix, self.count,
                         saved.get("positions"), lambda positions: self.save())

    def history(self, page: int = 1000) -> Iterator[list[dict]]:
        """The feed over HTTP from the saved cursor, until it gives the same cursor back."""
        while True:
            query = {"cursor": self.cursor} if self.cursor else {"source": "all"}
            query |= {"limit": page} | ({"store_id": self.store_id} if self.store_id else {})
            request = urllib.request.Request(f"{self.api}/v1/events?{urllib.parse.urlencode(query)}",
                                             headers={"Authorization": f"Bearer {self.token}"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                body = json.load(answer)
            caught_up = body["next_cursor"] == self.cursor
            self.cursor = body["next_cursor"]  # saved with the positions once this page is handled
            yield body["items"]
            if caught_up:
                return

    def count(self, event: dict) -> None:
        """The KPI: a ``ticket.opened`` counts on the day (UTC) it happened."""
        if event["type"] != "ticket.opened" or self.store_id not in (None, event.get("storeid")):
            return
        day = event["time"][:10]
        self.per_day[day] = self.per_day.get(day, 0) + 1
        print(json.dumps({"day": day, "tickets_opened": self.per_day[day]}), flush=True)

    def save(self) -> None:
        if self.state:  # write-then-rename: a crash never leaves a torn file
            tmp = self.state.with_suffix(".tmp")
            tmp.write_text(json.dumps({"tickets_opened": self.per_day, "positions": self.positions,
                                       "cursor": self.cursor}))
            os.replace(tmp, self.state)


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", required=True, help="the gateway's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--queue", required=True, help="this consumer's durable queue")
    parser.add_argument("--state", type=Path, help="file keeping the counts, positions and cursor")
    parser.add_argument("--store", help="one store's tickets (default: every store's)")
    parser.add_argument("--token", default=os.environ.get("HELPDESK_PLATFORM_KEY"), help="the platform key")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or HELPDESK_PLATFORM_KEY) is required")
    settings = config.load("tickets")
    TicketsPerDay(args.api, args.token, args.store, settings.amqp_uri, args.queue, settings.bus_prefix,
                  args.state).run()


if __name__ == "__main__":
    main()
