"""Daily rollups: what one ticket adds to the store's report rows.
``contributions(metrics, time_zone, products)`` is a dict
``{(day, dimension, key): Measures}``; a report row is the sum of the
contributions of every ticket, so when a ticket's metrics change, its old
contributions are subtracted and its new ones added. Plain Python.

Each fact is dated on the store's local day it happened (docs/reports.md,
"Definitions"), and the dimensions are the ticket's attributes as they are
now. Minutes are counted in histograms on fixed buckets (``BOUNDS``), so a
median over a year is read from a few hundred rows.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from .metrics import TicketMetrics

# Upper bounds in minutes, each bucket (previous bound, bound]: exactly 0; each minute up to an hour; then ten
# minutes to 2 h, half hours to 8 h, hours to a day, 4 h to 2 days, days to a week, then 14, 21, 30, 60, 90,
# 182.5 and 365 days. One more bucket holds what is longer than a year.
BOUNDS: tuple[int, ...] = (
    0, *range(1, 61), *range(70, 121, 10), *range(150, 481, 30), *range(540, 1441, 60), *range(1680, 2881, 240),
    *range(4320, 10081, 1440), 20160, 30240, 43200, 86400, 129600, 262800, 525600)
BUCKETS = len(BOUNDS) + 1
DIMENSIONS = ("all", "agent", "team", "topic", "type", "tag", "channel", "product", "reason", "hour", "term")
HISTOGRAMS = ("first_response_minutes", "first_response_business_minutes", "resolution_minutes",
              "resolution_business_minutes")
NONE = ""  # the key of "no agent", "no team", "no topic" (and of the dimension "all")


def bucket_of(minutes: float) -> int:
    """The index of the bucket holding ``minutes`` (>= 0): the first bound at or above it."""
    return bisect_left(BOUNDS, minutes)


def _empty() -> tuple[int, ...]:
    return (0,) * BUCKETS


@dataclass(frozen=True)
class Measures:
    """Counts and histograms of one report row; sums of tickets' contributions."""

    created: int = 0
    solved: int = 0  # tickets whose solve (the one they stay at) fell on the day
    first_solved: int = 0  # tickets first solved on the day: what fcr and one_touch are rates of
    fcr: int = 0
    one_touch: int = 0
    reopened: int = 0  # reopens
    merged: int = 0
    replies: int = 0  # public staff replies
    sla_achieved: int = 0
    sla_breached: int = 0
    csat_1: int = 0
    csat_2: int = 0
    csat_3: int = 0
    csat_4: int = 0
    csat_5: int = 0
    first_response_minutes: tuple[int, ...] = _empty()
    first_response_business_minutes: tuple[int, ...] = _empty()
    resolution_minutes: tuple[int, ...] = _empty()
    resolution_business_minutes: tuple[int, ...] = _empty()

    @property
    def csat_distribution(self) -> tuple[int, int, int, int, int]:
        return self.csat_1, self.csat_2, self.csat_3, self.csat_4, self.csat_5

    @property
    def csat_count(self) -> int:
        return sum(self.csat_distribution)

    @property
    def csat_sum(self) -> int:
        return sum(score * n for score, n in enumerate(self.csat_distribution, 1))

    def add(self, other: Measures) -> Measures:
        return self._combine(other, 1)

    def subtract(self, other: Measures) -> Measures:
        return self._combine(other, -1)

    def _combine(self, other: Measures, sign: int) -> Measures:
        values = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            values[f.name] = (tuple(a + sign * b for a, b in zip(mine, theirs)) if isinstance(mine, tuple)
                              else mine + sign * theirs)
        return Measures(**values)

    def is_empty(self) -> bool:
        return self == EMPTY

    def to_row(self) -> dict[str, Any]:
        """As JSON: the counts that are not 0, and each histogram that is not empty as a flat list
        ``[bucket, count, bucket, count, ...]`` (bucket indexes of ``BOUNDS``, ascending)."""
        row: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                pairs = [n for index, count in enumerate(value) if count for n in (index, count)]
                if pairs:
                    row[f.name] = pairs
            elif value:
                row[f.name] = value
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Measures:
        """What ``to_row`` wrote (``{}`` is empty measures)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in row:
                continue
            if f.name in HISTOGRAMS:
                histogram, pairs = [0] * BUCKETS, row[f.name]
                for index, count in zip(pairs[::2], pairs[1::2]):
                    histogram[index] += count
                values[f.name] = tuple(histogram)
            else:
                values[f.name] = int(row[f.name])
        return cls(**values)


EMPTY = Measures()


def _one_in(minutes: float) -> tuple[int, ...]:
    histogram = [0] * BUCKETS
    histogram[bucket_of(minutes)] = 1
    return tuple(histogram)


# --- one ticket's contributions ------------------------------------------------------------

Key = tuple[date, str, str]  # (the store's local day, dimension, key)


def contributions(metrics: TicketMetrics, time_zone: str, products: Iterable[str] = (),
                  terms: Iterable[str] = (), reasons: Iterable[str] = ()) -> dict[Key, Measures]:
    """What the ticket adds to the rollups of a store in ``time_zone``: each of
    its facts on the day it happened, under every key of the ticket (``all``,
    its agent, team, topic, type, each tag, channel, each of ``products``: its
    order's, each of ``reasons``: reasons.self_service_reasons); replies in the
    agent dimension go to the agent who wrote them.
    ``hour`` (key ``"00"``..``"23"``, the local hour it opened) and ``term``
    (each of ``terms``: keywords.opened_terms) hold only ``created``."""
    zone = ZoneInfo(time_zone)
    keys = ticket_keys(metrics, products, reasons)
    out: dict[Key, Measures] = {}
    for moment, measures in ticket_facts(metrics):
        _add(out, zone, moment, keys, measures)
    for reply in metrics.staff_reply_log:
        author = [("agent", reply.author_id or NONE)] if reply.author_kind == "agent" else []
        _add(out, zone, reply.at, [k for k in keys if k[0] != "agent"] + author, Measures(replies=1))
    opened = Measures(created=1)
    local_hour = f"{metrics.created_at.astimezone(zone).hour:02d}"
    _add(out, zone, metrics.created_at, [("hour", local_hour)] + [("term", t) for t in sorted(set(terms))], opened)
    return out


def ticket_keys(metrics: TicketMetrics, products: Iterable[str] = (),
                reasons: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The (dimension, key) pairs a ticket counts under, by its attributes now."""
    return [("all", NONE), ("agent", metrics.assignee_id or NONE), ("team", metrics.team or NONE),
            ("topic", metrics.topic_id or NONE), ("type", metrics.type), ("channel", metrics.channel),
            *(("tag", tag) for tag in sorted(set(metrics.tags))),
            *(("product", product) for product in sorted(set(products))),
            *(("reason", reason) for reason in sorted(set(reasons)))]


def ticket_facts(m: TicketMetrics) -> list[tuple[datetime, Measures]]:
    """Each fact of the ticket (but its replies) with the moment it happened."""
    facts = [(m.created_at, Measures(created=1))]
    if m.first_response_at is not None:
        facts.append((m.first_response_at, Measures(
            first_response_minutes=_one_in(m.first_response_minutes),
            first_response_business_minutes=_one_in(m.first_response_business_minutes))))
    if m.solved_at is not None:
        facts.append((m.solved_at, Measures(
            solved=1, resolution_minutes=_one_in(m.resolution_minutes),
            resolution_business_minutes=_one_in(m.resolution_business_minutes))))
    if m.first_solved_at is not None:
        facts.append((m.first_solved_at, Measures(first_solved=1, fcr=int(m.fcr), one_touch=int(m.one_touch))))
    facts += [(at, Measures(reopened=1)) for at in m.reopened_at]
    facts += [(o.at, Measures(sla_achieved=1)) for o in m.sla_achieved]
    facts += [(o.at, Measures(sla_breached=1)) for o in m.sla_breached]
    if m.csat_score is not None:
        facts.append((m.rated_at, replace(EMPTY, **{f"csat_{m.csat_score}": 1})))
    if m.merged_at is not None:
        facts.append((m.merged_at, Measures(merged=1)))
    return facts


def _add(out: dict[Key, Measures], zone: ZoneInfo, moment: datetime, keys: Iterable[tuple[str, str]],
         measures: Measures) -> None:
    day = moment.astimezone(zone).date()
    for dimension, key in keys:
        where = (day, dimension, key)
        out[where] = out[where].add(measures) if where in out else measures


# --- for the storage layer -------------------------------------------------------------------


def rows_of(contributions: Mapping[Key, Measures]) -> list[tuple[date, str, str, Measures]]:
    """The contributions as sorted rows ``(day, dimension, key, measures)``."""
    return [(day, dimension, key, measures) for (day, dimension, key), measures in sorted(contributions.items())]


def changes(old: Mapping[Key, Measures], new: Mapping[Key, Measures]) -> dict[Key, Measures]:
    """What moves the rollups from a ticket's ``old`` contributions to its ``new``
    ones: ``new - old`` per key, only where it is not nothing."""
    moved = {}
    for where in old.keys() | new.keys():
        delta = new.get(where, EMPTY).subtract(old.get(where, EMPTY))
        if not delta.is_empty():
            moved[where] = delta
    return moved


class Sum:
    """A running sum, in place: a report over a year adds thousands of rows,
    and a stored row (``to_row``'s form) is sparse, so adding it costs only
    what it holds. ``add`` takes a row as stored or ``Measures``."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.histograms: dict[str, list[int]] = {}

    def add(self, value: Measures | Mapping[str, Any]) -> Sum:
        row = value if isinstance(value, Mapping) else value.to_row()
        for name, amount in row.items():
            if name in HISTOGRAMS:
                histogram = self.histograms.setdefault(name, [0] * BUCKETS)
                for index, count in zip(amount[::2], amount[1::2]):
                    histogram[index] += count
            else:
                self.counts[name] = self.counts.get(name, 0) + amount
        return self

    def total(self) -> Measures:
        return Measures(**self.counts, **{name: tuple(h) for name, h in self.histograms.items()})


def created_of(value: Measures | Mapping[str, Any]) -> int:
    """The ``created`` count of a row as stored, or of ``Measures``."""
    return value.get("created", 0) if isinstance(value, Mapping) else value.created


def total(measures: Iterable[Measures]) -> Measures:
    result = EMPTY
    for m in measures:
        result = result.add(m)
    return result
