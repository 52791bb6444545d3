"""What seedwork gives every service layer, on the real PostgreSQL: writers
of one stream queue on its lock, ``If-Match`` is one check, a stream's head
is one read, and an idempotent command runs once per caller and key."""
import threading
import time

import pytest

from seedwork.caller import Caller
from seedwork.envelope import Actor, NewEvent
from seedwork.errors import IdempotencyKeyReused, PreconditionFailed
from seedwork.idempotency import IdempotencyKeys
from seedwork.store import expect_version

OWNER = Caller("agent", "ag-1", "st-1", "owner")
ADMIN = Caller("agent", "ag-2", "st-1", "admin")


def ev(kind="settings.updated", **data):
    return NewEvent(kind, data or {"n": 1}, actor=Actor("agent", "ag-1"), store_id="st-1")


# --- writers of one stream queue -------------------------------------------------------


def test_a_second_writer_waits_for_the_first_to_commit_and_then_sees_its_event(store):
    store.append("settings-1", 0, [ev(n=1)])
    first_holds, order = threading.Event(), []

    def first():
        with store.transaction() as conn:
            store.lock_stream(conn, "settings-1")
            first_holds.set()
            time.sleep(0.3)  # the second writer is queued on the lock meanwhile
            store.append("settings-1", store.stream_version("settings-1", conn), [ev(n=2)], conn=conn)
            order.append("first committed")

    def second():
        first_holds.wait()
        with store.transaction() as conn:
            store.lock_stream(conn, "settings-1")
            order.append(f"second saw version {store.stream_version('settings-1', conn)}")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order == ["first committed", "second saw version 2"]


def test_locks_of_two_streams_do_not_wait_for_each_other(store, pool):
    with store.transaction() as conn:
        store.lock_stream(conn, "a")
        with pool.connection() as other, other.transaction():
            other.execute("SET LOCAL lock_timeout = '1s'")
            store.lock_stream(other, "b")  # would time out if "b" waited for "a"


# --- If-Match and the head of a stream ----------------------------------------------------


def test_a_stale_version_is_a_412_naming_the_current_one():
    expect_version("ticket 7", None, 3)  # no If-Match: nothing to check
    expect_version("ticket 7", 3, 3)
    with pytest.raises(PreconditionFailed) as info:
        expect_version("ticket 7", 2, 3)
    assert info.value.code == "version_mismatch" and info.value.errors == {"If-Match": ["current version is 3"]}
    assert "ticket 7" in info.value.detail


def test_the_latest_event_of_a_stream_is_its_head(store):
    assert store.latest_event("settings-1") is None
    store.append("settings-1", 0, [ev(n=1), ev(n=2)])
    store.append("settings-1", 2, [ev(n=3)])
    head = store.latest_event("settings-1")
    assert (head.version, head.data) == (3, {"n": 3})
    with store.transaction() as conn:
        assert store.latest_event("settings-1", conn).event_id == head.event_id


# --- one idempotent command -------------------------------------------------------------


def test_a_command_runs_once_per_key_and_its_repeat_replays_the_answer(store):
    keys, runs = IdempotencyKeys(store.schema), []

    def create():
        runs.append(1)
        return {"created": True, "thing": {"id": len(runs)}}

    with store.transaction() as conn:
        first = keys.run(conn, OWNER, ["key-1", "print-1"], create)
    with store.transaction() as conn:
        again = keys.run(conn, OWNER.to_dict(), ("key-1", "print-1"), create)
    assert first == {"created": True, "thing": {"id": 1}}
    assert again == {**first, "replayed": True} and len(runs) == 1

    # Another caller's same key is another key; no key runs every time.
    with store.transaction() as conn:
        assert keys.run(conn, ADMIN, ["key-1", "print-1"], create)["thing"] == {"id": 2}
        assert keys.run(conn, OWNER, None, create)["thing"] == {"id": 3}


def test_the_same_key_with_another_request_is_refused(store):
    keys = IdempotencyKeys(store.schema)
    with store.transaction() as conn:
        keys.run(conn, OWNER, ["key-1", "print-1"], lambda: {"ok": True})
    with pytest.raises(IdempotencyKeyReused), store.transaction() as conn:
        keys.run(conn, OWNER, ["key-1", "print-2"], lambda: {"ok": True})


def test_a_refused_command_records_nothing_so_its_retry_runs(store):
    keys, runs = IdempotencyKeys(store.schema), []

    def flaky():
        runs.append(1)
        if len(runs) == 1:
            raise PreconditionFailed("version_mismatch", "stale")
        return {"ok": True}

    with pytest.raises(PreconditionFailed), store.transaction() as conn:
        keys.run(conn, OWNER, ["key-1", "print-1"], flaky)
    with store.transaction() as conn:
        assert keys.run(conn, OWNER, ["key-1", "print-1"], flaky) == {"ok": True}


def test_what_is_recorded_and_what_a_replay_answers_can_differ(store):
    """A token is never stored: the record keeps its id and the replay signs it again."""
    keys = IdempotencyKeys(store.schema)

    def run():
        with store.transaction() as conn:
            return keys.run(conn, OWNER, ["key-1", "print-1"], lambda: {"id": "a-1", "token": "tok_1.signed"},
                            remember=lambda answer: {"id": answer["id"], "token_id": "tok_1"},
                            recall=lambda recorded: {"id": recorded["id"], "token": recorded["token_id"] + ".signed"})

    assert run() == {"id": "a-1", "token": "tok_1.signed"}
    assert run() == {"id": "a-1", "token": "tok_1.signed", "replayed": True}
    with store.pool.connection() as conn:
        (stored,) = conn.execute(f"SELECT response FROM {store.schema}.idempotency_keys").fetchone()
    assert "token" not in stored
