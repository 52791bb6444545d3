"""What a report is asked for: the period, the grouping and the kind of
minutes. Plain Python; the gateway has already checked the types.

``from`` and ``to`` are dates in the store's time zone, both included
(the rollups' days are the store's); without them, the last 30 days up to
today. A period is at most ``MOST_DAYS`` long.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from seedwork.errors import InvalidCommand

GROUPINGS = ("agent", "team", "topic", "type", "tag", "channel", "product", "reason", "day", "week", "month")
BY_DATE = ("day", "week", "month")  # the "all" rollups, grouped by their day
# What an agent who sees only their own figures may group them by.
OWN_GROUPINGS = ("agent", *BY_DATE)
TIMES = ("business", "calendar")
DEFAULT_DAYS = 30
MOST_DAYS = 732  # two years, leap days included


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    start: date
    end: date
    group_by: str
    time: str


def period(raw: dict[str, Any], today: date) -> tuple[date, date]:
    end = _date(raw.get("to"), "to") or today
    start = _date(raw.get("from"), "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidCommand.field("from", "must not be after to")
    if (end - start).days + 1 > MOST_DAYS:
        raise InvalidCommand.field("from", f"a period is at most {MOST_DAYS} days")
    return start, end


def summary_query(raw: dict[str, Any], today: date) -> SummaryQuery:
    start, end = period(raw, today)
    group_by = raw.get("group_by") or "day"
    if group_by not in GROUPINGS:
        raise InvalidCommand.field("group_by", f"one of {', '.join(GROUPINGS)}")
    time = raw.get("time") or "business"
    if time not in TIMES:
        raise InvalidCommand.field("time", f"one of {', '.join(TIMES)}")
    return SummaryQuery(start, end, group_by, time)


def dimension_of(group_by: str) -> str:
    """The rollup dimension a grouping reads."""
    return "all" if group_by in BY_DATE else group_by


def _date(value: Any, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidCommand.field(name, "a date, YYYY-MM-DD") from None


DEFAULT_LIMIT, MOST_LIMIT = 20, 100


def limit(raw: dict[str, Any]) -> int:
    value = raw.get("limit")
    if value is None or value == "":
        return DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MOST_LIMIT:
        raise InvalidCommand.field("limit", f"a whole number from 1 to {MOST_LIMIT}")
    return value


def per_order_sold(tickets: dict[str, int], sold: dict[str, int], most: int) -> list[dict[str, Any]]:
    """Products by tickets per order sold, the most first (a product with
    tickets and no order placed in the period last, by its tickets)."""
    items = [{"product": product, "tickets": count, "orders": sold.get(product, 0),
              "tickets_per_order": round(count / sold[product], 4) if sold.get(product) else None}
             for product, count in tickets.items() if count > 0]
    items.sort(key=lambda i: (i["tickets_per_order"] is None, -(i["tickets_per_order"] or 0), -i["tickets"],
                              i["product"]))
    return items[:most]
