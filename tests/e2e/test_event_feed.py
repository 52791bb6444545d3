"""The platform's event feed over HTTP (``GET /v1/events?source=all``): the
events of tickets, customers, notifications and the gateway, merged under one
opaque cursor, each scoped to the caller as its own service decides. Two
stores read only their own; a consumer resuming from any cursor gets every
event once; no card number, no content of a ticket the platform handles, no
ticket a team-scoped agent may not see; a cursor it did not get is a 400."""
from __future__ import annotations

import base64
import json
import re
import sys
import time
import uuid

import pytest

from tests.support.api import assert_problem, event_feed, ok, ticket_path, whole_feed
from tests.support.polling import eventually
from tests.support.processes import Process
from tests.support.servers import ROOT

SOURCES = ("tickets", "customers", "notifications", "reports", "gateway")
CARD = "4111 1111 1111 1111"  # passes the Luhn check
CARD_DIGITS = CARD.replace(" ", "")
WAIT = 15.0


def source_of(event: dict) -> str:
    return event["source"].rsplit("/", 1)[-1]


def new_mobile() -> str:
    return f"+96650{uuid.uuid4().int % 10**7:07d}"


def quiet_webhook(api, store) -> dict:
    """A webhook endpoint (a notifications event), inactive: nothing is sent to it."""
    return ok(api.post("/v1/webhooks", store.owner_token, json={
        "url": "http://127.0.0.1:9/hook", "events": ["view.created"], "active": False}), 201)


def feed_until(api, token, until, what: str, **params) -> list[dict]:
    return eventually(lambda: whole_feed(api, token, **params)[0], until, WAIT, what)


def has_ids(*ids):
    return lambda events: set(ids) <= {e["id"] for e in events}


def store_with_everything(api, name: str) -> dict:
    """A store with an event of each source: its creation and an agent (the
    gateway), a customer card (customers), a ticket (tickets), a webhook (notifications), the report
    settings (reports)."""
    store = api.new_store(name)
    agent = api.new_agent(store, name=f"{name} agent")
    customer_id, shopper = api.customer_token(store)
    ticket = api.open_ticket(shopper, subject=f"{name}'s own subject")
    webhook = quiet_webhook(api, store)
    ok(api.patch("/v1/settings/reports", store.owner_token, json={"agents_see": "store"}))
    return {"store": store, "agent": agent, "customer_id": customer_id, "shopper": shopper, "ticket": ticket,
            "webhook": webhook}


def kinds(events) -> set[tuple[str, str]]:
    return {(source_of(e), e["type"]) for e in events}


EVERY_SOURCE = {("gateway", "store.created"), ("gateway", "agent.created"), ("customers", "customer.created"),
                ("tickets", "ticket.opened"), ("notifications", "webhook_endpoint.created")}


# --- two stores: each reads its own, of every source -----------------------------------------


def test_the_whole_feed_has_every_services_events_of_the_callers_store_only(api):
    a, b = store_with_everything(api, "Alpha"), store_with_everything(api, "Beta")

    for shop, other in ((a, b), (b, a)):
        for token in (shop["store"].owner_token, shop["agent"]["token"]):
            events = feed_until(api, token, lambda found: EVERY_SOURCE <= kinds(found),
                                "an event of every source in the store's feed")
            assert {e["storeid"] for e in events} == {shop["store"].id}
            assert {source_of(e) for e in events} == set(SOURCES)
            text = json.dumps(events)
            for leak in (other["store"].id, other["ticket"]["id"], other["customer_id"], other["webhook"]["id"],
                         other["ticket"]["subject"]):
                assert leak not in text
        # One source at a time, as its own feed by position: the same events of that source.
        whole = whole_feed(api, shop["store"].owner_token)[0]
        for source in SOURCES:
            alone = event_feed(api, shop["store"].owner_token, source=source)
            assert [e["id"] for e in alone] == [e["id"] for e in whole if source_of(e) == source]

    # The platform key reads one store it names, or every store.
    only_b = feed_until(api, api.platform_key, lambda found: EVERY_SOURCE <= kinds(found),
                        "Beta's events for the platform key", store_id=b["store"].id)
    assert {e["storeid"] for e in only_b} == {b["store"].id}
    everything = feed_until(api, api.platform_key, has_ids(*(e["id"] for e in only_b)), "every store's events")
    assert {a["store"].id, b["store"].id} <= {e.get("storeid") for e in everything}

    # A store's token may not choose the store; a shopper gets no feed at all.
    assert_problem(api.get("/v1/events", a["store"].owner_token, params={"source": "all", "store_id": b["store"].id}),
                   403, fields=["store_id"])
    assert_problem(api.get("/v1/events", a["shopper"], params={"source": "all"}), 403)

    # The feed of existing clients is still the tickets service's alone, by position.
    assert {source_of(e) for e in event_feed(api, a["store"].owner_token)} == {"tickets"}


# --- resuming: no gap, no duplicate -----------------------------------------------------------


def test_resuming_from_any_cursor_gives_every_event_once(api):
    shop = store_with_everything(api, "Resume")
    store, owner = shop["store"], shop["store"].owner_token
    # (A page shows only what no older transaction can still precede: committed events may take a moment.)
    first, cursor = eventually(lambda: whole_feed(api, owner), lambda found: EVERY_SOURCE <= kinds(found[0]), WAIT,
                               "an event of every source")

    # More happens in every service while a consumer reads two at a time.
    seen, read_by = [], {}  # read_by: cursor -> every event read before it
    for i, kind in enumerate(("ticket.opened", "ticket.replied", "ticket.rated")):
        ok(api.post(f"{ticket_path(shop['ticket'])}/replies", owner, json={"body": f"Reply {i}"}))
        ok(api.patch(f"/v1/customers/{shop['customer_id']}", owner, json={"city": f"City {i}"}))
        ok(api.patch(f"/v1/webhooks/{shop['webhook']['id']}", owner, json={"events": ["view.created", kind]}))
        api.new_agent(store, name=f"Agent {i}")
        items, cursor = whole_feed(api, owner, cursor, limit=2)
        seen += items
        read_by[cursor] = first + seen
    expected = {("tickets", "ticket.replied"): 3, ("customers", "customer.updated"): 3,
                ("notifications", "webhook_endpoint.updated"): 3, ("gateway", "agent.created"): 3}

    def counted(events):
        return {k: sum(1 for e in events if (source_of(e), e["type"]) == k) for k in expected}

    seen += eventually(lambda: whole_feed(api, owner, cursor, limit=2)[0],
                       lambda more: counted(seen + more) == expected, WAIT, "the events that happened while paging")
    assert counted(seen) == expected
    assert len({e["id"] for e in first + seen}) == len(first) + len(seen)  # nothing twice

    # Read again from the start, three at a time: the same events, each source in its own order.
    everything = whole_feed(api, owner, limit=3)[0]
    assert sorted(e["id"] for e in everything) == sorted(e["id"] for e in first + seen)
    for source in SOURCES:
        positions = [int(e["position"]) for e in everything if source_of(e) == source]
        assert positions == sorted(positions) and len(positions) == len(set(positions))
        assert [e["id"] for e in everything if source_of(e) == source] == \
            [e["id"] for e in event_feed(api, owner, source=source)]

    # From any cursor it gave, exactly what was not read before it: no gap, no duplicate.
    for middle, before in read_by.items():
        after = [e["id"] for e in whole_feed(api, owner, middle, limit=5)[0]]
        assert len(after) == len(set(after))
        assert set(after) == {e["id"] for e in everything} - {e["id"] for e in before}

    # Caught up: the cursor comes back unchanged.
    _, last = whole_feed(api, owner, limit=1000)
    page = ok(api.get("/v1/events", owner, params={"cursor": last}))
    assert page == {"items": [], "next_cursor": last}


# --- what a store never sees ------------------------------------------------------------------


def test_no_card_number_appears_in_the_feed(api):
    store = api.new_store("Cards")
    owner = store.owner_token
    mobile = new_mobile()
    # A CSV import reaches the customers service as typed (the gateway masks only JSON's free text).
    csv = f"name,mobile,notes\nNoura,{mobile},paid with {CARD} last time\n"
    r = api.post("/v1/customers/import", owner, data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert ok(r)["created"] == 1
    card = api.new_customer(store, name="Huda", notes=f"card {CARD_DIGITS}")
    _, shopper = api.customer_token(store, card["id"])
    api.open_ticket(shopper, subject=f"Card {CARD_DIGITS}", body=f"My card is {CARD}")
    ok(api.post(f"/v1/customers/{card['id']}/block", owner, json={"reason": "other", "details": f"used {CARD}"}))

    events = feed_until(api, owner, lambda found: {("customers", "customer.blocked"), ("tickets", "ticket.opened")}
                        <= kinds(found) and sum(e["type"] == "customer.created" for e in found) >= 2,
                        "the cards, the block and the ticket")
    text = json.dumps(events, ensure_ascii=False)
    assert CARD_DIGITS not in text and CARD not in text and "1111 1111 1111" not in text
    assert "•••• •••• •••• 1111" in text  # masked, not dropped
    [imported] = [e for e in events if e["type"] == "customer.created" and e["data"]["mobile"] == mobile]
    assert imported["data"]["notes"] == "paid with •••• •••• •••• 1111 last time"
    # Nor in the card itself, nor in the platform key's feed.
    assert CARD_DIGITS not in api.get(f"/v1/customers/{imported['data']['customer_id']}", owner).text
    everything = whole_feed(api, api.platform_key, store_id=store.id)[0]
    assert CARD_DIGITS not in json.dumps(everything) and CARD not in json.dumps(everything, ensure_ascii=False)


def test_a_ticket_the_platform_handles_shows_the_store_only_that_it_exists_and_its_status(api):
    store = api.new_store("Followed")
    ok(api.patch("/v1/settings/self-service", store.owner_token, json={"enabled": True}))
    _, shopper = api.customer_token(store)
    r = api.post("/v1/self-service/charged-without-order", shopper, json={
        "payment_method": "stc_pay", "card_last4": "9876", "details": "Charged 99 SAR, private details here."})
    ticket = ok(r, 201)["ticket"]
    ok(api.post(f"{ticket_path(ticket)}/replies", api.platform_key, json={"body": "The review team's private answer"}))

    def of_it(events):
        return [e for e in events if e["subject"] == ticket["id"]]

    for token in (store.owner_token, api.new_agent(store)["token"]):
        events = of_it(feed_until(api, token, lambda found: of_it(found), "the ticket's opening"))
        assert events[0]["type"] == "ticket.opened"
        assert {e["type"] for e in events} <= {"ticket.opened", "ticket.status_changed"}  # no reply, no note
        assert "message" not in events[0]["data"] and "payment" not in events[0]["data"]
        text = json.dumps(events)
        assert "private details" not in text and "9876" not in text and "private answer" not in text
    # The platform's review team reads it all.
    theirs = of_it(feed_until(api, api.platform_key, lambda found: len(of_it(found)) >= 2, "the ticket's events",
                              store_id=store.id))
    assert {"ticket.opened", "ticket.replied"} <= {e["type"] for e in theirs}
    assert "private details" in json.dumps(theirs)


def test_a_team_scoped_agent_reads_only_the_events_of_the_tickets_they_may_see(api):
    store = api.new_store("Teams")
    owner = store.owner_token
    billing = api.new_team(store, "Billing")
    bilal, tariq = api.new_agent(store, name="Bilal"), api.new_agent(store, name="Tariq")
    ok(api.post(f"/v1/teams/{billing}/members", owner, json={"agent_id": bilal["id"]}))
    _, shopper = api.customer_token(store)
    theirs, not_theirs = api.open_ticket(shopper, subject="About billing"), api.open_ticket(shopper, subject="Other")
    ok(api.post(f"{ticket_path(theirs)}/assign", owner, json={"team": billing}))
    ok(api.post(f"{ticket_path(not_theirs)}/notes", owner, json={"body": "An internal note on the other"}))
    ok(api.patch("/v1/settings/agents", owner, json={"ticket_visibility": "teams"}))

    def tickets_in(events):
        return {e["subject"] for e in events if e["type"].startswith("ticket.")}

    everything = feed_until(api, owner, lambda found: {theirs["id"], not_theirs["id"]} <= tickets_in(found),
                            "both tickets for the owner")
    assert "An internal note on the other" in json.dumps(everything)  # staff read internal notes
    bilals = whole_feed(api, bilal["token"])[0]
    assert tickets_in(bilals) == {theirs["id"]}
    assert "An internal note on the other" not in json.dumps(bilals)
    assert tickets_in(whole_feed(api, tariq["token"])[0]) == set()
    # The store's other events are theirs to read still: customers, the gateway.
    assert {("customers", "customer.created"), ("gateway", "agent.created")} <= kinds(bilals)


# --- a cursor it did not get -------------------------------------------------------------------


def forged(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_a_cursor_the_feed_did_not_give_is_a_400_naming_it(api):
    a, b = api.new_store("Cursor A"), api.new_store("Cursor B")
    _, cursor_of_b = whole_feed(api, b.owner_token)
    _, mine = whole_feed(api, a.owner_token)
    [kind, scope, positions] = json.loads(base64.urlsafe_b64decode(mine + "=" * (-len(mine) % 4)))
    bad = {
        "garbage": "not-a-cursor", "another store's": cursor_of_b,
        "another list's": forged(["-created", "2025-01-01T00:00:00Z", 1]),
        "a negative position": forged([kind, scope, {**positions, "tickets": -1}]),
        "a position too big": forged([kind, scope, {**positions, "tickets": 1 << 64}]),
        "an unknown source": forged([kind, scope, {**positions, "orders": 1}]),
        "text for a position": forged([kind, scope, {**positions, "tickets": "1"}]),
    }
    for why, cursor in bad.items():
        r = api.get("/v1/events", a.owner_token, params={"cursor": cursor})
        body = assert_problem(r, 400, fields=["cursor"])
        assert b.id not in r.text, why
        assert "Traceback" not in r.text and body["errors"]["cursor"], why
    # The platform's cursor for one store is not the cursor of another, nor of every store.
    _, for_a = whole_feed(api, api.platform_key, store_id=a.id)
    assert_problem(api.get("/v1/events", api.platform_key, params={"cursor": for_a, "store_id": b.id}), 400,
                   fields=["cursor"])
    assert_problem(api.get("/v1/events", api.platform_key, params={"cursor": for_a}), 400, fields=["cursor"])
    # One source's feed pages by position, the whole feed by cursor.
    assert_problem(api.get("/v1/events", a.owner_token, params={"source": "tickets", "cursor": mine}), 400,
                   fields=["cursor"])
    assert_problem(api.get("/v1/events", a.owner_token, params={"source": "all", "after": "0"}), 400,
                   fields=["after"])
    assert_problem(api.get("/v1/events", a.owner_token, params={"source": "orders"}), 400, fields=["source"])
    # And the cursor it gave still works.
    assert ok(api.get("/v1/events", a.owner_token, params={"cursor": mine}))["next_cursor"] == mine


@pytest.mark.parametrize("source", ["customers", "notifications", "reports", "gateway"])
def test_one_sources_feed_pages_by_position_like_the_tickets_feed(api, source):
    shop = store_with_everything(api, f"One {source}")
    events = eventually(lambda: event_feed(api, shop["store"].owner_token, source=source), bool, WAIT,
                        f"the {source} feed")
    assert {source_of(e) for e in events} == {source} and {e["storeid"] for e in events} == {shop["store"].id}
    first = ok(api.get("/v1/events", shop["store"].owner_token, params={"source": source, "limit": 1}))
    assert [e["id"] for e in first["items"]] == [events[0]["id"]] and first["next_after"] == events[0]["position"]


# --- the example consumer: a KPI from the feed, then from the bus ---------------------------------


def test_the_example_counts_tickets_per_day_from_the_feed_then_the_bus_each_once(http_system, api, tmp_path):
    store, elsewhere = api.new_store("KPI"), api.new_store("Not counted")
    _, shopper = api.customer_token(store)
    _, someone_else = api.customer_token(elsewhere)
    for _ in range(2):
        api.open_ticket(shopper)
    api.open_ticket(someone_else)
    state = tmp_path / "kpi.json"
    args = [sys.executable, str(ROOT / "examples" / "feed_kpi.py"), "--api", api.base_url, "--store", store.id,
            "--queue", f"seed.kpi.{uuid.uuid4().hex[:8]}", "--state", str(state)]

    def counted() -> int:
        return sum(json.loads(state.read_text())["tickets_opened"].values()) if state.exists() else 0

    def run(n: int) -> Process:
        consumer = Process(args, http_system.env, tmp_path / f"kpi-{n}.log")
        consumer.wait_for_output("following the live stream")
        return consumer

    consumer = run(1)
    try:
        eventually(counted, lambda n: n == 2, WAIT, "the two tickets opened before it started (from the feed)")
        api.open_ticket(shopper)
        eventually(counted, lambda n: n == 3, WAIT, "the ticket opened while it follows the bus")
    finally:
        consumer.stop()
    api.open_ticket(shopper)  # while it is down: the queue keeps it, the feed has it too
    consumer = run(2)
    try:
        eventually(counted, lambda n: n == 4, WAIT, "the ticket opened while it was down")
        time.sleep(1.0)  # a duplicate, from the feed or the queue, would be counted now
        assert counted() == 4
    finally:
        consumer.stop()
    # The ticket opened while it was down came twice, from the feed and from the queue: counted once.
    skipped = re.search(r"(\d+) duplicate\(s\) skipped", consumer.output())
    assert skipped and int(skipped[1]) >= 1
