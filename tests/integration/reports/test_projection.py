"""The reports' projection on the real PostgreSQL: the events of real
tickets (made by the tickets service layer), heard in order, shuffled with
duplicates, and by many workers at once, end in the same metrics and
rollups; a rebuild from the stored events gives them again; the summary
says what happened."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta

import eventlet

from seedwork.caller import Caller

from tests.integration.tickets.conftest import T0

from .conftest import once_for, reports_on

AROUND_THE_CLOCK = {"time_zone": "UTC", "business_hours": [], "warning_minutes": None,
                    "targets": {"high": {"first_response_minutes": 30, "next_response_minutes": None,
                                         "resolution_minutes": None}}}


def work_tickets(tickets, clock):
    """A store's history: tickets answered, solved, reopened, rated, moved between agents."""
    store_id = f"st_{uuid.uuid4().hex[:8]}"
    owner = Caller("agent", "ow_1", store_id, "owner")
    agents = [Caller("agent", f"ag_{n}", store_id, "agent") for n in range(3)]
    tickets.sla_policies.replace(owner, AROUND_THE_CLOCK)
    rng = random.Random(7)
    for n in range(12):
        shopper = Caller("customer", f"cu_{n % 4}", store_id, "customer")
        clock.now += timedelta(minutes=rng.randint(5, 90))
        ticket = tickets.writes.open(shopper, {"subject": f"Order {n} is late", "body": "Where is it?",
                                               "priority": rng.choice(("high", "normal"))})["ticket"]

        def then(minutes, who, *steps, ticket_id=ticket["id"]):
            clock.now += timedelta(minutes=minutes)
            tickets.writes.execute(who, ticket_id, list(steps))

        agent = agents[n % 3]
        then(2, owner, ["assign", {"assignee_id": agent.id}])
        if n % 6 == 5:
            continue  # never answered
        then(rng.randint(3, 80), agent, ["reply", {"body": "On its way"}], ["add_tag", {"tag": "shipping"}])
        if n % 4 == 1:
            then(10, shopper, ["reply", {"body": "Still nothing"}])
            then(25, agents[(n + 1) % 3], ["assign", {"assignee_id": agents[(n + 1) % 3].id}],
                 ["reply", {"body": "Sent again"}])
        then(15, agent, ["change_status", {"status": "solved"}])
        if n % 5 == 2:
            then(60, shopper, ["reply", {"body": "It broke"}])  # reopens it
            then(30, agent, ["change_status", {"status": "solved"}])
        if n % 2 == 0:
            then(5, shopper, ["rate", {"score": 1 + n % 5}])
    return store_id, owner


def every_event(tickets):
    """The whole log in global order (not ``read_all``: it stops below any transaction still running on the
    server, and other tests run beside this one)."""
    store = tickets.writes.store
    with store.transaction() as conn:
        return sorted((e for stream in store.iter_streams(conn) for e in stream), key=lambda e: e.position)


def contents(reports):
    """What a report could read: every metrics and rollup row."""
    s = reports.store.schema
    with reports.store.pool.connection() as conn:
        metrics = conn.execute(f"SELECT ticket_id, metrics, contributions FROM {s}.ticket_metrics "
                               "ORDER BY ticket_id").fetchall()
        rollups = conn.execute(f"SELECT store_id, dimension, day, key, measures FROM {s}.rollups "
                               "ORDER BY 1, 2, 3, 4").fetchall()
    return metrics, rollups


def forget_everything(reports):
    s = reports.store.schema
    with reports.store.transaction() as conn:
        for table in ("report_events", "ticket_metrics", "rollups", "store_policies", "processed_events"):
            conn.execute(f"DELETE FROM {s}.{table}")


def hear_all(reports, events):
    once = once_for(reports)
    for event in events:
        reports.hear(event, "tickets", once)


def test_shuffled_duplicated_and_concurrent_delivery_ends_where_ordered_delivery_does(
        pool, tickets, clock, reports_schema, another_reports_schema):
    store_id, owner = work_tickets(tickets, clock)
    events = every_event(tickets)
    in_order = reports_on(pool, reports_schema, clock)
    hear_all(in_order, events)
    expected = contents(in_order)
    assert len(expected[0]) == 12 and expected[1]

    messy = reports_on(pool, another_reports_schema, clock)
    for seed in (5, 6, 7):  # three orders of delivery, each by eight workers at once
        forget_everything(messy)
        shuffled = events + random.Random(seed).sample(events, len(events) // 3)  # a third delivered twice
        random.Random(seed).shuffle(shuffled)
        once = once_for(messy)
        green = eventlet.GreenPool(8)
        threads = [green.spawn(messy.hear, event, "tickets", once) for event in shuffled]
        for thread in threads:
            thread.wait()  # raises what a worker raised (a deadlock would)
        assert contents(messy) == expected, seed

    # Rebuilt from the events stored, the same again.
    assert messy.rebuild() == 12
    assert contents(messy) == expected


def test_the_summary_says_what_happened(pool, tickets, clock, reports_schema):
    store_id, owner = work_tickets(tickets, clock)
    reports = reports_on(pool, reports_schema, clock)
    hear_all(reports, every_event(tickets))
    period = {"from": T0.date().isoformat(), "to": clock.now.date().isoformat()}
    (whole,) = reports.summary(owner, {**period, "group_by": "month", "time": "calendar"})["items"]
    assert whole["created"] == 12
    assert whole["solved"] == 10  # a ticket counts once, on the day of the solve it stays at (the two reopened too)
    assert whole["reopened"] == 2
    assert whole["csat"]["count"] == 6  # the even-numbered, all answered and solved
    answer = reports.summary(owner, {**period, "group_by": "agent"})
    assert {item["key"] for item in answer["items"]} == {"ag_0", "ag_1", "ag_2"}
    assert answer["position"] == every_event(tickets)[-1].position
    # Another store's staff see nothing of it.
    stranger = Caller("agent", "ow_2", "st_other", "owner")
    assert reports.summary(stranger, period)["items"] == []


def business_minutes(reports, ticket_id):
    with reports.store.pool.connection() as conn:
        return conn.execute(f"SELECT metrics->>'first_response_business_minutes' FROM {reports.store.schema}"
                            ".ticket_metrics WHERE ticket_id = %s", (ticket_id,)).fetchone()[0]


def test_a_ticket_counts_by_the_policy_it_opened_under_until_the_store_restates_its_history(
        pool, tickets, clock, reports_schema):
    store_id = f"st_{uuid.uuid4().hex[:8]}"
    owner = Caller("agent", "ow_1", store_id, "owner")
    shopper = Caller("customer", "cu_1", store_id, "customer")
    tickets.sla_policies.replace(owner, AROUND_THE_CLOCK)
    clock.now = T0.replace(hour=20)  # a Monday evening
    before = tickets.writes.open(shopper, {"subject": "Late", "body": "Where is it?"})["ticket"]["id"]
    clock.now += timedelta(hours=1)
    tickets.writes.execute(owner, before, [["reply", {"body": "On its way"}]])
    # The store then keeps office hours: Monday 09:00-17:00 only.
    tickets.sla_policies.replace(owner, {**AROUND_THE_CLOCK,
                                         "business_hours": [{"day": "mon", "from": "09:00", "to": "17:00"}]})
    after = tickets.writes.open(shopper, {"subject": "Late again", "body": "And this one?"})["ticket"]["id"]
    clock.now += timedelta(minutes=30)
    tickets.writes.execute(owner, after, [["reply", {"body": "Tomorrow"}]])

    reports = reports_on(pool, reports_schema, clock)
    shuffled = every_event(tickets)
    random.Random(11).shuffle(shuffled)  # the second policy heard before or after the tickets: the same
    hear_all(reports, shuffled)
    assert float(business_minutes(reports, before)) == 60.0  # answered in the evening, around the clock then
    assert float(business_minutes(reports, after)) == 0.0  # the evening is outside the new hours

    assert reports.rebuild() == 2  # a plain rebuild changes nothing
    assert float(business_minutes(reports, before)) == 60.0
    reports.rebuild(store_id, restate=True)  # history follows the hours the store keeps now
    assert float(business_minutes(reports, before)) == 0.0
    heard = {e.event_id for e in shuffled}
    tickets.writes.execute(owner, before, [["change_status", {"status": "solved"}]])
    hear_all(reports, [e for e in every_event(tickets) if e.event_id not in heard])
    assert float(business_minutes(reports, before)) == 0.0  # measured again on its next event: still restated
