"""RabbitMQ naming, topology and confirmed publishing (seedwork.bus), without a broker."""
from __future__ import annotations

import json
import socket
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from unittest import mock

import amqp
import pytest

from seedwork import bus
from seedwork.bus import (
    ConfirmingPublisher,
    ConsumerQueues,
    PublishFailed,
    UNROUTED_TTL_MS,
    declare_exchange,
    event_message,
    exchange_name,
    unrouted_name,
)
from seedwork.envelope import Actor, Envelope, to_cloudevent


def envelope(**overrides) -> Envelope:
    fields = dict(
        event_id=uuid.uuid4(), type="ticket.opened", schema_version=1, stream_id="ticket-42", version=1,
        position=(1234 << 20) + 2, store_id="store-7", actor=Actor("agent", "a-1"), correlation_id=None,
        causation_id=None, occurred_at=datetime(2024, 5, 1, 12, 30, 15, 750000, tzinfo=timezone.utc),
        data={"subject": "hello", "amount": 12.5},
    )
    fields.update(overrides)
    return Envelope(**fields)


# --- names ---------------------------------------------------------------------------


def test_exchange_and_unrouted_names():
    assert exchange_name("seed", "tickets") == "seed.tickets"
    assert exchange_name("staging", "customers") == "staging.customers"
    assert unrouted_name("seed") == "seed.unrouted"


@pytest.mark.parametrize("prefix, service", [("seed", "x; drop"), ("Seed", "tickets"), ("seed.a", "tickets"),
                                             ("", "tickets"), ("seed", "")])
def test_unsafe_names_are_refused(prefix, service):
    with pytest.raises(ValueError):
        exchange_name(prefix, service)


def test_consumer_queue_names():
    queues = ConsumerQueues("seed.notifications.on_ticket", (1.0, 10.0))
    assert queues.dlq == "seed.notifications.on_ticket.dlq"
    assert queues.retry_queue(0) == "seed.notifications.on_ticket.retry.0"
    assert queues.retry_queue(2) == "seed.notifications.on_ticket.retry.2"


def test_main_queue_dead_letters_to_its_dlq():
    queues = ConsumerQueues("seed.notifications.on_ticket", (1.0,), (("tickets", "ticket.*"),))
    queue = queues.main_queue("seed")
    assert queue.name == "seed.notifications.on_ticket"
    assert queue.durable is True and queue.auto_delete is False
    assert queue.queue_arguments == {
        "x-dead-letter-exchange": "",  # the default exchange routes by queue name
        "x-dead-letter-routing-key": "seed.notifications.on_ticket.dlq",
    }


def test_main_queue_binds_to_each_source_exchange():
    queues = ConsumerQueues(
        "seed.notifications.on_events", (1.0,),
        (("tickets", "ticket.*"), ("tickets", "ticket.closed"), ("customers", "customer.#")),
    )
    bindings = {(b.exchange.name, b.routing_key) for b in queues.main_queue("staging").bindings}
    assert bindings == {
        ("staging.tickets", "ticket.*"), ("staging.tickets", "ticket.closed"), ("staging.customers", "customer.#"),
    }
    for b in queues.main_queue("staging").bindings:
        # must match how the publisher declares it, or RabbitMQ refuses the redeclaration
        assert b.exchange.type == "topic" and b.exchange.durable and not b.exchange.auto_delete
        assert b.exchange.arguments == {"alternate-exchange": "staging.unrouted"}


def _channel() -> mock.MagicMock:
    channel = mock.MagicMock(name="channel")
    channel.prepare_queue_arguments.side_effect = lambda arguments, **_: dict(arguments)
    return channel


def _declared_queues(channel) -> dict[str, dict]:
    return {c.kwargs["queue"]: c.kwargs for c in channel.queue_declare.call_args_list}


def _declared_exchanges(channel) -> dict[str, dict]:
    return {c.kwargs["exchange"]: c.kwargs for c in channel.exchange_declare.call_args_list}


def test_declare_exchange_has_an_alternate_exchange_that_keeps_unrouted_events():
    channel = _channel()
    declare_exchange(channel, "seed", "tickets")

    exchanges = _declared_exchanges(channel)
    assert exchanges["seed.tickets"]["type"] == "topic"
    assert exchanges["seed.tickets"]["durable"] is True
    assert exchanges["seed.tickets"]["arguments"] == {"alternate-exchange": "seed.unrouted"}
    assert exchanges["seed.unrouted"]["type"] == "fanout"
    unrouted = _declared_queues(channel)["seed.unrouted"]
    assert unrouted["durable"] is True
    assert unrouted["arguments"] == {"x-message-ttl": UNROUTED_TTL_MS}
    binds = {(c.kwargs["queue"], c.kwargs["exchange"]) for c in channel.queue_bind.call_args_list}
    assert ("seed.unrouted", "seed.unrouted") in binds


def test_consumer_declare_builds_the_retry_ladder_and_dlq():
    channel = _channel()
    queues = ConsumerQueues("seed.notifications.on_ticket", (0.5, 10.0, 0.0001), (("tickets", "ticket.*"),))
    queues.declare(channel, "seed")

    declared = _declared_queues(channel)
    name = "seed.notifications.on_ticket"
    assert set(declared) == {"seed.unrouted", name, f"{name}.retry.0", f"{name}.retry.1", f"{name}.retry.2",
                             f"{name}.dlq"}
    for attempt in range(3):
        args = declared[f"{name}.retry.{attempt}"]["arguments"]
        # expired, back to the main queue through the default exchange; the
        # delay rides on each message, so changing it never clashes with the queue
        assert args == {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name}
    assert [queues.retry_delay(a) for a in range(3)] == [0.5, 10.0, 0.001]  # at least 1 ms
    assert declared[f"{name}.dlq"]["arguments"] == {}
    assert all(q["durable"] and not q["auto_delete"] for q in declared.values())
    assert "seed.tickets" in _declared_exchanges(channel)
    binds = {(c.kwargs["queue"], c.kwargs["exchange"], c.kwargs["routing_key"])
             for c in channel.queue_bind.call_args_list}
    assert (name, "seed.tickets", "ticket.*") in binds


# --- the published message --------------------------------------------------------------


def test_event_message_properties():
    event = envelope()
    message = event_message(event, "tickets")
    assert isinstance(message, amqp.Message)
    props = message.properties
    assert props["delivery_mode"] == 2  # persistent
    assert props["content_type"] == "application/cloudevents+json"
    assert props["content_encoding"] == "utf-8"
    assert props["message_id"] == str(event.event_id)
    assert props["type"] == "ticket.opened"
    assert props["timestamp"] == int(event.occurred_at.timestamp())
    assert props["application_headers"] == {"position": event.position, "stream_id": "ticket-42"}


def test_event_message_body_is_the_cloudevent_as_json():
    event = envelope(correlation_id=uuid.uuid4())
    body = event_message(event, "tickets").body
    assert isinstance(body, bytes)
    decoded = json.loads(body.decode("utf-8"))
    assert decoded == json.loads(json.dumps(to_cloudevent(event, "tickets"), default=str))
    assert decoded["specversion"] == "1.0"
    assert decoded["id"] == str(event.event_id)
    assert decoded["source"] == "/seed/tickets"
    assert decoded["correlationid"] == str(event.correlation_id)
    assert decoded["data"] == {"subject": "hello", "amount": 12.5}


def test_event_message_body_keeps_non_ascii_text():
    event = envelope(data={"subject": "Colis abîmé — 壊れた"})
    decoded = json.loads(event_message(event, "tickets").body.decode("utf-8"))
    assert decoded["data"]["subject"] == "Colis abîmé — 壊れた"


# --- confirmed publishing, against a scripted fake broker ---------------------------------


class FakeBroker:
    """Plays RabbitMQ's side of publisher confirms for one channel.

    ``policy(tag, exchange, routing_key)`` returns the replies for one publish:
    ("ack", tag, multiple), ("nack", tag, multiple) or ("return", ...); they are
    delivered one per ``drain_events`` call. With ``hold=True`` replies wait
    until ``release()`` (to reorder them).
    """

    def __init__(self, policy=None):
        self.policy = policy or (lambda tag, exchange, key: [("ack", tag, False)])
        self.published: list[tuple[int, str, str, amqp.Message, bool]] = []
        self.pending: list[tuple] = []
        self.max_unconfirmed = 0
        self.unconfirmed: set[int] = set()
        self.connections = 0
        self.channel = None

    # kombu.Connection stand-in
    def connection_factory(self, uri, **kwargs):
        broker = self

        class Conn:
            connected = False

            def connect(self):
                broker.connections += 1
                self.connected = True

            def channel(self):
                broker.channel = FakeChannel(broker)
                return broker.channel

            def close(self):
                self.connected = False

            @property
            def connection(self):
                return self

            def drain_events(self, timeout=None):
                if not broker.pending:
                    raise socket.timeout("timed out")
                broker.deliver(broker.pending.pop(0))

        return Conn()

    def deliver(self, reply):
        kind = reply[0]
        if kind == "ack":
            _, tag, multiple = reply
            self._confirm(tag, multiple)
            for handler in self.channel.events["basic_ack"]:
                handler(tag, multiple)
        elif kind == "nack":
            _, tag, multiple = reply
            self._confirm(tag, multiple)
            for handler in self.channel.events["basic_nack"]:
                handler(tag, multiple)
        else:
            _, exchange, key, message = reply
            for handler in self.channel.events["basic_return"]:
                handler(Exception("NO_ROUTE"), exchange, key, message)

    def _confirm(self, tag, multiple):
        if multiple:
            self.unconfirmed = {t for t in self.unconfirmed if t > tag}
        else:
            self.unconfirmed.discard(tag)


class FakeChannel:
    def __init__(self, broker: FakeBroker):
        self.broker = broker
        self.events = defaultdict(set)
        self.confirming = False
        self.tag = 0

    def confirm_select(self):
        self.confirming = True

    def basic_publish(self, message, exchange, routing_key, mandatory=False):
        assert self.confirming, "publish before confirm_select"
        self.tag += 1
        broker = self.broker
        broker.published.append((self.tag, exchange, routing_key, message, mandatory))
        broker.unconfirmed.add(self.tag)
        broker.max_unconfirmed = max(broker.max_unconfirmed, len(broker.unconfirmed))
        broker.pending.extend(broker.policy(self.tag, exchange, routing_key))


@pytest.fixture
def broker(monkeypatch) -> FakeBroker:
    fake = FakeBroker()
    monkeypatch.setattr(bus.kombu, "Connection", fake.connection_factory)
    return fake


def _messages(n, exchange="seed.tickets"):
    return [(exchange, "ticket.opened", event_message(envelope(), "tickets")) for _ in range(n)]


def test_publish_connects_lazily_and_returns_once_everything_is_confirmed(broker):
    publisher = ConfirmingPublisher("amqp://fake")
    assert not publisher.connected

    assert publisher.publish(_messages(3)) == 3

    assert publisher.connected and broker.connections == 1
    assert [p[0] for p in broker.published] == [1, 2, 3]
    assert all(mandatory for *_, mandatory in broker.published)
    assert {(p[1], p[2]) for p in broker.published} == {("seed.tickets", "ticket.opened")}
    assert broker.unconfirmed == set()
    assert broker.pending == []


def test_publishing_nothing_is_fine(broker):
    assert ConfirmingPublisher("amqp://fake").publish([]) == 0


def test_multiple_ack_confirms_every_earlier_tag(broker):
    # The broker stays silent until the third message, then confirms 1..3 at once.
    broker.policy = lambda tag, *_: [("ack", tag, True)] if tag % 3 == 0 else []
    assert ConfirmingPublisher("amqp://fake").publish(_messages(6)) == 6
    assert broker.unconfirmed == set()


def test_nack_raises_publish_failed(broker):
    broker.policy = lambda tag, *_: [("nack", tag, False)] if tag == 2 else [("ack", tag, False)]
    publisher = ConfirmingPublisher("amqp://fake")
    with pytest.raises(PublishFailed, match="nacked delivery 2"):
        publisher.publish(_messages(3))
    # the failure is reported once, not again on the next batch
    broker.policy = lambda tag, *_: [("ack", tag, False)]
    assert publisher.publish(_messages(1)) == 1


def test_returned_message_raises_publish_failed(broker):
    def policy(tag, exchange, key):
        message = broker.published[-1][3]
        return [("return", exchange, key, message), ("ack", tag, False)]

    broker.policy = policy
    messages = _messages(1)
    message_id = messages[0][2].properties["message_id"]
    with pytest.raises(PublishFailed, match=rf"unroutable: {message_id} to seed\.tickets/ticket\.opened"):
        ConfirmingPublisher("amqp://fake").publish(messages)


def test_missing_confirm_times_out(broker):
    broker.policy = lambda tag, *_: []  # the broker never confirms
    publisher = ConfirmingPublisher("amqp://fake", confirm_timeout=0.01)
    with pytest.raises(PublishFailed, match="no confirm"):
        publisher.publish(_messages(1))


def test_window_bounds_unconfirmed_messages(broker):
    publisher = ConfirmingPublisher("amqp://fake", window=4)
    assert publisher.publish(_messages(25)) == 25
    assert 1 < broker.max_unconfirmed <= 4


def test_reconnects_after_close(broker):
    publisher = ConfirmingPublisher("amqp://fake")
    publisher.publish(_messages(1))
    publisher.close()
    assert not publisher.connected
    assert publisher.publish(_messages(2)) == 2
    assert broker.connections == 2


def test_out_of_order_confirms_do_not_hide_a_nack(broker):
    held: list[tuple] = []

    def policy(tag, *_):
        held.append(("ack", tag, False) if tag == 2 else ("nack", tag, False))
        # deliver only once both are published, newest first: ack(2) then nack(1)
        return list(reversed(held)) if tag == 2 else []

    broker.policy = policy
    with pytest.raises(PublishFailed):
        ConfirmingPublisher("amqp://fake").publish(_messages(2))
