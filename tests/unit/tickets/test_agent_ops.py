"""The pure rules of agent operations: what a team and a contact topic may
be, their state as the fold of their events, who may change which part of
an agent's profile, and the plan's limits (services/tickets/domain)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from seedwork.envelope import Actor, NewEvent
from seedwork.errors import Conflict, Forbidden, InvalidCommand
from services.tickets.domain import agent_profiles as profiles
from services.tickets.domain import plan_limits
from services.tickets.domain import teams
from services.tickets.domain import topics
from services.tickets.domain.ticket import stored

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
OWNER = Actor("agent", "ag-owner")


def refused(error_type, call, *args, **kwargs):
    with pytest.raises(error_type) as info:
        call(*args, **kwargs)
    return info.value


def field_of(error) -> list[str]:
    return list(error.errors)


def events(stream: str, *changes: tuple[str, dict]):
    return stored([NewEvent(t, d, actor=OWNER, store_id="st-1", occurred_at=NOW) for t, d in changes], 0,
                  stream_id=stream)


# --- teams ----------------------------------------------------------------------------------------


def test_a_new_team_has_a_name_and_is_assigned_by_hand_unless_it_says_otherwise():
    assert teams.clean_team({"name": "  Shipping "}) == {"name": "Shipping", "description": None,
                                                         "assignment": {"mode": "manual"}}
    assert teams.clean_team({"name": "Payments", "description": "Refunds", "assignment": {"mode": "round_robin"}})[
        "assignment"] == {"mode": "round_robin"}
    assert teams.clean_team({"name": "Q", "assignment": {}})["assignment"] == {"mode": "manual"}


@pytest.mark.parametrize("sent, field", [
    ({}, "name"), ({"name": ""}, "name"), ({"name": "   "}, "name"), ({"name": "x" * 101}, "name"),
    ({"name": "Two\nlines"}, "name"), ({"name": 7}, "name"), ({"name": "A", "description": "d" * 501}, "description"),
    ({"name": "A", "assignment": "manual"}, "assignment"),
    ({"name": "A", "assignment": {"mode": "random"}}, "assignment"),
    ({"name": "A", "assignment": {"mode": "manual", "skills": []}}, "assignment"),
    ({"name": "A", "colour": "red"}, "colour"),
])
def test_what_a_team_may_not_be_is_refused_naming_the_field(sent, field):
    assert field_of(refused(InvalidCommand, teams.clean_team, sent)) == [field]


def test_a_patch_changes_only_what_it_sends_and_nothing_is_a_change_when_values_are_the_same():
    team = {"name": "Shipping", "description": None, "assignment": {"mode": "manual"}}
    assert teams.clean_team({"description": "Late parcels"}, partial=True) == {"description": "Late parcels"}
    assert teams.changes(team, teams.clean_team({"name": "Shipping", "assignment": {"mode": "manual"}},
                                                partial=True)) == {}
    assert teams.changes(team, {"assignment": {"mode": "least_loaded"}}) == {"assignment": {"mode": "least_loaded"}}
    assert sorted(refused(InvalidCommand, teams.clean_team, {}, partial=True).errors) == sorted(teams.FIELDS)


def test_a_team_is_the_fold_of_its_events():
    history = events("team:t-1",
                     ("team.created", {"team_id": "t-1", "name": "Shipping", "description": None,
                                       "assignment": {"mode": "manual"}}),
                     ("team.member_added", {"team_id": "t-1", "agent_id": "ag-1"}),
                     ("team.member_added", {"team_id": "t-1", "agent_id": "ag-2"}),
                     ("team.updated", {"team_id": "t-1", "changes": {"name": "Delivery"}, "name": "Delivery",
                                       "description": None, "assignment": {"mode": "round_robin"}}),
                     ("team.member_removed", {"team_id": "t-1", "agent_id": "ag-1"}))
    team = teams.fold(history)
    assert (team["id"], team["store_id"], team["name"], team["assignment"], team["members"], team["version"]) == (
        "t-1", "st-1", "Delivery", {"mode": "round_robin"}, ["ag-2"], 5)
    assert teams.fold(history[:3])["members"] == ["ag-1", "ag-2"]  # in the order they joined
    deleted = events("team:t-1", ("team.created", {"team_id": "t-1", "name": "X"}),
                     ("team.deleted", {"team_id": "t-1", "name": "X"}))
    assert teams.fold(deleted) is None


def test_a_broken_team_stream_is_an_error_not_a_guess():
    created = events("team:t-1", ("team.created", {"team_id": "t-1", "name": "X"}))[0]
    with pytest.raises(ValueError):
        teams.fold([created, created])
    with pytest.raises(ValueError):
        teams.fold(events("team:t-1", ("team.member_added", {"team_id": "t-1", "agent_id": "a"})))
    with pytest.raises(ValueError):
        teams.evolve(teams.fold([created]), events("team:t-1", ("team.renamed", {}))[0])


# --- contact topics ------------------------------------------------------------------------------


def test_a_topic_has_a_name_in_at_least_one_locale_and_defaults_for_the_rest():
    assert topics.clean_topic({"names": {"en": " Customer service ", "ar": "خدمة العملاء"}}) == {
        "names": {"ar": "خدمة العملاء", "en": "Customer service"}, "descriptions": {}, "team_id": None,
        "email": None, "position": 0}
    full = topics.clean_topic({"names": {"fa": "پشتیبانی", "en-US": "Support", "zh-Hant": "支援"},
                               "descriptions": {"fa": "سوال فنی"}, "team_id": "t-1", "email": "Help@Shop.Example.SA",
                               "position": 3})
    assert (full["email"], full["position"], full["team_id"]) == ("Help@shop.example.sa", 3, "t-1")
    assert topics.clean_topic({"position": 0}, partial=True) == {"position": 0}


@pytest.mark.parametrize("sent, field", [
    ({}, "names"), ({"names": {}}, "names"), ({"names": "Help"}, "names"), ({"names": {"english": "Help"}}, "names"),
    ({"names": {"EN": "Help"}}, "names"), ({"names": {"en": ""}}, "names"), ({"names": {"en": "a\nb"}}, "names"),
    ({"names": {"en": "x" * 101}}, "names"), ({"names": {"a" + chr(97 + n): "x" for n in range(21)}}, "names"),
    ({"names": {"en": "Help"}, "descriptions": {"en": "d" * 1001}}, "descriptions"),
    ({"names": {"en": "Help"}, "descriptions": ["x"]}, "descriptions"),
    ({"names": {"en": "Help"}, "email": "help"}, "email"), ({"names": {"en": "Help"}, "email": "a@b"}, "email"),
    ({"names": {"en": "Help"}, "email": "a b@example.com"}, "email"),
    ({"names": {"en": "Help"}, "email": "x" * 250 + "@example.com"}, "email"),
    ({"names": {"en": "Help"}, "position": -1}, "position"), ({"names": {"en": "Help"}, "position": True}, "position"),
    ({"names": {"en": "Help"}, "position": 10_001}, "position"), ({"names": {"en": "Help"}, "team_id": ""}, "team_id"),
    ({"names": {"en": "Help"}, "team": "t-1"}, "team"),
])
def test_what_a_topic_may_not_be_is_refused_naming_the_field(sent, field):
    assert field_of(refused(InvalidCommand, topics.clean_topic, sent)) == [field]


def test_descriptions_are_in_locales_the_names_have_also_after_a_patch():
    topic = {**topics.clean_topic({"names": {"ar": "الشحن", "en": "Shipping"}, "descriptions": {"en": "Parcels"}}),
             "id": "tp-1"}
    topics.check_locales(topic)
    assert field_of(refused(InvalidCommand, topics.check_locales, {**topic, "descriptions": {"fr": "Colis"}})) == [
        "descriptions"]
    assert field_of(refused(InvalidCommand, topics.merge, topic, {"names": {"ar": "الشحن"}})) == ["descriptions"]
    merged, changed = topics.merge(topic, {"names": {"ar": "الشحن"}, "descriptions": {}})
    assert changed == {"names": {"ar": "الشحن"}, "descriptions": {}} and merged["team_id"] is None
    assert topics.merge(topic, {"position": 0})[1] == {}


def test_a_shopper_sees_a_topic_without_its_team_and_the_topic_is_the_fold_of_its_events():
    history = events("topic:tp-1",
                     ("topic.created", {"topic_id": "tp-1", "names": {"en": "Shipping"}, "descriptions": {},
                                        "team_id": "t-1", "email": None, "position": 0}),
                     ("topic.updated", {"topic_id": "tp-1", "changes": {"position": 2}, "names": {"en": "Shipping"},
                                        "descriptions": {}, "team_id": "t-1", "email": None, "position": 2}))
    topic = topics.fold(history)
    assert (topic["position"], topic["version"], topic["store_id"]) == (2, 2, "st-1")
    assert topics.shopper_view(topic) == {"id": "tp-1", "names": {"en": "Shipping"}, "descriptions": {},
                                          "email": None, "position": 2}
    assert topics.fold(history + events("topic:tp-1", ("topic.deleted", {"topic_id": "tp-1"}))) is None


# --- agents' profiles ----------------------------------------------------------------------------------


def test_an_agent_never_patched_is_offline_with_no_limit_and_no_skills():
    assert profiles.with_defaults(None) == {"availability": "offline", "capacity": None, "skills": []}
    assert profiles.with_defaults({"availability": "online"}) == {"availability": "online", "capacity": None,
                                                                  "skills": []}


@pytest.mark.parametrize("role, caller_id, agent_id, sent, refused_field", [
    ("agent", "ag-1", "ag-1", {"availability": "away"}, None),
    ("agent", "ag-1", "ag-1", {"capacity": 3}, "capacity"),
    ("agent", "ag-1", "ag-1", {"skills": []}, "skills"),
    ("agent", "ag-1", "ag-1", {"availability": "away", "capacity": 3}, "capacity"),
    ("agent", "ag-1", "ag-2", {"availability": "away"}, "availability"),
    ("admin", "ag-9", "ag-1", {"availability": "away", "capacity": 3, "skills": ["vip"]}, None),
    ("admin", "ag-9", "ag-9", {"capacity": 3}, None),
    ("owner", "ag-0", "ag-9", {"skills": ["returns"]}, None),
])
def test_an_agent_changes_only_their_own_availability_and_admins_change_anything(role, caller_id, agent_id, sent,
                                                                                  refused_field):
    if refused_field is None:
        profiles.check_may_patch(role, caller_id, agent_id, sent)
    else:
        error = refused(Forbidden, profiles.check_may_patch, role, caller_id, agent_id, sent)
        assert error.code == "field_not_allowed" and field_of(error) == [refused_field]


def test_a_profile_patch_is_checked_and_merged():
    clean = profiles.clean_profile_patch({"availability": "online", "capacity": 0,
                                          "skills": [" Returns ", "vip", "returns", "ar-speaker", "tier_2"]})
    assert clean == {"availability": "online", "capacity": 0, "skills": ["returns", "vip", "ar-speaker", "tier_2"]}
    assert profiles.clean_profile_patch({"capacity": None}) == {"capacity": None}
    profile, changes = profiles.merge({"availability": "online", "capacity": 5, "skills": ["vip"]},
                                      {"availability": "online", "capacity": 6})
    assert (profile, changes) == ({"availability": "online", "capacity": 6, "skills": ["vip"]}, {"capacity": 6})
    assert profiles.merge(None, {"availability": "offline", "skills": []})[1] == {}


@pytest.mark.parametrize("sent, field", [
    ({}, "availability"), ({"availability": "busy"}, "availability"), ({"availability": None}, "availability"),
    ({"capacity": -1}, "capacity"), ({"capacity": 1001}, "capacity"), ({"capacity": 2.5}, "capacity"),
    ({"capacity": True}, "capacity"), ({"capacity": "5"}, "capacity"), ({"skills": "vip"}, "skills"),
    ({"skills": ["no spaces"]}, "skills"), ({"skills": ["-dash-first"]}, "skills"), ({"skills": [7]}, "skills"),
    ({"skills": ["x" * 51]}, "skills"), ({"skills": [f"s{n}" for n in range(51)]}, "skills"), ({"teams": []}, "teams"),
])
def test_what_a_profile_may_not_be_is_refused_naming_the_field(sent, field):
    assert field in field_of(refused(InvalidCommand, profiles.clean_profile_patch, sent))


# --- plan limits -------------------------------------------------------------------------------


def test_a_plan_limit_refuses_one_more_naming_the_limit():
    plan_limits.check_room(None, "teams", 100)  # no plan: no limit
    plan_limits.check_room({"teams": None}, "teams", 100)
    plan_limits.check_room({"teams": 2}, "teams", 1)
    error = refused(Conflict, plan_limits.check_room, {"teams": 2, "topics": 5}, "teams", 2)
    assert (error.code, error.errors) == ("plan_limit_reached", {"teams": ["the plan allows 2 teams"]})
    assert refused(Conflict, plan_limits.check_room, {"topics": 1}, "topics", 3).errors == {
        "topics": ["the plan allows 1 topic"]}
    assert refused(Conflict, plan_limits.check_room, {"topics": 0}, "topics", 0).detail == "the plan allows 0 topics"
