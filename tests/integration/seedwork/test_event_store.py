"""The event store against the real PostgreSQL."""
import threading
import uuid

import psycopg
import pytest

from seedwork import db, migrations
from seedwork.envelope import Actor, NewEvent, Upcasters
from seedwork.errors import ConcurrencyConflict
from seedwork.store import ANY_VERSION, EventStore
from tests.support.bus import read_all_settled
from tests.support.servers import drop_schema


def ev(kind="ticket.opened", **data):
    return NewEvent(kind, data or {"n": 1}, actor=Actor("customer", "c-1"), store_id="store-1")


def test_append_then_load_gives_the_events_back_in_order(store):
    stored = store.append("ticket-1", 0, [ev(n=1), ev("ticket.replied", n=2)])
    stored += store.append("ticket-1", 2, [ev("ticket.solved", n=3)])

    loaded = store.load("ticket-1")

    assert [e.version for e in loaded] == [1, 2, 3]
    assert [e.type for e in loaded] == ["ticket.opened", "ticket.replied", "ticket.solved"]
    assert loaded == stored
    assert loaded[0].actor == Actor("customer", "c-1") and loaded[0].store_id == "store-1"
    assert loaded[0].occurred_at.utcoffset().total_seconds() == 0
    assert [e.version for e in store.load("ticket-1", after_version=1)] == [2, 3]
    assert [e.version for e in store.load("ticket-1", after_version=0, until_version=2)] == [1, 2]
    assert store.stream_version("ticket-1") == 3
    assert store.stream_version("never-written") == 0


def test_stale_expected_version_is_a_conflict_naming_stream_and_versions(store):
    store.append("ticket-1", 0, [ev(), ev()])

    with pytest.raises(ConcurrencyConflict) as caught:
        store.append("ticket-1", 1, [ev()])

    assert (caught.value.stream_id, caught.value.expected_version, caught.value.actual_version) == ("ticket-1", 1, 2)
    assert "ticket-1" in str(caught.value)
    assert store.stream_version("ticket-1") == 2  # nothing was written


def test_appending_to_a_new_stream_twice_conflicts(store):
    store.append("ticket-1", 0, [ev()])
    with pytest.raises(ConcurrencyConflict):
        store.append("ticket-1", 0, [ev()])


def test_any_version_appends_after_the_head(store):
    store.append("ticket-1", 0, [ev()])
    stored = store.append("ticket-1", ANY_VERSION, [ev(), ev()])
    assert [e.version for e in stored] == [2, 3]


def test_concurrent_appends_at_the_same_version_exactly_one_wins(store):
    store.append("ticket-1", 0, [ev()])
    writers = 8
    barrier = threading.Barrier(writers)
    outcomes = []

    def write(i):
        barrier.wait()
        try:
            store.append("ticket-1", 1, [ev("ticket.replied", writer=i)])
            outcomes.append("won")
        except ConcurrencyConflict as conflict:
            outcomes.append(conflict)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes.count("won") == 1
    conflicts = [o for o in outcomes if o != "won"]
    assert len(conflicts) == writers - 1
    assert all(c.stream_id == "ticket-1" and c.expected_version == 1 and c.actual_version == 2 for c in conflicts)
    assert [e.version for e in store.load("ticket-1")] == [1, 2]


def test_a_conflict_inside_a_transaction_rolls_back_everything_in_it(store):
    store.append("ticket-2", 0, [ev()])
    with pytest.raises(ConcurrencyConflict):
        with store.transaction() as conn:
            store.append("ticket-1", 0, [ev()], conn=conn)
            store.append("ticket-2", 0, [ev()], conn=conn)  # stale: ticket-2 is at 1
    assert store.stream_version("ticket-1") == 0


def test_appends_in_one_transaction_commit_together_in_order(store):
    with store.transaction() as conn:
        a = store.append("ticket-1", 0, [ev(), ev()], conn=conn)
        b = store.append("ticket-2", 0, [ev()], conn=conn)
    positions = [e.position for e in a + b]
    assert positions == sorted(positions) and len(set(positions)) == 3
    assert [e.position for e in read_all_settled(store, 0, 3)] == positions


def test_history_is_append_only(store, pool):
    store.append("ticket-1", 0, [ev()])
    with pool.connection() as conn:
        with pytest.raises(psycopg.errors.RestrictViolation):
            conn.execute(f"UPDATE {store.schema}.events SET data = '{{}}'")
        with pytest.raises(psycopg.errors.RestrictViolation):
            conn.execute(f"DELETE FROM {store.schema}.events")
    assert store.load("ticket-1")[0].data == {"n": 1}


def test_snapshot_then_tail_rebuilds_the_same_state_as_the_whole_stream(store):
    for version in range(0, 30, 10):
        store.append("counter", version, [ev("counter.added", amount=version + i) for i in range(10)])

    def fold(state, events):
        return {"total": state["total"] + sum(e.data["amount"] for e in events)}

    full = fold({"total": 0}, store.load("counter"))
    store.save_snapshot("counter", 20, fold({"total": 0}, store.load("counter", until_version=20)))
    store.save_snapshot("counter", 20, {"total": -1})  # a second save of the same version is ignored

    snapshot, tail = store.load_with_snapshot("counter")

    assert snapshot.version == 20 and [e.version for e in tail] == list(range(21, 31))
    assert fold(snapshot.state, tail) == full
    assert store.latest_snapshot("counter", at_most_version=19) is None


def test_upcasters_lift_old_payloads_on_read(pool, store):
    store.append("ticket-1", 0, [NewEvent("ticket.opened", {"title": "late order"}, schema_version=1)])
    upcasters = Upcasters()
    upcasters.register("ticket.opened", 1, lambda d: {"subject": d["title"]})
    loaded = EventStore(pool, store.schema, upcasters).load("ticket-1")
    assert (loaded[0].schema_version, loaded[0].data) == (2, {"subject": "late order"})


def test_read_all_is_one_global_order_across_streams(store):
    for i in range(5):
        store.append(f"ticket-{i}", 0, [ev(i=i)])
        store.append("ticket-0", ANY_VERSION, [ev("ticket.replied", i=i)])
    everything = read_all_settled(store, 0, 10)
    assert len(everything) == 10
    assert [e.position for e in everything] == sorted(e.position for e in everything)
    first, rest = store.read_all(0, limit=4), store.read_all(everything[3].position, limit=100)
    assert first + rest == everything
    assert store.head_position() == everything[-1].position


def test_out_of_order_commits_are_never_skipped_by_a_tailing_reader(store, database_url):
    """Transaction A writes first but commits last. A reader that tails by
    position must not move past A's slot while A is still running."""
    store.append("warm-up", 0, [ev()])
    seen = read_all_settled(store, 0, 1)
    checkpoint = seen[-1].position

    with db.connect(database_url) as slow, db.connect(database_url) as fast:
        a = store.append("ticket-a", 0, [ev(who="a")], conn=slow)  # A holds the lower position
        b = store.append("ticket-b", 0, [ev(who="b")], conn=fast)
        fast.commit()  # B commits first
        assert b[0].position > a[0].position

        # B is committed, but A may still commit below it: the reader waits.
        assert store.read_all(checkpoint) == []

        slow.commit()  # A commits last

    tail = read_all_settled(store, checkpoint, 2)
    assert [e.stream_id for e in tail] == ["ticket-a", "ticket-b"]
    assert [e.position for e in tail] == sorted(e.position for e in tail)


def test_a_rolled_back_append_never_appears(store, database_url):
    with db.connect(database_url) as conn:
        store.append("ticket-x", 0, [ev()], conn=conn)
        conn.rollback()
    store.append("ticket-y", 0, [ev()])
    assert [e.stream_id for e in read_all_settled(store, 0, 1)] == ["ticket-y"]


def test_migrations_are_idempotent_and_refuse_an_edited_file(database_url, schema, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_things.sql").write_text("CREATE TABLE {schema}.things (id int);")
    with db.connect(database_url, autocommit=True) as conn:
        assert migrations.migrate(conn, schema, [("extra", folder)]) == ["extra/0001_things"]
        assert migrations.migrate(conn, schema, [("extra", folder)]) == []
        (folder / "0002_more.sql").write_text("ALTER TABLE {schema}.things ADD COLUMN name text;")
        assert migrations.migrate(conn, schema, [("extra", folder)]) == ["extra/0002_more"]
        (folder / "0001_things.sql").write_text("CREATE TABLE {schema}.things (id bigint);")
        with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
            migrations.migrate(conn, schema, [("extra", folder)])


def test_concurrent_migrations_of_a_new_schema_both_succeed(database_url):

    name = f"t_{uuid.uuid4().hex[:12]}"
    drop_schema(database_url, name)
    errors = []

    def run():
        try:
            with db.connect(database_url, autocommit=True) as conn:
                migrations.migrate(conn, name)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        core = len(migrations.discover("eventstore", migrations.CORE))
        with db.connect(database_url) as conn:
            # Each core migration recorded once, however many ran at the same time.
            assert conn.execute(f"SELECT count(*) FROM {name}.schema_migrations").fetchone()[0] == core
    finally:
        drop_schema(database_url, name)


def test_a_transaction_older_than_the_streams_last_writer_cannot_append_below_it(store, database_url):
    """T1 takes its transaction id first (it wrote something else), T2 then
    appends version 1 and commits, and T1 appends version 2. Stored as is,
    version 2 would precede version 1 in the global order; T1 must retry."""
    with db.connect(database_url) as older:
        store.append("elsewhere", 0, [ev()], conn=older)  # T1 now has the older transaction id
        store.append("ticket-1", 0, [ev()])  # T2, newer id, commits version 1
        with pytest.raises(ConcurrencyConflict, match="retry in a new transaction") as caught:
            store.append("ticket-1", 1, [ev("ticket.replied")], conn=older)
        assert (caught.value.expected_version, caught.value.actual_version) == (1, 1)
        older.rollback()

    store.append("ticket-1", 1, [ev("ticket.replied")])  # the retry, in a new transaction
    in_order = [e for e in read_all_settled(store, 0, 2) if e.stream_id == "ticket-1"]
    assert [e.version for e in in_order] == [1, 2]


def test_a_transaction_may_append_to_the_same_stream_twice(store):
    with store.transaction() as conn:
        store.append("ticket-1", 0, [ev()], conn=conn)
        store.append("ticket-1", 1, [ev("ticket.replied")], conn=conn)
    assert [e.version for e in store.load("ticket-1")] == [1, 2]


def test_a_lost_race_inside_a_transaction_is_reported_on_that_transaction_alone(database_url, schema):
    """The conflict names the actual version without a second pooled connection
    (a pool of one would otherwise wait forever), and the caller's transaction
    stays usable."""
    single = db.make_pool(database_url, min_size=1, max_size=1)
    try:
        store = EventStore(single, schema)
        store.append("ticket-1", 0, [ev(), ev()])
        with store.transaction() as conn:
            with pytest.raises(ConcurrencyConflict) as caught:
                store.append("ticket-1", 1, [ev()], conn=conn)
            assert caught.value.actual_version == 2
            store.append("ticket-2", 0, [ev()], conn=conn)  # the transaction goes on
        assert store.stream_version("ticket-2") == 1
    finally:
        single.close()


def test_a_snapshot_must_be_of_a_version_the_stream_has(store):
    store.append("ticket-1", 0, [ev()])
    with pytest.raises(ValueError, match="no version 5"):
        store.save_snapshot("ticket-1", 5, {"state": "from the future"})
    assert store.latest_snapshot("ticket-1") is None
