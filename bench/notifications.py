"""Notifications: how fast the delivery loop empties its queue, and how long a
ticket reply takes to reach the shopper's mailbox.

Part 1, throughput, in this process: ``deliveries`` email deliveries (and as
many webhook deliveries) are planned in a fresh notifications schema, then the
real ``Dispatcher`` sends them with ``SEND_THREADS`` at once (the service uses
a green pool of the same size), through the real ``SmtpSender`` to the local
SMTP sink (deploy/local/smtp_sink.py, in memory) and the real
``WebhookPoster`` to a local HTTP receiver. The clock runs from the first
claim to the last message's arrival. Same-run baselines, same servers, same
concurrency: ``smtplib`` sending the same number of ready-made messages (one
connection per message, as ours), and ``requests`` posting the same signed
body (a keep-alive session per thread). What ours adds: claiming with a
lease, rendering the templates (text and HTML), building the MIME message,
signing, and recording each attempt in PostgreSQL.

Part 2, latency, through the whole system: tickets, customers,
notifications and the gateway as real processes (``processes.System``), the
SMTP sink in this process. A staff member replies to a shopper's ticket
(``POST /v1/tickets/{id}/replies``), one reply at a time; latency = the
sink's receipt of the email carrying that reply - the moment the request
was sent. The path: the tickets service commits, its relay publishes, the
notifications service plans the delivery and its send loop mails it.
"""
from __future__ import annotations

import json
import smtplib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from psycopg.types.json import Jsonb

from deploy.local.smtp_sink import SmtpSink
from seedwork import db, migrations
from seedwork.store import EventStore
from seedwork.caller import Caller
from services.notifications.channels import LoggingSmsProvider, SmtpSender, WebhookPoster
from services.notifications.config import NotificationsConfig
from services.notifications.deliveries import Deliveries
from services.notifications.dispatcher import Dispatcher, Transports
from services.notifications.planning import Planned
from services.notifications.signing import sign_headers
from services.notifications.webhooks import WebhookEndpoints

from .common import Scratch, Settings, log, median, percentile
from tests.support.servers import vhosts_unavailable

from .processes import Client, System
from .report import Row, Verdict

MIGRATIONS = Path(__file__).resolve().parent.parent / "services" / "notifications" / "migrations"
SEND_THREADS = 10  # services/notifications/dependencies.py SEND_CONCURRENCY
STORE_NAME = "متجر القياس"
BODY = ("مرحباً نورة، شحنتك خرجت اليوم من المستودع ورقم التتبع بيوصلك برسالة ثانية. شكراً لصبرك. "
        "Hello Noura, your parcel left the warehouse today; the tracking number follows.")
REPLY_SPACING = 0.05  # seconds between one reply's email arriving and the next reply
WAIT = 60.0


# --- part 1: the delivery loop --------------------------------------------------------------


class Receiver:
    """A webhook receiver answering 204 to every POST, counting them."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.expect = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver.lock:
                    receiver.count += 1
                    if receiver.count >= receiver.expect:
                        receiver.done.set()

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True, name="bench-receiver").start()

    def expecting(self, n: int) -> None:
        with self.lock:
            self.count, self.expect = 0, n
            self.done.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Counter:
    """Counts the sink's arrivals; ``done`` is set at the expected number."""

    def __init__(self):
        self.count, self.expect = 0, 0
        self.lock = threading.Lock()
        self.done = threading.Event()

    def __call__(self, received) -> None:
        with self.lock:
            self.count += 1
            if self.count >= self.expect:
                self.done.set()

    def expecting(self, n: int) -> None:
        with self.lock:
            self.count, self.expect = 0, n
            self.done.clear()


def plan(store: EventStore, store_id: str, channel: str, n: int, endpoint_id: str | None) -> None:
    """``n`` due deliveries of the store (and, for webhooks, the events they carry)."""
    deliveries = Deliveries(store.schema)
    with store.transaction() as conn:
        for i in range(n):
            event_id = str(uuid.uuid4())
            if channel == "email":
                planned = Planned("email", f"address:shopper{i}@example.sa", "direct_message", {
                    "customer_name": "نورة", "subject": f"طلبك رقم {1000 + i}", "body": BODY})
            else:
                planned = Planned("webhook", f"webhook:{endpoint_id}", context={"followed": False},
                                  endpoint_id=endpoint_id)
                conn.execute(f"INSERT INTO {store.schema}.received_events (event_id, store_id, type, cloudevent) "
                             "VALUES (%s, %s, %s, %s)",
                             (event_id, store_id, "ticket.replied", Jsonb(cloudevent(event_id, store_id, i))))
            deliveries.add(conn, store_id, event_id, "customer.message_requested", [planned])


def cloudevent(event_id: str, store_id: str, i: int) -> dict:
    return {"specversion": "1.0", "id": event_id, "source": "/seed/tickets", "type": "ticket.replied",
            "subject": str(uuid.uuid4()), "time": "2026-11-23T12:00:00Z", "storeid": store_id,
            "datacontenttype": "application/json", "actorkind": "agent", "actorid": "ag_bench",
            "data": {"message_id": str(uuid.uuid4()), "body": BODY, "attachments": []}}


def drain(dispatcher: Dispatcher, pool: ThreadPoolExecutor, finished: threading.Event, n: int) -> float:
    """Run the loop until the servers got ``n`` messages; seconds from the first claim."""
    started = time.perf_counter()
    deadline = started + WAIT
    while not finished.is_set():
        if dispatcher.run_once(limit=50, spawn_map=pool.map) == 0:
            finished.wait(0.01)
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the dispatcher did not deliver {n} messages within {WAIT:g}s")
    return time.perf_counter() - started


def raw_smtp(port: int, n: int, counter: Counter) -> float:
    messages = []
    for i in range(n):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = "no-reply@seed.local", f"shopper{i}@example.sa", f"طلبك رقم {1000 + i}"
        m["Message-ID"] = f"<{uuid.uuid4()}@seed.local>"
        m.set_content(BODY)
        m.add_alternative(f"<p>{BODY}</p>", subtype="html")
        messages.append(m)

    def send(m):
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(m)

    return timed_sends(counter, messages, send, "the sink")


def timed_sends(arrivals, items: list, send, who: str) -> float:
    """Seconds to ``send`` every item from ``SEND_THREADS`` threads until ``arrivals`` saw them all."""
    arrivals.expecting(len(items))
    started = time.perf_counter()
    with ThreadPoolExecutor(SEND_THREADS) as pool:
        list(pool.map(send, items))
    if not arrivals.done.wait(WAIT):
        raise RuntimeError(f"{who} did not get every raw send")
    return time.perf_counter() - started


def raw_posts(receiver: Receiver, n: int, secret: str) -> float:
    bodies = []
    for i in range(n):
        event_id = str(uuid.uuid4())
        body = json.dumps(cloudevent(event_id, "st_bench", i), ensure_ascii=False, separators=(",", ":")).encode()
        bodies.append((body, {**sign_headers(event_id, body, [secret], int(time.time())),
                              "Content-Type": "application/json"}))
    local = threading.local()

    def post(item):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.trust_env = False
        session.post(receiver.url, data=item[0], headers=item[1], timeout=10).raise_for_status()

    return timed_sends(receiver, bodies, post, "the receiver")


def throughput(settings: Settings, scratch: Scratch, n: int) -> tuple[list[Row], list[str]]:
    section = "11. Notifications delivered per second (higher is better)"
    schema = f"{settings.prefix}_notify"
    scratch.schemas.append(schema)
    with db.connect(settings.database_url, autocommit=True) as conn:
        migrations.migrate(conn, schema, [("notifications", MIGRATIONS)])
    pool = db.make_pool(settings.database_url, min_size=2, max_size=SEND_THREADS + 4, name="bench-notify")
    counter = Counter()
    sink = SmtpSink(keep=False, on_message=counter).start()
    receiver = Receiver()
    config = NotificationsConfig(allow_private_targets=True)  # the receiver is on loopback
    store = EventStore(pool, schema)
    store_id = f"st_{uuid.uuid4().hex[:8]}"
    rates: dict[str, list[float]] = {"email": [], "smtp": [], "webhook": [], "http": []}
    try:
        with store.transaction() as conn:
            conn.execute(f"INSERT INTO {schema}.stores (store_id, name, owner_email) VALUES (%s, %s, %s)",
                         (store_id, STORE_NAME, "owner@example.sa"))
            conn.execute(f"INSERT INTO {schema}.store_settings (store_id, email_quota_per_hour) VALUES (%s, %s)",
                         (store_id, 10_000_000))
            caller = Caller("agent", "ag_bench", store_id, "owner")
            endpoint = WebhookEndpoints(store, config.allow_private_targets).create(
                conn, caller, {"url": receiver.url, "events": ["*"]})
        transports = Transports(email=SmtpSender("127.0.0.1", sink.port, tls="none"), sms=LoggingSmsProvider(),
                                webhook=WebhookPoster())
        dispatcher = Dispatcher(store, transports, config)
        with ThreadPoolExecutor(SEND_THREADS) as threads:
            for r in range(settings.rounds):
                plan(store, store_id, "email", n, None)
                counter.expecting(n)
                rates["email"].append(n / drain(dispatcher, threads, counter.done, n))
                rates["smtp"].append(n / raw_smtp(sink.port, n, counter))
                plan(store, store_id, "webhook", n, endpoint["id"])
                receiver.expecting(n)
                rates["webhook"].append(n / drain(dispatcher, threads, receiver.done, n))
                rates["http"].append(n / raw_posts(receiver, n, endpoint["secret"]))
                log(f"notifications round {r + 1}/{settings.rounds}: email {rates['email'][-1]:,.0f}/s "
                    f"(smtplib {rates['smtp'][-1]:,.0f}/s), webhooks {rates['webhook'][-1]:,.0f}/s "
                    f"(requests {rates['http'][-1]:,.0f}/s)")
        with pool.connection() as conn:
            sent = conn.execute(f"SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FROM {schema}.deliveries"
                                ).fetchone()
        if sent[0] != sent[1]:
            raise RuntimeError(f"only {sent[0]} of {sent[1]} deliveries recorded as sent")
    finally:
        receiver.stop()
        sink.stop()
        pool.close()
    rows = []
    for ours, raw, what, baseline in (("email", "smtp", "email to the local SMTP sink", "raw smtplib"),
                                      ("webhook", "http", "signed webhooks to a local receiver", "raw requests")):
        rows.append(Row(section, f"{what}, {n} per round, {SEND_THREADS} at once", f"{median(rates[ours]):,.0f}/s",
                        f"{median(rates[raw]):,.0f}/s ({baseline})", median(rates[ours]) / median(rates[raw]),
                        "ours/raw", spread=f"{min(rates[ours]):,.0f}..{max(rates[ours]):,.0f} | "
                                           f"{min(rates[raw]):,.0f}..{max(rates[raw]):,.0f}"))
    notes = ["notifications: the dispatcher runs in the bench process with threads (the service: green threads); "
             "each delivery is claimed, rendered, sent and recorded in PostgreSQL; the baselines only send"]
    return rows, notes


# --- part 2: reply -> mailbox -------------------------------------------------------------


def latency(settings: Settings, scratch: Scratch, replies: int) -> tuple[list[Row], list[str]]:
    section = "12. Ticket reply -> email in the mailbox (ms; lower is better)"
    why_not = vhosts_unavailable()
    if why_not:
        return [Row(section, "skipped", why_not)], [f"notifications latency skipped: {why_not}"]
    arrivals: dict[str, float] = {}
    arrived = threading.Condition()

    def on_message(received) -> None:
        text = received.message.get_body(preferencelist=("plain",)).get_content()
        marker = next((w for w in text.split() if w.startswith("BENCH-")), None)
        with arrived:
            if marker:
                arrivals[marker] = time.perf_counter()
            arrived.notify_all()

    sink = SmtpSink(keep=False, on_message=on_message).start()
    system = System(settings, scratch, ("tickets", "customers", "notifications", "gateway"), env={
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port), "SMTP_TLS": "none"})
    p50s, p99s = [], []
    try:
        system.start()
        client = Client(system.base_url)
        store = system.new_store(client, "Bench notifications store")
        staff = system.new_agent(client, store)["token"]
        for r in range(settings.rounds):
            customer = client.call("POST", "/v1/customers", store.owner_token, 201, json={
                "name": "نورة", "mobile": f"+96650{uuid.uuid4().int % 10**7:07d}",
                "email": f"bench-{uuid.uuid4().hex[:8]}@example.sa"})["id"]
            token = client.call("POST", f"/v1/customers/{customer}/sessions", store.owner_token, 201)["token"]
            ticket = client.call("POST", "/v1/tickets", token, 201, json={"subject": "وين طلبي؟", "body": BODY})
            samples = []
            for i in range(replies + 1):  # the first warms the path up and is not counted
                marker = f"BENCH-{uuid.uuid4().hex[:12]}"
                sent = time.perf_counter()
                client.call("POST", f"/v1/tickets/{ticket['id']}/replies", staff, 200,
                            json={"body": f"{marker} {BODY}"})
                with arrived:
                    if not arrived.wait_for(lambda marker=marker: marker in arrivals, WAIT):
                        raise RuntimeError(f"the reply's email did not arrive within {WAIT:g}s:\n{system.logs()}")
                if i:
                    samples.append((arrivals[marker] - sent) * 1e3)
                time.sleep(REPLY_SPACING)
            p50s.append(percentile(samples, 50))
            p99s.append(percentile(samples, 99))
            log(f"reply->mailbox round {r + 1}/{settings.rounds}: p50 {p50s[-1]:.0f} ms, p99 {p99s[-1]:.0f} ms")
        client.close()
    finally:
        system.stop()
        sink.stop()
    what = f"{replies} replies one at a time"
    rows = [Row(section, f"{what}: p50", f"{median(p50s):.0f}", spread=f"{min(p50s):.0f}..{max(p50s):.0f}"),
            Row(section, f"{what}: p99", f"{median(p99s):.0f}", spread=f"{min(p99s):.0f}..{max(p99s):.0f}")]
    notes = ["reply->mailbox: the HTTP request, the tickets relay's poll (20 ms), the bus, the notifications "
             "service's plan and its send loop, SMTP; four services on this machine's cores"]
    return rows, notes


def run(settings: Settings, scratch: Scratch) -> tuple[list[Row], list[Verdict], list[str]]:
    n = 300 if settings.quick else 1000
    rows, notes = throughput(settings, scratch, n)
    more, more_notes = latency(settings, scratch, 20 if settings.quick else 50)
    return rows + more, [], notes + more_notes
