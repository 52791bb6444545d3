"""Report items from rollup rows: ``summarise(rows, group_by, time)`` for
``GET /v1/reports/summary``, ``agents(rows, time)`` for agent performance,
``volume_by_hour(rows)`` for the staffing of peak hours. Rows are
``(day, key, Measures)`` of one dimension, as the storage reads them.
Plain Python. How each figure is read: docs/reports.md, "Definitions".
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Callable, Iterable, Mapping

from .rollups import BOUNDS, NONE, Measures, Sum, created_of

BY_DATE = ("day", "week", "month")
TIMES = ("business", "calendar")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # ISO order: a week starts on Monday
Row = tuple[date, str, "Measures | Mapping[str, Any]"]  # measures, or a row as stored (``to_row``)


def week_of(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def month_of(day: date) -> date:
    return day.replace(day=1)


_PERIOD: dict[str, Callable[[date], date]] = {"day": lambda day: day, "week": week_of, "month": month_of}


def summarise(rows: Iterable[Row], group_by: str, time: str = "business") -> list[dict[str, Any]]:
    """One item per group: by date (``day``, ``week``: its Monday, ``month``: its
    first day; ISO strings, in order) or by the rows' keys (``None`` for none:
    no agent, no team, no topic; in key order, ``None`` last)."""
    if time not in TIMES:
        raise ValueError(f"time is one of {TIMES}, not {time!r}")
    groups = _grouped(rows, group_by)
    if group_by in BY_DATE:
        return [item(day.isoformat(), groups[day], time) for day in sorted(groups)]
    return [item(key or None, groups[key], time) for key in sorted(groups, key=lambda k: (k == NONE, k))]


def _grouped(rows: Iterable[Row], group_by: str) -> dict[Any, Measures]:
    period = _PERIOD.get(group_by)
    groups: dict[Any, Sum] = {}
    for day, key, measures in rows:
        group = period(day) if period else key
        if group not in groups:
            groups[group] = Sum()
        groups[group].add(measures)
    return {group: running.total() for group, running in groups.items()}


def item(key: str | None, m: Measures, time: str = "business") -> dict[str, Any]:
    """The figures of one group's summed measures."""
    business = time == "business"
    return {
        "key": key, "created": m.created, "solved": m.solved, "reopened": m.reopened,
        "first_response": minutes(m.first_response_business_minutes if business else m.first_response_minutes),
        "resolution": minutes(m.resolution_business_minutes if business else m.resolution_minutes),
        "fcr_rate": rate(m.fcr, m.first_solved), "one_touch_rate": rate(m.one_touch, m.first_solved),
        "csat": csat(m),
        "sla": {"achieved_rate": rate(m.sla_achieved, m.sla_achieved + m.sla_breached),
                "achieved": m.sla_achieved, "breached": m.sla_breached},
    }


def minutes(histogram: tuple[int, ...]) -> dict[str, Any]:
    return {"median_minutes": quantile(histogram, 1, 2), "p90_minutes": quantile(histogram, 9, 10),
            "count": sum(histogram)}


def quantile(histogram: tuple[int, ...], numerator: int, denominator: int) -> int | None:
    """The nearest-rank quantile (the value at rank ceil(q * n) in ascending
    order), read as its bucket's upper bound; past the last bound, the last
    bound (a year). None when the histogram is empty."""
    n = sum(histogram)
    if n == 0:
        return None
    rank, seen = -(-n * numerator // denominator), 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return BOUNDS[min(index, len(BOUNDS) - 1)]
    raise AssertionError("the ranks add up to the count")


def rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def csat(m: Measures) -> dict[str, Any]:
    count = m.csat_count
    return {"average": None if count == 0 else round(m.csat_sum / count, 2), "count": count,
            "distribution": {str(score): n for score, n in enumerate(m.csat_distribution, 1)}}


def agents(rows: Iterable[Row], time: str = "business") -> list[dict[str, Any]]:
    """Agent performance from the ``agent`` rows: per agent, the tickets they
    hold that were solved (``handled``), the public replies they wrote, their
    first responses, CSAT and first-contact resolution; by agent id."""
    groups = _grouped(rows, "agent")
    out = []
    for agent_id in sorted(k for k in groups if k != NONE):
        figures = item(agent_id, groups[agent_id], time)
        out.append({"agent_id": agent_id, "handled": figures["solved"], "replies": groups[agent_id].replies,
                    "first_response": figures["first_response"], "csat": figures["csat"],
                    "fcr_rate": figures["fcr_rate"], "one_touch_rate": figures["one_touch_rate"]})
    return out


def volume_by_hour(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Tickets opened in each hour of each weekday (the store's local time),
    from the ``hour`` rows: 168 cells, Monday 00 first."""
    cells = {(weekday, hour): 0 for weekday in range(7) for hour in range(24)}
    for day, key, measures in rows:
        cells[(day.weekday(), int(key))] += created_of(measures)
    return [{"weekday": WEEKDAYS[weekday], "hour": hour, "created": created}
            for (weekday, hour), created in sorted(cells.items())]
