"""The JSON the tickets service answers with: a ticket, a list item, a
ticket's customer, its history and its files, and the API paths files are
downloaded from. Plain Python: who sees what is decided by the caller of these
(``domain.policy``); here it is only shaped.
"""
from __future__ import annotations

from typing import Any, Mapping

from seedwork.envelope import Envelope
from seedwork.instants import iso, iso_or_none

from .domain.ticket import TicketState


def attachment_url(ticket_id: str, attachment_id: str) -> str:
    """Where the gateway serves an uploaded file, to whoever may see it."""
    return f"/v1/tickets/{ticket_id}/attachments/{attachment_id}"


def customer_view(customer_id: str, summary: Mapping[str, Any] | None, viewer_is_staff: bool) -> dict[str, Any]:
    """The ticket's customer as the viewer may see it. Staff get the summary
    the tickets service keeps (services/tickets/customer_replica.py), or an
    empty one while no event about the customer has arrived yet. A shopper
    gets only their id: groups, the block and fraud flags are the store's business."""
    if not viewer_is_staff:
        return {"id": customer_id}
    if summary is None:
        return {"id": customer_id, "name": None, "groups": [], "blocked": False, "block_reason": None,
                "flagged": False}
    return {"id": customer_id, "name": summary["name"], "groups": [dict(g) for g in summary["groups"]],
            "blocked": summary["blocked"], "block_reason": summary["block_reason"], "flagged": summary["flagged"]}


def _message_attachment(ticket_id: str, attachment: Mapping[str, Any]) -> dict:
    shown = dict(attachment)
    if shown.get("id") is not None:  # an uploaded file: downloaded through the API
        shown["url"] = attachment_url(ticket_id, shown["id"])
    return shown


def to_view(state: TicketState, viewer_is_staff: bool, customer: Mapping[str, Any] | None = None,
            restricted: bool = False, sla: Mapping[str, Any] | None = None,
            unread: bool | None = None) -> dict[str, Any]:
    """The ticket as the API returns it. Customers never see internal notes,
    nor tags: tags are the staff's own labels ("fraud-suspect", "vip").
    ``customer`` is the summary of the ticket's customer, if known (see
    ``customer_view``). ``restricted``: see ``domain.policy.is_restricted_for``.
    ``sla``: the ticket's SLA as the projection computed it (staff only;
    ``domain.sla.SlaState.to_dict``), None for anyone else or a past version.
    ``unread``: for the store's staff, whether a customer message on it is
    one the caller has not read (``read_marks``); left out for anyone else."""
    messages = state.messages if viewer_is_staff else state.public_messages()
    if restricted:
        messages = ()
    rating = state.rating and {"score": state.rating["score"], "comment": state.rating["comment"],
                               "rated_at": iso_or_none(state.rating["rated_at"])}
    view = {
        "id": state.id, "number": state.number, "status": state.status, "status_label": state.status_label,
        "priority": state.priority, "type": state.type, "subject": state.subject,
        "customer_id": state.customer_id, "customer": customer_view(state.customer_id, customer, viewer_is_staff),
        "order_id": state.order_id, "assignee_id": state.assignee_id, "team": state.team,
        "topic_id": state.topic_id, "tags": list(state.tags) if viewer_is_staff else [], "version": state.version,
        "created_at": iso(state.created_at), "updated_at": iso(state.updated_at), "rating": rating,
        "handled_by": state.handled_by, "restricted": restricted, "channel": state.channel,
        "sla": dict(sla) if viewer_is_staff and sla is not None and not restricted else None,
        "payment": None if restricted else state.payment and dict(state.payment),
        "exchange": state.exchange and dict(state.exchange),
        "data_change": state.data_change and dict(state.data_change),
        "merged_into": state.merged_into and {"ticket_id": state.merged_into["ticket_id"],
                                              "number": state.merged_into["number"],
                                              "merged_at": iso(state.merged_into["merged_at"])},
        "split_from": state.split_from and dict(state.split_from),
        # Merged messages keep their own times: the timeline is in the order they were written.
        "messages": [
            {"id": m.id, "author": {"type": m.author_kind, "id": m.author_id}, "body": m.body,
             "internal": m.internal, "attachments": [_message_attachment(state.id, a) for a in m.attachments],
             "created_at": iso(m.created_at), "canned_response_id": m.canned_response_id,
             "automatic": m.automatic, "merged_from": m.merged_from,
             "split_into": m.split_into and dict(m.split_into)}
            for m in sorted(messages, key=lambda m: m.created_at)
        ],
    }
    if unread is not None:
        view["unread"] = unread and not restricted
    return view


def list_item(row: Mapping[str, Any], customer: Mapping[str, Any] | None, viewer_is_staff: bool,
              across_stores: bool) -> dict[str, Any]:
    """A ticket in a list (a ``listing.list_tickets`` row): tags and the
    customer as in ``to_view``; the store only in the platform's queue, which
    spans stores."""
    item = {**row, "customer": customer_view(row["customer_id"], customer, viewer_is_staff)}
    if not across_stores:
        del item["store_id"]
    if not viewer_is_staff:
        item["tags"] = []
    return item


# What a timeline leaves out of an event: a forward's copy of the messages (``message_ids`` name them).
HISTORY_OMITS = {"ticket.forwarded_by_email": ("messages",)}


def history_entry(event: Envelope) -> dict[str, Any]:
    """One event of a ticket's timeline."""
    omitted = HISTORY_OMITS.get(event.type, ())
    return {"version": event.version, "type": event.type, "at": iso(event.occurred_at),
            "actor": {"type": event.actor.kind, "id": event.actor.id},
            "data": {k: v for k, v in event.data.items() if k not in omitted}}


def file_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """An uploaded file's record, with the path it is downloaded from."""
    return {
        "id": record["id"], "ticket_id": record["ticket_id"], "filename": record["filename"],
        "content_type": record["content_type"], "size": record["size"], "sha256": record["sha256"],
        "url": attachment_url(record["ticket_id"], record["id"]),
    }
