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
from typing import Any, Callable, Iterable, Sequence

from seedwork.envelope import Actor, NewEvent

from .queues import SPAM_TAG, UNSOLVED
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


# --- each topic's inbox: its unread count per agent, kept as counters -------------------------
#
# A ticket is in its topic's inbox while it is the store's, unsolved, not spam,
# and has a customer message (its read point). Two kinds of counters, per
# cell (topic, team, assignee), so a team-scoped agent sums only the cells they
# may see: the inbox (every agent's), and per agent the inbox tickets they have
# read up to the last customer message ("caught up"). An agent's unread count
# is the first less the second. A ticket's change moves one inbox counter and
# the caught-up counters of the few agents who had read it; a read moves one.

INBOX_STATUSES = UNSOLVED
Cell = tuple[str, str, str]  # (topic id, team, assignee); "" for none


@dataclass(frozen=True)
class InboxEntry:
    cell: Cell | None  # None: not in any inbox
    last_customer_version: int


def inbox_entry(status: str, handled_by: str, tags: Iterable[str], topic_id: str | None, team: str | None,
                assignee_id: str | None, last_customer_version: int) -> InboxEntry:
    inside = (handled_by == "store" and status in INBOX_STATUSES and SPAM_TAG not in tuple(tags)
              and last_customer_version > 0)
    cell = (topic_id or "", team or "", assignee_id or "") if inside else None
    return InboxEntry(cell, last_customer_version)


def caught_up(entry: InboxEntry | None, marked_version: int | None) -> bool:
    """In an inbox, and read up to its last customer message."""
    return entry is not None and entry.cell is not None and (marked_version or 0) >= entry.last_customer_version


Delta = tuple[Cell, int]
AgentDelta = tuple[str, Cell, int]


def inbox_changes(before: InboxEntry | None, after: InboxEntry | None,
                  marks: dict[str, int]) -> tuple[list[Delta], list[AgentDelta]]:
    """What a ticket's change moves: the inbox counters, and the caught-up
    counters of the agents whose marks (``{agent: version}``) it concerns.
    Sorted, so that two writers take the counters' rows in the same order."""
    inbox: dict[Cell, int] = {}
    agents: dict[tuple[str, Cell], int] = {}
    for entry, sign in ((before, -1), (after, +1)):
        if entry is None or entry.cell is None:
            continue
        inbox[entry.cell] = inbox.get(entry.cell, 0) + sign
        for agent, version in marks.items():
            if caught_up(entry, version):
                agents[agent, entry.cell] = agents.get((agent, entry.cell), 0) + sign
    return (sorted((c, n) for c, n in inbox.items() if n),
            sorted((a, c, n) for (a, c), n in agents.items() if n))


def read_changes(agent_id: str, entry: InboxEntry | None, old: int | None, new: int) -> list[AgentDelta]:
    """What an agent's new mark moves: their caught-up counter of the ticket's cell, if it now is."""
    if not caught_up(entry, old) and caught_up(entry, new):
        return [(agent_id, entry.cell, 1)]
    return []


def unread_by_topic(inbox: Iterable[tuple[Cell, int]], caught: Iterable[tuple[Cell, int]],
                    sees: Callable[[str, str], bool]) -> dict[str | None, int]:
    """``{topic id (None: no topic): unread}`` from the cells' counters, over the cells the agent ``sees``
    (``sees(team, assignee)`` with "" for none: ``queues.Viewer.sees_cell``)."""
    counts: dict[str | None, int] = {}
    for cells, sign in ((inbox, 1), (caught, -1)):
        for (topic, team, assignee), n in cells:
            if sees(team, assignee):
                counts[topic or None] = counts.get(topic or None, 0) + sign * n
    return {topic: n for topic, n in counts.items() if n}
