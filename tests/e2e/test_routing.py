"""Routing through HTTP on the real servers: round robin and least loaded
with capacity, an agent going online picking up the waiting tickets most
urgent first, a reopened ticket of an offline agent reassigned, and two
tickets replicas routing tickets opened all at once
(docs/agent-operations/routing.md)."""
from __future__ import annotations

import threading
import time
from collections import Counter

from tests.support.api import another_client, event_feed, ok, ticket_path
from tests.support.polling import eventually

TIMEOUT = 20


def routed_team(api, store, agents, mode, **profiles):
    """A team in ``mode`` with these agents (in this order) and a contact topic on it; each
    agent's profile as given (``{"a": {"availability": "online"}}``). The topic's id."""
    team = ok(api.post("/v1/teams", store.owner_token, json={"name": f"{mode} {time.monotonic_ns()}",
                                                             "assignment": {"mode": mode}}), 201)
    for agent in agents:
        ok(api.post(f"/v1/teams/{team['id']}/members", store.owner_token, json={"agent_id": agent["id"]}))
    for agent in agents:
        fields = profiles.get(agent["name"])
        if fields:
            ok(api.patch(f"/v1/agents/{agent['id']}", store.owner_token, json=fields))
    return ok(api.post("/v1/topics", store.owner_token, json={"names": {"en": team["name"]},
                                                              "team_id": team["id"]}), 201)["id"]


def listed(api, store) -> dict[str, dict]:
    """The store's tickets as its list shows them, by id."""
    return {t["id"]: t for t in ok(api.get("/v1/tickets", store.owner_token, params={"limit": 100}))["items"]}


def assignees(api, store, tickets):
    found = listed(api, store)
    return [found[t["id"]]["assignee_id"] for t in tickets]


def routing_events(api, store):
    return [e for e in event_feed(api, store.owner_token)
            if e.get("actorkind") == "system" and e.get("actorid") == "routing"]


def names(agents):
    return {a["id"]: a["name"] for a in agents}


def test_round_robin_takes_turns_and_least_loaded_fills_up_to_capacity(api):
    store = api.new_store()
    a, b, c = (api.new_agent(store, name=n) for n in "ABC")
    topic = routed_team(api, store, [a, b, c], "round_robin", A={"availability": "online"},
                        B={"availability": "away"}, C={"availability": "online"})
    shoppers = [api.customer_token(store)[1] for _ in range(4)]
    opened = [api.open_ticket(token, topic_id=topic) for token in shoppers]
    got = eventually(lambda: assignees(api, store, opened), all, timeout=TIMEOUT, what="round-robin assignments")
    assert [names([a, b, c])[x] for x in got] == ["A", "C", "A", "C"]  # B is away: skipped

    d, e = api.new_agent(store, name="D"), api.new_agent(store, name="E")
    topic = routed_team(api, store, [d, e], "least_loaded", D={"availability": "online", "capacity": 2},
                        E={"availability": "online", "capacity": 1})
    opened = [api.open_ticket(token, topic_id=topic) for token in shoppers]
    eventually(lambda: assignees(api, store, opened)[:3], all, timeout=TIMEOUT, what="least-loaded assignments")
    time.sleep(1)  # the fourth waits: both are full
    assert [names([d, e]).get(x) for x in assignees(api, store, opened)] == ["D", "E", "D", None]

    # The history says routing did it, and how.
    [entry] = [h for h in ok(api.get(f"{ticket_path(opened[1])}/history", store.owner_token))["items"]
               if h["type"] == "ticket.assigned"]
    assert entry["actor"] == {"type": "system", "id": "routing"}
    assert (entry["data"]["assignee_id"], entry["data"]["routed_by"], entry["data"]["reason"]) == (
        e["id"], "least_loaded", "waiting")


def test_an_agent_going_online_picks_up_the_waiting_tickets_most_urgent_first(api):
    store = api.new_store()
    sara = api.new_agent(store, name="Sara")
    topic = routed_team(api, store, [sara], "round_robin", Sara={"capacity": 2})
    shoppers = [api.customer_token(store)[1] for _ in range(3)]
    low, urgent, normal = (api.open_ticket(token, topic_id=topic, priority=p)
                           for token, p in zip(shoppers, ("low", "urgent", "normal")))
    time.sleep(1)
    assert assignees(api, store, [low, urgent, normal]) == [None, None, None]  # Sara is offline

    ok(api.patch(f"/v1/agents/{sara['id']}", sara["token"], json={"availability": "online"}))
    eventually(lambda: assignees(api, store, [urgent, normal]), lambda got: got == [sara["id"]] * 2,
               timeout=TIMEOUT, what="the two most urgent to Sara")
    assert [e["subject"] for e in routing_events(api, store)] == [urgent["id"], normal["id"]]
    assert assignees(api, store, [low]) == [None]  # at capacity

    # She solves one: the last one comes to her.
    ok(api.post(f"{ticket_path(urgent)}/status", sara["token"], json={"status": "solved"}))
    eventually(lambda: assignees(api, store, [low]), lambda got: got == [sara["id"]], timeout=TIMEOUT,
               what="the low one to Sara")


def test_a_reopened_ticket_of_an_offline_agent_is_reassigned(api):
    store = api.new_store()
    a, b = api.new_agent(store, name="A"), api.new_agent(store, name="B")
    topic = routed_team(api, store, [a, b], "round_robin", A={"availability": "online"})
    _, shopper = api.customer_token(store)
    ticket = api.open_ticket(shopper, topic_id=topic)
    eventually(lambda: assignees(api, store, [ticket]), lambda got: got == [a["id"]], timeout=TIMEOUT,
               what="the ticket to A")
    ok(api.post(f"{ticket_path(ticket)}/replies", a["token"], json={"body": "Refunded today."}))
    ok(api.post(f"{ticket_path(ticket)}/status", a["token"], json={"status": "solved"}))
    ok(api.patch(f"/v1/agents/{a['id']}", a["token"], json={"availability": "offline"}))
    ok(api.patch(f"/v1/agents/{b['id']}", b["token"], json={"availability": "online"}))

    # The shopper writes again: reopened, and A is offline.
    ok(api.post(f"{ticket_path(ticket)}/replies", shopper, json={"body": "Nothing arrived."}))
    eventually(lambda: assignees(api, store, [ticket]), lambda got: got == [b["id"]], timeout=TIMEOUT,
               what="the reopened ticket to B")
    last = [h for h in ok(api.get(f"{ticket_path(ticket)}/history", store.owner_token))["items"]
            if h["type"] == "ticket.assigned"][-1]
    assert (last["actor"]["id"], last["data"]["previous_assignee_id"], last["data"]["reason"]) == (
        "routing", a["id"], "reopened")


def test_two_tickets_replicas_route_tickets_opened_at_once_within_capacity(http_system):
    api = http_system.api
    http_system.start_service("tickets", 2)
    try:
        http_system.processes["tickets.2"].wait_for_output("starting services: tickets")
        store = api.new_store()
        agents = [api.new_agent(store, name=f"R{n}") for n in range(4)]
        topic = routed_team(api, store, agents, "least_loaded",
                            **{f"R{n}": {"availability": "online", "capacity": 3} for n in range(4)})
        shoppers = [api.customer_token(store)[1] for _ in range(6)]
        opened: list[dict] = []

        def open_five(token):
            client = another_client(api)
            for _ in range(5):
                opened.append(client.open_ticket(token, topic_id=topic))

        threads = [threading.Thread(target=open_five, args=(token,)) for token in shoppers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(opened) == 30

        def held():
            return Counter(t["assignee_id"] for t in listed(api, store).values()
                           if t["assignee_id"] is not None and t["status"] == "open")

        eventually(lambda: sum(held().values()), lambda n: n == 12, timeout=TIMEOUT, what="12 assigned")
        assert held() == {agent["id"]: 3 for agent in agents}
        # Each of the four solves one: four more come, and each is full again, never past.
        now = listed(api, store)
        for agent in agents:
            mine = next(t for t in now.values() if t["assignee_id"] == agent["id"])
            ok(api.post(f"{ticket_path(mine)}/status", agent["token"], json={"status": "solved"}))
        eventually(lambda: sum(held().values()), lambda n: n == 12, timeout=TIMEOUT, what="12 open assigned")
        eventually(lambda: len(routing_events(api, store)), lambda n: n >= 16, timeout=TIMEOUT,
                   what="16 routing assignments")
        time.sleep(1.5)
        assert held() == {agent["id"]: 3 for agent in agents}
        given = Counter(e["subject"] for e in routing_events(api, store) if e["type"] == "ticket.assigned")
        assert len(given) == 16 and max(given.values()) == 1  # never one ticket twice
        assert sum(t["assignee_id"] is None for t in listed(api, store).values()) == 14
    finally:
        # Back to one replica, as the other tests expect.
        http_system.processes.pop("tickets.2").stop()
