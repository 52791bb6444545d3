"""Who may see a ticket, upload and download its files, and what a store sees
of a ticket the platform handles (services.tickets.domain.policy): the rules
the service layer asks before it reads or writes anything."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from seedwork.caller import PLATFORM, Caller, system
from seedwork.envelope import Actor
from seedwork.errors import Conflict, Forbidden
from services.tickets.domain import policy
from services.tickets.domain.commands import AddNote, Attachment, ChangeStatus, OpenTicket, PostReply
from services.tickets.domain.decisions import decide
from services.tickets.domain.ticket import EVENT_TYPES, TicketState, fold, stored

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
OWNER = Caller("agent", "ag-1", "store-1", "owner")
AGENT = Caller("agent", "ag-2", "store-1", "agent")
SHOPPER = Caller("customer", "cust-1", "store-1", "customer")
OTHER_SHOPPER = Caller("customer", "cust-2", "store-1", "customer")
OTHER_STORE = Caller("agent", "ag-9", "store-2", "owner")
SYSTEM = system("store-1", "self-service")
PHOTO = "a" * 64


def ticket(*steps, platform: bool = False) -> TicketState:
    """cust-1's ticket in store-1, after ``steps`` (commands built from the state so far)."""
    flow = {"handled_by": "platform", "type": "charged_without_order",
            "flow": {"payment": {"method": "mada", "card_last4": "4242"}}} if platform else {}
    events = decide(None, OpenTicket(actor=SHOPPER.actor, ticket_id="t-1", store_id="store-1", number=1001,
                                     subject="s", body="b", **flow), T0)
    state = fold(stored(events, 0))
    for step in steps:
        state = fold(stored(decide(state, step, T0), state.version), state)
    return state


def uploaded(file_id: str) -> Attachment:
    return Attachment("receipt.png", None, "image/png", 10, file_id, PHOTO)


# --- who sees a ticket -----------------------------------------------------------------


@pytest.mark.parametrize("caller, sees", [(OWNER, True), (AGENT, True), (SYSTEM, True), (SHOPPER, True),
                                          (OTHER_SHOPPER, False), (OTHER_STORE, False), (PLATFORM, False)],
                         ids=["owner", "agent", "system", "its shopper", "another shopper", "another store",
                              "the platform"])
def test_a_store_ticket_is_seen_by_its_store_and_its_shopper(caller, sees):
    assert policy.visible_to(ticket(), caller) is sees


def test_the_platform_sees_the_tickets_it_handles_in_any_store():
    handled = ticket(platform=True)
    assert policy.visible_to(handled, PLATFORM) and policy.visible_to(handled, OWNER)
    assert not policy.visible_to(handled, OTHER_STORE)


def test_the_store_only_follows_a_ticket_the_platform_handles():
    handled = ticket(ChangeStatus(actor=Actor("platform"), status="pending"), platform=True)
    assert policy.is_restricted_for(handled, OWNER) and policy.is_restricted_for(handled, SYSTEM)
    assert not policy.is_restricted_for(handled, PLATFORM) and not policy.is_restricted_for(handled, SHOPPER)
    assert not policy.is_restricted_for(ticket(), OWNER)
    assert [t for t in EVENT_TYPES if policy.shows_in_history(handled, OWNER, t)] == ["ticket.status_changed"]
    assert policy.shows_in_history(handled, PLATFORM, "ticket.note_added")


def test_a_shopper_history_shows_only_public_events():
    state = ticket()
    assert {t for t in EVENT_TYPES if not policy.shows_in_history(state, SHOPPER, t)} == {
        "ticket.note_added", "ticket.assigned", "ticket.unassigned", "ticket.tag_added", "ticket.tag_removed",
        "ticket.priority_changed", "ticket.type_changed", "ticket.merge_received", "ticket.merge_reverted",
        "sla.warning", "sla.breached", "ticket.forwarded_by_email"}
    assert all(policy.shows_in_history(state, AGENT, t) for t in EVENT_TYPES)


# --- who may upload a file -------------------------------------------------------------------


def test_staff_and_the_shopper_attach_files_to_an_open_ticket():
    for caller in (OWNER, SHOPPER):
        policy.check_attachment(ticket(), caller, shoppers_may_attach=True)


def test_the_stores_switch_binds_shoppers_only():
    with pytest.raises(Conflict) as refused:
        policy.check_attachment(ticket(), SHOPPER, shoppers_may_attach=False)
    assert refused.value.code == "attachments_disabled" and list(refused.value.errors) == ["allow_attachments"]
    policy.check_attachment(ticket(), OWNER, shoppers_may_attach=False)


def test_no_file_goes_to_a_closed_ticket_or_from_the_store_to_a_platform_one():
    closed = ticket(ChangeStatus(actor=AGENT.actor, status="closed"))
    with pytest.raises(Conflict) as refused:
        policy.check_attachment(closed, OWNER, shoppers_may_attach=True)
    assert refused.value.code == "ticket_closed"
    with pytest.raises(Forbidden) as forbidden:
        policy.check_attachment(ticket(platform=True), OWNER, shoppers_may_attach=True)
    assert forbidden.value.code == "handled_by_platform"
    policy.check_attachment(ticket(platform=True), PLATFORM, shoppers_may_attach=True)


# --- who may download one ---------------------------------------------------------------------


def test_a_file_goes_to_who_may_see_the_message_carrying_it():
    state = ticket(AddNote(actor=AGENT.actor, body="", attachments=(uploaded("f-note"),)),
                   PostReply(actor=SHOPPER.actor, attachments=(uploaded("f-reply"),)))
    by_agent, by_shopper = ("agent", "ag-2"), ("customer", "cust-1")
    assert policy.may_download(state, OWNER, "f-note", by_agent)
    assert not policy.may_download(state, SHOPPER, "f-note", by_agent)  # a note's file: staff only
    assert policy.may_download(state, SHOPPER, "f-reply", by_shopper)
    assert policy.may_download(state, OWNER, "f-reply", by_shopper)


def test_an_upload_on_no_message_yet_goes_to_its_uploader_only():
    state = ticket()
    assert policy.may_download(state, SHOPPER, "f-new", ("customer", "cust-1"))
    assert not policy.may_download(state, OWNER, "f-new", ("customer", "cust-1"))


def test_the_store_downloads_nothing_of_a_ticket_the_platform_handles():
    state = ticket(PostReply(actor=SHOPPER.actor, attachments=(uploaded("f-1"),)), platform=True)
    assert not policy.may_download(state, OWNER, "f-1", ("customer", "cust-1"))
    assert policy.may_download(state, PLATFORM, "f-1", ("customer", "cust-1"))


# --- what a store sees of a ticket the platform handles --------------------------------------


def cloudevent(event_type: str, data: dict) -> dict:
    return {"specversion": "1.0", "id": "e-1", "source": "/seed/tickets", "type": event_type, "subject": "t-1",
            "storeid": "store-1", "data": data}


def test_the_store_sees_the_opening_without_message_or_payment():
    opened = cloudevent("ticket.opened", {
        "ticket_id": "t-1", "number": 1001, "customer_id": "cust-1", "subject": "Charged", "type":
        "charged_without_order", "priority": "normal", "order_id": None, "message": {"id": "m", "body": "4242"},
        "handled_by": "platform", "payment": {"method": "mada", "card_last4": "4242"}})
    seen = policy.store_view_of_event(opened)
    assert seen == {**opened, "data": {"ticket_id": "t-1", "number": 1001, "customer_id": "cust-1",
                                       "type": "charged_without_order", "handled_by": "platform"}}
    assert list(seen["data"]) == ["ticket_id", "number", "customer_id", "type", "handled_by"]
    assert policy.store_view_of_event(seen) == seen  # trimming again changes nothing
    assert opened["data"]["payment"]  # the event given is left alone


def test_keys_keep_the_order_of_the_events_own_data():
    reordered = cloudevent("ticket.opened", {"type": "x", "handled_by": "platform", "ticket_id": "t-1"})
    assert list(policy.store_view_of_event(reordered)["data"]) == ["type", "handled_by", "ticket_id"]


def test_status_changes_are_seen_as_they_are_and_nothing_else_is():
    changed = cloudevent("ticket.status_changed", {"status": "pending", "previous": "open", "label": None,
                                                   "reason": None})
    assert policy.store_view_of_event(changed) == changed
    for event_type in set(EVENT_TYPES) - {"ticket.opened", "ticket.status_changed"}:
        assert policy.store_view_of_event(cloudevent(event_type, {"body": "secret"})) is None
