"""Who may see and do what, through the HTTP API: internal notes stay with
staff, customers see their own tickets, stores never see each other's, roles
are enforced, tokens are checked, and errors leak no internals."""
from __future__ import annotations

import uuid

import pytest

from tests.support.api import (assert_not_found_or_forbidden, assert_problem, event_feed, ok, store_with_ticket,
                               ticket_path)
from tests.support.polling import eventually


# --- internal notes ---------------------------------------------------------------------


def test_internal_notes_never_reach_the_customer(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    ticket = api.open_ticket(customer, subject="Missing button", body="A button is missing from my coat.")
    path = ticket_path(ticket)
    staff = store.owner_token
    ok(api.post(f"{path}/notes", staff, json={"body": "marmalade-secret: customer is a known reseller"}))
    ok(api.post(f"{path}/replies", staff, json={"body": "We will post a new button."}))

    # Staff see the note.
    staff_view = ok(api.get(path, staff))
    assert [m["internal"] for m in staff_view["messages"]] == [False, True, False]

    # The customer's ticket: two public messages, no trace of the note.
    r = api.get(path, customer)
    mine = ok(r)
    assert [m["body"] for m in mine["messages"]] == ["A button is missing from my coat.", "We will post a new button."]
    assert "marmalade" not in r.text
    # ...but the same version: a note is a change, just not one they read.
    assert mine["version"] == staff_view["version"] == 3

    # The customer's list counts public messages only.
    r = api.get("/v1/tickets", customer)
    (item,) = ok(r)["items"]
    assert item["message_count"] == 2 and "marmalade" not in r.text

    # The customer's history leaves the note out.
    r = api.get(f"{path}/history", customer)
    assert [i["type"] for i in ok(r)["items"]] == ["ticket.opened", "ticket.replied"]
    assert "marmalade" not in r.text
    staff_history = ok(api.get(f"{path}/history", staff))["items"]
    assert "ticket.note_added" in [i["type"] for i in staff_history]

    # Searching for the note's words finds nothing.
    assert ok(api.get("/v1/tickets", customer, params={"q": "marmalade"}))["items"] == []
    assert ok(api.get("/v1/tickets", customer, params={"q": "reseller"}))["items"] == []
    assert len(ok(api.get("/v1/tickets", customer, params={"q": "button"}))["items"]) == 1


# --- customers see their own tickets -------------------------------------------------------


def test_a_customer_sees_only_their_own_tickets(api):
    store = api.new_store()
    ann_id, ann = api.customer_token(store)
    bob_id, bob = api.customer_token(store)
    ann_tickets = {api.open_ticket(ann, subject="Ann's first")["id"], api.open_ticket(ann)["id"]}
    bobs = api.open_ticket(bob, subject="Bob-private-subject")

    # Bob's ticket does not exist for Ann, in any form.
    for path in (ticket_path(bobs), f"{ticket_path(bobs)}/history"):
        r = api.get(path, ann)
        assert_problem(r, 404)
        assert "Bob-private-subject" not in r.text and bob_id not in r.text
    r = api.post(f"{ticket_path(bobs)}/replies", ann, json={"body": "hi"})
    assert_problem(r, 404)
    assert "Bob-private-subject" not in r.text

    # Her list holds her tickets only, whatever she filters on.
    assert {i["id"] for i in ok(api.get("/v1/tickets", ann))["items"]} == ann_tickets
    assert {i["id"] for i in ok(api.get("/v1/tickets", ann, params={"customer_id": bob_id}))["items"]} <= ann_tickets
    assert ok(api.get("/v1/tickets", ann, params={"q": "Bob-private"}))["items"] == []
    assert all(i["customer_id"] == ann_id for i in ok(api.get("/v1/tickets", ann))["items"])

    # Staff see everything; Bob's ticket is untouched.
    assert len(ok(api.get("/v1/tickets", store.owner_token))["items"]) == 3
    assert ok(api.get(ticket_path(bobs), store.owner_token))["version"] == 1


def test_a_customer_may_not_do_staff_work(api):
    store = api.new_store()
    agent = api.new_agent(store)
    _, customer = api.customer_token(store)
    ticket = api.open_ticket(customer)
    path = ticket_path(ticket)

    attempts = [
        ("POST", f"{path}/notes", {"body": "note to self"}),
        ("POST", f"{path}/assign", {"agent_id": agent["id"]}),
        ("POST", f"{path}/assign", {"team": "vip"}),
        ("POST", f"{path}/tags", {"tag": "urgent"}),
        ("DELETE", f"{path}/tags/urgent", None),
        ("PATCH", path, {"priority": "urgent"}),
        ("PATCH", path, {"type": "complaint"}),
        # A customer may solve, close or reopen; parking the ticket is the staff's call.
        ("POST", f"{path}/status", {"status": "pending"}),
        ("POST", f"{path}/status", {"status": "on_hold", "label": "me"}),
        ("POST", f"{path}/status", {"status": "under_review"}),
    ]
    for method, url, body in attempts:
        r = api.request(method, url, customer, **({"json": body} if body is not None else {}))
        assert_problem(r, 403)

    after = ok(api.get(path, store.owner_token))
    assert after["version"] == 1 and after["tags"] == [] and after["priority"] == "normal"
    assert after["assignee_id"] is None and after["status"] == "open"


def test_a_customer_may_solve_and_close_their_own_ticket(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    solved_path = ticket_path(api.open_ticket(customer))
    closed_path = ticket_path(api.open_ticket(customer))

    assert ok(api.post(f"{solved_path}/status", customer, json={"status": "solved"}))["status"] == "solved"
    assert ok(api.post(f"{solved_path}/status", customer, json={"status": "open"}))["status"] == "open"
    assert ok(api.post(f"{closed_path}/status", customer, json={"status": "closed"}))["status"] == "closed"

    # Reopening is only for a solved ticket; a closed one stays closed.
    assert_problem(api.post(f"{solved_path}/status", customer, json={"status": "open"}), 403)
    assert_problem(api.post(f"{closed_path}/status", customer, json={"status": "open"}), 409, "ticket_closed")
    actors = [i["actor"]["type"] for i in ok(api.get(f"{closed_path}/history", store.owner_token))["items"]]
    assert actors == ["customer", "customer"]


def test_tags_are_staff_labels_hidden_from_the_customer(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    path = ticket_path(api.open_ticket(customer))
    ok(api.post(f"{path}/tags", store.owner_token, json={"tag": "fraud-suspect"}))

    assert ok(api.get(path, store.owner_token))["tags"] == ["fraud-suspect"]
    for r in (api.get(path, customer), api.get("/v1/tickets", customer), api.get(f"{path}/history", customer),
              api.post(f"{path}/replies", customer, json={"body": "any news?"})):
        assert r.status_code == 200, r.text
        assert "fraud-suspect" not in r.text
    assert ok(api.get(path, customer))["tags"] == []
    # Filtering by tag would reveal them: refused.
    assert_problem(api.get("/v1/tickets", customer, params={"tag": "fraud-suspect"}), 403, fields=["tag"])


def test_staff_may_not_rate(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    path = ticket_path(api.open_ticket(customer))
    ok(api.post(f"{path}/status", store.owner_token, json={"status": "solved"}))

    assert_problem(api.post(f"{path}/rating", store.owner_token, json={"score": 5}), 403)
    assert ok(api.get(path, customer))["rating"] is None


# --- stores are sealed from each other ------------------------------------------------------

SECRET_SUBJECT = "Store-A-only: diamond ring return"


@pytest.fixture
def two_stores(api):
    """Store A with a worked ticket; store B with an owner, agent and customer."""
    a, b = api.new_store("A"), api.new_store("B")
    a_agent = api.new_agent(a)
    a_customer_id, a_customer = api.customer_token(a)
    ticket = api.open_ticket(a_customer, subject=SECRET_SUBJECT, body="The ring is too big.")
    path = ticket_path(ticket)
    jewels = api.new_team(a, "jewels")
    ok(api.post(f"{path}/assign", a.owner_token, json={"agent_id": a_agent["id"], "team": jewels}))
    ok(api.post(f"{path}/tags", a.owner_token, json={"tag": "ring"}))
    ok(api.post(f"{path}/status", a.owner_token, json={"status": "solved"}))
    b_agent = api.new_agent(b)
    # Store B cannot open a session for store A's customer: customer ids belong to one store.
    assert_problem(api.post(f"/v1/customers/{a_customer_id}/sessions", b.owner_token), 404, "customer_not_found")
    _, b_customer = api.customer_token(b)
    return {
        "a": a, "b": b, "a_agent": a_agent, "b_agent": b_agent, "ticket": ok(api.get(path, a.owner_token)),
        "team": jewels,
        "b_tokens": {"owner": b.owner_token, "agent": b_agent["token"], "customer": b_customer},
    }


def ticket_routes(ticket_id: str, b_agent_id: str):
    """(method, path, body, roles the route admits) for every ticket route."""
    p = f"/v1/tickets/{ticket_id}"
    anyone, staff, customer = {"owner", "agent", "customer"}, {"owner", "agent"}, {"customer"}
    return [
        ("GET", p, None, anyone),
        ("GET", f"{p}?as_of=2999-01-01T00:00:00%2B00:00", None, anyone),
        ("GET", f"{p}/history", None, anyone),
        ("PATCH", p, {"priority": "low"}, staff),
        ("POST", f"{p}/replies", {"body": "hello from B"}, anyone),
        ("POST", f"{p}/notes", {"body": "note from B"}, staff),
        ("POST", f"{p}/assign", {"agent_id": b_agent_id}, staff),
        ("POST", f"{p}/assign", {"team": "b-team"}, staff),
        ("POST", f"{p}/assign", {"agent_id": None, "team": None}, staff),
        ("POST", f"{p}/tags", {"tag": "from-b"}, staff),
        ("DELETE", f"{p}/tags/ring", None, staff),
        ("POST", f"{p}/status", {"status": "open"}, anyone),
        ("POST", f"{p}/status", {"status": "closed"}, anyone),  # the route is open to all; the ticket decides
        ("POST", f"{p}/rating", {"score": 1}, customer),
        ("POST", f"{p}/merge", {"into": ticket_id}, staff),
        ("POST", f"{p}/unmerge", None, staff),
        ("POST", f"{p}/split", {"message_id": "m-1"}, staff),
    ]


def test_another_stores_ticket_is_not_found_on_every_route(api, two_stores):
    ticket = two_stores["ticket"]
    leaks = (SECRET_SUBJECT, "diamond", "ring is too big", "jewels", ticket["customer_id"], two_stores["a_agent"]["id"])

    # Where the role may use the route: 404, as for a ticket that does not
    # exist. Where it never may: 403 for the role, whatever the id.
    routes = list(ticket_routes(ticket["id"], two_stores["b_agent"]["id"]))
    assert assert_not_found_or_forbidden(api, two_stores["b_tokens"], routes, leaks) == 3 * 17

    # Store A's ticket is exactly as it was.
    assert ok(api.get(ticket_path(ticket), two_stores["a"].owner_token)) == ticket


def test_an_unknown_ticket_answers_like_another_stores(api, two_stores):
    token = two_stores["b_tokens"]["owner"]
    foreign = api.get(ticket_path(two_stores["ticket"]), token).json()
    missing = api.get(f"/v1/tickets/{uuid.uuid4()}", token).json()

    assert foreign["status"] == missing["status"] == 404
    assert foreign["code"] == missing["code"]


def test_another_stores_tickets_are_not_listed_or_searchable(api, two_stores):
    for role, token in two_stores["b_tokens"].items():
        for params in ({}, {"q": "diamond"}, {"customer_id": two_stores["ticket"]["customer_id"]},
                       {"status": "solved"}, {"team": "jewels"}, {"team": two_stores["team"]},
                       *([{"tag": "ring"}] if role != "customer" else [])):
            r = api.get("/v1/tickets", token, params=params)
            assert ok(r)["items"] == [], (role, params)
            assert "diamond" not in r.text


def test_a_ticket_cannot_be_assigned_to_another_stores_agent(api, two_stores):
    a, ticket = two_stores["a"], two_stores["ticket"]
    path = ticket_path(ticket)
    ok(api.post(f"{path}/status", a.owner_token, json={"status": "open"}))
    before = ok(api.get(path, a.owner_token))

    r = api.post(f"{path}/assign", a.owner_token, json={"agent_id": two_stores["b_agent"]["id"]})

    assert_problem(r, 422, fields=["agent_id"])
    after = ok(api.get(path, a.owner_token))
    assert after == before and after["assignee_id"] == two_stores["a_agent"]["id"]


# --- authentication -------------------------------------------------------------------------


def forged(token: str) -> str:
    """The same token id with a signature that is one character off."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_requests_without_a_valid_token_are_unauthenticated(api):
    store, customer, ticket, path = store_with_ticket(api)

    no_token = api.get(path)
    assert_problem(no_token, 401)
    for headers in ({"Authorization": "Bearer"}, {"Authorization": f"Basic {store.owner_token}"}):
        assert_problem(api.get(path, headers=headers), 401)
    for token in ("garbage", "tok_nothing.here", forged(store.owner_token), forged(customer),
                  store.owner_token.split(".")[0]):
        for method, url, body in (("GET", path, None), ("GET", "/v1/tickets", None),
                                  ("POST", f"{path}/replies", {"body": "sneaky"}),
                                  ("POST", "/v1/tickets", {"subject": "x", "body": "y"})):
            r = api.request(method, url, token, **({"json": body} if body else {}))
            assert_problem(r, 401)
            assert ticket["subject"] not in r.text

    # The genuine tokens work, and nothing was written by the refused ones.
    assert ok(api.get(path, store.owner_token))["version"] == 1
    assert len(ok(api.get("/v1/tickets", store.owner_token))["items"]) == 1


def test_the_platform_key_does_not_act_on_a_stores_own_tickets(api):
    """The platform's review team sees only the tickets it handles (charged
    without an order): a store's own ticket is not found, as in another store."""
    store, customer, ticket, path = store_with_ticket(api)
    key = api.platform_key

    for method, url, body, status in (
            ("GET", "/v1/tickets", None, 403), ("GET", path, None, 404), ("GET", f"{path}/history", None, 404),
            ("POST", "/v1/tickets", {"subject": "x", "body": "y", "customer_id": "c1"}, 403),
            ("POST", f"{path}/replies", {"body": "from the platform"}, 404),
            ("POST", f"{path}/notes", {"body": "from the platform"}, 404),
            ("POST", f"{path}/status", {"status": "closed"}, 404),
            ("PATCH", path, {"priority": "low"}, 403)):
        r = api.request(method, url, key, **({"json": body} if body else {}))
        assert_problem(r, status)
        assert ticket["subject"] not in r.text
    assert ticket["id"] not in api.get("/v1/platform/tickets", key).text
    assert ok(api.get(path, store.owner_token))["version"] == 1


# --- staff roles ----------------------------------------------------------------------------


def test_who_may_create_staff(api):
    store = api.new_store()
    agent = api.new_agent(store, role="agent")
    admin = api.new_agent(store, role="admin")

    def create(token, role):
        return api.post("/v1/agents", token, json={"name": "New", "email": f"{uuid.uuid4().hex[:8]}@example.com",
                                                   "role": role})

    # An agent creates nobody.
    assert_problem(create(agent["token"], "agent"), 403)
    assert_problem(create(agent["token"], "admin"), 403)
    # An admin creates agents, not admins.
    new = ok(create(admin["token"], "agent"), 201)
    assert new["role"] == "agent" and new["token"]
    assert_problem(create(admin["token"], "admin"), 403, fields=["role"])
    # The owner creates both.
    assert ok(create(store.owner_token, "admin"), 201)["role"] == "admin"
    # A customer creates nobody; nor may customers open sessions.
    _, customer = api.customer_token(store)
    assert_problem(create(customer, "agent"), 403)
    assert_problem(api.post("/v1/customers/cus_x/sessions", customer), 403)

    # The admin's agent works; the refused ones were never created.
    assert ok(api.get("/v1/tickets", new["token"]))["items"] == []
    roles = sorted(a["role"] for a in ok(api.get("/v1/agents", store.owner_token))["items"])
    assert roles == ["admin", "admin", "agent", "agent", "owner"]


# --- the event feed -------------------------------------------------------------------------


def all_events(api, token, until, **params) -> list[dict]:
    """The caller's whole feed, once ``until(events)`` holds (the relay publishes a moment after a commit)."""
    return eventually(lambda: event_feed(api, token, **params), until, what="those events in the feed")


def test_the_event_feed_is_scoped_to_the_callers_store(api):
    a, b = api.new_store("A"), api.new_store("B")
    _, customer_a = api.customer_token(a)
    _, customer_b = api.customer_token(b)
    ticket_a = api.open_ticket(customer_a, subject="A's secret subject")
    ok(api.post(f"{ticket_path(ticket_a)}/tags", a.owner_token, json={"tag": "a-tag"}))
    ticket_b = api.open_ticket(customer_b)
    agent_b = api.new_agent(b)

    def has(*ticket_ids):
        return lambda events: {t for t in ticket_ids} <= {e["subject"] for e in events}

    # A store's owner and agents read their own store's events only.
    events_a = all_events(api, a.owner_token, until=has(ticket_a["id"]))
    assert [e["type"] for e in events_a] == ["ticket.opened", "ticket.tag_added"]
    assert {e["storeid"] for e in events_a} == {a.id}
    events_b = all_events(api, agent_b["token"], until=has(ticket_b["id"]))
    assert {e["storeid"] for e in events_b} == {b.id} and len(events_b) == 1
    assert "A's secret subject" not in str(events_b)
    # In global order.
    positions = [int(e["position"]) for e in events_a]
    assert positions == sorted(positions)

    # The platform key sees both stores, or one it names.
    everything = all_events(api, api.platform_key, until=has(ticket_a["id"], ticket_b["id"]))
    assert {a.id, b.id} <= {e.get("storeid") for e in everything}
    only_b = all_events(api, api.platform_key, store_id=b.id, until=has(ticket_b["id"]))
    assert [e["subject"] for e in only_b] == [ticket_b["id"]]

    # A store's token may not choose the store; customers get no feed.
    r = api.get("/v1/events", a.owner_token, params={"store_id": b.id})
    assert_problem(r, 403, fields=["store_id"])
    assert ticket_b["id"] not in r.text
    _, customer = api.customer_token(a)
    assert_problem(api.get("/v1/events", customer), 403)


# --- no internals in errors -----------------------------------------------------------------


def test_error_bodies_never_carry_a_traceback(api):
    store, customer, ticket, path = store_with_ticket(api)
    staff = store.owner_token

    # Odd inputs that reach deep into the services; some may well fail inside.
    probes = [
        ("GET", "/v1/tickets", {"params": {"q": "\x00"}}),
        ("GET", "/v1/tickets", {"params": {"team": "a\x00b"}}),
        ("GET", "/v1/tickets", {"params": {"limit": "99999999999999999999"}}),
        ("GET", "/v1/tickets", {"params": {"sort": "'; DROP TABLE x; --"}}),
        ("GET", path, {"params": {"as_of": "0001-01-01T00:00:00+14:00"}}),
        ("GET", path, {"params": {"as_of": "9999-12-31T23:59:59-12:00"}}),
        ("GET", "/v1/events", {"params": {"after": "9" * 19}}),
        ("POST", f"{path}/replies", {"json": {"body": "nul \x00 inside"}}),
        ("POST", f"{path}/tags", {"json": {"tag": "\ud800"}}),
        ("POST", f"{path}/replies", {"data": b"\xff\xfe{", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/v1/tickets", {"json": {"subject": "x" * 100_000, "body": "y"}}),
        ("POST", "/v1/tickets", {"json": [1, 2, 3]}),
        ("DELETE", f"{path}/tags/%00", {}),
        ("POST", f"{path}/replies", {"json": {"body": "x"}, "headers": {"If-Match": "\"99999999999\""}}),
    ]
    for method, url, kwargs in probes:
        r = api.request(method, url, staff, **kwargs)
        assert "Traceback" not in r.text and 'File "' not in r.text, f"{method} {url}: {r.text}"
        if r.status_code >= 400:
            body = assert_problem(r, r.status_code)
            if r.status_code == 500:
                assert body["code"] == "internal_error" and body["request_id"] == r.headers["X-Request-Id"]
                assert "Error" not in body["detail"] and "psycopg" not in body["detail"]
    assert ok(api.get(path, staff))["version"] == 1  # none of them changed the ticket


# --- stores and staff: Location answers, and only inside the store -------------------------


def test_created_stores_and_agents_are_found_at_their_location_and_only_by_their_store(api):
    mine, theirs = api.new_store("Mine"), api.new_store("Theirs")
    created = api.post("/v1/agents", mine.owner_token,
                       json={"name": "Lina", "email": "lina@mine.example", "role": "agent"})
    agent_location = created.headers["Location"]
    assert api.get(agent_location, mine.owner_token).json()["email"] == "lina@mine.example"
    assert api.get(f"/v1/stores/{mine.id}", mine.owner_token).json()["name"] == "Mine"
    assert api.get(f"/v1/stores/{mine.id}", api.platform_key).json()["name"] == "Mine"

    # Another store's owner learns nothing: 404, no name, no email.
    for path in (agent_location, f"/v1/stores/{mine.id}"):
        response = api.get(path, theirs.owner_token)
        assert response.status_code == 404, (path, response.text)
        assert "Mine" not in response.text and "lina@" not in response.text
    _, shopper = api.customer_token(mine)
    assert api.get(agent_location, shopper).status_code == 403  # staff directory: staff only
