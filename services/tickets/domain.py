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
    PRIORITIES, PRIORITY_RANK, RESERVED_TYPES, STATUSES, TICKET_TYPES, AddNote, AddTag, ApproveDataChange, Assign,
    Attachment, ChangeStatus, Close, Command, OpenTicket, PostReply, Rate, RejectDataChange, RemoveTag, Reopen,
    SetPriority, SetType, Solve, Unassign, redact_card_numbers,
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
    "ticket.status_changed", "ticket.rated", "ticket.data_change_approved", "ticket.data_change_rejected",
)
CUSTOMER_VISIBLE = frozenset({"ticket.opened", "ticket.replied", "ticket.status_changed", "ticket.rated",
                              "ticket.data_change_approved", "ticket.data_change_rejected"})
# Who answers a ticket: its store's staff and the system; on a ticket the
# platform handles (charged without an order), the platform's review team.
STAFF_KINDS = ("agent", "system", "platform")


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
    canned_response_id: str | None = None  # a reply filled from this canned response
    automatic: str | None = None  # "tracking_link": posted by a self-service flow


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
    handled_by: str = "store"  # "platform": the platform's review team answers, the store only watches
    payment: dict | None = None  # charged without an order: {"method", "card_last4"}
    exchange: dict | None = None  # product exchange: {"order_id", "item", "reason", "preferred_replacement"}
    data_change: dict | None = None  # {"fields", "state": pending|approved|rejected, "reason"?, "customer_version"?}

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
        canned_response_id=event.data.get("canned_response_id"), automatic=event.data.get("automatic"),
    )


def _opened(event: Any) -> TicketState:
    d, m = event.data, event.data["message"]
    return TicketState(
        id=d["ticket_id"], store_id=getattr(event, "store_id", None), number=d["number"], status="open",
        status_label=None, priority=d["priority"], type=d["type"], subject=d["subject"],
        customer_id=d["customer_id"], order_id=d.get("order_id"), assignee_id=None, team=None, tags=(),
        messages=(_message(event, m["id"], m["body"], m.get("attachments", ()), internal=False),),
        rating=None, version=event.version, created_at=event.occurred_at, updated_at=event.occurred_at,
        solved_at=None, closed_at=None, handled_by=d.get("handled_by", "store"), payment=d.get("payment"),
        exchange=d.get("exchange"),
        data_change=d.get("data_change") and {"fields": dict(d["data_change"]["fields"]), "state": "pending"},
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
    "ticket.data_change_approved": lambda s, d, e: replace(s, data_change={
        **s.data_change, "state": "approved", "customer_version": d["customer_version"]}),
    "ticket.data_change_rejected": lambda s, d, e: replace(s, data_change={
        **s.data_change, "state": "rejected", "reason": d["reason"]}),
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
    _check_actor(state, command.actor)
    changes = _HANDLERS[type(command)](state, command)
    return [NewEvent(t, data, actor=command.actor, store_id=state.store_id, occurred_at=now) for t, data in changes]


def _is_staff(actor: Actor) -> bool:
    return actor.kind in STAFF_KINDS


def _check_actor(state: TicketState, actor: Actor) -> None:
    if actor.kind == "platform" and state.handled_by != "platform":
        raise Forbidden("forbidden", "the platform acts only on the tickets its review team handles")
    if actor.kind == "agent" and state.handled_by == "platform":
        raise Forbidden("handled_by_platform", "the platform's review team handles this ticket; "
                                               "the store follows its status")
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
    data = {
        "ticket_id": ticket_id,
        "number": rules.number(c.number),
        "customer_id": rules.identifier(c.customer_id, "customer_id"),
        "subject": rules.text(c.subject, "subject", rules.SUBJECT_MAX),
        "type": rules.ticket_type(c.type, reserved_ok=c.flow is not None),
        "priority": rules.priority(c.priority),
        "order_id": rules.identifier(c.order_id, "order_id", optional=True),
        "message": {
            "id": rules.identifier(c.message_id, "message_id"),
            "body": rules.text(c.body, "body", rules.BODY_MAX),
            "attachments": rules.attachments(c.attachments),
        },
    }
    return data | _flow_fields(c, data["type"])


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
        raise InvalidCommand.field("type", f"a {ticket_type} ticket carries no {', '.join(sorted(set(flow) - {needed}))}")
    if flow:
        extra[needed] = flow[needed]
    return extra


def _reply(s: TicketState, c: PostReply) -> list[Change]:
    _not_closed(s)
    if (c.canned_response_id is not None or c.automatic is not None) and not _is_staff(c.actor):
        raise Forbidden("staff_only", "only staff send canned or automatic replies")
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
    Solve: lambda s, c: _status(s, c.actor, "solved"),
    Close: _close,
    Reopen: lambda s, c: _status(s, c.actor, "open", reopen=True),
    Rate: _rate,
    ApproveDataChange: _approve_data_change,
    RejectDataChange: _reject_data_change,
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


def is_restricted_for(state: TicketState, viewer_kind: str) -> bool:
    """The store's staff only follow a ticket the platform handles: they see
    that it exists and its status, not its messages or payment details."""
    return state.handled_by == "platform" and viewer_kind not in ("platform", "customer")


def _attachment_view(ticket_id: str, a: dict) -> dict:
    a = dict(a)
    if a.get("id") is not None:  # an uploaded file: downloaded through the API, by who may see it
        a["url"] = f"/v1/tickets/{ticket_id}/attachments/{a['id']}"
    return a


def to_view(state: TicketState, viewer_is_staff: bool, customer: dict[str, Any] | None = None,
            restricted: bool = False) -> dict[str, Any]:
    """The ticket as the API returns it. Customers never see internal notes,
    nor tags: tags are the staff's own labels ("fraud-suspect", "vip").
    ``customer`` is the summary of the ticket's customer, if known (see
    ``customer_view``). ``restricted``: see ``is_restricted_for``."""
    messages = state.messages if viewer_is_staff else state.public_messages()
    if restricted:
        messages = ()
    rating = state.rating and {"score": state.rating["score"], "comment": state.rating["comment"],
                               "rated_at": _iso(state.rating["rated_at"])}
    return {
        "id": state.id, "number": state.number, "status": state.status, "status_label": state.status_label,
        "priority": state.priority, "type": state.type, "subject": state.subject,
        "customer_id": state.customer_id, "customer": customer_view(state.customer_id, customer, viewer_is_staff),
        "order_id": state.order_id, "assignee_id": state.assignee_id,
        "team": state.team, "tags": list(state.tags) if viewer_is_staff else [], "version": state.version,
        "created_at": _iso(state.created_at), "updated_at": _iso(state.updated_at), "rating": rating,
        "handled_by": state.handled_by, "restricted": restricted,
        "payment": None if restricted else state.payment and dict(state.payment),
        "exchange": state.exchange and dict(state.exchange),
        "data_change": state.data_change and dict(state.data_change),
        "messages": [
            {"id": m.id, "author": {"type": m.author_kind, "id": m.author_id}, "body": m.body,
             "internal": m.internal, "attachments": [_attachment_view(state.id, a) for a in m.attachments],
             "created_at": _iso(m.created_at), "canned_response_id": m.canned_response_id,
             "automatic": m.automatic}
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
