"""The tickets service's replica of customers, against the real PostgreSQL and
RabbitMQ: the customers service's events (published here as the relay would)
become the customer summary every ticket shows to staff, once per event,
whatever order they arrive in; shoppers never see groups, block or flags."""
from __future__ import annotations

import itertools
import os
import random
import sys
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import kombu
import pytest

from seedwork import db
from seedwork.bus import ConfirmingPublisher, event_message, exchange_name
from seedwork.caller import Caller
from seedwork.envelope import Actor, Envelope
from seedwork.store import EventStore
from services.tickets.application import build
from services.tickets.customer_replica import CustomerSummaries
from tests.support.processes import Process
from tests.support.polling import eventually
from tests.support.servers import ROOT, Vhost, drop_schema, new_schema, vhosts_unavailable

TICKETS_MIGRATIONS = [("tickets", ROOT / "services" / "tickets" / "migrations")]
CONSUMER = "tickets.on_customer_event"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
_positions = itertools.count(1)


# --- events as the customers service's relay publishes them ---------------------------


def event(event_type, stream_id, version, store_id, **data) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(), type=event_type, schema_version=1, stream_id=stream_id, version=version,
        position=next(_positions), store_id=store_id, actor=Actor("agent", "agent-1"), correlation_id=None,
        causation_id=None, occurred_at=T0 + timedelta(minutes=version), data=data,
    )


def customer(store_id, name="Noura"):
    """Helpers that write the events of one customer stream, versions counted."""
    customer_id = str(uuid.uuid4())
    versions = itertools.count(1)

    def next_event(event_type, **data):
        return event(event_type, customer_id, next(versions), store_id, customer_id=customer_id, **data)

    created = next_event("customer.created", name=name, mobile="+966501234567", email=None, city="Riyadh",
                         gender=None, birthday=None, notes=None, source="api")
    return customer_id, created, next_event


def group(store_id, name):
    group_id = str(uuid.uuid4())
    versions = itertools.count(1)

    def next_event(event_type, **data):
        return event(event_type, group_id, next(versions), store_id, group_id=group_id, **data)

    next_event("customer_group.created", name=name)  # version 1: nothing for tickets in it
    return group_id, next_event


def new_store_id() -> str:
    return f"store-{uuid.uuid4().hex[:8]}"


# --- the tickets service, running, on a private virtual host --------------------------


class RunningTickets:
    """``python -m seedwork.launch tickets`` on its own schema and virtual host
    (Nameko's RPC queue ``rpc-tickets`` is not prefixed: it must not answer a
    developer's running system). One worker, so messages are handled one at a
    time in the order published: a later message handled means every earlier
    one was (the ordering cases are the permutation test's job)."""

    def __init__(self, database_url, tmp_path):
        suffix = uuid.uuid4().hex[:8]
        self.vhost = Vhost(f"seed_test_{suffix}").create()
        self.amqp_uri = self.vhost.uri()
        self.database_url = database_url
        self.schema = f"t_tickets_{suffix}"
        self.queue = "seed.tickets.on_customer_event"
        env = {
            **os.environ, "DATABASE_URL": database_url, "TICKETS_DB_SCHEMA": self.schema,
            "AMQP_URI": self.amqp_uri, "BUS_PREFIX": "seed", "MAX_WORKERS": "1",
            "CONSUMER_RETRY_DELAYS": "0.2,0.4", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
        }
        self.process = Process([sys.executable, "-m", "seedwork.launch", "tickets"], env, tmp_path / "tickets.log")
        self.publisher = ConfirmingPublisher(self.amqp_uri)
        self._wait_for_consumer()
        self.pool = db.make_pool(database_url, max_size=4, name="replica-tests")
        self.store = EventStore(self.pool, self.schema)

    def _wait_for_consumer(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        with kombu.Connection(self.amqp_uri) as conn:
            while True:
                try:
                    if conn.channel().queue_declare(self.queue, passive=True).consumer_count >= 1:
                        return
                except Exception:  # not declared yet (the broker closed that channel)
                    pass
                if self.process.popen.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the tickets service never consumed:\n{self.process.output()}")
                time.sleep(0.2)

    def publish(self, *events: Envelope) -> None:
        exchange = exchange_name("seed", "customers")
        self.publisher.publish([(exchange, e.type, event_message(e, "customers")) for e in events])

    def processed(self, *events: Envelope) -> int:
        with self.pool.connection() as conn:
            return conn.execute(
                f"SELECT count(*) FROM {self.schema}.processed_events WHERE consumer = %s AND event_id = ANY(%s)",
                (CONSUMER, [e.event_id for e in events])).fetchone()[0]

    def deliver(self, *events: Envelope, timeout=20.0) -> None:
        """Publish, and return once the last one is processed (so, with one worker, all)."""
        self.publish(*events)
        eventually(lambda: self.processed(events[-1]), timeout=timeout, interval=0.05,
                   what="the last event processed", explain=lambda: "\n" + self.process.output()[-3000:])

    def summary(self, store_id, customer_id):
        with self.pool.connection() as conn:
            return CustomerSummaries(self.schema).for_ticket(conn, store_id, [customer_id]).get(customer_id)

    def dead_letters(self) -> int:
        with kombu.Connection(self.amqp_uri) as conn:
            return conn.channel().queue_declare(f"{self.queue}.dlq", passive=True).message_count

    def stop(self):
        self.publisher.close()
        self.process.stop()
        self.pool.close()
        self.vhost.delete()
        drop_schema(self.database_url, self.schema)


@pytest.fixture(scope="module")
def tickets(database_url, tmp_path_factory):
    why_not = vhosts_unavailable()
    if why_not:
        pytest.skip(f"cannot create an isolated RabbitMQ virtual host: {why_not}")
    running = RunningTickets(database_url, tmp_path_factory.mktemp("replica"))
    try:
        yield running
    finally:
        running.stop()


# --- events in, the summary out -----------------------------------------------------------


def test_customer_events_become_the_summary(tickets):
    store_id = new_store_id()
    customer_id, created, then = customer(store_id, "Noura")
    group_id, group_event = group(store_id, "VIP")
    tickets.deliver(
        created,
        then("customer.updated", changes={"name": "Noura Al-Harbi", "mobile": "+966501234568"}),
        then("customer.blocked", reason="non_serious_orders", details="three refused COD parcels"),
        then("customer.flagged", flag_id="flag-1", code="non_serious_buyer",
             reasons=[{"rule": "blocked_by_stores", "count": 2, "description": "blocked by 2 stores"}],
             raised_at="2024-05-01T10:00:00Z"),
        group_event("customer_group.members_added", name="VIP", customer_ids=[customer_id]),
    )
    assert tickets.summary(store_id, customer_id) == {
        "id": customer_id, "name": "Noura Al-Harbi", "groups": [{"id": group_id, "name": "VIP"}],
        "blocked": True, "block_reason": "non_serious_orders", "flagged": True}

    # Unblocked, flag cleared, out of the group: back to a plain customer.
    tickets.deliver(
        then("customer.unblocked", previous_reason="non_serious_orders"),
        then("customer.flag_cleared", flag_id="flag-1"),
        group_event("customer_group.members_removed", name="VIP", customer_ids=[customer_id]),
    )
    assert tickets.summary(store_id, customer_id) == {
        "id": customer_id, "name": "Noura Al-Harbi", "groups": [], "blocked": False, "block_reason": None,
        "flagged": False}
    assert tickets.dead_letters() == 0


def test_the_mobile_is_not_kept(tickets):
    store_id = new_store_id()
    customer_id, created, then = customer(store_id)
    tickets.deliver(created, then("customer.updated", changes={"mobile": "+966500000000"}))
    with tickets.pool.connection() as conn:
        row = conn.execute(f"SELECT * FROM {tickets.schema}.customer_summaries WHERE customer_id = %s",
                           (customer_id,)).fetchone()
    assert row is not None and not any("+9665" in str(value) for value in row)


def test_the_same_event_delivered_twice_is_applied_once(tickets):
    store_id = new_store_id()
    customer_id, created, then = customer(store_id, "Noura")
    renamed = then("customer.updated", changes={"name": "Noura A."})
    tickets.deliver(created, renamed, renamed)  # the relay re-sent a batch
    sentinel = then("customer.blocked", reason="other", details=None)
    tickets.deliver(sentinel)  # one worker: the duplicate was handled before it

    assert tickets.processed(created, renamed, sentinel) == 3  # one record per event id
    assert tickets.summary(store_id, customer_id)["name"] == "Noura A."
    assert tickets.dead_letters() == 0


def test_an_older_event_arriving_after_a_newer_one_does_not_roll_the_name_back(tickets):
    store_id = new_store_id()
    customer_id, created, then = customer(store_id, "Old name")
    renamed = then("customer.updated", changes={"name": "New name"})
    tickets.deliver(renamed)  # overtook customer.created (a retry, another worker)
    assert tickets.summary(store_id, customer_id)["name"] == "New name"
    tickets.deliver(created)
    assert tickets.summary(store_id, customer_id)["name"] == "New name"


def test_renaming_a_group_renames_it_on_every_members_summary(tickets):
    store_id = new_store_id()
    members = [customer(store_id, name) for name in ("Ann", "Bob", "Cy")]
    group_id, group_event = group(store_id, "Wholesale")
    tickets.deliver(*(created for _, created, _ in members),
                    group_event("customer_group.members_added", name="Wholesale",
                                customer_ids=[customer_id for customer_id, _, _ in members]),
                    group_event("customer_group.renamed", name="Trade", previous_name="Wholesale"))
    for customer_id, _, _ in members:
        assert tickets.summary(store_id, customer_id)["groups"] == [{"id": group_id, "name": "Trade"}]

    tickets.deliver(group_event("customer_group.deleted", name="Trade"))
    for customer_id, _, _ in members:
        assert tickets.summary(store_id, customer_id)["groups"] == []


def test_stores_do_not_share_customers(tickets):
    store_a, store_b = new_store_id(), new_store_id()
    customer_id, created, _ = customer(store_a, "Only in A")
    tickets.deliver(created)
    assert tickets.summary(store_a, customer_id)["name"] == "Only in A"
    assert tickets.summary(store_b, customer_id) is None


# --- any order, any number of times -------------------------------------------------------


@pytest.fixture
def replica(database_url, pool):
    schema = new_schema(database_url, TICKETS_MIGRATIONS)
    yield schema, pool
    drop_schema(database_url, schema)


def one_customers_history(store_id):
    """A customer's and a group's streams, with every kind of change twice over."""
    customer_id, created, then = customer(store_id, "A")
    group_id, group_event = group(store_id, "G1")
    events = [
        created,
        then("customer.updated", changes={"name": "B"}),
        then("customer.blocked", reason="abusive_language", details=None),
        then("customer.updated", changes={"city": "Jeddah"}),
        then("customer.flagged", flag_id="f1", code="non_serious_buyer", reasons=[], raised_at="2024-05-01T10:00:00Z"),
        then("customer.unblocked", previous_reason="abusive_language"),
        then("customer.flagged", flag_id="f2", code="non_serious_buyer", reasons=[], raised_at="2024-05-01T11:00:00Z"),
        then("customer.flag_cleared", flag_id="f1"),
        then("customer.blocked", reason="fraud_suspicion", details="chargebacks"),
        then("customer.updated", changes={"name": "C"}),
        group_event("customer_group.members_added", name="G1", customer_ids=[customer_id, "someone-else"]),
        group_event("customer_group.members_removed", name="G1", customer_ids=[customer_id]),
        group_event("customer_group.renamed", name="G2", previous_name="G1"),
        group_event("customer_group.members_added", name="G2", customer_ids=[customer_id, customer_id]),
    ]
    return customer_id, events


def apply_all(schema, pool, events):
    summaries = CustomerSummaries(schema)
    for e in events:
        with pool.connection() as conn, conn.transaction():
            summaries.apply(conn, e)


def test_any_order_and_any_duplicates_end_in_the_in_order_summary(replica):
    schema, pool = replica
    store_id = new_store_id()
    customer_id, events = one_customers_history(store_id)
    apply_all(schema, pool, events)
    with pool.connection() as conn:
        expected = CustomerSummaries(schema).for_ticket(conn, store_id, [customer_id])[customer_id]
    assert expected["name"] == "C" and expected["blocked"] and expected["block_reason"] == "fraud_suspicion"
    assert expected["flagged"] is True and [g["name"] for g in expected["groups"]] == ["G2"]

    rng = random.Random(20240501)
    for _ in range(30):
        shuffled_store = new_store_id()
        # The same history in another store (ids stay the same: keys are per store).
        moved = [replace(e, store_id=shuffled_store) for e in events]
        delivered = moved + rng.sample(moved, k=5)
        rng.shuffle(delivered)
        apply_all(schema, pool, delivered)
        with pool.connection() as conn:
            got = CustomerSummaries(schema).for_ticket(conn, shuffled_store, [customer_id])[customer_id]
        assert got == expected, [e.type for e in delivered]


def test_a_deleted_group_stays_gone_even_if_an_older_add_arrives_late(replica):
    schema, pool = replica
    store_id = new_store_id()
    customer_id, created, _ = customer(store_id)
    group_id, group_event = group(store_id, "Gone")
    added = group_event("customer_group.members_added", name="Gone", customer_ids=[customer_id])
    deleted = group_event("customer_group.deleted", name="Gone")
    apply_all(schema, pool, [created, deleted, added])
    with pool.connection() as conn:
        assert CustomerSummaries(schema).for_ticket(conn, store_id, [customer_id])[customer_id]["groups"] == []


# --- the ticket views ---------------------------------------------------------------------


def staff_of(store_id):
    return Caller("agent", "agent-1", store_id, "agent")


def shopper(store_id, customer_id):
    return Caller("customer", customer_id, store_id, "customer")


INTERNAL = {"name", "groups", "blocked", "block_reason", "flagged"}


def test_staff_see_the_customer_on_every_ticket_view_and_the_shopper_sees_only_their_id(tickets):
    store_id = new_store_id()
    customer_id, created, then = customer(store_id, "Noura")
    group_id, group_event = group(store_id, "VIP")
    app = build(tickets.store)
    staff, me = staff_of(store_id), shopper(store_id, customer_id)

    # A ticket opened before anything is known about its customer: empty defaults.
    opened = app.writes.open(me, {"subject": "Parcel?", "body": "Where is it?"})["ticket"]
    unknown = app.reads.get(staff, opened["id"])["customer"]
    assert unknown == {"id": customer_id, "name": None, "groups": [], "blocked": False, "block_reason": None,
                       "flagged": False}

    tickets.deliver(
        created,
        then("customer.blocked", reason="non_serious_orders", details="refused three parcels"),
        then("customer.flagged", flag_id="flag-9", code="non_serious_buyer", reasons=[],
             raised_at="2024-05-01T10:00:00Z"),
        group_event("customer_group.members_added", name="VIP", customer_ids=[customer_id]),
    )
    known = {"id": customer_id, "name": "Noura", "groups": [{"id": group_id, "name": "VIP"}], "blocked": True,
             "block_reason": "non_serious_orders", "flagged": True}

    # Staff: get, execute, open and list all carry it.
    assert app.reads.get(staff, opened["id"])["customer"] == known
    noted = app.writes.execute(staff, opened["id"], [["note", {"body": "Careful: COD refusals."}]])["ticket"]
    assert noted["customer"] == known
    second = app.writes.open(staff, {"subject": "Refund", "body": "On behalf", "customer_id": customer_id})["ticket"]
    assert second["customer"] == known
    items = app.reads.list(staff, {})["items"]
    assert {i["id"] for i in items} == {opened["id"], second["id"]}
    assert all(i["customer"] == known for i in items)

    # The shopper: their id, nothing the store keeps about them.
    for view in (app.reads.get(me, opened["id"]),
                 app.writes.execute(me, opened["id"], [["reply", {"body": "Any news?"}]])["ticket"],
                 *app.reads.list(me, {})["items"]):
        assert view["customer"] == {"id": customer_id}
        assert not any(word in repr(view) for word in ("VIP", "non_serious_orders", "Noura", group_id))


def test_a_list_page_reads_its_customers_in_one_query(tickets, monkeypatch):
    store_id = new_store_id()
    app = build(tickets.store)
    people = [customer(store_id, name) for name in ("Ann", "Bob", "Cy")]
    tickets.deliver(*(created for _, created, _ in people))
    for customer_id, _, _ in people:
        app.writes.open(staff_of(store_id), {"subject": "Hi", "body": "Help", "customer_id": customer_id})

    calls = []
    real = CustomerSummaries.for_ticket

    def counting(self, conn, store, ids):
        calls.append(list(ids))
        return real(self, conn, store, calls[-1])

    monkeypatch.setattr(CustomerSummaries, "for_ticket", counting)
    items = app.reads.list(staff_of(store_id), {})["items"]
    assert len(calls) == 1 and sorted(calls[0]) == sorted(c for c, _, _ in people)
    assert sorted(i["customer"]["name"] for i in items) == ["Ann", "Bob", "Cy"]
