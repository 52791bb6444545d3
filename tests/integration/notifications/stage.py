"""The stage of the notifications service's in-process integration tests
(test_dispatch.py, test_teams_and_sla.py; their fixtures are in conftest.py):
a clock the test moves, a small HTTP SMS provider, and one store as the
service hears of it, each event observed in its own transaction."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count

from deploy.local.smtp_sink import SmtpSink
from seedwork.caller import Caller
from seedwork.envelope import SYSTEM, Actor, Envelope, utcnow
from seedwork.store import EventStore
from services.notifications import channels
from services.notifications.application import Notifications
from services.notifications.config import NotificationsConfig
from services.notifications.dispatcher import Transports

from tests.integration.notifications.fakes import FakeTickets
from tests.support.bus import read_all_settled
from tests.support.servers import ROOT

MIGRATIONS = ROOT / "services" / "notifications" / "migrations"
SMS_TOKEN = "sms-test-token"
STORE_NAME = "متجر النخلة"
POSITIONS = count(1)
# The receivers listen on loopback; everything else as a service with nothing set.
CONFIG = NotificationsConfig(allow_private_targets=True)


# --- the clock, the servers, the store ----------------------------------------------------


class Clock:
    """The dispatcher's now: a datetime that moves only when the test says so.

    It starts a little ahead of the database's ``now()`` (which stamps what
    ``observe`` plans and what ``retry`` puts back), so that is due at once;
    and close enough to real time for webhook receivers to accept the
    signature's timestamp (Standard Webhooks allows 5 minutes)."""

    def __init__(self):
        self.now = utcnow().replace(microsecond=0) + timedelta(seconds=30)

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


class SmsProvider:
    """An SMS provider's HTTP API on loopback: records every POST (headers and
    JSON body) and answers ``statuses`` in turn, then 200 with a message id."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, dict]] = []
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with provider._lock:
                    provider.requests.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                    status = provider.statuses.pop(0) if provider.statuses else 200
                answer = json.dumps({"id": f"sms-{uuid.uuid4().hex[:8]}"} if status == 200
                                    else {"error": f"answered {status}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> "SmsProvider":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self.statuses = list(statuses)


def address(tag: str = "shopper") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.sa"


class Shop:
    """One store as the notifications service hears of it: each event observed
    in its own transaction, as the consumer of the bus would hand it over."""

    def __init__(self, app: Notifications):
        self.app = app
        self.tickets = FakeTickets()
        self.id = f"st_{uuid.uuid4().hex[:8]}"
        self.owner_email = address("owner")
        self.owner = Caller("agent", str(uuid.uuid4()), self.id, "owner")
        self.observe("store.created", {"store_id": self.id, "name": STORE_NAME, "owner_id": self.owner.id,
                                       "owner_name": "مالك المتجر", "owner_email": self.owner_email},
                     stream_id=f"store-{self.id}", source="gateway")

    # events in

    def event(self, event_type: str, data: dict, *, stream_id: str | None = None, version: int = 1,
              actor: Actor = SYSTEM) -> Envelope:
        return Envelope(uuid.uuid4(), event_type, 1, stream_id or f"{event_type.split('.')[0]}-{uuid.uuid4()}",
                        version, next(POSITIONS) << 20, self.id, actor, None, None, utcnow(), data)

    def hear(self, event: Envelope, source: str = "tickets") -> list[str]:
        """``observe`` in one transaction (what the store may see asked first, of
        the tickets service's stand-in): the ids of the deliveries it planned."""
        seen = self.app.as_the_store_sees(event, source, self.tickets.store_view_of_event)
        with self.app.store.transaction() as conn:
            return self.app.observe(conn, event, source, seen)

    def observe(self, event_type: str, data: dict, source: str = "tickets", **fields) -> Envelope:
        event = self.event(event_type, data, **fields)
        self.hear(event, source)
        return event

    def customer(self, email: str | None = None, mobile: str | None = None, name: str = "نورة") -> str:
        customer_id = str(uuid.uuid4())
        self.observe("customer.created", {"customer_id": customer_id, "name": name, "email": email, "mobile": mobile,
                                          "source": "agent"}, stream_id=f"customer-{customer_id}", source="customers")
        return customer_id

    def agent(self, email: str, name: str = "سارة") -> str:
        agent_id = str(uuid.uuid4())
        self.observe("agent.created", {"agent_id": agent_id, "name": name, "email": email, "role": "agent"},
                     stream_id=f"agent-{agent_id}", source="gateway")
        return agent_id

    def ticket_opened(self, customer_id: str, subject: str = "الطلب ما وصل") -> Envelope:
        """A ticket.opened event, not yet observed."""
        ticket_id = str(uuid.uuid4())
        return self.event("ticket.opened", {
            "ticket_id": ticket_id, "number": next(POSITIONS) + 1000, "customer_id": customer_id,
            "subject": subject, "type": "general", "priority": "normal", "order_id": None,
            "message": {"id": str(uuid.uuid4()), "body": "طلبي متأخر أسبوع", "attachments": []}},
            stream_id=ticket_id, actor=Actor("customer", customer_id))

    def open_ticket(self, customer_id: str, subject: str = "الطلب ما وصل") -> Envelope:
        event = self.ticket_opened(customer_id, subject)
        self.hear(event)
        return event

    def on_ticket(self, opened: Envelope, event_type: str, data: dict, version: int, actor: Actor) -> Envelope:
        """A later event of the ticket ``opened`` started (its stream, the next version)."""
        return self.observe(event_type, data, stream_id=opened.data["ticket_id"], version=version, actor=actor)

    def message(self, to: str, channel: str = "email", sender_name: str | None = None,
                customer_id: str | None = None) -> Envelope:
        """A direct message from the staff (customer.message_requested)."""
        customer_id = customer_id or str(uuid.uuid4())
        return self.observe("customer.message_requested", {
            "message_id": str(uuid.uuid4()), "customer_id": customer_id, "customer_name": "نورة", "to": to,
            "sender_name": sender_name, "channel": channel, "body": "طلبك جاهز للاستلام",
            "subject": "طلبك جاهز" if channel == "email" else None},
            stream_id=f"customer-{customer_id}", actor=Actor("agent", self.owner.id), source="customers")

    # the delivery log

    def log(self, **query) -> list[dict]:
        return self.app.list_deliveries(self.owner, {"limit": 100, **query})["items"]

    def delivery(self, delivery_id: str) -> dict:
        [found] = [d for d in self.log() if d["id"] == delivery_id]
        return found

    def attempts(self, delivery_id: str) -> list[dict]:
        with self.app.store.pool.connection() as conn:
            return self.app.deliveries.attempts(conn, [delivery_id])[delivery_id]


def transports(smtp_port: int, sms_url: str = "http://127.0.0.1:9/") -> Transports:
    """Real clients of real servers (the default SMS URL: for tests that send no SMS)."""
    return Transports(email=channels.SmtpSender("127.0.0.1", smtp_port, tls="none", timeout=5),
                      sms=channels.HttpSmsProvider(sms_url, SMS_TOKEN, timeout=5),
                      webhook=channels.WebhookPoster(timeout=5))


def mail_to(sink: SmtpSink, to: str) -> list:
    return [m for m in sink.messages() if to in str(m["To"])]


def emitted(store: EventStore, event_type: str, at_least: int = 1) -> list[Envelope]:
    """The service's events of ``event_type``, in global order, once ``at_least`` are visible."""
    return read_all_settled(store, 0, at_least, event_type=event_type)
