"""The ticket: plain Python, no I/O.

``decide(state, command)`` checks a command against the ticket and returns the
new events (or raises a ``DomainError``); ``evolve(state, event)`` applies one
stored event; ``fold(events)`` is the ticket. Every change is an event, so the
state is always the fold of the ticket's stream. See docs/tickets.md.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from seedwork.envelope import Actor, Envelope, NewEvent, utcnow
from seedwork.errors import Conflict, Forbidden, InvalidCommand

from . import commands as rules
from .commands import (  # noqa: F401  (re-exported: the public names live here)
    PRIORITIES, PRIORITY_RANK, STATUSES, AddNote, AddTag, Assign, Attachment, ChangeStatus, Close, Command,
    OpenTicket, PostReply, Rate, RemoveTag, Reopen, SetPriority, SetType, Solve, Unassign, redact_card_numbers,
)

TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"pending", "on_hold", "under_review", "solved", "closed"}),
    "pending": frozenset({"open", "on_hold", "under_review", "solved", "closed"}),
    "on_hold": frozenset({"open", "pending", "under_review", "solved", "closed"}),
    "under_review": frozenset({"open", "pending", "on_hold", "solved", "closed"}),
    "solved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}

EVENT_TYPES = (
    "ticket.opened", "ticket.replied", "ticket.note_added", "ticket.assigned", "ticket.unassigned",
    "ticket.priority_changed", "ticket.type_changed", "ticket.tag_added", "ticket.tag_removed",
    "ticket.status_changed", "ticket.rated",
)
CUSTOMER_VISIBLE = frozenset({"ticket.opened", "ticket.replied", "ticket.status_changed", "ticket.rated"})
STAFF_KINDS = ("agent", "system")


def is_visible_to_customer(event_type: str) -> bool:
    """Whether a customer's history shows this event (unknown types: no)."""
    return event_type in CUSTOMER_VISIBLE


# --- state ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    id: str
    author_kind: str
    author_id: str | None
    body: str
    internal: bool
    attachments: tuple[dict, ...]
    created_at: datetime


@dataclass(frozen=True)
class TicketState:
    id: str
    store_id: str | None
    number: int
    status: str
    status_label: str | None
    priority: str
    type: str
    subject: str
    customer_id: str
    order_id: str | None
    assignee_id: str | None
    team: str | None
    tags: tuple[str, ...]
    messages: tuple[Message, ...]
    rating: dict | None  # {"score", "comment", "rated_at"}
    version: int
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None
    closed_at: datetime | None

    def public_messages(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if not m.internal)


# --- evolve: one stored event at a time -------------------------------------------------


def evolve(state: TicketState | None, event: Any) -> TicketState:
    """The ticket after ``event`` (an ``Envelope``, or anything with ``type``,
    ``data``, ``actor``, ``occurred_at``, ``version``; ``store_id`` is read from
    ``ticket.opened``)."""
    if event.type == "ticket.opened":
        if state is not None:
            raise ValueError(f"ticket {state.id} is already open: a second ticket.opened at version {event.version}")
        return _opened(event)
    apply = _APPLY.get(event.type)
    if apply is None:
        raise ValueError(f"unknown ticket event type {event.type!r}")
    if state is None:
        raise ValueError(f"{event.type} before ticket.opened")
    return replace(apply(state, event.data, event), version=event.version, updated_at=event.occurred_at)


def fold(events: Iterable[Any], state: TicketState | None = None) -> TicketState | None:
    for event in events:
        state = evolve(state, event)
    return state


def _message(event: Any, message_id: str, body: str, attachments: Iterable[dict], internal: bool) -> Message:
    return Message(
        id=message_id, author_kind=event.actor.kind, author_id=event.actor.id, body=body, internal=internal,
        attachments=tuple(dict(a) for a in attachments), created_at=event.occurred_at,
    )


def _opened(event: Any) -> TicketState:
    d, m = event.data, event.data["message"]
    return TicketState(
        id=d["ticket_id"], store_id=getattr(event, "store_id", None), number=d["number"], status="open",
        status_label=None, priority=d["priority"], type=d["type"], subject=d["subject"],
        customer_id=d["customer_id"], order_id=d.get("order_id"), assignee_id=None, team=None, tags=(),
        messages=(_message(event, m["id"], m["body"], m.get("attachments", ()), internal=False),),
        rating=None, version=event.version, created_at=event.occurred_at, updated_at=event.occurred_at,
        solved_at=None, closed_at=None,
    )


def _status_changed(s: TicketState, d: dict, e: Any) -> TicketState:
    new = d["status"]
    solved_at = e.occurred_at if new == "solved" else s.solved_at if new == "closed" else None
    closed_at = e.occurred_at if new == "closed" else s.closed_at
    return replace(s, status=new, status_label=d.get("label"), solved_at=solved_at, closed_at=closed_at)


_APPLY: dict[str, Callable[[TicketState, dict, Any], TicketState]] = {
    "ticket.replied": lambda s, d, e: replace(s, messages=s.messages + (
        _message(e, d["message_id"], d["body"], d.get("attachments", ()), internal=False),)),
    "ticket.note_added": lambda s, d, e: replace(s, messages=s.messages + (
        _message(e, d["message_id"], d["body"], d.get("attachments", ()), internal=True),)),
    "ticket.assigned": lambda s, d, e: replace(s, assignee_id=d["assignee_id"], team=d["team"]),
    "ticket.unassigned": lambda s, d, e: replace(s, assignee_id=None, team=None),
    "ticket.priority_changed": lambda s, d, e: replace(s, priority=d["priority"]),
    "ticket.type_changed": lambda s, d, e: replace(s, type=d["type"]),
    "ticket.tag_added": lambda s, d, e: replace(s, tags=s.tags + (d["tag"],)),
    "ticket.tag_removed": lambda s, d, e: replace(s, tags=tuple(t for t in s.tags if t != d["tag"])),
    "ticket.status_changed": _status_changed,
    "ticket.rated": lambda s, d, e: replace(s, rating={
        "score": d["score"], "comment": d.get("comment"), "rated_at": e.occurred_at}),
}


# --- decide: a command in, new events out ------------------------------------------------

Change = tuple[str, dict[str, Any]]  # (event type, data)


def decide(state: TicketState | None, command: Command) -> list[NewEvent]:
    """The events ``command`` produces on ``state``; raises a ``DomainError`` if refused.

    Reads nothing but its arguments (and the clock, for ``occurred_at``). An
    empty list means the command asked for what already is. The checks run in
    this order: the ticket exists; who the actor is and what their role allows;
    a closed ticket; the command's fields; the ticket's state.
    """
    if not isinstance(command, Command) or not isinstance(command.actor, Actor):
        raise TypeError(f"not a ticket command: {command!r}")
    now = utcnow()
    if isinstance(command, OpenTicket):
        if state is not None:
            raise Conflict("already_opened", f"ticket {state.id} already exists")
        return [NewEvent("ticket.opened", _open(command), actor=command.actor, store_id=command.store_id,
                         occurred_at=now)]
    if state is None:
        raise Conflict("not_opened", "no such ticket: open it first")
    _check_actor(state, command.actor)
    changes = _HANDLERS[type(command)](state, command)
    return [NewEvent(t, data, actor=command.actor, store_id=state.store_id, occurred_at=now) for t, data in changes]


def _is_staff(actor: Actor) -> bool:
    return actor.kind in STAFF_KINDS


def _check_actor(state: TicketState, actor: Actor) -> None:
    if actor.kind == "platform":
        raise Forbidden("forbidden", "the platform does not act on tickets")
    if actor.kind == "customer" and (actor.id is None or actor.id != state.customer_id):
        raise Forbidden("forbidden", "this ticket belongs to another customer")


def _staff_only(actor: Actor, what: str) -> None:
    if not _is_staff(actor):
        raise Forbidden("staff_only", f"only staff may {what}")


def _not_closed(state: TicketState) -> None:
    if state.status == "closed":
        raise Conflict("ticket_closed", f"ticket {state.id} is closed")


def _message_id(state: TicketState, value: Any) -> str:
    message_id = rules.identifier(value, "message_id")
    if any(m.id == message_id for m in state.messages):
        raise Conflict("duplicate_message", f"message {message_id} is already on the ticket")
    return message_id


def _open(c: OpenTicket) -> dict[str, Any]:
    if c.actor.kind == "platform":
        raise Forbidden("forbidden", "the platform does not open tickets")
    if c.actor.kind == "customer" and (c.actor.id is None or c.customer_id != c.actor.id):
        raise Forbidden("forbidden", "a customer opens tickets only for themselves")
    ticket_id = rules.identifier(c.ticket_id, "ticket_id")
    rules.identifier(c.store_id, "store_id")
    return {
        "ticket_id": ticket_id,
        "number": rules.number(c.number),
        "customer_id": rules.identifier(c.customer_id, "customer_id"),
        "subject": rules.text(c.subject, "subject", rules.SUBJECT_MAX),
        "type": rules.ticket_type(c.type),
        "priority": rules.priority(c.priority),
        "order_id": rules.identifier(c.order_id, "order_id", optional=True),
        "message": {
            "id": rules.identifier(c.message_id, "message_id"),
            "body": rules.text(c.body, "body", rules.BODY_MAX),
            "attachments": rules.attachments(c.attachments),
        },
    }


def _reply(s: TicketState, c: PostReply) -> list[Change]:
    _not_closed(s)
    changes: list[Change] = [("ticket.replied", {
        "message_id": _message_id(s, c.message_id),
        "body": rules.text(c.body, "body", rules.BODY_MAX),
        "attachments": rules.attachments(c.attachments),
    })]
    if c.actor.kind == "customer" and s.status in ("pending", "solved"):
        changes.append(("ticket.status_changed",
                        {"status": "open", "previous": s.status, "label": None, "reason": "customer_reply"}))
    return changes


def _note(s: TicketState, c: AddNote) -> list[Change]:
    _staff_only(c.actor, "add internal notes")
    _not_closed(s)
    return [("ticket.note_added", {
        "message_id": _message_id(s, c.message_id),
        "body": rules.text(c.body, "body", rules.BODY_MAX),
        "attachments": rules.attachments(c.attachments),
    })]


def _assign(s: TicketState, c: Assign) -> list[Change]:
    _staff_only(c.actor, "assign tickets")
    _not_closed(s)
    assignee_id = rules.identifier(c.assignee_id, "assignee_id", optional=True)
    team = rules.identifier(c.team, "team", optional=True)
    if assignee_id is None and team is None:
        return _unassigned(s)
    if (assignee_id, team) == (s.assignee_id, s.team):
        return []
    return [("ticket.assigned", {"assignee_id": assignee_id, "team": team,
                                 "previous_assignee_id": s.assignee_id, "previous_team": s.team})]


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


def _close(s: TicketState, c: Close) -> list[Change]:
    return _status(s, c.actor, "closed")


def _rate(s: TicketState, c: Rate) -> list[Change]:
    if c.actor.kind != "customer":
        raise Forbidden("customer_only", "only the ticket's customer may rate it")
    score = rules.score(c.score)
    comment = rules.text(c.comment, "comment", rules.COMMENT_MAX, optional=True)
    if s.status not in ("solved", "closed"):
        raise Conflict("not_solved", "a ticket is rated once it is solved")
    if s.rating is not None:
        raise Conflict("already_rated", "this ticket has been rated")
    return [("ticket.rated", {"score": score, "comment": comment})]


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
    Solve: lambda s, c: _status(s, c.actor, "solved"),
    Close: _close,
    Reopen: lambda s, c: _status(s, c.actor, "open", reopen=True),
    Rate: _rate,
}


# --- views and helpers ------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def customer_view(customer_id: str, summary: dict[str, Any] | None, viewer_is_staff: bool) -> dict[str, Any]:
    """The ticket's customer as the viewer may see it. Staff get the summary
    the tickets service keeps (services/tickets/customers.py), or an empty one
    while no event about the customer has arrived yet. A shopper gets only
    their id: groups, the block and fraud flags are the store's business."""
    if not viewer_is_staff:
        return {"id": customer_id}
    if summary is None:
        return {"id": customer_id, "name": None, "groups": [], "blocked": False, "block_reason": None,
                "flagged": False}
    return {"id": customer_id, "name": summary["name"], "groups": [dict(g) for g in summary["groups"]],
            "blocked": summary["blocked"], "block_reason": summary["block_reason"], "flagged": summary["flagged"]}


def to_view(state: TicketState, viewer_is_staff: bool, customer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ticket as the API returns it. Customers never see internal notes,
    nor tags: tags are the staff's own labels ("fraud-suspect", "vip").
    ``customer`` is the summary of the ticket's customer, if known (see
    ``customer_view``)."""
    messages = state.messages if viewer_is_staff else state.public_messages()
    rating = state.rating and {"score": state.rating["score"], "comment": state.rating["comment"],
                               "rated_at": _iso(state.rating["rated_at"])}
    return {
        "id": state.id, "number": state.number, "status": state.status, "status_label": state.status_label,
        "priority": state.priority, "type": state.type, "subject": state.subject,
        "customer_id": state.customer_id, "customer": customer_view(state.customer_id, customer, viewer_is_staff),
        "order_id": state.order_id, "assignee_id": state.assignee_id,
        "team": state.team, "tags": list(state.tags) if viewer_is_staff else [], "version": state.version,
        "created_at": _iso(state.created_at), "updated_at": _iso(state.updated_at), "rating": rating,
        "messages": [
            {"id": m.id, "author": {"type": m.author_kind, "id": m.author_id}, "body": m.body,
             "internal": m.internal, "attachments": [dict(a) for a in m.attachments], "created_at": _iso(m.created_at)}
            for m in messages
        ],
    }


def stored(new_events: Iterable[NewEvent], after_version: int, occurred_at: datetime | None = None,
           *, stream_id: str | None = None) -> list[Envelope]:
    """``decide``'s events as the store would return them (for tests, and to
    fold one step of a multi-step command before the next decides): versions
    ``after_version + 1, ...``; the stream defaults to the ticket id of a
    ``ticket.opened`` in the batch."""
    new_events = list(new_events)
    if stream_id is None:
        stream_id = next((e.data["ticket_id"] for e in new_events if e.type == "ticket.opened"), "ticket")
    return [
        Envelope(
            event_id=e.event_id, type=e.type, schema_version=e.schema_version, stream_id=stream_id,
            version=after_version + n, position=after_version + n, store_id=e.store_id, actor=e.actor,
            correlation_id=e.correlation_id, causation_id=e.causation_id,
            occurred_at=occurred_at or e.occurred_at, data=e.data,
        )
        for n, e in enumerate(new_events, 1)
    ]
