"""The tickets service as Nameko runs it, in this process: its RPC
entrypoints against the real PostgreSQL and RabbitMQ, called with what the
gateway sends (callers as dicts, idempotency keys as lists), and its bus
handler fed a customers-service event on its own queue."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from seedwork.bus import ConfirmingPublisher, event_message, exchange_name
from seedwork.envelope import Actor, Envelope
from seedwork.errors import (Conflict, Forbidden, IdempotencyKeyReused, InvalidCommand, NotFound,
                             PreconditionFailed)
from services.tickets.service import TicketsService
from tests.support.polling import eventually

STORE = "st-1"
OWNER = {"store_id": STORE, "kind": "agent", "id": "ag-1", "role": "owner"}
SHOPPER = {"store_id": STORE, "kind": "customer", "id": "cust-1", "role": "customer"}
PLATFORM = {"store_id": None, "kind": "platform", "id": None, "role": "platform"}
CLEAR = {"customer_id": "cust-1", "blocked": False, "block_reason": None, "flagged": False}
BLOCKED = {**CLEAR, "blocked": True, "block_reason": "abusive_language"}
PARCEL = {"subject": "Where is my parcel?", "body": "Ordered a week ago."}


class Tickets:
    """``tickets.open(...)``: each call through the container's entrypoint, as an RPC would run it."""

    def __init__(self, container):
        self.container = container

    def __getattr__(self, method):
        def call(*args, **kwargs):
            with entrypoint_hook(self.container, method) as entrypoint:
                return entrypoint(*args, **kwargs)
        return call


@pytest.fixture
def tickets(run_service):
    return Tickets(run_service(TicketsService))


def refused(error_type, call, *args, **kwargs):
    with pytest.raises(error_type) as info:
        call(*args, **kwargs)
    return info.value


def test_the_service_reports_its_database_and_relay(tickets):
    report = tickets.health()
    assert report["database"] == "ok" and report["schema"].startswith("t_tickets_")


# --- opening ---------------------------------------------------------------------------


def test_a_shopper_opens_a_ticket_for_themselves(tickets):
    answer = tickets.open(SHOPPER, PARCEL, None, CLEAR)
    ticket = answer["ticket"]
    assert answer["created"] is True and "replayed" not in answer
    assert ticket["customer_id"] == "cust-1" and ticket["customer"] == {"id": "cust-1"}
    assert [m["author"] for m in ticket["messages"]] == [{"type": "customer", "id": "cust-1"}]


def test_staff_open_a_ticket_for_a_customer_and_see_its_summary(tickets):
    ticket = tickets.open(OWNER, {**PARCEL, "customer_id": "cust-9"})["ticket"]
    assert ticket["customer"] == {"id": "cust-9", "name": None, "groups": [], "blocked": False,
                                  "block_reason": None, "flagged": False}
    error = refused(InvalidCommand, tickets.open, OWNER, PARCEL)
    assert list(error.errors) == ["customer_id"]


def test_a_shopper_names_no_customer(tickets):
    error = refused(Forbidden, tickets.open, SHOPPER, {**PARCEL, "customer_id": "cust-1"})
    assert (error.code, error.detail) == ("field_not_allowed", "customers open tickets for themselves")
    assert error.errors == {"customer_id": ["only staff may set this field"]}


def test_a_blocked_shopper_opens_no_ticket_but_staff_still_open_one_for_them(tickets):
    error = refused(Forbidden, tickets.open, SHOPPER, PARCEL, None, BLOCKED)
    assert error.code == "customer_blocked"
    assert error.detail == ("the store has blocked you: you cannot open new tickets; your open tickets stay open")
    assert tickets.list(OWNER, {})["items"] == []  # nothing was opened, no number was used
    ticket = tickets.open(OWNER, {**PARCEL, "customer_id": "cust-1"}, None, BLOCKED)["ticket"]
    assert ticket["number"] == 1001


# --- commands, If-Match and idempotency --------------------------------------------------------


def test_a_command_with_a_stale_if_match_is_refused_and_changes_nothing(tickets):
    ticket = tickets.open(OWNER, {**PARCEL, "customer_id": "cust-1"})["ticket"]
    changed = tickets.execute(OWNER, ticket["id"], [["set_priority", {"priority": "high"}]], 1)
    assert "created" not in changed and (changed["ticket"]["version"], changed["ticket"]["priority"]) == (2, "high")
    error = refused(PreconditionFailed, tickets.execute, OWNER, ticket["id"],
                    [["set_priority", {"priority": "low"}]], 1)
    assert error.code == "version_mismatch" and error.errors == {"If-Match": ["current version is 2"]}
    assert tickets.get(OWNER, ticket["id"])["priority"] == "high"


def test_a_repeated_request_gets_the_first_answer_as_it_was(tickets):
    key = ["key-1", "fingerprint-1"]
    first = tickets.open(SHOPPER, PARCEL, key)
    again = tickets.open(SHOPPER, PARCEL, key)
    assert again["replayed"] is True and again["created"] is True and again["ticket"] == first["ticket"]
    assert len(tickets.list(OWNER, {})["items"]) == 1
    ticket_id = first["ticket"]["id"]

    step = ["key-2", "fingerprint-2"]
    replied = tickets.execute(SHOPPER, ticket_id, [["reply", {"body": "Any news?"}]], None, step)
    tickets.execute(OWNER, ticket_id, [["add_tag", {"tag": "late"}]])
    replayed = tickets.execute(SHOPPER, ticket_id, [["reply", {"body": "Any news?"}]], None, step)
    assert replayed["replayed"] is True and replayed["ticket"] == replied["ticket"]  # at the version it left
    assert tickets.get(OWNER, ticket_id)["version"] == 3

    error = refused(IdempotencyKeyReused, tickets.open, SHOPPER, {**PARCEL, "body": "other"}, ["key-1", "other"])
    assert error.code == "idempotency_key_reused"


def test_assigning_only_a_team_keeps_the_agent(tickets):
    ticket = tickets.open(OWNER, {**PARCEL, "customer_id": "cust-1"})["ticket"]
    tickets.execute(OWNER, ticket["id"], [["assign", {"assignee_id": "ag-2"}]])
    billing = tickets.create_team(OWNER, {"name": "Billing"})["team"]["id"]
    assigned = tickets.execute(OWNER, ticket["id"], [["assign", {"team": billing}]])["ticket"]
    assert (assigned["assignee_id"], assigned["team"]) == ("ag-2", billing)


def test_a_ticket_is_assigned_only_to_a_team_of_its_store(tickets):
    ticket = tickets.open(OWNER, {**PARCEL, "customer_id": "cust-1"})["ticket"]
    elsewhere = tickets.create_team({**OWNER, "store_id": "st-2"}, {"name": "Billing"})["team"]["id"]
    for team in ("billing", elsewhere):
        error = refused(InvalidCommand, tickets.execute, OWNER, ticket["id"], [["assign", {"team": team}]])
        assert list(error.errors) == ["team"]
    assert tickets.get(OWNER, ticket["id"])["version"] == 1


# --- a reply with a note, canned responses -------------------------------------------------------


def test_staff_reply_with_an_internal_note_in_one_step(tickets):
    ticket = tickets.open(SHOPPER, PARCEL)["ticket"]
    after = tickets.execute(OWNER, ticket["id"], [["reply", {"body": "On its way.", "note": "courier called"}]])
    reply, note = after["ticket"]["messages"][-2:]
    assert (reply["body"], reply["internal"], note["body"], note["internal"]) == (
        "On its way.", False, "courier called", True)
    assert [e["type"] for e in tickets.history(OWNER, ticket["id"])][-2:] == ["ticket.replied", "ticket.note_added"]
    shown = tickets.get(SHOPPER, ticket["id"])["messages"]
    assert [m["body"] for m in shown] == [PARCEL["body"], "On its way."]


def test_a_shopper_sends_neither_a_note_nor_a_canned_response(tickets):
    ticket = tickets.open(SHOPPER, PARCEL)["ticket"]
    note = refused(Forbidden, tickets.execute, SHOPPER, ticket["id"], [["reply", {"body": "hi", "note": "x"}]])
    assert (note.code, note.errors) == ("field_not_allowed", {"note": ["only staff may send this field"]})
    # Refused as a field the shopper may not send, not looked up as a canned response.
    canned = refused(Forbidden, tickets.execute, SHOPPER, ticket["id"],
                     [["reply", {"canned_response_id": str(uuid.uuid4())}]])
    assert (canned.code, canned.detail) == ("field_not_allowed", "canned responses are sent by the store's staff")
    assert canned.errors == {"canned_response_id": ["only staff may send this field"]}
    assert tickets.get(SHOPPER, ticket["id"])["version"] == 1


def test_canned_responses_are_kept_filled_and_sent_by_staff_only(tickets):
    created = tickets.create_canned(OWNER, {"title": "Shipped", "body": "#{ticket_number}: on its way, {agent_name}"},
                                    ["canned-1", "print"])
    canned = created["canned_response"]
    assert created["created"] is True and canned["version"] == 1
    again = tickets.create_canned(OWNER, {"title": "Shipped", "body": "x"}, ["canned-1", "print"])
    assert again == {**created, "replayed": True}
    assert [c["id"] for c in tickets.list_canned(OWNER)["items"]] == [canned["id"]]
    assert tickets.get_canned(OWNER, canned["id"]) == canned
    stale = refused(PreconditionFailed, tickets.update_canned, OWNER, canned["id"], {"body": "new"}, 7)
    assert stale.errors == {"If-Match": ["current version is 1"]}
    assert tickets.update_canned(OWNER, canned["id"], {"title": "Sent"}, 1)["version"] == 2

    ticket = tickets.open(SHOPPER, PARCEL)["ticket"]
    sent = tickets.execute(OWNER, ticket["id"], [["reply", {"canned_response_id": canned["id"],
                                                            "context": {"agent_name": "Sara"}}]])["ticket"]
    assert sent["messages"][-1]["body"] == f"#{ticket['number']}: on its way, Sara"
    assert sent["messages"][-1]["canned_response_id"] == canned["id"]

    tickets.delete_canned(OWNER, canned["id"])
    assert refused(NotFound, tickets.get_canned, OWNER, canned["id"]).code == "canned_response_not_found"


def test_the_platform_answers_its_tickets_without_the_stores_canned_responses(tickets):
    tickets.update_self_service_settings(OWNER, {"enabled": True})
    opened = tickets.charged_without_order(SHOPPER, {"payment_method": "mada", "card_last4": "4242",
                                                     "details": "charged twice"})["ticket"]
    error = refused(Forbidden, tickets.execute, PLATFORM, opened["id"],
                    [["reply", {"canned_response_id": str(uuid.uuid4())}]])
    assert error.code == "field_not_allowed"
    noted = tickets.execute(PLATFORM, opened["id"], [["reply", {"body": "checking", "note": "bank asked"}]])
    assert [m["internal"] for m in noted["ticket"]["messages"]] == [False, False, True]


# --- the self-service flows ----------------------------------------------------------------------


def test_a_flow_checks_the_stores_switch_then_the_shoppers_standing_then_the_order(tickets):
    fields = {"order_id": "O-404"}
    assert refused(Conflict, tickets.delayed_order, SHOPPER, None, fields, None, BLOCKED).code == \
        "self_service_disabled"
    tickets.update_self_service_settings(OWNER, {"enabled": True})
    assert refused(Forbidden, tickets.delayed_order, SHOPPER, None, fields, None, BLOCKED).code == "customer_blocked"
    missing = refused(NotFound, tickets.product_exchange, SHOPPER, None, fields, None, CLEAR)
    assert (missing.code, missing.detail) == ("order_not_found", "no order O-404")
    assert refused(NotFound, tickets.delayed_order, SHOPPER, None, fields).detail == "no order O-404"
    blocked = refused(Forbidden, tickets.customer_data_change, SHOPPER, {"changes": {"city": "Jeddah"}}, None,
                      BLOCKED)
    assert blocked.code == "customer_blocked"


def test_a_late_order_is_answered_from_the_order_the_gateway_found(tickets):
    tickets.update_self_service_settings(OWNER, {"enabled": True})
    created = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    order = {"id": "O-1", "customer_id": "cust-1", "status": "delivering", "created_at": created,
             "updated_at": created, "total": "10.00", "currency": "SAR", "items": [{"name": "Mug", "quantity": 1}],
             "tracking_url": "https://track.example/O-1"}
    answer = tickets.delayed_order(SHOPPER, order, {"order_id": "O-1"}, ["late-1", "print"], CLEAR)
    assert (answer["created"], answer["outcome"], answer["tracking_url"]) == (False, "track_order",
                                                                             "https://track.example/O-1")
    assert tickets.delayed_order(SHOPPER, order, {"order_id": "O-1"}, ["late-1", "print"])["replayed"] is True
    someone_elses = {**order, "customer_id": "cust-2"}
    assert refused(NotFound, tickets.delayed_order, SHOPPER, someone_elses, {"order_id": "O-1"}).code == \
        "order_not_found"


def test_the_platform_review_days_are_read_once_when_the_service_starts(run_service):
    tickets = Tickets(run_service(TicketsService, env={"PLATFORM_REVIEW_DAYS": "5"}))
    tickets.update_self_service_settings(OWNER, {"enabled": True})
    answer = tickets.charged_without_order(SHOPPER, {"payment_method": "mada", "card_last4": "4242",
                                                     "details": "charged twice"})
    opened_at = datetime.fromisoformat(answer["ticket"]["created_at"])
    assert datetime.fromisoformat(answer["expected_contact_by"]) - opened_at == timedelta(days=5)


# --- what a store sees of a ticket the platform handles ---------------------------------------------


def test_the_store_view_of_a_platform_tickets_events(tickets):
    tickets.update_self_service_settings(OWNER, {"enabled": True})
    opened = tickets.charged_without_order(SHOPPER, {"payment_method": "stc_pay", "card_last4": "9876",
                                                     "details": "charged twice"})["ticket"]
    tickets.execute(PLATFORM, opened["id"], [["reply", {"body": "checking"}], ["solve", {}]])
    # (Read once committed events settle: a transaction elsewhere on the server holds the horizon back a moment.)
    everything = eventually(lambda: [e for e in tickets.events(None, "0", "1000")["items"]
                                     if e["subject"] == opened["id"]], lambda found: len(found) == 3)
    seen = [tickets.store_view_of_event(e) for e in everything]
    assert [e and e["type"] for e in seen] == ["ticket.opened", None, "ticket.status_changed"]
    assert set(seen[0]["data"]) == {"ticket_id", "number", "customer_id", "type", "handled_by"}
    assert seen[2] == everything[2]
    # The store's own feed shows the same.
    feed = [e for e in tickets.events(STORE, "0", "1000")["items"] if e["subject"] == opened["id"]]
    assert feed == [seen[0], seen[2]]
    # The platform's review team reads the store's feed whole.
    theirs = [e for e in tickets.events(STORE, "0", "1000", PLATFORM)["items"] if e["subject"] == opened["id"]]
    assert theirs == everything


# --- the customer replica, fed on its queue ---------------------------------------------------------


def test_a_customer_blocked_event_on_the_queue_shows_on_the_staffs_ticket_view(run_service, private_vhost):
    container = run_service(TicketsService)
    tickets = Tickets(container)
    ticket = tickets.open(SHOPPER, PARCEL)["ticket"]
    blocked = Envelope(
        event_id=uuid.uuid4(), type="customer.blocked", schema_version=1, stream_id="cust-1", version=2, position=7,
        store_id=STORE, actor=Actor("agent", "ag-1"), correlation_id=None, causation_id=None,
        occurred_at=datetime.now(timezone.utc), data={"customer_id": "cust-1", "reason": "abusive_language",
                                                      "details": None})
    publisher = ConfirmingPublisher(private_vhost.uri())
    try:
        with entrypoint_waiter(container, "on_customer_event", timeout=20):
            publisher.publish([(exchange_name(os.environ["BUS_PREFIX"], "customers"), blocked.type,
                                event_message(blocked, "customers"))])
    finally:
        publisher.close()
    customer = tickets.get(OWNER, ticket["id"])["customer"]
    assert (customer["blocked"], customer["block_reason"]) == (True, "abusive_language")
    assert tickets.get(SHOPPER, ticket["id"])["customer"] == {"id": "cust-1"}
