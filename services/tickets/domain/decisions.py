"""Deciding on a ticket: ``decide(state, command, now)`` checks a command
against the ticket and returns the new events (or raises a ``DomainError``).
Plain Python: it reads nothing but its arguments. See docs/tickets.md.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from seedwork.envelope import Actor, NewEvent
from seedwork.errors import Conflict, Forbidden, InvalidCommand

from . import fields as rules
from . import policy
from .commands import (
    KEEP, AddNote, AddTag, ApproveDataChange, Assign, ChangeStatus, Close, Command, OpenTicket, PostReply, Rate,
    RejectDataChange, RemoveTag, Reopen, SetPriority, SetType, Solve, Unassign,
)
from .commands import EnsureStatus, Forward, ForwardByEmail
from . import forwarding
from .fields import RESERVED_TYPES
from .routing import AUTOMATIC as ROUTING_MODES
from .routing import REASONS as ROUTING_REASONS
from .ticket import TicketState

TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"pending", "on_hold", "under_review", "solved", "closed"}),
    "pending": frozenset({"open", "on_hold", "under_review", "solved", "closed"}),
    "on_hold": frozenset({"open", "pending", "under_review", "solved", "closed"}),
    "under_review": frozenset({"open", "pending", "on_hold", "solved", "closed"}),
    "solved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}


Change = tuple[str, dict[str, Any]]  # (event type, data)


def decide(state: TicketState | None, command: Command, now: datetime) -> list[NewEvent]:
    """The events ``command`` produces on ``state`` at ``now`` (their
    ``occurred_at``); raises a ``DomainError`` if refused.

    Reads nothing but its arguments. An empty list means the command asked for
    what already is. The checks run in this order: the ticket exists; who the
    actor is and what their role allows; a closed ticket; the command's
    fields; the ticket's state.
    """
    if not isinstance(command, Command) or not isinstance(command.actor, Actor):
        raise TypeError(f"not a ticket command: {command!r}")
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise TypeError(f"now is the aware datetime the events happen at, not {now!r}")
    if isinstance(command, OpenTicket):
        if state is not None:
            raise Conflict("already_opened", f"ticket {state.id} already exists")
        opened = NewEvent("ticket.opened", _open(command), actor=command.actor, store_id=command.store_id,
                          occurred_at=now)
        if command.initial_status == "open":
            return [opened]
        # A late order still awaiting review: the ticket starts "under merchant verification".
        return [opened, NewEvent("ticket.status_changed", {
            "status": command.initial_status, "previous": "open", "label": None, "reason": "order_awaiting_review",
        }, actor=command.actor, store_id=command.store_id, occurred_at=now)]
    if state is None:
        raise Conflict("not_opened", "no such ticket: open it first")
    policy.check_actor(state, command.actor)
    changes = _HANDLERS[type(command)](state, command)
    return [NewEvent(t, data, actor=command.actor, store_id=state.store_id, occurred_at=now) for t, data in changes]


def _staff_only(actor: Actor, what: str) -> None:
    if not policy.acts_as_staff(actor):
        raise Forbidden("staff_only", f"only staff may {what}")


def _field_not_allowed(name: str, detail: str, verb: str = "send") -> Forbidden:
    return Forbidden("field_not_allowed", detail, {name: [f"only staff may {verb} this field"]})


def _not_closed(state: TicketState) -> None:
    if state.status == "closed":
        raise Conflict("ticket_closed", f"ticket {state.id} is closed")


def _message_id(state: TicketState, value: Any, taken: tuple[str, ...] = ()) -> str:
    message_id = rules.identifier(value, "message_id")
    if message_id in taken or any(m.id == message_id for m in state.messages):
        raise Conflict("duplicate_message", f"message {message_id} is already on the ticket")
    return message_id


def _open(c: OpenTicket) -> dict[str, Any]:
    customer_id = _customer_of(c)
    ticket_id = rules.identifier(c.ticket_id, "ticket_id")
    rules.identifier(c.store_id, "store_id")
    data = {
        "ticket_id": ticket_id,
        "number": rules.number(c.number),
        "customer_id": rules.identifier(customer_id, "customer_id"),
        "subject": rules.text(c.subject, "subject", rules.SUBJECT_MAX),
        "type": rules.ticket_type(c.type, reserved_ok=c.flow is not None),
        "priority": rules.priority(c.priority),
        "order_id": rules.identifier(c.order_id, "order_id", optional=True),
        "channel": _channel_of(c),
        "message": {
            "id": rules.identifier(c.message_id, "message_id"),
            "body": rules.text(c.body, "body", rules.BODY_MAX),
            "attachments": rules.attachments(c.attachments),
        },
    }
    return data | _flow_fields(c, data["type"]) | _topic_fields(c)


def _topic_fields(c: OpenTicket) -> dict[str, Any]:
    """The topic and its team, only when there is one (the event stays version 1)."""
    extra = {}
    if c.topic_id is not None:
        extra["topic_id"] = rules.identifier(c.topic_id, "topic_id")
    if c.team is not None:
        extra["team"] = rules.identifier(c.team, "team")
    return extra


def _customer_of(c: OpenTicket) -> Any:
    """Whom the ticket is for: a customer opens one for themselves, staff for whom they name."""
    actor = c.actor
    if actor.kind == "platform":
        raise Forbidden("forbidden", "the platform does not open tickets")
    if actor.kind != "customer":
        if not c.customer_id:
            raise InvalidCommand.field("customer_id", "staff open a ticket on behalf of a customer: name one")
        return c.customer_id
    if actor.id is None:
        raise Forbidden("forbidden", "a customer opens tickets only for themselves")
    if c.customer_id is not None:
        raise _field_not_allowed("customer_id", "customers open tickets for themselves", verb="set")
    policy.refuse_if_blocked(actor, c.customer_blocked)
    return actor.id


def _channel_of(c: OpenTicket) -> str:
    """Where the ticket came from: staff say (a phone call, an email typed in);
    a shopper's ticket came through the help widget."""
    if c.channel is None:
        return rules.default_channel(c.actor.kind)
    if c.actor.kind == "customer":
        raise _field_not_allowed("channel", "a shopper's ticket comes from the help widget", verb="set")
    return rules.channel(c.channel)


# The structured part of a self-service ticket, by type: what the flow must carry.
FLOW_FIELDS = {"charged_without_order": "payment", "product_exchange": "exchange",
               "customer_data_change": "data_change"}


def _flow_fields(c: OpenTicket, ticket_type: str) -> dict[str, Any]:
    if c.handled_by not in rules.HANDLERS:
        raise InvalidCommand.field("handled_by", f"must be one of {', '.join(rules.HANDLERS)}")
    if c.initial_status not in ("open", "under_review"):
        raise InvalidCommand.field("status", "a ticket opens as open or under_review")
    if c.handled_by == "platform" and ticket_type != "charged_without_order":
        raise InvalidCommand.field("handled_by", "the platform handles only charged_without_order tickets")
    extra: dict[str, Any] = {} if c.handled_by == "store" else {"handled_by": c.handled_by}
    needed = FLOW_FIELDS.get(ticket_type)
    flow = dict(c.flow or {})
    if needed is not None and ticket_type in RESERVED_TYPES and needed not in flow:
        raise InvalidCommand.field("type", f"a {ticket_type} ticket carries its {needed}")
    if set(flow) - {needed}:
        extra_fields = ", ".join(sorted(set(flow) - {needed}))
        raise InvalidCommand.field("type", f"a {ticket_type} ticket carries no {extra_fields}")
    if flow:
        extra[needed] = flow[needed]
    return extra


def _reply(s: TicketState, c: PostReply) -> list[Change]:
    # Canned responses are the store's own texts; the platform's review team may write notes.
    if c.canned_response_id is not None and not policy.is_store_staff(c.actor):
        raise _field_not_allowed("canned_response_id", "canned responses are sent by the store's staff")
    if c.note is not None and not policy.acts_as_staff(c.actor):
        raise _field_not_allowed("note", "notes are internal: only staff write them")
    if c.automatic is not None:
        _staff_only(c.actor, "send automatic replies")
    _not_closed(s)
    attachments = rules.attachments(c.attachments)
    # A shopper may send just a photo of the receipt.
    body = rules.text(c.body, "body", rules.BODY_MAX, optional=bool(attachments))
    data: dict[str, Any] = {"message_id": _message_id(s, c.message_id), "body": body or "",
                            "attachments": attachments}
    if c.canned_response_id is not None:
        data["canned_response_id"] = rules.identifier(c.canned_response_id, "canned_response_id")
    if c.automatic is not None:
        data["automatic"] = rules.identifier(c.automatic, "automatic")
    changes: list[Change] = [("ticket.replied", data)]
    if c.note is not None:
        # The same note_added as a note of its own, right after the reply.
        changes.append(("ticket.note_added", {
            "message_id": _message_id(s, c.note_id, taken=(data["message_id"],)),
            "body": rules.text(c.note, "note", rules.BODY_MAX), "attachments": []}))
    if c.actor.kind == "customer" and s.status in ("pending", "solved"):
        changes.append(("ticket.status_changed",
                        {"status": "open", "previous": s.status, "label": None, "reason": "customer_reply"}))
    return changes


def _note(s: TicketState, c: AddNote) -> list[Change]:
    _staff_only(c.actor, "add internal notes")
    _not_closed(s)
    attachments = rules.attachments(c.attachments)
    body = rules.text(c.body, "body", rules.BODY_MAX, optional=bool(attachments))
    return [("ticket.note_added", {
        "message_id": _message_id(s, c.message_id), "body": body or "", "attachments": attachments,
    })]


def _assign(s: TicketState, c: Assign) -> list[Change]:
    _staff_only(c.actor, "assign tickets")
    _not_closed(s)
    # Assigning only a team keeps the agent, and the other way round.
    assignee_id = s.assignee_id if c.assignee_id is KEEP else rules.identifier(c.assignee_id, "assignee_id",
                                                                               optional=True)
    team = s.team if c.team is KEEP else rules.identifier(c.team, "team", optional=True)
    routed = _routed(c)
    if assignee_id is None and team is None:
        return [(t, {**data, **routed}) for t, data in _unassigned(s)]
    if (assignee_id, team) == (s.assignee_id, s.team):
        return []
    return [("ticket.assigned", {"assignee_id": assignee_id, "team": team,
                                 "previous_assignee_id": s.assignee_id, "previous_team": s.team, **routed})]


def _routed(c: Assign) -> dict[str, Any]:
    """Routing's assignments say which mode decided and why; nobody else's do."""
    if c.routed_by is None and c.reason is None:
        return {}
    if c.actor.kind != "system":
        raise _field_not_allowed("routed_by", "only routing records how it assigned a ticket")
    if c.routed_by not in ROUTING_MODES:
        raise InvalidCommand.field("routed_by", f"one of {', '.join(ROUTING_MODES)}")
    if c.reason not in ROUTING_REASONS:
        raise InvalidCommand.field("reason", f"one of {', '.join(ROUTING_REASONS)}")
    return {"routed_by": c.routed_by, "reason": c.reason}


def _unassign(s: TicketState, c: Unassign) -> list[Change]:
    _staff_only(c.actor, "unassign tickets")
    _not_closed(s)
    return _unassigned(s)


def _unassigned(s: TicketState) -> list[Change]:
    if s.assignee_id is None and s.team is None:
        return []
    return [("ticket.unassigned", {"previous_assignee_id": s.assignee_id, "previous_team": s.team})]


def _set_priority(s: TicketState, c: SetPriority) -> list[Change]:
    _staff_only(c.actor, "change the priority")
    _not_closed(s)
    new = rules.priority(c.priority)
    return [] if new == s.priority else [("ticket.priority_changed", {"priority": new, "previous": s.priority})]


def _set_type(s: TicketState, c: SetType) -> list[Change]:
    _staff_only(c.actor, "change the type")
    _not_closed(s)
    new = rules.ticket_type(c.type)
    if s.type in RESERVED_TYPES:
        raise InvalidCommand.field("type", f"a {s.type} ticket keeps its type")
    return [] if new == s.type else [("ticket.type_changed", {"type": new, "previous": s.type})]


def _add_tag(s: TicketState, c: AddTag) -> list[Change]:
    _staff_only(c.actor, "tag tickets")
    _not_closed(s)
    tag = rules.tag(c.tag)
    if tag in s.tags:
        return []
    if len(s.tags) >= rules.MAX_TAGS:
        raise InvalidCommand.field("tag", f"a ticket has at most {rules.MAX_TAGS} tags")
    return [("ticket.tag_added", {"tag": tag})]


def _remove_tag(s: TicketState, c: RemoveTag) -> list[Change]:
    _staff_only(c.actor, "untag tickets")
    _not_closed(s)
    tag = rules.tag(c.tag)
    return [("ticket.tag_removed", {"tag": tag})] if tag in s.tags else []


def _status(s: TicketState, actor: Actor, status: Any, label: Any = None, reopen: bool = False) -> list[Change]:
    customer = actor.kind == "customer"
    # The help widget lets shoppers mark their ticket solved, close it once
    # they are done, or reopen a solved one; the rest is the merchant's call.
    if customer and status not in ("solved", "closed", "open"):
        raise Forbidden("staff_only", "a customer may only mark their ticket solved or closed, or reopen it")
    _not_closed(s)
    status = rules.status(status)
    label = rules.text(label, "label", rules.LABEL_MAX, optional=True)
    if label is not None and status != "on_hold":
        raise InvalidCommand.field("label", "only an on_hold status has a label")
    if reopen and s.status != "solved":
        raise Conflict("illegal_transition", f"only a solved ticket reopens; this one is {s.status}")
    if customer and status == "open" and s.status != "solved":
        raise Forbidden("staff_only", "a customer may only reopen a solved ticket")
    if status not in TRANSITIONS[s.status]:
        raise Conflict("illegal_transition", f"cannot change the status from {s.status} to {status}")
    return [("ticket.status_changed", {"status": status, "previous": s.status, "label": label, "reason": None})]


def _ensure_status(s: TicketState, c: EnsureStatus) -> list[Change]:
    # A bulk "set pending" over tickets some of which already are: those are left as they are.
    _staff_only(c.actor, "change many tickets at once")
    if rules.status(c.status) == s.status and rules.text(c.label, "label", rules.LABEL_MAX,
                                                          optional=True) == s.status_label:
        return []
    return _status(s, c.actor, c.status, c.label)


def _close(s: TicketState, c: Close) -> list[Change]:
    return _status(s, c.actor, "closed")


def _rate(s: TicketState, c: Rate) -> list[Change]:
    if c.actor.kind != "customer":
        raise Forbidden("customer_only", "only the ticket's customer may rate it")
    if s.merged_into is not None:
        raise Conflict("ticket_merged", f"this ticket was merged into #{s.merged_into['number']}: rate that one")
    score = rules.score(c.score)
    comment = rules.text(c.comment, "comment", rules.COMMENT_MAX, optional=True)
    if s.status not in ("solved", "closed"):
        raise Conflict("not_solved", "a ticket is rated once it is solved")
    if s.rating is not None:
        raise Conflict("already_rated", "this ticket has been rated")
    return [("ticket.rated", {"score": score, "comment": comment})]


def _pending_data_change(s: TicketState, c: Command) -> None:
    _staff_only(c.actor, "decide on a data change")
    if s.data_change is None:
        raise Conflict("not_a_data_change", "this ticket asks for no change of customer data")
    if s.data_change["state"] != "pending":
        raise Conflict("data_change_decided", f"this data change was already {s.data_change['state']}")


def _approve_data_change(s: TicketState, c: ApproveDataChange) -> list[Change]:
    _pending_data_change(s, c)
    version = c.customer_version
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidCommand.field("customer_version", "must be the customer card's version after the change")
    return [("ticket.data_change_approved", {"fields": dict(s.data_change["fields"]), "customer_version": version})]


def _reject_data_change(s: TicketState, c: RejectDataChange) -> list[Change]:
    _pending_data_change(s, c)
    return [("ticket.data_change_rejected", {"reason": rules.text(c.reason, "reason", rules.COMMENT_MAX)})]


_HANDLERS: dict[type, Callable[[TicketState, Any], list[Change]]] = {
    PostReply: _reply,
    AddNote: _note,
    Assign: _assign,
    Unassign: _unassign,
    SetPriority: _set_priority,
    SetType: _set_type,
    AddTag: _add_tag,
    RemoveTag: _remove_tag,
    ChangeStatus: lambda s, c: _status(s, c.actor, c.status, c.label),
    EnsureStatus: _ensure_status,
    Solve: lambda s, c: _status(s, c.actor, "solved"),
    Close: _close,
    Reopen: lambda s, c: _status(s, c.actor, "open", reopen=True),
    Rate: _rate,
    ApproveDataChange: _approve_data_change,
    RejectDataChange: _reject_data_change,
    Forward: forwarding.forward,
    ForwardByEmail: forwarding.forward_by_email,
}
