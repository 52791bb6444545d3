"""process_once: exactly one effect per event and consumer, against PostgreSQL."""
import threading
import uuid

import pytest

from seedwork.consumer import process_once
from seedwork.envelope import NewEvent
from tests.support.bus import read_all_settled


def counting_effect(store, calls):
    def effect(conn):
        calls.append(1)
        store.append(f"report-{uuid.uuid4().hex}", 0, [NewEvent("report.counted", {})], conn=conn)
        return "done"
    return effect


def test_the_same_event_runs_its_effect_once(pool, store):
    event_id, calls = uuid.uuid4(), []
    assert process_once(pool, store.schema, "reports", event_id, counting_effect(store, calls)) == (True, "done")
    assert process_once(pool, store.schema, "reports", event_id, counting_effect(store, calls)) == (False, None)
    assert process_once(pool, store.schema, "audit", event_id, counting_effect(store, calls)) == (True, "done")
    assert len(calls) == 2 and store.head_position() > 0


def test_a_failed_effect_leaves_no_record_so_the_retry_runs(pool, store):
    event_id = uuid.uuid4()

    def failing(conn):
        conn.execute(f"INSERT INTO {store.schema}.snapshots (stream_id, version, state) VALUES ('x', 1, '{{}}')")
        raise RuntimeError("smtp down")

    with pytest.raises(RuntimeError):
        process_once(pool, store.schema, "reports", event_id, failing)
    assert store.latest_snapshot("x") is None  # the effect's write rolled back too
    assert process_once(pool, store.schema, "reports", event_id, lambda conn: "retried") == (True, "retried")


def test_concurrent_duplicates_yield_one_effect(pool, store):
    event_id, barrier, outcomes = uuid.uuid4(), threading.Barrier(4), []

    def effect(conn):
        conn.execute("SELECT pg_sleep(0.2)")  # both copies are inside their effect at once
        store.append(f"report-{uuid.uuid4().hex}", 0, [NewEvent("report.counted", {})], conn=conn)

    def deliver():
        barrier.wait()
        outcomes.append(process_once(pool, store.schema, "reports", event_id, effect)[0])

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [False, False, False, True]
    counted = [e for e in read_all_settled(store, 0, 1) if e.type == "report.counted"]
    assert len(counted) == 1  # the losers' appends rolled back with them
