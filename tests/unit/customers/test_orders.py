"""An order the store platform pushes (services.customers.orders.domain):
the fields it must carry, and "the latest updated_at wins"."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.envelope import Actor
from seedwork.errors import InvalidCommand
from services.customers.orders.domain import RecordOrder, clean_order, decide, evolve, fold, stream_id, supersedes

from .streams import stored

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
PLATFORM = Actor("agent", "ag-1")
CUSTOMER_ID = "6f1c7d3e-4b1a-4c41-9d1e-6a2f1b0c9e11"


def fields(status="delivered", updated=T0, **extra) -> dict:
    return {"customer_id": CUSTOMER_ID, "status": status, "created_at": T0.isoformat(),
            "updated_at": updated.isoformat(), "total": "150.5", "currency": "sar", "payment_method": "cod",
            "items": [{"name": " Dates 1kg ", "quantity": 2, "price": 75.25}], **extra}


def push(state, body: dict, order_id="1001"):
    """``state`` after the platform pushes ``body``: the events decided, and the order."""
    events = decide(state, RecordOrder(actor=PLATFORM, store_id="st-1", order=clean_order(order_id, body)), NOW)
    return events, fold(stored(events, state.version if state else 0, stream_id("st-1", order_id)), state)


# --- the fields ---------------------------------------------------------------------------


def test_an_order_is_cleaned_into_what_order_recorded_carries():
    assert clean_order("1001", fields(tracking_url="https://t.example/1")) == {
        "order_id": "1001", "customer_id": CUSTOMER_ID, "status": "delivered",
        "created_at": "2026-11-01T09:00:00+00:00", "updated_at": "2026-11-01T09:00:00+00:00",
        "total": "150.50", "currency": "SAR", "payment_method": "cod",
        "items": [{"name": "Dates 1kg", "quantity": 2, "price": "75.25"}],
        "tracking_url": "https://t.example/1", "rated": False}


@pytest.mark.parametrize("name, value", [
    ("status", "lost"), ("payment_method", "cash"), ("currency", "riyal"), ("total", "-1"), ("total", "1.005"),
    ("created_at", "2026-11-01T09:00:00"), ("updated_at", "yesterday"), ("tracking_url", "ftp://x"),
    ("rated", "yes"), ("items", [{"name": "x", "quantity": 0}]),
])
def test_a_bad_field_is_named(name, value):
    with pytest.raises(InvalidCommand) as refused:
        clean_order("1001", fields(**{name: value}))
    assert name in refused.value.errors


def test_an_update_before_the_creation_and_a_bad_order_id_are_refused():
    with pytest.raises(InvalidCommand) as refused:
        clean_order("1001", fields(updated=T0 - timedelta(seconds=1)))
    assert "updated_at" in refused.value.errors
    with pytest.raises(InvalidCommand) as refused:
        clean_order("no spaces", fields())
    assert "id" in refused.value.errors


def test_missing_fields_are_named_together():
    with pytest.raises(InvalidCommand) as refused:
        clean_order("1001", {"status": "delivered"})
    assert set(refused.value.errors) == {"customer_id", "created_at", "updated_at", "total", "currency",
                                         "payment_method", "items"}


# --- the latest updated_at wins -----------------------------------------------------------


def test_the_first_push_records_the_order_with_no_previous_status():
    [event], order = push(None, fields(status="delivering"))
    assert (event.type, event.store_id, event.occurred_at) == ("order.recorded", "st-1", NOW)
    assert event.data["previous_status"] is None and order.version == 1
    assert order.order["status"] == "delivering"


def test_a_newer_push_replaces_the_order_and_names_the_status_it_had():
    _, order = push(None, fields(status="delivering", updated=T0 + timedelta(hours=1)))
    [event], order = push(order, fields(status="delivered", updated=T0 + timedelta(hours=3)))
    assert (event.data["status"], event.data["previous_status"], order.version) == ("delivered", "delivering", 2)


def test_an_older_or_identical_push_decides_nothing():
    _, order = push(None, fields(status="delivered", updated=T0 + timedelta(hours=3)))
    assert push(order, fields(status="delivering", updated=T0 + timedelta(hours=2)))[0] == []
    assert push(order, fields(status="delivered", updated=T0 + timedelta(hours=3)))[0] == []
    # The same instant written with another offset is the same instant.
    same = fields(status="delivered", updated=(T0 + timedelta(hours=3)).astimezone(timezone(timedelta(hours=3))))
    assert push(order, same)[0] == []


def test_at_the_same_instant_different_content_wins():
    _, order = push(None, fields(status="delivered", updated=T0 + timedelta(hours=3)))
    [event], order = push(order, fields(status="returned", updated=T0 + timedelta(hours=3)))
    assert event.data["status"] == "returned"


def test_supersedes_reads_instants_not_strings():
    current = clean_order("1001", fields())
    moved = {**current, "created_at": "2026-11-01T12:00:00+03:00"}  # the same instant
    assert not supersedes(moved, current)
    assert supersedes({**current, "created_at": "2026-11-01T12:00:01+03:00"}, current)


def test_the_order_is_its_last_event():
    _, order = push(None, fields(status="delivering", updated=T0 + timedelta(hours=1)))
    events, order = push(order, fields(status="delivered", updated=T0 + timedelta(hours=2)))
    last = stored(events, 1, stream_id("st-1", "1001"))[0]
    assert evolve(None, last) == order
    with pytest.raises(ValueError):
        evolve(None, replace(last, type="customer.created"))
