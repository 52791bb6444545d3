"""Read marks and each topic's unread counts in the tickets service layer, on
the real PostgreSQL, in process: the counters (``read_marks.InboxCounts``)
always say what counting the tables says, after every kind of ticket change,
for scoped and unscoped agents, under concurrent reads and customer replies,
and again after a rebuild. The same through HTTP is in
tests/e2e/test_forward_unread.py."""
from __future__ import annotations

import random
import uuid

import eventlet
import pytest

from seedwork.caller import Caller
from services.tickets.application import build
from services.tickets.config import TicketsConfig


@pytest.fixture
def tickets(store, clock):
    return build(store, TicketsConfig(), clock=clock)


@pytest.fixture
def shop(tickets):
    """A store with two teams, two topics (one on a team), three agents and two shoppers."""
    store_id = f"st_{uuid.uuid4().hex[:8]}"
    owner = Caller("agent", "ag_owner", store_id, "owner")
    agents = [Caller("agent", f"ag_{n}", store_id, "agent") for n in range(3)]
    ops = tickets.teams.create(owner, {"name": "Ops"})["team"]["id"]
    billing = tickets.teams.create(owner, {"name": "Billing"})["team"]["id"]
    tickets.teams.add_member(owner, billing, agents[1].id)
    topics = [tickets.topics.create(owner, {"names": {"en": "Service"}})["topic"]["id"],
              tickets.topics.create(owner, {"names": {"en": "Invoices"}, "team_id": billing})["topic"]["id"]]
    shoppers = [Caller("customer", str(uuid.uuid4()), store_id, "customer") for _ in range(2)]
    return {"owner": owner, "agents": agents, "teams": [ops, billing], "topics": topics, "shoppers": shoppers}


def assert_counters_agree(tickets, shop) -> dict:
    """Each agent's counts from the counters equal the counts from the tables; the answers by agent."""
    answers = {}
    for agent in (*shop["agents"], shop["owner"]):
        kept = tickets.read_marks.unread_by_topic(agent)
        counted = tickets.read_marks.counted(agent)
        assert {i["topic_id"]: i["unread"] for i in kept["items"] if i["unread"]} == counted, agent.id
        assert kept["total"] == sum(counted.values())
        answers[agent.id] = kept
    return answers


def counter_cells(store) -> tuple[list, list]:
    """Both counter tables summed over their shards, non-zero cells only."""
    s = store.schema
    with store.pool.connection() as conn:
        inbox = conn.execute(f"SELECT store_id, topic, team, assignee, sum(n) FROM {s}.inbox_counts "
                             "GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4").fetchall()
        read = conn.execute(f"SELECT store_id, agent_id, topic, team, assignee, sum(n) FROM {s}.inbox_read_counts "
                            "GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4, 5").fetchall()
    return inbox, read


def test_the_counters_say_what_counting_says_after_every_kind_of_change(tickets, shop, store):
    rng = random.Random(15)
    owner, agents, shoppers = shop["owner"], shop["agents"], shop["shoppers"]
    opened = []

    def open_one():
        shopper = rng.choice(shoppers)
        topic = rng.choice([*shop["topics"], None])
        fields = {"subject": f"Ticket {len(opened)}", "body": "Help", **({"topic_id": topic} if topic else {})}
        opened.append((tickets.writes.open(shopper, fields)["ticket"]["id"], shopper))

    def step():
        ticket_id, shopper = rng.choice(opened)
        staff = rng.choice([*agents, owner])
        actions = [
            lambda: tickets.read_marks.mark_read(rng.choice([*agents, owner]), ticket_id),
            lambda: tickets.writes.execute(shopper, ticket_id, [["reply", {"body": "Any news?"}]]),
            lambda: tickets.writes.execute(staff, ticket_id, [["reply", {"body": "On it", "note": "n"}]]),
            lambda: tickets.writes.execute(staff, ticket_id, [["forward", {
                "agent_id": rng.choice(agents).id, "note": "yours"}]]),
            lambda: tickets.writes.execute(staff, ticket_id, [["forward", {
                "team_id": rng.choice(shop["teams"]), "note": "the team's"}]]),
            lambda: tickets.writes.execute(staff, ticket_id, [["change_status", {
                "status": rng.choice(["pending", "on_hold", "solved", "open"])}]]),
            lambda: tickets.writes.execute(staff, ticket_id, [["add_tag", {"tag": "spam"}]]),
            lambda: tickets.writes.execute(staff, ticket_id, [["remove_tag", {"tag": "spam"}]]),
            lambda: tickets.writes.execute(staff, ticket_id, [["forward_by_email", {
                "email": "courier@example.com", "note": "see"}]]),
        ]
        try:
            rng.choice(actions)()
        except Exception as refused:  # a transition the ticket refuses, a forward to where it is: nothing moved
            assert getattr(refused, "code", None), refused

    for _ in range(8):
        open_one()
    for n in range(160):
        step()
        if n % 40 == 39:
            open_one()
        if n % 10 == 0:
            assert_counters_agree(tickets, shop)
    before = assert_counters_agree(tickets, shop)
    assert any(a["total"] for a in before.values())

    # Team-scoped: the same counters, summed over the cells each agent may see.
    tickets.agent_settings.update(owner, {"ticket_visibility": "teams"})
    scoped = assert_counters_agree(tickets, shop)
    assert scoped[agents[2].id]["total"] <= before[agents[2].id]["total"]

    # A rebuild counts them again from the tables, to the same cells.
    cells = counter_cells(store)
    tickets.read_models.rebuild()
    tickets.read_marks.rebuild()
    assert counter_cells(store) == cells
    assert assert_counters_agree(tickets, shop) == scoped


def test_reads_racing_customer_replies_and_forwards_leave_the_counters_right(tickets, shop, store):
    owner, agents, shoppers = shop["owner"], shop["agents"], shop["shoppers"]
    ids = [tickets.writes.open(shoppers[n % 2], {"subject": f"Race {n}", "body": "Help",
                                                  "topic_id": shop["topics"][n % 2]})["ticket"]["id"]
           for n in range(6)]
    shopper_of = {ticket_id: shoppers[n % 2] for n, ticket_id in enumerate(ids)}

    def reader(agent, rounds):
        for n in range(rounds):
            tickets.read_marks.mark_read(agent, ids[n % len(ids)])

    def replier(rounds):
        for n in range(rounds):
            ticket_id = ids[(n * 5) % len(ids)]
            tickets.writes.execute(shopper_of[ticket_id], ticket_id, [["reply", {"body": f"again {n}"}]])

    def forwarder(rounds):
        for n in range(rounds):
            try:
                tickets.writes.execute(owner, ids[(n * 7) % len(ids)], [["forward", {
                    "team_id": shop["teams"][n % 2], "note": "moving"}]])
            except Exception as refused:  # already on that team, no agent: a conflict, nothing moved
                assert getattr(refused, "code", None) == "already_assigned", refused

    pool = eventlet.GreenPool()
    for agent in agents:
        pool.spawn(reader, agent, 40)
    pool.spawn(replier, 40)
    pool.spawn(forwarder, 20)
    pool.waitall()

    assert_counters_agree(tickets, shop)
    cells = counter_cells(store)
    tickets.read_marks.rebuild()
    assert counter_cells(store) == cells


def test_a_mark_reads_up_to_the_last_customer_message_and_again_records_nothing(tickets, shop, store):
    agent, shopper = shop["agents"][0], shop["shoppers"][0]
    ticket = tickets.writes.open(shopper, {"subject": "Once", "body": "Hello"})["ticket"]
    first = tickets.read_marks.mark_read(agent, ticket["id"])
    assert first["marked"] and first["read_up_to"]["version"] == 1
    again = tickets.read_marks.mark_read(agent, ticket["id"])
    assert not again["marked"] and again["read_up_to"] == first["read_up_to"]
    stream = f"reads:{agent.store_id}:{agent.id}"
    assert [e.type for e in store.load(stream)] == ["agent.ticket_read"]  # one event: the mark moved once
    with pytest.raises(Exception) as refused:
        tickets.read_marks.mark_read(shopper, ticket["id"])
    assert refused.value.code == "staff_only"
