"""Who may see a ticket, act on it, attach and download its files, and what
a store sees of a ticket the platform handles. Plain Python, next to
``decide``: the service layer asks these and never answers them itself.

``who`` is anything with a ``kind`` (and ``id``, and for ``visible_to`` a
``store_id``): an event's ``Actor`` or the RPC's ``Caller``.
"""
from __future__ import annotations

from typing import Any, Mapping

from seedwork.caller import Caller
from seedwork.errors import Conflict, Forbidden

from .ticket import TicketState

# Who answers a ticket: its store's staff and the system; on a ticket the
# platform handles (charged without an order), the platform's review team.
STAFF_KINDS = ("agent", "system", "platform")
CUSTOMER_VISIBLE = frozenset({"ticket.opened", "ticket.replied", "ticket.status_changed", "ticket.rated",
                              "ticket.data_change_approved", "ticket.data_change_rejected",
                              # "Merged into #1042", undone, "your message is now #1043". Not the
                              # target's merge_received / merge_reverted: they carry (the ids of) notes.
                              "ticket.merged", "ticket.unmerged", "ticket.split"})
# What a store follows of a ticket the platform handles: that it was opened
# (who, which type; no message, no payment) and its status.
FOLLOWED_TYPES = ("ticket.opened", "ticket.status_changed")
FOLLOWED_OPENED_FIELDS = ("ticket_id", "number", "customer_id", "type", "handled_by")


def acts_as_staff(who: Any) -> bool:
    """Staff work on a ticket: the store's staff, the system, the platform's review team."""
    return who.kind in STAFF_KINDS


def is_store_staff(who: Any) -> bool:
    """One of the store's own staff (an owner, admin or agent: kind ``agent``)."""
    return who.kind == "agent"


def is_visible_to_customer(event_type: str) -> bool:
    """Whether a customer's history shows this event (unknown types: no)."""
    return event_type in CUSTOMER_VISIBLE


# --- who may act ---------------------------------------------------------------------


def check_actor(state: TicketState, who: Any) -> None:
    """Who may act on this ticket at all; the command's own role rule comes next."""
    if who.kind == "platform" and state.handled_by != "platform":
        raise Forbidden("forbidden", "the platform acts only on the tickets its review team handles")
    if who.kind == "agent" and state.handled_by == "platform":
        raise Forbidden("handled_by_platform", "the platform's review team handles this ticket; "
                                               "the store follows its status")
    if who.kind == "customer" and (who.id is None or who.id != state.customer_id):
        raise Forbidden("forbidden", "this ticket belongs to another customer")


def refuse_if_blocked(who: Any, blocked: bool) -> None:
    """A shopper the store blocked opens no new tickets (staff still open them for the shopper)."""
    if blocked and who.kind == "customer":
        raise Forbidden("customer_blocked", "the store has blocked you: you cannot open new tickets; "
                                            "your open tickets stay open")


# --- who may see -----------------------------------------------------------------------


def visible_to(state: TicketState, caller: Caller) -> bool:
    """Whether ``caller`` may see the ticket at all. The platform's review team
    sees the tickets it handles, in any store; a store's staff see the store's
    tickets; a shopper sees their own."""
    if caller.kind == "platform":
        return state.handled_by == "platform"
    return state.store_id == caller.store_id and (acts_as_staff(caller) or state.customer_id == caller.id)


def is_restricted_for(state: TicketState, who: Any) -> bool:
    """The store's staff only follow a ticket the platform handles: they see
    that it exists and its status, not its messages or payment details."""
    return state.handled_by == "platform" and who.kind not in ("platform", "customer")


def shows_in_history(state: TicketState, who: Any, event_type: str) -> bool:
    """Whether ``who``'s timeline of the ticket shows an event of this type."""
    if is_restricted_for(state, who):
        return event_type == "ticket.status_changed"
    return acts_as_staff(who) or is_visible_to_customer(event_type)


def store_view_of_event(cloudevent: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A CloudEvent of a ticket the platform handles, as that ticket's store
    may see it (its event feed, its webhooks): the opening without message or
    payment, status changes as they are, nothing else (``None``). The data
    keeps its own key order, so trimming a trimmed event changes no byte."""
    kind = cloudevent.get("type")
    if kind not in FOLLOWED_TYPES:
        return None
    if kind == "ticket.opened":
        data = cloudevent.get("data") or {}
        return {**cloudevent, "data": {k: v for k, v in data.items() if k in FOLLOWED_OPENED_FIELDS}}
    return cloudevent


# --- files -------------------------------------------------------------------------------


def check_attachment(state: TicketState, who: Any, shoppers_may_attach: bool) -> None:
    """Whether ``who`` may upload a file to the ticket (they can see it).
    ``shoppers_may_attach`` is the store's self-service setting ``allow_attachments``."""
    if is_restricted_for(state, who):
        raise Forbidden("handled_by_platform", "the platform's review team handles this ticket")
    if state.status == "closed":
        raise Conflict("ticket_closed", f"ticket {state.id} is closed")
    if who.kind == "customer" and not shoppers_may_attach:
        raise Conflict("attachments_disabled", "this store does not accept files from shoppers",
                       {"allow_attachments": ["the store's self-service setting is off"]})


def may_download(state: TicketState, who: Any, attachment_id: str, uploaded_by: tuple[str, str | None]) -> bool:
    """A file of the ticket goes to who may see a message carrying it (a
    note's files: staff only), and to whoever uploaded it."""
    if is_restricted_for(state, who):
        return False
    messages = state.messages if acts_as_staff(who) else state.public_messages()
    on_message = any(a.get("id") == attachment_id for m in messages for a in m.attachments)
    return on_message or uploaded_by == (who.kind, who.id)
