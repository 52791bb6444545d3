"""The business-hours clock (seedwork.business_calendar), told as stories
and then checked under random calendars: weekends, holidays, several
intervals a day, night shifts, around the clock, time zones and their clock
changes, a start outside business hours; the clock never moves backwards and
``add`` and ``minutes_between`` undo each other."""
from __future__ import annotations

import time as timer
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedwork.business_calendar import DAYS, BusinessCalendar, calendar_of
from services.tickets.domain.sla_policy import DEFAULT_POLICY, clean_policy

UTC = timezone.utc
RIYADH, BERLIN, NEW_YORK = ZoneInfo("Asia/Riyadh"), ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
WEEK = {"sun": "2026-03-01", "mon": "2026-03-02", "tue": "2026-03-03", "wed": "2026-03-04", "thu": "2026-03-05",
        "fri": "2026-03-06", "sat": "2026-03-07"}  # one week of March 2026, Sunday first


def at(when: str, zone=RIYADH) -> datetime:
    """``"thu 16:00"`` (that day of the week above) or ``"2026-03-05 16:00"``, in ``zone``."""
    day, clock = when.split()
    return datetime.fromisoformat(f"{WEEK.get(day, day)} {clock}").replace(tzinfo=zone)


def local(moment: datetime, zone=RIYADH) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M").lower()


def calendar(**policy) -> BusinessCalendar:
    return BusinessCalendar(clean_policy(policy))


def every_day(start: str, end: str) -> list[dict]:
    return [{"day": day, "from": start, "to": end} for day in DAYS]


DEFAULT = BusinessCalendar(DEFAULT_POLICY)  # Asia/Riyadh, Sunday to Thursday 09:00-17:00

# --- the default week ----------------------------------------------------------------------


def test_the_weekend_is_skipped_thursday_afternoon_plus_two_hours_is_sunday_morning():
    due = DEFAULT.add(at("thu 16:00"), 120)
    assert local(due) == "sun 2026-03-08 10:00"
    assert due.tzinfo is UTC and due == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert DEFAULT.minutes_between(at("thu 16:00"), due) == 120


def test_a_start_outside_business_hours_counts_from_the_next_opening():
    assert local(DEFAULT.add(at("fri 12:00"), 30)) == "sun 2026-03-08 09:30"  # the weekend
    assert local(DEFAULT.add(at("mon 07:15"), 30)) == "mon 2026-03-02 09:30"  # before opening
    assert local(DEFAULT.add(at("mon 19:00"), 30)) == "tue 2026-03-03 09:30"  # after closing
    assert local(DEFAULT.add(at("thu 17:00"), 1)) == "sun 2026-03-08 09:01"  # at the closing moment
    assert DEFAULT.minutes_between(at("fri 08:00"), at("sat 23:59")) == 0


def test_minutes_that_end_at_the_closing_time_are_due_then_not_at_the_next_opening():
    assert local(DEFAULT.add(at("sun 09:00"), 480)) == "sun 2026-03-01 17:00"
    assert local(DEFAULT.add(at("sun 09:00"), 481)) == "mon 2026-03-02 09:01"


def test_no_minutes_is_the_start_itself_and_fractions_of_a_minute_count():
    assert DEFAULT.add(at("fri 12:00"), 0) == at("fri 12:00")
    assert DEFAULT.add(at("sun 09:00"), 0.5) == at("sun 09:00:30")
    assert DEFAULT.minutes_between(at("sun 09:00"), at("sun 09:00:45")) == 0.75


def test_a_week_holds_forty_business_hours_and_the_range_is_half_open():
    assert DEFAULT.minutes_between(at("sun 00:00"), at("2026-03-08 00:00")) == 40 * 60
    assert DEFAULT.minutes_between(at("mon 10:00"), at("mon 10:00")) == 0
    assert DEFAULT.minutes_between(at("mon 12:00"), at("mon 10:00")) == 0  # backwards is nothing
    assert DEFAULT.is_open(at("mon 09:00")) and not DEFAULT.is_open(at("mon 17:00"))
    assert not DEFAULT.is_open(at("fri 12:00"))


def test_naive_moments_are_refused_and_minutes_must_be_a_number_from_zero():
    with pytest.raises(TypeError):
        DEFAULT.add(datetime(2026, 3, 1, 9), 10)
    with pytest.raises(TypeError):
        DEFAULT.minutes_between(at("mon 09:00"), datetime(2026, 3, 2, 10))
    with pytest.raises(ValueError):
        DEFAULT.add(at("mon 09:00"), -1)
    with pytest.raises(ValueError):
        DEFAULT.add(at("mon 09:00"), float("nan"))
    with pytest.raises(TypeError):
        DEFAULT.add(at("mon 09:00"), True)

# --- holidays ---------------------------------------------------------------------------


def test_a_holiday_range_is_skipped_both_ends_included():
    eid = calendar(holidays=[{"from": "2026-03-03", "to": "2026-03-04"}])  # Tuesday and Wednesday
    assert local(eid.add(at("mon 16:00"), 120)) == "thu 2026-03-05 10:00"
    assert eid.minutes_between(at("sun 00:00"), at("2026-03-08 00:00")) == 24 * 60
    assert not eid.is_open(at("wed 16:59"))


def test_holidays_are_dates_in_the_policys_time_zone():
    day_off = calendar(holidays=[{"from": "2026-03-02", "to": "2026-03-02"}])
    # Monday 2026-03-02 in Riyadh runs from Sunday 21:00 to Monday 21:00 UTC.
    assert day_off.minutes_between(datetime(2026, 3, 1, 21, tzinfo=UTC), datetime(2026, 3, 2, 21, tzinfo=UTC)) == 0
    assert local(day_off.add(at("sun 16:30"), 60)) == "tue 2026-03-03 09:30"


def test_overlapping_holidays_a_long_closure_and_one_across_the_new_year():
    closed = calendar(holidays=[{"from": "2026-12-20", "to": "2027-01-02"}, {"from": "2026-12-24", "to": "2026-12-26"},
                                {"from": "2027-01-03", "to": "2027-01-03"}])
    assert local(closed.add(at("2026-12-17 16:00"), 120)) == "mon 2027-01-04 10:00"


def test_a_big_target_jumps_across_years_of_days_quickly_and_exactly():
    started = timer.perf_counter()
    due = DEFAULT.add(at("sun 09:00"), 525_600)  # a year of minutes is 1,095 business days of 8 hours
    assert timer.perf_counter() - started < 1
    assert DEFAULT.minutes_between(at("sun 09:00"), due) == 525_600
    assert local(due) == "thu 2030-05-09 17:00"  # 219 weeks of five days: the Thursday of week 219, at closing
    many = timer.perf_counter()
    for n in range(2000):
        DEFAULT.add(at("sun 09:00") + timedelta(minutes=7 * n), 1440)
    assert timer.perf_counter() - many < 1  # the days are worked out once

# --- several intervals a day, night shifts, around the clock ------------------------------


def test_several_intervals_a_day_skip_the_gaps_between_them():
    split = calendar(business_hours=[{"day": "mon", "from": "13:00", "to": "17:00"},
                                     {"day": "mon", "from": "09:00", "to": "12:00"},
                                     {"day": "tue", "from": "20:00", "to": "22:00"}])
    assert local(split.add(at("mon 11:30"), 60)) == "mon 2026-03-02 13:30"
    assert local(split.add(at("mon 16:00"), 61)) == "tue 2026-03-03 20:01"
    assert split.minutes_between(at("mon 00:00"), at("wed 00:00")) == 9 * 60
    assert local(split.add(at("tue 22:00"), 1)) == "mon 2026-03-09 09:01"


def test_a_night_shift_split_at_midnight_runs_on_without_a_break():
    nights = calendar(business_hours=[{"day": "sat", "from": "22:00", "to": "24:00"},
                                      {"day": "sun", "from": "00:00", "to": "02:00"}])
    assert local(nights.add(at("sat 23:00"), 120)) == "sun 2026-03-08 01:00"
    assert nights.minutes_between(at("sat 21:00"), at("2026-03-08 03:00")) == 240


def test_no_business_hours_means_around_the_clock_and_holidays_still_close_it():
    always = calendar(time_zone="UTC", business_hours=[])
    start = datetime(2026, 3, 5, 16, 20, tzinfo=UTC)
    assert always.add(start, 3000) == start + timedelta(minutes=3000)
    assert always.minutes_between(start, start + timedelta(days=9)) == 9 * 1440
    closed_friday = calendar(time_zone="UTC", business_hours=[], holidays=[{"from": "2026-03-06", "to": "2026-03-06"}])
    assert closed_friday.add(start, 24 * 60) == datetime(2026, 3, 7, 16, 20, tzinfo=UTC)

# --- time zones and their clock changes -------------------------------------------------------


def test_the_same_moment_and_minutes_land_elsewhere_in_another_time_zone():
    moment = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 15:00 in Riyadh, 13:00 in Berlin
    berlin = calendar(time_zone="Europe/Berlin")
    assert local(DEFAULT.add(moment, 180)) == "tue 2026-03-03 10:00"
    assert local(berlin.add(moment, 180), BERLIN) == "mon 2026-03-02 16:00"
    assert DEFAULT.minutes_between(moment, moment + timedelta(hours=8)) == 120
    assert berlin.minutes_between(moment, moment + timedelta(hours=8)) == 240


def test_a_working_day_is_eight_hours_on_both_sides_of_a_clock_change():
    # Berlin moves its clocks forward on Sunday 29 March 2026 and back on Sunday 25 October.
    week = calendar(time_zone="Europe/Berlin", business_hours=[
        {"day": day, "from": "09:00", "to": "17:00"} for day in ("mon", "tue", "wed", "thu", "fri")])
    friday, monday = at("2026-03-27 09:00", BERLIN), at("2026-03-30 09:00", BERLIN)
    assert friday.astimezone(UTC).hour == 8 and monday.astimezone(UTC).hour == 7
    assert week.minutes_between(friday, friday + timedelta(hours=8)) == 480
    assert week.minutes_between(monday, monday + timedelta(hours=8)) == 480
    assert local(week.add(at("2026-03-27 16:00", BERLIN), 120), BERLIN) == "mon 2026-03-30 10:00"
    assert local(week.add(at("2026-10-23 16:00", BERLIN), 120), BERLIN) == "mon 2026-10-26 10:00"
    assert week.minutes_between(at("2026-10-19 00:00", BERLIN), at("2026-11-02 00:00", BERLIN)) == 80 * 60


def test_around_the_clock_a_spring_day_is_23_hours_and_an_autumn_one_25_and_a_skipped_hour_is_never_open():
    always = calendar(time_zone="Europe/Berlin", business_hours=[])
    assert always.minutes_between(at("2026-03-29 00:00", BERLIN), at("2026-03-30 00:00", BERLIN)) == 23 * 60
    assert always.minutes_between(at("2026-10-25 00:00", BERLIN), at("2026-10-26 00:00", BERLIN)) == 25 * 60
    small_hours = calendar(time_zone="Europe/Berlin", business_hours=every_day("02:00", "03:00"))
    assert small_hours.minutes_between(at("2026-03-29 00:00", BERLIN), at("2026-03-30 00:00", BERLIN)) == 0
    assert small_hours.minutes_between(at("2026-10-25 00:00", BERLIN), at("2026-10-26 00:00", BERLIN)) == 120
    # Opening at 02:30, a time that does not exist that night, opens when the clock jumps to 03:00.
    late = calendar(time_zone="Europe/Berlin", business_hours=every_day("02:30", "04:00"))
    assert late.minutes_between(at("2026-03-29 00:00", BERLIN), at("2026-03-30 00:00", BERLIN)) == 60
    assert local(late.add(at("2026-03-29 00:00", BERLIN), 1), BERLIN) == "sun 2026-03-29 03:01"


def test_a_zone_that_skipped_a_whole_day_and_one_half_an_hour_off():
    # Samoa went from 29 December 2011 straight to 31 December.
    samoa = calendar(time_zone="Pacific/Apia", business_hours=[])
    apia = ZoneInfo("Pacific/Apia")
    assert samoa.minutes_between(at("2011-12-29 00:00", apia), at("2012-01-01 00:00", apia)) == 2 * 1440
    kathmandu = calendar(time_zone="Asia/Kathmandu")  # UTC+05:45
    assert kathmandu.add(datetime(2026, 3, 2, 3, 15, tzinfo=UTC), 1) == datetime(2026, 3, 2, 3, 16, tzinfo=UTC)
    assert kathmandu.add(datetime(2026, 3, 2, 3, 14, tzinfo=UTC), 1) == datetime(2026, 3, 2, 3, 16, tzinfo=UTC)


def test_calendars_are_shared_between_policies_with_the_same_hours():
    assert calendar_of(clean_policy({"warning_minutes": 5})) is calendar_of(DEFAULT_POLICY)
    assert calendar_of(clean_policy({"time_zone": "UTC"})) is not calendar_of(DEFAULT_POLICY)

# --- under random calendars -----------------------------------------------------------------

ZONES = ["UTC", "Asia/Riyadh", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe",
         "America/Sao_Paulo", "Pacific/Apia", "America/Santiago"]


@st.composite
def day_hours(draw, day: str, step: int) -> list[dict]:
    """A day's intervals: sorted boundaries on ``step`` minutes, paired off, so none overlap (some touch)."""
    marks = sorted(draw(st.lists(st.integers(0, 1440 // step), max_size=6, unique=True)))
    marks = [m * step for m in marks[: len(marks) // 2 * 2]]
    clock = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    return [{"day": day, "from": clock(a), "to": clock(b)} for a, b in zip(marks[::2], marks[1::2])]


@st.composite
def policies(draw, zones=ZONES, step: int = 15) -> dict:
    hours = [interval for day in DAYS for interval in draw(day_hours(day, step))]
    if not hours and draw(st.booleans()):
        hours = [{"day": "mon", "from": "10:00", "to": "11:00"}]  # now and then, a calendar open one hour a week
    holidays = []
    for _ in range(draw(st.integers(0, 4))):
        first = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 400)))
        holidays.append({"from": first.isoformat(),
                         "to": (first + timedelta(days=draw(st.integers(0, 20)))).isoformat()})
    return clean_policy({"time_zone": draw(st.sampled_from(zones)), "business_hours": hours, "holidays": holidays})


# Moments of 2025-2027, now and then on the nights clocks change (Europe, the US, Chile, Lord Howe).
CHANGES = [datetime(2026, 3, 28), datetime(2026, 10, 24), datetime(2026, 3, 7), datetime(2026, 10, 31),
           datetime(2026, 4, 4), datetime(2026, 9, 5)]
moments = st.one_of(
    st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.builds(lambda day, minutes: (day + timedelta(minutes=minutes)).replace(tzinfo=UTC),
              st.sampled_from(CHANGES), st.integers(0, 3 * 1440)),
)
amounts = st.one_of(st.integers(0, 20_000), st.floats(0, 20_000, allow_nan=False), st.integers(20_000, 200_000))
CLOSE = 1e-6  # minutes: the clock counts whole microseconds


def within_reach(policy: dict, minutes):
    """``minutes``, or fewer: what a sparse calendar holds in five years (it has no holidays after 2027)."""
    minute = lambda clock: int(clock[:2]) * 60 + int(clock[3:])  # noqa: E731
    weekly = sum(minute(h["to"]) - minute(h["from"]) for h in policy["business_hours"]) or 7 * 1440
    return min(minutes, weekly * 52 * 5)


@settings(max_examples=150, deadline=None)
@given(policies(), moments, amounts)
def test_add_then_minutes_between_gives_the_minutes_back(policy, start, minutes):
    cal = BusinessCalendar(policy)
    minutes = within_reach(policy, minutes)
    due = cal.add(start, minutes)
    assert due >= start and due.tzinfo is UTC
    assert abs(cal.minutes_between(start, due) - minutes) < CLOSE
    if minutes >= CLOSE and policy["business_hours"]:
        assert cal.is_open(due - timedelta(microseconds=1))  # the last minute was a business one


@settings(max_examples=100, deadline=None)
@given(policies(), moments, amounts, amounts)
def test_the_clock_never_moves_backwards_as_minutes_grow(policy, start, a, b):
    cal = BusinessCalendar(policy)
    a, b = within_reach(policy, a), within_reach(policy, b)
    low, high = sorted((a, b))
    assert cal.add(start, low) <= cal.add(start, high)
    # Counting on from an answer is counting all the minutes at once.
    if isinstance(a, int) and isinstance(b, int) and a > 0:
        assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)


@settings(max_examples=100, deadline=None)
@given(policies(), moments, st.integers(0, 14 * 1440), amounts)
def test_the_clock_never_moves_backwards_as_the_start_moves_later(policy, start, later, minutes):
    cal = BusinessCalendar(policy)
    minutes = within_reach(policy, minutes)
    assert cal.add(start, minutes) <= cal.add(start + timedelta(minutes=later), minutes)


@settings(max_examples=100, deadline=None)
@given(policies(), moments, st.integers(0, 20 * 1440), st.integers(0, 20 * 1440))
def test_business_minutes_add_up_and_never_exceed_the_minutes_that_pass(policy, a, first, second):
    cal = BusinessCalendar(policy)
    b, c = a + timedelta(minutes=first), a + timedelta(minutes=first + second)
    whole = cal.minutes_between(a, c)
    assert abs(cal.minutes_between(a, b) + cal.minutes_between(b, c) - whole) < CLOSE
    assert 0 <= whole <= first + second
    assert cal.minutes_between(c, a) == 0


def minute_by_minute(policy: dict, start: datetime, minutes: int) -> int:
    """The slow count: minutes whose middle the local wall clock shows inside an interval, on no holiday."""
    zone = ZoneInfo(policy["time_zone"])
    hours = policy["business_hours"] or every_day("00:00", "24:00")
    holidays = [(date.fromisoformat(h["from"]), date.fromisoformat(h["to"])) for h in policy["holidays"]]
    count = 0
    for n in range(minutes):
        wall = (start + timedelta(minutes=n, seconds=30)).astimezone(zone)
        clock = wall.strftime("%H:%M")
        day = DAYS[(wall.weekday() + 1) % 7]
        if (not any(a <= wall.date() <= b for a, b in holidays)
                and any(h["day"] == day and h["from"] <= clock < h["to"] for h in hours)):
            count += 1
    return count


@settings(max_examples=60, deadline=None)
@given(policies(zones=["UTC", "Asia/Riyadh", "Europe/Berlin", "America/New_York", "Asia/Kathmandu"], step=60),
       moments, st.integers(0, 3 * 1440))
def test_the_count_is_what_a_minute_by_minute_count_of_the_wall_clock_gives(policy, start, minutes):
    # Whole-hour boundaries in zones whose clocks change on the hour: each minute is in or out.
    start = start.replace(second=0, microsecond=0)
    cal = BusinessCalendar(policy)
    assert cal.minutes_between(start, start + timedelta(minutes=minutes)) == minute_by_minute(policy, start, minutes)
