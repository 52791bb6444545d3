"""The outbox relay: committed events reach RabbitMQ, once a leader holds the
lock, and a crash anywhere loses nothing."""
import random
import sys
import time

import kombu
import pytest
from cloudevents.core.formats.json import JSONFormat

from seedwork import db
from seedwork.bus import ConfirmingPublisher, PublishFailed, event_message
from seedwork.envelope import CLOUDEVENTS_CONTENT_TYPE, NewEvent, from_cloudevent
from seedwork.relay import Relay
from tests.support.bus import cloudevent, read_all_settled
from tests.support.polling import eventually
from tests.support.servers import AMQP_URI


def append_events(store, count, event_type="probe.work", stream_prefix="s"):
    ids = []
    for i in range(count):
        ids += [str(e.event_id) for e in store.append(f"{stream_prefix}-{i % 7}", -1, [NewEvent(event_type, {"i": i})])]
    return ids


def make_relay(store, database_url, bus, **kwargs):
    return Relay(store, database_url, AMQP_URI, "probe", bus.prefix, **kwargs)


def test_committed_events_are_published_as_persistent_cloudevents_in_order(store, database_url, bus):
    queue = bus.bind_queue("probe")
    ids = append_events(store, 25)
    relay = make_relay(store, database_url, bus, batch_size=10)
    try:
        assert relay.try_lead()
        relay.declare()
        read_all_settled(store, 0, 25)
        assert [relay.publish_batch() for _ in range(3)] == [10, 10, 5]
        assert relay.checkpoint() == store.head_position()
        assert relay.publish_batch() == 0
    finally:
        relay.close()

    messages = bus.drain(queue, expect=25)
    assert [cloudevent(m)["id"] for m in messages] == ids
    first = messages[0]
    assert first.properties["delivery_mode"] == 2
    assert first.properties["content_type"] == CLOUDEVENTS_CONTENT_TYPE
    assert first.delivery_info["routing_key"] == "probe.work"
    assert first.delivery_info["exchange"] == bus.exchange("probe")
    parsed = JSONFormat().read(None, first.body)  # the official SDK validates it
    assert (parsed.get_type(), parsed.get_source()) == ("probe.work", "/seed/probe")
    envelopes = [from_cloudevent(cloudevent(m)) for m in messages]
    assert [e.position for e in envelopes] == sorted(e.position for e in envelopes)
    assert envelopes == store.read_all(0, limit=100)


def test_an_event_no_queue_is_bound_for_is_kept_not_lost(store, database_url, bus):
    bus.bind_queue("probe", routing_key="probe.work")
    append_events(store, 1, event_type="probe.nobody_listens")
    read_all_settled(store, 0, 1)
    relay = make_relay(store, database_url, bus)
    try:
        relay.try_lead()
        relay.declare()
        assert relay.publish_batch() == 1
        deadline = time.monotonic() + 10
        while relay.check_unrouted() == 0:  # noticed: counted (and logged)
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert relay.stats.unrouted == 1
    finally:
        relay.close()
    kept = bus.drain(f"{bus.prefix}.unrouted", expect=1)
    assert [cloudevent(m)["type"] for m in kept] == ["probe.nobody_listens"]


def test_publishing_is_mandatory_a_message_nothing_can_route_fails_loudly(store, bus):
    bare = f"{bus.prefix}.bare"
    kombu.Exchange(bare, type="topic", durable=True).declare(channel=bus.channel)
    bus.track()  # exchange removed below
    publisher = ConfirmingPublisher(AMQP_URI)
    try:
        event = store.append("s", 0, [NewEvent("probe.work", {})])[0]
        with pytest.raises(PublishFailed, match="unroutable"):
            publisher.publish([(bare, "probe.work", event_message(event, "probe"))])
    finally:
        publisher.close()
        bus.channel.exchange_delete(bare)


def test_only_one_relay_leads_and_a_standby_takes_over(store, database_url, bus):
    first, second = make_relay(store, database_url, bus), make_relay(store, database_url, bus)
    try:
        assert first.try_lead() is True
        assert second.try_lead() is False
        first.close()  # the leader's session ends: PostgreSQL releases its lock once its backend has exited
        assert eventually(second.try_lead, timeout=5, what="the standby taking the lead") is True
    finally:
        first.close()
        second.close()


def wait_until_all_received(bus, queue, expected_ids, timeout=30.0):
    received, deadline = [], time.monotonic() + timeout
    while not set(expected_ids) <= {cloudevent(m)["id"] for m in received}:
        missing = set(expected_ids) - {cloudevent(m)["id"] for m in received}
        assert time.monotonic() < deadline, f"missing {len(missing)}"
        received += bus.drain(queue)
        time.sleep(0.05)
    return [cloudevent(m)["id"] for m in received]


def test_killing_the_leading_relay_process_hands_over_to_the_standby(store, bus, processes):
    queue = bus.bind_queue("probe")
    leader = processes.relay()
    leader.wait_for_output("is now the leader")
    standby = processes.relay()
    standby.wait_for_output("running")

    before = append_events(store, 40)
    wait_until_all_received(bus, queue, before)
    assert "is now the leader" not in standby.output()

    leader.kill()  # SIGKILL: no clean shutdown, the lock goes with the session
    after = append_events(store, 40)
    received = wait_until_all_received(bus, queue, after)
    standby.wait_for_output("is now the leader")
    assert set(after) <= set(received)


def test_a_relay_that_crashes_mid_batch_loses_nothing(store, bus, processes, service_env, schema, database_url):
    queue = bus.bind_queue("probe")
    ids = append_events(store, 50)
    crashing = processes.start("crashing-relay", [sys.executable, "-m", "tests.integration.probe.crashing_relay", "20"],
                               env={**service_env, "RELAY_BATCH_SIZE": "50"})
    assert crashing.popen.wait(timeout=30) == 70, crashing.output()
    assert len(bus.drain(queue, expect=20)) == 20  # published, but the checkpoint did not move
    with db.connect(database_url) as conn:
        assert conn.execute(f"SELECT count(*) FROM {schema}.relay_checkpoint").fetchone()[0] == 0

    processes.relay()
    received = wait_until_all_received(bus, queue, ids)
    assert sorted(received) == sorted(ids)  # the second relay re-sent the unconfirmed batch in full


def test_killing_relays_at_random_moments_loses_nothing(store, bus, processes, service_env):
    queue = bus.bind_queue("probe")
    ids = append_events(store, 1500)
    env = {**service_env, "RELAY_BATCH_SIZE": "100"}
    received = []
    rng = random.Random(7)
    for _ in range(4):
        relay = processes.relay(env=env)
        relay.wait_for_output("is now the leader")
        time.sleep(rng.uniform(0.0, 0.3))
        relay.kill()
        received += [cloudevent(m)["id"] for m in bus.drain(queue)]
    processes.relay(env=env)
    received += wait_until_all_received(bus, queue, set(ids) - set(received), timeout=60)
    assert set(received) == set(ids)


def test_a_relay_whose_database_session_dies_takes_the_lock_again_and_goes_on(store, database_url, bus):
    import threading

    queue = bus.bind_queue("probe")
    relay = make_relay(store, database_url, bus, poll_interval=0.02)
    stop = threading.Event()
    runner = threading.Thread(target=relay.run, args=(stop,))
    runner.start()
    try:
        first = append_events(store, 5)
        wait_until_all_received(bus, queue, first)
        with db.connect(database_url, autocommit=True) as admin:  # the session holding the lock is cut
            admin.execute("SELECT pg_terminate_backend(%s)", (relay._lock_conn.info.backend_pid,))
        second = append_events(store, 5)
        assert set(second) <= set(wait_until_all_received(bus, queue, second))
        assert relay.stats.errors >= 1 and relay.stats.leader
    finally:
        stop.set()
        runner.join(timeout=30)
