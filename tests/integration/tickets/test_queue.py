"""``POST /v1/queue/next`` in the tickets service layer, on the real
PostgreSQL: the most urgent waiting ticket across the caller's teams and the
tickets on no team, and the cost of finding it, which must not grow with the
tickets waiting (the ops bench found every call reading and sorting all of
a team's waiting tickets: docs/performance.md, "Agent operations"). Through
HTTP, with agents calling at once: tests/e2e/test_views_queue.py."""
from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest

from seedwork.caller import Caller
from services.tickets.application import build
from services.tickets.domain import queues
from services.tickets.queue import NEXT_CANDIDATES

AROUND_THE_CLOCK = {"time_zone": "UTC", "business_hours": [], "warning_minutes": None}


@pytest.fixture
def scene(store, clock):
    store_id = f"st_{uuid.uuid4().hex[:8]}"
    owner = Caller("agent", "ow_1", store_id, "owner")
    agent = Caller("agent", "ag_1", store_id, "agent")
    app = build(store, clock=clock)
    app.sla_policies.replace(owner, AROUND_THE_CLOCK)
    teams = [app.teams.create(owner, {"name": name})["team"]["id"] for name in ("Shipping", "Payments", "Returns")]
    for team in teams[:2]:
        app.teams.add_member(owner, team, agent.id)
    return app, owner, agent, teams


def open_ticket(app, owner, priority: str, team: str | None) -> str:
    shopper = Caller("customer", str(uuid.uuid4()), owner.store_id, "customer")
    ticket = app.writes.open(shopper, {"subject": "Where is my parcel?", "body": "Still nothing.",
                                       "priority": priority})["ticket"]
    if team is not None:
        app.writes.execute(owner, ticket["id"], [["assign", {"team": team}]])
    return ticket["id"]


def test_next_takes_the_most_urgent_waiting_ticket_of_the_callers_teams_and_of_none(scene, clock):
    app, owner, agent, (shipping, payments, returns) = scene
    opened = {}
    for name, priority, team in (("low shipping", "low", shipping), ("urgent payments", "urgent", payments),
                                 ("high none", "high", None), ("urgent returns", "urgent", returns),
                                 ("normal shipping", "normal", shipping), ("urgent shipping", "urgent", shipping)):
        opened[name] = open_ticket(app, owner, priority, team)
    names = {ticket_id: name for name, ticket_id in opened.items()}

    taken = []
    while (answer := app.queues.next_ticket(agent)) is not None:
        assert answer["ticket"]["assignee_id"] == agent.id
        taken.append(names[answer["ticket"]["id"]])
    # SLA due first (urgent, then high, ...: the same policy for all), then age; never another team's.
    assert taken == ["urgent payments", "urgent shipping", "high none", "normal shipping", "low shipping"]

    # Once the store scopes agents to their teams, they take only from their teams; the
    # owner, who sees every ticket, also takes those on no team.
    app.agent_settings.update(owner, {"ticket_visibility": "teams"})
    returns_agent = Caller("agent", "ag_2", owner.store_id, "agent")
    app.teams.add_member(owner, returns, returns_agent.id)
    no_team = open_ticket(app, owner, "urgent", None)
    assert app.queues.next_ticket(returns_agent)["ticket"]["id"] == opened["urgent returns"]
    assert app.queues.next_ticket(returns_agent) is None
    assert app.queues.next_ticket(agent) is None
    assert app.queues.next_ticket(owner)["ticket"]["id"] == no_team

def test_finding_the_next_ticket_reads_a_few_index_entries_however_many_wait(scene, database_url, store, clock):
    app, owner, agent, (shipping, payments, _) = scene
    for k in range(300):
        clock.now += timedelta(seconds=1)
        open_ticket(app, owner, ("low", "normal", "high", "urgent")[k % 4], (shipping, payments, None)[k % 3])
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"ANALYZE {store.schema}.ticket_list")
        # 300 rows fit in a few pages, where a sequential scan is cheapest; a store with
        # many tickets is planned with the indexes, which this stands for.
        conn.execute("SET enable_seqscan = off")
        with conn.transaction(force_rollback=True):
            plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + app.queues._candidates, {
                "store": owner.store_id, "spam": queues.SPAM_TAG, "teams": sorted([shipping, payments]),
                "scoped": False, "n": NEXT_CANDIDATES}).fetchone()[0][0]["Plan"]
    scans = []

    def walk(node):
        if node["Node Type"].endswith("Scan") and node.get("Relation Name") == "ticket_list":
            scans.append(node)
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan)
    # One ordered walk of the queue index per team and one for no team, each stopping early:
    # 100 tickets wait in each; a walk reads its candidates and what the sort on the ticket
    # number takes at a time (an incremental sort: 32 rows), not every waiting ticket.
    assert scans and all(s["Node Type"] == "Index Scan" and s["Index Name"] == "ticket_list_queue" for s in scans)
    walks = sum(s["Actual Loops"] for s in scans)
    assert walks == 3 and sum(s["Actual Rows"] * s["Actual Loops"] for s in scans) <= walks * 40
