"""Read state per agent: which tickets have customer messages an agent has
not read yet. Plain Python. See docs/agent-operations/forward-and-unread.md.

A ticket's *read point* is the last public message from its customer, with
the ticket version whose event brought it (``ticket.opened``,
``ticket.replied``, or ``ticket.merge_received`` for a customer's message
that came with a merge). An agent's mark on a ticket is the version they
read up to; the ticket is unread for them while its read point is later.
Marks only move forward, so the projection of the marks (the largest per
agent and ticket) is the same whatever order it is rebuilt in.

Marks are events of the agent's own stream (``reads:{store}:{agent}``),
``agent.ticket_read``, appended only when the mark moves: reading a ticket
again with nothing new from the customer records nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from seedwork.envelope import Actor, NewEvent

from .ticket import TicketState

READ_EVENT = "agent.ticket_read"
STREAM_PREFIX = "reads:"


def stream_of(store_id: str, agent_id: str) -> str:
    return f"{STREAM_PREFIX}{store_id}:{agent_id}"


@dataclass(frozen=True)
class ReadPoint:
    version: int  # the ticket version that brought the message
    message_id: str


@dataclass(frozen=True)
class Mark:
    ticket_id: str
    version: int
    message_id: str
    read_at: datetime


def arrivals(history: Iterable[Any]) -> dict[str, int]:
    """Each message's id, and the ticket version whose event brought it."""
    arrived: dict[str, int] = {}
    for event in history:
        data = event.data
        if event.type == "ticket.opened":
            arrived[data["message"]["id"]] = event.version
        elif event.type in ("ticket.replied", "ticket.note_added"):
            arrived[data["message_id"]] = event.version
        elif event.type == "ticket.merge_received":
            for message in data["messages"]:
                arrived[message["id"]] = event.version
    return arrived


def read_point(state: TicketState, history: Sequence[Any]) -> ReadPoint | None:
    """The ticket's last public customer message, or None (none yet; or a
    ticket the platform handles, whose messages the store does not read)."""
    if state.handled_by != "store":
        return None
    arrived = arrivals(history)
    best: ReadPoint | None = None
    for message in state.messages:
        if message.internal or message.author_kind != "customer" or message.id not in arrived:
            continue
        point = ReadPoint(arrived[message.id], message.id)
        if best is None or point.version >= best.version:
            best = point
    return best


def point_version(point: ReadPoint | None) -> int:
    """The list row's ``last_customer_version``: 0 when there is nothing to read."""
    return 0 if point is None else point.version


def is_unread(last_customer_version: int, marked_version: int | None) -> bool:
    return last_customer_version > (marked_version or 0)


def decide_read(store_id: str, actor: Actor, ticket_id: str, point: ReadPoint | None, marked_version: int | None,
                now: datetime) -> list[NewEvent]:
    """The mark to record: none when there is nothing new from the customer."""
    if actor.kind != "agent":
        raise ValueError("only the store's staff keep read marks")
    if point is None or not is_unread(point.version, marked_version):
        return []
    return [NewEvent(READ_EVENT, {"agent_id": actor.id, "ticket_id": ticket_id, "version": point.version,
                                  "message_id": point.message_id}, actor=actor, store_id=store_id, occurred_at=now)]


def fold_marks(events: Iterable[Any]) -> dict[str, Mark]:
    """An agent's stream: the furthest mark on each ticket."""
    marks: dict[str, Mark] = {}
    for event in events:
        if event.type != READ_EVENT:
            continue
        d = event.data
        known = marks.get(d["ticket_id"])
        if known is None or d["version"] > known.version:
            marks[d["ticket_id"]] = Mark(d["ticket_id"], d["version"], d["message_id"], event.occurred_at)
    return marks
