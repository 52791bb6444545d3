"""The customer on a ticket (services.tickets.views: customer_view, to_view; and
services.tickets.customer_replica): what staff see, what a shopper never sees."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.envelope import Actor, Envelope
from services.tickets import customer_replica as customers
from services.tickets.domain.commands import OpenTicket
from services.tickets.domain.decisions import decide
from services.tickets.domain.ticket import fold, stored
from services.tickets.service import TicketsService
from services.tickets.views import customer_view, to_view

CUSTOMER = Actor("customer", "cust-1")
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
SUMMARY = customers.summary("cust-1", "Noura Al-Harbi", True, "non_serious_orders", True,
                            [{"id": "g-vip", "name": "VIP"}])
INTERNAL = {"name", "groups", "blocked", "block_reason", "flagged"}


def ticket():
    command = OpenTicket(actor=CUSTOMER, ticket_id="t-1", store_id="store-1", number=1001,
                         subject="Where is my parcel?", body="Ordered a week ago, nothing yet.")
    return fold(stored(decide(None, command, T0), 0))


# --- staff see the summary ------------------------------------------------------------


def test_staff_see_the_customers_name_groups_block_and_flag():
    view = to_view(ticket(), True, SUMMARY)
    assert view["customer"] == {"id": "cust-1", "name": "Noura Al-Harbi", "groups": [{"id": "g-vip", "name": "VIP"}],
                                "blocked": True, "block_reason": "non_serious_orders", "flagged": True}
    assert view["customer_id"] == "cust-1"  # unchanged, for existing clients


def test_a_customer_not_heard_of_yet_shows_empty_defaults_to_staff():
    assert to_view(ticket(), True)["customer"] == {
        "id": "cust-1", "name": None, "groups": [], "blocked": False, "block_reason": None, "flagged": False}


def test_the_view_does_not_share_the_summarys_lists():
    view = to_view(ticket(), True, SUMMARY)
    view["customer"]["groups"][0]["name"] = "changed"
    assert SUMMARY["groups"][0]["name"] == "VIP"


# --- a shopper sees only who they are ----------------------------------------------------


def test_a_shopper_sees_only_their_id_never_groups_block_or_flags():
    view = to_view(ticket(), False, SUMMARY)
    assert view["customer"] == {"id": "cust-1"}
    for value in ("Noura", "VIP", "g-vip", "non_serious_orders"):
        assert value not in repr(view)


@pytest.mark.parametrize("summary", [None, SUMMARY])
def test_customer_view_for_a_shopper_has_no_internal_keys(summary):
    assert not INTERNAL & customer_view("cust-1", summary, viewer_is_staff=False).keys()


def test_to_view_stays_pure_without_a_summary_for_either_viewer():
    state = ticket()
    assert to_view(state, False) == to_view(state, False, None)
    assert to_view(state, True)["customer"]["id"] == state.customer_id


# --- the summary as read ----------------------------------------------------------------


def test_an_unblocked_customer_has_no_block_reason():
    assert customers.summary("c", "A", False, "other", False, [])["block_reason"] is None


# --- which events the replica keeps ---------------------------------------------------------


class RecordingConnection:
    def __init__(self):
        self.statements: list[tuple[str, tuple]] = []

    def execute(self, sql, params=()):
        self.statements.append((sql, params))
        return self

    def fetchone(self):
        return (False,)


def envelope(event_type, data, store_id="store-1", version=1):
    return Envelope(event_id=uuid.uuid4(), type=event_type, schema_version=1, stream_id="s", version=version,
                    position=version, store_id=store_id, actor=Actor("agent", "a-1"), correlation_id=None,
                    causation_id=None, occurred_at=T0 + timedelta(minutes=version), data=data)


@pytest.mark.parametrize("event_type", ["customer.rating_requested", "customer.message_requested",
                                        "order.recorded", "shopper.flagged", "customer_group.created"])
def test_events_the_replica_does_not_keep_write_nothing(event_type):
    conn = RecordingConnection()
    assert customers.CustomerSummaries("tickets").apply(conn, envelope(event_type, {"customer_id": "c"})) is False
    assert conn.statements == []


def test_an_event_without_a_store_writes_nothing():
    conn = RecordingConnection()
    event = envelope("customer.created", {"customer_id": "c", "name": "A"}, store_id=None)
    assert customers.CustomerSummaries("tickets").apply(conn, event) is False
    assert conn.statements == []


def test_an_update_that_does_not_change_the_name_writes_nothing():
    conn = RecordingConnection()
    event = envelope("customer.updated", {"customer_id": "c", "changes": {"mobile": "+966501234567"}}, version=2)
    assert customers.CustomerSummaries("tickets").apply(conn, event) is True
    assert conn.statements == []


def test_the_mobile_never_reaches_the_replica():
    conn = RecordingConnection()
    summaries = customers.CustomerSummaries("tickets")
    summaries.apply(conn, envelope("customer.created", {
        "customer_id": "c", "name": "A", "mobile": "+966501234567", "email": "a@example.com"}))
    summaries.apply(conn, envelope("customer.updated", {
        "customer_id": "c", "changes": {"name": "B", "mobile": "+966501234568"}}, version=2))
    assert conn.statements and all("+9665" not in repr(params) for _, params in conn.statements)


def test_every_kept_event_type_has_a_handler_and_the_service_binds_exactly_those():
    summaries = customers.CustomerSummaries("tickets")
    assert set(customers.EVENT_TYPES) == set(summaries._handlers)
    [entrypoint] = TicketsService.on_customer_event.nameko_entrypoints
    assert entrypoint.source_service == "customers"
    assert set(entrypoint.event_types) == set(customers.EVENT_TYPES)
