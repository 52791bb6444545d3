"""Category rules in the tickets service layer, on the real PostgreSQL, in
process: read in the opening's transaction, applied before a flow's own
steps, the customer's groups from the local replica, the platform's tickets
left alone, a replayed opening not applied twice, and the table rebuilt from
the rules' streams. Through HTTP: tests/e2e/test_rules.py."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.caller import Caller
from seedwork.errors import Conflict, InvalidCommand
from seedwork.store import EventStore
from services.tickets import agent_ops
from services.tickets.application import build
from services.tickets.config import TicketsConfig
from tests.integration.tickets.test_customer_replica import event

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def tickets(pool, tickets_schema):
    return build(EventStore(pool, tickets_schema), TicketsConfig(), clock=lambda: NOW)


@pytest.fixture
def store_id(tickets):
    store_id = f"st_{uuid.uuid4().hex[:8]}"
    tickets.settings.update(owner(store_id), {"enabled": True})
    return store_id


def owner(store_id):
    return Caller("agent", "ag_owner", store_id, "owner")


def shopper(store_id):
    return Caller("customer", str(uuid.uuid4()), store_id, "customer")


def cond(field, op, value):
    return {"field": field, "op": op, "value": value}


def new_rule(tickets, store_id, name, *conditions, **fields):
    return tickets.rules.create(owner(store_id), {"name": name, "conditions": {"all": list(conditions)},
                                                  **fields})["rule"]


def history(tickets, ticket_id, store_id):
    return [(h["type"], h["actor"], h["data"].get("rule_name")) for h in tickets.reads.history(owner(store_id),
                                                                                                ticket_id)]


RULES = {"type": "system", "id": "rules"}


def test_a_vip_customer_is_known_from_the_replica_and_the_rules_apply_in_the_opening_transaction(tickets, store_id):
    vip_team = tickets.teams.create(owner(store_id), {"name": "VIP"})["team"]["id"]
    group_id, noura, huda = str(uuid.uuid4()), shopper(store_id), shopper(store_id)
    with tickets.writes.store.transaction() as conn:
        tickets.replica.apply(conn, event("customer_group.members_added", group_id, 1, store_id, group_id=group_id,
                                          name="VIP", customer_ids=[noura.id]))
    new_rule(tickets, store_id, "VIP first", cond("customer_group", "is", group_id),
             actions={"priority": "high", "team_id": vip_team})

    ticket = tickets.writes.open(noura, {"subject": "Late", "body": "My order is late"})["ticket"]
    assert (ticket["priority"], ticket["team"], ticket["version"]) == ("high", vip_team, 3)
    assert history(tickets, ticket["id"], store_id) == [
        ("ticket.opened", {"type": "customer", "id": noura.id}, None),
        ("ticket.priority_changed", RULES, "VIP first"), ("ticket.assigned", RULES, "VIP first")]
    other = tickets.writes.open(huda, {"subject": "Late", "body": "My order is late"})["ticket"]
    assert (other["priority"], other["team"], other["version"]) == ("normal", None, 1)

    # The rule holds its team: deleting the team is refused while the rule names it.
    with pytest.raises(Conflict) as refused:
        tickets.teams.delete(owner(store_id), vip_team)
    assert refused.value.code in ("team_has_tickets", "team_has_rules")
    tickets.writes.execute(owner(store_id), ticket["id"], [["close", {}]])
    with pytest.raises(Conflict) as refused:
        tickets.teams.delete(owner(store_id), vip_team)
    assert refused.value.code == "team_has_rules" and "VIP first" in refused.value.detail


def test_a_replayed_opening_is_not_ruled_twice(tickets, store_id):
    new_rule(tickets, store_id, "Tag all", cond("type", "is", "general"), actions={"add_tags": ["new"]})
    caller = shopper(store_id)
    key = ["open-1", "fingerprint"]
    first = tickets.writes.open(caller, {"subject": "Hi", "body": "Hello"}, key)
    again = tickets.writes.open(caller, {"subject": "Hi", "body": "Hello"}, key)
    assert first["ticket"]["id"] == again["ticket"]["id"] and again["ticket"]["version"] == 2
    assert tickets.reads.get(owner(store_id), first["ticket"]["id"])["tags"] == ["new"]


def test_a_flow_ticket_is_ruled_before_the_flows_own_reply_and_the_platforms_tickets_are_left_alone(tickets,
                                                                                                    store_id):
    new_rule(tickets, store_id, "Late orders urgent", cond("type", "in", ["order_delayed", "charged_without_order"]),
             actions={"priority": "urgent", "add_tags": ["late"]})
    caller = shopper(store_id)
    created = NOW - timedelta(days=3)
    late = {"id": "o-1", "customer_id": caller.id, "status": "delivering", "created_at": created.isoformat(),
            "updated_at": created.isoformat(), "total": "120.00", "currency": "SAR", "payment_method": "mada",
            "items": [{"name": "قميص", "quantity": 1, "sku": "SH-1"}], "tracking_url": "https://track.example/a",
            "rated": False, "version": 1}
    opened = tickets.flows.delayed_order(caller, late, {"details": "لم يصل"})["ticket"]
    assert opened["priority"] == "urgent" and opened["tags"] == []  # a shopper never sees tags
    assert tickets.reads.get(owner(store_id), opened["id"])["tags"] == ["late"]
    assert [h[0] for h in history(tickets, opened["id"], store_id)] == [
        "ticket.opened", "ticket.priority_changed", "ticket.tag_added", "ticket.replied"]

    # Charged without an order: the platform's review team answers it; the store's rules do not touch it.
    charged = tickets.flows.charged_without_order(caller, {"payment_method": "mada", "card_last4": "1234",
                                                           "details": "charged twice"})["ticket"]
    with tickets.writes.store.pool.connection() as conn:
        state = tickets.reads.visible(conn, Caller("platform", None, None, "platform"), charged["id"])
    assert (state.priority, state.tags, state.version) == ("normal", (), 1)


def test_the_store_keeps_at_most_a_hundred_rules(tickets, store_id):
    for n in range(100):
        new_rule(tickets, store_id, f"R{n}", cond("channel", "is", "email"), actions={"add_tags": [f"t{n}"]})
    with pytest.raises(Conflict) as refused:
        new_rule(tickets, store_id, "One more", cond("channel", "is", "email"), actions={"priority": "low"})
    assert refused.value.code == "too_many_rules"
    positions = [r["position"] for r in tickets.rules.list(owner(store_id))["items"]]
    assert positions == list(range(100))  # each after the last
    # A full ticket still opens: a rule never makes opening fail.
    ticket = tickets.writes.open(owner(store_id), {"subject": "Hi", "body": "x", "customer_id": "c-1",
                                                   "channel": "email"})["ticket"]
    assert len(ticket["tags"]) == 20


def test_teams_and_topics_named_must_be_the_stores(tickets, store_id):
    theirs = tickets.teams.create(owner("st_other"), {"name": "Theirs"})["team"]["id"]
    their_topic = tickets.topics.create(owner("st_other"), {"names": {"en": "Theirs"}})["topic"]["id"]
    for conditions, actions, path in (
            ([cond("channel", "is", "email")], {"team_id": theirs}, "actions.team_id"),
            ([cond("channel", "is", "email"), cond("team_id", "in", ["x", theirs])], {"priority": "low"},
             "conditions.all[1].value[0]"),
            ([cond("topic_id", "is", their_topic)], {"priority": "low"}, "conditions.all[0].value")):
        with pytest.raises(InvalidCommand) as refused:
            tickets.rules.create(owner(store_id), {"name": "R", "conditions": {"all": conditions},
                                                   "actions": actions})
        assert list(refused.value.errors) == [path]


def test_the_rules_table_is_rebuilt_from_the_rules_streams(tickets, store_id):
    team = tickets.teams.create(owner(store_id), {"name": "Sales"})["team"]["id"]
    kept = new_rule(tickets, store_id, "Sellers", cond("body", "contains", ["أبيع", "جملة"]),
                    actions={"team_id": team, "add_tags": ["seller"]})
    tickets.rules.update(owner(store_id), kept["id"], {"position": 7, "enabled": False})
    gone = new_rule(tickets, store_id, "Gone", cond("channel", "is", "email"), actions={"priority": "low"})
    tickets.rules.delete(owner(store_id), gone["id"])
    before = tickets.rules.list(owner(store_id))
    with tickets.writes.store.pool.connection() as conn:
        conn.execute(f"UPDATE {tickets.rules.schema}.rules SET name = 'drifted'")
        conn.commit()
    counts = agent_ops.rebuild(tickets.writes.store, tickets.teams, tickets.topics, tickets.agents, tickets.rules)
    assert counts["rules"] == 1 and counts["teams"] == 1
    assert tickets.rules.list(owner(store_id)) == before
    assert before["items"][0]["version"] == 2 and before["items"][0]["enabled"] is False

