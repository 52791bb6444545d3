"""Staff online by hour, and what a report is asked for (periods, limits,
tickets per order sold): plain Python, no server."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from seedwork.errors import InvalidCommand
from services.reports.domain import report_query, staffing

UTC = timezone.utc
MONDAY = date(2026, 11, 23)
LATER = datetime(2027, 1, 1, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_an_agent_online_for_one_hour_of_two_mondays_counts_half_in_that_hour():
    changes = [("sara", at(23, 9), "online"), ("sara", at(23, 10), "offline")]
    online = staffing.online_by_hour(changes, {}, MONDAY, date(2026, 12, 6), "UTC", LATER)  # two weeks
    assert online[(0, 9)] == 0.5
    assert online[(0, 10)] == 0.0 and online[(1, 9)] == 0.0
    assert len(online) == 7 * 24


def test_online_before_the_period_counts_from_its_start_and_the_future_counts_nobody():
    before = {"omar": "online", "huda": "away"}
    now = at(23, 2, 30)  # the period is today: up to now only
    online = staffing.online_by_hour([], before, MONDAY, MONDAY, "UTC", now)
    assert online[(0, 0)] == 1.0 and online[(0, 1)] == 1.0 and online[(0, 2)] == 0.5 and online[(0, 3)] == 0.0


def test_hours_are_the_stores_local_hours_and_away_is_not_online():
    changes = [("sara", at(23, 6), "online"), ("sara", at(23, 6, 30), "away"), ("sara", at(23, 7), "online"),
               ("sara", at(23, 8), "offline")]
    online = staffing.online_by_hour(changes, {}, MONDAY, MONDAY, "Asia/Riyadh", LATER)  # UTC+3
    assert online[(0, 9)] == 0.5 and online[(0, 10)] == 1.0 and online[(0, 11)] == 0.0


def test_the_default_period_is_the_last_thirty_days_and_bad_ones_name_the_field():
    assert report_query.period({}, date(2026, 12, 7)) == (date(2026, 11, 8), date(2026, 12, 7))
    assert report_query.period({"from": "2026-12-01", "to": "2026-12-03"}, date(2026, 12, 7)) == (
        date(2026, 12, 1), date(2026, 12, 3))
    for raw, field in (({"from": "2026-12-04", "to": "2026-12-03"}, "from"), ({"to": "soon"}, "to"),
                       ({"from": "2020-01-01", "to": "2026-01-01"}, "from")):
        with pytest.raises(InvalidCommand) as refused:
            report_query.period(raw, date(2026, 12, 7))
        assert field in refused.value.errors
    with pytest.raises(InvalidCommand):
        report_query.summary_query({"group_by": "planet"}, date(2026, 12, 7))
    for bad in (0, 101, True, "5"):
        with pytest.raises(InvalidCommand):
            report_query.limit({"limit": bad})
    assert report_query.limit({}) == 20


def test_products_rank_by_tickets_per_order_sold_and_unsold_ones_come_last():
    items = report_query.per_order_sold({"abaya": 6, "dates": 2, "oud": 3, "shawl": 0},
                                        {"abaya": 30, "dates": 4, "perfume": 9}, 10)
    assert [(i["product"], i["tickets_per_order"]) for i in items] == [("dates", 0.5), ("abaya", 0.2), ("oud", None)]
    assert report_query.per_order_sold({"a": 1, "b": 2}, {"a": 1, "b": 1}, 1)[0]["product"] == "b"


def test_a_self_service_ticket_counts_under_its_flow_and_an_exchange_under_its_reason():
    from types import SimpleNamespace

    from services.reports.domain.reasons import self_service_reasons

    def opened(kind, actor="customer", **data):
        return SimpleNamespace(data={"type": kind, **data}, actor=SimpleNamespace(kind=actor))

    assert self_service_reasons(opened("order_delayed")) == ("order_delayed",)
    assert self_service_reasons(opened("product_exchange", exchange={"reason": "wrong_size"})) == (
        "product_exchange:wrong_size",)
    assert self_service_reasons(opened("charged_without_order", handled_by="platform")) == ("charged_without_order",)
    assert self_service_reasons(opened("general")) == ()
    assert self_service_reasons(opened("order_delayed", actor="agent")) == ()  # staff opened it: no friction seen
