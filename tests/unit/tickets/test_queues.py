"""Views: the filter language, which views a ticket counts in, and who sees
which counter cell (services/tickets/domain/queues.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedwork.errors import InvalidCommand
from services.tickets.domain import queues
from services.tickets.domain.fields import PRIORITIES, STATUSES
from services.tickets.domain.queues import BUILT_IN_BY_ID, Row, Viewer

BUILT_IN = [(v.id, v.filter) for v in queues.BUILT_IN]


def row(**changes) -> Row:
    base = Row(status="open", priority="normal", assignee_id=None, team=None, topic_id=None, type="general",
               tags=(), customer_id="c-1", channel="widget", sla_state="running")
    return replace(base, **changes)


def in_views(r: Row) -> set[str]:
    return {key for key, _, _ in queues.counted_in(BUILT_IN, r)}


# --- the built-in views ---------------------------------------------------------------


def test_a_new_unassigned_ticket_is_unassigned_open_and_in_nobodys_mine():
    assert in_views(row()) == {"mine", "unassigned", "my_teams", "all_open"}
    # "mine" and "my teams" count it in its cell; who looks decides (viewer_condition).
    assert queues.counted_in(BUILT_IN, row(team="t-1"))  >= {("my_teams", "t-1", ""), ("all_open", "t-1", "")}


def test_solved_tickets_leave_every_open_view():
    assert in_views(row(status="solved")) == set()
    assert in_views(row(status="pending")) == {"mine", "unassigned", "my_teams", "all_open", "pending"}
    assert "on_hold" in in_views(row(status="on_hold"))


def test_sla_views_follow_the_tickets_sla_state():
    assert "breaching_soon" in in_views(row(sla_state="warning"))
    assert "breached" in in_views(row(sla_state="breached"))
    assert not {"breaching_soon", "breached"} & in_views(row(sla_state="running"))


def test_spam_leaves_every_view_but_spam():
    assert in_views(row(tags=("spam",))) == {"spam"}
    assert in_views(row(tags=("spam",), status="closed")) == {"spam"}


def test_tickets_the_platform_handles_are_in_no_store_view():
    assert in_views(row(handled_by="platform")) == set()


# --- the counters move as tickets move ------------------------------------------------


def test_assigning_moves_the_ticket_from_the_unassigned_cell_to_the_agents():
    before, after = row(team="t-1"), row(team="t-1", assignee_id="a-1")
    changes = queues.count_changes(BUILT_IN, before, after)
    assert ("unassigned", "t-1", "", -1) in changes
    assert ("mine", "t-1", "a-1", 1) in changes and ("mine", "t-1", "", -1) in changes
    assert changes == sorted(changes)  # one lock order for every writer


def test_an_unchanged_ticket_moves_no_counter_and_a_new_one_only_adds():
    assert queues.count_changes(BUILT_IN, row(), row()) == []
    assert all(delta == 1 for *_, delta in queues.count_changes(BUILT_IN, None, row()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STATUSES), st.sampled_from(PRIORITIES),
                          st.sampled_from([None, "a-1", "a-2"]), st.sampled_from([None, "t-1", "t-2"]),
                          st.sampled_from(queues.SLA_STATES), st.booleans()), min_size=1, max_size=12))
def test_summing_the_changes_of_any_history_gives_the_counts_of_its_last_state(steps):
    counters: dict = {}
    previous = None
    for status, priority, assignee, team, sla_state, spam in steps:
        current = row(status=status, priority=priority, assignee_id=assignee, team=team, sla_state=sla_state,
                      tags=("spam",) if spam else ())
        for key, cell_team, cell_assignee, delta in queues.count_changes(BUILT_IN, previous, current):
            counters[key, cell_team, cell_assignee] = counters.get((key, cell_team, cell_assignee), 0) + delta
        previous = current
    assert {k: n for k, n in counters.items() if n} == {k: 1 for k in queues.counted_in(BUILT_IN, previous)}


# --- who looks --------------------------------------------------------------------------


def test_mine_counts_only_the_viewers_cells_and_my_teams_only_their_teams():
    sara = Viewer("a-1", frozenset({"t-1"}))
    mine, my_teams = BUILT_IN_BY_ID["mine"].filter, BUILT_IN_BY_ID["my_teams"].filter
    assert queues.viewer_condition(mine, sara, "t-9", "a-1")
    assert not queues.viewer_condition(mine, sara, "t-1", "a-2")
    assert not queues.viewer_condition(mine, Viewer(None), "", "")  # a caller without an id has no "mine"
    assert queues.viewer_condition(my_teams, sara, "t-1", "a-2")
    assert not queues.viewer_condition(my_teams, sara, "", "a-1")


def test_a_team_scoped_agent_sees_their_teams_cells_and_their_own():
    scoped = Viewer("a-1", frozenset({"t-1"}), scoped=True)
    everything = BUILT_IN_BY_ID["all_open"].filter
    assert queues.viewer_condition(everything, scoped, "t-1", "")
    assert queues.viewer_condition(everything, scoped, "t-2", "a-1")
    assert not queues.viewer_condition(everything, scoped, "t-2", "a-2")
    assert not queues.viewer_condition(everything, scoped, "", "")
    assert queues.viewer_condition(everything, replace(scoped, scoped=False), "", "")


# --- the filter language ---------------------------------------------------------------


def test_a_filter_is_normalised():
    assert queues.clean_filter({"status": "pending,open", "priority": ["high"], "tag": " VIP ", "assignee_id": "me",
                                "team": "mine", "channel": "email"}) == {
        "status": ["open", "pending"], "priority": ["high"], "tag": "vip", "assignee_id": "me", "team": "mine",
        "channel": "email"}


@pytest.mark.parametrize("raw, field", [
    ({"colour": "red"}, "filter.colour"),
    ({"status": ["opened"]}, "filter.status"),
    ({"status": []}, "filter.status"),
    ({"sla": ["late"]}, "filter.sla"),
    ({"channel": "fax"}, "filter.channel"),
    ({"tag": "no spaces please"}, "filter.tag"),
    ({"assignee_id": ""}, "filter.assignee_id"),
])
def test_a_bad_filter_is_refused_naming_its_key(raw, field):
    with pytest.raises(InvalidCommand) as refused:
        queues.clean_filter(raw)
    assert field in refused.value.errors


def test_a_view_has_a_name_a_sort_and_known_columns():
    view = queues.clean_view({"name": "VIP waiting", "filter": {"tag": "vip"}})
    assert view == {"name": "VIP waiting", "filter": {"tag": "vip"}, "sort": "-updated",
                    "columns": list(queues.DEFAULT_COLUMNS)}
    for bad, field in (({"name": "x", "filter": {}, "sort": "random"}, "sort"),
                       ({"name": "x", "filter": {}, "columns": ["number", "number"]}, "columns"),
                       ({"name": "x", "filter": {}, "columns": ["secret"]}, "columns"),
                       ({"name": "", "filter": {}}, "name"),
                       ({"name": "x", "filter": {}, "owner": "me"}, "owner")):
        with pytest.raises(InvalidCommand) as refused:
            queues.clean_view(bad)
        assert field in refused.value.errors
    assert queues.clean_view({"name": "renamed"}, partial=True) == {"name": "renamed"}
