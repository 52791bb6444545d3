"""Agent operations through HTTP: teams and their members, contact topics,
agents' routing profiles, a ticket's topic and team, and the plan limits the
platform sets on a store (docs/agent-operations.md)."""
from __future__ import annotations

import threading
import uuid

import psycopg

from tests.support.api import (Store, another_client, assert_not_found_or_forbidden, assert_problem, event_feed, ok,
                               ticket_path)
from tests.support.polling import eventually

TEAMS, TOPICS = "/v1/teams", "/v1/topics"


def team_path(team: dict) -> str:
    return f"{TEAMS}/{team['id']}"


def store_with_staff(api) -> tuple[Store, dict, dict]:
    """A store, an admin and an agent (each with their token)."""
    store = api.new_store()
    return store, api.new_agent(store, role="admin", name="Amal"), api.new_agent(store, name="Sara")


# --- teams ------------------------------------------------------------------------------------


def test_admins_create_teams_and_every_staff_member_reads_them(api):
    store, admin, agent = store_with_staff(api)

    r = api.post(TEAMS, admin["token"], json={"name": "Shipping", "description": "Late and lost parcels"})
    team = ok(r, 201)
    assert r.headers["Location"] == team_path(team) and r.headers["ETag"] == '"1"'
    assert (team["name"], team["description"], team["members"], team["assignment"], team["version"]) == (
        "Shipping", "Late and lost parcels", [], {"mode": "manual"}, 1)
    assert team["created_at"] and team["updated_at"]
    payments = ok(api.post(TEAMS, store.owner_token, json={"name": "Payments",
                                                          "assignment": {"mode": "round_robin"}}), 201)
    assert payments["assignment"] == {"mode": "round_robin"} and payments["description"] is None

    # Agents read, and only read.
    assert ok(api.get(team_path(team), agent["token"])) == team
    assert [t["name"] for t in ok(api.get(TEAMS, agent["token"]))["items"]] == ["Payments", "Shipping"]
    assert_problem(api.post(TEAMS, agent["token"], json={"name": "Mine"}), 403)
    assert_problem(api.patch(team_path(team), agent["token"], json={"name": "Mine"}), 403)
    assert_problem(api.delete(team_path(team), agent["token"]), 403)
    _, shopper = api.customer_token(store)
    assert_problem(api.get(TEAMS, shopper), 403)

    # A name is the store's once, whatever its case; the rules answer 422 naming the field.
    assert_problem(api.post(TEAMS, admin["token"], json={"name": "shipping"}), 409, "team_name_taken", ["name"])
    assert_problem(api.post(TEAMS, admin["token"], json={"name": "Two\nlines"}), 422, fields=["name"])
    assert_problem(api.post(TEAMS, admin["token"], json={"name": "X", "assignment": {"mode": "random"}}), 422,
                   fields=["assignment"])
    assert_problem(api.post(TEAMS, admin["token"], json={}), 400, fields=["name"])
    # Another store may use the same name.
    other = api.new_store()
    ok(api.post(TEAMS, other.owner_token, json={"name": "Shipping"}), 201)


def test_a_team_changes_with_if_match_and_a_stale_version_is_refused(api):
    store = api.new_store()
    team = ok(api.post(TEAMS, store.owner_token, json={"name": "Returns"}), 201)
    path = team_path(team)

    r = api.patch(path, store.owner_token, json={"name": "Returns & exchanges", "assignment": {"mode": "least_loaded"}},
                  headers={"If-Match": '"1"'})
    changed = ok(r)
    assert (changed["name"], changed["assignment"]["mode"], changed["version"]) == (
        "Returns & exchanges", "least_loaded", 2)
    assert r.headers["ETag"] == '"2"'
    assert_problem(api.patch(path, store.owner_token, json={"description": "late"}, headers={"If-Match": '"1"'}),
                   412, "version_mismatch")
    # The same values again write nothing.
    assert ok(api.patch(path, store.owner_token, json={"name": "Returns & exchanges"}))["version"] == 2
    assert_problem(api.patch(path, store.owner_token, json={}), 400)

    assert events_of(api, store, "team.", ["team.created", "team.updated"])


def events_of(api, store: Store, prefix: str, expected: list[str]) -> list[str]:
    """The types of the store's events starting with ``prefix`` (``GET /v1/events``: the tickets
    service's), once they are ``expected``: the feed shows a commit once older transactions are done."""
    return eventually(lambda: [e["type"] for e in event_feed(api, store.owner_token) if e["type"].startswith(prefix)],
                      lambda types: types == expected, what=f"{expected} in the feed")


def test_members_are_staff_of_the_store_and_an_agent_may_be_in_several_teams(api):
    store, admin, agent = store_with_staff(api)
    shipping = ok(api.post(TEAMS, admin["token"], json={"name": "Shipping"}), 201)
    payments = ok(api.post(TEAMS, admin["token"], json={"name": "Payments"}), 201)

    added = ok(api.post(f"{team_path(shipping)}/members", admin["token"], json={"agent_id": agent["id"]}))
    assert (added["members"], added["version"]) == ([agent["id"]], 2)
    added = ok(api.post(f"{team_path(shipping)}/members", admin["token"], json={"agent_id": admin["id"]}))
    assert added["members"] == [agent["id"], admin["id"]]  # in the order they joined
    # Adding a member again changes nothing.
    assert ok(api.post(f"{team_path(shipping)}/members", admin["token"], json={"agent_id": agent["id"]}))[
        "version"] == 3
    ok(api.post(f"{team_path(payments)}/members", admin["token"], json={"agent_id": agent["id"]}))
    assert set(ok(api.get(f"/v1/agents/{agent['id']}", agent["token"]))["teams"]) == {shipping["id"], payments["id"]}

    # Nobody who is not staff of this store joins: 422 naming agent_id.
    stranger = api.new_agent(api.new_store())
    for agent_id in (stranger["id"], str(uuid.uuid4())):
        assert_problem(api.post(f"{team_path(shipping)}/members", admin["token"], json={"agent_id": agent_id}), 422,
                       fields=["agent_id"])
    assert_problem(api.post(f"{team_path(shipping)}/members", agent["token"], json={"agent_id": agent["id"]}), 403)

    # Leaving: by the body (the contract) or by the path.
    left = ok(api.delete(f"{team_path(shipping)}/members", admin["token"], json={"agent_id": agent["id"]}))
    assert left["members"] == [admin["id"]]
    left = ok(api.delete(f"{team_path(shipping)}/members/{admin['id']}", admin["token"]))
    assert left["members"] == []
    assert ok(api.delete(f"{team_path(shipping)}/members/{admin['id']}", admin["token"]))["version"] == left["version"]
    assert ok(api.get(f"/v1/agents/{agent['id']}", agent["token"]))["teams"] == [payments["id"]]


def test_a_team_with_tickets_not_yet_closed_or_a_topic_is_not_deleted(api):
    store = api.new_store()
    staff = store.owner_token
    team = ok(api.post(TEAMS, staff, json={"name": "Shipping"}), 201)
    _, shopper = api.customer_token(store)
    path = ticket_path(api.open_ticket(shopper))
    ok(api.post(f"{path}/assign", staff, json={"team": team["id"]}))
    ok(api.post(f"{path}/status", staff, json={"status": "solved"}))

    assert_problem(api.delete(team_path(team), staff), 409, "team_has_tickets")
    ok(api.post(f"{path}/status", staff, json={"status": "closed"}))
    topic = ok(api.post(TOPICS, staff, json={"names": {"en": "Delivery"}, "team_id": team["id"]}), 201)
    assert_problem(api.delete(team_path(team), staff), 409, "team_has_topics")
    ok(api.patch(f"{TOPICS}/{topic['id']}", staff, json={"team_id": None}))

    r = api.delete(team_path(team), staff)
    assert r.status_code == 204, r.text
    assert_problem(api.get(team_path(team), staff), 404, "team_not_found")
    assert ok(api.get(path, staff))["team"] == team["id"]  # a closed ticket keeps its team
    assert events_of(api, store, "team.", ["team.created", "team.deleted"])


def test_a_ticket_is_assigned_only_to_a_team_of_its_store(api):
    store, other = api.new_store(), api.new_store()
    mine = ok(api.post(TEAMS, store.owner_token, json={"name": "Shipping"}), 201)
    theirs = ok(api.post(TEAMS, other.owner_token, json={"name": "Shipping"}), 201)
    _, shopper = api.customer_token(store)
    path = ticket_path(api.open_ticket(shopper))

    for team in ("shipping", theirs["id"], str(uuid.uuid4())):
        assert_problem(api.post(f"{path}/assign", store.owner_token, json={"team": team}), 422, fields=["team"])
    assert ok(api.post(f"{path}/assign", store.owner_token, json={"team": mine["id"]}))["team"] == mine["id"]
    assert [t["id"] for t in ok(api.get("/v1/tickets", store.owner_token, params={"team": mine["id"]}))["items"]] \
        == [path.rsplit("/", 1)[1]]


def test_another_stores_teams_and_topics_are_not_found(api):
    a, b = api.new_store("A"), api.new_store("B")
    team = ok(api.post(TEAMS, a.owner_token, json={"name": "Secret jewels desk"}), 201)
    topic = ok(api.post(TOPICS, a.owner_token, json={"names": {"en": "Secret rings"}, "team_id": team["id"]}), 201)
    b_agent = api.new_agent(b)
    _, b_shopper = api.customer_token(b)
    tokens = {"owner": b.owner_token, "agent": b_agent["token"], "customer": b_shopper}
    staff, admins, anyone = {"owner", "agent"}, {"owner"}, {"owner", "agent", "customer"}
    t, p = team_path(team), f"{TOPICS}/{topic['id']}"
    routes = [
        ("GET", t, None, staff),
        ("PATCH", t, {"name": "Mine now"}, admins),
        ("DELETE", t, None, admins),
        ("POST", f"{t}/members", {"agent_id": b_agent["id"]}, admins),
        ("DELETE", f"{t}/members", {"agent_id": b_agent["id"]}, admins),
        ("DELETE", f"{t}/members/{b_agent['id']}", None, admins),
        ("GET", p, None, anyone),
        ("PATCH", p, {"position": 3}, admins),
        ("DELETE", p, None, admins),
    ]
    assert assert_not_found_or_forbidden(api, tokens, routes, ("Secret", "jewels")) == 3 * len(routes)
    assert ok(api.get(TEAMS, b.owner_token))["items"] == [] and ok(api.get(TOPICS, b_shopper))["items"] == []
    # Nor can store B use them.
    assert_problem(api.post(TOPICS, b.owner_token, json={"names": {"en": "Rings"}, "team_id": team["id"]}), 422,
                   fields=["team_id"])
    assert_problem(api.post("/v1/tickets", b_shopper, json={"subject": "Hi", "body": "Ring?", "topic_id": topic["id"]}),
                   422, fields=["topic_id"])
    # Malformed ids are simply not found.
    assert_problem(api.get(f"{TEAMS}/not-a-team", a.owner_token), 404, "team_not_found")
    assert_problem(api.get(f"{TOPICS}/not-a-topic", a.owner_token), 404, "topic_not_found")
    assert ok(api.get(t, a.owner_token))["name"] == "Secret jewels desk"


# --- contact topics -----------------------------------------------------------------------------


def test_admins_write_topics_that_the_help_widget_shows_without_their_team(api):
    store, admin, agent = store_with_staff(api)
    team = ok(api.post(TEAMS, admin["token"], json={"name": "Technical support"}), 201)
    r = api.post(TOPICS, admin["token"], json={
        "names": {"ar": "الدعم الفني", "en": "Technical support", "en-US": "Tech support"},
        "descriptions": {"en": "The site or the app is not working"}, "team_id": team["id"],
        "email": "Tech@Example.SA", "position": 2})
    tech = ok(r, 201)
    assert r.headers["Location"] == f"{TOPICS}/{tech['id']}"
    assert tech["names"] == {"ar": "الدعم الفني", "en": "Technical support", "en-US": "Tech support"}
    assert (tech["team_id"], tech["email"], tech["position"], tech["version"]) == (
        team["id"], "Tech@example.sa", 2, 1)
    service = ok(api.post(TOPICS, admin["token"], json={"names": {"ar": "خدمة العملاء"}}), 201)
    assert (service["descriptions"], service["team_id"], service["email"], service["position"]) == ({}, None, None, 0)

    # Staff see everything, in the widget's order.
    assert [t["id"] for t in ok(api.get(TOPICS, agent["token"]))["items"]] == [service["id"], tech["id"]]
    assert ok(api.get(f"{TOPICS}/{tech['id']}", agent["token"])) == tech
    # A shopper sees names, descriptions, email and position; not who answers.
    _, shopper = api.customer_token(store)
    r = api.get(TOPICS, shopper)
    assert ok(r)["items"][1] == {"id": tech["id"], "names": tech["names"], "descriptions": tech["descriptions"],
                                 "email": "Tech@example.sa", "position": 2}
    assert team["id"] not in r.text
    assert "team_id" not in ok(api.get(f"{TOPICS}/{tech['id']}", shopper))

    # Only admins write.
    for token in (agent["token"], shopper):
        assert_problem(api.post(TOPICS, token, json={"names": {"en": "Mine"}}), 403)
        assert_problem(api.patch(f"{TOPICS}/{tech['id']}", token, json={"position": 1}), 403)
        assert_problem(api.delete(f"{TOPICS}/{tech['id']}", token), 403)


def test_a_topic_is_checked_field_by_field(api):
    store = api.new_store()
    owner = store.owner_token
    for sent, field in [({"names": {}}, "names"), ({"names": {"english": "Help"}}, "names"),
                        ({"names": {"en": "Two\nlines"}}, "names"),
                        ({"names": {"en": "Help"}, "descriptions": {"ar": "مساعدة"}}, "descriptions"),
                        ({"names": {"en": "Help"}, "email": "not an email"}, "email"),
                        ({"names": {"en": "Help"}, "position": -1}, "position"),
                        ({"names": {"en": "Help"}, "team_id": str(uuid.uuid4())}, "team_id")]:
        assert_problem(api.post(TOPICS, owner, json=sent), 422, fields=[field])
    assert_problem(api.post(TOPICS, owner, json={"descriptions": {"en": "x"}}), 400, fields=["names"])
    assert ok(api.get(TOPICS, owner))["items"] == []


def test_a_topic_changes_with_if_match_and_is_deleted(api):
    store = api.new_store()
    owner = store.owner_token
    topic = ok(api.post(TOPICS, owner, json={"names": {"en": "Orders"}, "descriptions": {"en": "About an order"}}),
               201)
    path = f"{TOPICS}/{topic['id']}"
    r = api.patch(path, owner, json={"names": {"en": "Orders", "ar": "الطلبات"}, "email": "orders@example.sa"},
                  headers={"If-Match": '"1"'})
    changed = ok(r)
    assert (changed["names"], changed["email"], changed["version"], r.headers["ETag"]) == (
        {"ar": "الطلبات", "en": "Orders"}, "orders@example.sa", 2, '"2"')
    assert_problem(api.patch(path, owner, json={"position": 5}, headers={"If-Match": '"1"'}), 412)
    # Names are replaced whole: a description must keep a name in its locale.
    assert_problem(api.patch(path, owner, json={"names": {"ar": "الطلبات"}}), 422, fields=["descriptions"])
    assert ok(api.patch(path, owner, json={"descriptions": None, "names": {"ar": "الطلبات"}}))["names"] == {
        "ar": "الطلبات"}

    r = api.delete(path, owner)
    assert r.status_code == 204, r.text
    assert_problem(api.get(path, owner), 404, "topic_not_found")
    assert events_of(api, store, "topic.", ["topic.created", "topic.updated", "topic.updated", "topic.deleted"])


def test_a_ticket_records_its_topic_and_opens_on_the_topics_team(api):
    store = api.new_store()
    staff = store.owner_token
    team = ok(api.post(TEAMS, staff, json={"name": "Shipping"}), 201)
    delivery = ok(api.post(TOPICS, staff, json={"names": {"en": "Delivery"}, "team_id": team["id"]}), 201)
    general = ok(api.post(TOPICS, staff, json={"names": {"en": "Anything else"}}), 201)
    customer_id, shopper = api.customer_token(store)

    late = ok(api.post("/v1/tickets", shopper, json={"subject": "Late", "body": "Where is it?",
                                                     "topic_id": delivery["id"]}), 201)
    assert (late["topic_id"], late["team"], late["assignee_id"]) == (delivery["id"], team["id"], None)
    other = api.open_ticket(staff, customer_id=customer_id, topic_id=general["id"])
    assert (other["topic_id"], other["team"]) == (general["id"], None)
    plain = api.open_ticket(shopper)
    assert (plain["topic_id"], plain["team"]) == (None, None)

    opened = ok(api.get(f"{ticket_path(late)}/history", staff))["items"][0]
    assert (opened["data"]["topic_id"], opened["data"]["team"]) == (delivery["id"], team["id"])
    assert "topic_id" not in ok(api.get(f"{ticket_path(plain)}/history", staff))["items"][0]["data"]

    # Lists show it and filter by it.
    items = ok(api.get("/v1/tickets", staff, params={"topic_id": delivery["id"]}))["items"]
    assert [(i["id"], i["topic_id"], i["team"]) for i in items] == [(late["id"], delivery["id"], team["id"])]
    assert [i["id"] for i in ok(api.get("/v1/tickets", shopper, params={"topic_id": general["id"]}))["items"]] == [
        other["id"]]
    # A topic that is not the store's: 422 naming topic_id, and no ticket (nor number) is used up.
    assert_problem(api.post("/v1/tickets", shopper, json={"subject": "Hi", "body": "Hello", "topic_id": "nope"}),
                   422, fields=["topic_id"])
    assert len(ok(api.get("/v1/tickets", staff))["items"]) == 3
    assert api.open_ticket(shopper)["number"] == plain["number"] + 1
    # A deleted topic's tickets keep its id.
    assert api.delete(f"{TOPICS}/{general['id']}", staff).status_code == 204
    assert ok(api.get(ticket_path(other), staff))["topic_id"] == general["id"]


# --- agents' profiles -----------------------------------------------------------------------------


def test_the_staff_list_shows_each_agents_availability_capacity_skills_and_teams(api):
    store, admin, agent = store_with_staff(api)
    team = ok(api.post(TEAMS, admin["token"], json={"name": "Shipping"}), 201)
    ok(api.post(f"{team_path(team)}/members", admin["token"], json={"agent_id": agent["id"]}))

    # Never changed: offline, no limit, no skills.
    staff = {a["id"]: a for a in ok(api.get("/v1/agents", agent["token"]))["items"]}
    assert len(staff) == 3
    assert {k: staff[admin["id"]][k] for k in ("availability", "capacity", "skills", "teams")} == {
        "availability": "offline", "capacity": None, "skills": [], "teams": []}
    assert staff[agent["id"]]["teams"] == [team["id"]]

    # An agent sets their own availability; the answer is the agent, as GET shows them.
    me = ok(api.patch(f"/v1/agents/{agent['id']}", agent["token"], json={"availability": "online"}))
    assert me == ok(api.get(f"/v1/agents/{agent['id']}", agent["token"]))
    assert (me["name"], me["role"], me["availability"], me["teams"]) == ("Sara", "agent", "online", [team["id"]])
    # ...but not their capacity or skills, nor anyone else's availability: 403 naming the field.
    assert_problem(api.patch(f"/v1/agents/{agent['id']}", agent["token"], json={"capacity": 100}), 403,
                   "field_not_allowed", ["capacity"])
    assert_problem(api.patch(f"/v1/agents/{agent['id']}", agent["token"],
                             json={"availability": "away", "skills": ["vip"]}), 403, fields=["skills"])
    assert_problem(api.patch(f"/v1/agents/{admin['id']}", agent["token"], json={"availability": "away"}), 403,
                   fields=["availability"])

    # Admins and the owner change anyone's anything.
    changed = ok(api.patch(f"/v1/agents/{agent['id']}", admin["token"],
                           json={"availability": "away", "capacity": 5, "skills": ["Returns", "vip", "returns"]}))
    assert (changed["availability"], changed["capacity"], changed["skills"]) == ("away", 5, ["returns", "vip"])
    assert ok(api.patch(f"/v1/agents/{admin['id']}", store.owner_token, json={"capacity": 3}))["capacity"] == 3
    assert ok(api.get("/v1/agents", admin["token"]))["items"][2]["capacity"] == 5

    # The rules answer 422 naming the field; someone who is not staff of the store, 404.
    for sent, field in [({"availability": "busy"}, "availability"), ({"capacity": 1001}, "capacity"),
                        ({"capacity": -1}, "capacity"), ({"skills": ["no spaces"]}, "skills"),
                        ({"skills": [f"s{n}" for n in range(51)]}, "skills")]:
        assert_problem(api.patch(f"/v1/agents/{agent['id']}", admin["token"], json=sent), 422, fields=[field])
    assert_problem(api.patch(f"/v1/agents/{agent['id']}", admin["token"], json={"capacity": "5"}), 400,
                   fields=["capacity"])
    stranger = api.new_agent(api.new_store())
    assert_problem(api.patch(f"/v1/agents/{stranger['id']}", admin["token"], json={"availability": "online"}),
                   404, "agent_not_found")
    assert events_of(api, store, "agent.", ["agent.profile_updated"] * 3)


# --- plan limits ------------------------------------------------------------------------------------


def put_plan(api, store: Store, **limits) -> dict:
    return ok(api.put(f"/v1/stores/{store.id}/plan", api.platform_key, json={"limits": limits}))


def test_the_platform_sets_a_stores_plan_and_its_staff_read_it(api, http_system):
    store, other = api.new_store(), api.new_store()
    plan = ok(api.get(f"/v1/stores/{store.id}/plan", store.owner_token))
    assert plan == {"store_id": store.id, "limits": {"staff_seats": None, "teams": None, "topics": None},
                    "updated_at": None}

    # The free plan: two users, two categories.
    plan = put_plan(api, store, staff_seats=2, topics=2)
    assert plan["limits"] == {"staff_seats": 2, "teams": None, "topics": 2} and plan["updated_at"]
    assert ok(api.get(f"/v1/stores/{store.id}/plan", api.platform_key)) == plan
    agent = api.new_agent(store)
    assert ok(api.get(f"/v1/stores/{store.id}/plan", agent["token"])) == plan

    # Only the platform sets it; another store does not see it.
    assert_problem(api.put(f"/v1/stores/{store.id}/plan", store.owner_token, json={"limits": {}}), 403)
    assert_problem(api.get(f"/v1/stores/{store.id}/plan", other.owner_token), 404, "store_not_found")
    assert_problem(api.put(f"/v1/stores/{uuid.uuid4()}/plan", api.platform_key, json={"limits": {}}), 404,
                   "store_not_found")
    assert_problem(api.put(f"/v1/stores/{store.id}/plan", api.platform_key, json={"limits": {"teams": -1}}), 422,
                   fields=["limits.teams"])
    # Recorded as an event of the store's stream; the same limits again record nothing.
    put_plan(api, store, staff_seats=2, topics=2)
    with psycopg.connect(http_system.database_url, autocommit=True) as conn:
        recorded = conn.execute(f"SELECT type, data FROM {http_system.schemas['gateway']}.events "
                                "WHERE stream_id = %s ORDER BY version", (f"store-{store.id}",)).fetchall()
    assert [(t, d.get("limits")) for t, d in recorded] == [
        ("store.created", None), ("store.plan_changed", {"staff_seats": 2, "teams": None, "topics": 2})]


def test_a_store_creates_no_more_staff_teams_or_topics_than_its_plan_allows(api):
    store = api.new_store()
    put_plan(api, store, staff_seats=2, teams=1, topics=2)

    # Staff seats count the owner.
    api.new_agent(store)
    r = api.post("/v1/agents", store.owner_token, json={"name": "Third", "email": "third@example.com",
                                                        "role": "agent"})
    body = assert_problem(r, 409, "plan_limit_reached", ["staff_seats"])
    assert body["errors"]["staff_seats"] == ["the plan allows 2 staff seats"]

    ok(api.post(TEAMS, store.owner_token, json={"name": "One"}), 201)
    body = assert_problem(api.post(TEAMS, store.owner_token, json={"name": "Two"}), 409, "plan_limit_reached",
                          ["teams"])
    assert body["errors"] == {"teams": ["the plan allows 1 team"]}

    for n in range(2):
        ok(api.post(TOPICS, store.owner_token, json={"names": {"en": f"Topic {n}"}}), 201)
    body = assert_problem(api.post(TOPICS, store.owner_token, json={"names": {"en": "Topic 3"}}), 409,
                          "plan_limit_reached", ["topics"])
    assert body["errors"] == {"topics": ["the plan allows 2 topics"]}

    # A higher limit makes room again; a lower one removes nothing.
    put_plan(api, store, staff_seats=2, teams=2, topics=1)
    ok(api.post(TEAMS, store.owner_token, json={"name": "Two"}), 201)
    assert len(ok(api.get(TOPICS, store.owner_token))["items"]) == 2


def race(api, token: str, requests: list[tuple[str, dict]]) -> list[int]:
    """Each ``(path, body)`` POSTed at the same moment, from its own thread and client; their statuses."""
    barrier, statuses = threading.Barrier(len(requests)), []

    def create(client, path: str, sent: dict) -> None:
        barrier.wait()
        statuses.append(client.post(path, token, json=sent).status_code)

    threads = [threading.Thread(target=create, args=(another_client(api), path, sent)) for path, sent in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(statuses)


def test_creates_racing_for_the_last_place_leave_exactly_one_created(api):
    creates = {
        "agents": lambda n: ("/v1/agents", {"name": f"Racer {n}", "email": f"racer{n}@example.com", "role": "agent"}),
        "teams": lambda n: (TEAMS, {"name": f"Racer {n}"}),
        "topics": lambda n: (TOPICS, {"names": {"en": f"Racer {n}"}}),
    }
    for _ in range(3):  # a lost race shows only now and then: race again, in fresh stores
        store = api.new_store()
        put_plan(api, store, staff_seats=2, teams=1, topics=1)
        for what, request in creates.items():
            # The owner takes a seat: one agent, one team, one topic fit; of four at once, exactly one is created.
            assert race(api, store.owner_token, [request(n) for n in range(4)]) == [201, 409, 409, 409], what
        assert len(ok(api.get("/v1/agents", store.owner_token))["items"]) == 2
        assert len(ok(api.get(TEAMS, store.owner_token))["items"]) == 1
        assert len(ok(api.get(TOPICS, store.owner_token))["items"]) == 1
