"""A real ``nameko run`` process: eventlet and psycopg cooperate, handlers are
idempotent, and a failing handler's message is retried, dead-lettered and
replayable, never dropped."""
import json
import subprocess
import threading
import time

import amqp
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from seedwork import db
from seedwork.bus import ConsumerQueues, event_message
from seedwork.envelope import NewEvent
from seedwork.nameko_ext import ATTEMPT_HEADER
from tests.support.polling import eventually
from tests.support.servers import AMQP_URI, ROOT

RPC_CONFIG = {"AMQP_URI": AMQP_URI}


def wait_for_rpc(method="sleep_in_database", args=(0,), timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with ClusterRpcProxy(RPC_CONFIG, timeout=5) as cluster:
                return getattr(cluster.probe, method)(*args)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start_probe(processes):
    """The probe service, once every entrypoint (queues included) is set up."""
    service = processes.probe_service()
    service.wait_for_output("starting services: probe")
    wait_for_rpc()
    return service


def test_two_slow_queries_in_one_service_process_overlap(processes):
    start_probe(processes)
    intervals, errors = [], []

    def call():
        try:
            with ClusterRpcProxy(RPC_CONFIG, timeout=30) as cluster:
                intervals.append(cluster.probe.sleep_in_database(1.0))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == [] and len(intervals) == 2
    (start_a, end_a), (start_b, end_b) = intervals
    # Each query held the database for a second; they ran at the same time
    # only if one started before the other ended.
    assert max(start_a, start_b) < min(end_a, end_b), intervals


def test_a_service_refuses_to_start_with_psycopg_blocking_wait(processes, service_env):
    service = processes.probe_service(env={**service_env, "PSYCOPG_WAIT_FUNC": "wait_c"})
    assert service.popen.wait(timeout=30) != 0
    assert "BlockingWaitError" in service.output()


def probe_queues(bus):
    queues = ConsumerQueues(f"{bus.prefix}.probe.on_work", (0.2, 0.4))
    bus.track_consumer(queues)
    return queues


def effects(database_url, schema):
    with db.connect(database_url) as conn:
        return conn.execute(f"SELECT event_id::text FROM {schema}.effects ORDER BY at").fetchall()


def wait_for(predicate, timeout=20.0, what="condition"):
    eventually(predicate, timeout=timeout, what=what, interval=0.05)


def test_events_flow_from_append_through_relay_to_a_handler_exactly_once(
        processes, bus, store, database_url, schema):
    queues = probe_queues(bus)
    start_probe(processes)
    ids = wait_for_rpc("append", ("job-1", 0, "probe.work", {"n": 1}))
    ids += wait_for_rpc("append", ("job-1", 1, "probe.work", {"n": 2}))
    wait_for(lambda: len(effects(database_url, schema)) == 2, what="two effects")

    # The broker delivers one of them again (a relay re-send after a crash).
    again = store.load("job-1")[0]
    bus.connection.Producer(channel=bus.channel).publish(
        event_message(again, "probe").body, exchange=bus.exchange("probe"), routing_key="probe.work",
        content_type="application/cloudevents+json", content_encoding="utf-8")
    wait_for(lambda: skipped(database_url, schema) == [str(again.event_id)], what="the duplicate skipped")
    assert sorted(r[0] for r in effects(database_url, schema)) == sorted(ids)
    assert bus.depth(queues.dlq) == 0


def skipped(database_url, schema):
    with db.connect(database_url) as conn:
        return [r[0] for r in conn.execute(f"SELECT event_id::text FROM {schema}.skipped")]


def test_a_concurrency_conflict_crosses_rpc_with_its_fields(processes):
    from seedwork.errors import ConcurrencyConflict

    start_probe(processes)
    wait_for_rpc("append", ("job-1", 0, "probe.work", {}))
    with ClusterRpcProxy(RPC_CONFIG, timeout=10) as cluster:
        try:
            cluster.probe.append("job-1", 0, "probe.work", {})
        except ConcurrencyConflict as conflict:
            assert (conflict.stream_id, conflict.expected_version, conflict.actual_version) == ("job-1", 0, 1)
        else:
            raise AssertionError("a stale append succeeded")


def make(*args, env):
    return subprocess.run(["make", "-s", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_a_poison_message_is_retried_then_dead_lettered_and_replayable(
        processes, bus, store, database_url, schema, service_env):
    queues = probe_queues(bus)
    service = start_probe(processes)
    poison = store.append("job-9", 0, [NewEvent("probe.work", {"poison": True})])[0]
    fine = store.append("job-10", 0, [NewEvent("probe.work", {"poison": False})])[0]

    wait_for(lambda: bus.depth(queues.dlq) == 1, what="the poison message in the DLQ")
    # The healthy message behind it was not held up, and nothing was dropped.
    assert [r[0] for r in effects(database_url, schema)] == [str(fine.event_id)]
    assert service.output().count("retrying via") == 2
    assert "dead-lettered" in service.output()

    shown = make("dlq-show", f"QUEUE={queues.name}", env=service_env)
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout.strip().splitlines()[-1])
    assert record["message_id"] == str(poison.event_id)
    assert record["attempts"] == 3 and "cannot digest" in record["error"]
    assert bus.depth(queues.dlq) == 1  # showing does not consume

    with db.connect(database_url, autocommit=True) as conn:  # the fix is deployed
        conn.execute(f"INSERT INTO {schema}.repaired (handler) VALUES ('on_work')")
    replayed = make("dlq-replay", f"QUEUE={queues.name}", env=service_env)
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 message" in replayed.stdout

    wait_for(lambda: len(effects(database_url, schema)) == 2, what="the replayed message handled")
    assert bus.depth(queues.dlq) == 0
    assert {r[0] for r in effects(database_url, schema)} == {str(poison.event_id), str(fine.event_id)}


def test_an_undecodable_message_goes_straight_to_the_dead_letter_queue(processes, bus):
    queues = probe_queues(bus)
    start_probe(processes)
    bus.connection.Producer(channel=bus.channel).publish(
        {"specversion": "1.0", "id": "not-a-uuid"}, exchange=bus.exchange("probe"), routing_key="probe.work",
        serializer="json")
    wait_for(lambda: bus.depth(queues.dlq) == 1, what="the malformed message in the DLQ")
    dead = bus.drain(queues.dlq, expect=1)[0]
    assert "not a Seed CloudEvent" in dead.headers["x-seed-error"]
    assert dead.headers[ATTEMPT_HEADER] == 0


@pytest.mark.parametrize("body, content_type", [
    (b"{not json", "application/cloudevents+json"),
    (b"plain words", "text/plain"),
])
def test_a_body_that_cannot_be_decoded_is_dead_lettered_not_dropped(processes, bus, body, content_type):
    queues = probe_queues(bus)
    start_probe(processes)
    bus.channel.basic_publish(amqp.Message(body, content_type=content_type, delivery_mode=2),
                              exchange=bus.exchange("probe"), routing_key="probe.work")
    wait_for(lambda: bus.depth(queues.dlq) == 1, what="the undecodable message in the DLQ")
    assert bus.drain(queues.dlq, expect=1)[0].body == body
