"""What a ticket's events say about its SLA, whatever the policy: when it
opened, its priority, its statuses over time, the staff's first response,
the latest next-response cycle, and the SLA events already emitted.
``evolve_history`` is one event, ``fold_history`` many; ``to_dict`` and
``history_from_dict`` keep it as JSON, so a projection can go on from a
stored history and recompute its SLA under a new policy without re-reading
the stream. Plain Python. The rules: docs/agent-operations/sla.md.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterable

from seedwork.instants import iso, iso_or_none, parse_instant

from seedwork.business_calendar import from_us, to_us

STAFF = ("agent", "platform")  # whose public replies answer the customer
DONE = ("solved", "closed")
WARNING, BREACHED = "sla.warning", "sla.breached"


@dataclass(frozen=True)
class SlaHistory:
    """The SLA facts of one ticket's stream up to ``version``; every moment in UTC."""

    opened_at: datetime | None = None
    priority: str | None = None
    statuses: tuple[tuple[datetime, str], ...] = ()  # (since, status), from the opening on
    first_response_at: datetime | None = None
    cycle: int = 0  # the latest next-response cycle (0: none yet)
    cycle_started_at: datetime | None = None
    cycle_met_at: datetime | None = None
    emitted: frozenset[tuple[str, int, str]] = frozenset()  # (kind, cycle, sla.warning|sla.breached)
    last_event_at: datetime | None = None  # of the ticket's own events; SLA events move no clock
    version: int = 0

    @property
    def status(self) -> str | None:
        return self.statuses[-1][1] if self.statuses else None

    def to_dict(self) -> dict[str, Any]:
        """As JSON (moments in ISO 8601 UTC, emitted sorted); ``history_from_dict`` reads it back."""
        return {
            "opened_at": iso_or_none(self.opened_at), "priority": self.priority,
            "statuses": [[iso(since), status] for since, status in self.statuses],
            "first_response_at": iso_or_none(self.first_response_at), "cycle": self.cycle,
            "cycle_started_at": iso_or_none(self.cycle_started_at), "cycle_met_at": iso_or_none(self.cycle_met_at),
            "emitted": [list(e) for e in sorted(self.emitted)], "last_event_at": iso_or_none(self.last_event_at),
            "version": self.version,
        }


def evolve_history(history: SlaHistory, event: Any) -> SlaHistory:
    """``history`` after one stored event (anything with ``type``, ``data``,
    ``actor.kind``, ``occurred_at``, ``version``). An event stamped before the
    one it follows counts as happening at that one's moment."""
    kind, data = event.type, event.data
    at = from_us(to_us(event.occurred_at))  # in UTC; a naive moment is a TypeError
    if kind == "ticket.opened":
        if history.opened_at is not None:
            raise ValueError(f"a second ticket.opened at version {event.version}")
        return SlaHistory(opened_at=at, priority=data["priority"], statuses=((at, "open"),), last_event_at=at,
                          version=event.version)
    if history.opened_at is None:
        raise ValueError(f"{kind} before ticket.opened")
    if kind in (WARNING, BREACHED):
        return replace(history, version=event.version,
                       emitted=history.emitted | {(data["target"], int(data["cycle"]), kind)})
    at = max(at, history.last_event_at)
    history = replace(history, last_event_at=at, version=event.version)
    if kind == "ticket.priority_changed":
        return replace(history, priority=data["priority"])
    if kind == "ticket.status_changed":
        return replace(history, statuses=history.statuses + ((at, data["status"]),))
    if kind != "ticket.replied":
        return history
    if event.actor.kind in STAFF and "automatic" not in data:
        if history.first_response_at is None:
            return replace(history, first_response_at=at)
        if history.cycle and history.cycle_met_at is None:
            return replace(history, cycle_met_at=at)
    elif event.actor.kind == "customer" and history.first_response_at is not None:
        if history.cycle == 0 or history.cycle_met_at is not None:
            return replace(history, cycle=history.cycle + 1, cycle_started_at=at, cycle_met_at=None)
    return history


def fold_history(events: Iterable[Any], history: SlaHistory | None = None) -> SlaHistory:
    history = history or SlaHistory()
    for event in events:
        history = evolve_history(history, event)
    return history


def history_from_dict(data: dict) -> SlaHistory:
    """The history ``SlaHistory.to_dict`` wrote."""
    moment = lambda value: None if value is None else parse_instant(value)  # noqa: E731
    return SlaHistory(
        opened_at=moment(data["opened_at"]), priority=data["priority"],
        statuses=tuple((parse_instant(since), status) for since, status in data["statuses"]),
        first_response_at=moment(data["first_response_at"]), cycle=data["cycle"],
        cycle_started_at=moment(data["cycle_started_at"]), cycle_met_at=moment(data["cycle_met_at"]),
        emitted=frozenset((kind, cycle, event_type) for kind, cycle, event_type in data["emitted"]),
        last_event_at=moment(data["last_event_at"]), version=data["version"])
