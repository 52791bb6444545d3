"""A ticket's state: ``evolve(state, event)`` applies one stored event,
``fold(events)`` is the ticket. Every change is an event, so the state is
always the fold of the ticket's stream. Plain Python. See docs/tickets.md.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, Iterable

from seedwork.envelope import Envelope, NewEvent
from seedwork.instants import parse_instant

from .fields import default_channel

EVENT_TYPES = (
    "ticket.opened", "ticket.replied", "ticket.note_added", "ticket.assigned", "ticket.unassigned",
    "ticket.priority_changed", "ticket.type_changed", "ticket.tag_added", "ticket.tag_removed",
    "ticket.status_changed", "ticket.rated", "ticket.data_change_approved", "ticket.data_change_rejected",
    # Merge and split (domain/merging.py): one decision writes to two tickets.
    "ticket.merged", "ticket.merge_received", "ticket.unmerged", "ticket.merge_reverted", "ticket.split",
    "sla.warning", "sla.breached",
    # Forwarded by email (domain/forwarding.py): what was sent, and to whom; the ticket itself is unchanged.
    "ticket.forwarded_by_email",
)
# Facts about the ticket's clock (domain/sla.py reads them), not changes to it:
# they move its version, not its updated_at.
CLOCK_EVENTS = ("sla.warning", "sla.breached")


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
    merged_from: str | None = None  # came with the merge of that ticket into this one (ticket.merge_received)
    split_into: dict | None = None  # {"ticket_id", "number"}: a new ticket was opened from it (ticket.split)


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
    channel: str = "api"  # where it came from (fields.CHANNELS)
    # Merged into another ticket (closed by it): {"ticket_id", "number", "previous_status", "previous_label",
    # "merged_at"}; cleared by ticket.unmerged.
    merged_into: dict | None = None
    split_from: dict | None = None  # opened from a message of another ticket: {"ticket_id", "number", "message_id"}
    topic_id: str | None = None  # the contact topic it was opened on

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
    if event.type in CLOCK_EVENTS:
        if state is None:
            raise ValueError(f"{event.type} before ticket.opened")
        return replace(state, version=event.version)
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
    state = TicketState(
        id=d["ticket_id"], store_id=getattr(event, "store_id", None), number=d["number"], status="open",
        status_label=None, priority=d["priority"], type=d["type"], subject=d["subject"],
        customer_id=d["customer_id"], order_id=d.get("order_id"), assignee_id=None, team=d.get("team"), tags=(),
        messages=(_message(event, m["id"], m["body"], m.get("attachments", ()), internal=False),),
        rating=None, version=event.version, created_at=event.occurred_at, updated_at=event.occurred_at,
        solved_at=None, closed_at=None, handled_by=d.get("handled_by", "store"), payment=d.get("payment"),
        exchange=d.get("exchange"),
        data_change=d.get("data_change") and {"fields": dict(d["data_change"]["fields"]), "state": "pending"},
        # Tickets opened before channels were recorded: as decide's default would say.
        channel=d.get("channel") or default_channel(event.actor.kind),
        topic_id=d.get("topic_id"),
    )
    return _split_origin(state, d.get("split_from"))


def _split_origin(state: TicketState, split_from: dict | None) -> TicketState:
    """A ticket opened by a split: its opening message is the split message,
    written by its author (the staff member who split is the event's actor)."""
    if split_from is None:
        return state
    opening = replace(state.messages[0], author_kind=split_from["author"]["type"],
                      author_id=split_from["author"]["id"])
    origin = {k: split_from[k] for k in ("ticket_id", "number", "message_id")}
    return replace(state, messages=(opening, *state.messages[1:]), split_from=origin)


def _status_changed(s: TicketState, d: dict, e: Any) -> TicketState:
    new = d["status"]
    solved_at = e.occurred_at if new == "solved" else s.solved_at if new == "closed" else None
    closed_at = e.occurred_at if new == "closed" else s.closed_at
    return replace(s, status=new, status_label=d.get("label"), solved_at=solved_at, closed_at=closed_at)


# --- merge and split: each ticket's fold stays its own stream's ------------------------


def _merged(s: TicketState, d: dict, e: Any) -> TicketState:
    # Closed by the merge: solved_at is kept, as a close keeps it.
    return replace(s, status="closed", status_label=None, closed_at=e.occurred_at, merged_into={
        "ticket_id": d["into_ticket_id"], "number": d["into_number"], "previous_status": d["previous_status"],
        "previous_label": d.get("previous_label"), "merged_at": e.occurred_at})


def _unmerged(s: TicketState, d: dict, e: Any) -> TicketState:
    # Back to the status the merge closed it from; solved_at was kept through the close.
    return replace(s, status=d["status"], status_label=d.get("label"), closed_at=None, merged_into=None)


def merged_message(record: dict, from_ticket_id: str) -> Message:
    """A message as ``ticket.merge_received`` carries it (``merging.message_record``)."""
    return Message(
        id=record["id"], author_kind=record["author"]["type"], author_id=record["author"]["id"],
        body=record["body"], internal=record["internal"], attachments=tuple(dict(a) for a in record["attachments"]),
        created_at=parse_instant(record["created_at"], "created_at"),
        canned_response_id=record.get("canned_response_id"), automatic=record.get("automatic"),
        merged_from=from_ticket_id, split_into=record.get("split_into") and dict(record["split_into"]),
    )


def _merge_received(s: TicketState, d: dict, e: Any) -> TicketState:
    return replace(s, messages=s.messages + tuple(merged_message(m, d["from_ticket_id"]) for m in d["messages"]))


def _merge_reverted(s: TicketState, d: dict, e: Any) -> TicketState:
    leaving = set(d["message_ids"])
    return replace(s, messages=tuple(m for m in s.messages if m.id not in leaving))


def _split(s: TicketState, d: dict, e: Any) -> TicketState:
    into = {"ticket_id": d["new_ticket_id"], "number": d["new_number"]}
    return replace(s, messages=tuple(replace(m, split_into=into) if m.id == d["message_id"] else m
                                     for m in s.messages))


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
    "ticket.merged": _merged,
    "ticket.merge_received": _merge_received,
    "ticket.unmerged": _unmerged,
    "ticket.merge_reverted": _merge_reverted,
    "ticket.split": _split,
    "ticket.forwarded_by_email": lambda s, d, e: s,
}


# --- as the store would keep them -------------------------------------------------------


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
