"""One ticket's metrics: ``measure(events, policy, fcr_window_days)`` folds
its stored events (``history.fold``) and measures them against the store's
SLA policy: business minutes on its business hours, SLA targets achieved.
``to_document`` / ``from_document`` keep a ``TicketMetrics`` as JSON.
Plain Python. Every rule: docs/reports.md, "Definitions".
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from seedwork.business_calendar import MINUTE_US, BusinessCalendar, calendar_of, default_policy, to_us
from seedwork.instants import iso

from .history import DONE, TicketHistory, fold

# The policy of a store that never set one (the tickets service times its tickets by the same).
DEFAULT_POLICY: dict[str, Any] = default_policy()
# Every minute a business minute, in UTC, and no SLA targets.
AROUND_THE_CLOCK: dict[str, Any] = {"time_zone": "UTC", "business_hours": [], "holidays": []}
DEFAULT_FCR_WINDOW_DAYS = 7


@dataclass(frozen=True)
class Response:
    """A staff response: the shopper asked at ``asked_at`` (the opening, for the first), staff answered."""

    asked_at: datetime
    answered_at: datetime
    by: str | None
    minutes: float
    business_minutes: float


@dataclass(frozen=True)
class StaffReply:
    at: datetime
    author_kind: str  # agent | platform
    author_id: str | None


@dataclass(frozen=True)
class SlaOutcome:
    target: str  # first_response | next_response | resolution
    cycle: int
    at: datetime  # when it was met (achieved) or when the timer said it was late (breached)


@dataclass(frozen=True)
class TicketMetrics:
    store_id: str | None
    ticket_id: str
    number: int
    version: int  # the last event measured
    created_at: datetime
    last_event_at: datetime
    customer_id: str
    order_id: str | None
    channel: str
    topic_id: str | None
    handled_by: str  # store | platform
    # As they are now.
    type: str
    priority: str
    status: str
    tags: tuple[str, ...]
    assignee_id: str | None
    team: str | None
    # Responses (calendar minutes and the store's business minutes).
    first_response_at: datetime | None
    first_response_by: str | None
    first_response_minutes: float | None
    first_response_business_minutes: float | None
    next_responses: tuple[Response, ...]
    # Resolution: the first solve, and the solve it stays at (None while reopened; None when merged).
    first_solved_at: datetime | None
    first_resolution_minutes: float | None
    first_resolution_business_minutes: float | None
    solved_at: datetime | None
    resolution_minutes: float | None
    resolution_business_minutes: float | None
    # Counts.
    staff_replies: int
    customer_replies: int
    automatic_replies: int
    notes: int
    reopens: int
    assignee_changes: int
    team_changes: int
    staff_reply_log: tuple[StaffReply, ...]
    reopened_at: tuple[datetime, ...]
    seconds_in_status: tuple[tuple[str, float], ...]  # (status, seconds) up to the last event, by status name
    sla_achieved: tuple[SlaOutcome, ...]
    sla_breached: tuple[SlaOutcome, ...]
    csat_score: int | None
    rated_at: datetime | None
    fcr: bool | None  # None: not solved yet, or merged
    one_touch: bool | None
    merged_into: str | None
    merged_at: datetime | None


def measure(events: Iterable[Any], policy: Mapping[str, Any] = DEFAULT_POLICY,
            fcr_window_days: int = DEFAULT_FCR_WINDOW_DAYS) -> TicketMetrics:
    """The metrics of a ticket's stored events, in version order (the first is
    its ``ticket.opened``), under the store's cleaned SLA ``policy``."""
    history = fold(events)
    return finish(history, calendar_of(policy), policy.get("targets") or {}, timedelta(days=fcr_window_days))


def finish(h: TicketHistory, calendar: BusinessCalendar, targets: Mapping[str, Any],
           fcr_window: timedelta) -> TicketMetrics:
    merged = h.merged is not None
    solved_at = h.solved_at if h.status in DONE and not merged else None
    first_solved_at = None if merged else h.first_solved_at
    one_touch = None if first_solved_at is None else h.staff_replies_at_first_solve == 1
    fcr = one_touch and not any(at <= first_solved_at + fcr_window for at in h.reopened_at)
    first = h.first_response
    first_minutes = _minutes(calendar, h.created_at, first and first[0])
    resolution = _minutes(calendar, h.created_at, solved_at)
    first_resolution = _minutes(calendar, h.created_at, first_solved_at)
    responses = tuple(Response(asked, answered, by, *_minutes(calendar, asked, answered))
                      for asked, answered, by in h.next_responses)
    return TicketMetrics(
        store_id=h.store_id, ticket_id=h.ticket_id, number=h.number, version=h.version, created_at=h.created_at,
        last_event_at=h.last_at, customer_id=h.customer_id, order_id=h.order_id, channel=h.channel,
        topic_id=h.topic_id, handled_by=h.handled_by, type=h.type, priority=h.priority, status=h.status,
        tags=h.tags, assignee_id=h.assignee_id, team=h.team,
        first_response_at=first and first[0], first_response_by=first and first[1],
        first_response_minutes=first_minutes[0], first_response_business_minutes=first_minutes[1],
        next_responses=responses,
        first_solved_at=first_solved_at, first_resolution_minutes=first_resolution[0],
        first_resolution_business_minutes=first_resolution[1],
        solved_at=solved_at, resolution_minutes=resolution[0], resolution_business_minutes=resolution[1],
        staff_replies=len(h.staff_replies), customer_replies=h.customer_replies,
        automatic_replies=h.automatic_replies, notes=h.notes, reopens=len(h.reopened_at),
        assignee_changes=h.assignee_changes, team_changes=h.team_changes,
        staff_reply_log=tuple(StaffReply(*reply) for reply in h.staff_replies), reopened_at=h.reopened_at,
        seconds_in_status=_seconds_in_status(h),
        sla_achieved=_achieved(h, targets, responses, solved_at),
        sla_breached=tuple(SlaOutcome(*breach) for breach in h.breaches),
        csat_score=h.rating and h.rating[0], rated_at=h.rating and h.rating[1],
        fcr=fcr, one_touch=one_touch,
        merged_into=h.merged and h.merged[0], merged_at=h.merged and h.merged[1],
    )


def _minutes(calendar: BusinessCalendar, start: datetime, end: datetime | None) -> tuple[float | None, float | None]:
    """Calendar and business minutes from ``start`` to ``end``."""
    if end is None:
        return None, None
    a, b = to_us(start), to_us(end)
    return (b - a) / MINUTE_US, calendar.between_us(a, b) / MINUTE_US


def _seconds_in_status(h: TicketHistory) -> tuple[tuple[str, float], ...]:
    spent = dict(h.status_us)
    spent[h.status] = spent.get(h.status, 0) + (to_us(h.last_at) - to_us(h.status_since))
    return tuple((status, us / 1_000_000) for status, us in sorted(spent.items()))


def has_target(targets: Mapping[str, Any], priority: str, kind: str) -> bool:
    """Whether the policy sets a ``kind`` target (first_response, ...) for the ticket's current priority."""
    return ((targets.get(priority) or {}).get(f"{kind}_minutes")) is not None


def _achieved(h: TicketHistory, targets: Mapping[str, Any], responses: tuple[Response, ...],
              solved_at: datetime | None) -> tuple[SlaOutcome, ...]:
    """Targets the policy sets that were met with no ``sla.breached`` for them."""
    breached = {(target, cycle) for target, cycle, _ in h.breaches}
    met = [("first_response", 1, h.first_response and h.first_response[0]), ("resolution", 1, solved_at)]
    met += [("next_response", n, r.answered_at) for n, r in enumerate(responses, 1)]
    return tuple(sorted((SlaOutcome(kind, cycle, at) for kind, cycle, at in met
                         if at is not None and (kind, cycle) not in breached
                         and has_target(targets, h.priority, kind)),
                        key=lambda o: (o.at, o.target, o.cycle)))


# --- as a JSON document (the ticket_metrics row) ---------------------------------------------

_MOMENTS = ("created_at", "last_event_at", "first_response_at", "first_solved_at", "solved_at", "rated_at",
            "merged_at")


def to_document(m: TicketMetrics) -> dict[str, Any]:
    """``m`` as JSON: moments as RFC 3339 UTC strings, tuples as lists."""
    doc = {f.name: getattr(m, f.name) for f in fields(m)}
    doc.update({name: doc[name] and iso(doc[name]) for name in _MOMENTS})
    doc["tags"] = list(m.tags)
    doc["next_responses"] = [{"asked_at": iso(r.asked_at), "answered_at": iso(r.answered_at), "by": r.by,
                              "minutes": r.minutes, "business_minutes": r.business_minutes}
                             for r in m.next_responses]
    doc["staff_reply_log"] = [[iso(r.at), r.author_kind, r.author_id] for r in m.staff_reply_log]
    doc["reopened_at"] = [iso(at) for at in m.reopened_at]
    doc["seconds_in_status"] = dict(m.seconds_in_status)
    for name in ("sla_achieved", "sla_breached"):
        doc[name] = [[o.target, o.cycle, iso(o.at)] for o in getattr(m, name)]
    return doc


def from_document(doc: Mapping[str, Any]) -> TicketMetrics:
    """The metrics ``to_document`` wrote."""
    moment = lambda value: None if value is None else datetime.fromisoformat(value)  # noqa: E731
    values = {f.name: doc[f.name] for f in fields(TicketMetrics)}
    values.update({name: moment(values[name]) for name in _MOMENTS})
    values["tags"] = tuple(doc["tags"])
    values["next_responses"] = tuple(Response(moment(r["asked_at"]), moment(r["answered_at"]), r["by"],
                                              r["minutes"], r["business_minutes"]) for r in doc["next_responses"])
    values["staff_reply_log"] = tuple(StaffReply(moment(at), kind, who) for at, kind, who in doc["staff_reply_log"])
    values["reopened_at"] = tuple(moment(at) for at in doc["reopened_at"])
    values["seconds_in_status"] = tuple(sorted(doc["seconds_in_status"].items()))
    for name in ("sla_achieved", "sla_breached"):
        values[name] = tuple(SlaOutcome(target, cycle, moment(at)) for target, cycle, at in doc[name])
    return TicketMetrics(**values)
