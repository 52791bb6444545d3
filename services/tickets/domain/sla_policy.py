"""A store's SLA policy: what ``PUT /v1/settings/sla`` may say, checked and
normalised by ``clean_policy``, and the defaults of what it leaves out.
Plain Python. See docs/agent-operations/sla.md, "The policy".
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from seedwork.errors import InvalidCommand

from seedwork.business_calendar import (DAYS, DEFAULT_BUSINESS_HOURS, DEFAULT_PAUSE_ON, DEFAULT_TARGETS,
                                       DEFAULT_TIME_ZONE, DEFAULT_WARNING_MINUTES, clock_minutes)
from .fields import PRIORITIES, STATUSES
from .fields import echo as _echo

KINDS = ("first_response", "next_response", "resolution")
TARGET_FIELDS = tuple(f"{kind}_minutes" for kind in KINDS)
PAUSABLE = ("pending", "on_hold", "under_review")  # the statuses a policy may pause the clock in
MINUTES_MAX = 525_600  # a year
HOLIDAYS_MAX = 200
INTERVALS_MAX = 70  # ten a day
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2100, 12, 31)
_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ZONE_MAX = 64
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})  # files in the zone database, not places

# A store that never set a policy works Sunday to Thursday, 09:00-17:00, in Riyadh,
# with the targets, pauses and warning of seedwork.business_calendar (the reports count by them too).
DEFAULT_HOURS = DEFAULT_BUSINESS_HOURS


def clean_policy(raw: dict) -> dict:
    """The body of ``PUT /v1/settings/sla``, checked: the whole policy with every
    key present, what was left out at its default, business hours sorted by day
    then time, holidays by date. Raises ``InvalidCommand`` naming the field
    (``business_hours[2].from``, ``targets.high.first_response_minutes``)."""
    if not isinstance(raw, dict):
        raise InvalidCommand.field("policy", "must be an object")
    _known(raw, ("time_zone", "business_hours", "holidays", "pause_on", "targets", "warning_minutes"), "")
    return {
        "time_zone": _time_zone(raw.get("time_zone", DEFAULT_TIME_ZONE)),
        "business_hours": _hours(raw["business_hours"]) if "business_hours" in raw else
        [dict(interval) for interval in DEFAULT_HOURS],
        "holidays": _holidays(raw.get("holidays", [])),
        "pause_on": _pause_on(raw.get("pause_on", list(DEFAULT_PAUSE_ON))),
        "targets": _targets(raw.get("targets", {})),
        "warning_minutes": _minutes(raw.get("warning_minutes", DEFAULT_WARNING_MINUTES), "warning_minutes"),
    }


def _known(value: dict, keys: tuple[str, ...], where: str) -> None:
    for key in value:
        if key not in keys:
            raise InvalidCommand.field(f"{where}{_echo(key)}", f"unknown field; use {', '.join(keys)}")


def _list(value: Any, name: str, most: int) -> list:
    if not isinstance(value, list):
        raise InvalidCommand.field(name, "must be a list")
    if len(value) > most:
        raise InvalidCommand.field(name, f"at most {most} entries")
    return value


def _object(value: Any, name: str, keys: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise InvalidCommand.field(name, "must be an object")
    _known(value, keys, f"{name}.")
    for key in keys:
        if key not in value:
            raise InvalidCommand.field(f"{name}.{key}", "is required")
    return value


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def _time_zone(value: Any) -> str:
    if not isinstance(value, str) or len(value) > _ZONE_MAX or value not in _zones():
        raise InvalidCommand.field("time_zone", "must be an IANA time zone name such as Asia/Riyadh or UTC")
    return value


def _hours(value: Any) -> list[dict]:
    hours = []
    for n, item in enumerate(_list(value, "business_hours", INTERVALS_MAX)):
        name = f"business_hours[{n}]"
        item = _object(item, name, ("day", "from", "to"))
        if item["day"] not in DAYS:
            raise InvalidCommand.field(f"{name}.day", f"must be one of {', '.join(DAYS)}")
        start, end = item["from"], item["to"]
        if not isinstance(start, str) or not _TIME.fullmatch(start) or start == "24:00":
            raise InvalidCommand.field(f"{name}.from", "must be a time HH:MM from 00:00 to 23:59")
        if not isinstance(end, str) or not _TIME.fullmatch(end):
            raise InvalidCommand.field(f"{name}.to", "must be a time HH:MM from 00:01 to 24:00")
        if clock_minutes(end) <= clock_minutes(start):
            raise InvalidCommand.field(f"{name}.to", "must be after from (split a night shift at 24:00)")
        hours.append((DAYS.index(item["day"]), clock_minutes(start), clock_minutes(end), n))
    hours.sort()
    for (day, _, end, _), (next_day, start, _, n) in zip(hours, hours[1:]):
        if day == next_day and start < end:
            raise InvalidCommand.field(f"business_hours[{n}].from", "overlaps another interval of the same day")
    return [{"day": DAYS[day], "from": _clock(start), "to": _clock(end)} for day, start, end, _ in hours]


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _date(value: Any, name: str) -> date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if FIRST_DATE <= day <= LAST_DATE:
                return day
    raise InvalidCommand.field(name, f"must be a date YYYY-MM-DD from {FIRST_DATE} to {LAST_DATE}")


def _holidays(value: Any) -> list[dict]:
    holidays = []
    for n, item in enumerate(_list(value, "holidays", HOLIDAYS_MAX)):
        item = _object(item, f"holidays[{n}]", ("from", "to"))
        start, end = _date(item["from"], f"holidays[{n}].from"), _date(item["to"], f"holidays[{n}].to")
        if end < start:
            raise InvalidCommand.field(f"holidays[{n}].to", "must be on or after from")
        holidays.append((start, end))
    return [{"from": start.isoformat(), "to": end.isoformat()} for start, end in sorted(holidays)]


def _pause_on(value: Any) -> list[str]:
    for n, status in enumerate(_list(value, "pause_on", len(STATUSES))):
        if status not in PAUSABLE:
            raise InvalidCommand.field(f"pause_on[{n}]", f"must be one of {', '.join(PAUSABLE)}")
    return [status for status in PAUSABLE if status in value]


def _targets(value: Any) -> dict[str, dict[str, int | None]]:
    if not isinstance(value, dict):
        raise InvalidCommand.field("targets", "must be an object")
    _known(value, PRIORITIES[::-1], "targets.")
    targets = {}
    for priority in PRIORITIES[::-1]:  # urgent first
        defaults = dict(zip(TARGET_FIELDS, DEFAULT_TARGETS[priority]))
        given = value.get(priority, defaults)
        name = f"targets.{priority}"
        if given is None:  # no targets at all for this priority
            given = dict.fromkeys(TARGET_FIELDS)
        if not isinstance(given, dict):
            raise InvalidCommand.field(name, "must be an object or null")
        _known(given, TARGET_FIELDS, f"{name}.")
        targets[priority] = {
            field: _minutes(given.get(field, defaults[field]), f"{name}.{field}") for field in TARGET_FIELDS}
    return targets


def _minutes(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MINUTES_MAX:
        raise InvalidCommand.field(name, f"must be a whole number of minutes from 1 to {MINUTES_MAX}, or null")
    return value


DEFAULT_POLICY = clean_policy({})
