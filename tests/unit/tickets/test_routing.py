"""The pure rules of routing (services/tickets/domain/routing.py): who is
eligible, round robin, least loaded, skills as a filter, capacity, the order
waiting tickets are taken in, which events wake the router; and routing's
``ticket.assigned`` (the mode and the reason in its data, routing's only)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedwork.envelope import Actor
from seedwork.errors import Forbidden, InvalidCommand
from services.tickets.domain import routing
from services.tickets.domain.commands import Assign, OpenTicket
from services.tickets.domain.decisions import decide
from services.tickets.domain.routing import Agent, Queue, Waiting
from services.tickets.domain.ticket import fold, stored

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
ROUTER = Actor("system", "routing")


def online(agent_id, **fields) -> Agent:
    return Agent(agent_id, availability="online", **fields)


def queue(mode, *members, last=None, key="team-1") -> Queue:
    return Queue(key=key, mode=mode, members=tuple(members), last_agent=last)


def ticket(ticket_id="t-1", key="team-1", **fields) -> Waiting:
    return Waiting(id=ticket_id, queue=key, **fields)


# --- who may take a ticket ------------------------------------------------------------------------


def test_an_agent_is_available_online_and_below_capacity():
    assert online("a").available
    assert online("a", capacity=3, load=2).available
    assert not online("a", capacity=3, load=3).available  # full
    assert not online("a", capacity=0).available  # takes nothing automatically
    assert online("a", capacity=None, load=500).available  # no limit
    assert not Agent("a", availability="away").available
    assert not Agent("a").available  # never changed: offline


def test_a_manual_queue_assigns_nobody():
    assert routing.choose(queue("manual", online("a")), ticket()) is None


def test_nobody_available_leaves_the_ticket_waiting():
    members = (Agent("a", availability="away"), online("b", capacity=1, load=1), Agent("c"))
    for mode in routing.AUTOMATIC:
        assert routing.choose(queue(mode, *members), ticket()) is None


# --- round robin ---------------------------------------------------------------------------------


def test_round_robin_takes_the_next_eligible_member_after_the_last_one_routed():
    a, b, c = online("a"), online("b"), online("c")
    assert routing.choose(queue("round_robin", a, b, c), ticket()).id == "a"  # nobody yet: the first
    assert routing.choose(queue("round_robin", a, b, c, last="a"), ticket()).id == "b"
    assert routing.choose(queue("round_robin", a, b, c, last="c"), ticket()).id == "a"  # wraps around
    # b is away: skipped, and the turn goes on from a.
    away = Agent("b", availability="away")
    assert routing.choose(queue("round_robin", a, away, c, last="a"), ticket()).id == "c"
    # The last one left the team: from the first member again.
    assert routing.choose(queue("round_robin", a, b, c, last="gone"), ticket()).id == "a"


def test_round_robin_over_many_tickets_gives_each_member_a_turn():
    members = [online(x) for x in "abcd"]
    last, counts = None, {x: 0 for x in "abcd"}
    for n in range(10):
        chosen = routing.choose(queue("round_robin", *members, last=last), ticket(f"t{n}"))
        counts[chosen.id] += 1
        last = chosen.id
    assert counts == {"a": 3, "b": 3, "c": 2, "d": 2}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=8), st.integers(0, 60))
def test_round_robin_is_fair_among_the_members_always_available(available, rounds):
    members = [online(f"a{n}") if up else Agent(f"a{n}") for n, up in enumerate(available)]
    last, counts = None, {m.id: 0 for m in members}
    for n in range(rounds):
        chosen = routing.choose(queue("round_robin", *members, last=last), ticket(f"t{n}"))
        if chosen is None:
            assert not any(available)
            return
        counts[chosen.id] += 1
        last = chosen.id
    given_any = [counts[m.id] for m in members if m.available]
    assert all(counts[m.id] == 0 for m in members if not m.available)
    assert not given_any or max(given_any) - min(given_any) <= 1


# --- least loaded --------------------------------------------------------------------------------


def test_least_loaded_takes_the_member_with_fewest_open_tickets():
    members = (online("a", load=4), online("b", load=1), online("c", load=2))
    assert routing.choose(queue("least_loaded", *members), ticket()).id == "b"


def test_least_loaded_breaks_ties_by_who_was_routed_longest_ago_then_member_order():
    members = (online("a", load=1, last_routed=7), online("b", load=1, last_routed=3), online("c", load=1))
    assert routing.choose(queue("least_loaded", *members), ticket()).id == "c"  # never routed: 0
    members = (online("a", load=1, last_routed=7), online("b", load=1, last_routed=3))
    assert routing.choose(queue("least_loaded", *members), ticket()).id == "b"
    members = (online("a"), online("b"))
    assert routing.choose(queue("least_loaded", *members), ticket()).id == "a"


def test_least_loaded_respects_capacity():
    members = (online("a", load=2, capacity=2), online("b", load=5, capacity=6), online("c", load=9))
    assert routing.choose(queue("least_loaded", *members), ticket()).id == "b"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.one_of(st.none(), st.integers(0, 5))), min_size=1, max_size=6),
       st.integers(0, 40))
def test_routing_never_fills_an_agent_past_capacity(agents, tickets):
    members = [online(f"a{n}", load=load, capacity=cap) for n, (load, cap) in enumerate(agents)]
    for mode in routing.AUTOMATIC:
        team, last, seq = list(members), None, 0
        for n in range(tickets):
            chosen = routing.choose(queue(mode, *team, last=last), ticket(f"t{n}"))
            if chosen is None:
                assert not any(m.available for m in team)
                break
            assert chosen.capacity is None or chosen.load < chosen.capacity
            seq += 1
            team = [Agent(m.id, m.availability, m.capacity, m.skills, m.load + 1, seq) if m.id == chosen.id else m
                    for m in team]
            last = chosen.id
        for before, after in zip(members, team):
            assert after.capacity is None or after.load <= max(after.capacity, before.load)


# --- skills as a filter ----------------------------------------------------------------------------


def test_a_ticket_needs_only_the_labels_some_member_has_as_a_skill():
    team = queue("round_robin", online("a", skills=frozenset({"vip", "returns"})), online("b"))
    assert routing.needs(ticket(tags=("vip", "late")), team) == {"vip"}  # nobody has "late"
    assert routing.needs(ticket(type="returns"), team) == {"returns"}
    assert routing.needs(ticket(), team) == frozenset()


def test_labels_are_the_type_the_topic_the_tags_and_the_language():
    assert routing.labels("general", "tp-1", ("vip",), "ar") == {"general", "topic:tp-1", "vip", "lang:ar"}
    assert routing.labels("general", None, ()) == {"general"}


def test_only_an_agent_with_every_need_takes_the_ticket():
    vip = online("vip", skills=frozenset({"vip", "topic:tp-1"}))
    half = online("half", skills=frozenset({"vip"}))
    plain = online("plain")
    team = queue("round_robin", plain, half, vip)
    assert routing.choose(team, ticket(tags=("vip",), topic_id="tp-1")).id == "vip"
    assert routing.choose(team, ticket(tags=("vip",))).id == "half"  # after plain, the next with vip
    assert routing.choose(team, ticket()).id == "plain"  # no needs: any member


def test_a_ticket_whose_skilled_member_is_busy_waits_for_them():
    team = queue("least_loaded", online("vip", skills=frozenset({"vip"}), capacity=1, load=1), online("plain"))
    assert routing.choose(team, ticket(tags=("vip",))) is None
    # A skill nobody in the team has filters nothing.
    assert routing.choose(team, ticket(tags=("gold",))).id == "plain"


# --- waiting tickets in order ------------------------------------------------------------------------


def test_picks_go_in_the_order_given_and_pass_over_tickets_nobody_may_take():
    queues = {"t1": queue("round_robin", online("vip", skills=frozenset({"vip"}), capacity=0), online("a"),
                          key="t1"),
              "t2": queue("manual", online("b"), key="t2")}
    waiting = [ticket("urgent-vip", "t1", tags=("vip",)), ticket("manual", "t2"), ticket("other-team", "t3"),
               ticket("next", "t1"), ticket("later", "t1")]
    assert [(t.id, a.id) for t, a, _ in routing.picks(waiting, queues)] == [("next", "a"), ("later", "a")]


def test_urgency_is_sla_due_first_then_priority_then_age():
    t0 = NOW
    rows = {
        "due-later": (t0 + timedelta(hours=2), 1, t0, 1),
        "due-soon": (t0 + timedelta(hours=1), 0, t0 + timedelta(minutes=5), 2),
        "no-sla-urgent": (None, 3, t0, 3),
        "no-sla-old": (None, 1, t0 - timedelta(days=1), 4),
        "no-sla-new": (None, 1, t0, 5),
    }
    ordered = sorted(rows, key=lambda k: routing.urgency(*rows[k]))
    assert ordered == ["due-soon", "due-later", "no-sla-urgent", "no-sla-old", "no-sla-new"]


def test_anyone_available_looks_only_at_automatic_queues():
    assert routing.anyone_available([queue("least_loaded", Agent("a"), online("b"))])
    assert not routing.anyone_available([queue("manual", online("a")), queue("round_robin", Agent("b"))])


# --- which events wake the router --------------------------------------------------------------------


STAFF = Actor("agent", "ag-1")


def event(type_, data, actor=STAFF):
    return SimpleNamespace(type=type_, data=data, actor=actor)


@pytest.mark.parametrize("type_, data, actor, wakes", [
    ("ticket.opened", {}, Actor("customer", "c-1"), [routing.Wake("ticket")]),
    ("ticket.replied", {}, Actor("customer", "c-1"), [routing.Wake("ticket")]),
    ("ticket.replied", {}, Actor("agent", "ag-1"), []),
    # Put on a team, nobody assigned: it waits there.
    ("ticket.assigned", {"assignee_id": None, "team": "tm", "previous_assignee_id": None}, None,
     [routing.Wake("ticket")]),
    # Moved from one agent to another: the first has room now.
    ("ticket.assigned", {"assignee_id": "b", "team": "tm", "previous_assignee_id": "a"}, None,
     [routing.Wake("agent", agent_id="a")]),
    ("ticket.unassigned", {"previous_assignee_id": "a", "previous_team": "tm"}, None,
     [routing.Wake("ticket"), routing.Wake("agent", agent_id="a")]),
    ("ticket.status_changed", {"status": "open", "previous": "solved"}, None,
     [routing.Wake("reopened"), routing.Wake("ticket")]),
    ("ticket.status_changed", {"status": "open", "previous": "pending"}, None, [routing.Wake("ticket")]),
    ("ticket.status_changed", {"status": "solved", "previous": "open"}, None, [routing.Wake("agent")]),
    ("ticket.status_changed", {"status": "closed", "previous": "solved"}, None, []),  # freed when solved
    ("ticket.status_changed", {"status": "pending", "previous": "open"}, None, []),
    ("ticket.merged", {}, None, [routing.Wake("agent")]),
    ("agent.profile_updated", {"agent_id": "a", "changes": {"availability": "online"},
                               "profile": {"availability": "online"}}, None, [routing.Wake("agent", agent_id="a")]),
    ("agent.profile_updated", {"agent_id": "a", "changes": {"capacity": 9},
                               "profile": {"availability": "online"}}, None, [routing.Wake("agent", agent_id="a")]),
    ("agent.profile_updated", {"agent_id": "a", "changes": {"capacity": 9},
                               "profile": {"availability": "away"}}, None, []),
    ("agent.profile_updated", {"agent_id": "a", "changes": {"availability": "offline"},
                               "profile": {"availability": "offline"}}, None, []),
    ("team.member_added", {"team_id": "tm", "agent_id": "a"}, None, [routing.Wake("team", team_id="tm")]),
    ("team.updated", {"team_id": "tm", "changes": {"assignment": {"mode": "round_robin"}}}, None,
     [routing.Wake("team", team_id="tm")]),
    ("team.updated", {"team_id": "tm", "changes": {"name": "X"}}, None, []),
    ("agent_settings.updated", {"changes": {"assignment_mode": "least_loaded"}}, None, [routing.Wake("no_team")]),
    ("agent_settings.updated", {"changes": {"ticket_visibility": "teams"}}, None, []),
])
def test_what_each_event_asks_of_the_router(type_, data, actor, wakes):
    assert routing.wakes(event(type_, data, actor or STAFF), ROUTER) == wakes
    assert type_ in routing.TRIGGER_TYPES


def test_routings_own_assignments_wake_nothing():
    assert routing.wakes(event("ticket.unassigned", {"previous_assignee_id": "a"}, ROUTER), ROUTER) == []


def test_a_reopened_ticket_moves_when_its_assignee_is_offline_only():
    assert routing.needs_rerouting("open", "offline")
    assert not routing.needs_rerouting("open", "away")
    assert not routing.needs_rerouting("open", "online")
    assert not routing.needs_rerouting("pending", "offline")


# --- routing's ticket.assigned -------------------------------------------------------------------------


def opened():
    events = decide(None, OpenTicket(actor=Actor("customer", "c-1"), ticket_id="t-1", store_id="st-1", number=1001,
                                     subject="Late", body="Where is it?", team="tm"), NOW)
    return fold(stored(events, 0))


def test_routing_records_its_mode_and_reason_in_the_assignment():
    [assigned] = decide(opened(), Assign(actor=ROUTER, assignee_id="a", routed_by="round_robin", reason="waiting"),
                        NOW)
    assert assigned.type == "ticket.assigned"
    assert assigned.data == {"assignee_id": "a", "team": "tm", "previous_assignee_id": None, "previous_team": "tm",
                             "routed_by": "round_robin", "reason": "waiting"}
    # Back to the queue, on no team: an unassignment that says so.
    state = replace(fold(stored([assigned], 1), opened()), team=None)
    [back] = decide(state, Assign(actor=ROUTER, assignee_id=None, routed_by="least_loaded",
                                  reason="assignee_offline"), NOW)
    assert (back.type, back.data["routed_by"], back.data["reason"]) == (
        "ticket.unassigned", "least_loaded", "assignee_offline")


def test_only_routing_says_it_routed_and_only_in_its_words():
    with pytest.raises(Forbidden) as refused:
        decide(opened(), Assign(actor=Actor("agent", "ag-1"), assignee_id="a", routed_by="round_robin",
                                reason="waiting"), NOW)
    assert list(refused.value.errors) == ["routed_by"]
    with pytest.raises(InvalidCommand) as bad:
        decide(opened(), Assign(actor=ROUTER, assignee_id="a", routed_by="random", reason="waiting"), NOW)
    assert list(bad.value.errors) == ["routed_by"]
    with pytest.raises(InvalidCommand) as bad:
        decide(opened(), Assign(actor=ROUTER, assignee_id="a", routed_by="least_loaded", reason="because"), NOW)
    assert list(bad.value.errors) == ["reason"]
    # Staff assignments stay as they were.
    [plain] = decide(opened(), Assign(actor=Actor("agent", "ag-1"), assignee_id="a"), NOW)
    assert "routed_by" not in plain.data and "reason" not in plain.data
