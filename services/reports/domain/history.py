"""What one ticket's events say for the reports, whatever the store's
policy: ``fold(events)`` is a ``TicketHistory``, ``evolve(history, event)``
one event of it. ``metrics.measure`` then measures the history against the
store's business hours and SLA targets. Plain Python.

The events are the tickets service's (docs/events.md, rows ``ticket.*`` and
``sla.*``), read as ``services/tickets/domain/ticket.py`` reads them: anything
with ``type``, ``data``, ``actor.kind``, ``actor.id``, ``occurred_at``,
``version`` and ``store_id``. The rules are in docs/reports.md, "Definitions".
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Iterable

STAFF = ("agent", "platform")  # whose public replies answer the shopper (as the SLA clock says)
DONE = ("solved", "closed")
SLA_EVENTS = ("sla.warning", "sla.breached")


@dataclass(frozen=True)
class TicketHistory:
    """One ticket's facts, every moment in UTC and never before the event before it."""

    ticket_id: str
    store_id: str | None
    number: int
    customer_id: str
    order_id: str | None
    channel: str
    topic_id: str | None
    handled_by: str
    created_at: datetime
    # As they are now.
    type: str
    priority: str
    status: str
    tags: tuple[str, ...]
    assignee_id: str | None
    team: str | None
    version: int
    last_at: datetime  # the moment of the latest ticket event (sla.* events move no clock)
    # Time in each status, in microseconds, up to status_since; the current status runs on from there.
    status_since: datetime
    status_us: tuple[tuple[str, int], ...] = ()
    # Replies: (moment, author kind, author id) of each public staff reply.
    staff_replies: tuple[tuple[datetime, str, str | None], ...] = ()
    customer_replies: int = 0
    automatic_replies: int = 0
    notes: int = 0
    first_response: tuple[datetime, str | None] | None = None  # (moment, responder)
    waiting_since: datetime | None = None  # a shopper's reply that waits for the next response
    next_responses: tuple[tuple[datetime, datetime, str | None], ...] = ()  # (asked, answered, responder)
    # Solves and reopens (status_changed only): into solved/closed from elsewhere, and back out.
    first_solved_at: datetime | None = None
    staff_replies_at_first_solve: int | None = None
    solved_at: datetime | None = None  # the latest solve, cleared by a reopen
    reopened_at: tuple[datetime, ...] = ()
    assignee_changes: int = 0
    team_changes: int = 0
    had_assignee: bool = False
    had_team: bool = False
    breaches: tuple[tuple[str, int, datetime], ...] = ()  # (target, cycle, moment), once each
    rating: tuple[int, datetime] | None = None
    merged: tuple[str, datetime] | None = None  # (into ticket id, moment) while merged


def fold(events: Iterable[Any]) -> TicketHistory:
    """The history of a ticket's events, in version order; the first is its ``ticket.opened``."""
    history = None
    for event in events:
        history = evolve(history, event)
    if history is None:
        raise ValueError("no events: a ticket's history starts with ticket.opened")
    return history


def evolve(history: TicketHistory | None, event: Any) -> TicketHistory:
    if event.type == "ticket.opened":
        if history is not None:
            raise ValueError(f"a second ticket.opened at version {event.version}")
        return _opened(event)
    if history is None:
        raise ValueError(f"{event.type} before ticket.opened")
    at = max(_utc(event.occurred_at), history.last_at)
    if event.type in SLA_EVENTS:
        return replace(_sla(history, event, at), version=event.version)
    apply = _APPLY.get(event.type)
    history = replace(history, version=event.version, last_at=at)
    return apply(history, event, at) if apply else history


def _utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise TypeError(f"an aware datetime is needed, not {moment!r}")
    return moment.astimezone(timezone.utc)


def _opened(event: Any) -> TicketHistory:
    d, at = event.data, _utc(event.occurred_at)
    return TicketHistory(
        ticket_id=d["ticket_id"], store_id=getattr(event, "store_id", None), number=d["number"],
        customer_id=d["customer_id"], order_id=d.get("order_id"),
        # Tickets opened before channels were recorded: as the tickets service reads them.
        channel=d.get("channel") or ("api" if event.actor.kind == "agent" else "widget"),
        topic_id=d.get("topic_id"), handled_by=d.get("handled_by") or "store", created_at=at,
        type=d["type"], priority=d["priority"], status="open", tags=(), assignee_id=None, team=d.get("team"),
        version=event.version, last_at=at, status_since=at, had_team=d.get("team") is not None)


# --- replies ----------------------------------------------------------------------------


def _replied(h: TicketHistory, event: Any, at: datetime) -> TicketHistory:
    kind, who = event.actor.kind, event.actor.id
    if kind in STAFF and "automatic" not in event.data:
        h = replace(h, staff_replies=h.staff_replies + ((at, kind, who),))
        if h.first_response is None:
            return replace(h, first_response=(at, who))
        if h.waiting_since is not None:
            return replace(h, waiting_since=None, next_responses=h.next_responses + ((h.waiting_since, at, who),))
        return h
    if kind == "customer":
        h = replace(h, customer_replies=h.customer_replies + 1)
        if h.first_response is not None and h.waiting_since is None:
            return replace(h, waiting_since=at)
        return h
    return replace(h, automatic_replies=h.automatic_replies + 1)


# --- status -----------------------------------------------------------------------------


def _moved_to(h: TicketHistory, status: str, at: datetime) -> TicketHistory:
    """The clock of the status it leaves stops at ``at``."""
    spent = dict(h.status_us)
    spent[h.status] = spent.get(h.status, 0) + _us(at - h.status_since)
    return replace(h, status=status, status_since=at, status_us=tuple(sorted(spent.items())))


def _status_changed(h: TicketHistory, event: Any, at: datetime) -> TicketHistory:
    new, was_done = event.data["status"], h.status in DONE
    moved = _moved_to(h, new, at)
    if new in DONE and not was_done:
        moved = replace(moved, solved_at=at)
        if h.first_solved_at is None:
            moved = replace(moved, first_solved_at=at, staff_replies_at_first_solve=len(h.staff_replies))
    elif was_done and new not in DONE:
        moved = replace(moved, solved_at=None, reopened_at=h.reopened_at + (at,))
    return moved


def _us(delta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --- people -----------------------------------------------------------------------------


def _assigned(h: TicketHistory, assignee_id: str | None, team: str | None) -> TicketHistory:
    """Changes are counted once the ticket has had an agent (a team: the opening's team counts)."""
    return replace(
        h, assignee_id=assignee_id, team=team,
        assignee_changes=h.assignee_changes + (h.had_assignee and assignee_id != h.assignee_id),
        team_changes=h.team_changes + (h.had_team and team != h.team),
        had_assignee=h.had_assignee or assignee_id is not None, had_team=h.had_team or team is not None)


# --- the rest ---------------------------------------------------------------------------


def _sla(h: TicketHistory, event: Any, at: datetime) -> TicketHistory:
    if event.type != "sla.breached":
        return h
    target, cycle = event.data["target"], int(event.data["cycle"])
    if any(t == target and c == cycle for t, c, _ in h.breaches):
        return h
    return replace(h, breaches=h.breaches + ((target, cycle, at),))


def _merged(h: TicketHistory, event: Any, at: datetime) -> TicketHistory:
    return replace(_moved_to(h, "closed", at), merged=(event.data["into_ticket_id"], at))


def _unmerged(h: TicketHistory, event: Any, at: datetime) -> TicketHistory:
    return replace(_moved_to(h, event.data["status"], at), merged=None)


_APPLY = {
    "ticket.replied": _replied,
    "ticket.note_added": lambda h, e, at: replace(h, notes=h.notes + 1),
    "ticket.status_changed": _status_changed,
    "ticket.assigned": lambda h, e, at: _assigned(h, e.data["assignee_id"], e.data["team"]),
    "ticket.unassigned": lambda h, e, at: _assigned(h, None, None),
    "ticket.priority_changed": lambda h, e, at: replace(h, priority=e.data["priority"]),
    "ticket.type_changed": lambda h, e, at: replace(h, type=e.data["type"]),
    "ticket.tag_added": lambda h, e, at: h if e.data["tag"] in h.tags else replace(h, tags=h.tags + (e.data["tag"],)),
    "ticket.tag_removed": lambda h, e, at: replace(h, tags=tuple(t for t in h.tags if t != e.data["tag"])),
    "ticket.rated": lambda h, e, at: replace(h, rating=(e.data["score"], at)),
    "ticket.merged": _merged,
    "ticket.unmerged": _unmerged,
    # ticket.merge_received, merge_reverted, split, forwarded_by_email, data_change_*: no figure moves
    # (the merged ticket's replies are that ticket's), only the version and the clock.
}
