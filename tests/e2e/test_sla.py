"""SLA policies and clocks through HTTP on the real servers: the policy, each
ticket's deadlines, recomputation after a change, and warnings and breaches
emitted once by the timer of whichever tickets replica is alive."""
from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta

from tests.support.api import assert_problem, event_feed, ok, ticket_path
from tests.support.polling import eventually

AROUND_THE_CLOCK = {"time_zone": "UTC", "business_hours": [], "pause_on": ["pending"]}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def targets(ticket: dict) -> dict[str, dict]:
    return {t["kind"]: t for t in ticket["sla"]["targets"]}


def put_policy(api, store, **policy):
    return ok(api.put("/v1/settings/sla", store.owner_token, json=policy))


def test_the_policy_is_the_admins_and_bad_input_names_the_field(api):
    store = api.new_store()
    default = ok(api.get("/v1/settings/sla", store.owner_token))
    assert default["version"] == 0 and default["time_zone"] == "Asia/Riyadh"
    assert {h["day"] for h in default["business_hours"]} == {"sun", "mon", "tue", "wed", "thu"}

    agent = api.new_agent(store)
    assert_problem(api.put("/v1/settings/sla", agent["token"], json=AROUND_THE_CLOCK), 403)
    for body, field in (({"time_zone": "Mars/Olympus"}, "time_zone"),
                        ({"business_hours": [{"day": "sun", "from": "17:00", "to": "09:00"}]},
                         "business_hours[0].to"),
                        ({"targets": {"high": {"first_response_minutes": 0}}}, "targets.high.first_response_minutes"),
                        ({"holidays": [{"from": "2026-04-02", "to": "2026-03-30"}]}, "holidays[0].to")):
        assert_problem(api.put("/v1/settings/sla", store.owner_token, json=body), 422, fields=[field])

    policy = put_policy(api, store, **AROUND_THE_CLOCK)
    assert policy["version"] == 1 and policy["business_hours"] == []
    assert ok(api.get("/v1/settings/sla", store.owner_token))["version"] == 1
    stale = api.put("/v1/settings/sla", store.owner_token, json=AROUND_THE_CLOCK, headers={"If-Match": '"0"'})
    assert_problem(stale, 412)


def test_a_ticket_shows_its_deadlines_and_pauses_while_waiting_on_the_customer(api):
    store = api.new_store()
    put_policy(api, store, **AROUND_THE_CLOCK, targets={"urgent": {
        "first_response_minutes": 30, "next_response_minutes": 60, "resolution_minutes": 240}})
    _, shopper = api.customer_token(store)
    ticket = api.open_ticket(shopper, priority="urgent")
    seen = ok(api.get(ticket_path(ticket), store.owner_token))
    opened = at(seen["created_at"])
    clock = targets(seen)
    assert at(clock["first_response"]["due_at"]) == opened + timedelta(minutes=30)
    assert at(clock["resolution"]["due_at"]) == opened + timedelta(minutes=240)
    assert seen["sla"]["policy_version"] == 1 and not seen["sla"]["paused"]
    # The shopper never sees the store's clock.
    assert ok(api.get(ticket_path(ticket), shopper))["sla"] is None

    replied = ok(api.post(f"{ticket_path(ticket)}/replies", store.owner_token, json={"body": "Looking into it."}))
    assert targets(replied)["first_response"]["met_at"] is not None
    pending = ok(api.post(f"{ticket_path(ticket)}/status", store.owner_token, json={"status": "pending"}))
    assert pending["sla"]["paused"] and targets(pending)["resolution"]["due_at"] is None


def test_changing_the_policy_recomputes_open_tickets_deadlines(api):
    store = api.new_store()
    put_policy(api, store, **AROUND_THE_CLOCK, targets={"normal": {"first_response_minutes": 60}})
    _, shopper = api.customer_token(store)
    tickets = [api.open_ticket(shopper) for _ in range(3)]
    solved = tickets[2]
    ok(api.post(f"{ticket_path(solved)}/status", store.owner_token, json={"status": "solved"}))

    put_policy(api, store, **AROUND_THE_CLOCK, targets={"normal": {"first_response_minutes": 600}})

    def first_due(ticket):
        seen = ok(api.get(ticket_path(ticket), store.owner_token))
        return seen["sla"]["policy_version"], at(targets(seen)["first_response"]["due_at"]) - at(seen["created_at"])

    for ticket in tickets[:2]:
        eventually(lambda ticket=ticket: first_due(ticket), lambda got: got == (2, timedelta(minutes=600)), timeout=15,
                   what="the open ticket recomputed on the new policy")
    # A solved ticket keeps the policy it was solved under.
    assert ok(api.get(ticket_path(solved), store.owner_token))["sla"]["policy_version"] == 1


def test_a_warning_is_emitted_once_and_the_ticket_is_breaching_soon(api):
    store = api.new_store()
    # Due in 5 minutes, warned 60 minutes ahead: the warning is due at once.
    put_policy(api, store, **AROUND_THE_CLOCK, warning_minutes=60, targets={"high": {"first_response_minutes": 5}})
    _, shopper = api.customer_token(store)
    ticket = api.open_ticket(shopper, priority="high")

    def warnings():
        return [e for e in event_feed(api, store.owner_token) if e["type"] == "sla.warning"]

    [warning] = eventually(warnings, timeout=15, what="sla.warning")
    assert warning["data"]["ticket_id"] == ticket["id"] and warning["data"]["target"] == "first_response"
    views = {v["id"]: v["count"] for v in ok(api.get("/v1/views", store.owner_token))["items"]}
    assert views["breaching_soon"] == 1
    time.sleep(2.5)  # more ticks: still one
    assert len(warnings()) == 1


def test_a_breach_is_emitted_exactly_once_while_a_tickets_replica_is_killed_and_restarted(http_system):
    api = http_system.api
    store = api.new_store()
    put_policy(api, store, **AROUND_THE_CLOCK, warning_minutes=1, targets={"urgent": {"first_response_minutes": 1}})
    _, shopper = api.customer_token(store)
    ticket = api.open_ticket(shopper, priority="urgent")
    due = at(targets(ok(api.get(ticket_path(ticket), store.owner_token)))["first_response"]["due_at"])

    # A second replica; the first is killed (no clean shutdown) and comes back.
    http_system.start_service("tickets", 2)
    http_system.processes["tickets.2"].wait_for_output("starting services: tickets")
    http_system.processes["tickets.1"].kill(signal.SIGKILL)
    http_system.start_service("tickets", 1)

    def breaches():
        return [e for e in event_feed(api, store.owner_token) if e["type"] == "sla.breached"]

    [breach] = eventually(breaches, timeout=90, what="sla.breached", interval=1)
    assert breach["data"]["target"] == "first_response" and at(breach["data"]["due_at"]) == due
    assert at(breach["time"]) >= due
    seen = ok(api.get(ticket_path(ticket), store.owner_token))
    assert targets(seen)["first_response"]["breached"] and seen["sla"] is not None
    time.sleep(3)
    assert len(breaches()) == 1
    # Back to one replica, as the other tests expect.
    http_system.processes.pop("tickets.2").stop()
