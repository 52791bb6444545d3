"""Team-scoped visibility, as a matrix like the cross-store one: with the store
set to ``ticket_visibility: teams``, an agent sees their teams' tickets and
those assigned to them in every read (one ticket, its history, lists, search,
view counts and lists, the event feed, bulk selections, the queue) and acts on
no other; owners and admins see all; with ``all``, every agent sees every ticket."""
from __future__ import annotations

import pytest

from tests.support.api import assert_problem, event_feed, ok, ticket_path


@pytest.fixture
def shop(api):
    store = api.new_store("Scoped")
    teams = {name: api.new_team(store, name) for name in ("Billing", "Shipping")}
    people = {"billing_agent": api.new_agent(store, name="Bilal"),
              "shipping_agent": api.new_agent(store, name="Shaima"),
              "teamless_agent": api.new_agent(store, name="Tariq"), "admin": api.new_agent(store, "admin", "Amal")}
    for who, team in (("billing_agent", "Billing"), ("shipping_agent", "Shipping")):
        ok(api.post(f"/v1/teams/{teams[team]}/members", store.owner_token, json={"agent_id": people[who]["id"]}))
    _, shopper = api.customer_token(store)
    tickets = {name: api.open_ticket(shopper, subject=f"About {name}") for name in
               ("billing", "shipping", "no_team", "shipping_but_bilals")}
    for name, team in (("billing", "Billing"), ("shipping", "Shipping"), ("shipping_but_bilals", "Shipping")):
        ok(api.post(f"{ticket_path(tickets[name])}/assign", store.owner_token, json={"team": teams[team]}))
    ok(api.post(f"{ticket_path(tickets['shipping_but_bilals'])}/assign", store.owner_token,
                json={"agent_id": people["billing_agent"]["id"]}))
    tokens = {who: p["token"] for who, p in people.items()} | {"owner": store.owner_token}
    return {"store": store, "tickets": tickets, "tokens": tokens}


EVERYTHING = {"billing", "shipping", "no_team", "shipping_but_bilals"}
SCOPED = {
    "owner": EVERYTHING, "admin": EVERYTHING,
    "billing_agent": {"billing", "shipping_but_bilals"},  # Billing's, and the one assigned to Bilal
    "shipping_agent": {"shipping", "shipping_but_bilals"},
    "teamless_agent": set(),
}


def what_each_read_shows(api, shop, token) -> dict[str, set[str]]:
    names = {t["id"]: name for name, t in shop["tickets"].items()}
    one = {name for name, t in shop["tickets"].items() if api.get(ticket_path(t), token).status_code == 200}
    history = {name for name, t in shop["tickets"].items()
               if api.get(f"{ticket_path(t)}/history", token).status_code == 200}
    listed = {names[i["id"]] for i in ok(api.get("/v1/tickets", token, params={"limit": 100}))["items"]}
    searched = {names[i["id"]] for i in ok(api.get("/v1/tickets", token, params={"q": "about"}))["items"]}
    in_view = {names[i["id"]] for i in ok(api.get("/v1/views/all_open/tickets", token))["items"]}
    counted = {v["id"]: v["count"] for v in ok(api.get("/v1/views", token))["items"]}["all_open"]
    feed = {names[e["data"]["ticket_id"]] for e in event_feed(api, token) if e["type"] == "ticket.opened"}
    assert counted == len(in_view)
    return {"get": one, "history": history, "list": listed, "search": searched, "view": in_view, "feed": feed}


def test_every_read_is_scoped_to_the_agents_teams_and_own_tickets(api, shop):
    tokens = shop["tokens"]
    # ticket_visibility "all" (the default): everyone sees everything.
    for who, token in tokens.items():
        for read, seen in what_each_read_shows(api, shop, token).items():
            assert seen == EVERYTHING, (who, read, seen)

    assert_problem(api.patch("/v1/settings/agents", tokens["billing_agent"], json={"ticket_visibility": "teams"}),
                   403)
    settings = ok(api.patch("/v1/settings/agents", tokens["admin"], json={"ticket_visibility": "teams"}))
    assert settings["ticket_visibility"] == "teams" and settings["version"] == 1

    checked = 0
    for who, expected in SCOPED.items():
        for read, seen in what_each_read_shows(api, shop, tokens[who]).items():
            assert seen == expected, (who, read, seen)
            checked += 1
    assert checked == 5 * 6


def test_a_scoped_agent_cannot_act_on_a_ticket_they_may_not_see(api, shop):
    tokens, tickets = shop["tokens"], shop["tickets"]
    ok(api.patch("/v1/settings/agents", tokens["owner"], json={"ticket_visibility": "teams"}))
    hidden = ticket_path(tickets["shipping"])
    bilal = tokens["billing_agent"]
    for method, path, body in (("POST", f"{hidden}/replies", {"body": "Hi"}),
                               ("POST", f"{hidden}/notes", {"body": "x"}), ("POST", f"{hidden}/tags", {"tag": "x"}),
                               ("POST", f"{hidden}/status", {"status": "pending"}),
                               ("PATCH", hidden, {"priority": "high"})):
        assert_problem(api.request(method, path, bilal, json=body), 404)
    # A bulk filter reaches only what he may see; naming the hidden ticket is a refusal like any unknown id.
    answer = ok(api.post("/v1/tickets/bulk", bilal, json={"filter": {"status": "open"},
                                                           "action": {"add_tags": ["seen"]}}))
    assert {i["id"] for i in answer["items"]} == {tickets[n]["id"] for n in SCOPED["billing_agent"]}
    refused = ok(api.post("/v1/tickets/bulk", bilal, json={"ids": [tickets["shipping"]["id"]],
                                                            "action": {"add_tags": ["x"]}}))
    assert refused["items"][0]["error"]["status"] == 404
    # The queue: Tariq has no team, and tickets on no team are not his to see.
    assert api.post("/v1/queue/next", tokens["teamless_agent"]).status_code == 204
    # Back to "all": he takes the ticket on no team.
    ok(api.patch("/v1/settings/agents", tokens["owner"], json={"ticket_visibility": "all"}))
    assert ok(api.post("/v1/queue/next", tokens["teamless_agent"]))["id"] == tickets["no_team"]["id"]
