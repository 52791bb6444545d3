"""Which deliveries an event asks for: plain Python, no I/O.

``plan(event, ...)`` names recipients by reference ("customer:<id>",
"ticket_assignee:<ticket id>", ...), resolved only when the delivery is
sent: events from different services arrive in any order, and an address
known by then (a customer created a moment after their ticket was opened,
an agent assigned meanwhile) is the one that counts. See docs/notifications.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from .signing import matches

CHANNELS = ("email", "sms", "webhook")
# Kinds a shopper receives: their opt-outs apply.
SHOPPER_KINDS = frozenset({"ticket_opened", "ticket_reply", "tracking_link", "order_details", "rating_request",
                           "direct_message"})


@dataclass(frozen=True)
class Planned:
    channel: str
    recipient_ref: str
    kind: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    ticket_id: str | None = None
    customer_id: str | None = None
    endpoint_id: str | None = None


def plan_messages(event: Any, ticket: dict | None, self_service_channel: str = "email") -> list[Planned]:
    """Email and SMS for ``event`` (an ``Envelope``). ``ticket`` is what the
    replica knows of the event's ticket, if anything yet."""
    data, kind_of_actor = event.data, event.actor.kind
    ticket_id = data.get("ticket_id") if event.type == "ticket.opened" else event.stream_id
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
