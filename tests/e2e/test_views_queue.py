"""Views with their counts, saved views, and "next ticket", through HTTP on the real servers."""
from __future__ import annotations

import threading

from tests.support.api import another_client, assert_problem, ok, ticket_path


def counts(api, token) -> dict[str, int]:
    answer = ok(api.get("/v1/views", token))
    assert all(item["position"] == answer["position"] for item in answer["items"])
    return {item["id"]: item["count"] for item in answer["items"]}


def listed(api, token, view_id) -> set[str]:
    ids, cursor = set(), None
    while True:
        page = ok(api.get(f"/v1/views/{view_id}/tickets", token, params={"limit": 100, **({"cursor": cursor}
                                                                                       if cursor else {})}))
        ids |= {item["id"] for item in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def test_the_built_in_views_count_what_they_list_as_tickets_move(api):
    store = api.new_store()
    sara = api.new_agent(store, name="Sara")
    shoppers = [api.customer_token(store)[1] for _ in range(3)]
    tickets = [api.open_ticket(token) for token in shoppers for _ in range(2)]
    before = counts(api, sara["token"])
    assert (before["all_open"], before["unassigned"], before["mine"], before["pending"]) == (6, 6, 0, 0)

    # Sara takes two; one waits on the customer; one is solved.
    for ticket in tickets[:2]:
        ok(api.post(f"{ticket_path(ticket)}/assign", store.owner_token, json={"agent_id": sara["id"]}))
    ok(api.post(f"{ticket_path(tickets[2])}/status", store.owner_token, json={"status": "pending"}))
    ok(api.post(f"{ticket_path(tickets[3])}/status", store.owner_token, json={"status": "solved"}))
    ok(api.post(f"{ticket_path(tickets[4])}/tags", store.owner_token, json={"tag": "spam"}))

    now = counts(api, sara["token"])
    assert (now["all_open"], now["unassigned"], now["mine"], now["pending"], now["spam"]) == (4, 2, 2, 1, 1)
    # The owner has no ticket of their own, whatever Sara has.
    assert counts(api, store.owner_token)["mine"] == 0
    # Each count is what the view lists.
    for view_id in ("all_open", "unassigned", "mine", "pending", "spam"):
        assert len(listed(api, sara["token"], view_id)) == now[view_id], view_id
    assert listed(api, sara["token"], "mine") == {t["id"] for t in tickets[:2]}


def test_a_saved_view_is_counted_from_the_tickets_already_there_and_follows_changes(api):
    store = api.new_store()
    _, shopper = api.customer_token(store)
    urgent = [api.open_ticket(shopper, priority="urgent") for _ in range(3)]
    api.open_ticket(shopper, priority="low")

    view = ok(api.post("/v1/views", store.owner_token, json={
        "name": "Urgent, open", "filter": {"priority": ["urgent"], "status": ["open"]}, "shared": True}), 201)
    assert counts(api, store.owner_token)[view["id"]] == 3
    ok(api.post(f"{ticket_path(urgent[0])}/status", store.owner_token, json={"status": "pending"}))
    assert counts(api, store.owner_token)[view["id"]] == 2
    assert listed(api, store.owner_token, view["id"]) == {t["id"] for t in urgent[1:]}

    # A new filter counts again from the tickets as they are.
    changed = api.patch(f"/v1/views/{view['id']}", store.owner_token, json={"filter": {"priority": ["low"]}},
                        headers={"If-Match": f'"{view["version"]}"'})
    assert ok(changed)["version"] == view["version"] + 1
    assert counts(api, store.owner_token)[view["id"]] == 1
    stale = api.patch(f"/v1/views/{view['id']}", store.owner_token, json={"name": "x"},
                      headers={"If-Match": f'"{view["version"]}"'})
    assert_problem(stale, 412)

    # An agent sees the store's view, may not change it, and keeps views of their own.
    sara = api.new_agent(store)
    assert view["id"] in counts(api, sara["token"])
    assert_problem(api.delete(f"/v1/views/{view['id']}", sara["token"]), 403, "admin_only")
    own = ok(api.post("/v1/views", sara["token"], json={"name": "Mine, urgent",
                                                        "filter": {"assignee_id": "me", "priority": ["urgent"]}}), 201)
    assert counts(api, sara["token"])[own["id"]] == 0
    assert own["id"] not in counts(api, store.owner_token)
    ok(api.post(f"{ticket_path(urgent[1])}/assign", store.owner_token, json={"agent_id": sara["id"]}))
    assert counts(api, sara["token"])[own["id"]] == 1

    assert api.delete(f"/v1/views/{view['id']}", store.owner_token).status_code == 204
    assert view["id"] not in counts(api, store.owner_token)


def test_bad_views_are_refused_naming_the_field(api):
    store = api.new_store()
    assert_problem(api.post("/v1/views", store.owner_token, json={"name": "x", "filter": {"colour": "red"}}), 422,
                   fields=["filter.colour"])
    assert_problem(api.post("/v1/views", store.owner_token, json={"name": "x", "filter": {"status": ["gone"]}}),
                   422, fields=["filter.status"])
    assert_problem(api.post("/v1/views", store.owner_token, json={"filter": {}}), 400, fields=["name"])
    assert_problem(api.get("/v1/views/no-such-view", store.owner_token), 404)
    assert_problem(api.patch("/v1/views/mine", store.owner_token, json={"name": "x"}), 409, "built_in_view")
    _, shopper = api.customer_token(store)
    assert_problem(api.get("/v1/views", shopper), 403)
    # Another store's saved view is not there.
    other = api.new_store()
    theirs = ok(api.post("/v1/views", other.owner_token, json={"name": "theirs", "filter": {}, "shared": True}), 201)
    assert_problem(api.get(f"/v1/views/{theirs['id']}", store.owner_token), 404)
    assert_problem(api.get(f"/v1/views/{theirs['id']}/tickets", store.owner_token), 404)


def test_next_ticket_gives_the_most_urgent_waiting_ticket_and_then_nothing(api):
    store = api.new_store()
    sara = api.new_agent(store)
    _, shopper = api.customer_token(store)
    low = api.open_ticket(shopper, priority="low")
    urgent = api.open_ticket(shopper, priority="urgent")
    answered = api.open_ticket(shopper, priority="urgent")
    ok(api.post(f"{ticket_path(answered)}/replies", store.owner_token, json={"body": "On it."}))

    first = api.post("/v1/queue/next", sara["token"])
    assert ok(first)["id"] == urgent["id"] and first.json()["assignee_id"] == sara["id"]
    assert ok(api.post("/v1/queue/next", sara["token"]))["id"] == low["id"]
    # The answered one waits on the customer, not on staff: nothing is left.
    assert api.post("/v1/queue/next", sara["token"]).status_code == 204


def test_agents_calling_next_at_once_never_get_the_same_ticket(api):
    store = api.new_store()
    agents = [api.new_agent(store, name=f"Agent {n}") for n in range(6)]
    _, shopper = api.customer_token(store)
    tickets = {api.open_ticket(shopper)["id"] for _ in range(20)}

    taken: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(agent):
        client = another_client(api)
        while True:
            answer = client.post("/v1/queue/next", agent["token"])
            if answer.status_code == 204:
                return
            assert answer.status_code == 200, answer.text
            with lock:
                taken.append((answer.json()["id"], agent["id"]))

    threads = [threading.Thread(target=work, args=(agent,)) for agent in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [ticket_id for ticket_id, _ in taken]
    assert sorted(ids) == sorted(tickets)  # every ticket once: none twice, none left
    for ticket_id, agent_id in taken:
        assert ok(api.get(f"/v1/tickets/{ticket_id}", store.owner_token))["assignee_id"] == agent_id


def test_a_bulk_action_on_a_view_reaches_what_the_view_lists_for_the_caller(api):
    store = api.new_store()
    sara = api.new_agent(store)
    _, shopper = api.customer_token(store)
    hers = [api.open_ticket(shopper) for _ in range(2)]
    others = api.open_ticket(shopper)
    for ticket in hers:
        ok(api.post(f"{ticket_path(ticket)}/assign", store.owner_token, json={"agent_id": sara["id"]}))

    answer = ok(api.post("/v1/tickets/bulk", sara["token"], json={"view_id": "mine",
                                                                   "action": {"priority": "high"}}))
    assert {item["id"] for item in answer["items"]} == {t["id"] for t in hers}
    assert ok(api.get(ticket_path(others), store.owner_token))["priority"] == "normal"
    assert_problem(api.post("/v1/tickets/bulk", sara["token"], json={"view_id": "no-such-view",
                                                                      "action": {"priority": "low"}}), 422,
                   fields=["view_id"])
    assert_problem(api.post("/v1/tickets/bulk", sara["token"], json={"view_id": "mine", "ids": [others["id"]],
                                                                      "action": {"priority": "low"}}), 400)
