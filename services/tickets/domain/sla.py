"""A ticket's SLA, computed from its history: ``sla_state(policy, version,
events, now)``. Two steps, both plain Python:

- ``fold_history(events)`` (sla_history.py): what the events say whatever the
  policy. A fold, so it goes on from a stored history one event at a time;
- ``state_of(policy, version, history, now)``: the targets of the ticket's
  current priority measured on the policy's business calendar
  (calendar.py), and ``due_moments(state)``, what a timer must fire.

So the same history under a changed policy gives the new deadlines, and a
rebuild gives exactly the live state. The rules are in
docs/agent-operations/sla.md, "The clock".
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Iterable

from seedwork.instants import iso_or_none

from seedwork.business_calendar import MINUTE_US, BusinessCalendar, calendar_of, from_us, to_us
from .sla_history import BREACHED, DONE, WARNING, SlaHistory, evolve_history, fold_history, history_from_dict
from .sla_policy import DEFAULT_POLICY, KINDS, clean_policy

__all__ = [  # the names the service layer uses, whichever module of the domain defines them
    "DEFAULT_POLICY", "KINDS", "BusinessCalendar", "SlaHistory", "SlaState", "SlaTarget", "calendar_of",
    "clean_policy", "due_moments", "evolve_history", "fold_history", "history_from_dict", "sla_state", "state_of",
]

# --- the state: the history measured against a policy --------------------------------------


@dataclass(frozen=True)
class SlaTarget:
    kind: str  # first_response | next_response | resolution
    cycle: int
    target_minutes: int
    started_at: datetime
    used_minutes: float  # business minutes used up to the state's as_of (or up to met_at)
    due_at: datetime | None  # when it is due if it keeps running: None when met, paused or stopped
    met_at: datetime | None
    paused: bool  # not met, and the status is one the policy pauses in
    running: bool  # not met, and its clock advances
    breached: bool
    warning_at: datetime | None  # due_at less the policy's warning minutes, never before running_since
    running_since: datetime | None = None  # when its clock last started running, while it runs

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "cycle": self.cycle, "due_at": iso_or_none(self.due_at),
                "met_at": iso_or_none(self.met_at), "breached": self.breached, "paused": self.paused,
                "target_minutes": self.target_minutes, "used_minutes": round(self.used_minutes, 4),
                "warning_at": iso_or_none(self.warning_at)}


@dataclass(frozen=True)
class SlaState:
    policy_version: int
    paused: bool  # something would run but the status pauses it
    targets: tuple[SlaTarget, ...]
    emitted: frozenset[tuple[str, int, str]] = frozenset()
    as_of: datetime | None = None  # the moment used_minutes and breached are measured at

    def target(self, kind: str) -> SlaTarget | None:
        return next((t for t in self.targets if t.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        return {"policy_version": self.policy_version, "paused": self.paused,
                "targets": [target.to_dict() for target in self.targets]}


def sla_state(policy: dict, policy_version: int, events: Iterable[Any], now: datetime | None = None) -> SlaState:
    """The SLA of the ticket whose stored events are ``events`` (in order), under
    a cleaned ``policy``; measured at ``now`` if given, else at the last event."""
    return state_of(policy, policy_version, fold_history(events), now)


def state_of(policy: dict, policy_version: int, history: SlaHistory, now: datetime | None = None,
             calendar: BusinessCalendar | None = None) -> SlaState:
    """``history`` measured against ``policy``: at ``now`` (never before the last
    event: a replica's clock a little behind counts as the last event's moment),
    else at the last event."""
    if history.opened_at is None:
        raise ValueError("no ticket.opened in the history")
    as_of = to_us(history.last_event_at) if now is None else max(to_us(now), to_us(history.last_event_at))
    clock = _Clock(calendar or calendar_of(policy), frozenset(policy["pause_on"]), history, as_of,
                   tuple((to_us(since), status) for since, status in history.statuses))
    goals = policy["targets"].get(history.priority) or {}
    warning = policy["warning_minutes"]
    measured = (("first_response", 1, history.opened_at, history.first_response_at),
                ("next_response", history.cycle, history.cycle_started_at, history.cycle_met_at),
                ("resolution", 1, history.opened_at, _resolved_at(history.statuses)))
    targets = []
    for kind, cycle, started_at, met_at in measured:
        minutes = goals.get(f"{kind}_minutes")
        if started_at is None or minutes is None:
            continue
        target = clock.target(kind, cycle, minutes, started_at, met_at)
        if target.due_at is not None and warning is not None:
            due = target.due_at
            target = replace(target, warning_at=max(due - timedelta(minutes=warning), min(target.running_since, due)))
        targets.append(target)
    return SlaState(policy_version=policy_version, paused=any(t.paused for t in targets), targets=tuple(targets),
                    emitted=history.emitted, as_of=from_us(as_of))


def _resolved_at(statuses: tuple[tuple[datetime, str], ...]) -> datetime | None:
    """When the ticket became solved or closed, if it still is (a reopen clears it)."""
    resolved = None
    for since, status in reversed(statuses):
        if status not in DONE:
            break
        resolved = since
    return resolved


@dataclass(frozen=True)
class _Clock:
    calendar: BusinessCalendar
    pause_on: frozenset[str]
    history: SlaHistory
    as_of: int  # UTC microseconds, as every moment below
    marks: tuple[tuple[int, str], ...]  # the history's statuses: (since, status)

    def runs_in(self, status: str) -> bool:
        return status not in self.pause_on and status not in DONE

    def target(self, kind: str, cycle: int, minutes: int, started_at: datetime, met_at: datetime | None):
        cal, status = self.calendar, self.history.status
        start = to_us(started_at)
        stop = to_us(met_at) if met_at is not None else self.as_of
        running = met_at is None and self.runs_in(status)
        spans = self.spans(start, stop)  # when the clock ran; the last one still open if running
        used = [cal.between_us(a, b) for a, b in spans]
        goal, before, reached = minutes * MINUTE_US, 0, None
        for (a, _), amount in zip(spans, used):  # the moment the used minutes reached the target
            if before + amount >= goal:
                reached = cal.add_us(a, goal - before)
                break
            before += amount
        else:
            if running:  # if it keeps running: from the open span's start, with what it used before
                reached = cal.add_us(spans[-1][0], goal - before + used[-1])
        return SlaTarget(
            kind=kind, cycle=cycle, target_minutes=minutes, started_at=from_us(start),
            used_minutes=sum(used) / MINUTE_US, due_at=from_us(reached) if running else None,
            met_at=None if met_at is None else from_us(stop),
            paused=met_at is None and status in self.pause_on and status not in DONE, running=running,
            # Late: the target was reached before the response (or before now), or the timer said so.
            breached=(kind, cycle, BREACHED) in self.history.emitted or (reached is not None and reached < stop),
            warning_at=None, running_since=from_us(spans[-1][0]) if running else None)

    def spans(self, start: int, stop: int) -> list[tuple[int, int]]:
        """The stretches of ``[start, stop)`` spent in a status the clock runs in."""
        marks, spans = self.marks, []
        for n, (since, status) in enumerate(marks):
            last = n + 1 == len(marks)
            a, b = max(since, start), stop if last else min(marks[n + 1][0], stop)
            if not self.runs_in(status) or b < a or (b == a and not last):  # the open span may be empty yet
                continue
            if spans and spans[-1][1] == a:  # one status after another that both run: one span
                a = spans.pop()[0]
            spans.append((a, b))
        return spans


def due_moments(state: SlaState) -> list[tuple[datetime, str, str, int]]:
    """What a timer must fire for the running targets, in order:
    ``(moment, "sla.warning" | "sla.breached", kind, cycle)``; none already
    emitted, and no warning once a target is breached."""
    moments = []
    for t in state.targets:
        if t.due_at is None:
            continue
        if (t.warning_at is not None and not t.breached
                and not {(t.kind, t.cycle, WARNING), (t.kind, t.cycle, BREACHED)} & state.emitted):
            moments.append((t.warning_at, WARNING, t.kind, t.cycle))
        if (t.kind, t.cycle, BREACHED) not in state.emitted:
            moments.append((t.due_at, BREACHED, t.kind, t.cycle))
    return sorted(moments, key=lambda m: (m[0], m[1] == BREACHED, KINDS.index(m[2])))
