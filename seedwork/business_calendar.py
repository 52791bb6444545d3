"""Business time: ``BusinessCalendar(policy)`` counts the minutes a store is
open, in its time zone, with its weekly hours and its holidays, and finds the
moment a number of such minutes has passed. Plain Python (zoneinfo for the
time zones). See docs/agent-operations/sla.md, "The clock".

How it counts. Each local day has its business intervals: the weekly ones of
its weekday, none on a holiday. A local wall time becomes the first UTC
instant whose local time is at or after it, so an interval is the real time
that elapses between its two wall times (09:00-17:00 is 8 hours on the day a
clock changes too, and an hour the clock skips is never open). The calendar
keeps, for a run of days, the UTC moment each day starts and the business
time before it (a prefix sum, in integer microseconds): ``minutes_between``
is two lookups and ``add`` a binary search, however far the answer is. The
run grows on demand, doubling, and each day is worked out once.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# The SLA policy of a store that never set one: the tickets service times its
# tickets by it and the reports count by it, so it is written once, here.
DEFAULT_TIME_ZONE = "Asia/Riyadh"
DEFAULT_BUSINESS_HOURS = tuple({"day": day, "from": "09:00", "to": "17:00"}
                               for day in ("sun", "mon", "tue", "wed", "thu"))
DEFAULT_TARGETS = {  # business minutes: first response, next response, resolution
    "urgent": (30, 60, 240),
    "high": (60, 120, 480),
    "normal": (240, 480, 1440),
    "low": (480, 1440, 2880),
}
DEFAULT_PAUSE_ON = ("pending", "on_hold")
DEFAULT_WARNING_MINUTES = 60
MINUTE_US = 60_000_000  # a minute in microseconds: business time is counted in whole microseconds
UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_DAY = timedelta(days=1)
_FIRST_RUN = 64  # days the first run covers on each side of the first day asked about
_HORIZON = timedelta(days=366 * 300)  # no answer this far away: the calendar has no business time left


def clock_minutes(value: str) -> int:
    """``"09:30"`` as minutes after midnight (``"24:00"`` is 1440)."""
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def to_us(moment: datetime) -> int:
    """An aware moment as whole microseconds since 1970 (UTC); a naive one is a ``TypeError``."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise TypeError(f"an aware datetime is needed, not {moment!r}")
    return (moment - _EPOCH) // _US


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def minutes_us(minutes: int | float) -> int:
    """Minutes (a whole or fractional number >= 0) as whole microseconds."""
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)):
        raise TypeError(f"minutes must be a number, not {minutes!r}")
    if not math.isfinite(minutes) or minutes < 0:
        raise ValueError(f"minutes must be a finite number >= 0, not {minutes!r}")
    return minutes * MINUTE_US if isinstance(minutes, int) else round(minutes * MINUTE_US)


@dataclass(frozen=True)
class _Run:
    """Days ``first .. first + len(opens) - 1``: ``starts[i]`` is the UTC microsecond
    day i starts (one more for the end of the last), ``before[i]`` the business
    time from a fixed origin to ``starts[i]``, ``opens[i]`` day i's intervals."""

    first: date
    starts: tuple[int, ...]
    before: tuple[int, ...]
    opens: tuple[tuple[tuple[int, int], ...], ...]

    @property
    def end(self) -> date:  # the first day after the run
        return self.first + timedelta(days=len(self.opens))


class BusinessCalendar:
    """The business time of a cleaned SLA policy (``time_zone``,
    ``business_hours``, ``holidays``; see ``sla_policy.clean_policy``).
    Safe to share: its cache is replaced whole, never changed in place."""

    def __init__(self, policy: dict):
        self.time_zone = ZoneInfo(policy["time_zone"])
        hours = policy["business_hours"] or [{"day": day, "from": "00:00", "to": "24:00"} for day in DAYS]
        weekly: list[list[tuple[int, int]]] = [[] for _ in range(7)]  # by date.weekday(): Monday is 0
        for interval in hours:
            weekly[(DAYS.index(interval["day"]) + 6) % 7].append(
                (clock_minutes(interval["from"]), clock_minutes(interval["to"])))
        self._weekly = tuple(tuple(_merged(sorted(day))) for day in weekly)
        holidays = _merged(sorted((date.fromisoformat(h["from"]), date.fromisoformat(h["to"]) + _DAY)
                                  for h in policy["holidays"]))
        self._holiday_starts = tuple(start for start, _ in holidays)
        self._holiday_ends = tuple(end for _, end in holidays)  # exclusive
        self._run: _Run | None = None

    # --- the two questions ------------------------------------------------------------

    def add(self, start: datetime, minutes: int | float) -> datetime:
        """The UTC moment ``minutes`` business minutes after ``start``: the first
        moment they have all passed (an interval's closing time if they end
        there). Outside business hours the count begins at the next opening;
        ``add(start, 0)`` is ``start``."""
        return from_us(self.add_us(to_us(start), minutes_us(minutes)))

    def minutes_between(self, a: datetime, b: datetime) -> float:
        """Business minutes in ``[a, b)``; 0 if ``b <= a``."""
        return self.between_us(to_us(a), to_us(b)) / MINUTE_US

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in a business interval."""
        us = to_us(moment)
        run, day = self._locate(us)
        return any(start <= us < end for start, end in run.opens[day])

    # --- the same in microseconds (what sla.py uses) --------------------------------------

    def between_us(self, a: int, b: int) -> int:
        return self.position(b) - self.position(a) if b > a else 0

    def add_us(self, start: int, amount: int) -> int:
        if amount <= 0:
            return start
        wanted = self.position(start) + amount
        run = self._run
        while run.before[-1] < wanted:
            if run.end - run.first > _HORIZON:
                raise ValueError("the calendar has no business time left")
            run = self._cover(run.end, run.end + timedelta(days=len(run.opens)))
        day = bisect_left(run.before, wanted) - 1  # before[day] < wanted <= before[day + 1]
        left = wanted - run.before[day]
        for open_at, close_at in run.opens[day]:
            if left <= close_at - open_at:
                return open_at + left
            left -= close_at - open_at
        raise AssertionError("a day's intervals add up to its business time")

    def position(self, us: int) -> int:
        """Business time from the calendar's fixed origin to ``us``: only differences mean anything."""
        run, day = self._locate(us)
        return run.before[day] + sum(min(max(us - start, 0), end - start) for start, end in run.opens[day])

    # --- days ---------------------------------------------------------------------------

    def _locate(self, us: int) -> tuple[_Run, int]:
        """The run holding ``us``, and the index of its day there."""
        run = self._run
        if run is None or not run.starts[0] <= us < run.starts[-1]:
            local = from_us(us).astimezone(self.time_zone).date()
            run = self._cover(local - _DAY, local + _DAY)
        return run, bisect_right(run.starts, us) - 1

    def _cover(self, first: date, last: date) -> _Run:
        """The run of days, grown (at least doubled) to hold ``first .. last``."""
        run = self._run
        if run is not None and run.first <= first and last < run.end:
            return run
        if run is None:
            begin, end = first - timedelta(days=_FIRST_RUN), last + timedelta(days=_FIRST_RUN + 1)
            days = [self._day(begin + timedelta(days=n)) for n in range((end - begin).days)]
            origin_day, origin = 0, 0
        else:
            size = timedelta(days=len(run.opens))
            begin = min(first, run.first - size) if first < run.first else run.first
            end = max(last + _DAY, run.end + size) if last >= run.end else run.end
            earlier = [self._day(begin + timedelta(days=n)) for n in range((run.first - begin).days)]
            later = [self._day(run.end + timedelta(days=n)) for n in range((end - run.end).days)]
            days = earlier + list(zip(run.starts, run.opens)) + later
            origin_day, origin = len(earlier), run.before[0]
        totals = [0]
        for _, opens in days:
            totals.append(totals[-1] + sum(close_at - open_at for open_at, close_at in opens))
        shift = origin - totals[origin_day]
        run = _Run(first=begin, starts=tuple(start for start, _ in days) + (self._wall(end, 0),),
                   before=tuple(total + shift for total in totals), opens=tuple(opens for _, opens in days))
        self._run = run
        return run

    def _day(self, day: date) -> tuple[int, tuple[tuple[int, int], ...]]:
        """When ``day`` starts, and its business intervals (UTC microseconds)."""
        n = bisect_right(self._holiday_starts, day) - 1
        holiday = n >= 0 and day < self._holiday_ends[n]
        weekly = () if holiday else self._weekly[day.weekday()]
        opens = tuple((a, b) for a, b in ((self._wall(day, s), self._wall(day, e)) for s, e in weekly) if b > a)
        return self._wall(day, 0), opens

    def _wall(self, day: date, minute: int) -> int:
        """The first UTC microsecond whose local time is at or after ``minute`` past ``day``'s midnight."""
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)
        us = to_us(wall.replace(tzinfo=self.time_zone))
        if self._local(us) == wall:
            return us
        # The clock skips this time: the answer is the moment it jumps over it.
        low, high = to_us(wall.replace(tzinfo=self.time_zone, fold=1)), us
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if self._local(middle) >= wall else (middle, high)
        return high

    def _local(self, us: int) -> datetime:
        return from_us(us).astimezone(self.time_zone).replace(tzinfo=None)


def _merged(intervals) -> list:
    """Sorted ``(start, end)`` pairs with those that touch or overlap joined."""
    merged: list = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def default_policy() -> dict:
    """The default SLA policy in its clean form (what ``clean_policy({})`` of the tickets service gives)."""
    kinds = ("first_response_minutes", "next_response_minutes", "resolution_minutes")
    return {"time_zone": DEFAULT_TIME_ZONE, "business_hours": [dict(i) for i in DEFAULT_BUSINESS_HOURS],
            "holidays": [], "pause_on": list(DEFAULT_PAUSE_ON),
            "targets": {priority: dict(zip(kinds, minutes)) for priority, minutes in DEFAULT_TARGETS.items()},
            "warning_minutes": DEFAULT_WARNING_MINUTES}


def calendar_of(policy: dict) -> BusinessCalendar:
    """The calendar of a cleaned policy, shared between calls with the same hours."""
    return _calendar(policy["time_zone"],
                     tuple((h["day"], h["from"], h["to"]) for h in policy["business_hours"]),
                     tuple((h["from"], h["to"]) for h in policy["holidays"]))


@lru_cache(maxsize=64)
def _calendar(time_zone: str, hours: tuple, holidays: tuple) -> BusinessCalendar:
    return BusinessCalendar({"time_zone": time_zone,
                             "business_hours": [{"day": d, "from": f, "to": t} for d, f, t in hours],
                             "holidays": [{"from": f, "to": t} for f, t in holidays]})
