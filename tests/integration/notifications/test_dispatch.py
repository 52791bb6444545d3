"""The notifications service's planning and delivery loop (application.py,
dispatcher.py) on the real PostgreSQL, in process, against real servers on
loopback: the development SMTP sink (stopped and started to play an outage),
an SMTP server that refuses one mailbox, a small HTTP SMS provider and the
webhook receiver. Nothing of ours is mocked.

The dispatcher's clock is injected: a retry becomes due when the test moves
the clock, never by sleeping, and ``rng=0.5`` takes the jitter out of the
backoff. Its settings are too (``NotificationsConfig``: a test that needs a
shorter schedule or a wrong MAIL_FROM makes a dispatcher with them). The
same behaviour through HTTP and the bus is in tests/e2e/test_notifications.py."""
from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from psycopg.pq import TransactionStatus
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from seedwork.envelope import Actor
from seedwork.errors import Conflict, InvalidCommand, InvalidQuery, NotFound
from seedwork.instants import iso
from seedwork.store import EventStore
from services.notifications.application import Notifications
from services.notifications.config import NotificationsConfig
from services.notifications.deliveries import LEASE, Deliveries
from services.notifications.dispatcher import Dispatcher

from tests.integration.notifications.stage import CONFIG, SMS_TOKEN, Shop, address, emitted, mail_to, transports


class RefusingHandler:
    """An SMTP server's handler that answers 550 to RCPT for one mailbox and accepts the rest."""

    def __init__(self, refused: str):
        self.refused = refused
        self.accepted: list[list[str]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refused:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.accepted.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- 1. the SMTP server down, then back -------------------------------------------------



def test_an_email_is_retried_on_the_backoff_while_smtp_is_down_and_sent_once_when_it_is_back(
        shop, dispatcher, sink, clock):
    shopper = address()
    customer_id = shop.customer(email=shopper)
    port = sink.port
    sink.stop()  # connections to its port are refused from now on
    opened = shop.open_ticket(customer_id)
    [planned] = shop.log(event_id=str(opened.event_id))
    assert (planned["channel"], planned["kind"], planned["status"]) == ("email", "ticket_opened", "pending")

    # The first attempt fails: the next one is due 10 s later, not before
    assert dispatcher.run_once() == 1
    first = shop.delivery(planned["id"])
    assert (first["status"], first["attempts"]) == ("retrying", 1)
    assert first["reason"].startswith(f"cannot reach SMTP 127.0.0.1:{port}")
    clock.advance(seconds=9)
    assert dispatcher.run_once() == 0
    clock.advance(seconds=1)
    assert dispatcher.run_once() == 1
    assert (shop.delivery(planned["id"])["status"], shop.delivery(planned["id"])["attempts"]) == ("retrying", 2)

    # The server is back: the third attempt, 30 s after the second, goes out
    sink.start()
    clock.advance(seconds=29)
    assert dispatcher.run_once() == 0
    clock.advance(seconds=1)
    assert dispatcher.run_once() == 1
    sent = shop.delivery(planned["id"])
    assert (sent["status"], sent["attempts"], sent["reason"], sent["recipient"]) == ("sent", 3, None, shopper)
    assert sent["sent_at"] is not None

    # Every attempt is in the log, each failure with its error
    attempts = shop.attempts(planned["id"])
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "failed"), (2, "failed"), (3, "sent")]
    assert all(a["error"].startswith(f"cannot reach SMTP 127.0.0.1:{port}") for a in attempts[:2])
    assert attempts[2]["error"] is None

    # Exactly one message, however long the loop keeps running
    clock.advance(hours=5)
    assert dispatcher.run_once() == 0
    [message] = sink.messages()
    assert shopper in str(message["To"])


# --- 2. dead letters, and replaying them ------------------------------------------------


def test_an_email_that_keeps_failing_is_dead_lettered_with_its_reason_and_a_retry_by_hand_sends_it(
        shop, app, events, make_dispatcher, sink, clock):
    dispatcher = make_dispatcher(message_retry_schedule=(1, 1))
    shopper = address()
    message = shop.message(shopper)
    [planned] = shop.log(event_id=str(message.event_id))
    sink.stop()

    # Two waits of 1 s: the third failure is the last
    for _ in range(3):
        assert dispatcher.run_once() == 1
        clock.advance(seconds=1)
    dead = shop.delivery(planned["id"])
    assert (dead["status"], dead["attempts"]) == ("dead", 3)
    assert dead["reason"].startswith("cannot reach SMTP")
    assert [a["outcome"] for a in shop.attempts(planned["id"])] == ["failed", "failed", "gave_up"]
    clock.advance(hours=5)
    assert dispatcher.run_once() == 0  # dead stays dead

    # The store's history says so
    [dead_lettered] = events.load(f"delivery:{planned['id']}")
    assert (dead_lettered.type, dead_lettered.store_id) == ("notification.dead_lettered", shop.id)
    assert dead_lettered.data == {"delivery_id": planned["id"], "event_id": str(message.event_id),
                                  "channel": "email", "reason": dead["reason"]}

    # The server fixed, the owner replays it: sent, once
    sink.start()
    replayed = app.retry(shop.owner, planned["id"])
    assert (replayed["status"], replayed["reason"]) == ("pending", None)
    assert dispatcher.run_once() == 1
    assert shop.delivery(planned["id"])["status"] == "sent"
    [mail] = sink.messages()
    assert shopper in str(mail["To"])


def test_a_webhook_that_keeps_failing_is_dead_its_endpoint_failing_and_the_store_alerted_once(
        shop, app, events, make_dispatcher, sink, receiver, clock):
    dispatcher = make_dispatcher(webhook_retry_schedule=(1, 1))
    receiver.respond(then=503)
    endpoint = app.create_webhook(shop.owner, {"url": receiver.url, "events": ["ticket.*"]})["webhook"]
    customer_id = shop.customer(email=address())
    opened = [shop.open_ticket(customer_id), shop.open_ticket(customer_id)]
    hooks = shop.log(channel="webhook")
    assert len(hooks) == 2

    # Three attempts each, all answered 503
    for _ in range(3):
        dispatcher.run_once()
        clock.advance(seconds=1)
    assert [d.status for d in receiver.deliveries] == [503] * 6
    log = app.webhook_deliveries(shop.owner, endpoint["id"], {})["items"]
    assert sorted(d["event_id"] for d in log) == sorted(str(e.event_id) for e in opened)
    for delivery in log:
        assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("dead", 3, 503)
        assert delivery["reason"].startswith("HTTP 503")
        assert [(a["attempt"], a["status_code"]) for a in delivery["attempts_log"]] == [(1, 503), (2, 503), (3, 503)]
        [dead_lettered] = events.load(f"delivery:{delivery['id']}")
        assert dead_lettered.type == "notification.dead_lettered" and dead_lettered.data["channel"] == "webhook"

    # The endpoint is failing, said once though two deliveries died
    assert app.get_webhook(shop.owner, endpoint["id"])["status"] == "failing"
    failing = [e for e in events.load(f"webhook:{endpoint['id']}") if e.type == "webhook_endpoint.failing"]
    assert len(failing) == 1
    assert (failing[0].data["endpoint_id"], failing[0].data["url"]) == (endpoint["id"], receiver.url)
    assert failing[0].data["last_error"].startswith("HTTP 503")

    # One alert to the store's support address (the owner's email, from store.created)
    assert dispatcher.run_once() == 1
    clock.advance(minutes=10)
    assert dispatcher.run_once() == 0
    [alert] = shop.log(event_id=str(failing[0].event_id))
    assert (alert["kind"], alert["status"], alert["recipient"]) == ("store_alert", "sent", shop.owner_email)
    [mail] = mail_to(sink, shop.owner_email)
    assert receiver.url in mail.get_body(("plain",)).get_content()

    # The receiver fixed, the owner replays one: it arrives
    receiver.respond(then=200)
    assert app.retry(shop.owner, hooks[0]["id"])["status"] == "pending"
    assert dispatcher.run_once() == 1
    last = receiver.wait_for(7)[-1]
    assert (last.status, last.headers["webhook-id"]) == (200, hooks[0]["event_id"])
    assert shop.delivery(hooks[0]["id"])["status"] == "sent"
    assert len(mail_to(sink, shop.owner_email)) == 1


# --- 3. a refusal for good --------------------------------------------------------------


@pytest.fixture
def refusing_smtp():
    """An SMTP server that answers 550 to RCPT for ``handler.refused``."""
    handler = RefusingHandler(refused="")
    server = Controller(handler, hostname="127.0.0.1", port=free_port(), server_hostname="refusing.local")
    server.start()
    yield server, handler
    server.stop()


def test_a_recipient_the_smtp_server_refuses_for_good_is_dead_at_once_and_never_retried(
        shop, events, refusing_smtp, clock):
    server, handler = refusing_smtp
    handler.refused, welcome = address("gone"), address()
    dispatcher = Dispatcher(events, transports(server.port), CONFIG, clock=clock, rng=lambda: 0.5)
    bounced, accepted = shop.message(handler.refused), shop.message(welcome)

    assert dispatcher.run_once() == 2
    [dead] = shop.log(event_id=str(bounced.event_id))
    assert (dead["status"], dead["attempts"]) == ("dead", 1)
    assert "550" in dead["reason"] and handler.refused in dead["reason"]
    [dead_lettered] = events.load(f"delivery:{dead['id']}")
    assert dead_lettered.type == "notification.dead_lettered" and "550" in dead_lettered.data["reason"]
    assert shop.log(event_id=str(accepted.event_id))[0]["status"] == "sent"

    clock.advance(hours=5)
    assert dispatcher.run_once() == 0
    assert handler.accepted == [[welcome]]


# --- 4. crashes and replicas ------------------------------------------------------------


def test_a_delivery_claimed_by_a_replica_that_crashed_is_sent_again_after_its_lease(
        shop, events, dispatcher, sink, clock):
    shopper = address()
    customer_id = shop.customer(email=shopper)
    opened = shop.open_ticket(customer_id)

    # A replica claims it, then dies before sending or recording anything
    with events.transaction() as conn:
        [claimed] = Deliveries(events.schema).claim(conn, 10, clock())
    assert (claimed["event_id"], claimed["attempts"]) == (str(opened.event_id), 1)
    assert shop.delivery(claimed["id"])["status"] == "sending"

    # Leased: the other replicas leave it alone until the lease is over
    assert dispatcher.run_once() == 0
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert dispatcher.run_once() == 0
    clock.advance(seconds=2)
    assert dispatcher.run_once() == 1
    sent = shop.delivery(claimed["id"])
    assert (sent["status"], sent["attempts"]) == ("sent", 2)
    assert [(a["attempt"], a["outcome"]) for a in shop.attempts(claimed["id"])] == [(1, None), (2, "sent")]
    [message] = sink.messages()  # at most one duplicate; here none, the first never sent
    assert shopper in str(message["To"])


def test_two_replicas_sending_at_once_send_each_of_20_deliveries_exactly_once(shop, events, sink, clock):
    recipients = [address(f"r{n}") for n in range(20)]
    for to in recipients:
        shop.message(to)
    replicas = [Dispatcher(events, transports(sink.port), CONFIG, clock=clock, rng=lambda: 0.5) for _ in range(2)]
    handled, failures = [0, 0], []
    together = threading.Barrier(2)

    def loop(n: int) -> None:
        try:
            together.wait(timeout=10)
            while claimed := replicas[n].run_once(limit=3):
                handled[n] += claimed
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not failures and not any(t.is_alive() for t in threads)

    assert sum(handled) == 20 and all(handled), handled  # each claimed a share, none claimed a row twice
    got = Counter(m["To"].addresses[0].addr_spec for m in sink.messages())
    assert got == Counter(recipients)
    log = shop.log(channel="email")
    assert len(log) == 20 and {(d["status"], d["attempts"]) for d in log} == {("sent", 1)}


# --- 5. SMS -------------------------------------------------------------------------------

MOBILE = "+966501234567"


def test_an_sms_without_a_sender_name_is_refused_and_nothing_reaches_the_provider(shop, app, dispatcher, sms):
    customer_id = shop.customer(mobile=MOBILE)
    app.update_settings(shop.owner, {"self_service_channel": "sms"})
    shared = shop.observe("self_service.tracking_link_shared", {
        "customer_id": customer_id, "order_id": "o-100", "tracking_url": "https://track.example/abc",
        "message": None}, stream_id=f"self-service:{uuid.uuid4()}", actor=Actor("customer", customer_id))
    direct = shop.message(MOBILE, channel="sms", sender_name=None, customer_id=customer_id)

    assert dispatcher.run_once() == 2
    for event in (shared, direct):
        [delivery] = shop.log(event_id=str(event.event_id))
        assert (delivery["channel"], delivery["status"], delivery["reason"]) == ("sms", "refused",
                                                                                 "sms_sender_missing")
    assert sms.requests == []


def test_an_sms_reaches_the_http_provider_with_its_sender_the_mobile_the_text_and_the_bearer_token(
        shop, app, dispatcher, sms):
    customer_id = shop.customer(mobile=MOBILE)
    app.update_settings(shop.owner, {"self_service_channel": "sms"})
    shop.observe("customer_settings.updated", {"changes": {"sms_sender_name": "NAKHLA"}},
                 stream_id=f"customer-settings-{shop.id}", source="customers")
    shared = shop.observe("self_service.tracking_link_shared", {
        "customer_id": customer_id, "order_id": "o-100", "tracking_url": "https://track.example/abc",
        "message": None}, stream_id=f"self-service:{uuid.uuid4()}", actor=Actor("customer", customer_id))
    direct = shop.message(MOBILE, channel="sms", sender_name="NAKHLA-VIP", customer_id=customer_id)

    assert dispatcher.run_once() == 2
    for event in (shared, direct):
        [delivery] = shop.log(event_id=str(event.event_id))
        assert (delivery["status"], delivery["recipient"]) == ("sent", "•" * 9 + "4567")
    assert {headers["authorization"] for headers, _ in sms.requests} == {f"Bearer {SMS_TOKEN}"}
    by_sender = {body["sender"]: body for _, body in sms.requests}
    assert set(by_sender) == {"NAKHLA", "NAKHLA-VIP"}  # the store's sender; the event's own when it names one
    assert all(set(body) == {"sender", "to", "text"} and body["to"] == MOBILE for body in by_sender.values())
    assert "https://track.example/abc" in by_sender["NAKHLA"]["text"]
    assert "طلبك جاهز للاستلام" in by_sender["NAKHLA-VIP"]["text"]


def test_a_provider_5xx_is_retried_until_sent_and_a_4xx_is_dead_at_once(shop, events, dispatcher, sms, clock):
    shop.observe("customer_settings.updated", {"changes": {"sms_sender_name": "NAKHLA"}},
                 stream_id=f"customer-settings-{shop.id}", source="customers")

    def first_attempt_answered(status: int, mobile: str) -> dict:
        sms.answer(status)
        message = shop.message(mobile, channel="sms")
        assert dispatcher.run_once() == 1
        [delivery] = shop.log(event_id=str(message.event_id))
        assert delivery["reason"].startswith(f"SMS provider answered {status}")
        return delivery

    # 500: retried on the backoff (10 s), then sent
    delivery = first_attempt_answered(500, "+966500000001")
    assert (delivery["status"], delivery["attempts"]) == ("retrying", 1)
    clock.advance(seconds=10)
    assert dispatcher.run_once() == 1
    assert (shop.delivery(delivery["id"])["status"], shop.delivery(delivery["id"])["attempts"]) == ("sent", 2)

    # 400: this message will never be accepted
    dead = first_attempt_answered(400, "+966500000002")
    assert (dead["status"], dead["attempts"]) == ("dead", 1)
    assert events.load(f"delivery:{dead['id']}")[0].type == "notification.dead_lettered"
    clock.advance(hours=5)
    assert dispatcher.run_once() == 0
    assert [body["to"] for _, body in sms.requests] == ["+966500000001", "+966500000001", "+966500000002"]


# --- 6. quotas --------------------------------------------------------------------------


def test_over_the_hourly_email_quota_deliveries_are_held_the_store_alerted_once_and_sent_the_next_hour(
        shop, app, events, dispatcher, sink, clock):
    assert app.update_settings(shop.owner, {"email_quota_per_hour": 2})["email_quota_per_hour"] == 2
    recipients = [address() for _ in range(4)]
    for to in recipients:
        shop.message(to)

    def messages() -> list[dict]:
        return [d for d in shop.log() if d["kind"] == "direct_message"]

    # Two go out, two wait for the next hour
    assert dispatcher.run_once() == 4
    assert Counter(d["status"] for d in messages()) == {"sent": 2, "held": 2}
    assert {d["reason"] for d in messages() if d["status"] == "held"} == {"quota_exceeded"}
    window = clock().replace(minute=0, second=0, microsecond=0)
    [reached] = events.load(f"quota:{shop.id}:email")
    assert reached.type == "notification.quota_reached"
    assert reached.data == {"channel": "email", "window_start": window.isoformat(), "quota": 2}

    # The store hears of it once, by email to its support address, outside the quota
    assert dispatcher.run_once() == 1
    [alert] = shop.log(event_id=str(reached.event_id))
    assert (alert["kind"], alert["status"], alert["recipient"]) == ("store_alert", "sent", shop.owner_email)
    assert len(mail_to(sink, shop.owner_email)) == 1
    assert len(sink.messages()) == 3

    # Nothing more this hour; the next one sends the held ones
    clock.now = window + timedelta(hours=1, seconds=-1)
    assert dispatcher.run_once() == 0
    clock.now = window + timedelta(hours=1)
    assert dispatcher.run_once() == 2
    assert {d["status"] for d in messages()} == {"sent"}
    assert Counter(m["To"].addresses[0].addr_spec for m in sink.messages()) == Counter(
        recipients + [shop.owner_email])
    assert len(events.load(f"quota:{shop.id}:email")) == 1


# --- 7. opt-outs --------------------------------------------------------------------------


def test_a_shopper_who_opted_out_of_email_gets_none_while_the_staff_email_for_the_same_ticket_goes(
        shop, app, dispatcher, sink):
    shopper, agent_email = address(), address("agent")
    customer_id = shop.customer(email=shopper)
    agent_id = shop.agent(agent_email)
    assert app.set_preferences(shop.owner, customer_id, {"email": False}) == {
        "customer_id": customer_id, "email": False, "sms": True}

    opened = shop.open_ticket(customer_id)
    shop.on_ticket(opened, "ticket.assigned", {"assignee_id": agent_id, "previous_assignee_id": None, "team": None},
                   2, Actor("agent", shop.owner.id))
    shop.on_ticket(opened, "ticket.replied", {"message_id": str(uuid.uuid4()), "body": "وصلني نصف الطلب",
                                              "attachments": []}, 3, Actor("customer", customer_id))
    shop.on_ticket(opened, "ticket.replied", {"message_id": str(uuid.uuid4()), "body": "نعتذر، نتابع مع الشحن",
                                              "attachments": []}, 4, Actor("agent", agent_id))

    assert dispatcher.run_once() == 4
    log = {d["kind"]: d for d in shop.log(ticket_id=opened.data["ticket_id"])}
    assert set(log) == {"ticket_opened", "ticket_assigned", "customer_replied", "ticket_reply"}
    for kind in ("ticket_opened", "ticket_reply"):
        assert (log[kind]["status"], log[kind]["reason"]) == ("skipped", "opted_out")
    for kind in ("ticket_assigned", "customer_replied"):
        assert (log[kind]["status"], log[kind]["recipient"]) == ("sent", agent_email)
    assert mail_to(sink, shopper) == []
    assert len(mail_to(sink, agent_email)) == 2


# --- 8. a store's template that breaks ----------------------------------------------------


def test_a_store_template_that_fails_when_sending_falls_back_to_the_default_and_says_so(
        shop, app, events, dispatcher, sink):
    # It parses, so it is accepted; the variable it names does not exist
    app.put_template(shop.owner, "ticket_opened", "ar", {
        "subject": "تذكرتك {{ ticket.number }}: {{ coupon_code }}", "text": "كود الخصم: {{ coupon_code }}",
        "html": "<p>كود الخصم: {{ coupon_code }}</p>"})
    shopper = address()
    customer_id = shop.customer(email=shopper)
    opened = shop.open_ticket(customer_id, subject="الطلب ما وصل")

    assert dispatcher.run_once() == 1
    [delivery] = shop.log(event_id=str(opened.event_id))
    assert delivery["status"] == "sent"
    assert delivery["template_fallback"] and "coupon_code" in delivery["template_fallback"]
    [mail] = mail_to(sink, shopper)
    assert str(mail["Subject"]).startswith("استلمنا رسالتك: الطلب ما وصل")
    assert "كود الخصم" not in mail.get_body(("plain",)).get_content()

    [failed] = emitted(events, "notification.template_failed")
    assert failed.store_id == shop.id
    assert failed.data == {"kind": "ticket_opened", "locale": "ar", "reason": delivery["template_fallback"],
                           "delivery_id": delivery["id"]}


# --- 9. an event heard twice ------------------------------------------------------------


def test_an_event_observed_twice_plans_its_deliveries_once_and_sends_them_once(
        shop, app, dispatcher, sink, receiver):
    app.create_webhook(shop.owner, {"url": receiver.url, "events": ["ticket.opened"]})
    shopper = address()
    customer_id = shop.customer(email=shopper)
    opened = shop.ticket_opened(customer_id)

    planned = shop.hear(opened)
    assert len(planned) == 2  # the shopper's email and the webhook
    assert shop.hear(opened) == []  # the bus delivered it again
    assert sorted(d["id"] for d in shop.log(event_id=str(opened.event_id))) == sorted(planned)

    assert dispatcher.run_once() == 2
    assert len(mail_to(sink, shopper)) == 1
    assert len(receiver.wait_for(1)) == 1


# --- 10. webhooks: signatures, redelivery, rotation -------------------------------------


def test_a_webhook_is_signed_per_standard_webhooks_redelivered_under_the_same_id_and_signed_twice_during_a_rotation(
        shop, app, dispatcher, receiver, clock):
    created = app.create_webhook(shop.owner, {"url": receiver.url, "events": ["ticket.*"]})
    assert created["created"] is True
    endpoint, secret = created["webhook"], created["webhook"]["secret"]
    customer_id = shop.customer(email=address())
    opened = shop.open_ticket(customer_id)

    # Signed: standardwebhooks verifies it; the webhook-id is the event's id
    dispatcher.run_once()
    [first] = receiver.wait_for(1)
    payload = Webhook(secret).verify(first.body, first.headers)
    assert first.headers["webhook-id"] == str(opened.event_id)
    assert first.headers["content-type"] == "application/json"
    assert (payload["id"], payload["type"], payload["storeid"]) == (str(opened.event_id), "ticket.opened", shop.id)
    assert payload["data"] == json.loads(json.dumps(opened.data))

    # Redelivered by hand: a second delivery, the same webhook-id and body
    answer = app.redeliver(shop.owner, endpoint["id"], str(opened.event_id))
    assert (answer["delivery"]["event_id"], answer["delivery"]["status"]) == (str(opened.event_id), "pending")
    clock.advance(seconds=1)
    assert dispatcher.run_once() == 1
    second = receiver.wait_for(2)[1]
    assert second.headers["webhook-id"] == first.headers["webhook-id"] and second.body == first.body
    Webhook(secret).verify(second.body, second.headers)
    log = app.webhook_deliveries(shop.owner, endpoint["id"], {})["items"]
    assert len(log) == 2 and {d["status"] for d in log} == {"sent"}

    # The secret rotated: during the overlap each delivery carries both signatures
    rotated = app.rotate_secret(shop.owner, endpoint["id"], {"overlap_seconds": 3600})
    assert rotated["secret"] != secret
    assert app.redeliver(shop.owner, endpoint["id"], str(opened.event_id))["delivery"]["status"] == "pending"
    clock.advance(seconds=1)
    assert dispatcher.run_once() == 1
    third = receiver.wait_for(3)[2]
    assert len(third.headers["webhook-signature"].split()) == 2
    for key in (secret, rotated["secret"]):
        assert Webhook(key).verify(third.body, third.headers)["id"] == str(opened.event_id)

    # Rotated again without an overlap: only the newest secret signs
    newest = app.rotate_secret(shop.owner, endpoint["id"], {"overlap_seconds": 0})["secret"]
    assert app.redeliver(shop.owner, endpoint["id"], str(opened.event_id))["delivery"]["status"] == "pending"
    clock.advance(seconds=1)
    assert dispatcher.run_once() == 1
    fourth = receiver.wait_for(4)[3]
    assert len(fourth.headers["webhook-signature"].split()) == 1
    Webhook(newest).verify(fourth.body, fourth.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(rotated["secret"]).verify(fourth.body, fourth.headers)


# --- fixes: failed sends and the quota, the backoff after a retry, forgetting old events ---------


def test_a_failed_send_does_not_use_up_the_hourly_quota(shop, app, events, dispatcher, sink, clock):
    """Only what went out counts: two failed attempts under a quota of 2
    leave room for the message when the server is back."""
    app.update_settings(shop.owner, {"email_quota_per_hour": 2})
    shopper = address()
    message = shop.message(shopper)
    [planned] = shop.log(event_id=str(message.event_id))
    sink.stop()
    for wait in (10, 30):  # NOTIFY_RETRY_SCHEDULE's default first waits
        assert dispatcher.run_once() == 1
        assert shop.delivery(planned["id"])["status"] == "retrying"
        clock.advance(seconds=wait)
    sink.start()
    assert dispatcher.run_once() == 1
    assert shop.delivery(planned["id"])["status"] == "sent"
    assert len(mail_to(sink, shopper)) == 1
    assert events.load(f"quota:{shop.id}:email") == []  # never over the quota, so no alert
    assert mail_to(sink, shop.owner_email) == []


def test_a_delivery_retried_by_hand_gets_the_whole_backoff_again(shop, app, make_dispatcher, sink, clock):
    """A replay after a dead end starts a fresh run of tries: one more
    failure waits the schedule's first wait, it does not die at once."""
    dispatcher = make_dispatcher(message_retry_schedule=(1, 1))
    message = shop.message(address())
    [planned] = shop.log(event_id=str(message.event_id))
    sink.stop()
    for _ in range(3):
        dispatcher.run_once()
        clock.advance(seconds=1)
    assert shop.delivery(planned["id"])["status"] == "dead"

    app.retry(shop.owner, planned["id"])  # the server is still down
    assert dispatcher.run_once() == 1
    again = shop.delivery(planned["id"])
    assert (again["status"], again["attempts"]) == ("retrying", 4), again
    clock.advance(seconds=1)
    sink.start()
    assert dispatcher.run_once() == 1
    assert shop.delivery(planned["id"])["status"] == "sent"


def test_received_events_are_forgotten_after_the_redelivery_window(shop, app, events):
    """``prune`` (hourly in the service) drops events past 30 days; newer
    ones stay redeliverable."""
    customer = shop.customer(email=address())
    old, recent = shop.open_ticket(customer), shop.open_ticket(customer)
    with events.transaction() as conn:
        conn.execute(f"UPDATE {events.schema}.received_events SET received_at = now() - interval '31 days' "
                     "WHERE event_id = %s", (str(old.event_id),))
    assert app.prune() == 1
    with events.pool.connection() as conn:
        kept = {r[0] for r in conn.execute(f"SELECT event_id FROM {events.schema}.received_events")}
    assert str(recent.event_id) in kept and str(old.event_id) not in kept
    assert app.prune() == 0


# --- fixes after review: late senders, DNS hiccups, bad addresses, platform tickets --------------


def test_a_sender_whose_lease_ran_out_does_not_overwrite_the_newer_attempt(shop, events, dispatcher, sink, clock):
    """Replica A claims a row and stalls past its lease; replica B sends it.
    When A wakes up and fails, its outcome is recorded on its own attempt
    only: the row stays sent, and nothing is dead-lettered for it."""
    message = shop.message(address())
    [planned] = shop.log(event_id=str(message.event_id))
    with events.transaction() as conn:
        [stale] = Deliveries(events.schema).claim(conn, 10, clock())
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert dispatcher.run_once() == 1
    assert shop.delivery(planned["id"])["status"] == "sent"

    sink.stop()
    dispatcher.deliver(stale)  # A's late attempt fails
    after = shop.delivery(planned["id"])
    assert (after["status"], after["attempts"]) == ("sent", 2), after
    assert [a["outcome"] for a in shop.attempts(planned["id"])] == ["failed", "sent"]
    assert events.load(f"delivery:{planned['id']}") == []


def test_a_webhook_host_that_does_not_resolve_when_delivering_is_retried_not_dead(shop, app, make_dispatcher):
    """DNS down or slow is a passing failure: the delivery waits, the endpoint stays healthy."""
    created = app.create_webhook(shop.owner, {"url": "https://hooks.nowhere.invalid/in", "events": ["ticket.*"]})
    dispatcher = make_dispatcher(allow_private_targets=False)  # every address checked, as in production
    shop.open_ticket(shop.customer(email=address()))
    dispatcher.run_once()
    [hook] = [d for d in shop.log() if d["channel"] == "webhook"]
    assert hook["status"] == "retrying" and hook["reason"].startswith("dns: "), hook
    assert app.get_webhook(shop.owner, created["webhook"]["id"])["status"] == "healthy"


def test_an_address_no_mail_server_would_take_is_dead_at_once_and_not_counted(shop, app, events, dispatcher, sink):
    app.update_settings(shop.owner, {"email_quota_per_hour": 1})
    bad = shop.message("not an address@example.sa")
    good = shop.message(address())
    dispatcher.run_once()
    [dead] = shop.log(event_id=str(bad.event_id))
    assert (dead["status"], dead["attempts"]) == ("dead", 1) and dead["reason"].startswith("invalid_address"), dead
    [sent] = shop.log(event_id=str(good.event_id))
    assert sent["status"] == "sent", sent  # the quota of 1 was left for it
    assert events.load(f"quota:{shop.id}:email") == []


def test_a_ticket_the_platform_handles_is_kept_for_redelivery_only_as_the_store_may_see_it(
        shop, app, dispatcher, receiver, clock):
    """Its opening without message or payment, its status changes; its
    replies are not the store's: a redelivery of one is refused."""
    endpoint = app.create_webhook(shop.owner, {"url": receiver.url, "events": ["*"]})["webhook"]
    customer = shop.customer(email=address())
    opened = shop.ticket_opened(customer, "Charged without an order number")
    opened.data.update(type="charged_without_order", handled_by="platform",
                       payment={"method": "mada", "card_last4": "4242"})
    shop.hear(opened)
    answer = shop.on_ticket(opened, "ticket.replied", {"message_id": str(uuid.uuid4()), "body": "PLATFORM-ONLY",
                                                      "attachments": []}, 2, Actor("platform", None))
    ticket_id = opened.data["ticket_id"]

    def about_ticket():
        return [d for d in receiver.deliveries if d.json()["subject"] == ticket_id]

    dispatcher.run_once()
    [first] = about_ticket()
    assert first.json()["type"] == "ticket.opened"
    assert set(first.json()["data"]) == {"ticket_id", "number", "customer_id", "type", "handled_by"}
    assert shop.tickets.views == ["ticket.opened", "ticket.replied"]  # asked only of the platform's ticket

    with pytest.raises(NotFound):
        app.redeliver(shop.owner, endpoint["id"], str(answer.event_id))
    app.redeliver(shop.owner, endpoint["id"], str(opened.event_id))
    clock.advance(seconds=1)
    assert dispatcher.run_once() == 1
    [_, second] = about_ticket()
    assert second.body == first.body, (first.body, second.body)
    assert b'"payment"' not in second.body and b"PLATFORM-ONLY" not in second.body


def test_a_delivery_being_sent_is_not_retried_by_hand(shop, app, events, clock):
    message = shop.message(address())
    [planned] = shop.log(event_id=str(message.event_id))
    with events.transaction() as conn:
        Deliveries(events.schema).claim(conn, 10, clock())
    with pytest.raises(Conflict) as refused:
        app.retry(shop.owner, planned["id"])
    assert refused.value.errors == {"status": ["sending"]}


def test_a_mail_setting_the_operator_got_wrong_delays_mail_instead_of_killing_it(
        shop, make_dispatcher, clock):
    """``MAIL_FROM`` with a display name is the operator's mistake, not the
    recipient's: the delivery retries while it is fixed, it is not dead."""
    broken = make_dispatcher(mail_from="Seed <no-reply@seed.local>")
    message = shop.message(address())
    assert broken.run_once() == 1
    [planned] = shop.log(event_id=str(message.event_id))
    assert planned["status"] == "retrying" and planned["reason"].startswith("internal error"), planned

    clock.advance(seconds=10)
    assert make_dispatcher(mail_from="no-reply@seed.local").run_once() == 1
    assert shop.delivery(planned["id"])["status"] == "sent"


# --- fixes after review: a webhook's DNS outside its transaction ----------------------------------


class WatchedPool:
    """The store's pool, knowing which of its connections are lent out."""

    def __init__(self, pool):
        self.pool, self.lent = pool, []

    def __getattr__(self, name):
        return getattr(self.pool, name)

    @contextlib.contextmanager
    def connection(self, *args, **kwargs):
        with self.pool.connection(*args, **kwargs) as conn:
            self.lent.append(conn)
            try:
                yield conn
            finally:
                self.lent.remove(conn)


def test_a_webhook_url_is_resolved_before_its_command_opens_a_transaction_and_refused_as_before(
        events, monkeypatch):
    """A slow name server must not hold a transaction open: its id holds back
    the event store's global-order readers (the relays), its row lock the
    endpoint. Refusals, a missing endpoint and an idempotent replay answer as before."""
    pool = WatchedPool(events.pool)
    app = Notifications(EventStore(pool, events.schema), NotificationsConfig())  # every address checked
    shop = Shop(app)
    answers = {"hooks.example.test": "93.184.216.34", "moved.example.test": "93.184.216.35"}
    in_transaction: list[bool] = []
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if not host.endswith(".example.test"):
            return real(host, port, *args, **kwargs)
        in_transaction.append(any(c.info.transaction_status != TransactionStatus.IDLE for c in pool.lent))
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    key, fields = ("hook-1", "print-1"), {"url": "https://hooks.example.test/in", "events": ["ticket.*"]}
    created = app.create_webhook(shop.owner, fields, key)["webhook"]
    moved = app.update_webhook(shop.owner, created["id"], {"url": "https://moved.example.test/in"})
    assert moved["url"] == "https://moved.example.test/in"
    assert in_transaction == [False, False]

    del answers["hooks.example.test"]
    assert app.create_webhook(shop.owner, fields, key)["replayed"] is True  # the first answer, whatever DNS says
    with pytest.raises(InvalidCommand) as refused:
        app.create_webhook(shop.owner, {**fields, "url": "https://gone.example.test/in"})
    assert (refused.value.code, list(refused.value.errors)) == ("unsafe_url", ["url"])
    with pytest.raises(InvalidCommand) as refused:
        app.update_webhook(shop.owner, created["id"], {"url": "https://gone.example.test/in"})
    assert (refused.value.code, list(refused.value.errors)) == ("unsafe_url", ["url"])
    with pytest.raises(NotFound):  # the endpoint first, as before
        app.update_webhook(shop.owner, str(uuid.uuid4()), {"url": "https://gone.example.test/in"})
    assert [w["url"] for w in app.list_webhooks(shop.owner)["items"]] == ["https://moved.example.test/in"]
    assert len(in_transaction) == 6 and not any(in_transaction)


# --- the delivery log ------------------------------------------------------------------------------


def test_the_delivery_log_pages_newest_first_and_refuses_a_cursor_it_did_not_hand_out(shop, app):
    """The cursor is seedwork's; one handed out before (spaces in its JSON) still reads.
    (What the log shows of a mobile: see the SMS test above.)"""
    customer_id = shop.customer(email=address())
    messages = [shop.observe("self_service.tracking_link_shared", {
        "customer_id": customer_id, "order_id": f"o-{n}", "tracking_url": None, "order": None, "message": None},
        stream_id=f"self-service-{uuid.uuid4()}", source="tickets") for n in range(3)]

    first = app.list_deliveries(shop.owner, {"limit": 2})
    rest = app.list_deliveries(shop.owner, {"limit": 2, "cursor": first["next_cursor"]})
    newest_first = [str(m.event_id) for m in reversed(messages)]
    assert [d["event_id"] for d in first["items"] + rest["items"]] == newest_first
    assert rest["next_cursor"] is None

    last = first["items"][-1]
    with app.store.pool.connection() as conn:
        [created_at] = conn.execute(f"SELECT created_at FROM {app.store.schema}.deliveries WHERE id = %s",
                                    (last["id"],)).fetchone()
    old_cursor = base64.urlsafe_b64encode(json.dumps([iso(created_at), last["id"]]).encode()).decode().rstrip("=")
    assert app.list_deliveries(shop.owner, {"limit": 2, "cursor": old_cursor}) == rest

    for cursor in ("garbage", base64.urlsafe_b64encode(b'["yesterday", "x"]').decode()):
        with pytest.raises(InvalidQuery) as refused:
            app.list_deliveries(shop.owner, {"cursor": cursor})
        assert list(refused.value.errors) == ["cursor"]
