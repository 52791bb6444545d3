"""A ticket's life through the HTTP API, against the running tickets service
and gateway: opening, working, solving, rating and closing; numbering; the
list with its filters, sorts and cursors; history; time travel; redaction."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from tests.support.api import assert_problem, event_feed, ok, store_with_ticket, ticket_path
from tests.support.polling import eventually

CARD = "4111 1111 1111 1111"
MASKED = "•••• •••• •••• 1111"


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


# --- the whole life of one ticket --------------------------------------------------


def test_a_ticket_goes_from_a_customer_question_to_closed(api):
    store = api.new_store()
    agent = api.new_agent(store)
    staff = agent["token"]
    customer_id, customer = api.customer_token(store)

    # The customer opens a ticket from the help widget.
    r = api.post("/v1/tickets", customer, json={"subject": "Parcel never arrived", "body": "Ordered on Monday.",
                                               "order_id": "ord_77"})
    ticket = ok(r, 201)
    path = ticket_path(ticket)
    assert r.headers["Location"] == path
    assert r.headers["ETag"] == '"1"'
    assert ticket["status"] == "open" and ticket["version"] == 1
    assert ticket["customer_id"] == customer_id and ticket["order_id"] == "ord_77"
    assert ticket["priority"] == "normal" and ticket["type"] == "general"
    assert ticket["assignee_id"] is None and ticket["team"] is None and ticket["tags"] == []
    assert [m["author"] for m in ticket["messages"]] == [{"type": "customer", "id": customer_id}]
    assert ticket["messages"][0]["body"] == "Ordered on Monday." and ticket["messages"][0]["internal"] is False

    # An agent leaves an internal note.
    ticket = ok(api.post(f"{path}/notes", staff, json={"body": "Carrier says delivered."}))
    assert ticket["version"] == 2
    note = ticket["messages"][-1]
    assert note["internal"] is True and note["author"] == {"type": "agent", "id": agent["id"]}

    # The agent takes the ticket, then hands it to a team: the assignee stays.
    ticket = ok(api.post(f"{path}/assign", staff, json={"agent_id": agent["id"]}))
    assert (ticket["assignee_id"], ticket["team"]) == (agent["id"], None)
    shipping = api.new_team(store, "Shipping")
    ticket = ok(api.post(f"{path}/assign", staff, json={"team": shipping}))
    assert (ticket["assignee_id"], ticket["team"]) == (agent["id"], shipping)

    # Tags come and go.
    ok(api.post(f"{path}/tags", staff, json={"tag": "lost-parcel"}))
    ticket = ok(api.post(f"{path}/tags", staff, json={"tag": "vip"}))
    assert ticket["tags"] == ["lost-parcel", "vip"]
    r = api.delete(f"{path}/tags/vip", staff)
    ticket = ok(r)
    assert ticket["tags"] == ["lost-parcel"]
    assert r.headers["ETag"] == f'"{ticket["version"]}"'

    # Priority and type in one PATCH: two changes.
    before = ticket["version"]
    ticket = ok(api.patch(path, staff, json={"priority": "high", "type": "shipping"}))
    assert (ticket["priority"], ticket["type"]) == ("high", "shipping")
    assert ticket["version"] == before + 2

    # Waiting on the customer.
    ticket = ok(api.post(f"{path}/status", staff, json={"status": "pending"}))
    assert ticket["status"] == "pending"

    # The customer's answer reopens it.
    ticket = ok(api.post(f"{path}/replies", customer, json={"body": "Still nothing at my door."}))
    assert ticket["status"] == "open"
    assert ticket["messages"][-1]["body"] == "Still nothing at my door."
    assert all(not m["internal"] for m in ticket["messages"])  # the customer's view

    # Solved, then rated once.
    ticket = ok(api.post(f"{path}/status", staff, json={"status": "solved"}))
    assert ticket["status"] == "solved"
    ticket = ok(api.post(f"{path}/rating", customer, json={"score": 4, "comment": "Slow but sorted."}))
    assert ticket["rating"]["score"] == 4 and ticket["rating"]["comment"] == "Slow but sorted."
    rated_version = ticket["version"]
    assert_problem(api.post(f"{path}/rating", customer, json={"score": 1}), 409, "already_rated")
    assert ok(api.get(path, staff))["rating"]["score"] == 4

    # Closed: the customer can no longer write.
    ticket = ok(api.post(f"{path}/status", staff, json={"status": "closed"}))
    assert ticket["status"] == "closed" and ticket["version"] == rated_version + 1
    assert_problem(api.post(f"{path}/replies", customer, json={"body": "Hello?"}), 409, "ticket_closed")
    final = ok(api.get(path, staff))
    assert final["version"] == ticket["version"] and final["status"] == "closed"
    assert [m["body"] for m in final["messages"]][-1] == "Still nothing at my door."


def test_a_customer_reply_reopens_a_solved_ticket(api):
    store, customer, ticket, path = store_with_ticket(api)
    ok(api.post(f"{path}/status", store.owner_token, json={"status": "solved"}))

    ticket = ok(api.post(f"{path}/replies", customer, json={"body": "Actually it is not fixed."}))

    assert ticket["status"] == "open"
    history = ok(api.get(f"{path}/history", store.owner_token))["items"]
    assert history[-1]["type"] == "ticket.status_changed"
    assert history[-1]["data"]["status"] == "open" and history[-1]["data"]["previous"] == "solved"


def test_on_hold_keeps_its_label(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    path = ticket_path(api.open_ticket(customer))

    ticket = ok(api.post(f"{path}/status", store.owner_token,
                         json={"status": "on_hold", "label": "waiting for the courier"}))

    assert (ticket["status"], ticket["status_label"]) == ("on_hold", "waiting for the courier")
    assert ok(api.get(path, customer))["status_label"] == "waiting for the courier"


def test_an_illegal_transition_is_refused_and_changes_nothing(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    path = ticket_path(api.open_ticket(customer))
    solved = ok(api.post(f"{path}/status", store.owner_token, json={"status": "solved"}))

    # solved -> pending is not in the transition table.
    assert_problem(api.post(f"{path}/status", store.owner_token, json={"status": "pending"}),
                   409, "illegal_transition")

    after = ok(api.get(path, store.owner_token))
    assert (after["status"], after["version"]) == ("solved", solved["version"])
    assert len(ok(api.get(f"{path}/history", store.owner_token))["items"]) == solved["version"]


def test_rating_waits_until_the_ticket_is_solved(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    ticket = api.open_ticket(customer)

    r = api.post(f"{ticket_path(ticket)}/rating", customer, json={"score": 5})

    assert_problem(r, 409)
    assert ok(api.get(ticket_path(ticket), customer))["rating"] is None


# --- numbers ------------------------------------------------------------------------


def test_ticket_numbers_count_up_per_store_independently(api):
    store_a, store_b = api.new_store("A"), api.new_store("B")
    _, customer_a = api.customer_token(store_a)
    _, customer_b = api.customer_token(store_b)

    # Interleaved: each store keeps its own counter.
    numbers_a, numbers_b = [], []
    for _ in range(3):
        numbers_a.append(api.open_ticket(customer_a)["number"])
        numbers_b.append(api.open_ticket(customer_b)["number"])
    numbers_a.append(api.open_ticket(store_a.owner_token, customer_id=api.new_customer(store_a)["id"])["number"])

    assert numbers_a == [1001, 1002, 1003, 1004]
    assert numbers_b == [1001, 1002, 1003]


# --- the list: filters, sorts, cursors ------------------------------------------------


def make_seven_tickets(api):
    """Seven tickets with varied state; returns (store, agent, tickets by name)."""
    store = api.new_store()
    agent = api.new_agent(store)
    staff = store.owner_token

    # Customer cards named like the tickets' shoppers: ann, bob, cat and dan.
    ids = {name: api.new_customer(store, name=name)["id"] for name in ("cus_ann", "cus_bob", "cus_cat", "cus_dan")}

    def open_for(customer, subject, body, **fields):
        return api.open_ticket(staff, customer_id=ids[customer], subject=subject, body=body, **fields)

    t = {
        "refund": open_for("cus_ann", "Refund for order 17", "Please refund the blue mug.", type="billing"),
        "late": open_for("cus_bob", "Where is my parcel", "It is late.", priority="urgent"),
        "size": open_for("cus_ann", "Wrong size", "The shirt is too small.", priority="low"),
        "invoice": open_for("cus_cat", "Invoice needed", "For my company.", type="billing", priority="high"),
        "damaged": open_for("cus_bob", "Damaged box", "Corner crushed."),
        "address": open_for("cus_dan", "Change address", "I moved last week.", priority="high"),
        "thanks": open_for("cus_cat", "Thank you", "Great service!", priority="low"),
    }
    paths = {name: ticket_path(ticket) for name, ticket in t.items()}
    shipping = api.new_team(store, "Shipping")
    ok(api.post(f"{paths['late']}/assign", staff, json={"agent_id": agent["id"], "team": shipping}))
    ok(api.post(f"{paths['damaged']}/assign", staff, json={"agent_id": agent["id"]}))
    ok(api.post(f"{paths['refund']}/tags", staff, json={"tag": "refund"}))
    ok(api.post(f"{paths['size']}/tags", staff, json={"tag": "refund"}))
    ok(api.post(f"{paths['size']}/tags", staff, json={"tag": "exchange"}))
    ok(api.post(f"{paths['invoice']}/status", staff, json={"status": "pending"}))
    ok(api.post(f"{paths['thanks']}/status", staff, json={"status": "solved"}))
    ok(api.post(f"{paths['address']}/replies", staff, json={"body": "Your new flat in Lisbon is noted."}))
    ok(api.post(f"{paths['damaged']}/notes", staff, json={"body": "zebrafish photo requested"}))
    return store, agent, {name: ok(api.get(paths[name], staff)) for name in t}, ids


def listed(api, token, **params) -> list[dict]:
    body = ok(api.get("/v1/tickets", token, params={"limit": 100, **params}))
    assert body["next_cursor"] is None
    return body["items"]


def names_of(items, tickets) -> set[str]:
    by_id = {ticket["id"]: name for name, ticket in tickets.items()}
    return {by_id[item["id"]] for item in items}


def test_the_list_filters_by_each_field(api):
    store, agent, t, customer_ids = make_seven_tickets(api)
    staff = store.owner_token

    def names(**params):
        return names_of(listed(api, staff, **params), t)

    # No filter: all seven, and nothing of other stores.
    assert names() == set(t)
    # Status, one or a comma list.
    assert names(status="pending") == {"invoice"}
    assert names(status="pending,solved") == {"invoice", "thanks"}
    assert names(status="open") == {"refund", "late", "size", "damaged", "address"}
    # Assignee, or nobody.
    assert names(assignee_id=agent["id"]) == {"late", "damaged"}
    assert names(assignee_id="none") == {"refund", "size", "invoice", "address", "thanks"}
    assert t["late"]["team"] and names(team=t["late"]["team"]) == {"late"}
    # Tag, priority (one or several), type, customer.
    assert names(tag="refund") == {"refund", "size"}
    assert names(tag="exchange") == {"size"}
    assert names(priority="urgent") == {"late"}
    assert names(priority="high,urgent") == {"late", "invoice", "address"}
    assert names(type="billing") == {"refund", "invoice"}
    assert names(customer_id=customer_ids["cus_bob"]) == {"late", "damaged"}
    # Text: subject or a public message, any case; never an internal note.
    assert names(q="PARCEL") == {"late"}
    assert names(q="lisbon") == {"address"}
    assert names(q="zebrafish") == set()
    # Filters combine.
    assert names(customer_id=customer_ids["cus_ann"], tag="refund", priority="low") == {"size"}


def test_list_items_summarise_the_ticket(api):
    store, agent, t, customer_ids = make_seven_tickets(api)
    item = next(i for i in listed(api, store.owner_token) if i["id"] == t["late"]["id"])

    for field in ("number", "status", "priority", "type", "subject", "customer_id", "assignee_id", "team",
                  "tags", "version", "created_at", "updated_at"):
        assert item[field] == t["late"][field], field
    assert item["message_count"] == 1
    assert "messages" not in item


def sort_key(sort):
    rank = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
    field = sort.lstrip("-")
    if field == "priority":
        return lambda ticket: (rank[ticket["priority"]], ticket["number"])
    return lambda ticket: (at(ticket[f"{field}_at"]), ticket["number"])


def test_the_list_sorts_by_created_updated_and_priority(api):
    store, _, t, _ = make_seven_tickets(api)
    staff = store.owner_token

    for sort in ("created", "-created", "updated", "-updated", "priority", "-priority"):
        items = listed(api, staff, sort=sort)
        expected = sorted(t.values(), key=sort_key(sort), reverse=sort.startswith("-"))
        assert [i["number"] for i in items] == [e["number"] for e in expected], sort

    # The default is newest first.
    assert [i["number"] for i in listed(api, staff)] == list(range(1007, 1000, -1))
    # The last touched ticket leads -updated (a note touches it too).
    assert listed(api, staff, sort="-updated")[0]["id"] == t["damaged"]["id"]
    assert listed(api, staff, sort="-priority")[0]["id"] == t["late"]["id"]


def test_cursors_walk_every_ticket_once_in_each_sort(api):
    store, _, t, _ = make_seven_tickets(api)
    staff = store.owner_token

    for sort in ("created", "-created", "updated", "-updated", "priority", "-priority"):
        pages, cursor = [], None
        while True:
            params = {"sort": sort, "limit": 3, **({"cursor": cursor} if cursor else {})}
            body = ok(api.get("/v1/tickets", staff, params=params))
            pages.append([i["id"] for i in body["items"]])
            cursor = body["next_cursor"]
            if cursor is None:
                break
            assert len(pages) < 10, "the cursor does not advance"
        walked = [ticket_id for page in pages for ticket_id in page]
        assert [len(p) for p in pages] == [3, 3, 1], sort
        assert len(set(walked)) == 7, f"{sort}: duplicates in {walked}"
        assert walked == [i["id"] for i in listed(api, staff, sort=sort)], sort


def test_a_filtered_list_pages_within_the_filter(api):
    store, _, t, _ = make_seven_tickets(api)
    body = ok(api.get("/v1/tickets", store.owner_token, params={"status": "open", "limit": 3, "sort": "created"}))
    second = ok(api.get("/v1/tickets", store.owner_token,
                        params={"status": "open", "limit": 3, "sort": "created", "cursor": body["next_cursor"]}))

    assert len(body["items"]) == 3 and len(second["items"]) == 2 and second["next_cursor"] is None
    assert names_of(body["items"] + second["items"], t) == {"refund", "late", "size", "damaged", "address"}


def test_a_cursor_from_another_sort_is_a_bad_request(api):
    store, _, _, _ = make_seven_tickets(api)
    body = ok(api.get("/v1/tickets", store.owner_token, params={"sort": "created", "limit": 3}))
    assert body["next_cursor"]

    r = api.get("/v1/tickets", store.owner_token,
                params={"sort": "-priority", "limit": 3, "cursor": body["next_cursor"]})

    assert_problem(r, 400, fields=["cursor"])


def test_a_garbled_cursor_is_a_bad_request(api):
    store = api.new_store()
    r = api.get("/v1/tickets", store.owner_token, params={"cursor": "not-a-cursor"})

    assert_problem(r, 400, fields=["cursor"])


# --- history ---------------------------------------------------------------------------


def test_history_lists_every_change_in_order_with_its_actor(api):
    store = api.new_store()
    agent = api.new_agent(store)
    customer_id, customer = api.customer_token(store)
    ticket = api.open_ticket(customer, subject="Broken zip", body="The zip broke on day one.")
    path = ticket_path(ticket)
    staff = agent["token"]
    ok(api.post(f"{path}/notes", staff, json={"body": "Check the batch."}))
    returns = api.new_team(store, "Returns")
    ok(api.post(f"{path}/assign", staff, json={"agent_id": agent["id"], "team": returns}))
    ok(api.post(f"{path}/tags", staff, json={"tag": "defect"}))
    ok(api.patch(path, staff, json={"priority": "urgent"}))
    ok(api.post(f"{path}/replies", staff, json={"body": "Sorry! Send us a photo?"}))
    ok(api.post(f"{path}/status", staff, json={"status": "pending"}))
    ok(api.post(f"{path}/replies", customer, json={"body": "Photo attached."}))

    items = ok(api.get(f"{path}/history", staff))["items"]

    assert [(i["version"], i["type"]) for i in items] == [
        (1, "ticket.opened"), (2, "ticket.note_added"), (3, "ticket.assigned"), (4, "ticket.tag_added"),
        (5, "ticket.priority_changed"), (6, "ticket.replied"), (7, "ticket.status_changed"),
        (8, "ticket.replied"), (9, "ticket.status_changed"),
    ]
    customer_actor, agent_actor = {"type": "customer", "id": customer_id}, {"type": "agent", "id": agent["id"]}
    assert [i["actor"] for i in items] == [customer_actor] + [agent_actor] * 6 + [customer_actor] * 2
    times = [at(i["at"]) for i in items]
    assert times == sorted(times)
    assert items[0]["data"]["subject"] == "Broken zip" and items[0]["data"]["number"] == ticket["number"]
    assert items[1]["data"]["body"] == "Check the batch."
    assert items[2]["data"]["assignee_id"] == agent["id"] and items[2]["data"]["team"] == returns
    assert items[3]["data"]["tag"] == "defect"
    assert items[4]["data"]["priority"] == "urgent" and items[4]["data"]["previous"] == "normal"
    assert (items[6]["data"]["status"], items[6]["data"]["previous"]) == ("pending", "open")
    assert (items[8]["data"]["status"], items[8]["data"]["previous"]) == ("open", "pending")
    assert len(items) == ok(api.get(path, staff))["version"]


# --- time travel ---------------------------------------------------------------------


def test_as_of_returns_the_ticket_as_it_was_then(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    opened = api.open_ticket(customer)
    path = ticket_path(opened)
    time.sleep(0.05)
    pending = ok(api.post(f"{path}/status", store.owner_token, json={"status": "pending"}))
    time.sleep(0.05)
    tagged = ok(api.post(f"{path}/tags", store.owner_token, json={"tag": "later"}))

    first, second = at(opened["created_at"]), at(pending["updated_at"])
    assert second > first
    # Between the opening and the first change, written with a +02:00 offset.
    between = (first + (second - first) / 2).astimezone(timezone(timedelta(hours=2)))
    r = api.get(path, store.owner_token, params={"as_of": between.isoformat()})
    then = ok(r)
    assert (then["status"], then["version"], then["tags"]) == ("open", 1, [])
    assert r.headers["ETag"] == '"1"'

    # Just after the status change: pending, not yet tagged.
    just_after = second + (at(tagged["updated_at"]) - second) / 2
    then = ok(api.get(path, store.owner_token, params={"as_of": just_after.isoformat()}))
    assert (then["status"], then["version"], then["tags"]) == ("pending", 2, [])

    # Now (and later): the current ticket.
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    now = ok(api.get(path, store.owner_token, params={"as_of": later.isoformat()}))
    assert now == ok(api.get(path, store.owner_token))
    assert (now["version"], now["tags"]) == (3, ["later"])

    # Before the ticket existed: not found.
    before = (first - timedelta(seconds=1)).isoformat()
    assert_problem(api.get(path, store.owner_token, params={"as_of": before}), 404)


def test_as_of_without_an_offset_is_a_bad_request(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    ticket = api.open_ticket(customer)

    r = api.get(ticket_path(ticket), customer, params={"as_of": "2030-01-01T10:00:00"})

    assert_problem(r, 400, fields=["as_of"])


# --- redaction -----------------------------------------------------------------------


def test_card_numbers_are_masked_in_the_ticket_its_history_and_its_events(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    r = api.post("/v1/tickets", customer, json={"subject": f"Paid with {CARD}",
                                               "body": f"My card {CARD} was charged twice."})
    ticket = ok(r, 201)
    path = ticket_path(ticket)
    ok(api.post(f"{path}/replies", customer, json={"body": f"Again: 4111-1111-1111-1111 and {CARD}."}))
    ok(api.post(f"{path}/notes", store.owner_token, json={"body": f"Customer wrote {CARD} in chat"}))

    staff_view = api.get(path, store.owner_token).text
    history = api.get(f"{path}/history", store.owner_token).text
    listing = api.get("/v1/tickets", store.owner_token).text
    events = events_of_ticket(api, store, ticket["id"], expected=3)
    for text in (r.text, staff_view, history, listing, json.dumps(events, ensure_ascii=False)):
        assert CARD not in text and "4111111111111111" not in text and "4111-1111-1111-1111" not in text
    # The last four digits stay, so people can still tell cards apart.
    ticket = json.loads(staff_view)
    assert ticket["subject"] == f"Paid with {MASKED}"
    assert ticket["messages"][0]["body"] == f"My card {MASKED} was charged twice."
    assert ticket["messages"][1]["body"] == f"Again: {MASKED} and {MASKED}."
    assert ticket["messages"][2]["body"] == f"Customer wrote {MASKED} in chat"
    assert MASKED in history and len(events) == 3


def test_numbers_that_are_not_cards_are_kept(api):
    store = api.new_store()
    _, customer = api.customer_token(store)
    # 16 digits failing the Luhn check, and a short order number.
    body = "Order 12345, tracking 1234 5678 9012 3456."

    ticket = api.open_ticket(customer, body=body)

    assert ticket["messages"][0]["body"] == body


def events_of_ticket(api, store, ticket_id, expected) -> list[dict]:
    """The store's CloudEvents about one ticket, once ``expected`` are readable."""
    return eventually(lambda: [e for e in event_feed(api, store.owner_token) if e["subject"] == ticket_id],
                      lambda found: len(found) >= expected, what=f"{expected} events of ticket {ticket_id}")
