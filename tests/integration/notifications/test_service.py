"""The notifications service as Nameko runs it, in this process: its bus
handlers, its send loop and its RPC entrypoints on the real PostgreSQL and
RabbitMQ, with the development SMTP sink as its mail server. What lies
outside the bounded context, the tickets service, is a hand-written fake.

Events are published on the container's exchanges as the other services'
relays publish them; each story waits for what the service does with them
(a mail in the sink, a row in its delivery log), never for a fixed time."""
from __future__ import annotations

import itertools
import os
import uuid
from datetime import datetime, timezone

import kombu
import pytest
from nameko.testing.services import entrypoint_hook

from seedwork import db
from seedwork.bus import ConfirmingPublisher, event_message, exchange_name
from seedwork.envelope import SYSTEM, Actor, Envelope
from seedwork.errors import IdempotencyKeyReused
from seedwork.idempotency import fingerprint
from services.notifications.service import NotificationsService
from tests.integration.notifications.fakes import FakeTickets
from tests.support.polling import eventually

POSITIONS = itertools.count(1)
MAIL_TIMEOUT = 15.0  # the bus, the handler's transaction, a kick of the send loop, SMTP


class Store:
    """One store's events, published as its services' relays would."""

    def __init__(self):
        self.id = f"st_{uuid.uuid4().hex[:8]}"
        self.owner = {"store_id": self.id, "kind": "agent", "id": str(uuid.uuid4()), "role": "owner"}
        self.publisher = ConfirmingPublisher(os.environ["AMQP_URI"])  # the container's virtual host

    def event(self, event_type: str, data: dict, stream_id: str, version: int = 1,
              actor: Actor = SYSTEM) -> Envelope:
        return Envelope(uuid.uuid4(), event_type, 1, stream_id, version, next(POSITIONS) << 20, self.id, actor,
                        None, None, datetime.now(timezone.utc), data)

    def publish(self, source: str, *events: Envelope) -> None:
        exchange = exchange_name(os.environ["BUS_PREFIX"], source)
        self.publisher.publish([(exchange, e.type, event_message(e, source)) for e in events])

    def customer(self, email: str) -> str:
        """A shopper the service has heard of (its ticket events come on another queue)."""
        customer_id = str(uuid.uuid4())
        created = self.event("customer.created", {
            "customer_id": customer_id, "name": "Noura", "email": email, "mobile": None, "source": "agent"},
            f"customer-{customer_id}")
        self.publish("customers", created)
        eventually(lambda: processed("notifications.on_customer_event", created), timeout=MAIL_TIMEOUT,
                   what=f"{created.type} processed")
        return customer_id

    def opened(self, customer_id: str, number: int, subject: str = "Where is my parcel?") -> Envelope:
        ticket_id = str(uuid.uuid4())
        return self.event("ticket.opened", {
            "ticket_id": ticket_id, "number": number, "customer_id": customer_id, "subject": subject,
            "type": "general", "priority": "normal", "order_id": None,
            "message": {"id": str(uuid.uuid4()), "body": "It is a week late.", "attachments": []}},
            ticket_id, actor=Actor("customer", customer_id))

    def replied(self, ticket_id: str, version: int, body: str) -> Envelope:
        return self.event("ticket.replied", {"message_id": str(uuid.uuid4()), "body": body, "attachments": []},
                          ticket_id, version, Actor("agent", self.owner["id"]))

    def agent(self, email: str, name: str) -> str:
        """A staff member the service has heard of (from the gateway, on its own queue)."""
        agent_id = str(uuid.uuid4())
        created = self.event("agent.created", {"agent_id": agent_id, "name": name, "email": email, "role": "agent"},
                             f"agent-{agent_id}")
        self.publish("gateway", created)
        eventually(lambda: processed("notifications.on_gateway_event", created), timeout=MAIL_TIMEOUT,
                   what=f"{created.type} processed")
        return agent_id

    def heard(self, source: str, *events: Envelope) -> None:
        """Published, and processed by the service (one queue: in order, but
        its workers take them side by side, so the story waits for each)."""
        consumer = {"tickets": "on_ticket_event", "customers": "on_customer_event", "gateway": "on_gateway_event"}
        for event in events:
            self.publish(source, event)
            eventually(lambda e=event: processed(f"notifications.{consumer[source]}", e), timeout=MAIL_TIMEOUT,
                       what=f"{event.type} processed")


def processed(consumer: str, event: Envelope) -> bool:
    """Whether the container's ``consumer`` has committed what ``event`` meant."""
    with db.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        return conn.execute(f"SELECT 1 FROM {os.environ['NOTIFICATIONS_DB_SCHEMA']}.processed_events "
                            "WHERE consumer = %s AND event_id = %s", (consumer, event.event_id)).fetchone() is not None


@pytest.fixture
def tickets():
    return FakeTickets()


@pytest.fixture
def service(run_service, sink, tickets):
    """The service, its mail to the sink, its settings read from the environment at start."""
    container = run_service(NotificationsService, tickets=tickets, env={
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port), "SMTP_TLS": "none",
        "MAIL_DOMAIN": "mail.shop.test", "NOTIFY_EMAIL_QUOTA_PER_HOUR": "42",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # the receiver listens on loopback
        "CONSUMER_RETRY_DELAYS": "0.1,0.1"})
    return container


@pytest.fixture
def store(service):
    store = Store()
    yield store
    store.publisher.close()


def call(container, method: str, *args):
    with entrypoint_hook(container, method) as entrypoint:
        return entrypoint(*args)


def log_of(service, store: Store, **query) -> list[dict]:
    return call(service, "deliveries", store.owner, {"limit": 100, **query})["items"]


def to(address: str):
    return lambda message: address in str(message["To"])


# --- a ticket event: planned once, sent once --------------------------------------------------------


def test_a_ticket_opened_on_the_bus_is_planned_and_mailed_to_the_shopper_once_though_heard_twice(
        service, store, sink):
    shopper = f"noura-{uuid.uuid4().hex[:6]}@example.sa"
    customer_id = store.customer(shopper)
    opened = store.opened(customer_id, number=1042)

    # The relay publishes it twice (a crash before its checkpoint): one delivery, one mail
    store.publish("tickets", opened, opened)
    [mail] = sink.wait_for(to(shopper), timeout=MAIL_TIMEOUT)
    assert mail["Subject"] == "استلمنا رسالتك: Where is my parcel? (تذكرة رقم 1042)"
    assert mail["Message-ID"] == f"<ticket-{opened.stream_id}@mail.shop.test>"  # MAIL_DOMAIN, read at start
    [delivery] = eventually(lambda: log_of(service, store, event_id=str(opened.event_id)),
                            lambda found: found and found[0]["status"] == "sent", MAIL_TIMEOUT, "the sent delivery")
    assert (delivery["kind"], delivery["recipient"], delivery["customer_id"]) == (
        "ticket_opened", shopper, customer_id)

    # Whatever the loop does next, nothing more goes out for it
    store.publish("tickets", opened)
    reply = store.replied(opened.stream_id, 2, "It left the warehouse today.")
    store.publish("tickets", reply)
    sink.wait_for(to(shopper), timeout=MAIL_TIMEOUT, count=2)
    assert [m["Subject"] for m in sink.messages() if to(shopper)(m)] == [
        mail["Subject"], "رد جديد على تذكرتك رقم 1042: Where is my parcel?"]


def test_an_event_of_a_ticket_whose_opening_was_missed_asks_the_tickets_service_then_mails(
        service, store, sink, tickets):
    shopper = f"sara-{uuid.uuid4().hex[:6]}@example.sa"
    customer_id = store.customer(shopper)
    ticket_id = str(uuid.uuid4())
    tickets.known[(store.id, ticket_id)] = {
        "ticket_id": ticket_id, "store_id": store.id, "number": 77, "subject": "Wrong size", "customer_id": customer_id,
        "order_id": None, "handled_by": "store", "assignee_id": None, "version": 3}

    store.publish("tickets", store.replied(ticket_id, 4, "We will exchange it."))
    [mail] = sink.wait_for(to(shopper), timeout=MAIL_TIMEOUT)
    assert mail["Subject"] == "رد جديد على تذكرتك رقم 77: Wrong size"
    assert "We will exchange it." in mail.get_body(("plain",)).get_content()
    assert tickets.asked == [(store.id, ticket_id)]


def test_an_event_of_a_ticket_the_tickets_service_does_not_know_either_is_retried_then_dead_lettered(
        service, store, tickets):
    ticket_id = str(uuid.uuid4())
    store.publish("tickets", store.replied(ticket_id, 2, "Anyone there?"))

    # Asked once per attempt: the first and the two retries of CONSUMER_RETRY_DELAYS
    eventually(lambda: list(tickets.asked), lambda asked: len(asked) == 3, MAIL_TIMEOUT, "three questions")
    dlq = f"{os.environ['BUS_PREFIX']}.notifications.on_ticket_event.dlq"
    with kombu.Connection(os.environ["AMQP_URI"]) as connection:
        channel = connection.channel()
        depth = eventually(lambda: channel.queue_declare(dlq, passive=True).message_count, timeout=MAIL_TIMEOUT,
                           what="the dead-lettered event")
    assert depth == 1 and set(tickets.asked) == {(store.id, ticket_id)}
    assert log_of(service, store) == []


# --- an SLA breach: the assignee and the team by email, the store's webhooks ---------------------------


def test_a_breach_on_the_bus_mails_the_assignee_and_the_team_once_each_and_reaches_the_sla_webhook(
        service, store, sink, receiver):
    khalid, sara = f"khalid-{uuid.uuid4().hex[:6]}@example.sa", f"sara-{uuid.uuid4().hex[:6]}@example.sa"
    khalid_id, sara_id = store.agent(khalid, "Khalid"), store.agent(sara, "Sara")
    hook = call(service, "create_webhook", store.owner, {"url": receiver.url, "events": ["sla.*"]})["webhook"]

    # A team of two (Khalid is on it too), a ticket on it assigned to Khalid
    team_id = str(uuid.uuid4())
    team = [store.event(event_type, {"team_id": team_id, **data}, f"team:{team_id}", version, Actor("agent", "o"))
            for version, (event_type, data) in enumerate([
                ("team.created", {"name": "Returns", "description": None, "assignment": {"mode": "manual"}}),
                ("team.member_added", {"agent_id": sara_id}),
                ("team.member_added", {"agent_id": khalid_id})], start=1)]
    opened = store.opened(store.customer(f"noura-{uuid.uuid4().hex[:6]}@example.sa"), number=1042)
    assigned = store.event("ticket.assigned", {"assignee_id": khalid_id, "team": team_id,
                                               "previous_assignee_id": None, "previous_team": None},
                           opened.stream_id, 2, Actor("agent", store.owner["id"]))
    store.heard("tickets", *team, opened, assigned)

    # The timer's breach, published twice (a relay's crash before its checkpoint)
    breached = store.event("sla.breached", {"ticket_id": opened.stream_id, "target": "first_response", "cycle": 0,
                                            "due_at": "2026-01-04T12:30:00Z", "policy_version": 1},
                           opened.stream_id, 3, Actor("system", "sla"))
    store.publish("tickets", breached, breached)
    subject = "فات موعد الرد الأول للتذكرة رقم 1042: Where is my parcel?"
    for address, hello in ((khalid, "مرحباً Khalid،"), (sara, "مرحباً Sara،")):
        [mail] = sink.wait_for(lambda m, a=address: to(a)(m) and m["Subject"] == subject, timeout=MAIL_TIMEOUT)
        text = mail.get_body(("plain",)).get_content()
        assert text.startswith(hello) and "الفريق: Returns" in text
        assert "كان الموعد: الأحد 4 يناير 2026، 3:30 م بتوقيت مكة المكرمة" in text
    sla_log = eventually(lambda: log_of(service, store, event_id=str(breached.event_id), channel="email"),
                         lambda found: len(found) == 2 and {d["status"] for d in found} == {"sent"}, MAIL_TIMEOUT,
                         "both deliveries sent")
    assert sorted(d["recipient"] for d in sla_log) == sorted([khalid, sara])
    assert {d["kind"] for d in sla_log} == {"sla_breached"}

    # The webhook subscribed to sla.* gets it once, signed, as the CloudEvent it is
    [delivery] = receiver.wait_for(1, timeout=MAIL_TIMEOUT)
    payload = delivery.verify(hook["secret"])
    assert (payload["type"], payload["id"], payload["subject"]) == ("sla.breached", str(breached.event_id),
                                                                    opened.stream_id)
    assert payload["data"] == breached.data and payload["actorkind"] == "system"
    assert [m["Subject"] for m in sink.messages() if to(khalid)(m)].count(subject) == 1
    assert len(receiver.deliveries) == 1  # nothing of ticket.* reached the sla.* endpoint


# --- the gateway's requests --------------------------------------------------------------------------


def test_the_service_reports_its_database_and_relay(service):
    report = call(service, "health")
    assert report["database"] == "ok" and report["schema"].startswith("t_notifications_")


def test_a_stores_settings_are_read_and_changed_over_rpc(service, store):
    settings = call(service, "settings", store.owner)
    assert settings["locale"] == "ar" and settings["self_service_channel"] == "email"
    assert settings["email_quota_per_hour"] == 42  # NOTIFY_EMAIL_QUOTA_PER_HOUR, read at start
    assert "store_name" not in settings

    changed = call(service, "update_settings", store.owner, {"locale": "en", "sms_quota_per_hour": 5})
    assert (changed["locale"], changed["sms_quota_per_hour"]) == ("en", 5)
    assert call(service, "settings", store.owner) == changed


def test_a_webhook_created_twice_with_one_idempotency_key_is_one_endpoint(service, store, receiver):
    fields = {"url": receiver.url, "events": ["ticket.*"]}
    key = ["key-1", fingerprint("POST", "/v1/webhooks", fields)]

    first = call(service, "create_webhook", store.owner, fields, key)
    assert first["created"] is True and "replayed" not in first
    again = call(service, "create_webhook", store.owner, fields, key)
    assert again == {**first, "replayed": True}  # the secret too: the client may have lost the first answer
    assert [w["id"] for w in call(service, "list_webhooks", store.owner)["items"]] == [first["webhook"]["id"]]

    with pytest.raises(IdempotencyKeyReused):
        call(service, "create_webhook", store.owner, {**fields, "events": ["*"]},
             ["key-1", fingerprint("POST", "/v1/webhooks", {**fields, "events": ["*"]})])
    other = call(service, "create_webhook", store.owner, fields, ["key-2", key[1]])
    assert other["webhook"]["id"] != first["webhook"]["id"]



# --- the event feed (GET /v1/events) ------------------------------------------------------------


def test_the_event_feed_is_the_stores_own_events_as_cloudevents(service, store, receiver):
    other = Store()
    try:
        mine = call(service, "create_webhook", store.owner, {"url": receiver.url, "events": ["ticket.*"]})["webhook"]
        call(service, "create_webhook", other.owner, {"url": receiver.url, "events": ["*"]})
    finally:
        other.publisher.close()
    feed = eventually(lambda: call(service, "events", store.id, "0", "100"), until=lambda f: f["items"],
                      timeout=20, what="the store's events in the feed")
    [created] = feed["items"]
    assert (created["type"], created["source"], created["storeid"], created["data"]["endpoint_id"]) == (
        "webhook_endpoint.created", "/seed/notifications", store.id, mine["id"])
    assert "secret" not in str(created["data"])
    assert call(service, "events", store.id, feed["next_after"], "100") == {"items": [],
                                                                            "next_after": feed["next_after"]}
    # The platform's feed (no store) has both stores'.
    every = eventually(lambda: call(service, "events", None, "0", "100")["items"], until=lambda i: len(i) >= 2)
    assert {store.id, other.id} <= {e["storeid"] for e in every}
