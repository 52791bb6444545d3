"""The parts of the event store that need no database (seedwork.store)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from seedwork.envelope import Actor, Envelope, InvalidEvent, NewEvent, Upcasters
from seedwork.errors import TransactionTooLarge
from seedwork.store import ANY_VERSION, PER_TX, TX_SHIFT, EventStore

UTC = timezone.utc


class PoolReached(Exception):
    """Raised by the fake pool: the call got past validation."""


class FailingPool:
    def connection(self):
        raise PoolReached


class FakeEvents:
    """A sequence that only claims a length (to test size limits without building 2**20 events)."""

    def __init__(self, length):
        self.length = length

    def __len__(self):
        return self.length

    def __iter__(self):
        return iter(())


def row(*, type_="ticket.opened", schema_version=1, version=1, position=1 << 20, actor=("agent", "a-1"),
        data=None, correlation_id=None, causation_id=None, store_id="store-1"):
    return (
        uuid.uuid4(), type_, schema_version, "ticket-1", version, position, store_id, actor[0], actor[1],
        correlation_id, causation_id, datetime(2024, 5, 1, 12, 0, tzinfo=UTC), data if data is not None else {},
    )


# --- the position encoding is part of the stored format ------------------------------------


def test_position_encoding_constants():
    assert TX_SHIFT == 20
    assert PER_TX == 2**20 == 1 << TX_SHIFT
    assert ANY_VERSION == -1


def test_positions_of_a_later_transaction_sort_after_every_event_of_an_earlier_one():
    last_of_tx_7 = (7 << TX_SHIFT) + PER_TX - 1
    first_of_tx_8 = 8 << TX_SHIFT
    assert last_of_tx_7 < first_of_tx_8
    assert first_of_tx_8 >> TX_SHIFT == 8 and last_of_tx_7 >> TX_SHIFT == 7


# --- construction ---------------------------------------------------------------------


@pytest.mark.parametrize("schema", ["x; drop", "tickets.events", "Tickets", ""])
def test_unsafe_schema_is_refused(schema):
    with pytest.raises(ValueError, match="schema"):
        EventStore(None, schema)


def test_statements_use_the_schema():
    store = EventStore(None, "helpdesk_tickets")
    for statement in (*store._append_sql.values(), store._head_sql, store._load_sql, store._load_until_sql,
                      store._read_all_sql):
        assert "helpdesk_tickets.events" in statement


# --- append: what is decided before the database ------------------------------------------


def test_append_nothing_returns_nothing_without_touching_the_database():
    assert EventStore(FailingPool(), "tickets").append("ticket-1", 0, []) == []


@pytest.mark.parametrize("expected", [-2, -100])
def test_expected_version_below_any_version_is_refused(expected):
    with pytest.raises(ValueError, match="expected_version"):
        EventStore(FailingPool(), "tickets").append("ticket-1", expected, [NewEvent("ticket.opened", {})])


@pytest.mark.parametrize("expected", [ANY_VERSION, 0, 5])
def test_valid_expected_versions_reach_the_database(expected):
    with pytest.raises(PoolReached):
        EventStore(FailingPool(), "tickets").append("ticket-1", expected, [NewEvent("ticket.opened", {})])


def test_too_many_events_for_one_transaction_are_refused():
    store = EventStore(FailingPool(), "tickets")
    with pytest.raises(TransactionTooLarge, match=str(PER_TX)):
        store.append("ticket-1", 0, FakeEvents(PER_TX))
    with pytest.raises(TransactionTooLarge):
        store.append("ticket-1", 0, FakeEvents(PER_TX + 1))


def test_just_under_the_transaction_limit_is_allowed():
    with pytest.raises(PoolReached):
        EventStore(FailingPool(), "tickets").append("ticket-1", 0, FakeEvents(PER_TX - 1))


# --- rows to envelopes ----------------------------------------------------------------------


def test_rows_become_envelopes_field_by_field():
    correlation, causation = uuid.uuid4(), uuid.uuid4()
    r = row(schema_version=1, version=4, position=(9 << 20) + 3, data={"x": 1},
            correlation_id=correlation, causation_id=causation)

    [env] = EventStore(None, "tickets")._envelopes([r])

    assert env == Envelope(
        event_id=r[0], type="ticket.opened", schema_version=1, stream_id="ticket-1", version=4,
        position=(9 << 20) + 3, store_id="store-1", actor=Actor("agent", "a-1"), correlation_id=correlation,
        causation_id=causation, occurred_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC), data={"x": 1},
    )


def test_rows_keep_their_order():
    rows = [row(version=v, position=(5 << 20) + v) for v in (1, 2, 3)]
    assert [e.version for e in EventStore(None, "tickets")._envelopes(rows)] == [1, 2, 3]


def test_old_rows_are_upcast_on_read_and_new_rows_left_alone():
    upcasters = Upcasters()
    upcasters.register("ticket.opened", 1, lambda d: {"title": d["subject"]})
    upcasters.register("ticket.opened", 2, lambda d: {**d, "priority": "normal"})
    store = EventStore(None, "tickets", upcasters)
    current = {"title": "t", "priority": "high"}

    old, new, other = store._envelopes([
        row(schema_version=1, data={"subject": "s"}),
        row(schema_version=3, data=current),
        row(type_="ticket.closed", schema_version=1, data={"subject": "s"}),
    ])

    assert (old.schema_version, old.data) == (3, {"title": "s", "priority": "normal"})
    assert (new.schema_version, new.data) == (3, current)
    assert (other.schema_version, other.data) == (1, {"subject": "s"})


def test_rows_without_upcasters_are_returned_as_stored():
    [env] = EventStore(None, "tickets")._envelopes([row(schema_version=2, data={"a": 1})])
    assert (env.schema_version, env.data) == (2, {"a": 1})


def test_actors_are_rebuilt_per_row():
    store = EventStore(None, "tickets")
    envs = store._envelopes([row(actor=("agent", "a-1")), row(actor=("customer", None)), row(actor=("agent", "a-1"))])
    assert [e.actor for e in envs] == [Actor("agent", "a-1"), Actor("customer"), Actor("agent", "a-1")]


def test_row_with_unknown_actor_kind_is_refused():
    with pytest.raises(InvalidEvent):
        EventStore(None, "tickets")._envelopes([row(actor=("robot", None))])
