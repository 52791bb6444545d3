"""Staff online by hour of the week (seed 002: staff the peak hours).
Plain Python.

The input is each agent's availability changes (``agent.profile_updated``:
when, and ``online``, ``away`` or ``offline`` after it), oldest first, plus
the availability each agent had when the period began. ``online_by_hour``
answers, for each weekday and local hour, how many agents were online on
average over the period's days: an agent online for the whole of Monday
09:00-10:00 on two of the period's two Mondays counts 1.0, on one of them 0.5.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)

Change = tuple[str, datetime, str]  # (agent id, when, availability after it)


def online_by_hour(changes: Iterable[Change], before: Mapping[str, str], start: date, end: date,
                   time_zone: str, now: datetime) -> dict[tuple[int, int], float]:
    """``{(weekday 0=Monday, hour): average agents online}`` over the local
    days ``start``..``end`` (cut at ``now``: the future has no one online)."""
    zone = ZoneInfo(time_zone)
    begin = datetime.combine(start, time(), zone)
    finish = min(datetime.combine(end + timedelta(days=1), time(), zone), now.astimezone(zone))
    seconds: dict[tuple[int, int], float] = {}
    for spans in _online_spans(changes, before, begin, finish).values():
        for span_start, span_end in spans:
            _spread(seconds, span_start.astimezone(zone), span_end.astimezone(zone), zone)
    days = _weekday_counts(start, end)
    return {(weekday, hour): round(seconds.get((weekday, hour), 0.0) / 3600 / days[weekday], 4)
            if days[weekday] else 0.0 for weekday in range(7) for hour in range(24)}


def _online_spans(changes: Iterable[Change], before: Mapping[str, str], begin: datetime,
                  finish: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each agent's online intervals within [begin, finish)."""
    state = dict(before)
    since = {agent: begin for agent, availability in state.items() if availability == "online"}
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for agent_id, at, availability in sorted(changes, key=lambda c: (c[1], c[0])):
        at = min(max(at, begin), finish)
        was_online = state.get(agent_id) == "online"
        state[agent_id] = availability
        if was_online and availability != "online":
            spans.setdefault(agent_id, []).append((since.pop(agent_id), at))
        elif not was_online and availability == "online":
            since[agent_id] = at
    for agent_id, started in since.items():
        spans.setdefault(agent_id, []).append((started, finish))
    return {agent: [(a, b) for a, b in found if b > a] for agent, found in spans.items()}


def _spread(seconds: dict, start: datetime, end: datetime, zone: ZoneInfo) -> None:
    """Adds the interval's seconds to the (weekday, local hour) cells it covers."""
    cursor = start
    while cursor < end:
        hour_start = cursor.replace(minute=0, second=0, microsecond=0)
        # The next local hour, in real time (a clock change makes an hour 0 or 2 long: count what elapsed).
        next_hour = (hour_start.astimezone(ZoneInfo("UTC")) + HOUR).astimezone(zone)
        piece_end = min(end, next_hour)
        key = (cursor.weekday(), cursor.hour)
        seconds[key] = seconds.get(key, 0.0) + (piece_end - cursor).total_seconds()
        cursor = piece_end


def _weekday_counts(start: date, end: date) -> list[int]:
    counts = [0] * 7
    day = start
    while day <= end:
        counts[day.weekday()] += 1
        day += timedelta(days=1)
    return counts
