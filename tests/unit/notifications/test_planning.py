"""Which deliveries an event asks for (services.notifications.planning): the
table "What is sent" of docs/notifications.md, event by event, and which of a
store's webhook endpoints receive it."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from seedwork.envelope import Actor, Envelope
from services.notifications.planning import Planned, plan_messages, plan_webhooks, staff_of_ticket, ticket_of

STORE = "st_1"
TICKET = "5f0c7a3e-2b1d-4c8e-9a6f-3d2e1c0b9a87"
NOURA = "0b6e0c55-8a4f-4c43-9d55-1c2f6f7d0a01"
KHALID = "ag_khalid"
SARA = "ag_sara"
T0 = datetime(2026, 1, 2, 9, 0, tzinfo=timezone.utc)

SHOPPER = Actor("customer", NOURA)
AGENT = Actor("agent", KHALID)
KNOWN_TICKET = {"ticket_id": TICKET, "customer_id": NOURA, "assignee_id": KHALID, "handled_by": "store"}


def event(event_type: str, data: dict, actor: Actor = AGENT, stream_id: str = TICKET) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), type=event_type, schema_version=1, stream_id=stream_id, version=1,
                    position=1, store_id=STORE, actor=actor, correlation_id=None, causation_id=None,
                    occurred_at=T0, data=data)


def opened(**extra) -> Envelope:
    data = {"ticket_id": TICKET, "number": 1042, "customer_id": NOURA, "subject": "وين طلبي؟",
            "type": "order_delayed", "priority": "normal", "order_id": "ord-77",
            "message": {"id": "m-1", "body": "طلبي متأخر", "attachments": []}, **extra}
    return event("ticket.opened", data, actor=SHOPPER, stream_id=f"ticket-stream-{TICKET}")


def replied(actor: Actor, **extra) -> Envelope:
    return event("ticket.replied", {"message_id": "m-2", "body": "Your parcel ships today.",
                                    "attachments": [], **extra}, actor=actor)


# --- the shopper's confirmation ---------------------------------------------------------------


def test_an_opened_ticket_emails_its_confirmation_to_the_shopper():
    assert plan_messages(opened(), None) == [Planned(
        "email", f"customer:{NOURA}", "ticket_opened",
        {"ticket_id": TICKET, "number": 1042, "subject": "وين طلبي؟", "body": "طلبي متأخر"},
        TICKET, NOURA)]


def test_the_confirmation_names_the_ticket_from_its_data_not_its_stream():
    [planned] = plan_messages(opened(), None)
    assert planned.ticket_id == TICKET and planned.context["ticket_id"] == TICKET


def test_the_confirmation_goes_out_even_when_the_store_chose_sms_for_self_service():
    [planned] = plan_messages(opened(), None, self_service_channel="sms")
    assert planned.channel == "email"


# --- replies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", [AGENT, Actor("system"), Actor("platform", "reviewer-1")])
def test_a_public_reply_by_staff_the_system_or_the_platform_goes_to_the_shopper(actor):
    [planned] = plan_messages(replied(actor), KNOWN_TICKET)
    assert (planned.channel, planned.recipient_ref, planned.kind) == ("email", f"ticket_customer:{TICKET}",
                                                                      "ticket_reply")
    assert planned.ticket_id == TICKET and planned.customer_id == NOURA
    assert planned.context["body"] == "Your parcel ships today."
    assert planned.context["author_kind"] == actor.kind


def test_a_shoppers_reply_goes_to_the_tickets_assignee():
    [planned] = plan_messages(replied(SHOPPER), KNOWN_TICKET)
    assert (planned.channel, planned.recipient_ref, planned.kind) == ("email", f"ticket_assignee:{TICKET}",
                                                                      "customer_replied")
    assert planned.customer_id == NOURA


def test_a_reply_before_the_ticket_is_known_is_still_planned_by_reference():
    """Events arrive in any order: the recipient is resolved when the delivery is sent."""
    [planned] = plan_messages(replied(AGENT), None)
    assert planned.recipient_ref == f"ticket_customer:{TICKET}" and planned.customer_id is None


def test_a_reply_counts_its_attachments_and_says_whether_it_was_automatic():
    reply = replied(Actor("system"), attachments=[{"id": "a1"}, {"id": "a2"}], automatic="tracking_link")
    [planned] = plan_messages(reply, KNOWN_TICKET)
    assert planned.context["attachments"] == 2 and planned.context["automatic"] == "tracking_link"


def test_an_internal_note_notifies_nobody():
    note = event("ticket.note_added", {"message_id": "m-3", "body": "Customer is a known refunder.",
                                       "attachments": []})
    assert plan_messages(note, KNOWN_TICKET) == []
    assert plan_messages(note, KNOWN_TICKET, "sms") == []


# --- assignment ----------------------------------------------------------------------------------


def test_an_assigned_ticket_emails_the_new_agent():
    assigned = event("ticket.assigned", {"assignee_id": SARA, "team": "returns",
                                         "previous_assignee_id": KHALID, "previous_team": None})
    assert plan_messages(assigned, KNOWN_TICKET) == [Planned(
        "email", f"agent:{SARA}", "ticket_assigned", {"ticket_id": TICKET, "team": "returns"}, TICKET, NOURA)]


@pytest.mark.parametrize("data", [
    {"assignee_id": None, "team": "returns", "previous_assignee_id": KHALID, "previous_team": None},
    {"assignee_id": KHALID, "team": "returns", "previous_assignee_id": KHALID, "previous_team": None},
])
def test_an_assignment_to_a_team_only_or_to_the_same_agent_notifies_nobody(data):
    assert plan_messages(event("ticket.assigned", data), KNOWN_TICKET) == []


# --- SLA: the assignee and the team are told ----------------------------------------------------

DUE = "2026-01-04T12:30:00Z"


def sla(event_type: str = "sla.warning", **extra) -> Envelope:
    """The SLA timer's event, on the ticket's own stream."""
    return event(event_type, {"ticket_id": TICKET, "target": "first_response", "cycle": 0, "due_at": DUE,
                              "policy_version": 3, **extra}, actor=Actor("system", "sla"))


@pytest.mark.parametrize("event_type, kind", [("sla.warning", "sla_warning"), ("sla.breached", "sla_breached")])
def test_an_sla_event_plans_one_email_to_whoever_is_on_the_ticket_when_it_is_sent(event_type, kind):
    """One group reference, expanded by the delivery loop (``staff_of_ticket``)."""
    assert plan_messages(sla(event_type), KNOWN_TICKET) == [Planned(
        "email", f"ticket_staff:{TICKET}", kind,
        {"ticket_id": TICKET, "target": "first_response", "cycle": 0, "due_at": DUE, "time_zone": None},
        TICKET, NOURA)]


def test_an_sla_event_carries_its_time_zone_when_it_has_one():
    [planned] = plan_messages(sla(target="resolution", cycle=2, time_zone="Asia/Dubai"), KNOWN_TICKET)
    assert planned.context == {"ticket_id": TICKET, "target": "resolution", "cycle": 2, "due_at": DUE,
                               "time_zone": "Asia/Dubai"}


@pytest.mark.parametrize("event_type", ["sla.warning", "sla.breached"])
def test_an_sla_event_of_a_ticket_the_platform_handles_tells_nobody_at_the_store(event_type):
    assert plan_messages(sla(event_type), {**KNOWN_TICKET, "handled_by": "platform"}) == []


def test_an_sla_event_is_about_the_ticket_of_its_stream():
    assert ticket_of(sla()) == TICKET
    assert ticket_of(opened()) == TICKET  # its stream here is another name: the data says
    assert ticket_of(event("team.member_added", {"team_id": "tm-1", "agent_id": SARA}, stream_id="team:tm-1")) is None
    # Other streams of the tickets service are no ticket's, whatever their type's prefix.
    assert ticket_of(event("sla_policy.updated", {"policy": {}}, stream_id="sla-policy:st-1")) is None
    assert ticket_of(event("sla.something_else", {}, stream_id="sla-policy:st-1")) is None


def team(*members: str, deleted: bool = False) -> dict:
    return {"name": "Returns", "deleted": deleted, "members": list(members)}


def test_sla_with_an_assignee_and_no_team_tells_the_assignee():
    assert staff_of_ticket(KHALID, None) == [f"agent:{KHALID}"]


def test_sla_with_a_team_and_no_assignee_tells_each_member():
    assert staff_of_ticket(None, team(SARA, "ag_omar")) == [f"agent:{SARA}", "agent:ag_omar"]


def test_sla_tells_an_assignee_who_is_also_a_member_once():
    assert staff_of_ticket(SARA, team("ag_omar", SARA)) == [f"agent:{SARA}", "agent:ag_omar"]


def test_sla_with_an_assignee_and_a_team_without_members_tells_the_assignee():
    assert staff_of_ticket(KHALID, team()) == [f"agent:{KHALID}"]


@pytest.mark.parametrize("on_team", [None, team(), team(deleted=True)], ids=["no team", "empty team", "deleted team"])
def test_sla_with_nobody_on_the_ticket_tells_the_stores_support_address(on_team):
    assert staff_of_ticket(None, on_team) == ["store_support"]


# --- the customers service's requests -----------------------------------------------------------


@pytest.mark.parametrize("channel, to", [("email", "noura@example.sa"), ("sms", "+966501234567")])
def test_a_rating_request_goes_on_its_channel_to_its_address(channel, to):
    request = event("customer.rating_requested", {
        "request_id": "r-1", "customer_id": NOURA, "customer_name": "نورة", "channel": channel, "to": to,
        "order_ids": ["ord-77"], "link": "https://shop.test/ratings?orders=ord-77", "sender_name": "NoorStore"},
        stream_id=NOURA)
    assert plan_messages(request, None) == [Planned(
        channel, f"address:{to}", "rating_request",
        {"customer_name": "نورة", "link": "https://shop.test/ratings?orders=ord-77", "order_ids": ["ord-77"],
         "sender_name": "NoorStore"}, None, NOURA)]


@pytest.mark.parametrize("channel, to", [("email", "noura@example.sa"), ("sms", "+966501234567")])
def test_a_direct_message_goes_on_its_channel_to_its_address(channel, to):
    message = event("customer.message_requested", {
        "message_id": "dm-1", "customer_id": NOURA, "customer_name": "نورة", "to": to, "sender_name": None,
        "channel": channel, "subject": "Your order", "body": "It ships today."}, stream_id=NOURA)
    assert plan_messages(message, None) == [Planned(
        channel, f"address:{to}", "direct_message",
        {"customer_name": "نورة", "subject": "Your order", "body": "It ships today.", "sender_name": None},
        None, NOURA)]


def test_the_store_channel_setting_does_not_change_a_request_with_its_own_channel():
    request = event("customer.message_requested", {"customer_id": NOURA, "to": "noura@example.sa",
                                                   "channel": "email", "body": "Hi"}, stream_id=NOURA)
    [planned] = plan_messages(request, None, self_service_channel="sms")
    assert planned.channel == "email"


# --- self-service shares: on the store's channel ---------------------------------------------------


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_shared_tracking_link_goes_to_the_shopper_on_the_stores_channel(channel):
    share = event("self_service.tracking_link_shared", {
        "customer_id": NOURA, "order_id": "ord-77", "tracking_url": "https://track.test/p/1",
        "message": "طلبك في الطريق"}, actor=SHOPPER, stream_id="self-service:1")
    assert plan_messages(share, None, channel) == [Planned(
        channel, f"customer:{NOURA}", "tracking_link",
        {"order_id": "ord-77", "tracking_url": "https://track.test/p/1", "order": None, "message": "طلبك في الطريق"},
        None, NOURA)]


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_shared_order_details_go_to_the_shopper_on_the_stores_channel(channel):
    order = {"id": "ord-77", "status": "delivering", "total": "149.50", "currency": "SAR", "items": []}
    share = event("self_service.order_details_shared", {
        "customer_id": NOURA, "order_id": "ord-77", "order": order, "message": "تفاصيل طلبك"},
        actor=SHOPPER, stream_id="self-service:2")
    [planned] = plan_messages(share, None, channel)
    assert (planned.channel, planned.recipient_ref, planned.kind) == (channel, f"customer:{NOURA}", "order_details")
    assert planned.context == {"order_id": "ord-77", "tracking_url": None, "order": order, "message": "تفاصيل طلبك"}
    assert planned.customer_id == NOURA and planned.ticket_id is None


@pytest.mark.parametrize("event_type", ["ticket.status_changed", "ticket.unassigned", "customer.created",
                                        "order.recorded", "webhook_endpoint.created", "team.created",
                                        "team.member_added", "sla.unknown_kind"])
def test_other_events_send_no_email_or_sms(event_type):
    assert plan_messages(event(event_type, {"status": "solved", "customer_id": NOURA}), KNOWN_TICKET) == []


# --- webhooks ----------------------------------------------------------------------------------------


def endpoint(endpoint_id: str, events: list[str], active: bool = True) -> dict:
    return {"id": endpoint_id, "url": f"https://hooks.shop.test/{endpoint_id}", "events": events, "active": active}


ENDPOINTS = [
    endpoint("exact", ["ticket.replied"]),
    endpoint("prefix", ["ticket.*"]),
    endpoint("everything", ["*"]),
    endpoint("customers", ["customer.*"]),
    endpoint("paused", ["*"], active=False),
]


def test_each_active_endpoint_subscribed_to_the_type_gets_one_delivery():
    assert plan_webhooks("ticket.replied", ENDPOINTS) == [
        Planned("webhook", f"webhook:{e}", endpoint_id=e) for e in ("exact", "prefix", "everything")]


def test_prefixes_and_star_match_other_types_too():
    planned = plan_webhooks("customer.created", ENDPOINTS)
    assert [p.endpoint_id for p in planned] == ["everything", "customers"]


def test_an_inactive_endpoint_gets_nothing():
    assert plan_webhooks("ticket.opened", [endpoint("paused", ["*"], active=False)]) == []


def test_a_store_without_endpoints_gets_no_webhooks():
    assert plan_webhooks("ticket.opened", []) == []


@pytest.mark.parametrize("event_type", ["sla.warning", "sla.breached"])
def test_sla_events_reach_the_endpoints_subscribed_to_them_like_any_other_type(event_type):
    endpoints = [*ENDPOINTS, endpoint("sla", ["sla.*"]), endpoint("breaches", ["sla.breached"])]
    expected = ["everything", "sla"] + (["breaches"] if event_type == "sla.breached" else [])
    assert [p.endpoint_id for p in plan_webhooks(event_type, endpoints)] == expected


def test_an_internal_note_still_reaches_the_stores_own_webhooks():
    """Webhooks are the store's systems, not people: every event the store may see."""
    assert [p.endpoint_id for p in plan_webhooks("ticket.note_added", ENDPOINTS)] == ["prefix", "everything"]
