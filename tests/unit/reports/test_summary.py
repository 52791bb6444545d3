"""Report items read from rollup rows (services/reports/domain/summary.py):
medians and p90 from the histograms, rates, groupings by key and by date."""
from __future__ import annotations

from datetime import date

import pytest

from services.reports.domain.metrics import measure
from services.reports.domain.rollups import BUCKETS, Measures, bucket_of, contributions, rows_of
from services.reports.domain.summary import agents, item, quantile, summarise, volume_by_hour, week_of
from tests.unit.reports.stories import OTHER_AGENT, Story


def minutes(*values: float) -> tuple[int, ...]:
    counts = [0] * BUCKETS
    for value in values:
        counts[bucket_of(value)] += 1
    return tuple(counts)


def rows(*tickets: Story, dimension: str = "all", time_zone: str = "Asia/Riyadh"):
    out = []
    for story in tickets:
        out += [(day, key, m) for day, dim, key, m in rows_of(contributions(measure(story.events), time_zone))
                if dim == dimension]
    return out


# --- medians and p90 ------------------------------------------------------------------------


def test_the_median_and_p90_are_the_nearest_rank_read_as_their_buckets_upper_bound():
    h = minutes(3, 5.5, 20, 45, 200, 200, 200, 500, 2000, 9000)  # ten values
    assert quantile(h, 1, 2) == 210    # the 5th value, 200, is in (180, 210]
    assert quantile(h, 9, 10) == 2160  # the 9th, 2000, in (1920, 2160]


def test_one_minute_buckets_up_to_an_hour():
    assert quantile(minutes(0.4), 1, 2) == 1
    assert quantile(minutes(0), 1, 2) == 0
    assert quantile(minutes(59.2), 1, 2) == 60


def test_nothing_measured_is_no_median_and_past_a_year_reads_as_a_year():
    assert quantile(minutes(), 1, 2) is None
    assert quantile(minutes(10 ** 7), 1, 2) == 525600


def test_the_ranks_are_whole_numbers_however_the_fraction_rounds():
    # 10 values: the p90 is the 9th, not the 10th (0.9 * 10 is 9.000000000000002 in floating point).
    h = minutes(*range(1, 11))
    assert quantile(h, 9, 10) == 9


# --- items ------------------------------------------------------------------------------------


def test_an_item_has_the_shape_of_the_summary_report():
    m = Measures(created=4, solved=3, reopened=1, first_solved=3, fcr=1, one_touch=2, sla_achieved=3,
                 sla_breached=1, csat_5=1, csat_2=1, first_response_business_minutes=minutes(10, 20, 30),
                 first_response_minutes=minutes(100, 200, 300), resolution_business_minutes=minutes(60))
    assert item("agent-a", m) == {
        "key": "agent-a", "created": 4, "solved": 3, "reopened": 1,
        "first_response": {"median_minutes": 20, "p90_minutes": 30, "count": 3},
        "resolution": {"median_minutes": 60, "p90_minutes": 60, "count": 1},
        "fcr_rate": 0.3333, "one_touch_rate": 0.6667,
        "csat": {"average": 3.5, "count": 2, "distribution": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}},
        "sla": {"achieved_rate": 0.75, "achieved": 3, "breached": 1},
    }
    assert item("agent-a", m, "calendar")["first_response"]["median_minutes"] == 210  # 200 in (180, 210]


def test_with_nothing_to_divide_a_rate_and_an_average_are_none():
    figures = item(None, Measures(created=1))
    assert figures["fcr_rate"] is figures["one_touch_rate"] is figures["csat"]["average"] is None
    assert figures["sla"]["achieved_rate"] is None and figures["first_response"]["median_minutes"] is None


# --- groupings ----------------------------------------------------------------------------------


def test_by_day_week_and_month_the_keys_are_the_periods_first_days_in_order():
    march_2nd = Story.opened("mon 09:00").reply("mon 09:30")
    march_13th = Story.opened("fri+ 09:00").reply("fri+ 09:30")  # a Friday: closed, 0 business minutes
    both = rows(march_2nd, march_13th)
    assert [i["key"] for i in summarise(both, "day")] == ["2026-03-02", "2026-03-13"]
    assert [i["key"] for i in summarise(both, "week")] == ["2026-03-02", "2026-03-09"]
    (month,) = summarise(both, "month")
    assert month["key"] == "2026-03-01" and month["created"] == 2
    assert month["first_response"] == {"median_minutes": 0, "p90_minutes": 30, "count": 2}
    assert summarise(both, "month", "calendar")[0]["first_response"]["median_minutes"] == 30


def test_weeks_start_on_monday():
    assert week_of(date(2026, 3, 1)) == date(2026, 2, 23)  # a Sunday: the week of Monday the 23rd
    assert week_of(date(2026, 3, 2)) == date(2026, 3, 2)


def test_by_key_the_ticket_without_one_is_the_none_item_last():
    held = Story.opened("sun 09:00").assign("sun 09:01", "agent-b", None)
    nobodys = Story.opened("sun 10:00")
    items = summarise(rows(held, nobodys, dimension="agent"), "agent")
    assert [(i["key"], i["created"]) for i in items] == [("agent-b", 1), (None, 1)]


def test_an_agents_own_rows_grouped_by_day():
    story = Story.opened("sun 09:00").assign("sun 09:01", "agent-a", None).reply("sun 10:00").solve("mon 09:00")
    own = [r for r in rows(story, dimension="agent") if r[1] == "agent-a"]
    assert [(i["key"], i["created"], i["solved"]) for i in summarise(own, "day")] == [
        ("2026-03-01", 1, 0), ("2026-03-02", 0, 1)]


def test_an_unknown_kind_of_minutes_is_refused():
    with pytest.raises(ValueError):
        summarise([], "day", "wall")


# --- agents and hours ----------------------------------------------------------------------------


def test_agent_performance_counts_what_each_agent_holds_and_what_they_wrote():
    held = (Story.opened("sun 09:00").assign("sun 09:01", "agent-a", None).reply("sun 09:30", OTHER_AGENT)
            .solve("sun 10:00").rate("sun 11:00", 5))
    (b, a) = sorted(agents(rows(held, dimension="agent")), key=lambda x: x["agent_id"], reverse=True)
    assert (a["agent_id"], a["handled"], a["replies"], a["csat"]["average"], a["fcr_rate"]) == (
        "agent-a", 1, 0, 5.0, 1.0)
    assert (b["agent_id"], b["handled"], b["replies"]) == ("agent-b", 0, 1)


def test_volume_by_hour_is_every_hour_of_every_weekday_in_the_stores_time():
    sunday_9 = Story.opened("sun 09:15")
    monday_9 = Story.opened("mon 09:45")
    cells = volume_by_hour(rows(sunday_9, monday_9, sunday_9, dimension="hour"))
    assert len(cells) == 7 * 24 and cells[0] == {"weekday": "mon", "hour": 0, "created": 0}
    busy = [(c["weekday"], c["hour"], c["created"]) for c in cells if c["created"]]
    assert busy == [("mon", 9, 1), ("sun", 9, 2)]
