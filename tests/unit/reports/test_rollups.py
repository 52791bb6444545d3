"""A ticket's contributions to the daily rollups (services/reports/domain/rollups.py):
each fact on the store's local day it happened, under each of the ticket's
keys; and the measures as the storage keeps them."""
from __future__ import annotations

import json
from datetime import date

import pytest

from services.reports.domain.metrics import measure
from services.reports.domain.rollups import (
    BOUNDS, BUCKETS, EMPTY, Measures, bucket_of, changes, contributions, rows_of, total,
)
from tests.unit.reports.stories import CUSTOMER, OTHER_AGENT, Story

SUN, MON = date(2026, 3, 1), date(2026, 3, 2)


def histogram(minutes: float) -> tuple[int, ...]:
    counts = [0] * BUCKETS
    counts[bucket_of(minutes)] = 1
    return tuple(counts)


# --- the buckets ---------------------------------------------------------------------------


@pytest.mark.parametrize("minutes, bound", [
    (0, 0), (0.2, 1), (1, 1), (1.01, 2), (59.5, 60), (60, 60), (60.5, 70), (125, 150), (1440, 1440),
    (1441, 1680), (10080, 10080), (525600, 525600),
])
def test_a_bucket_holds_the_minutes_up_to_its_bound(minutes, bound):
    assert BOUNDS[bucket_of(minutes)] == bound


def test_past_a_year_is_the_last_bucket():
    assert bucket_of(525600.01) == bucket_of(10 ** 9) == BUCKETS - 1 == len(BOUNDS)


def test_the_bounds_rise_and_each_minute_of_the_first_hour_has_its_own():
    assert list(BOUNDS) == sorted(set(BOUNDS))
    assert BOUNDS[:61] == tuple(range(61))


# --- what a ticket contributes --------------------------------------------------------------


def test_each_fact_is_counted_on_the_day_it_happened_under_every_key_of_the_ticket():
    story = (Story.opened("sun 09:00", topic_id="topic-1", team="team-1").tag("sun 09:01", "refund")
             .assign("sun 09:02", "agent-a", "team-1").reply("sun 10:00").solve("mon 11:00").rate("mon 12:00", 4))
    c = contributions(measure(story.events), "Asia/Riyadh", products=("sku-2", "sku-1"))
    keys = [("all", ""), ("agent", "agent-a"), ("team", "team-1"), ("topic", "topic-1"), ("type", "general"),
            ("channel", "widget"), ("tag", "refund"), ("product", "sku-1"), ("product", "sku-2")]
    sunday = Measures(created=1, replies=1, sla_achieved=1, first_response_minutes=histogram(60),
                      first_response_business_minutes=histogram(60))
    monday = Measures(solved=1, first_solved=1, fcr=1, one_touch=1, sla_achieved=1, csat_4=1,
                      resolution_minutes=histogram(26 * 60), resolution_business_minutes=histogram(480 + 120))
    for dimension, key in keys:
        assert c[(SUN, dimension, key)] == sunday
        assert c[(MON, dimension, key)] == monday
    assert c[(SUN, "hour", "09")] == Measures(created=1)
    assert set(c) == {(day, *k) for day in (SUN, MON) for k in keys} | {(SUN, "hour", "09")}


def test_days_are_the_stores_local_days():
    # 01:30 in Riyadh on Sunday is 22:30 UTC on Saturday.
    m = measure(Story.opened("sun 01:30").events)
    assert (SUN, "all", "") in contributions(m, "Asia/Riyadh")
    assert (date(2026, 2, 28), "all", "") in contributions(m, "UTC")
    assert (date(2026, 2, 28), "hour", "22") in contributions(m, "UTC")


def test_replies_count_for_the_agent_who_wrote_them_and_the_rest_for_the_agent_who_holds_the_ticket():
    story = (Story.opened("sun 09:00").assign("sun 09:01", "agent-a", None).reply("sun 09:30", OTHER_AGENT)
             .reply("sun 09:40").reply("sun 09:50", CUSTOMER))
    c = contributions(measure(story.events), "Asia/Riyadh")
    assert c[(SUN, "agent", "agent-b")] == Measures(replies=1)
    assert c[(SUN, "agent", "agent-a")].replies == 1 and c[(SUN, "agent", "agent-a")].created == 1
    assert c[(SUN, "all", "")].replies == 2


def test_a_ticket_with_no_agent_team_or_topic_counts_under_the_empty_key():
    c = contributions(measure(Story.opened("sun 09:00").events), "Asia/Riyadh")
    assert all((SUN, dimension, "") in c for dimension in ("agent", "team", "topic"))


def test_reopens_merges_and_breaches_are_counted_on_their_days():
    story = (Story.opened("sun 09:00").reply("sun 10:00").solve("sun 11:00").reopened_by_reply("mon 09:00")
             .breach("mon 10:00", "resolution").merge("mon 11:00"))
    c = contributions(measure(story.events), "Asia/Riyadh")
    assert (c[(MON, "all", "")].reopened, c[(MON, "all", "")].merged, c[(MON, "all", "")].sla_breached) == (1, 1, 1)
    assert total(c[k] for k in c if k[1] == "all").solved == 0  # merged: never solved


def test_terms_count_the_ticket_once_on_its_opening_day():
    c = contributions(measure(Story.opened("sun 09:00").events), "Asia/Riyadh", terms=["parcel", "late", "parcel"])
    assert c[(SUN, "term", "parcel")] == c[(SUN, "term", "late")] == Measures(created=1)


# --- moving the rollups ------------------------------------------------------------------------


def test_a_reassignment_moves_the_tickets_figures_to_the_new_agent():
    story = Story.opened("sun 09:00").assign("sun 09:01", "agent-a", None).reply("sun 10:00")
    old = contributions(measure(story.events), "Asia/Riyadh")
    new = contributions(measure(story.assign("sun 11:00", "agent-b", None).events), "Asia/Riyadh")
    moved = changes(old, new)
    assert moved[(SUN, "agent", "agent-a")] == Measures(
        created=-1, sla_achieved=-1, first_response_minutes=tuple(-n for n in histogram(60)),
        first_response_business_minutes=tuple(-n for n in histogram(60)))
    assert moved[(SUN, "agent", "agent-b")].created == 1
    assert (SUN, "all", "") not in moved  # nothing changed there
    assert old[(SUN, "agent", "agent-a")].add(moved[(SUN, "agent", "agent-a")]).replies == 1  # they wrote it


def test_rows_are_sorted_by_day_dimension_and_key():
    story = Story.opened("sun 09:00").tag("sun 09:01", "b").tag("sun 09:02", "a").solve("mon 09:00")
    rows = rows_of(contributions(measure(story.events), "Asia/Riyadh"))
    assert [r[:3] for r in rows] == sorted(r[:3] for r in rows)
    assert rows[0][:3] == (SUN, "agent", "")


# --- measures as the storage keeps them --------------------------------------------------------


def test_measures_go_to_a_row_of_ints_and_int_lists_and_back():
    m = Measures(created=3, csat_5=2, first_response_minutes=histogram(0)).add(
        Measures(resolution_minutes=histogram(10 ** 7), created=1))
    row = json.loads(json.dumps(m.to_row()))
    assert row == {"created": 4, "csat_5": 2, "first_response_minutes": [0, 1],
                   "resolution_minutes": [BUCKETS - 1, 1]}
    assert Measures.from_row(row) == m


def test_empty_measures_are_an_empty_row():
    assert Measures.from_row({}) == EMPTY and EMPTY.is_empty() and EMPTY.to_row() == {}
    m = Measures(created=1, first_response_minutes=histogram(5))
    assert m.subtract(m).is_empty() and not m.is_empty()
    assert m.add(m).subtract(m) == m


def test_csat_counts_sum_and_distribution():
    m = Measures(csat_1=1, csat_4=2, csat_5=1)
    assert (m.csat_count, m.csat_sum, m.csat_distribution) == (4, 1 + 8 + 5, (1, 0, 0, 2, 1))


def test_a_running_sum_of_stored_rows_equals_the_sum_of_their_measures():
    import random

    from services.reports.domain.rollups import BUCKETS, EMPTY, HISTOGRAMS, Measures, Sum

    rng = random.Random(4)
    many = []
    for _ in range(200):
        histograms = {name: tuple(rng.choice((0, 0, 0, 1, 2)) for _ in range(BUCKETS))
                      for name in rng.sample(HISTOGRAMS, rng.randint(0, len(HISTOGRAMS)))}
        many.append(Measures(created=rng.randint(0, 3), solved=rng.randint(0, 2), csat_4=rng.randint(0, 1),
                             replies=rng.randint(-2, 5), **histograms))  # a delta row may hold negatives
    expected = EMPTY
    for m in many:
        expected = expected.add(m)
    stored = Sum()
    for m in many:
        stored.add(m.to_row())
    assert stored.total() == expected
    assert Sum().add(many[0]).add(many[1].to_row()).total() == many[0].add(many[1])
    assert Sum().total() == EMPTY
