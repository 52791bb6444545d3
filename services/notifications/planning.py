"""Which deliveries an event asks for: plain Python, no I/O.

``plan(event, ...)`` names recipients by reference ("customer:<id>",
"ticket_assignee:<ticket id>", ...), resolved only when the delivery is
sent: events from different services arrive in any order, and an address
known by then (a customer created a moment after their ticket was opened,
an agent assigned meanwhile) is the one that counts. An SLA event names a
group, "ticket_staff:<ticket id>", which the delivery loop turns into one
delivery per person when it picks it up (``staff_of_ticket``). See
docs/notifications.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from .signing import matches

CHANNELS = ("email", "sms", "webhook")
# Kinds a shopper receives: their opt-outs apply.
SHOPPER_KINDS = frozenset({"ticket_opened", "ticket_reply", "tracking_link", "order_details", "rating_request",
                           "direct_message"})
# The SLA timer's events (on the ticket's own stream) and the kind each is told with.
SLA_KINDS = {"sla.warning": "sla_warning", "sla.breached": "sla_breached"}
# A reference to whoever is on a ticket when the delivery loop picks it up.
STAFF_GROUP = "ticket_staff"


@dataclass(frozen=True)
class Planned:
    channel: str
    recipient_ref: str
    kind: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    ticket_id: str | None = None
    customer_id: str | None = None
    endpoint_id: str | None = None


def ticket_of(event: Any) -> str | None:
    """The ticket an event is about: its opening names it, its later events
    (``ticket.*`` and the SLA timer's ``sla.*``) are on its stream."""
    if event.type == "ticket.opened":
        return event.data.get("ticket_id")
    return event.stream_id if event.type.startswith("ticket.") or event.type in SLA_KINDS else None


def staff_of_ticket(assignee_id: str | None, team: dict | None) -> list[str]:
    """Who a ticket's SLA event is told to, as it is now: its assignee, then
    the members of its team (``team`` as the replica knows it, or None), each
    once; nobody on it: the store's support address."""
    agents = [assignee_id] if assignee_id else []
    agents += [m for m in (team or {}).get("members", ()) if m not in agents]
    return [f"agent:{agent}" for agent in agents] or ["store_support"]


def plan_messages(event: Any, ticket: dict | None, self_service_channel: str = "email") -> list[Planned]:
    """Email and SMS for ``event`` (an ``Envelope``). ``ticket`` is what the
    replica knows of the event's ticket, if anything yet."""
    data, kind_of_actor = event.data, event.actor.kind
    ticket_id = ticket_of(event)
    customer_id = (ticket or {}).get("customer_id")
    if event.type == "ticket.opened":
        return [Planned("email", f"customer:{data['customer_id']}", "ticket_opened", {
            "ticket_id": data["ticket_id"], "number": data["number"], "subject": data["subject"],
            "body": data["message"]["body"]}, data["ticket_id"], data["customer_id"])]
    if event.type == "ticket.replied":
        context = {"ticket_id": ticket_id, "body": data["body"], "author_kind": kind_of_actor,
                   "attachments": len(data.get("attachments") or ()), "automatic": data.get("automatic")}
        if kind_of_actor == "customer":
            if (ticket or {}).get("handled_by") == "platform":
                return []  # the platform's review team reads it in its queue; the store must not get it
            return [Planned("email", f"ticket_assignee:{ticket_id}", "customer_replied", context, ticket_id,
                            customer_id)]
        return [Planned("email", f"ticket_customer:{ticket_id}", "ticket_reply", context, ticket_id, customer_id)]
    if event.type == "ticket.assigned":
        if not data.get("assignee_id") or data.get("assignee_id") == data.get("previous_assignee_id"):
            return []  # a team only, or the same agent: nobody new to tell
        return [Planned("email", f"agent:{data['assignee_id']}", "ticket_assigned",
                        {"ticket_id": ticket_id, "team": data.get("team")}, ticket_id, customer_id)]
    if event.type in SLA_KINDS:
        if (ticket or {}).get("handled_by") == "platform":
            return []  # the platform's review team answers it: not the store's staff to chase
        context = {"ticket_id": ticket_id, **{k: data.get(k) for k in ("target", "cycle", "due_at", "time_zone")}}
        return [Planned("email", f"{STAFF_GROUP}:{ticket_id}", SLA_KINDS[event.type], context, ticket_id,
                        customer_id)]
    if event.type in ("self_service.tracking_link_shared", "self_service.order_details_shared"):
        kind = "tracking_link" if event.type.endswith("tracking_link_shared") else "order_details"
        context = {k: data.get(k) for k in ("order_id", "tracking_url", "order", "message")}
        return [Planned(self_service_channel, f"customer:{data['customer_id']}", kind, context,
                        None, data["customer_id"])]
    if event.type == "customer.rating_requested":
        return [Planned(data["channel"], f"address:{data['to']}", "rating_request", {
            k: data.get(k) for k in ("customer_name", "link", "order_ids", "sender_name")},
            None, data["customer_id"])]
    if event.type == "customer.message_requested":
        return [Planned(data["channel"], f"address:{data['to']}", "direct_message", {
            k: data.get(k) for k in ("customer_name", "subject", "body", "sender_name")},
            None, data["customer_id"])]
    return []


def plan_webhooks(event_type: str, endpoints: Iterable[dict]) -> list[Planned]:
    """One delivery per active endpoint of the store subscribed to
    ``event_type`` (of the events the store may see: ``Notifications.as_the_store_sees``)."""
    return [Planned("webhook", f"webhook:{e['id']}", endpoint_id=e["id"])
            for e in endpoints if e["active"] and matches(e["events"], event_type)]
