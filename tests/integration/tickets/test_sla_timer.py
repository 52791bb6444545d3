"""The SLA timer in the tickets service layer, on the real PostgreSQL, with a
clock the test moves: warnings and breaches fire at their moments, once, from
two timers ("replicas") ticking at the same time and across a timer that dies
half-way; a policy change recomputes open tickets. Through HTTP, with a
replica killed for real: tests/e2e/test_sla.py."""
from __future__ import annotations

import uuid
from datetime import timedelta

import eventlet
import pytest

from seedwork.caller import Caller
from services.tickets.application import build

from .conftest import T0

AROUND_THE_CLOCK = {"time_zone": "UTC", "business_hours": [], "warning_minutes": 10,
                    "targets": {"high": {"first_response_minutes": 30, "next_response_minutes": 60,
                                         "resolution_minutes": 240}}}


@pytest.fixture
def people():
    store_id = f"st_{uuid.uuid4().hex[:8]}"
    return (Caller("agent", "ow_1", store_id, "owner"), Caller("customer", str(uuid.uuid4()), store_id, "customer"))


def sla_events(store, ticket_id):
    return [(e.type, e.data["target"], e.data["cycle"]) for e in store.load(ticket_id) if e.type.startswith("sla.")]


def test_a_warning_and_a_breach_fire_once_each_at_their_moments_from_two_timers(store, clock, people):
    owner, shopper = people
    one, two = build(store, clock=clock), build(store, clock=clock)  # two replicas, one database
    one.sla_policies.replace(owner, AROUND_THE_CLOCK)
    ticket = one.writes.open(shopper, {"subject": "Charged twice", "body": "Two charges", "priority": "high"})["ticket"]

    def tick_together(times=5):
        pool = eventlet.GreenPool()
        for _ in range(times):
            pool.spawn(one.sla_timer.tick)
            pool.spawn(two.sla_timer.tick)
        pool.waitall()

    clock.now = T0 + timedelta(minutes=19)
    tick_together()
    assert sla_events(store, ticket["id"]) == []  # the ticket opened at T0's "now": nothing due yet

    opened = store.load(ticket["id"])[0].occurred_at
    clock.now = opened + timedelta(minutes=20, seconds=1)  # 30 - 10: the warning
    tick_together()
    assert sla_events(store, ticket["id"]) == [("sla.warning", "first_response", 1)]
    clock.now = opened + timedelta(minutes=30, seconds=1)
    tick_together()
    tick_together()
    assert sla_events(store, ticket["id"]) == [("sla.warning", "first_response", 1),
                                               ("sla.breached", "first_response", 1)]
    seen = one.reads.get(owner, ticket["id"])
    first = next(t for t in seen["sla"]["targets"] if t["kind"] == "first_response")
    assert first["breached"] and first["met_at"] is None


def test_a_timer_that_dies_half_way_leaves_the_breach_to_the_next_tick(store, clock, people):
    owner, shopper = people
    dying, alive = build(store, clock=clock), build(store, clock=clock)
    dying.sla_policies.replace(owner, {**AROUND_THE_CLOCK, "warning_minutes": None})
    ticket = dying.writes.open(shopper, {"subject": "Late", "body": "Where is it?", "priority": "high"})["ticket"]
    clock.now = store.load(ticket["id"])[0].occurred_at + timedelta(minutes=31)

    def crash(*args, **kwargs):
        raise RuntimeError("the replica is killed here, after the append, before the commit")

    dying.sla_timer.read_models.project = crash
    with pytest.raises(RuntimeError):
        dying.sla_timer.tick()
    assert sla_events(store, ticket["id"]) == []  # rolled back: nothing was emitted

    alive.sla_timer.tick()
    alive.sla_timer.tick()
    assert sla_events(store, ticket["id"]) == [("sla.breached", "first_response", 1)]


def test_a_replica_that_listed_a_ticket_before_another_fired_it_leaves_it_alone(store, clock, people):
    # Two replicas read the due list at the same moment; one fires every
    # ticket on it before the other gets to them. The late one must neither
    # emit again nor fold and project the tickets a second time.
    owner, shopper = people
    early, late = build(store, clock=clock), build(store, clock=clock)
    early.sla_policies.replace(owner, {**AROUND_THE_CLOCK, "warning_minutes": None})
    ids = [early.writes.open(shopper, {"subject": f"Late {n}", "body": "Where is it?", "priority": "high"})
           ["ticket"]["id"] for n in range(3)]
    now = clock.now = max(store.load(i)[0].occurred_at for i in ids) + timedelta(minutes=31)

    listed = late.sla_timer.due_tickets(now)
    assert sorted(listed) == sorted(ids)
    assert early.sla_timer.fire(listed, now) == 3

    projected = []
    real_project = late.sla_timer.read_models.project
    late.sla_timer.read_models.project = lambda conn, state, history: (
        projected.append(state.id), real_project(conn, state, history))
    assert late.sla_timer.fire(listed, now) == 0
    assert projected == []
    assert all(sla_events(store, i) == [("sla.breached", "first_response", 1)] for i in ids)


def test_a_policy_change_recomputes_the_open_tickets_and_keeps_the_solved_ones(store, clock, people):
    owner, shopper = people
    tickets = build(store, clock=clock)
    tickets.sla_policies.replace(owner, AROUND_THE_CLOCK)
    open_one = tickets.writes.open(shopper, {"subject": "A", "body": "a", "priority": "high"})["ticket"]
    solved = tickets.writes.open(shopper, {"subject": "B", "body": "b", "priority": "high"})["ticket"]
    tickets.writes.execute(owner, solved["id"], [["change_status", {"status": "solved"}]])

    tickets.sla_policies.replace(owner, {**AROUND_THE_CLOCK, "targets": {"high": {"first_response_minutes": 90}}})
    # The policy's stream is no ticket, for a service that asks about any stream id.
    assert tickets.reads.basics(owner.store_id, f"sla-policy:{owner.store_id}") is None
    assert tickets.reads.get(owner, open_one["id"])["sla"]["policy_version"] == 1  # not yet: the timer does it
    tickets.sla_timer.tick()

    now_open = tickets.reads.get(owner, open_one["id"])["sla"]
    due = next(t for t in now_open["targets"] if t["kind"] == "first_response")["due_at"]
    assert now_open["policy_version"] == 2 and due == "2026-11-23T13:30:00Z"  # T0 + 90 minutes
    assert tickets.reads.get(owner, solved["id"])["sla"]["policy_version"] == 1
    # Rebuilt from the log, the same.
    before = tickets.reads.get(owner, open_one["id"])["sla"]
    tickets.read_models.rebuild()
    assert tickets.reads.get(owner, open_one["id"])["sla"] == before
