"""The SLA policy a store sets with ``PUT /v1/settings/sla``
(services.tickets.domain.sla_policy): its defaults, its normal form, and a
refusal naming the field for every rule it breaks."""
from __future__ import annotations

import copy

import pytest

from seedwork.errors import InvalidCommand
from services.tickets.domain.sla_policy import DEFAULT_POLICY, clean_policy

def hours(*intervals) -> dict:
    return {"business_hours": [dict(zip(("day", "from", "to"), interval)) for interval in intervals]}


# --- what is left out ------------------------------------------------------------------------


def test_an_empty_body_is_the_default_policy():
    assert clean_policy({}) == DEFAULT_POLICY == {
        "time_zone": "Asia/Riyadh",
        "business_hours": [{"day": day, "from": "09:00", "to": "17:00"} for day in ("sun", "mon", "tue", "wed", "thu")],
        "holidays": [],
        "pause_on": ["pending", "on_hold"],
        "targets": {
            "urgent": {"first_response_minutes": 30, "next_response_minutes": 60, "resolution_minutes": 240},
            "high": {"first_response_minutes": 60, "next_response_minutes": 120, "resolution_minutes": 480},
            "normal": {"first_response_minutes": 240, "next_response_minutes": 480, "resolution_minutes": 1440},
            "low": {"first_response_minutes": 480, "next_response_minutes": 1440, "resolution_minutes": 2880},
        },
        "warning_minutes": 60,
    }


def test_each_call_returns_a_policy_of_its_own():
    policy = clean_policy({})
    policy["business_hours"][0]["from"] = "10:00"
    policy["targets"]["high"]["first_response_minutes"] = 1
    assert clean_policy({}) == DEFAULT_POLICY and DEFAULT_POLICY["business_hours"][0]["from"] == "09:00"


def test_a_priority_or_a_target_left_out_keeps_its_default_and_null_means_none():
    targets = clean_policy({"targets": {"high": {"first_response_minutes": 15, "resolution_minutes": None},
                                        "low": None}})["targets"]
    assert targets["high"] == {"first_response_minutes": 15, "next_response_minutes": 120, "resolution_minutes": None}
    assert targets["low"] == {"first_response_minutes": None, "next_response_minutes": None,
                              "resolution_minutes": None}
    assert targets["urgent"] == DEFAULT_POLICY["targets"]["urgent"]
    assert clean_policy({"warning_minutes": None})["warning_minutes"] is None  # no warnings


def test_an_empty_list_of_business_hours_is_around_the_clock_and_pause_on_may_be_empty():
    policy = clean_policy({"business_hours": [], "pause_on": []})
    assert policy["business_hours"] == [] and policy["pause_on"] == []

# --- the normal form -------------------------------------------------------------------------------


def test_hours_are_sorted_by_day_then_time_holidays_by_date_and_pause_on_has_each_status_once():
    policy = clean_policy({
        "time_zone": "UTC",
        **hours(("mon", "13:00", "24:00"), ("sat", "10:00", "12:00"), ("mon", "08:30", "13:00"),
                ("sun", "00:00", "01:00")),
        "holidays": [{"from": "2026-03-30", "to": "2026-04-02"}, {"from": "2026-01-01", "to": "2026-01-01"}],
        "pause_on": ["on_hold", "under_review", "on_hold"],
    })
    assert policy["business_hours"] == [
        {"day": "sun", "from": "00:00", "to": "01:00"}, {"day": "mon", "from": "08:30", "to": "13:00"},
        {"day": "mon", "from": "13:00", "to": "24:00"}, {"day": "sat", "from": "10:00", "to": "12:00"}]
    assert policy["holidays"] == [{"from": "2026-01-01", "to": "2026-01-01"},
                                  {"from": "2026-03-30", "to": "2026-04-02"}]
    assert policy["pause_on"] == ["on_hold", "under_review"]
    assert clean_policy(copy.deepcopy(policy)) == policy  # cleaning a clean policy changes nothing

# --- refusals, each naming its field ------------------------------------------------------------------


REFUSED = [
    ({"timezone": "UTC"}, "timezone", "unknown field"),
    ({"time_zone": "Mars/Olympus"}, "time_zone", "IANA time zone"),
    ({"time_zone": "asia/riyadh"}, "time_zone", "IANA time zone"),
    ({"time_zone": "localtime"}, "time_zone", "IANA time zone"),
    ({"time_zone": None}, "time_zone", "IANA time zone"),
    ({"time_zone": "../../etc/passwd"}, "time_zone", "IANA time zone"),
    ({"business_hours": "9-5"}, "business_hours", "must be a list"),
    ({"business_hours": [{"day": "mon", "from": "09:00"}]}, "business_hours[0].to", "is required"),
    ({"business_hours": [{"day": "mon", "from": "09:00", "to": "17:00", "team": "x"}]}, "business_hours[0].team",
     "unknown field"),
    ({"business_hours": ["mon 9-5"]}, "business_hours[0]", "must be an object"),
    (hours(("monday", "09:00", "17:00")), "business_hours[0].day", "sun, mon"),
    (hours(("mon", "9:00", "17:00")), "business_hours[0].from", "HH:MM"),
    (hours(("mon", "24:00", "24:00")), "business_hours[0].from", "HH:MM"),
    (hours(("mon", "09:00", "17:60")), "business_hours[0].to", "HH:MM"),
    (hours(("mon", "09:00", "24:01")), "business_hours[0].to", "HH:MM"),
    (hours(("mon", "09:00", 1700)), "business_hours[0].to", "HH:MM"),
    (hours(("mon", "09:00", "17:00"), ("tue", "17:00", "09:00")), "business_hours[1].to", "after from"),
    (hours(("mon", "09:00", "09:00")), "business_hours[0].to", "after from"),
    (hours(("tue", "09:00", "12:00"), ("mon", "13:00", "17:00"), ("mon", "09:00", "13:30")),
     "business_hours[1].from", "overlaps"),
    ({"business_hours": [{"day": "mon", "from": "00:00", "to": "00:10"}] * 71}, "business_hours", "at most 70"),
    ({"holidays": {"from": "2026-03-30"}}, "holidays", "must be a list"),
    ({"holidays": [{"from": "2026-03-30"}]}, "holidays[0].to", "is required"),
    ({"holidays": [{"from": "2026-03-30", "to": "2026-02-30"}]}, "holidays[0].to", "YYYY-MM-DD"),
    ({"holidays": [{"from": "20260330", "to": "2026-03-30"}]}, "holidays[0].from", "YYYY-MM-DD"),
    ({"holidays": [{"from": "1999-12-31", "to": "2026-03-30"}]}, "holidays[0].from", "from 2000-01-01"),
    ({"holidays": [{"from": "2026-04-02", "to": "2026-03-30"}]}, "holidays[0].to", "on or after from"),
    ({"holidays": [{"from": "2026-03-30", "to": "2026-03-30", "name": "Eid"}]}, "holidays[0].name", "unknown"),
    ({"holidays": [{"from": "2026-01-01", "to": "2026-01-01"}] * 201}, "holidays", "at most 200"),
    ({"pause_on": "pending"}, "pause_on", "must be a list"),
    ({"pause_on": ["pending", "solved"]}, "pause_on[1]", "pending, on_hold, under_review"),
    ({"targets": []}, "targets", "must be an object"),
    ({"targets": {"critical": None}}, "targets.critical", "unknown field"),
    ({"targets": {"high": 60}}, "targets.high", "object or null"),
    ({"targets": {"high": {"first_reply_minutes": 60}}}, "targets.high.first_reply_minutes", "unknown field"),
    ({"targets": {"high": {"first_response_minutes": 0}}}, "targets.high.first_response_minutes", "1 to 525600"),
    ({"targets": {"low": {"resolution_minutes": 525_601}}}, "targets.low.resolution_minutes", "1 to 525600"),
    ({"targets": {"low": {"resolution_minutes": 90.5}}}, "targets.low.resolution_minutes", "whole number"),
    ({"targets": {"low": {"resolution_minutes": True}}}, "targets.low.resolution_minutes", "whole number"),
    ({"targets": {"low": {"resolution_minutes": "60"}}}, "targets.low.resolution_minutes", "whole number"),
    ({"warning_minutes": -5}, "warning_minutes", "whole number"),
]


@pytest.mark.parametrize("body, field, message", REFUSED)
def test_a_policy_that_breaks_a_rule_is_refused_naming_the_field(body, field, message):
    with pytest.raises(InvalidCommand) as refused:
        clean_policy(body)
    assert refused.value.code == "invalid_field"
    [(name, [text])] = refused.value.errors.items()
    assert name == field and message in text, refused.value.errors


def test_a_body_that_is_not_an_object_and_a_card_number_in_an_unknown_key_is_masked():
    with pytest.raises(InvalidCommand) as refused:
        clean_policy(["time_zone"])
    assert refused.value.errors == {"policy": ["must be an object"]}
    with pytest.raises(InvalidCommand) as refused:
        clean_policy({"4111 1111 1111 1111": 1})
    assert "4111 1111 1111 1111" not in str(refused.value.errors)
